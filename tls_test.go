package pop3_test

// Tests of implicit TLS (RFC 8314), STLS (RFC 2595 section 4) and DialContext against
// scripted servers. The TLS-capable fake below is this file's own: a listener on 127.0.0.1
// with a self-signed certificate made in the test; pop3test.Server serves the plain cases.

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/popwire/pop3"
	"github.com/popwire/pop3/pop3test"
)

var (
	fakeCertOnce sync.Once
	fakeCert     tls.Certificate
	fakeRoots    *x509.CertPool
)

// fakeCertificate returns a self-signed certificate for 127.0.0.1 and localhost, and a pool
// that trusts it.
func fakeCertificate(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	fakeCertOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: "pop3 test"},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(24 * time.Hour),
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			BasicConstraintsValid: true,
			IsCA:                  true,
			IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
			DNSNames:              []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			panic(err)
		}
		fakeCert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}
		fakeRoots = x509.NewCertPool()
		fakeRoots.AddCert(cert)
	})
	return fakeCert, fakeRoots
}

// fakeSession is the server side of one connection to a tlsFake; the script calls its
// methods. A failed step reports through t.Errorf and ends the script.
type fakeSession struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	cfg  *tls.Config
}

func (s *fakeSession) fail(format string, args ...any) {
	s.t.Errorf("tls fake: "+format, args...)
	runtime.Goexit()
}

// send writes each line with CRLF, all in one write.
func (s *fakeSession) send(lines ...string) {
	s.sendRaw(strings.Join(lines, "\r\n") + "\r\n")
}

func (s *fakeSession) sendRaw(raw string) {
	s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(s.conn, raw); err != nil {
		s.fail("write %q: %v", raw, err)
	}
}

// expect reads one line and fails unless it is line with CRLF.
func (s *fakeSession) expect(line string) {
	s.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := s.r.ReadString('\n')
	if err != nil {
		s.fail("want %q, read %q: %v", line, got, err)
	}
	if got != line+"\r\n" {
		s.fail("want %q, got %q", line+"\r\n", got)
	}
}

// startTLS runs the server side of the handshake; the session goes on over TLS.
func (s *fakeSession) startTLS() {
	if s.r.Buffered() > 0 {
		s.fail("the client sent %d octets before the handshake", s.r.Buffered())
	}
	tc := tls.Server(s.conn, s.cfg)
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		s.fail("handshake: %v", err)
	}
	s.conn = tc
	s.r = bufio.NewReader(tc)
}

// failedHandshake runs the server side of a handshake the client must abort.
func (s *fakeSession) failedHandshake() {
	tc := tls.Server(s.conn, s.cfg)
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err == nil {
		s.fail("the handshake succeeded")
	}
}

// expectClosed reads until the client closes the connection and fails on any octet.
func (s *fakeSession) expectClosed() {
	s.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(s.r)
	if len(b) > 0 || (err != nil && !errors.Is(err, net.ErrClosed)) {
		s.fail("want the connection closed, read %q: %v", b, err)
	}
}

// hang reads and discards until the connection is closed: a server that never answers.
func (s *fakeSession) hang() {
	s.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	io.Copy(io.Discard, s.conn)
}

// tlsFake starts a server on 127.0.0.1 that runs script on its first connection,
// with TLS from the start when implicit. configure, if not nil, adjusts the server's TLS
// configuration. It returns the address and a pool that trusts the certificate.
func tlsFake(t *testing.T, implicit bool, configure func(*tls.Config), script func(s *fakeSession)) (string, *x509.CertPool) {
	t.Helper()
	cert, roots := fakeCertificate(t)
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	if configure != nil {
		configure(cfg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var conn net.Conn
	var mu sync.Mutex
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		mu.Lock()
		conn = c
		mu.Unlock()
		defer c.Close()
		s := &fakeSession{t: t, conn: c, r: bufio.NewReader(c), cfg: cfg}
		if implicit {
			s.startTLS()
		}
		script(s)
	}()
	t.Cleanup(func() {
		ln.Close()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			mu.Lock()
			if conn != nil {
				conn.Close()
			}
			mu.Unlock()
			<-done
		}
	})
	return ln.Addr().String(), roots
}

