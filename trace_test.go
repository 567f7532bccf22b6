package pop3_test

// Tests of Options.DebugWriter, the protocol transcript (digest section 6.6: secrets never
// in a trace).

import (
	"bytes"
	"crypto/tls"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/popwire/pop3"
	"github.com/popwire/pop3/pop3test"
)

// syncBuffer is a bytes.Buffer safe for the trace's writes and the test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The transcript holds every line both ways, in pop3test's transcript format, and can be
// played back as a script. QUIT's reply is not in it: with nothing marked deleted, Quit
// does not read it.
func TestTraceBothWays(t *testing.T) {
	var trace syncBuffer
	c, srv := authDial(t, &pop3.Options{DebugWriter: &trace},
		pop3test.Expect("CAPA"), pop3test.Reply("-ERR"),
		pop3test.Expect("USER alice"), pop3test.Reply("+OK"),
		pop3test.Expect("PASS secret"), pop3test.Reply("+OK logged in"),
		pop3test.Expect("RETR 1"), pop3test.Reply("+OK 9 octets", "..dot", "body", "."),
		pop3test.Expect("QUIT"), pop3test.Reply("+OK bye"),
		pop3test.ExpectClosed(),
	)
	if err := c.Login("alice", "secret"); err != nil {
		t.Fatal(err)
	}
	r, err := c.Retr(1)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, r)
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	authWait(t, c, srv)
	want := "S: +OK ready\r\n" +
		"C: CAPA\r\n" +
		"S: -ERR\r\n" +
		"C: USER alice\r\n" +
		"S: +OK\r\n" +
		"C: PASS ***\r\n" +
		"S: +OK logged in\r\n" +
		"C: RETR 1\r\n" +
		"S: +OK 9 octets\r\nS: ..dot\r\nS: body\r\nS: .\r\n" +
		"C: QUIT\r\n"
	if got := trace.String(); got != want {
		t.Errorf("trace:\n%s\nwant:\n%s", got, want)
	}
	if _, err := pop3test.ParseTranscript(strings.NewReader(trace.String())); err != nil {
		t.Errorf("the trace is not a transcript: %v", err)
	}
}

// Digest section 6.6, RFC 5034 section 4: PASS arguments, the initial response on the AUTH
// line and every response of a SASL exchange appear as "***"; neither the password, nor
// the token, nor any base64 holding them appears anywhere in the trace.
func TestTraceRedactsSecrets(t *testing.T) {
	const password = "s3cr3t-pässwörd"
	token := longToken
	plainIR := b64("\x00alice\x00" + password)
	var trace syncBuffer
	c, srv := authDial(t, &pop3.Options{DebugWriter: &trace}, authSteps(
		capaSteps("USER", "SASL PLAIN LOGIN XOAUTH2"),
		pop3test.Expect("USER alice"), pop3test.Reply("+OK"),
		pop3test.Expect("PASS s3cr3t"), pop3test.Reply("-ERR [AUTH] no"),
		pop3test.Expect("AUTH PLAIN "+plainIR), pop3test.Reply("-ERR [AUTH] no"),
		pop3test.Expect("AUTH LOGIN "+b64("alice")), pop3test.Reply("+ "+b64("Password:")),
		pop3test.Expect(b64(password)), pop3test.Reply("-ERR [AUTH] no"),
		pop3test.Expect("AUTH XOAUTH2"), pop3test.Reply("+ "),
		pop3test.Expect(xoauth2Response("alice", token)), pop3test.Reply("+OK"),
		pop3test.ExpectClosed(),
	)...)
	if err := c.Login("alice", "s3cr3t"); err == nil {
		t.Fatal("Login succeeded")
	}
	if err := c.Login("alice", password); err == nil { // non-ASCII: AUTH PLAIN
		t.Fatal("Login succeeded")
	}
	if err := c.Auth(sasl.NewLoginClient("alice", password)); err == nil {
		t.Fatal("AUTH LOGIN succeeded")
	}
	if err := c.Auth(pop3.NewXOAuth2Client("alice", token)); err != nil {
		t.Fatal(err)
	}
	authWait(t, c, srv)

	got := trace.String()
	for _, secret := range []string{"s3cr3t", password, b64(password), plainIR, token, xoauth2Response("alice", token), b64(token)} {
		if strings.Contains(got, secret) {
			t.Errorf("the trace shows %q:\n%s", secret, got)
		}
	}
	for _, line := range []string{
		"C: PASS ***\r\n", "C: AUTH PLAIN ***\r\n", "C: AUTH LOGIN ***\r\n", "C: AUTH XOAUTH2\r\n",
		"C: ***\r\n", "S: +OK ready\r\n", "S: + " + b64("Password:") + "\r\n", "C: USER alice\r\n",
	} {
		if !strings.Contains(got, line) {
			t.Errorf("the trace lacks %q:\n%s", line, got)
		}
	}
	if n := strings.Count(got, "C: ***\r\n"); n != 2 {
		t.Errorf("%d redacted SASL responses; want 2:\n%s", n, got)
	}
}

// The trace goes on in clear after STLS: the TLS layer is below it.
func TestTraceOverSTLS(t *testing.T) {
	srv := pop3test.NewServer(t,
		pop3test.Reply("+OK ready"),
		pop3test.Expect("STLS"),
		pop3test.Reply("+OK begin"),
		pop3test.StartTLS(),
		pop3test.Expect("CAPA"),
		pop3test.Reply("+OK", "USER", "."),
		pop3test.ExpectClosed(),
	)
	var trace syncBuffer
	c, err := pop3.DialStartTLS(srv.Addr(), &pop3.Options{DebugWriter: &trace, TLSConfig: &tls.Config{RootCAs: pop3test.CertPool()}})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := srv.Wait(); err != nil {
		t.Fatal(err)
	}
	got := trace.String()
	if !strings.Contains(got, "C: STLS\r\nS: +OK begin\r\n# TLS handshake done: TLS 1.3\r\nC: CAPA\r\nS: +OK\r\nS: USER\r\nS: .\r\n") {
		t.Errorf("trace:\n%s", got)
	}
}
