package pop3

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
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
// ends, and a line cut by the end of the input fails with io.ErrUnexpectedEOF (MS-STANOPOP3
// C0005, C0006).
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

// TestListingNumbers checks numberField, the one rule of the numbers of a reply, against an
// oracle written apart from it: the first field after any blanks, taken when it is ASCII
// digits only and strconv.ParseInt takes it, with what follows it as the rest; anything
// else is ErrMalformed. It checks leadingNumber, the listings' shortcut, against
// numberField: what it takes, numberField takes with the same value and rest, and what it
// leaves has blanks before it or more than 18 digits, or is refused (message 0 refused:
// C0011, C0021).
func TestListingNumbers(t *testing.T) {
	for _, f := range []string{"0", "1", "42", "007", "999999999999999999", "9223372036854775807",
		"9223372036854775808", "", "-1", "+1", "1a", "１", "12 ", "12\tx y", " 12", "7\r",
		"1234567890123456789", "99999999999999999999", "99999999999999999999 1",
		"99999999999999999999a", "0000000000000000000000042 x", "9223372036854775799", " \t", "\t 5\t6"} {
		start := len(f) - len(strings.TrimLeft(f, " \t"))
		end := start + strings.IndexAny(f[start:]+" ", " \t")
		field := f[start:end]
		want, perr := strconv.ParseInt(field, 10, 64)
		valid := field != "" && strings.Trim(field, "0123456789") == "" && perr == nil
		n, rest, err := numberField([]byte(f))
		switch {
		case valid && (err != nil || n != want || string(rest) != f[end:]):
			t.Errorf("%q: %d, rest %q, %v; want %d, rest %q", f, n, rest, err, want, f[end:])
		case !valid && !errors.Is(err, ErrMalformed):
			t.Errorf("%q: %d, %v; want ErrMalformed", f, n, err)
		}
		fn, frest, ok := leadingNumber([]byte(f))
		switch {
		case ok && (!valid || fn != n || string(frest) != string(rest)):
			t.Errorf("%q: shortcut %d, rest %q; numberField %d, rest %q, %v", f, fn, frest, n, rest, err)
		case !ok && valid && start == 0 && len(field) <= 18:
			t.Errorf("%q: shortcut refused what numberField takes (%d) with 18 digits or fewer", f, n)
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

// TestUIDFieldOctets checks the unique-id scan, which tests eight octets at a time,
// against the rule octet by octet: every octet value at every position of a unique-id
// either side of the eight-octet steps is accepted as part of it, ends it (a space or a
// tab) or makes it malformed (another control octet), exactly as stopOctet says
// (MS-STANOPOP3 C0039 for the octets of a unique-id, C0038 for the blank that ends it).
func TestUIDFieldOctets(t *testing.T) {
	for size := 1; size <= 19; size++ {
		for at := 0; at < size; at++ {
			for c := 0; c < 256; c++ {
				b := []byte(strings.Repeat("u", size) + " rest")
				b[at] = byte(c)
				uid, err := uidField(b)
				switch {
				case c == ' ' || c == '\t':
					want := string(b[:at])
					if at == 0 { // a blank before the unique-id is skipped
						want = cmp.Or(string(b[1:size]), "rest")
					}
					if err != nil || string(uid) != want {
						t.Fatalf("%q: %q, %v; want %q", b, uid, err, want)
					}
				case c < ' ' || c == 0x7f:
					if !errors.Is(err, ErrMalformed) {
						t.Fatalf("%q: %q, %v; want ErrMalformed", b, uid, err)
					}
				default:
					if err != nil || string(uid) != string(b[:size]) {
						t.Fatalf("%q: %q, %v; want %q", b, uid, err, b[:size])
					}
				}
			}
		}
	}
	if _, err := uidField([]byte(" \t")); !errors.Is(err, ErrMalformed) {
		t.Errorf("blanks only: %v, want ErrMalformed", err)
	}
}

// TestUIDListingChunks feeds a uidListing unique-ids of many lengths, some longer than a
// chunk's first size and one as long as a chunk can be, so that they fill chunks unevenly
// and some start a new chunk with room left in the last: every entry must come back as it
// was listed, in order.
func TestUIDListingChunks(t *testing.T) {
	var u uidListing
	var want []UIDEntry
	for i := 1; i <= 30_000; i++ {
		size := 1 + i%97
		switch i % 1000 {
		case 500:
			size = minUIDChunk + 1
		case 999:
			size = 3 * minUIDChunk
		}
		if i == 20_000 {
			size = maxUIDChunk - 10
		}
		uid := strings.Repeat(string(rune('!'+i%90)), size)
		if err := u.add([]byte(fmt.Sprintf("%d %s trailing", i, uid))); err != nil {
			t.Fatal(err)
		}
		want = append(want, UIDEntry{Number: i, UID: uid})
	}
	if n := u.repeated(); n != 0 {
		t.Errorf("repeated: %d, want 0", n)
	}
	got := u.entries()
	if len(u.chunks) < 10 {
		t.Errorf("%d chunks: the test does not cross chunks enough", len(u.chunks))
	}
	if !slices.Equal(got, want) {
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Fatalf("entry %d: %d %.40q, want %d %.40q (%d entries, want %d)", i, got[i].Number, got[i].UID, want[i].Number, want[i].UID, len(got), len(want))
			}
		}
		t.Fatalf("%d entries, want %d", len(got), len(want))
	}
}
