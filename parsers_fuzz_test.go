package pop3

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Fuzz targets for the parsers of server replies that FuzzParseResponse (status lines),
// FuzzDotReader (bodies) and FuzzClientSession (whole sessions) do not check against an
// oracle: LIST and UIDL listings, CAPA, and SASL continuations. Each reads the fuzzed
// octets through the Client over a lockstepConn, a raw server that releases each reply only
// once the command it answers has been written, as a real server does. The seed corpora
// are in testdata/fuzz/<target>/.

// lockstepConn is a net.Conn whose server sends replies[0] at once (the greeting) and
// replies[k] once the client has written its k-th line; after that, and when the client
// reads with nothing released, the connection is closed. Reads return at most chunk
// octets (no bound when chunk is 0).
type lockstepConn struct {
	replies  []string
	released int
	in       bytes.Buffer
	chunk    int
	written  bytes.Buffer
}

func newLockstepConn(chunk int, replies ...string) *lockstepConn {
	c := &lockstepConn{replies: replies, chunk: chunk}
	c.release()
	return c
}

func (c *lockstepConn) release() {
	if c.released < len(c.replies) {
		c.in.WriteString(c.replies[c.released])
		c.released++
	}
}

func (c *lockstepConn) Read(p []byte) (int, error) {
	if c.in.Len() == 0 {
		return 0, io.EOF
	}
	if c.chunk > 0 && len(p) > c.chunk {
		p = p[:c.chunk]
	}
	return c.in.Read(p)
}

func (c *lockstepConn) Write(p []byte) (int, error) {
	for range bytes.Count(p, []byte("\n")) {
		c.release()
	}
	return c.written.Write(p)
}

// lines returns the lines the client wrote, without their CRLF.
func (c *lockstepConn) lines() []string {
	s := strings.TrimSuffix(c.written.String(), "\r\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\r\n")
}

