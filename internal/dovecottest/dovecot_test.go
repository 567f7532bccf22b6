package dovecottest

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/popwire/pop3/internal/realserver"
)

func TestStartPlain(t *testing.T) {
	msgs := realserver.Messages()
	srv := Start(t, msgs)

	c, err := net.DialTimeout("tcp", srv.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := realserver.NewRaw(t, c)
	s.Cmd("CAPA")
	capa := string(s.Multi())
	for _, want := range []string{"STLS", "TOP", "UIDL", "USER", "SASL PLAIN LOGIN"} {
		if !strings.Contains(capa, want+"\r\n") {
			t.Errorf("CAPA lacks %q:\n%s", want, capa)
		}
	}
	s.Login("alice", srv.Users["alice"])

	n, size := s.Stat()
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

	s.Cmd("UIDL")
	uidl := strings.Split(strings.TrimSuffix(string(s.Multi()), "\r\n"), "\r\n")
	if len(uidl) != len(msgs) {
		t.Fatalf("UIDL has %d lines, want %d", len(uidl), len(msgs))
	}
	for i, l := range uidl {
		if want := fmt.Sprintf("%d %s", i+1, UIDL(i+1)); l != want {
			t.Errorf("UIDL line %q, want %q", l, want)
		}
	}

	for i, m := range msgs {
		status := s.Cmd("RETR %d", i+1)
		got := s.Multi()
		if want := realserver.Wire(m.Data); !bytes.Equal(got, want) {
			t.Errorf("RETR %d (%s): %d octets differ from realserver.Wire(stored) (%d octets); first difference at %d",
				i+1, m.Name, len(got), len(want), realserver.FirstDiff(got, want))
		}
		if i == 0 {
			t.Logf("RETR 1 status: %q", status)
		}
	}

	if l := s.Try("RETR %d", len(msgs)+1); !strings.HasPrefix(l, "-ERR") {
		t.Errorf("RETR of a nonexistent message: %q", l)
	}
	s.Cmd("QUIT")
	// No service failed on the way (run as a user other than root, a service that tries
	// to chroot logs "Fatal: chroot(...) failed" and the master throttles it).
	for _, l := range strings.Split(srv.Log(), "\n") {
		if strings.Contains(l, " Fatal: ") || strings.Contains(l, " Error: ") {
			t.Errorf("Dovecot's log: %s", l)
		}
	}
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
			s := realserver.NewRaw(t, c)
			s.Login("alice", srv.Users["alice"])
			if n, _ := s.Stat(); n != len(msgs) {
				t.Fatalf("STAT count %d, want %d", n, len(msgs))
			}
			s.Cmd("RETR 1")
			if got, want := s.Multi(), realserver.Wire(msgs[0].Data); !bytes.Equal(got, want) {
				t.Errorf("RETR 1 over TLS differs at %d", realserver.FirstDiff(got, want))
			}
			s.Cmd("QUIT")
		})
	}

	// bob: the non-ASCII password, over STLS on the plain port; bob holds 3 messages.
	t.Run("bob-stls", func(t *testing.T) {
		c, err := net.DialTimeout("tcp", srv.Addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		s := realserver.NewRaw(t, c)
		s.StartTLS(&tls.Config{RootCAs: srv.RootCAs, ServerName: "localhost"})
		s.Login("bob", srv.Users["bob"])
		if n, _ := s.Stat(); n != 3 {
			t.Fatalf("bob STAT count %d, want 3", n)
		}
		s.Cmd("QUIT")
	})

	t.Run("bad-password", func(t *testing.T) {
		c, err := net.DialTimeout("tcp", srv.Addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		s := realserver.NewRaw(t, c)
		s.Cmd("USER alice")
		// (auth_failure_delay = 0 answers at once; no test times it: speed is for benchmarks.)
		l := s.Try("PASS wrong")
		if !strings.HasPrefix(l, "-ERR [AUTH]") {
			t.Errorf("bad password answered %q", l)
		}
		// The session goes on: the right password logs in.
		s.Cmd("USER alice")
		s.Cmd("PASS %s", srv.Users["alice"])
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
	realserver.NewRaw(t, c)
}
