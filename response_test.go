package pop3

import (
	"strings"
	"testing"
)

func TestParseResponse(t *testing.T) {
	tests := []struct {
		line string
		want Response
	}{
		{"+OK", Response{OK: true}},
		{"+ok done", Response{OK: true, Text: "done"}},                     // V0001
		{"+", Response{OK: true}},                                          // V0001
		{"+OK\t", Response{OK: true}},                                      // V0001, C0004
		{"+Ok  \t 2   320", Response{OK: true, Text: "2   320"}},           // C0004
		{"-ERR", Response{}},                                               // V0001
		{"-err nope", Response{Text: "nope"}},                              // V0001
		{"*bogus", Response{Text: ""}},                                     // V0001: not "+" is negative
		{"", Response{}},                                                   // V0001
		{"-ERR [IN-USE] locked", Response{Code: "IN-USE", Text: "locked"}}, // RFC 2449 section 8
		{"-ERR [sys/temp]  try later", Response{Code: "SYS/TEMP", Text: "try later"}},
		{"-ERR\t[AUTH]\tbad", Response{Code: "AUTH", Text: "bad"}},
		{"-ERR [LOGIN-DELAY]", Response{Code: "LOGIN-DELAY"}},
		{"-ERR [not a code] x", Response{Text: "[not a code] x"}},
		{"-ERR [] x", Response{Text: "[] x"}},
		{"-ERR [unclosed", Response{Text: "[unclosed"}},
		{"+OK [XYZZY/A] fine", Response{OK: true, Code: "XYZZY/A", Text: "fine"}},
	}
	for _, tt := range tests {
		if got := ParseResponse([]byte(tt.line)); got != tt.want {
			t.Errorf("ParseResponse(%q) = %+v, want %+v", tt.line, got, tt.want)
		}
	}
}

func TestParseNumberPair(t *testing.T) {
	good := map[string][2]int64{
		"2 320":               {2, 320},
		"2 320 extra junk":    {2, 320}, // C0017
		"\t2\t320":            {2, 320}, // C0004
		"1  \t 9999999999999": {1, 9999999999999},
	}
	for in, want := range good {
		a, b, err := parseNumberPair([]byte(in))
		if err != nil || a != want[0] || b != want[1] {
			t.Errorf("%q: got %d %d %v, want %v", in, a, b, err, want)
		}
	}
	for _, in := range []string{"", "two 320", "2", "2 -5", "2 3x", "99999999999999999999 1"} {
		if _, _, err := parseNumberPair([]byte(in)); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{"+OK 2 320", "-ERR [IN-USE] x", "+ ", "-ERR [", "[]", "+\t\t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r := ParseResponse([]byte(line))
		if r.OK != strings.HasPrefix(line, "+") {
			t.Fatalf("%q: OK = %v", line, r.OK)
		}
		if strings.ContainsAny(r.Code, " \t]") || r.Code != strings.ToUpper(r.Code) {
			t.Fatalf("%q: code %q", line, r.Code)
		}
		if !strings.Contains(line, r.Text) {
			t.Fatalf("%q: text %q is not part of the line", line, r.Text)
		}
		parseNumberPair([]byte(r.Text))
	})
}