func (c *lockstepConn) Close() error                     { return nil }
func (c *lockstepConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *lockstepConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (c *lockstepConn) SetDeadline(time.Time) error      { return nil }
func (c *lockstepConn) SetReadDeadline(time.Time) error  { return nil }
func (c *lockstepConn) SetWriteDeadline(time.Time) error { return nil }

// fuzzMaxLine is the MaxLineLength of the fuzz targets: small, so that inputs reach it.
const fuzzMaxLine = 64

// fuzzClient starts a Client on conn, logged in when transaction is set.
func fuzzClient(t *testing.T, conn net.Conn, transaction bool) *Client {
	c, err := NewClient(conn, &Options{MaxLineLength: fuzzMaxLine})
	if err != nil {
		t.Fatalf("greeting: %v", err)
	}
	if transaction {
		c.enterTransaction()
	}
	return c
}

// listingLines is an oracle for a listing: the lines before the first line that begins
// with ".", without their endings. ok is false when the listing cannot be read whole: a
// line is over fuzzMaxLine, or the terminating line never comes.
func listingLines(listing string) (lines []string, ok bool) {
	for {
		i := strings.IndexByte(listing, '\n')
		if i < 0 {
			return nil, false
		}
		line := strings.TrimSuffix(listing[:i], "\r")
		listing = listing[i+1:]
		if len(line) > fuzzMaxLine {
			return nil, false
		}
		if strings.HasPrefix(line, ".") {
			return lines, true
		}
		lines = append(lines, line)
	}
}

// fields splits a line at runs of spaces and tabs.
func fields(line string) []string {
	return strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' })
}

// decimal parses a field of ASCII digits only, within int64.
func decimal(field string) (int64, bool) {
	if field == "" || strings.TrimLeft(field, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(field, 10, 64)
	return n, err == nil
}

// checkListingError checks the error of a listing the oracle found malformed (ok) or
// unreadable (!ok).
func checkListingError(t *testing.T, what, listing string, readable bool, err error) {
	t.Helper()
	switch {
	case err == nil:
		t.Fatalf("%s of %q: no error", what, listing)
	case readable && (!errors.Is(err, ErrMalformed) || errors.Is(err, ErrBroken)):
		t.Fatalf("%s of %q: %v; want ErrMalformed with the connection usable", what, listing, err)
	case !readable && !errors.Is(err, ErrBroken):
		t.Fatalf("%s of %q: %v; want ErrBroken", what, listing, err)
	case errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF):
		t.Fatalf("%s of %q: a cut read as io.EOF: %v", what, listing, err)
	}
}

// FuzzListing reads arbitrary LIST and UIDL listings through the Client and checks the
// result against an oracle written apart from the parser: a listing is read whole when it
// ends in a "." line and no line is over the bound; each line is then a message number
// (ASCII digits, 1 to 2^31-1) and a size (digits) or a unique-id (no control octet), with
// anything after ignored; a UIDL listing names each message once.
func FuzzListing(f *testing.F) {
	f.Add("1 616\r\n2 247\r\n.\r\n", 0)
	f.Fuzz(func(t *testing.T, listing string, chunk int) {
		chunk = max(chunk, -chunk) % 32
		lines, readable := listingLines(listing)

		c := fuzzClient(t, newLockstepConn(chunk, "+OK ready\r\n", "+OK\r\n"+listing), true)
		list, err := c.List()
		var want []ListEntry
		valid := readable
		for _, line := range lines {
			fl := append(fields(line), "", "")
			n, ok1 := decimal(fl[0])
			size, ok2 := decimal(fl[1])
			if !ok1 || !ok2 || n < 1 || n > maxMessageNumber {
				valid = false
				break
			}
			want = append(want, ListEntry{Number: int(n), Size: size})
		}
		if valid {
			if err != nil || !reflect.DeepEqual(list, want) {
				t.Fatalf("List of %q: %v, %v; want %v", listing, list, err, want)
			}
		} else {
			checkListingError(t, "List", listing, readable, err)
		}

		c = fuzzClient(t, newLockstepConn(chunk, "+OK ready\r\n", "+OK\r\n"+listing), true)
		uids, err := c.UIDL()
		var wantUIDs []UIDEntry
		valid = readable
		seen := map[int64]bool{}
		for _, line := range lines {
			fl := append(fields(line), "", "")
			n, ok := decimal(fl[0])
			if !ok || n < 1 || n > maxMessageNumber || fl[1] == "" || seen[n] ||
				strings.ContainsFunc(fl[1], func(r rune) bool { return r < ' ' || r == 0x7f }) {
				valid = false
				break
			}
			seen[n] = true
			wantUIDs = append(wantUIDs, UIDEntry{Number: int(n), UID: fl[1]})
		}
		if valid {
			if err != nil || !reflect.DeepEqual(uids, wantUIDs) {
				t.Fatalf("UIDL of %q: %v, %v; want %v", listing, uids, err, wantUIDs)
			}
		} else {
			checkListingError(t, "UIDL", listing, readable, err)
		}
	})
}

// FuzzCapabilities reads arbitrary CAPA listings through the Client. A listing it accepts
// must be what the oracle makes of it (each line's first field upper-cased as the tag, the
// other fields as its arguments, empty lines skipped), and every accessor must give an
// answer consistent with it. A listing it refuses must be refused with a typed error.
func FuzzCapabilities(f *testing.F) {
	f.Add("TOP\r\nUIDL\r\nSASL PLAIN LOGIN\r\n.\r\n")
	f.Fuzz(func(t *testing.T, listing string) {
		c := fuzzClient(t, newLockstepConn(0, "+OK ready\r\n", "+OK\r\n"+listing), false)
		caps, err := c.Capabilities()
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBroken) && !errors.Is(err, ErrLineTooLong) {
				t.Fatalf("Capabilities of %q: untyped error %v", listing, err)
			}
			if errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("Capabilities of %q: a cut read as io.EOF: %v", listing, err)
			}
			return
		}
		lines, readable := listingLines(listing)
		if !readable {
			t.Fatalf("Capabilities of %q: %v from a listing that cannot be read whole", listing, caps)
		}
		want := Capabilities{}
		for _, line := range lines {
			fl := fields(line)
			if len(fl) == 0 {
				continue
			}
			tag := strings.ToUpper(fl[0])
			want[tag] = append(want[tag], fl[1:]...)
		}
		if !reflect.DeepEqual(caps, want) {
			t.Fatalf("Capabilities of %q: %q; want %q", listing, caps, want)
		}
		for tag := range caps {
			name := tag
			if isASCII(tag) {
				name = strings.ToLower(tag) // any case
			}
			if !caps.Has(name) || !reflect.DeepEqual(caps.Args(name), caps[tag]) {
				t.Fatalf("Capabilities of %q: Has or Args of %q disagree", listing, name)
			}
		}
		if d, ok := caps.LoginDelay(); ok && (d.Delay < 0 || !caps.Has("LOGIN-DELAY")) {
			t.Fatalf("Capabilities of %q: LoginDelay %+v", listing, d)
		}
		if e, ok := caps.Expire(); ok && (e.Days < 0 || (e.Never && e.Days != 0)) {
			t.Fatalf("Capabilities of %q: Expire %+v", listing, e)
		}
		mechs := caps.SASLMechanisms()
		if len(mechs) != len(caps["SASL"]) {
			t.Fatalf("Capabilities of %q: SASL mechanisms %q", listing, mechs)
		}
		for _, m := range mechs {
			if isASCII(m) && (m != strings.ToUpper(m) || !caps.SupportsSASL(strings.ToLower(m))) {
				t.Fatalf("Capabilities of %q: SASL mechanism %q", listing, m)
			}
		}
		_ = caps.STLS() || caps.Pipelining() || caps.RespCodes() || caps.AuthRespCode() || caps.UTF8() || caps.UTF8User()
	})
}

// fuzzMech is a SASL mechanism that records the challenges it gets, answers each with
// "r" and its number, and fails on a challenge that begins with "fail".
type fuzzMech struct {
	challenges [][]byte
	responses  []string
}

