package pop3

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// deadlineCounter is a streamConn that counts the read deadlines set on it.
type deadlineCounter struct {
	*streamConn
	deadlines int
}

func (d *deadlineCounter) SetReadDeadline(time.Time) error { d.deadlines++; return nil }

// TestReadLineBounds checks the line reader on input arriving a few octets at a time: a
// line of MaxLineLength octets passes with CRLF or a bare LF, one octet more fails with
// ErrLineTooLong, a line that never ends fails with ErrLineTooLong before the input
// ends, and a line cut by the end of the input fails with io.ErrUnexpectedEOF.
func TestReadLineBounds(t *testing.T) {
	const max = 100
	ok := "+" + strings.Repeat("x", max-1)
	for _, tc := range []struct {
		name, input string
		want        error
	}{
		{"CRLF at the bound", ok + "\r\n", nil},
		{"LF at the bound", ok + "\n", nil},
		{"one over", ok + "y\r\n", ErrLineTooLong},
		{"endless", ok + strings.Repeat("y", 10*max), ErrLineTooLong},
		{"cut", "+OK rea", io.ErrUnexpectedEOF},
		{"nothing", "", io.ErrUnexpectedEOF},
	} {
		for _, chunk := range []int{1, 7, 1000} {
			c := NewConn(newStreamConn(tc.input, chunk), &Options{MaxLineLength: max})
			resp, err := c.ReadResponse()
			switch {
			case tc.want == nil && (err != nil || resp.Text != "" || !resp.OK):
				t.Errorf("%s, chunks of %d: %+v, %v", tc.name, chunk, resp, err)
			case tc.want != nil && (!errors.Is(err, tc.want) || !errors.Is(err, ErrBroken)):
				t.Errorf("%s, chunks of %d: %v, want %v and ErrBroken", tc.name, chunk, err, tc.want)
			}
		}
	}
}

// TestListingOneDeadline checks that a status line and its listing, arriving in small
// pieces, are read within the one deadline of their reply, set once, however many lines
// each piece holds: a buffered line costs no clock read.
func TestListingOneDeadline(t *testing.T) {
	var b strings.Builder
	b.WriteString("+OK\r\n")
	for i := 1; i <= 1000; i++ {
		fmt.Fprintf(&b, "%d uid-%d\r\n", i, i)
	}
	b.WriteString(".\r\n")
	dc := &deadlineCounter{streamConn: newStreamConn(b.String(), 100)}
	c := NewConn(dc, nil)
	var u uidListing
	if err := c.listing("UIDL", 0, u.add); err != nil {
		t.Fatal(err)
	}
	list := u.entries()
	if len(list) != 1000 || list[999] != (UIDEntry{Number: 1000, UID: "uid-1000"}) || list[0].UID != "uid-1" {
		t.Fatalf("%d entries, last %+v", len(list), list[len(list)-1])
	}
	if dc.deadlines != 1 {
		t.Errorf("%d read deadlines set for one reply, want 1", dc.deadlines)
	}
}

// TestListingNumbers checks the fast path of the listings' numbers against parseDecimal:
// what it takes, parseDecimal takes with the same value, and what it leaves, parseDecimal
// decides, so that a listing accepts and refuses exactly what parseDecimal does.
func TestListingNumbers(t *testing.T) {
	for _, f := range []string{"0", "1", "42", "007", "999999999999999999", "9223372036854775807",
		"9223372036854775808", "", "-1", "+1", "1a", "１", "12 ", "99999999999999999999"} {
		n, ok := listingNumber([]byte(f))
		want, err := parseDecimal([]byte(f))
		if ok && (err != nil || n != want) {
			t.Errorf("%q: fast path %d, parseDecimal %d, %v", f, n, want, err)
		}
		if !ok && len(f) <= 18 && err == nil {
			t.Errorf("%q: fast path refused what parseDecimal takes (%d) with 18 digits or fewer", f, want)
		}
	}
	if _, err := parseScanLine([]byte("0 100")); !errors.Is(err, ErrMalformed) {
		t.Errorf("LIST message 0: %v", err)
	}
	if _, _, err := parseUIDLine([]byte("2147483648 x")); !errors.Is(err, ErrMalformed) {
		t.Errorf("UIDL message 2^31: %v", err)
	}
	if e, err := parseScanLine([]byte("3 9223372036854775807")); err != nil || e.Size != 1<<63-1 {
		t.Errorf("LIST size of 19 digits: %+v, %v", e, err)
	}
}
