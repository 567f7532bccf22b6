package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/popwire/pop3"
	"github.com/popwire/pop3/internal/dovecottest"
	"github.com/popwire/pop3/internal/realserver"
)

// popsync against a real Dovecot: implicit TLS trusting the test CA with -ca, STLS with a
// non-ASCII password; every message lands once with its content, a second run fetches
// nothing, and -delete-after 0s empties the server.
func TestDovecot(t *testing.T) {
	msgs := realserver.Messages()
	srv := dovecottest.Start(t, msgs)
	var raw [][]byte
	for _, m := range msgs {
		raw = append(raw, m.Data)
	}
	ca := filepath.Join(srv.Dir, "cert.pem")

	t.Run("implicit TLS", func(t *testing.T) {
		dir := t.TempDir()
		t.Setenv("POP3_PASSWORD", srv.Users["alice"])
		args := []string{"-addr", srv.TLSAddr, "-user", "alice", "-ca", ca, "-maildir", dir}
		code, out, errs := runPopsync(t, args...)
		if code != 0 || !strings.Contains(out, fmt.Sprintf("fetched %d messages", len(msgs))) {
			t.Fatalf("exit %d: %s%s", code, out, errs)
		}
		sameMessages(t, maildirMessages(t, dir), lf(raw))
		if code, out, _ := runPopsync(t, args...); code != 0 || !strings.Contains(out, "fetched 0 messages") {
			t.Fatalf("second run: exit %d: %s", code, out)
		}
		if code, out, errs := runPopsync(t, append(args, "-delete-after", "0s")...); code != 0 || !strings.Contains(out, "fetched 0 messages") {
			t.Fatalf("delete run: exit %d: %s%s", code, out, errs)
		}
		sameMessages(t, maildirMessages(t, dir), lf(raw))
		if n := count(t, srv, "alice"); n != 0 {
			t.Fatalf("%d messages left on the server", n)
		}
	})

	t.Run("STLS non-ASCII password", func(t *testing.T) {
		dir := t.TempDir()
		t.Setenv("POP3_PASSWORD", srv.Users["bob"])
		code, out, errs := runPopsync(t, "-addr", srv.Addr, "-user", "bob", "-tls", "starttls", "-ca", ca, "-maildir", dir, "-delete-after", "0s")
		if code != 0 {
			t.Fatalf("exit %d: %s%s", code, out, errs)
		}
		sameMessages(t, maildirMessages(t, dir), lf(raw[:3]))
		if n := count(t, srv, "bob"); n != 0 {
			t.Fatalf("%d messages left on the server", n)
		}
	})

	t.Run("certificate not trusted", func(t *testing.T) {
		t.Setenv("POP3_PASSWORD", srv.Users["alice"])
		code, _, errs := runPopsync(t, "-addr", srv.TLSAddr, "-user", "alice", "-maildir", t.TempDir())
		if code != 1 || !strings.Contains(errs, "-ca") {
			t.Fatalf("exit %d: %s", code, errs)
		}
	})
}

// count logs in and returns the number of messages in user's maildrop.
func count(t *testing.T, srv *dovecottest.Server, user string) int {
	t.Helper()
	c, err := pop3.Dial(srv.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(user, srv.Users[user]); err != nil {
		t.Fatal(err)
	}
	n, _, err := c.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return n
}
