package pop3

import (
	"fmt"
	"testing"
)

// The window of a pipelined batch stays within its bounds, count and octets, and refills
// in chunks: once full, the writer waits until a quarter of it has been answered, so each
// refill sends at least a quarter of a window, however the writer and the reader take
// turns.
func TestInFlightWindowRefillsInChunks(t *testing.T) {
	const total, octets = 1000, 10
	for _, tc := range []struct {
		name                string
		maxCount, maxOctets int
		window              int // the commands the window holds at most
	}{
		{"by count", 8, 1 << 20, 8},
		{"by octets", 1 << 20, 8 * octets, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f inFlight
			f.openWindow(tc.maxCount, tc.maxOctets, total)
			refills := 0
			done := make(chan struct{})
			go func() {
				defer close(done)
				defer f.writerDone()
				for i := 0; i < total; i++ {
					if !f.room(octets, false) {
						refills++
						if !f.room(octets, true) {
							t.Error("the window stopped")
							return
						}
						if n := f.len(); n > tc.window*3/4 {
							t.Errorf("refilling with %d in flight, want at most 3/4 of the window (%d)", n, tc.window*3/4)
						}
					}
					f.push(sentCommand{text: "RETR 1", octets: octets})
				}
			}()
			popped := 0
			for {
				if _, ok := f.await(); !ok {
					break
				}
				if n := f.len(); n > tc.window {
					t.Fatalf("%d commands in flight, window %d", n, tc.window)
				}
				f.pop()
				popped++
			}
			<-done
			if popped != total {
				t.Errorf("%d commands answered, want %d", popped, total)
			}
			if limit := total / (tc.window / 4); refills > limit {
				t.Errorf("%d refills for %d commands, want at most %d (a quarter of a window each)", refills, total, limit)
			}
		})
	}
}

// The window counts a batch command's octets as they go on the wire: b.octets must be the
// length of the line writeFirst writes, CRLF included, for every number of digits.
func TestBatchCommandOctets(t *testing.T) {
	b := &batch{keyword: "TOP", first: []int{1, 9, 10, 99, 100, 12345, 1 << 40}, extra: []string{"10"}}
	for i, n := range b.first {
		if got, want := b.octets(i), len(fmt.Sprintf("TOP %d 10\r\n", n)); got != want {
			t.Errorf("octets of TOP %d 10: %d, want %d", n, got, want)
		}
	}
}
