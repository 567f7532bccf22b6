package dovecottest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/popwire/pop3/internal/realserver"
)

// rawSession is a minimal POP3 speaker used to check the instance itself, independent of
// the client package.
type rawSession struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func newRaw(t *testing.T, c net.Conn) *rawSession {
	t.Helper()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	s := &rawSession{t: t, conn: c, r: bufio.NewReader(c)}
	if g := s.line(); !strings.HasPrefix(g, "+OK") {
		t.Fatalf("greeting %q", g)
	}
	return s
}

func (s *rawSession) line() string {
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

// cmd sends a command and returns the status line, failing unless it is +OK.
func (s *rawSession) cmd(format string, args ...any) string {
	s.t.Helper()
	l := s.try(format, args...)
	if !strings.HasPrefix(l, "+OK") {
		s.t.Fatalf("%s: %q", strings.Fields(fmt.Sprintf(format, args...))[0], l)
	}
	return l
}

func (s *rawSession) try(format string, args ...any) string {
	s.t.Helper()
	if _, err := fmt.Fprintf(s.conn, format+"\r\n", args...); err != nil {
		s.t.Fatalf("write: %v", err)
	}
	return s.line()
}

// multi reads a multi-line body and undoes dot-stuffing, keeping CRLF.
func (s *rawSession) multi() []byte {
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

func (s *rawSession) login(user, pass string) {
	s.t.Helper()
	s.cmd("USER %s", user)
	s.cmd("PASS %s", pass)
}

func (s *rawSession) stat() (int, int64) {
	s.t.Helper()
	f := strings.Fields(s.cmd("STAT"))
	n, _ := strconv.Atoi(f[1])
	size, _ := strconv.ParseInt(f[2], 10, 64)
	return n, size
}

func TestStartPlain(t *testing.T) {
	msgs := realserver.Messages()
	srv := Start(t, msgs)

	c, err := net.DialTimeout("tcp", srv.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := newRaw(t, c)
	s.cmd("CAPA")
	capa := string(s.multi())
	for _, want := range []string{"STLS", "TOP", "UIDL", "USER", "SASL PLAIN LOGIN"} {
		if !strings.Contains(capa, want+"\r\n") {
			t.Errorf("CAPA lacks %q:\n%s", want, capa)
		}
	}
	s.login("alice", srv.Users["alice"])

	n, size := s.stat()
	if n != len(msgs) {
		t.Fatalf("STAT count %d, want %d", n, len(msgs))
	}
	// RFC 1939 §11: sizes count CRLF line ends, no stuffing; a missing final newline is
	// not counted by Dovecot.
	var want int64
	for _, m := range msgs {
		want += int64(len(realserver.Wire(m.Data)))
		if !bytes.HasSuffix(m.Data, []byte("\n")) {
			want -= 2
		}
	}
	if size != want {
		t.Errorf("STAT size %d, want %d", size, want)
	}

	s.cmd("UIDL")
	uidl := strings.Split(strings.TrimSuffix(string(s.multi()), "\r\n"), "\r\n")
	if len(uidl) != len(msgs) {
		t.Fatalf("UIDL has %d lines, want %d", len(uidl), len(msgs))
	}
	for i, l := range uidl {
		if want := fmt.Sprintf("%d %s", i+1, UIDL(i+1)); l != want {
			t.Errorf("UIDL line %q, want %q", l, want)
		}
	}

	for i, m := range msgs {
		status := s.cmd("RETR %d", i+1)
		got := s.multi()
		if want := realserver.Wire(m.Data); !bytes.Equal(got, want) {
			t.Errorf("RETR %d (%s): %d octets differ from realserver.Wire(stored) (%d octets); first difference at %d",
				i+1, m.Name, len(got), len(want), firstDiff(got, want))
		}
		if i == 0 {
			t.Logf("RETR 1 status: %q", status)
		}
	}

	if l := s.try("RETR %d", len(msgs)+1); !strings.HasPrefix(l, "-ERR") {
		t.Errorf("RETR of a nonexistent message: %q", l)
	}
	s.cmd("QUIT")
}

func TestStartTLS(t *testing.T) {
	msgs := realserver.Messages()[:4]
	srv := Start(t, msgs)

	for _, name := range []string{"localhost", "127.0.0.1"} {
		t.Run(name, func(t *testing.T) {
			d := &net.Dialer{Timeout: 5 * time.Second}
			c, err := tls.DialWithDialer(d, "tcp", srv.TLSAddr, &tls.Config{RootCAs: srv.RootCAs, ServerName: name})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			s := newRaw(t, c)
			s.login("alice", srv.Users["alice"])
			if n, _ := s.stat(); n != len(msgs) {
				t.Fatalf("STAT count %d, want %d", n, len(msgs))
			}
			s.cmd("RETR 1")
			if got, want := s.multi(), realserver.Wire(msgs[0].Data); !bytes.Equal(got, want) {
				t.Errorf("RETR 1 over TLS differs at %d", firstDiff(got, want))
			}
			s.cmd("QUIT")
		})
	}

	// bob: the non-ASCII password, over STLS on the plain port; bob holds 3 messages.
	t.Run("bob-stls", func(t *testing.T) {
		c, err := net.DialTimeout("tcp", srv.Addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		s := newRaw(t, c)
		s.cmd("STLS")
		tc := tls.Client(c, &tls.Config{RootCAs: srv.RootCAs, ServerName: "localhost"})
		tc.SetDeadline(time.Now().Add(30 * time.Second))
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		s = &rawSession{t: t, conn: tc, r: bufio.NewReader(tc)}
		s.login("bob", srv.Users["bob"])
		if n, _ := s.stat(); n != 3 {
			t.Fatalf("bob STAT count %d, want 3", n)
		}
		s.cmd("QUIT")
	})

	t.Run("bad-password", func(t *testing.T) {
		c, err := net.DialTimeout("tcp", srv.Addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		s := newRaw(t, c)
		s.cmd("USER alice")
		start := time.Now()
		l := s.try("PASS wrong")
		if !strings.HasPrefix(l, "-ERR [AUTH]") {
			t.Errorf("bad password answered %q", l)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("failed login took %v; auth_failure_delay = 0 not in effect?", d)
		}
	})
}

func TestStopReleasesPorts(t *testing.T) {
	var addr string
	t.Run("run", func(t *testing.T) {
		srv := Start(t, realserver.Messages()[:1])
		addr = srv.Addr
		if !strings.Contains(srv.Log(), "starting up") {
			t.Logf("log:\n%s", srv.Log())
		}
	})
	if addr == "" {
		t.Skip("server did not start")
	}
	// After cleanup the master is gone, so nothing answers on the port.
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after cleanup", addr)
	}
}

func firstDiff(a, b []byte) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// TestStartRetriesTakenPort makes the first attempt use a port that is taken: Start must
// notice Dovecot's "Address already in use" and try again with fresh ports.
func TestStartRetriesTakenPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	taken := busy.Addr().(*net.TCPAddr).Port
	calls := 0
	pickPorts = func(n int) ([]int, error) {
		calls++
		ports, err := realserver.FreePorts(n)
		if calls == 1 && err == nil {
			ports[0] = taken
		}
		return ports, err
	}
	defer func() { pickPorts = realserver.FreePorts }()

	srv := Start(t, realserver.Messages()[:1])
	if calls < 2 {
		t.Fatalf("ports picked %d times, want a retry", calls)
	}
	if srv.Addr == busy.Addr().String() {
		t.Fatalf("Addr %s is the taken port", srv.Addr)
	}
	c, err := net.DialTimeout("tcp", srv.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	newRaw(t, c)
}
