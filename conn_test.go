package pop3

import (
	"errors"
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

// An over-long status line fails having read from the network at most the bound and a
// line ending, however much the server sends; a line at the bound passes, CRLF or LF.
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
		cc := &countingConn{streamConn: newStreamConn(tc.line+"+OK next\r\n", 0)}
		c := NewConn(cc, &Options{MaxLineLength: 100})
		_, err := c.ReadResponse()
		if tc.ok != (err == nil) || (!tc.ok && !errors.Is(err, ErrLineTooLong)) {
			t.Errorf("a %d-octet line: %v", len(tc.line), err)
		}
		if !tc.ok && cc.read > 102 {
			t.Errorf("a %d-octet line: read %d octets for a bound of 100", len(tc.line), cc.read)
		}
	}
}

// A MaxLineLength meant as "no bound" is taken as 1 MiB: no overflow, no huge buffer.
func TestMaxLineLengthCapped(t *testing.T) {
	for _, max := range []int{math.MaxInt, 1 << 50} {
		c := NewConn(newStreamConn("+OK hi\r\n", 0), &Options{MaxLineLength: max})
		if c.maxLine != maxMaxLineLength {
			t.Errorf("MaxLineLength %d: bound %d, want %d", max, c.maxLine, maxMaxLineLength)
		}
		if resp, err := c.ReadResponse(); err != nil || resp.Text != "hi" {
			t.Errorf("MaxLineLength %d: %+v, %v", max, resp, err)
		}
	}
}
