package pop3_test

// Secure sessions against the real Dovecot 2.3 of internal/dovecottest: implicit TLS,
// STLS, AUTH PLAIN and LOGIN, and bob's non-ASCII password, every certificate verified
// against the instance's own self-signed pool (never InsecureSkipVerify). They skip
// without Dovecot unless POP3_TEST_DOVECOT is set:
//
//	POP3_TEST_DOVECOT=1 go test -race -run DovecotSecure -v .

import (
	"context"
	"crypto/tls"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/popwire/pop3"
	"github.com/popwire/pop3/internal/dovecottest"
)

// secWaitLog waits until Dovecot's log matches re.
func secWaitLog(t *testing.T, srv *dovecottest.Server, re string) {
	t.Helper()
	rx := regexp.MustCompile(re)
	for deadline := time.Now().Add(5 * time.Second); !rx.MatchString(srv.Log()); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("Dovecot's log does not match %q:\n%s", re, srv.Log())
			return
		}
	}
}

// secCheckSession checks that the session is logged in with count messages, and quits.
func secCheckSession(t *testing.T, c *pop3.Client, count int) {
	t.Helper()
	if n, _, err := c.Stat(); err != nil || n != count {
		t.Errorf("Stat = %d, %v; want %d", n, err, count)
	}
	if err := c.Quit(); err != nil {
		t.Errorf("Quit: %v", err)
	}
}

func TestDovecotSecure(t *testing.T) {
	t.Parallel()
	srv, msgs := dcStart(t)
	tlsConfig := &tls.Config{RootCAs: srv.RootCAs}
	alice, bob := srv.Users["alice"], srv.Users["bob"]

	// RFC 8314 section 3.1: DialContext with implicit TLS, then AUTH LOGIN (RFC 5034).
	t.Run("implicit TLS, AUTH LOGIN", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), dcTimeout)
		defer cancel()
		c, err := pop3.DialContext(ctx, srv.TLSAddr, &pop3.Options{Security: pop3.SecurityImplicitTLS, TLSConfig: tlsConfig, Timeout: dcTimeout})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		caps, err := c.Capabilities()
		if err != nil {
			t.Fatal(err)
		}
		if caps.STLS() || !caps.SupportsSASL("LOGIN") {
			t.Errorf("capabilities over implicit TLS: %v", caps)
		}
		if err := c.Auth(sasl.NewLoginClient("alice", alice)); err != nil {
			t.Fatal(err)
		}
		secCheckSession(t, c, len(msgs))
		secWaitLog(t, srv, `Login: user=<alice>, method=LOGIN, [^\n]*, TLS, session=`)
	})

	// RFC 2595 section 4: STLS, the capabilities asked again, then AUTH PLAIN.
	t.Run("STLS, AUTH PLAIN", func(t *testing.T) {
		c, err := pop3.DialStartTLS(srv.Addr, &pop3.Options{TLSConfig: tlsConfig, Timeout: dcTimeout})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, ok := c.Conn().NetConn().(*tls.Conn); !ok {
			t.Fatalf("NetConn is %T after STLS", c.Conn().NetConn())
		}
		caps, err := c.Capabilities()
		if err != nil {
			t.Fatal(err)
		}
		if caps.STLS() || !caps.SupportsSASL("PLAIN") || !caps.Pipelining() {
			t.Errorf("capabilities after STLS: %v", caps)
		}
		if err := c.Auth(sasl.NewPlainClient("", "alice", alice)); err != nil {
			t.Fatal(err)
		}
		// After login Dovecot no longer lists SASL (real-servers.md): asked again.
		if caps, err := c.Capabilities(); err != nil || caps.Has("SASL") {
			t.Errorf("capabilities after AUTH: %v, %v", caps, err)
		}
		secCheckSession(t, c, len(msgs))
		secWaitLog(t, srv, `Login: user=<alice>, method=PLAIN, [^\n]*, TLS, session=`)
	})

	// RFC 6856, RFC 8265: bob's "pässwörd" after STLS with Login, which picks AUTH PLAIN
	// (Dovecot lists no UTF8); the trace never shows it.
	t.Run("STLS, non-ASCII password, trace", func(t *testing.T) {
		var trace syncBuffer
		c, err := pop3.DialContext(context.Background(), srv.Addr, &pop3.Options{
			Security: pop3.SecuritySTLS, TLSConfig: tlsConfig, Timeout: dcTimeout, DebugWriter: &trace,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Login("bob", bob); err != nil {
			t.Fatal(err)
		}
		secCheckSession(t, c, 3)
		secWaitLog(t, srv, `Login: user=<bob>, method=PLAIN, [^\n]*, TLS, session=`)
		got := trace.String()
		for _, secret := range []string{bob, b64(bob), b64("\x00bob\x00" + bob)} {
			if strings.Contains(got, secret) {
				t.Errorf("the trace shows %q:\n%s", secret, got)
			}
		}
		if !strings.Contains(got, "C: AUTH PLAIN ***\r\n") || !strings.Contains(got, "S: +OK Logged in.\r\n") {
			t.Errorf("trace:\n%s", got)
		}
	})

	// RFC 5034 section 4, RFC 3206: a wrong password through AUTH LOGIN over STLS gives
	// Dovecot's [AUTH] reply; the session may try again.
	t.Run("STLS, AUTH LOGIN refused then PLAIN", func(t *testing.T) {
		c, err := pop3.DialStartTLS(srv.Addr, &pop3.Options{TLSConfig: tlsConfig, Timeout: dcTimeout})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		err = c.Auth(sasl.NewLoginClient("bob", "pässwort"))
		var perr *pop3.Error
		if !errors.As(err, &perr) || perr.Code != "AUTH" {
			t.Fatalf("Auth with a wrong password: %v", err)
		}
		if err := c.Auth(sasl.NewPlainClient("", "bob", bob)); err != nil {
			t.Fatal(err)
		}
		secCheckSession(t, c, 3)
	})

	// RFC 8314 section 5.3: the plain port's certificate is verified too; with a pool
	// that does not trust it, STLS fails and no credentials are sent.
	t.Run("STLS verifies", func(t *testing.T) {
		_, err := pop3.DialStartTLS(srv.Addr, &pop3.Options{Timeout: dcTimeout})
		var verr *tls.CertificateVerificationError
		if !errors.As(err, &verr) {
			t.Fatalf("DialStartTLS with the system roots: %v; want a verification error", err)
		}
	})
}
