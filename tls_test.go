package pop3_test

// Tests of implicit TLS (RFC 8314), STLS (RFC 2595 section 4) and DialContext against
// scripted servers: pop3test.Server plays TLS with its StartTLS and ExpectTLSFailure steps,
// presenting pop3test.Certificate, which pop3test.CertPool trusts.

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/popwire/pop3"
	"github.com/popwire/pop3/pop3test"
)

// RFC 8314 section 3.1: implicit TLS, the greeting inside TLS; the certificate verified
// against the dialled host (an IP address here), the caller's TLSConfig left untouched.
func TestDialContextImplicitTLS(t *testing.T) {
	srv := pop3test.NewServer(t,
		pop3test.StartTLS(),
		pop3test.Reply("+OK ready over TLS"),
		pop3test.Expect("CAPA"),
		pop3test.Reply("-ERR"),
		pop3test.Expect("USER alice"),
		pop3test.Reply("+OK"),
		pop3test.Expect("PASS secret"),
		pop3test.Reply("+OK logged in"),
		pop3test.Expect("QUIT"),
		pop3test.Reply("+OK bye"),
	)
	cfg := &tls.Config{RootCAs: pop3test.CertPool()}
	opts := &pop3.Options{Security: pop3.SecurityImplicitTLS, TLSConfig: cfg, Timeout: 10 * time.Second}
	c, err := pop3.DialContext(context.Background(), srv.Addr(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Greeting() != "ready over TLS" {
		t.Errorf("greeting %q", c.Greeting())
	}
	tc, ok := c.Conn().NetConn().(*tls.Conn)
	if !ok {
		t.Fatalf("NetConn is %T, want *tls.Conn", c.Conn().NetConn())
	}
	// Conn.NetConn: on Linux the TCP connection below is wrapped, and its NetConn
	// returns it.
	if w, ok := tc.NetConn().(interface{ NetConn() net.Conn }); runtime.GOOS != "linux" {
		if _, ok := tc.NetConn().(*net.TCPConn); !ok {
			t.Errorf("below TLS: %T, want *net.TCPConn", tc.NetConn())
		}
	} else if !ok {
		t.Errorf("below TLS: %T, want a wrapper with a NetConn method", tc.NetConn())
	} else if _, ok := w.NetConn().(*net.TCPConn); !ok {
		t.Errorf("below the wrapper: %T, want *net.TCPConn", w.NetConn())
	}
	if err := c.Login("alice", "secret"); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	wait(t, srv) // Quit does not wait for the reply: nothing is marked deleted
	if cfg.ServerName != "" || cfg.MinVersion != 0 {
		t.Errorf("the caller's TLSConfig was modified: ServerName %q, MinVersion %#x", cfg.ServerName, cfg.MinVersion)
	}
}

// RFC 2595 section 2.4, RFC 8314 section 5.3: the ServerName is the dialled host name, and
// DialTLS (implicit TLS) verifies it like DialContext.
func TestDialTLSServerNameFromHost(t *testing.T) {
	srv := pop3test.NewServer(t, pop3test.StartTLS(), pop3test.Reply("+OK ready"), pop3test.ExpectClosed())
	_, port, _ := net.SplitHostPort(srv.Addr())
	c, err := pop3.DialTLS(net.JoinHostPort("localhost", port), &pop3.Options{TLSConfig: &tls.Config{RootCAs: pop3test.CertPool()}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	state := c.Conn().NetConn().(*tls.Conn).ConnectionState()
	if state.ServerName != "localhost" {
		t.Errorf("ServerName %q, want localhost", state.ServerName)
	}
	if state.Version < tls.VersionTLS12 {
		t.Errorf("TLS version %#x", state.Version)
	}
}

// RFC 8314 section 5.3, digest section 6.10: certificates are verified by default; an
// unknown authority or another name fails the dial, and nothing is sent.
func TestTLSVerifiesCertificate(t *testing.T) {
	for name, cfg := range map[string]*tls.Config{
		"unknown authority": nil,
		"wrong name":        {RootCAs: nil, ServerName: "pop.example.com"},
	} {
		t.Run(name, func(t *testing.T) {
			srv := pop3test.NewServer(t, pop3test.ExpectTLSFailure(nil))
			if cfg != nil {
				cfg.RootCAs = pop3test.CertPool()
			}
			_, err := pop3.DialContext(context.Background(), srv.Addr(), &pop3.Options{Security: pop3.SecurityImplicitTLS, TLSConfig: cfg})
			var verr *tls.CertificateVerificationError
			if !errors.As(err, &verr) {
				t.Fatalf("DialContext: %v; want a certificate verification error", err)
			}
		})
	}
}

// RFC 8314 section 4.1: TLS 1.2 or later, even when the caller's configuration allows less.
func TestTLSMinimumVersion(t *testing.T) {
	srv := pop3test.NewServer(t, pop3test.ExpectTLSFailure(&tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}))
	cfg := &tls.Config{RootCAs: pop3test.CertPool(), MinVersion: tls.VersionTLS10}
	_, err := pop3.DialTLS(srv.Addr(), &pop3.Options{TLSConfig: cfg})
	if err == nil || !strings.Contains(err.Error(), "version") {
		t.Fatalf("DialTLS to a TLS 1.1 server: %v; want a protocol version error", err)
	}
	if cfg.MinVersion != tls.VersionTLS10 {
		t.Error("the caller's TLSConfig was modified")
	}
}

// RFC 2595 section 4: DialStartTLS sends STLS right after the greeting, reads nothing but
// through TLS after "+OK", and asks CAPA again; the new list holds what TLS unlocked.
func TestDialStartTLS(t *testing.T) {
	srv := pop3test.NewServer(t,
		pop3test.Reply("+OK Dovecot ready."),
		pop3test.Expect("STLS"),
		pop3test.Reply("+OK Begin TLS negotiation now."),
		pop3test.StartTLS(),
		pop3test.Expect("CAPA"),
		pop3test.Reply("+OK", "TOP", "UIDL", "USER", "SASL PLAIN LOGIN", "."),
		pop3test.Expect("USER alice"),
		pop3test.Reply("+OK"),
		pop3test.Expect("PASS secret"),
		pop3test.Reply("+OK Logged in."),
		pop3test.Expect("QUIT"),
		pop3test.Reply("+OK bye"),
	)
	c, err := pop3.DialStartTLS(srv.Addr(), &pop3.Options{TLSConfig: &tls.Config{RootCAs: pop3test.CertPool()}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	caps, err := c.Capabilities() // asked by DialStartTLS: no second CAPA
	if err != nil {
		t.Fatal(err)
	}
	if !caps.SupportsSASL("plain") || caps.STLS() {
		t.Errorf("capabilities after STLS: %v", caps)
	}
	if err := c.Login("alice", "secret"); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	wait(t, srv) // Quit does not wait for the reply: nothing is marked deleted
}

// RFC 2595 section 4: StartTLS on a Client dialled in cleartext discards the capabilities
// read before TLS (STLS, no USER) and reads them again; its config is cloned, not changed.
func TestStartTLSForgetsCapabilities(t *testing.T) {
	srv := pop3test.NewServer(t,
		pop3test.Reply("+OK ready"),
		pop3test.Expect("CAPA"),
		pop3test.Reply("+OK", "STLS", "SASL XOAUTH2", "."),
		pop3test.Expect("STLS"),
		pop3test.Reply("+OK go ahead"),
		pop3test.StartTLS(),
		pop3test.Expect("CAPA"),
		pop3test.Reply("+OK", "USER", "SASL PLAIN", "PIPELINING", "."),
		pop3test.ExpectClosed(),
	)
	c, err := pop3.Dial(srv.Addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	before, err := c.Capabilities()
	if err != nil || !before.STLS() {
		t.Fatalf("before: %v, %v", before, err)
	}
	cfg := &tls.Config{RootCAs: pop3test.CertPool()}
	if err := c.StartTLS(cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.ServerName != "" {
		t.Error("StartTLS changed the caller's config")
	}
	after, err := c.Capabilities()
	if err != nil {
		t.Fatal(err)
	}
	if after.STLS() || !after.Has("USER") || !after.Pipelining() || after.SupportsSASL("XOAUTH2") {
		t.Errorf("after: %v", after)
	}
	if err := c.StartTLS(cfg); err == nil {
		t.Error("a second StartTLS succeeded")
	}
	c.Close()
	if err := srv.Wait(); err != nil {
		t.Fatal(err)
	}
}

// RFC 2595 section 4, digest section 6.4 (cf. CVE-2021-22947): octets that follow the
// "+OK" to STLS in plaintext abort the session; the injected line is never read as a reply.
func TestSTLSInjectedBytes(t *testing.T) {
	srv := pop3test.NewServer(t,
		pop3test.Reply("+OK ready"),
		pop3test.Expect("STLS"),
		pop3test.Send("+OK begin TLS\r\n+OK injected\r\n"),
		pop3test.ExpectClosed(),
	)
	_, err := pop3.DialStartTLS(srv.Addr(), nil)
	if !errors.Is(err, pop3.ErrPlaintextInjection) || !errors.Is(err, pop3.ErrBroken) {
		t.Fatalf("DialStartTLS: %v; want ErrPlaintextInjection", err)
	}
	if err := srv.Wait(); err != nil {
		t.Fatal(err)
	}
}

// RFC 2595 section 4, RFC 8314 section 5.1, digest section 6.3: when STLS is refused or
// unknown, DialStartTLS fails and closes the connection; nothing else is sent, no
// credentials above all.
func TestSTLSRefused(t *testing.T) {
	srv := pop3test.NewServer(t,
		pop3test.Reply("+OK ready"),
		pop3test.Expect("STLS"),
		pop3test.Reply("-ERR unknown command"),
		pop3test.ExpectClosed(),
	)
	_, err := pop3.DialStartTLS(srv.Addr(), nil)
	var perr *pop3.Error
	if !errors.As(err, &perr) || perr.Command != "STLS" {
		t.Fatalf("DialStartTLS: %v; want the *Error of STLS", err)
	}
	if err := srv.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := srv.Received(); len(got) != 1 {
		t.Errorf("received %q; want STLS alone", got)
	}
}

// Every network wait has a deadline: a server that answers STLS but never completes the
// handshake fails StartTLS after Options.Timeout, and the Conn is broken.
func TestStartTLSHandshakeTimeout(t *testing.T) {
	addr := stallAfterSTLS(t, pop3test.Reply("+OK begin"))
	start := time.Now()
	_, err := pop3.DialStartTLS(addr, &pop3.Options{Timeout: 300 * time.Millisecond})
	var nerr net.Error
	if !errors.As(err, &nerr) || !nerr.Timeout() {
		t.Fatalf("DialStartTLS: %v; want a timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

// Close from another goroutine unblocks StartTLS waiting in the handshake.
func TestCloseUnblocksStartTLS(t *testing.T) {
	addr := stallAfterSTLS(t, pop3test.Reply("+OK begin"))
	c, err := pop3.Dial(addr, &pop3.Options{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		c.Close()
	}()
	start := time.Now()
	if err := c.StartTLS(&tls.Config{ServerName: "localhost"}); err == nil {
		t.Fatal("StartTLS succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v to unblock StartTLS", d)
	}
}

// DialContext honours its context during the greeting, the TLS handshake and the dial.
func TestDialContextCancel(t *testing.T) {
	check := func(t *testing.T, addr string, security pop3.Security, ctx context.Context, want error) {
		t.Helper()
		start := time.Now()
		_, err := pop3.DialContext(ctx, addr, &pop3.Options{Security: security, Timeout: time.Minute})
		if !errors.Is(err, want) {
			t.Fatalf("DialContext: %v; want %v", err, want)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v", d)
		}
	}
	t.Run("greeting", func(t *testing.T) {
		srv := pop3test.NewServer(t, pop3test.Stall(time.Minute))
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		check(t, srv.Addr(), pop3.SecurityPlain, ctx, context.DeadlineExceeded)
	})
	t.Run("handshake", func(t *testing.T) {
		addr := pop3test.NewServer(t, pop3test.Stall(time.Minute)).Addr()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		check(t, addr, pop3.SecurityImplicitTLS, ctx, context.DeadlineExceeded)
	})
	t.Run("STLS", func(t *testing.T) {
		addr := stallAfterSTLS(t)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		check(t, addr, pop3.SecuritySTLS, ctx, context.DeadlineExceeded)
	})
	t.Run("dial", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		check(t, "127.0.0.1:1", pop3.SecurityPlain, ctx, context.Canceled)
	})
}

// stallAfterSTLS starts a server that greets, reads STLS, sends the replies given (none, or
// the "+OK"), and then never answers again, with no handshake.
func stallAfterSTLS(t *testing.T, replies ...pop3test.Step) string {
	t.Helper()
	steps := append([]pop3test.Step{pop3test.Reply("+OK ready"), pop3test.Expect("STLS")}, replies...)
	return pop3test.NewServer(t, append(steps, pop3test.Stall(time.Minute))...).Addr()
}
