package realserver

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Raw is a minimal POP3 speaker for checking a server instance itself, independent of the
// client package. Every method fails the test on a read or write error.
type Raw struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

// rawTimeout bounds a whole Raw session.
const rawTimeout = 30 * time.Second

// NewRaw reads the greeting on c, failing the test unless it is +OK.
func NewRaw(t testing.TB, c net.Conn) *Raw {
	t.Helper()
	c.SetDeadline(time.Now().Add(rawTimeout))
	s := &Raw{t: t, conn: c, r: bufio.NewReader(c)}
	if g := s.Line(); !strings.HasPrefix(g, "+OK") {
		t.Fatalf("greeting %q", g)
	}
	return s
}

// Line reads one line, which must end in CRLF, and returns it without the CRLF.
func (s *Raw) Line() string {
	s.t.Helper()
	l, err := s.r.ReadString('\n')
	if err != nil {
		s.t.Fatalf("read: %v (got %q)", err, l)
	}
	if !strings.HasSuffix(l, "\r\n") {
		s.t.Fatalf("line without CRLF: %q", l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// Cmd sends a command and returns the status line, failing unless it is +OK.
func (s *Raw) Cmd(format string, args ...any) string {
	s.t.Helper()
	l := s.Try(format, args...)
	if !strings.HasPrefix(l, "+OK") {
		s.t.Fatalf("%s: %q", strings.Fields(fmt.Sprintf(format, args...))[0], l)
	}
	return l
}

// Try sends a command and returns the status line, whatever it is.
func (s *Raw) Try(format string, args ...any) string {
	s.t.Helper()
	if _, err := fmt.Fprintf(s.conn, format+"\r\n", args...); err != nil {
		s.t.Fatalf("write: %v", err)
	}
	return s.Line()
}

// Multi reads a multi-line body and undoes dot-stuffing, keeping CRLF.
func (s *Raw) Multi() []byte {
	s.t.Helper()
	var body []byte
	for {
		l, err := s.r.ReadBytes('\n')
		if err != nil {
			s.t.Fatalf("read body: %v", err)
		}
		if string(l) == ".\r\n" {
			return body
		}
		if l[0] == '.' {
			l = l[1:]
		}
		body = append(body, l...)
	}
}

// Login sends USER and PASS.
func (s *Raw) Login(user, pass string) {
	s.t.Helper()
	s.Cmd("USER %s", user)
	s.Cmd("PASS %s", pass)
}

// Stat sends STAT and returns its numbers.
func (s *Raw) Stat() (int, int64) {
	s.t.Helper()
	f := strings.Fields(s.Cmd("STAT"))
	if len(f) < 3 {
		s.t.Fatalf("STAT reply %v", f)
	}
	n, _ := strconv.Atoi(f[1])
	size, _ := strconv.ParseInt(f[2], 10, 64)
	return n, size
}

// StartTLS sends STLS and goes on over TLS with conf.
func (s *Raw) StartTLS(conf *tls.Config) {
	s.t.Helper()
	s.Cmd("STLS")
	tc := tls.Client(s.conn, conf)
	tc.SetDeadline(time.Now().Add(rawTimeout))
	if err := tc.Handshake(); err != nil {
		s.t.Fatalf("TLS handshake after STLS: %v", err)
	}
	s.conn, s.r = tc, bufio.NewReader(tc)
}

// FirstDiff returns the index of the first octet where a and b differ.
func FirstDiff(a, b []byte) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
