package pop3test

import (
	"bufio"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tlsDial connects to addr with TLS, verifying the certificate with cfg.
func tlsDial(t *testing.T, addr string, cfg *tls.Config) *rawClient {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return &rawClient{t: t, c: c, r: bufio.NewReader(c)}
}

// startTLS runs the client side of a handshake on c after STLS.
func (c *rawClient) startTLS(cfg *tls.Config) {
	c.t.Helper()
	if c.r.Buffered() > 0 {
		c.t.Fatalf("%d octets buffered before the handshake", c.r.Buffered())
	}
	if cfg.ServerName == "" {
		cfg = cfg.Clone()
		cfg.ServerName = "127.0.0.1"
	}
	tc := tls.Client(c.c, cfg)
	if err := tc.Handshake(); err != nil {
		c.t.Fatal(err)
	}
	c.c, c.r = tc, bufio.NewReader(tc)
}

// RFC 8314 section 3: StartTLS serves implicit TLS with a certificate for 127.0.0.1 and
// localhost that ClientTLSConfig and CertPool trust; STLS is not listed over TLS.
func TestMailboxImplicitTLS(t *testing.T) {
	m := &Mailbox{Messages: [][]byte{[]byte("Subject: x\r\n\r\nsecret\r\n")}, STLS: true}
	addr := m.StartTLS(t)
	_, port, _ := net.SplitHostPort(addr)
	for _, host := range []string{"127.0.0.1", "localhost"} {
		cfg := m.ClientTLSConfig()
		cfg.ServerName = host
		c := tlsDial(t, net.JoinHostPort(host, port), cfg)
		if v := c.c.(*tls.Conn).ConnectionState().Version; v < tls.VersionTLS12 {
			t.Errorf("TLS version %#x", v)
		}
		c.expectLine("+OK pop3test ready")
		c.okCmd("CAPA")
		if got := c.readBlock(); strings.Contains(got, "STLS") {
			t.Errorf("CAPA over implicit TLS lists STLS: %q", got)
		}
		c.okCmd("USER user")
		c.okCmd("PASS pass")
		c.okCmd("RETR 1")
		if got := c.readBlock(); got != "Subject: x\r\n\r\nsecret\r\n.\r\n" {
			t.Errorf("RETR = %q", got)
		}
		c.quit()
	}
	// The pool of the package and of the Mailbox are the same certificate.
	cfg := ClientTLSConfig()
	c := tlsDial(t, addr, cfg)
	c.expectLine("+OK pop3test ready")
	if !c.c.(*tls.Conn).ConnectionState().PeerCertificates[0].Equal(Certificate()) {
		t.Error("the server does not present Certificate()")
	}
}

// The certificate is verified: a client without the pool, or asking for another name,
// fails the handshake.
func TestMailboxTLSVerified(t *testing.T) {
	m := &Mailbox{}
	addr := m.StartTLS(t)
	for name, cfg := range map[string]*tls.Config{
		"no pool":    {},
		"wrong name": {RootCAs: m.CertPool(), ServerName: "pop.example.com"},
	} {
		_, err := tls.Dial("tcp", addr, cfg)
		var verr *tls.CertificateVerificationError
		if !errors.As(err, &verr) {
			t.Errorf("%s: %v; want a certificate verification error", name, err)
		}
	}
}

// RFC 2595 section 4: STLS listed before TLS only; after "+OK" the handshake, then CAPA
// without STLS; octets pipelined after STLS are discarded, never answered; a second STLS
// is refused. Without the STLS field, STLS is an unknown command.
func TestMailboxSTLS(t *testing.T) {
	m := &Mailbox{STLS: true, SASL: []string{"PLAIN"}}
	addr := m.Start(t)
	c := dial(t, addr)
	c.expectLine("+OK pop3test ready")
	c.okCmd("CAPA")
	if got := c.readBlock(); !strings.Contains(got, "\r\nSTLS\r\n") {
		t.Errorf("CAPA before TLS = %q, want STLS", got)
	}
	c.send("STLS\r\nNOOP\r\n")
	c.expectLine("+OK begin TLS negotiation")
	c.startTLS(m.ClientTLSConfig())
	c.okCmd("CAPA")
	if got := c.readBlock(); strings.Contains(got, "STLS") || !strings.Contains(got, "SASL PLAIN") {
		t.Errorf("CAPA after TLS = %q", got)
	}
	if got := c.cmd("STLS"); !strings.HasPrefix(got, "-ERR") {
		t.Errorf("second STLS = %q", got)
	}
	c.okCmd("USER user")
	c.okCmd("PASS pass")
	c.okCmd("CAPA")
	if got := c.readBlock(); strings.Contains(got, "SASL") || strings.Contains(got, "USER") {
		t.Errorf("CAPA after login = %q, want no SASL or USER", got)
	}
	if got := c.cmd("STLS"); !strings.HasPrefix(got, "-ERR") {
		t.Errorf("STLS after login = %q", got)
	}
	c.quit()

	plain := &Mailbox{}
	c = dial(t, plain.Start(t))
	c.expectLine("+OK pop3test ready")
	if got := c.cmd("STLS"); got != "-ERR unknown command" {
		t.Errorf("STLS without the field = %q", got)
	}
}

// The TLS field configures the server: here TLS 1.3 only, with the built-in certificate.
func TestMailboxTLSConfig(t *testing.T) {
	base := &tls.Config{MinVersion: tls.VersionTLS13}
	m := &Mailbox{TLS: base}
	addr := m.StartTLS(t)
	cfg := m.ClientTLSConfig()
	cfg.MaxVersion = tls.VersionTLS12
	if _, err := tls.Dial("tcp", addr, cfg); err == nil {
		t.Error("a TLS 1.2 client connected to a TLS 1.3 server")
	}
	c := tlsDial(t, addr, m.ClientTLSConfig())
	c.expectLine("+OK pop3test ready")
	if base.Certificates != nil {
		t.Error("the TLS field was modified")
	}
}

// A real client, Python's poplib, logs in over implicit TLS and over STLS, verifying the
// certificate with the pool written as PEM, and fetches the message; skipped when python3
// is absent.
func TestMailboxTLSPython(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	ca := writeCertificatePEM(t)
	msg := "Subject: from poplib\r\n\r\nhello over TLS\r\n"
	m := &Mailbox{Messages: [][]byte{[]byte(msg)}, STLS: true, NoLock: true}
	tlsAddr, plainAddr := m.StartTLS(t), m.Start(t)
	const script = `
import poplib, ssl, sys
mode, host, port, ca = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
if mode == "implicit":
    p = poplib.POP3_SSL(host, port, context=ctx, timeout=10)
else:
    p = poplib.POP3(host, port, timeout=10)
    p.stls(context=ctx)
p.user("user")
p.pass_("pass")
resp, lines, octets = p.retr(1)
sys.stdout.buffer.write(b"\r\n".join(lines) + b"\r\n")
p.quit()
`
	for mode, addr := range map[string]string{"implicit": tlsAddr, "stls": plainAddr} {
		_, port, _ := net.SplitHostPort(addr)
		for _, host := range []string{"127.0.0.1", "localhost"} {
			out, err := exec.Command(python, "-c", script, mode, host, port, ca).CombinedOutput()
			if err != nil {
				t.Fatalf("%s to %s: %v\n%s", mode, host, err, out)
			}
			if string(out) != msg {
				t.Errorf("%s to %s: poplib fetched %q, want %q", mode, host, out, msg)
			}
		}
	}
}

// A script plays implicit TLS with StartTLS as its first step, and STLS with StartTLS after
// the reply to STLS.
func TestScriptStartTLS(t *testing.T) {
	srv := NewServer(t,
		StartTLS(),
		Reply("+OK ready over TLS"),
		Expect("STLS"),
		Reply("-ERR already"),
		Expect("QUIT"),
		Reply("+OK"),
		ExpectClosed(),
	)
	c := tlsDial(t, srv.Addr(), ClientTLSConfig())
	c.expectLine("+OK ready over TLS")
	c.cmd("STLS")
	c.okCmd("QUIT")
	c.c.Close()
	if err := srv.Wait(); err != nil {
		t.Fatal(err)
	}

	srv = NewServer(t,
		Reply("+OK ready"),
		Expect("STLS"),
		Reply("+OK go ahead"),
		StartTLS(),
		Expect("CAPA"),
		Reply("+OK", "USER", "."),
	)
	c = dial(t, srv.Addr())
	c.expectLine("+OK ready")
	c.okCmd("STLS")
	c.startTLS(ClientTLSConfig())
	c.okCmd("CAPA")
	if got := c.readBlock(); got != "USER\r\n.\r\n" {
		t.Errorf("CAPA over TLS = %q", got)
	}
	if err := srv.Wait(); err != nil {
		t.Fatal(err)
	}
}

// RFC 2595 section 4: a client that sends octets after STLS before the handshake fails the
// script; ExpectTLSFailure passes when the client refuses the certificate and fails when the
// handshake succeeds.
func TestScriptTLSFailures(t *testing.T) {
	ft := newFakeTB(t)
	srv := NewServer(ft, Reply("+OK ready"), Expect("STLS"), Reply("+OK"), StartTLS())
	c := dial(t, srv.Addr())
	c.expectLine("+OK ready")
	c.send("STLS\r\nUSER early\r\n")
	err := srv.Wait()
	if err == nil || !strings.Contains(err.Error(), `step 4: client sent "USER early\r\n" before the TLS handshake`) {
		t.Errorf("Wait() = %v", err)
	}
	ft.finish()

	srv = NewServer(t, ExpectTLSFailure(nil))
	if _, err := tls.Dial("tcp", srv.Addr(), &tls.Config{ServerName: "localhost"}); err == nil {
		t.Fatal("handshake without the pool succeeded")
	}
	if err := srv.Wait(); err != nil {
		t.Fatal(err)
	}

	ft = newFakeTB(t)
	srv = NewServer(ft, ExpectTLSFailure(&tls.Config{MaxVersion: tls.VersionTLS13}))
	tc, err := tls.Dial("tcp", srv.Addr(), ClientTLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if err := srv.Wait(); err == nil || !strings.Contains(err.Error(), "handshake succeeded") {
		t.Errorf("Wait() = %v", err)
	}
	ft.finish()
}

// writeCertificatePEM writes Certificate to a PEM file for other programs and returns its
// path.
func writeCertificatePEM(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: Certificate().Raw})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// curl fetches a message over implicit TLS (pop3s://) and over STLS (--ssl-reqd), verifying
// the certificate with the PEM of Certificate, and logs in with SASL PLAIN as it prefers;
// skipped when curl is absent.
func TestMailboxTLSCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed")
	}
	ca := writeCertificatePEM(t)
	msg := "Subject: from curl\r\n\r\nhello over TLS\r\n"
	m := &Mailbox{Messages: [][]byte{[]byte(msg)}, STLS: true, SASL: []string{"PLAIN"}, NoLock: true, Record: true}
	tlsAddr, plainAddr := m.StartTLS(t), m.Start(t)
	for _, tc := range []struct{ scheme, addr, flag string }{
		{"pop3s", tlsAddr, ""},
		{"pop3", plainAddr, "--ssl-reqd"},
	} {
		_, port, _ := net.SplitHostPort(tc.addr)
		for _, host := range []string{"127.0.0.1", "localhost"} {
			url := tc.scheme + "://" + net.JoinHostPort(host, port) + "/1"
			args := []string{"-sS", "--max-time", "10", "--cacert", ca, "-u", "user:pass", url}
			if tc.flag != "" {
				args = append(args, tc.flag)
			}
			out, err := exec.Command(curl, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("curl %s: %v\n%s", url, err, out)
			}
			if string(out) != msg {
				t.Errorf("curl %s fetched %q, want %q", url, out, msg)
			}
		}
	}
	for _, tr := range m.Transcripts() {
		if !strings.Contains(tr, "C: AUTH PLAIN") {
			t.Errorf("curl did not use AUTH PLAIN:\n%s", tr)
		}
	}
}
