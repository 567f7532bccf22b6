package pop3_test

// Tests of the Client against the features of pop3test.Mailbox: chosen and changing
// unique-ids, mail arriving and expiring between sessions, the maildrop lock, LOGIN-DELAY,
// EXPIRE and quirks.

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/popwire/pop3"
	"github.com/popwire/pop3/pop3test"
)

// mailboxClient dials addr and logs in as "user" / "pass".
func mailboxClient(t *testing.T, addr string) *pop3.Client {
	t.Helper()
	c, err := pop3.Dial(addr, &pop3.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login("user", "pass"); err != nil {
		t.Fatal(err)
	}
	return c
}

func uids(t *testing.T, c *pop3.Client) []string {
	t.Helper()
	list, err := c.UIDL()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list {
		out = append(out, e.UID)
	}
	return out
}

// RFC 1939 section 8, RFC 2449 section 8.1.1: a second concurrent login gets an *Error
// with Code "IN-USE", which is Temporary; after the first session's QUIT it succeeds.
func TestMailboxLockedForClient(t *testing.T) {
	mb := &pop3test.Mailbox{Messages: [][]byte{[]byte("Subject: a\r\n\r\na\r\n")}}
	addr := mb.Start(t)
	first := mailboxClient(t, addr)
	second, err := pop3.Dial(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	err = second.Login("user", "pass")
	var perr *pop3.Error
	if !errors.As(err, &perr) || perr.Code != "IN-USE" || !perr.Temporary() {
		t.Fatalf("second Login: %v; want an *Error with Code IN-USE", err)
	}
	if err := first.Quit(); err != nil {
		t.Fatal(err)
	}
	if err := second.Login("user", "pass"); err != nil {
		t.Fatalf("Login after the first session's QUIT: %v", err)
	}
	if n, _, err := second.Stat(); err != nil || n != 1 {
		t.Errorf("Stat = %d, %v", n, err)
	}
}

// RFC 2449 sections 6.7, 6.8 and 8.1.2: the Client reads LOGIN-DELAY and EXPIRE from CAPA,
// and a login too soon fails with Code "LOGIN-DELAY".
func TestMailboxLoginDelayForClient(t *testing.T) {
	mb := &pop3test.Mailbox{LoginDelay: time.Hour, Expire: "30"}
	addr := mb.Start(t)
	c := mailboxClient(t, addr)
	caps, err := c.Capabilities()
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := caps.LoginDelay(); !ok || p.Delay != time.Hour {
		t.Errorf("LoginDelay() = %v, %v; want 1h", p, ok)
	}
	if p, ok := caps.Expire(); !ok || p.Days != 30 || p.Never {
		t.Errorf("Expire() = %+v, %v; want 30 days", p, ok)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	again, err := pop3.Dial(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	err = again.Login("user", "pass")
	var perr *pop3.Error
	if !errors.As(err, &perr) || perr.Code != "LOGIN-DELAY" || !perr.Temporary() {
		t.Fatalf("Login within the delay: %v; want an *Error with Code LOGIN-DELAY", err)
	}
}

// MS-STANOPOP3 C0041: chosen unique-ids, duplicates and long ones, reach the Client as
// given; mail added and removed between sessions shows in the next session, and what the
// Client deleted is listed by Deleted.
func TestMailboxChangingMailForClient(t *testing.T) {
	long := "long-" + strings.Repeat("x", 200)
	mb := &pop3test.Mailbox{
		Messages: [][]byte{[]byte("Subject: 1\r\n\r\none\r\n"), []byte("Subject: 2\r\n\r\ntwo\r\n")},
		UIDs:     []string{"dup", "dup"},
	}
	addr := mb.Start(t)
	c := mailboxClient(t, addr)
	if got, want := uids(t, c), []string{"dup", "dup"}; !reflect.DeepEqual(got, want) {
		t.Errorf("UIDL = %q, want %q", got, want)
	}
	if err := c.Dele(2); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}

	mb.Add(long, []byte("Subject: 3\r\n\r\nthree\r\n"))
	mb.Add("", []byte("Subject: 4\r\n\r\nfour\r\n"))
	if n := mb.Remove("dup"); n != 1 {
		t.Errorf("Remove(dup) = %d, want 1", n)
	}
	c = mailboxClient(t, addr)
	if got, want := uids(t, c), []string{long, "uid-4"}; !reflect.DeepEqual(got, want) {
		t.Errorf("UIDL = %q, want %q", got, want)
	}
	r, err := c.Retr(2)
	if err != nil {
		t.Fatal(err)
	}
	if body, err := io.ReadAll(r); err != nil || string(body) != "Subject: 4\r\n\r\nfour\r\n" {
		t.Errorf("Retr(2) = %q, %v", body, err)
	}
	if err := c.Dele(1); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	var deleted []string
	for _, m := range mb.Deleted() {
		deleted = append(deleted, m.UID)
	}
	if want := []string{"dup", long}; !reflect.DeepEqual(deleted, want) {
		t.Errorf("Deleted = %q, want %q", deleted, want)
	}
	if got := mb.Contents(); len(got) != 1 || got[0].UID != "uid-4" {
		t.Errorf("Contents = %v", got)
	}
}

// Quirks.NoUIDL: CAPA does not list UIDL and the Client's UIDL fails with the server's
// *Error.
func TestMailboxNoUIDLForClient(t *testing.T) {
	mb := &pop3test.Mailbox{Quirks: pop3test.Quirks{NoUIDL: true}}
	c := mailboxClient(t, mb.Start(t))
	caps, err := c.Capabilities()
	if err != nil {
		t.Fatal(err)
	}
	if caps.Has("UIDL") {
		t.Errorf("CAPA lists UIDL: %v", caps)
	}
	_, err = c.UIDL()
	var perr *pop3.Error
	if !errors.As(err, &perr) {
		t.Fatalf("UIDL: %v; want an *Error", err)
	}
}

// RFC 8314 and RFC 2595: the Client reaches a Mailbox over implicit TLS (DialTLS) and STLS
// (DialStartTLS), verifying its certificate with ClientTLSConfig, by IP address and by
// name.
func TestMailboxTLSForClient(t *testing.T) {
	msg := "Subject: tls\r\n\r\nover TLS\r\n"
	mb := &pop3test.Mailbox{Messages: [][]byte{[]byte(msg)}, STLS: true, NoLock: true}
	implicitAddr, plainAddr := mb.StartTLS(t), mb.Start(t)
	dials := map[string]func(addr string) (*pop3.Client, error){
		"DialTLS": func(addr string) (*pop3.Client, error) {
			return pop3.DialTLS(addr, &pop3.Options{TLSConfig: mb.ClientTLSConfig()})
		},
		"DialStartTLS": func(addr string) (*pop3.Client, error) {
			return pop3.DialStartTLS(addr, &pop3.Options{TLSConfig: mb.ClientTLSConfig()})
		},
	}
	for name, dial := range dials {
		addr := implicitAddr
		if name == "DialStartTLS" {
			addr = plainAddr
		}
		_, port, _ := net.SplitHostPort(addr)
		for _, host := range []string{"127.0.0.1", "localhost"} {
			c, err := dial(net.JoinHostPort(host, port))
			if err != nil {
				t.Fatalf("%s to %s: %v", name, host, err)
			}
			if _, ok := c.Conn().NetConn().(*tls.Conn); !ok {
				t.Errorf("%s: NetConn is %T", name, c.Conn().NetConn())
			}
			if err := c.Login("user", "pass"); err != nil {
				t.Fatal(err)
			}
			r, err := c.Retr(1)
			if err != nil {
				t.Fatal(err)
			}
			if body, err := io.ReadAll(r); err != nil || string(body) != msg {
				t.Errorf("%s: Retr = %q, %v", name, body, err)
			}
			if err := c.Quit(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := pop3.DialTLS(implicitAddr, nil); err == nil {
		t.Error("DialTLS without the Mailbox's pool succeeded")
	}
}

// RFC 5034, RFC 6856: non-ASCII credentials log in through SASL PLAIN or UTF8 USER; LOGIN
// and XOAUTH2 work with Auth, and a refused token comes back as an *Error with Code AUTH
// carrying the JSON status.
func TestMailboxSASLForClient(t *testing.T) {
	for name, mb := range map[string]*pop3test.Mailbox{
		"SASL PLAIN": {User: "jürgen", Pass: "pässwörd", SASL: []string{"PLAIN"}},
		"UTF8 USER":  {User: "jürgen", Pass: "pässwörd", UTF8: true},
	} {
		c, err := pop3.Dial(mb.Start(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Login("jürgen", "pässwörd"); err != nil {
			t.Errorf("%s: Login: %v", name, err)
		}
		c.Close()
	}

	mb := &pop3test.Mailbox{User: "alice@example.com", Token: "ya29.good", SASL: []string{"LOGIN", "XOAUTH2"}, NoLock: true}
	addr := mb.Start(t)
	c, err := pop3.Dial(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Auth(pop3.NewXOAuth2Client("alice@example.com", "ya29.bad"))
	var perr *pop3.Error
	if !errors.As(err, &perr) || perr.Code != "AUTH" || !strings.Contains(perr.Text, "XOAUTH2 status 401") {
		t.Fatalf("Auth with a bad token: %v; want an *Error with Code AUTH and the JSON status", err)
	}
	if err := c.Auth(pop3.NewXOAuth2Client("alice@example.com", "ya29.good")); err != nil {
		t.Fatalf("Auth with the good token: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	c2, err := pop3.Dial(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.Auth(sasl.NewLoginClient("alice@example.com", "pass")); err != nil {
		t.Fatalf("AUTH LOGIN: %v", err)
	}
}

// clientSession runs a whole session of the Client against addr, using each command the
// server offers, and returns the body of message 1 as Retr read it.
func clientSession(t *testing.T, addr string, opts *pop3.Options) string {
	t.Helper()
	c, err := pop3.Dial(addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("user", "pass"); err != nil {
		t.Fatalf("Login: %v", err)
	}
	if n, _, err := c.Stat(); err != nil || n != 2 {
		t.Fatalf("Stat = %d, %v", n, err)
	}
	if list, err := c.List(); err != nil || len(list) != 2 {
		t.Fatalf("List = %v, %v", list, err)
	}
	caps, err := c.Capabilities()
	if err != nil && !errors.As(err, new(*pop3.Error)) {
		t.Fatalf("Capabilities: %v", err)
	}
	if caps.Has("UIDL") {
		if list, err := c.UIDL(); err != nil || len(list) != 2 {
			t.Fatalf("UIDL = %v, %v", list, err)
		}
	}
	if caps.Has("TOP") {
		r, err := c.Top(2, 1)
		if err != nil {
			t.Fatalf("Top: %v", err)
		}
		if _, err := io.ReadAll(r); err != nil {
			t.Fatalf("Top body: %v", err)
		}
	}
	var first string
	err = c.RetrEach([]int{1, 2}, func(n int, r io.Reader) error {
		b, err := io.ReadAll(r)
		if n == 1 {
			first = string(b)
		}
		return err
	})
	if err != nil {
		t.Fatalf("RetrEach: %v", err)
	}
	if err := c.Dele(2); err != nil {
		t.Fatalf("Dele: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("Quit: %v", err)
	}
	return first
}

var quirkMessages = [][]byte{
	[]byte("Subject: one\r\n\r\nfirst line\r\n.dot line\r\n"),
	[]byte("Subject: two\r\n\r\nsecond\r\n"),
}

// The Client survives every quirk of real servers that Mailbox imitates: each whole session
// succeeds, message 1 arrives with its text, and the DELE is committed.
func TestMailboxQuirksForClient(t *testing.T) {
	for name, q := range map[string]pop3test.Quirks{
		"none":                  {},
		"LowerCaseStatus":       {LowerCaseStatus: true},
		"Tabs":                  {Tabs: true},
		"BareLF":                {BareLF: true},
		"NoCAPA":                {NoCAPA: true},
		"NoUIDL":                {NoUIDL: true},
		"NoTOP":                 {NoTOP: true},
		"NoPipelining":          {NoPipelining: true},
		"PipeliningAfterLogin":  {PipeliningAfterLogin: true},
		"ChattyListings":        {ChattyListings: true},
		"TimestampGreeting":     {TimestampGreeting: true},
		"TopExtraBlankLine":     {TopExtraBlankLine: true},
		"CRCRLF":                {CRCRLF: true},
		"AddHeaders":            {AddHeaders: true},
		"CloseAfterBadCommands": {CloseAfterBadCommands: 3},
		"FailedLoginDelay":      {FailedLoginDelay: time.Millisecond},
	} {
		t.Run(name, func(t *testing.T) {
			mb := &pop3test.Mailbox{Messages: quirkMessages, Quirks: q, Pipelining: true}
			body := clientSession(t, mb.Start(t), nil)
			for _, want := range []string{"Subject: one", "first line", ".dot line"} {
				if !strings.Contains(body, want) {
					t.Errorf("message 1 as read: %q; it lacks %q", body, want)
				}
			}
			if got := mb.Deleted(); len(got) != 1 || got[0].UID != "uid-2" {
				t.Errorf("Deleted = %v", got)
			}
		})
	}
}

// The Client sends nothing a strict Mailbox refuses, over TLS and with UTF-8 credentials too.
func TestMailboxStrictForClient(t *testing.T) {
	mb := &pop3test.Mailbox{Messages: quirkMessages, Strict: true, Pipelining: true, STLS: true}
	clientSession(t, mb.Start(t), nil)
	mb = &pop3test.Mailbox{Messages: quirkMessages, Strict: true, UTF8: true, User: "jürgen", Pass: "pässwörd"}
	if _, err := pop3.DialStartTLS(mb.Start(t), &pop3.Options{TLSConfig: mb.ClientTLSConfig()}); err == nil {
		t.Fatal("DialStartTLS to a Mailbox without STLS succeeded")
	}
	c, err := pop3.Dial(mb.Start(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("jürgen", "pässwörd"); err != nil {
		t.Fatalf("UTF-8 Login on a strict Mailbox: %v", err)
	}
}

// A Client session recorded from a Mailbox, saved and loaded with LoadTranscript, replays
// against a script Server: the same calls get the same results, and the Client sends the
// same octets.
func TestMailboxRecordForClient(t *testing.T) {
	mb := &pop3test.Mailbox{Messages: quirkMessages, Pipelining: true, Record: true}
	want := clientSession(t, mb.Start(t), nil)
	path := filepath.Join(t.TempDir(), "session.txt")
	if err := os.WriteFile(path, []byte(mb.Transcripts()[0]), 0o600); err != nil {
		t.Fatal(err)
	}
	steps, err := pop3test.LoadTranscript(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := pop3test.NewServer(t, append(steps, pop3test.Cut())...)
	if got := clientSession(t, srv.Addr(), nil); got != want {
		t.Errorf("replayed Retr = %q, recorded %q", got, want)
	}
	if err := srv.Wait(); err != nil {
		t.Fatal(err)
	}
}

// clientLines returns the command lines of a transcript, without their terminators.
func clientLines(transcript string) []string {
	var out []string
	for _, l := range strings.SplitAfter(transcript, "\n") {
		if cmd, ok := strings.CutPrefix(l, "C: "); ok {
			out = append(out, strings.TrimRight(cmd, "\r\n"))
		}
	}
	return out
}

// The command order documented in package pop3test ("Command order of the pop3 Client"):
// which Client calls send CAPA, and when. A script for the Client follows this order; if
// this test fails, update that documentation with it.
func TestClientCommandOrder(t *testing.T) {
	msgs := [][]byte{[]byte("Subject: a\r\n\r\na\r\n"), []byte("Subject: b\r\n\r\nb\r\n"), []byte("Subject: c\r\n\r\nc\r\n")}
	mb := &pop3test.Mailbox{Messages: msgs, Record: true, Pipelining: true, STLS: true, SASL: []string{"PLAIN", "XOAUTH2"}, NoLock: true}
	// utf8 lists "UTF8 USER": Login sends UTF8 before USER.
	utf8 := &pop3test.Mailbox{Messages: msgs, Record: true, UTF8: true, NoLock: true}
	addrs := map[*pop3test.Mailbox]string{mb: mb.Start(t), utf8: utf8.Start(t)}
	login := func(c *pop3.Client) error { return c.Login("user", "pass") }
	discard := func(int, io.Reader) error { return nil }
	for _, tc := range []struct {
		name string
		mb   *pop3test.Mailbox // nil: mb
		run  func(c *pop3.Client) error
		want string
	}{
		{"Dial", nil, func(c *pop3.Client) error { return nil }, ""},
		{"Login", nil, login, "CAPA|USER user|PASS pass|CAPA"},
		{"Login after Capabilities", nil, func(c *pop3.Client) error {
			c.Capabilities()
			return login(c)
		}, "CAPA|USER user|PASS pass|CAPA"},
		{"Login, UTF8 listed", utf8, login, "CAPA|UTF8|USER user|PASS pass"},
		{"Login non-ASCII", nil, func(c *pop3.Client) error {
			if err := c.Login("user", "päss"); !errors.As(err, new(*pop3.Error)) {
				return fmt.Errorf("want the server's refusal, got %v", err)
			}
			return nil
		}, "CAPA|AUTH PLAIN AHVzZXIAcMOkc3M="},
		{"Auth", nil, func(c *pop3.Client) error { return c.Auth(pop3.NewXOAuth2Client("user", "token")) },
			"CAPA|AUTH XOAUTH2 " + base64.StdEncoding.EncodeToString([]byte("user=user\x01auth=Bearer token\x01\x01"))},
		{"StartTLS", nil, func(c *pop3.Client) error { return c.StartTLS(mb.ClientTLSConfig()) }, "STLS|CAPA"},
		{"Stat List UIDL Noop", nil, func(c *pop3.Client) error {
			login(c)
			c.Stat()
			c.List()
			c.UIDL()
			return c.Noop()
		}, "CAPA|USER user|PASS pass|CAPA|STAT|LIST|UIDL|NOOP"},
		{"Retr Top Dele", nil, func(c *pop3.Client) error {
			login(c)
			r, _ := c.Retr(1)
			io.ReadAll(r)
			r, _ = c.Top(2, 0)
			io.ReadAll(r)
			return c.Dele(1)
		}, "CAPA|USER user|PASS pass|CAPA|RETR 1|TOP 2 0|DELE 1"},
		{"RetrEach TopEach DeleEach", nil, func(c *pop3.Client) error {
			login(c)
			c.RetrEach([]int{1, 2}, discard)
			c.TopEach([]int{1}, 0, discard)
			return c.DeleEach([]int{1, 2})
		}, "CAPA|USER user|PASS pass|CAPA|RETR 1|RETR 2|TOP 1 0|DELE 1|DELE 2"},
		{"ListAll", nil, func(c *pop3.Client) error {
			login(c)
			_, err := c.ListAll()
			return err
		}, "CAPA|USER user|PASS pass|CAPA|UIDL|LIST"},
		{"Capabilities before and after Login", nil, func(c *pop3.Client) error {
			c.Capabilities()
			c.Capabilities()
			login(c)
			_, err := c.Capabilities()
			return err
		}, "CAPA|USER user|PASS pass|CAPA"},
	} {
		server := mb
		if tc.mb != nil {
			server = tc.mb
		}
		c, err := pop3.Dial(addrs[server], nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := tc.run(c); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		c.Quit()
		// Quit with nothing marked deleted does not wait for the reply: wait for the
		// server to have read QUIT (the session's transcript ends with it).
		want := strings.TrimPrefix(tc.want+"|QUIT", "|")
		var got string
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			transcripts := server.Transcripts()
			got = strings.Join(clientLines(transcripts[len(transcripts)-1]), "|")
			if strings.HasSuffix(got, "QUIT") || time.Now().After(deadline) {
				break
			}
		}
		if got != want {
			t.Errorf("%s sent %s; documented: %s", tc.name, got, want)
		}
	}
}
