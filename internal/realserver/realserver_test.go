package realserver

import (
	"bytes"
	"regexp"
	"testing"
)

func TestWire(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "\r\n"},
		{"a", "a\r\n"},
		{"a\n", "a\r\n"},
		{"a\nb", "a\r\nb\r\n"},
		{"a\r\nb\n", "a\r\nb\r\n"},
		{"\n\n", "\r\n\r\n"},
		{".\n", ".\r\n"},
	} {
		if got := string(Wire([]byte(tc.in))); got != tc.want {
			t.Errorf("Wire(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMessages(t *testing.T) {
	a, b := Messages(), Messages()
	if len(a) < 10 || len(a) > 16 {
		t.Errorf("%d messages, want about 12", len(a))
	}
	names := map[string]bool{}
	var total int
	var sawLong, sawLarge, sawEmptyBody, sawNoNL, sawUTF8Header, sawDotLine, sawDotDot bool
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Data, b[i].Data) {
			t.Errorf("message %d differs between calls", i+1)
		}
		if names[a[i].Name] {
			t.Errorf("duplicate name %q", a[i].Name)
		}
		names[a[i].Name] = true
		d := a[i].Data
		total += len(d)
		if bytes.IndexByte(d, '\r') >= 0 {
			t.Errorf("%s contains CR", a[i].Name)
		}
		if len(d) > 2<<20-1024 {
			sawLarge = true
		}
		hdr, body, ok := bytes.Cut(d, []byte("\n\n"))
		if !ok {
			t.Errorf("%s has no header/body separator", a[i].Name)
		}
		if len(body) == 0 {
			sawEmptyBody = true
		}
		if !bytes.HasSuffix(d, []byte("\n")) {
			sawNoNL = true
		}
		if regexp.MustCompile(`[\x80-\xff]`).Match(hdr) {
			sawUTF8Header = true
		}
		for _, l := range bytes.Split(d, []byte("\n")) {
			switch {
			case len(l) == 100000:
				sawLong = true
			case string(l) == ".":
				sawDotLine = true
			case bytes.HasPrefix(l, []byte("..")):
				sawDotDot = true
			}
		}
	}
	for what, ok := range map[string]bool{
		"100000-octet line": sawLong, "~2 MiB message": sawLarge, "empty body": sawEmptyBody,
		"no final newline": sawNoNL, "8-bit header": sawUTF8Header, `"." line`: sawDotLine, `".." line`: sawDotDot,
	} {
		if !ok {
			t.Errorf("no message with a %s", what)
		}
	}
	t.Logf("%d messages, %d octets", len(a), total)
}

// FreePorts hands out distinct ports below the ephemeral range, where no ":0" listener of
// a test can be given one of them.
func TestFreePortsBelowEphemeral(t *testing.T) {
	ports, err := FreePorts(20)
	if err != nil {
		t.Fatal(err)
	}
	low := ephemeralLow()
	seen := map[int]bool{}
	for _, p := range ports {
		if p < lowestPort || p >= low || seen[p] {
			t.Errorf("port %d: want distinct ports in [%d, %d)", p, lowestPort, low)
		}
		seen[p] = true
	}
	more, err := FreePorts(5)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range more {
		if seen[p] {
			t.Errorf("port %d handed out twice", p)
		}
	}
}
