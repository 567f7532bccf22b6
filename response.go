package pop3

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Response is a parsed status line: the first line of every reply, and the greeting.
type Response struct {
	// OK is true when the line's first octet is "+" (as Outlook reads it: the case and
	// whatever follows do not matter), false otherwise.
	OK bool
	// Code is the RFC 2449 response code, upper-cased and without brackets, or "".
	Code string
	// Text is what follows the status indicator and the code, with the separating
	// spaces and tabs removed.
	Text string
}

// ParseResponse parses one status line, without its line ending. It never fails: any line
// that begins with "+" is positive and anything else, the empty line included, is negative.
// The status indicator is the first field, whatever its spelling ("+OK", "+ok", "+",
// "-ERR"); fields are separated by any run of spaces and tabs. A bracketed word at the start
// of the text is taken as the response code whether or not the server listed RESP-CODES.
func ParseResponse(line []byte) Response {
	r := Response{OK: isPositive(line)}
	rest := skipBlanks(line[indexBlank(line):])
	if len(rest) > 0 && rest[0] == '[' {
		if end := bytes.IndexByte(rest, ']'); end > 1 && isCode(rest[1:end]) {
			r.Code = strings.ToUpper(string(rest[1:end]))
			rest = skipBlanks(rest[end+1:])
		}
	}
	r.Text = string(bytes.TrimRight(rest, " \t"))
	return r
}

// isPositive reports whether a status line is positive: it begins with "+".
func isPositive(line []byte) bool { return len(line) > 0 && line[0] == '+' }

// isCode reports whether b can be the inside of an RFC 2449 response code: printable
// ASCII with no space and no "]".
func isCode(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || c == ']' {
			return false
		}
	}
	return true
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// indexBlank returns the index of the first space or tab in b, or len(b).
func indexBlank(b []byte) int {
	for i, c := range b {
		if isBlank(c) {
			return i
		}
	}
	return len(b)
}

func skipBlanks(b []byte) []byte {
	for len(b) > 0 && isBlank(b[0]) {
		b = b[1:]
	}
	return b
}

// nextField splits off the first field of b, separated by runs of spaces and tabs
// (as Outlook reads them).
func nextField(b []byte) (field, rest []byte) {
	b = skipBlanks(b)
	i := indexBlank(b)
	return b[:i], b[i:]
}

// numberField parses the first field of b, after any spaces and tabs, as a number and
// returns what follows it: the one rule of a number in a reply. The field must be ASCII
// digits only, at least one, and its value must fit an int64.
func numberField(b []byte) (int64, []byte, error) {
	field, rest := nextField(b)
	if len(field) == 0 {
		return 0, nil, fmt.Errorf("%w: missing number", ErrMalformed)
	}
	for _, c := range field {
		if c < '0' || c > '9' {
			return 0, nil, fmt.Errorf("%w: %q is not a number", ErrMalformed, field)
		}
	}
	n, err := strconv.ParseInt(string(field), 10, 64)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %q is out of range", ErrMalformed, field)
	}
	return n, rest, nil
}

// parseNumberPair reads the two leading numbers of a drop listing ("count size") or a scan
// listing ("number size"), ignoring whatever follows them.
func parseNumberPair(b []byte) (int64, int64, error) {
	a, rest, err := numberField(b)
	if err != nil {
		return 0, 0, err
	}
	n, _, err := numberField(rest)
	if err != nil {
		return 0, 0, err
	}
	return a, n, nil
}

// messageNumberField is numberField for the message number that begins a listing's line.
func messageNumberField(b []byte) (int, []byte, error) {
	n, rest, err := numberField(b)
	if err != nil {
		return 0, nil, err
	}
	if !isMessageNumber(n) {
		return 0, nil, fmt.Errorf("%w: message number %d out of range", ErrMalformed, n)
	}
	return int(n), rest, nil
}

// isMessageNumber reports whether n can be a message number: at least 1, and it fits an int.
func isMessageNumber(n int64) bool { return n >= 1 && n <= maxMessageNumber }

// leadingNumber is numberField's shortcut for the usual field of a listing, small enough
// to be inlined: a field of 1 to 18 ASCII digits at the very start of b (which cannot
// overflow), ended by a space, a tab or the end of b. It adds no rule: when it reports
// true, numberField(b) returns the same number and rest; when false, numberField decides
// (TestListingNumbers checks both).
func leadingNumber(b []byte) (n int64, rest []byte, ok bool) {
	i := 0
	for ; i < len(b) && i <= 18; i++ {
		c := b[i] - '0'
		if c > 9 {
			break
		}
		n = n*10 + int64(c)
	}
	if i == 0 || i > 18 || i < len(b) && !isBlank(b[i]) {
		return 0, nil, false
	}
	return n, b[i:], true
}

const maxMessageNumber = 1<<31 - 1
