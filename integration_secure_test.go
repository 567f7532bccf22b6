package pop3_test

// Secure sessions against every backend with TLS (integration_test.go): implicit TLS,
// STLS, AUTH PLAIN and LOGIN where offered, and bob's non-ASCII password, every
// certificate verified against the instance's own self-signed pool (never
// InsecureSkipVerify).

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/popwire/pop3"
	"github.com/popwire/pop3/internal/realserver"
)

// itCheckSession checks that the session is logged in with count messages, and quits.
func itCheckSession(t *testing.T, c *pop3.Client, count int) {
	t.Helper()
	if n, _, err := c.Stat(); err != nil || n != count {
		t.Errorf("Stat = %d, %v; want %d", n, err, count)
	}
	if err := c.Quit(); err != nil {
		t.Errorf("Quit: %v", err)
	}
}

// itLoggedIn waits for the server's record of the login, where it keeps one.
func itLoggedIn(t *testing.T, srv *itServer, user, method string) {
	t.Helper()
	if srv.loggedIn != nil {
		srv.loggedIn(t, user, method)
	}
}

// TestIntegrationImplicitTLS logs in over implicit TLS (the certificate verified against
// the instance's own root, ServerName defaulting to the dialled IP) and retrieves messages.
//
// Covers C0001 with RFC 8314 §3 (implicit TLS), C0023 over TLS, C0042-C0046.
func TestIntegrationImplicitTLS(t *testing.T) {
	msgs := realserver.Messages()
	forEachBackend(t, msgs, func(t *testing.T, srv *itServer) {
		srv.needTLS(t)
		c := itDialTLS(t, srv, nil)
		if g := c.Greeting(); !strings.HasPrefix(g, srv.greeting) {
			t.Errorf("Greeting() = %q", g)
		}
		caps, err := c.Capabilities()
		if err != nil {
			t.Fatalf("Capabilities: %v", err)
		}
		if caps.Has("STLS") {
			t.Errorf("STLS offered on an implicit TLS connection: %v", caps)
		}
		if err := c.Login(srv.alice.user, srv.alice.pass); err != nil {
			t.Fatalf("Login: %v", err)
		}
		if n, _, err := c.Stat(); err != nil || n != len(msgs) {
			t.Errorf("Stat = %d, %v; want %d", n, err, len(msgs))
		}
		for i, m := range msgs {
			if m.Name != "dots" && m.Name != "large" {
				continue
			}
			rc, err := c.Retr(i + 1)
			got := itRead(t, fmt.Sprintf("Retr(%d)", i+1), rc, err)
			itMessage(t, srv, fmt.Sprintf("Retr(%d) over TLS (%s)", i+1, m.Name), got, m.Data)
		}
		if err := c.Quit(); err != nil {
			t.Errorf("Quit: %v", err)
		}
		// The server's own record of the session: alice logged in over TLS.
		itLoggedIn(t, srv, srv.alice.user, "PLAIN")

		// A certificate the caller does not trust is refused. (That the trusted one was
		// accepted shows ServerName defaulted to "127.0.0.1": crypto/tls verifies nothing
		// without one.)
		_, err = pop3.DialTLS(srv.tlsAddr, &pop3.Options{Timeout: itTimeout, TLSConfig: &tls.Config{RootCAs: x509.NewCertPool()}})
		var uerr x509.UnknownAuthorityError
		if !errors.As(err, &uerr) {
			t.Errorf("DialTLS with an empty root pool: %v, want x509.UnknownAuthorityError", err)
		}
	})
}

