package latency

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// TestLinkDelaysHandshake checks lower bounds only, which a slow machine can only add to, so
// they cannot fail for want of speed (the proxy sleeps on the real clock, which synctest's
// bubble cannot hold with real sockets):
// through Link a greeting sent at accept arrives no sooner than 4×oneWay after connect,
// through Proxy no sooner than oneWay, and an echo takes a round trip more.
func TestLinkDelaysHandshake(t *testing.T) {
	const oneWay = 20 * time.Millisecond
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Write([]byte("+OK hello\r\n"))
				r := bufio.NewReader(c)
				line, err := r.ReadString('\n')
				if err == nil {
					c.Write([]byte(line))
				}
			}()
		}
	}()
	for _, tc := range []struct {
		name     string
		proxy    func(testing.TB, string, time.Duration) string
		greeting time.Duration
	}{{"Link", Link, 4 * oneWay}, {"Proxy", Proxy, oneWay}} {
		t.Run(tc.name, func(t *testing.T) {
			addr := tc.proxy(t, l.Addr().String(), oneWay)
			start := time.Now()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			r := bufio.NewReader(c)
			if line, err := r.ReadString('\n'); err != nil || line != "+OK hello\r\n" {
				t.Fatalf("greeting %q, %v", line, err)
			}
			if d := time.Since(start); d < tc.greeting {
				t.Errorf("greeting after %v, want at least %v", d, tc.greeting)
			}
			mark := time.Now()
			c.Write([]byte("NOOP\r\n"))
			if line, err := r.ReadString('\n'); err != nil || line != "NOOP\r\n" {
				t.Fatalf("echo %q, %v", line, err)
			}
			if d := time.Since(mark); d < 2*oneWay {
				t.Errorf("round trip %v, want at least %v", d, 2*oneWay)
			}
		})
	}
}
