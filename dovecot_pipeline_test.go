package pop3_test

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/popwire/pop3/internal/realserver"
)

// RetrEach of the whole mailbox, pipelined (Dovecot lists PIPELINING), returns exactly what
// Retr returns one message at a time, and what is stored on disk; TopEach and DeleEach
// behave as Top and Dele.
func TestDovecotRetrEachMatchesRetr(t *testing.T) {
	t.Parallel()
	srv, msgs := dcStart(t)
	c, _ := dcLogin(t, srv)
	caps, err := c.Capabilities()
	if err != nil || !caps.Has("PIPELINING") {
		t.Fatalf("Dovecot's capabilities %v, %v: want PIPELINING", caps, err)
	}
	nums := make([]int, len(msgs))
	for i := range nums {
		nums[i] = i + 1
	}
	batch := map[int][]byte{}
	err = c.RetrEach(nums, func(n int, r io.Reader) error {
		b, err := io.ReadAll(r)
		batch[n] = b
		return err
	})
	if err != nil {
		t.Fatalf("RetrEach: %v", err)
	}
	for i, m := range msgs {
		r, err := c.Retr(i + 1)
		one := dcRead(t, fmt.Sprintf("RETR %d", i+1), r, err)
		dcCompare(t, fmt.Sprintf("RetrEach message %d", i+1), batch[i+1], one)
		dcCompare(t, fmt.Sprintf("RetrEach message %d against the store", i+1), batch[i+1], realserver.Wire(m.Data))
	}

	heads := map[int][]byte{}
	err = c.TopEach(nums, 2, func(n int, r io.Reader) error {
		b, err := io.ReadAll(r)
		heads[n] = b
		return err
	})
	if err != nil {
		t.Fatalf("TopEach: %v", err)
	}
	for i := range msgs {
		r, err := c.Top(i+1, 2)
		one := dcRead(t, fmt.Sprintf("TOP %d 2", i+1), r, err)
		if !bytes.Equal(heads[i+1], one) {
			t.Errorf("TopEach message %d differs from Top", i+1)
		}
	}

	if err := c.DeleEach([]int{1, 3}); err != nil {
		t.Fatalf("DeleEach: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("Quit: %v", err)
	}
	c2, _ := dcLogin(t, srv)
	if n, _, err := c2.Stat(); err != nil || n != len(msgs)-2 {
		t.Fatalf("after DeleEach and Quit: Stat() = %d, %v; want %d", n, err, len(msgs)-2)
	}
}