// TestIntegrationNonASCIIPassword logs bob in with the password "pässwörd" over implicit
// TLS. A server that lists SASL PLAIN (Dovecot) gets AUTH PLAIN (RFC 5034, RFC 4616); one
// that lists neither it nor RFC 6856 UTF8 (Mailutils, although it would take the octets
// in PASS) gets nothing: Login fails with ErrUTF8Credentials before any credential is
// sent.
//
// Covers C0003 (no non-ASCII octets in USER/PASS unless UTF8 USER is listed) and
// C0009 (an authentication method the server offers).
func TestIntegrationNonASCIIPassword(t *testing.T) {
	msgs := realserver.Messages()
	forEachBackend(t, msgs, func(t *testing.T, srv *itServer) {
		srv.needTLS(t)
		if srv.bob == nil {
			t.Skip("this backend has one user")
		}
		var trace syncBuffer
		c := itDialTLS(t, srv, &pop3.Options{Timeout: itTimeout, TLSConfig: srv.tls, DebugWriter: &trace})
		err := c.Login(srv.bob.user, srv.bob.pass)
		if !srv.supportsSASL("PLAIN") {
			if !errors.Is(err, pop3.ErrUTF8Credentials) {
				t.Fatalf("Login(bob, %q) without SASL PLAIN or UTF8: %v, want ErrUTF8Credentials", srv.bob.pass, err)
			}
			for _, sent := range []string{"C: USER", "C: PASS", "C: AUTH"} {
				if strings.Contains(trace.String(), sent) {
					t.Errorf("credentials were sent:\n%s", trace.String())
				}
			}
			return
		}
		if err != nil {
			t.Fatalf("Login(bob, %q): %v", srv.bob.pass, err)
		}
		if n, _, err := c.Stat(); err != nil || n != 3 {
			t.Errorf("bob: Stat = %d, %v; want 3", n, err)
		}
		rc, err := c.Retr(1)
		itMessage(t, srv, "bob: Retr(1)", itRead(t, "Retr(1)", rc, err), msgs[0].Data)
		if err := c.Quit(); err != nil {
			t.Errorf("Quit: %v", err)
		}
		itLoggedIn(t, srv, srv.bob.user, "PLAIN")

		// With a wrong non-ASCII password the failure is the server's [AUTH] reply.
		c2 := itDialTLS(t, srv, nil)
		err = c2.Login(srv.bob.user, "pässwort")
		var perr *pop3.Error
		if !errors.As(err, &perr) || perr.Code != "AUTH" {
			t.Errorf("Login(bob) with a wrong password: %v, want a *pop3.Error with Code \"AUTH\"", err)
		}
		if err != nil && strings.Contains(err.Error(), "pässwort") {
			t.Errorf("the error shows the password: %v", err)
		}
	})
}

