package mailutilstest

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/popwire/pop3/internal/realserver"
)

// withoutAdded drops the header fields pop3d adds to a message it serves.
func withoutAdded(msg []byte) []byte {
	return regexp.MustCompile(`(?m)^(X-UIDL|X-IMAPbase|X-UID|Status):[^\r\n]*\r\n`).ReplaceAll(msg, nil)
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestStartPlain(t *testing.T) {
	msgs := realserver.Messages()
	srv := Start(t, msgs)

	s := realserver.NewRaw(t, dial(t, srv.Addr))
	s.Cmd("CAPA")
	capa := string(s.Multi())
	for _, want := range []string{"STLS", "TOP", "UIDL", "USER", "PIPELINING", "EXPIRENEVER"} {
		if !strings.Contains(capa, want+"\r\n") {
			t.Errorf("CAPA lacks %q:\n%s", want, capa)
		}
	}
	s.Login(Login("alice"), srv.Users[Login("alice")])

	// The first session, before anything was read: sizes of the messages as stored, with
	// CRLF line ends and a final CRLF (the mbox has one after every message).
	n, size := s.Stat()
	var want int64
	for _, m := range msgs {
		want += int64(len(realserver.Wire(m.Data)))
	}
	if n != len(msgs) || size != want {
		t.Errorf("STAT %d %d, want %d %d", n, size, len(msgs), want)
	}
	for i, m := range msgs {
		s.Cmd("RETR %d", i+1)
		got := withoutAdded(s.Multi())
		if want := realserver.Wire(m.Data); !bytes.Equal(got, want) {
			t.Errorf("RETR %d (%s): %d octets differ from Wire(stored) (%d octets); first difference at %d",
				i+1, m.Name, len(got), len(want), realserver.FirstDiff(got, want))
		}
	}
	if l := s.Try("RETR %d", len(msgs)+1); l != "-ERR No such message" {
		t.Errorf("RETR of a nonexistent message: %q", l)
	}
	s.Cmd("QUIT")
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
			s.Login(Login("alice"), srv.Users[Login("alice")])
			if n, _ := s.Stat(); n != len(msgs) {
				t.Fatalf("STAT count %d, want %d", n, len(msgs))
			}
			s.Cmd("QUIT")
		})
	}

	// bob: the non-ASCII password in PASS, which pop3d takes (it lists no UTF8), over STLS
	// on the plain port; bob holds 3 messages.
	t.Run("bob-stls", func(t *testing.T) {
		s := realserver.NewRaw(t, dial(t, srv.Addr))
		s.StartTLS(&tls.Config{RootCAs: srv.RootCAs, ServerName: "localhost"})
		s.Login(Login("bob"), srv.Users[Login("bob")])
		if n, _ := s.Stat(); n != 3 {
			t.Fatalf("bob STAT count %d, want 3", n)
		}
		s.Cmd("QUIT")
	})

	t.Run("bad-password", func(t *testing.T) {
		s := realserver.NewRaw(t, dial(t, srv.Addr))
		s.Cmd("USER %s", Login("alice"))
		if l := s.Try("PASS wrong"); l != "-ERR [AUTH] Bad login" {
			t.Errorf("bad password answered %q", l)
		}
	})
}

func TestStopReleasesPorts(t *testing.T) {
	var addr string
	t.Run("run", func(t *testing.T) {
		srv := Start(t, realserver.Messages()[:1])
		addr = srv.Addr
		// A session still open when the test ends: stopping ends its process too.
		s := realserver.NewRaw(t, dial(t, srv.Addr))
		s.Login(Login("alice"), srv.Users[Login("alice")])
	})
	if addr == "" {
		t.Skip("server did not start")
	}
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after cleanup", addr)
	}
}

func TestMbox(t *testing.T) {
	got := string(Mbox([]realserver.Message{
		{Name: "a", Data: []byte("Subject: a\n\nFrom me\n>From you\n")},
		{Name: "b", Data: []byte("Subject: b\n\nno newline")},
	}))
	want := "From sender@example.org Tue Nov 14 22:00:00 2023\nSubject: a\n\n>From me\n>From you\n\n" +
		"From sender@example.org Tue Nov 14 22:00:01 2023\nSubject: b\n\nno newline\n\n"
	if got != want {
		t.Errorf("Mbox =\n%q\nwant\n%q", got, want)
	}
}

func TestHashesCoverUsers(t *testing.T) {
	for u, p := range realserver.Users() {
		if _, ok := hashes[p]; !ok {
			t.Errorf("no crypt hash for %s's password", u)
		}
	}
	if fmt.Sprint(Login("alice")) != "alice@localhost" {
		t.Errorf("Login(alice) = %q", Login("alice"))
	}
}