var errFuzzMech = errors.New("fuzzMech: told to fail")

func (m *fuzzMech) Start() (string, []byte, error) { return "X-FUZZ", nil, nil }

func (m *fuzzMech) Next(challenge []byte) ([]byte, error) {
	m.challenges = append(m.challenges, challenge)
	if bytes.HasPrefix(challenge, []byte("fail")) {
		return nil, errFuzzMech
	}
	resp := fmt.Sprintf("r%d", len(m.challenges))
	m.responses = append(m.responses, base64.StdEncoding.EncodeToString([]byte(resp)))
	return []byte(resp), nil
}

// FuzzAuthContinuation plays arbitrary server lines, one in answer to each client line,
// against an AUTH exchange (after a CAPA the server refuses). The oracle reads each line as
// RFC 5034 says: "+" alone or "+" and blanks and base64 is a continuation; anything else
// ends the exchange ("+..." positive, the rest negative). The mechanism must get exactly
// the decoded challenges, the client must answer each with the mechanism's base64
// response, or cancel with "*" a challenge that is not base64 or that the mechanism
// refuses, and Auth may succeed only on a positive final reply.
func FuzzAuthContinuation(f *testing.F) {
	f.Add("+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\n+OK\r\n")
	f.Fuzz(func(t *testing.T, server string) {
		replies := []string{"+OK ready\r\n", "-ERR no CAPA\r\n"}
		replies = append(replies, strings.SplitAfter(server, "\n")...)
		conn := newLockstepConn(0, replies...)
		c := fuzzClient(t, conn, false)
		mech := &fuzzMech{}
		err := c.Auth(mech)

		// The oracle: walk the server's lines as the exchange should.
		var (
			wantChallenges [][]byte
			wantSent       = []string{"CAPA", "AUTH X-FUZZ"}
			final          string // the line that ended the exchange
			ended          bool
		)
		lines := replies[2:]
		cancelled := false
		for _, raw := range lines {
			if !strings.HasSuffix(raw, "\n") || len(strings.TrimSuffix(strings.TrimSuffix(raw, "\n"), "\r")) > fuzzMaxLine {
				break // a cut, or a line over the bound: the exchange ends with an error
			}
			line := strings.TrimSuffix(strings.TrimSuffix(raw, "\n"), "\r")
			continuation := strings.HasPrefix(line, "+") && (len(line) == 1 || line[1] == ' ' || line[1] == '\t')
			if !continuation {
				final, ended = line, true
				break
			}
			if cancelled {
				break // a continuation after the cancel: out of step
			}
			text := strings.Trim(line[1:], " \t")
			var data []byte
			var derr error
			if text == "=" {
				data = []byte{}
			} else if strings.TrimLeft(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != "" {
				derr = errors.New("not base64")
			} else {
				data, derr = base64.StdEncoding.Strict().DecodeString(text)
			}
			if derr != nil {
				wantSent = append(wantSent, "*")
				cancelled = true
				continue
			}
			wantChallenges = append(wantChallenges, data)
			if bytes.HasPrefix(data, []byte("fail")) {
				wantSent = append(wantSent, "*")
				cancelled = true
				continue
			}
			wantSent = append(wantSent, base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "r%d", len(wantChallenges))))
		}

		if len(mech.challenges) != len(wantChallenges) {
			t.Fatalf("server %q: the mechanism got %q, want %q", server, mech.challenges, wantChallenges)
		}
		for i := range wantChallenges {
			if !bytes.Equal(mech.challenges[i], wantChallenges[i]) {
				t.Fatalf("server %q: challenge %d is %q, want %q", server, i, mech.challenges[i], wantChallenges[i])
			}
		}
		if got := conn.lines(); !reflect.DeepEqual(got, wantSent) {
			t.Fatalf("server %q: the client sent %q, want %q", server, got, wantSent)
		}
		// A positive final reply logs in, even to an exchange the client cancelled, which is
		// then an error.
		loggedIn := ended && strings.HasPrefix(final, "+")
		wantOK := loggedIn && !cancelled
		switch {
		case err == nil && !wantOK:
			t.Fatalf("server %q: Auth succeeded", server)
		case err != nil && wantOK:
			t.Fatalf("server %q: Auth: %v; want success", server, err)
		case err != nil:
			var perr *Error
			if !errors.As(err, &perr) && !errors.Is(err, ErrBroken) && !errors.Is(err, ErrMalformed) && !errors.Is(err, errFuzzMech) {
				t.Fatalf("server %q: untyped error %v", server, err)
			}
			if !ended && !errors.Is(err, ErrBroken) {
				t.Fatalf("server %q: Auth: %v, with the exchange not ended; want ErrBroken", server, err)
			}
		}
		if c.loggedIn != loggedIn {
			t.Fatalf("server %q: Auth: %v, logged in: %v", server, err, c.loggedIn)
		}
	})
}
