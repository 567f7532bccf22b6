package pop3

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// The unstuffing rule of RFC 1939 section 3 and MS-STANOPOP3 V0002, C0006, C0023: "." alone
// ends the body, one leading dot is removed from any other line, CRLF is kept.
func TestDotReaderUnstuffs(t *testing.T) {
	tests := []struct{ name, wire, want string }{
		{"empty", ".\r\n", ""},
		{"plain", "a\r\nb\r\n.\r\n", "a\r\nb\r\n"},
		{"stuffed dot line", "a\r\n..\r\n.\r\n", "a\r\n.\r\n"},
		{"stuffed text", "..hidden\r\n...x\r\n.\r\n", ".hidden\r\n..x\r\n"},
		{"unstuffed by a buggy server", ".x\r\n.\r\n", "x\r\n"},
		{"first line empty", "\r\n\r\nbody\r\n.\r\n", "\r\n\r\nbody\r\n"},
		{"bare LF", "a\n..b\n.\n", "a\n.b\n"},
		{"dot CR not LF", ".\rx\r\n.\r\n", "\rx\r\n"},
		{"dot inside a line", "a.b\r\n a\r\n.\r\n", "a.b\r\n a\r\n"},
		{"8-bit", "Gr\xc3\xbc\xc3\x9fe\r\n.\r\n", "Gr\xc3\xbc\xc3\x9fe\r\n"},
		{"after the end", "x\r\n.\r\n+OK next\r\n", "x\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, chunk := range []int{1, 2, 3, 7, 0} {
				for _, readSize := range []int{1, 2, 5, 4096} {
					got, err := readBody(tt.wire, chunk, readSize)
					if err != nil || got != tt.want {
						t.Errorf("chunk %d, read %d: got %q, %v; want %q", chunk, readSize, got, err, tt.want)
					}
				}
			}
		})
	}
}

// A cut connection never looks like a complete message (MS-STANOPOP3 C0006).
func TestDotReaderTruncated(t *testing.T) {
	for _, wire := range []string{"", "a\r\n", "a\r\n.", "a\r\n.\r", "a\r\nb", "a\r\n..\r\n"} {
		t.Run(fmt.Sprintf("%q", wire), func(t *testing.T) {
			got, err := readBody(wire, 0, 4096)
			if !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, ErrBroken) {
				t.Errorf("got %q, %v; want io.ErrUnexpectedEOF and ErrBroken", got, err)
			}
		})
	}
}

// A line of any length streams through without being held in memory.
func TestDotReaderLongLine(t *testing.T) {
	long := strings.Repeat("x", 3<<20)
	body := "." + long + "\r\n" + long + "\r\n"
	got, err := readBody(dotStuff(body), 0, 32<<10)
	if err != nil || got != body {
		t.Fatalf("got %d octets, %v; want %d", len(got), err, len(body))
	}
}

func TestDotReaderWriteTo(t *testing.T) {
	body := "a\r\n.b\r\n..\r\n" + strings.Repeat("line\r\n", 50000) + ".\r\n"
	c := NewConn(newStreamConn(dotStuff(body)+"+OK\r\n", 1000), nil)
	var out bytes.Buffer
	n, err := io.Copy(&out, c.DotReader())
	if err != nil || out.String() != body || n != int64(len(body)) {
		t.Fatalf("io.Copy: %d, %v; body equal: %v", n, err, out.String() == body)
	}
	if _, err := c.ReadResponse(); err != nil {
		t.Fatalf("the reply after the body: %v", err)
	}
}

// Close drains the rest of the body so the next reply is read in step.
func TestDotReaderCloseDrains(t *testing.T) {
	c := NewConn(newStreamConn("abc\r\n.\r\n+OK after\r\n", 0), nil)
	d := c.DotReader()
	var one [1]byte
	if _, err := d.Read(one[:]); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	resp, err := c.ReadResponse()
	if err != nil || resp.Text != "after" {
		t.Fatalf("got %+v, %v", resp, err)
	}
	// Part of the body was discarded: the reader must not end as if it were whole.
	if n, err := d.Read(one[:]); n != 0 || !errors.Is(err, ErrBodySkipped) {
		t.Fatalf("Read after Close: %d, %v; want ErrBodySkipped", n, err)
	}
	// A body read to its end stays at io.EOF after Close.
	c = NewConn(newStreamConn("abc\r\n.\r\n", 0), nil)
	d = c.DotReader()
	if b, err := io.ReadAll(d); err != nil || string(b) != "abc\r\n" {
		t.Fatalf("ReadAll: %q, %v", b, err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := d.Read(one[:]); n != 0 || err != io.EOF {
		t.Fatalf("Read after reading all and Close: %d, %v; want io.EOF", n, err)
	}
}

// A DotReader asked for after the connection broke yields the broken error, never the
// octets that arrive late (a stale reply must not pass for a message body).
func TestDotReaderAfterBroken(t *testing.T) {
	c := NewConn(newStreamConn("+OK late\r\nstale body\r\n.\r\n", 0), nil)
	c.fail("RETR 1", io.ErrUnexpectedEOF)
	b, err := io.ReadAll(c.DotReader())
	if len(b) != 0 || !errors.Is(err, ErrBroken) {
		t.Fatalf("ReadAll: %q, %v; want nothing and ErrBroken", b, err)
	}
}

func FuzzDotReader(f *testing.F) {
	f.Add("a\r\n.b\r\n..\r\n", 1)
	f.Add(".\r\n", 3)
	f.Add("x\n.\ny\n", 2)
	f.Add(strings.Repeat(".", 100), 7)
	f.Fuzz(func(t *testing.T, body string, chunk int) {
		if chunk < 0 {
			chunk = -chunk
		}
		chunk %= 64
		want := body
		if body != "" && !strings.HasSuffix(body, "\n") {
			want += "\r\n"
		}
		got, err := readBody(dotStuff(body), chunk, 13)
		if err != nil || got != want {
			t.Fatalf("body %q: got %q, %v", body, got, err)
		}
		// Arbitrary input never panics, and ends either at a terminator or with an error
		// that is not io.EOF.
		if _, err := readBody(body, chunk, 5); err != nil && !errors.Is(err, ErrBroken) {
			t.Fatalf("raw %q: error %v does not match ErrBroken", body, err)
		}
	})
}