// TestIntegrationSecure runs the secure ways into a session against every backend with
// TLS; a SASL mechanism the server does not list is skipped.
func TestIntegrationSecure(t *testing.T) {
	msgs := realserver.Messages()
	forEachBackend(t, msgs, func(t *testing.T, srv *itServer) {
		srv.needTLS(t)
		alice := srv.alice

		// RFC 8314 section 3.1: DialContext with implicit TLS, then AUTH LOGIN (RFC 5034).
		t.Run("implicit TLS, AUTH LOGIN", func(t *testing.T) {
			if !srv.supportsSASL("LOGIN") {
				t.Skip("no SASL LOGIN")
			}
			ctx, cancel := context.WithTimeout(context.Background(), itTimeout)
			defer cancel()
			c, err := pop3.DialContext(ctx, srv.tlsAddr, &pop3.Options{Security: pop3.SecurityImplicitTLS, TLSConfig: srv.tls, Timeout: itTimeout})
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
			if err := c.Auth(sasl.NewLoginClient(alice.user, alice.pass)); err != nil {
				t.Fatal(err)
			}
			itCheckSession(t, c, len(msgs))
			itLoggedIn(t, srv, alice.user, "LOGIN")
		})

		// RFC 2595 section 4: STLS, the capabilities asked again, then AUTH PLAIN where it
		// is listed and USER/PASS where it is not.
		t.Run("STLS, then login", func(t *testing.T) {
			c, err := pop3.DialStartTLS(srv.addr, &pop3.Options{TLSConfig: srv.tls, Timeout: itTimeout})
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
			if caps.STLS() || !caps.Pipelining() || caps.SupportsSASL("PLAIN") != srv.supportsSASL("PLAIN") {
				t.Errorf("capabilities after STLS: %v", caps)
			}
			if srv.supportsSASL("PLAIN") {
				if err := c.Auth(sasl.NewPlainClient("", alice.user, alice.pass)); err != nil {
					t.Fatal(err)
				}
				// After login Dovecot no longer lists SASL (real-servers.md): asked again.
				if caps, err := c.Capabilities(); err != nil || caps.Has("SASL") {
					t.Errorf("capabilities after AUTH: %v, %v", caps, err)
				}
			} else if err := c.Login(alice.user, alice.pass); err != nil {
				t.Fatal(err)
			}
			itCheckSession(t, c, len(msgs))
			itLoggedIn(t, srv, alice.user, "PLAIN")
		})

		// RFC 6856, RFC 8265: bob's "pässwörd" after STLS with Login, which picks AUTH
		// PLAIN (Dovecot lists no UTF8); the trace never shows it.
		t.Run("STLS, non-ASCII password, trace", func(t *testing.T) {
			if srv.bob == nil || !srv.supportsSASL("PLAIN") {
				t.Skip("no second user with SASL PLAIN (TestIntegrationNonASCIIPassword covers the refusal)")
			}
			bob := *srv.bob
			var trace syncBuffer
			c, err := pop3.DialContext(context.Background(), srv.addr, &pop3.Options{
				Security: pop3.SecuritySTLS, TLSConfig: srv.tls, Timeout: itTimeout, DebugWriter: &trace,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Login(bob.user, bob.pass); err != nil {
				t.Fatal(err)
			}
			itCheckSession(t, c, 3)
			itLoggedIn(t, srv, bob.user, "PLAIN")
			got := trace.String()
			for _, secret := range []string{bob.pass, b64(bob.pass), b64("\x00" + bob.user + "\x00" + bob.pass)} {
				if strings.Contains(got, secret) {
					t.Errorf("the trace shows %q:\n%s", secret, got)
				}
			}
			if !strings.Contains(got, "C: AUTH PLAIN ***\r\n") || !strings.Contains(got, "S: +OK") {
				t.Errorf("trace:\n%s", got)
			}
		})

		// RFC 5034 section 4, RFC 3206: a wrong password through AUTH LOGIN over STLS gives
		// the server's [AUTH] reply; the session may try again.
		t.Run("STLS, AUTH LOGIN refused then PLAIN", func(t *testing.T) {
			if srv.bob == nil || !srv.supportsSASL("LOGIN") || !srv.supportsSASL("PLAIN") {
				t.Skip("no SASL LOGIN and PLAIN")
			}
			bob := *srv.bob
			c, err := pop3.DialStartTLS(srv.addr, &pop3.Options{TLSConfig: srv.tls, Timeout: itTimeout})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			err = c.Auth(sasl.NewLoginClient(bob.user, "pässwort"))
			var perr *pop3.Error
			if !errors.As(err, &perr) || perr.Code != "AUTH" {
				t.Fatalf("Auth with a wrong password: %v", err)
			}
			if err := c.Auth(sasl.NewPlainClient("", bob.user, bob.pass)); err != nil {
				t.Fatal(err)
			}
			itCheckSession(t, c, 3)
		})

		// RFC 8314 section 5.3: the plain port's certificate is verified too; with a pool
		// that does not trust it, STLS fails and no credentials are sent.
		t.Run("STLS verifies", func(t *testing.T) {
			_, err := pop3.DialStartTLS(srv.addr, &pop3.Options{Timeout: itTimeout})
			var verr *tls.CertificateVerificationError
			if !errors.As(err, &verr) {
				t.Fatalf("DialStartTLS with the system roots: %v; want a verification error", err)
			}
		})
	})
}
