package pop3

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

// countingConn is a streamConn that counts the octets read from it.
type countingConn struct {
	*streamConn
	read int
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.streamConn.Read(p)
	c.read += n
	return n, err
}

// An over-long status line fails having read from the network no more than the read
// buffer holds, however much the server sends; a line at the bound passes, CRLF or LF.
func TestLineBoundReadsNoMore(t *testing.T) {
	for _, tc := range []struct {
		line string
		ok   bool
	}{
		{"+OK " + strings.Repeat("x", 1<<20) + "\r\n", false},
		{"+OK " + strings.Repeat("x", 97) + "\r\n", false},
		{"+OK " + strings.Repeat("x", 96) + "\r\n", true},
		{"+OK " + strings.Repeat("x", 96) + "\n", true},
	} {
		t.Run(fmt.Sprint(len(tc.line)), func(t *testing.T) {
			cc := &countingConn{streamConn: newStreamConn(tc.line+"+OK next\r\n", 0)}
			c := NewConn(cc, &Options{MaxLineLength: 100})
			_, err := c.ReadResponse()
			if tc.ok != (err == nil) || (!tc.ok && !errors.Is(err, ErrLineTooLong)) {
				t.Errorf("a %d-octet line: %v", len(tc.line), err)
			}
			if !tc.ok && cc.read > readBufferSize {
				t.Errorf("a %d-octet line: read %d octets with a buffer of %d", len(tc.line), cc.read, readBufferSize)
			}
		})
	}
}

// A MaxLineLength meant as "no bound" is taken as 1 MiB: no overflow, no huge buffer.
func TestMaxLineLengthCapped(t *testing.T) {
	for _, max := range []int{math.MaxInt, 1 << 50} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			c := NewConn(newStreamConn("+OK hi\r\n", 0), &Options{MaxLineLength: max})
			if c.maxLine != maxMaxLineLength {
				t.Errorf("bound %d, want %d", c.maxLine, maxMaxLineLength)
			}
			if resp, err := c.ReadResponse(); err != nil || resp.Text != "hi" {
				t.Errorf("%+v, %v", resp, err)
			}
		})
	}
}

// pipeline sends several commands in one write and reads their replies in order, the
// rest of each reply by the callback: here UIDL and LIST in one round trip, the second
// answered negatively, and the Conn in step after.
func TestPipelineOneWrite(t *testing.T) {
	sc := newStreamConn("+OK\r\n1 a\r\n2 b\r\n.\r\n-ERR no LIST today\r\n", 0)
	c := NewConn(sc, nil)
	var uids []string
	var negative error
	err := c.pipeline([]command{{keyword: "UIDL"}, {keyword: "LIST"}}, func(i int, resp Response, err error) error {
		if err != nil {
			negative = err
			return nil
		}
		return c.readListing(nil, 0, func(line []byte) error {
			uids = append(uids, string(line))
			return nil
		})
	})
	if err != nil || fmt.Sprint(uids) != "[1 a 2 b]" {
		t.Fatalf("pipeline: %v, %q", err, uids)
	}
	if perr, ok := negative.(*Error); !ok || perr.Command != "LIST" {
		t.Errorf("LIST reply: %v; want an *Error for LIST", negative)
	}
	if got := sc.written.String(); got != "UIDL\r\nLIST\r\n" {
		t.Errorf("sent %q", got)
	}
	if c.flight.len() != 0 || c.Err() != nil {
		t.Errorf("after the pipeline: %d in flight, %v", c.flight.len(), c.Err())
	}
}
