package pop3_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/popwire/pop3"
	"github.com/popwire/pop3/internal/dovecottest"
	"github.com/popwire/pop3/internal/mailutilstest"
	"github.com/popwire/pop3/internal/realserver"
)

// Against a real Dovecot and GNU Mailutils, which list PIPELINING before the login: PASS
// and CAPA go in one write and both are answered; the batch asks no CAPA of its own; Quit
// with nothing deleted does not wait for QUIT's reply, and the server still gets QUIT:
// its log says the session ended with it ("Logged out", "session ended for user"), not
// with a dropped connection ("Connection closed", "remote protocol error"), over plain
// TCP and over implicit TLS.
func TestRealServersRoundTrips(t *testing.T) {
	msgs := []realserver.Message{{Name: "a", Data: []byte("Subject: a\n\none\n")}, {Name: "b", Data: []byte("Subject: b\n\ntwo\n")}}
	type server struct {
		addr, tlsAddr, user, pass string
		roots                     *x509.CertPool
		log                       func() string
	}
	for _, tc := range []struct {
		name      string
		start     func(t *testing.T) server
		loggedOut string // what the server logs for a session that ended with QUIT
	}{
		{"dovecot", func(t *testing.T) server {
			s := dovecottest.Start(t, msgs)
			return server{s.Addr, s.TLSAddr, "alice", s.Users["alice"], s.RootCAs, s.Log}
		}, `pop3\(alice\)[^\n]*Disconnected: Logged out`},
		{"mailutils", func(t *testing.T) server {
			s := mailutilstest.Start(t, msgs)
			user := mailutilstest.Login("alice")
			return server{s.Addr, s.TLSAddr, user, s.Users[user], s.RootCAs, s.Log}
		}, `session ended for user: alice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := tc.start(t)
			for _, implicitTLS := range []bool{false, true} {
				log := newTCPWriteLog()
				opts := &pop3.Options{Dialer: log, Timeout: itTimeout}
				var c *pop3.Client
				var err error
				if implicitTLS {
					opts.TLSConfig = &tls.Config{RootCAs: s.roots}
					c, err = pop3.DialTLS(s.tlsAddr, opts)
				} else {
					c, err = pop3.Dial(s.addr, opts)
				}
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if err := c.Login(s.user, s.pass); err != nil {
					t.Fatal(err)
				}
				n := 0
				if err := c.RetrEach([]int{1, 2}, func(int, io.Reader) error { n++; return nil }); err != nil || n != 2 {
					t.Fatalf("RetrEach: %d messages, %v", n, err)
				}
				if err := c.Quit(); err != nil {
					t.Fatal(err)
				}
				if !implicitTLS {
					want := []string{"CAPA\r\n", "USER " + s.user + "\r\n", "PASS " + s.pass + "\r\nCAPA\r\n", "RETR 1\r\nRETR 2\r\n", "QUIT\r\n"}
					if w := log.Writes(); strings.Join(w, "|") != strings.Join(want, "|") {
						t.Errorf("writes %q, want %q", w, want)
					}
				}
				sessions := "1"
				if implicitTLS {
					sessions = "2"
				}
				waitLog(t, s.log, `(?s)(`+tc.loggedOut+`.*){`+sessions+`}`)
			}
			if rx := regexp.MustCompile(`Connection closed|remote protocol error`); rx.MatchString(s.log()) {
				t.Errorf("a session ended without QUIT:\n%s", s.log())
			}
		})
	}
}
