package pop3test

import (
	"encoding/base64"
	"strings"
	"testing"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// greeted dials addr and reads the default greeting.
func greeted(t *testing.T, addr string) *rawClient {
	t.Helper()
	c := dial(t, addr)
	c.expectLine("+OK pop3test ready")
	return c
}

// RFC 5034 section 4, RFC 4616: AUTH PLAIN with an initial response and in two steps; an
// authorization identity other than the user is refused; "*" cancels; bad base64 fails;
// every credential failure carries [AUTH] (RFC 3206), which CAPA announces.
func TestMailboxAuthPlain(t *testing.T) {
	m := &Mailbox{User: "alice", Pass: "pässwörd", SASL: []string{"PLAIN", "LOGIN", "XOAUTH2"}, NoLock: true}
	addr := m.Start(t)
	c := greeted(t, addr)
	c.okCmd("CAPA")
	if got := c.readBlock(); !strings.Contains(got, "\r\nAUTH-RESP-CODE\r\n") || !strings.Contains(got, "\r\nSASL PLAIN LOGIN XOAUTH2\r\n") {
		t.Errorf("CAPA = %q", got)
	}
	for _, tc := range []struct{ cmd, want string }{
		{"AUTH", "-ERR missing SASL mechanism"},
		{"AUTH CRAM-MD5", "-ERR unsupported SASL mechanism"},
		{"AUTH PLAIN " + b64("\x00alice\x00wrong"), "-ERR [AUTH] authentication failed"},
		{"AUTH PLAIN " + b64("bob\x00alice\x00pässwörd"), "-ERR [AUTH] authentication failed"},
		{"AUTH PLAIN " + b64("alice\x00pässwörd"), "-ERR [AUTH] authentication failed"},
		{"AUTH PLAIN not*base64", "-ERR invalid base64 in SASL response"},
		{"AUTH PLAIN *", "-ERR AUTH cancelled"},
	} {
		if got := c.cmd(tc.cmd); got != tc.want {
			t.Errorf("%s = %q, want %q", tc.cmd, got, tc.want)
		}
	}
	if got := c.cmd("AUTH PLAIN"); got != "+ " {
		t.Fatalf("AUTH PLAIN = %q, want an empty challenge", got)
	}
	if got := c.cmd("*"); got != "-ERR AUTH cancelled" {
		t.Errorf("* = %q", got)
	}
	if got := c.cmd("AUTH plain " + b64("alice\x00alice\x00pässwörd")); !strings.HasPrefix(got, "+OK maildrop has 0") {
		t.Errorf("AUTH PLAIN with authzid = %q", got)
	}
	if got := c.cmd("AUTH PLAIN"); got != "-ERR already authenticated" {
		t.Errorf("AUTH after login = %q", got)
	}
	c.quit()

	c = greeted(t, addr)
	if got := c.cmd("AUTH PLAIN"); got != "+ " {
		t.Fatalf("AUTH PLAIN = %q", got)
	}
	if got := c.cmd(b64("\x00alice\x00pässwörd")); !strings.HasPrefix(got, "+OK") {
		t.Errorf("two-step AUTH PLAIN = %q", got)
	}
}

// AUTH LOGIN: "Username:" and "Password:" challenges, or the user name as initial response.
func TestMailboxAuthLogin(t *testing.T) {
	m := &Mailbox{SASL: []string{"LOGIN"}, NoLock: true}
	addr := m.Start(t)
	c := greeted(t, addr)
	if got := c.cmd("AUTH LOGIN"); got != "+ "+b64("Username:") {
		t.Fatalf("AUTH LOGIN = %q", got)
	}
	if got := c.cmd(b64("user")); got != "+ "+b64("Password:") {
		t.Fatalf("user name = %q", got)
	}
	if got := c.cmd(b64("wrong")); got != "-ERR [AUTH] authentication failed" {
		t.Errorf("wrong password = %q", got)
	}
	if got := c.cmd("AUTH LOGIN " + b64("user")); got != "+ "+b64("Password:") {
		t.Fatalf("AUTH LOGIN with initial response = %q", got)
	}
	if got := c.cmd(b64("pass")); !strings.HasPrefix(got, "+OK maildrop") {
		t.Errorf("password = %q", got)
	}
	c = greeted(t, addr)
	if got := c.cmd("AUTH PLAIN " + b64("\x00user\x00pass")); got != "-ERR unsupported SASL mechanism" {
		t.Errorf("AUTH of a mechanism not offered = %q", got)
	}
	none := &Mailbox{}
	c = greeted(t, none.Start(t))
	if got := c.cmd("AUTH PLAIN " + b64("\x00user\x00pass")); got != "-ERR unknown command" {
		t.Errorf("AUTH without SASL = %q", got)
	}
}

// XOAUTH2: the token is checked; a wrong one gets the JSON challenge, then [AUTH] after the
// client's empty response.
func TestMailboxAuthXOAuth2(t *testing.T) {
	m := &Mailbox{User: "alice@example.com", Token: "ya29.good", SASL: []string{"XOAUTH2"}, NoLock: true}
	addr := m.Start(t)
	c := greeted(t, addr)
	bad := b64("user=alice@example.com\x01auth=Bearer ya29.bad\x01\x01")
	got := c.cmd("AUTH XOAUTH2 " + bad)
	want := "+ " + b64(`{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}`)
	if got != want {
		t.Fatalf("AUTH XOAUTH2 with a bad token = %q, want %q", got, want)
	}
	if got := c.cmd(""); got != "-ERR [AUTH] invalid credentials" {
		t.Errorf("after the empty response: %q", got)
	}
	if got := c.cmd("AUTH XOAUTH2"); got != "+ " {
		t.Fatalf("two-step AUTH XOAUTH2 = %q", got)
	}
	if got := c.cmd(b64("user=alice@example.com\x01auth=Bearer ya29.good\x01\x01")); !strings.HasPrefix(got, "+OK") {
		t.Errorf("good token = %q", got)
	}
}

// RFC 6856: UTF8 lists "UTF8 USER" and accepts the UTF8 command; UTF-8 credentials work in
// USER and PASS.
func TestMailboxUTF8(t *testing.T) {
	m := &Mailbox{User: "jürgen", Pass: "пароль", UTF8: true}
	c := greeted(t, m.Start(t))
	c.okCmd("CAPA")
	if got := c.readBlock(); !strings.Contains(got, "\r\nUTF8 USER\r\n") {
		t.Errorf("CAPA = %q", got)
	}
	if got := c.cmd("UTF8"); got != "+OK UTF8 enabled" {
		t.Errorf("UTF8 = %q", got)
	}
	c.okCmd("USER jürgen")
	c.okCmd("PASS пароль")
	if got := c.cmd("UTF8"); got != "-ERR already authenticated" {
		t.Errorf("UTF8 after login = %q", got)
	}
	plain := &Mailbox{}
	c = greeted(t, plain.Start(t))
	if got := c.cmd("UTF8"); got != "-ERR unknown command" {
		t.Errorf("UTF8 without the field = %q", got)
	}
}