// RFC 8314 section 3.1: implicit TLS, the greeting inside TLS; the certificate verified
// against the dialled host (an IP address here), the caller's TLSConfig left untouched.
func TestDialContextImplicitTLS(t *testing.T) {
	addr, roots := tlsFake(t, true, nil, func(s *fakeSession) {
		s.send("+OK ready over TLS")
		s.expect("CAPA")
		s.send("-ERR")
		s.expect("USER alice")
		s.send("+OK")
		s.expect("PASS secret")
		s.send("+OK logged in")
		s.expect("QUIT")
		s.send("+OK bye")
	})
	cfg := &tls.Config{RootCAs: roots}
	opts := &pop3.Options{Security: pop3.SecurityImplicitTLS, TLSConfig: cfg, Timeout: 10 * time.Second}
	c, err := pop3.DialContext(context.Background(), addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Greeting() != "ready over TLS" {
		t.Errorf("greeting %q", c.Greeting())
	}
	if _, ok := c.Conn().NetConn().(*tls.Conn); !ok {
		t.Errorf("NetConn is %T, want *tls.Conn", c.Conn().NetConn())
	}
	if err := c.Login("alice", "secret"); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	if cfg.ServerName != "" || cfg.MinVersion != 0 {
		t.Errorf("the caller's TLSConfig was modified: ServerName %q, MinVersion %#x", cfg.ServerName, cfg.MinVersion)
	}
}

// RFC 2595 section 2.4, RFC 8314 section 5.3: the ServerName is the dialled host name, and
// DialTLS (implicit TLS) verifies it like DialContext.
func TestDialTLSServerNameFromHost(t *testing.T) {
	addr, roots := tlsFake(t, true, nil, func(s *fakeSession) {
		s.send("+OK ready")
		s.expectClosed()
	})
	_, port, _ := net.SplitHostPort(addr)
	c, err := pop3.DialTLS(net.JoinHostPort("localhost", port), &pop3.Options{TLSConfig: &tls.Config{RootCAs: roots}})
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
			addr, roots := tlsFake(t, false, nil, func(s *fakeSession) { s.failedHandshake() })
			if cfg != nil {
				cfg.RootCAs = roots
			}
			_, err := pop3.DialContext(context.Background(), addr, &pop3.Options{Security: pop3.SecurityImplicitTLS, TLSConfig: cfg})
			var verr *tls.CertificateVerificationError
			if !errors.As(err, &verr) {
				t.Fatalf("DialContext: %v; want a certificate verification error", err)
			}
		})
	}
}

// RFC 8314 section 4.1: TLS 1.2 or later, even when the caller's configuration allows less.
func TestTLSMinimumVersion(t *testing.T) {
	addr, roots := tlsFake(t, false, func(cfg *tls.Config) {
		cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	}, func(s *fakeSession) { s.failedHandshake() })
	cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS10}
	_, err := pop3.DialTLS(addr, &pop3.Options{TLSConfig: cfg})
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
	addr, roots := tlsFake(t, false, nil, func(s *fakeSession) {
		s.send("+OK Dovecot ready.")
		s.expect("STLS")
		s.send("+OK Begin TLS negotiation now.")
		s.startTLS()
		s.expect("CAPA")
		s.send("+OK", "TOP", "UIDL", "USER", "SASL PLAIN LOGIN", ".")
		s.expect("USER alice")
		s.send("+OK")
		s.expect("PASS secret")
		s.send("+OK Logged in.")
		s.expect("QUIT")
		s.send("+OK bye")
	})
	c, err := pop3.DialStartTLS(addr, &pop3.Options{TLSConfig: &tls.Config{RootCAs: roots}})
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
}

// RFC 2595 section 4: StartTLS on a Client dialled in cleartext discards the capabilities
// read before TLS (STLS, no USER) and reads them again; its config is cloned, not changed.
func TestStartTLSForgetsCapabilities(t *testing.T) {
	addr, roots := tlsFake(t, false, nil, func(s *fakeSession) {
		s.send("+OK ready")
		s.expect("CAPA")
		s.send("+OK", "STLS", "SASL XOAUTH2", ".")
		s.expect("STLS")
		s.send("+OK go ahead")
		s.startTLS()
		s.expect("CAPA")
		s.send("+OK", "USER", "SASL PLAIN", "PIPELINING", ".")
		s.expectClosed()
	})
	c, err := pop3.Dial(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	before, err := c.Capabilities()
	if err != nil || !before.STLS() {
		t.Fatalf("before: %v, %v", before, err)
	}
	cfg := &tls.Config{RootCAs: roots}
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
	addr, _ := tlsFake(t, false, nil, func(s *fakeSession) {
		s.send("+OK ready")
		s.expect("STLS")
		s.send("+OK begin")
		s.hang()
	})
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
	addr, _ := tlsFake(t, false, nil, func(s *fakeSession) {
		s.send("+OK ready")
		s.expect("STLS")
		s.send("+OK begin")
		s.hang()
	})
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
		addr, _ := tlsFake(t, false, nil, func(s *fakeSession) { s.hang() })
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		check(t, addr, pop3.SecurityImplicitTLS, ctx, context.DeadlineExceeded)
	})
	t.Run("STLS", func(t *testing.T) {
		addr, _ := tlsFake(t, false, nil, func(s *fakeSession) {
			s.send("+OK ready")
			s.expect("STLS")
			s.hang()
		})
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
