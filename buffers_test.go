package pop3

import (
	"io"
	"strings"
	"testing"
)

// TestBuffersLentOnlyWhileInUse checks that a Conn holds no read or write buffer between
// replies: after a status line, a listing, and a body read to its end, both are back in
// their pools, while a body left half-read keeps the read buffer and what it holds.
func TestBuffersLentOnlyWhileInUse(t *testing.T) {
	body := strings.Repeat("line of a message\r\n", 5000) // more than one read buffer
	sc := &replyConn{streamConn: newStreamConn("", 1000), replies: []string{
		"+OK hello\r\n",
		"+OK\r\n1 a\r\n2 b\r\n.\r\n",
		"+OK\r\n" + body + ".\r\n",
		"+OK\r\n" + body + ".\r\n",
		"+OK\r\n",
	}}
	sc.next()
	c := NewConn(sc, nil)
	idle := func(step string) {
		t.Helper()
		if c.r.buf != nil || c.w.buf != nil {
			t.Errorf("%s: read buffer held %v, write buffer held %v; want neither", step, c.r.buf != nil, c.w.buf != nil)
		}
	}
	idle("new")
	if _, err := c.ReadResponse(); err != nil {
		t.Fatal(err)
	}
	idle("greeting")
	var lines []string
	if err := c.listing("UIDL", 0, func(l []byte) error { lines = append(lines, string(l)); return nil }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(lines, ",") != "1 a,2 b" {
		t.Errorf("listing %q", lines)
	}
	idle("listing")
	if _, err := c.roundTrip("RETR", []string{"1"}, false); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c.DotReader())
	if err != nil || string(got) != body {
		t.Fatalf("body of %d octets, %v", len(got), err)
	}
	idle("body")
	if _, err := c.roundTrip("RETR", []string{"2"}, false); err != nil {
		t.Fatal(err)
	}
	d := c.DotReader()
	if _, err := io.ReadFull(d, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	if c.r.buf == nil || c.r.Buffered() == 0 {
		t.Error("a half-read body let go of the read buffer that holds its rest")
	}
	if _, err := c.roundTrip("NOOP", nil, false); err != nil { // drains the body first
		t.Fatal(err)
	}
	idle("drained body and NOOP")
}

// replyConn gives its replies one at a time, the next when a command is written.
type replyConn struct {
	*streamConn
	replies []string
}

func (r *replyConn) next() {
	r.in.Reset([]byte(r.replies[0]))
	r.replies = r.replies[1:]
}

func (r *replyConn) Write(p []byte) (int, error) {
	r.next()
	return r.streamConn.Write(p)
}

// TestBuffersKeepOtherSizes checks that a read buffer sized for a MaxLineLength over
// 64 KiB is the Conn's own and never goes to the pool of 64 KiB buffers.
func TestBuffersKeepOtherSizes(t *testing.T) {
	long := strings.Repeat("x", 100<<10)
	c := NewConn(newStreamConn("+OK "+long+"\r\n", 1<<20), &Options{MaxLineLength: 200 << 10})
	resp, err := c.ReadResponse()
	if err != nil || resp.Text != long {
		t.Fatalf("%d octets, %v", len(resp.Text), err)
	}
	if len(c.r.buf) != 200<<10+2 {
		t.Errorf("read buffer of %d octets, want %d kept", len(c.r.buf), 200<<10+2)
	}
}
