package pop3test

import (
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

// quirky starts a Mailbox with one message, the quirks q and Pipelining, and logs in.
func quirky(t *testing.T, q Quirks, msg string) (*Mailbox, *rawClient) {
	t.Helper()
	m := &Mailbox{Messages: [][]byte{[]byte(msg)}, Quirks: q, Pipelining: true, NoLock: true}
	c := dial(t, m.Start(t))
	c.readLine() // greeting
	c.okCmd("USER user")
	c.okCmd("PASS pass")
	return m, c
}

// readUntil reads up to and including the line want, returning everything read.
func (c *rawClient) readUntil(want string) string {
	c.t.Helper()
	var b strings.Builder
	for {
		line := c.readLine()
		b.WriteString(line)
		if line == want {
			return b.String()
		}
	}
}

// MS-STANOPOP3 V0001: status indicators in lower case.
func TestQuirkLowerCaseStatus(t *testing.T) {
	m := &Mailbox{Quirks: Quirks{LowerCaseStatus: true}}
	c := dial(t, m.Start(t))
	c.expectLine("+ok pop3test ready")
	if got := c.cmd("XYZZY"); got != "-err unknown command" {
		t.Errorf("XYZZY = %q", got)
	}
	c.cmd("USER user")
	c.cmd("PASS pass")
	if got := c.cmd("STAT"); got != "+ok 0 0" {
		t.Errorf("STAT = %q", got)
	}
}

// MS-STANOPOP3 C0004, C0017, C0021, C0038: tabs between the fields of replies.
func TestQuirkTabs(t *testing.T) {
	_, c := quirky(t, Quirks{Tabs: true}, "abc\r\n")
	if got := c.cmd("STAT"); got != "+OK\t1\t5" {
		t.Errorf("STAT = %q", got)
	}
	if got := c.cmd("LIST 1"); got != "+OK\t1\t5" {
		t.Errorf("LIST 1 = %q", got)
	}
	c.okCmd("UIDL")
	if got := c.readBlock(); got != "1\tuid-1\r\n.\r\n" {
		t.Errorf("UIDL = %q", got)
	}
}

// MS-STANOPOP3 C0005, C0006: lines ending in a bare LF, the terminator too.
func TestQuirkBareLF(t *testing.T) {
	m := &Mailbox{Messages: [][]byte{[]byte("a\r\n.b\r\n")}, Quirks: Quirks{BareLF: true}}
	c := dial(t, m.Start(t))
	if got := c.readLine(); got != "+OK pop3test ready\n" {
		t.Errorf("greeting = %q", got)
	}
	c.send("USER user\r\nPASS pass\r\nRETR 1\r\n")
	c.readLine()
	c.readLine()
	if got, want := c.readUntil(".\n"), "+OK 7 octets\na\n..b\n.\n"; got != want {
		t.Errorf("RETR = %q, want %q", got, want)
	}
}

// Courier, solid-pop3d, Twisted: message lines ending in CR CR LF.
func TestQuirkCRCRLF(t *testing.T) {
	_, c := quirky(t, Quirks{CRCRLF: true}, "a\r\nb\r\n")
	if got := c.okCmd("RETR 1"); got != "+OK 6 octets" {
		t.Errorf("RETR status = %q (the CRLF size)", got)
	}
	if got, want := c.readUntil(".\r\n"), "a\r\r\nb\r\r\n.\r\n"; got != want {
		t.Errorf("RETR = %q, want %q", got, want)
	}
}

// NoCAPA (popa3d, solid-pop3d), NoTOP and NoUIDL remove the commands and their
// capabilities.
func TestQuirkMissingCommands(t *testing.T) {
	m := &Mailbox{Quirks: Quirks{NoCAPA: true}}
	c := dial(t, m.Start(t))
	c.readLine()
	if got := c.cmd("CAPA"); got != "-ERR unknown command" {
		t.Errorf("CAPA = %q", got)
	}
	_, c = quirky(t, Quirks{NoTOP: true, NoUIDL: true}, "a\r\n")
	c.okCmd("CAPA")
	if got := c.readBlock(); strings.Contains(got, "TOP") || strings.Contains(got, "UIDL") {
		t.Errorf("CAPA = %q", got)
	}
	for _, cmd := range []string{"TOP 1 0", "UIDL"} {
		if got := c.cmd(cmd); got != "-ERR unknown command" {
			t.Errorf("%s = %q", cmd, got)
		}
	}
}

// NoPipelining drops the commands that came with an earlier one; a client that waits for
// each reply loses nothing.
func TestQuirkNoPipelining(t *testing.T) {
	_, c := quirky(t, Quirks{NoPipelining: true}, "a\r\n") // with Pipelining set
	c.okCmd("CAPA")
	if got := c.readBlock(); strings.Contains(got, "PIPELINING") {
		t.Errorf("CAPA = %q", got)
	}
	c.send("NOOP\r\nSTAT\r\nLIST 1\r\n")
	c.expectLine("+OK")
	if got := c.cmd("NOOP"); got != "+OK" {
		t.Errorf("NOOP after the lost batch = %q; the pipelined commands were answered", got)
	}
	if got := c.cmd("STAT"); got != "+OK 1 3" {
		t.Errorf("STAT = %q", got)
	}
}

// Gmail lists PIPELINING only after login.
func TestQuirkPipeliningAfterLogin(t *testing.T) {
	m := &Mailbox{Pipelining: true, Quirks: Quirks{PipeliningAfterLogin: true}}
	c := dial(t, m.Start(t))
	c.readLine()
	c.okCmd("CAPA")
	if got := c.readBlock(); strings.Contains(got, "PIPELINING") {
		t.Errorf("CAPA before login = %q", got)
	}
	c.okCmd("USER user")
	c.okCmd("PASS pass")
	c.okCmd("CAPA")
	if got := c.readBlock(); !strings.Contains(got, "\r\nPIPELINING\r\n") {
		t.Errorf("CAPA after login = %q", got)
	}
}

// MS-STANOPOP3 C0017: text after the status of LIST and UIDL that holds numbers.
func TestQuirkChattyListings(t *testing.T) {
	_, c := quirky(t, Quirks{ChattyListings: true}, "a\r\n")
	if got := c.okCmd("LIST"); got != "+OK scan listing follows: 1 messages, 3 octets, 1 to 1" {
		t.Errorf("LIST = %q", got)
	}
	c.readBlock()
	if got := c.okCmd("UIDL"); got != "+OK 1 unique-ids follow, 1 per message" {
		t.Errorf("UIDL = %q", got)
	}
}

// GNU Mailutils, Cyrus, solid-pop3d: an APOP-style timestamp, different in every session.
func TestQuirkTimestampGreeting(t *testing.T) {
	m := &Mailbox{Quirks: Quirks{TimestampGreeting: true}, Greeting: "+OK POP3 Ready"}
	addr := m.Start(t)
	re := regexp.MustCompile(`^\+OK POP3 Ready <[0-9]+\.[0-9]+@pop3test>\r\n$`)
	first := dial(t, addr).readLine()
	second := dial(t, addr).readLine()
	if !re.MatchString(first) || !re.MatchString(second) || first == second {
		t.Errorf("greetings %q and %q", first, second)
	}
}

// GNU Mailutils (MS-STANOPOP3 C0034): TOP n k with k > 0 has an extra empty line; RETR and TOP carry X-UIDL: and
// Status: at the end of the header, the sizes staying those of the message.
func TestQuirkMailutilsBodies(t *testing.T) {
	msg := "Subject: s\r\n\r\nl1\r\nl2\r\n"
	_, c := quirky(t, Quirks{TopExtraBlankLine: true}, msg)
	c.okCmd("TOP 1 1")
	if got, want := c.readBlock(), "Subject: s\r\n\r\n\r\nl1\r\n.\r\n"; got != want {
		t.Errorf("TOP 1 1 = %q, want %q", got, want)
	}
	c.okCmd("TOP 1 0")
	if got, want := c.readBlock(), "Subject: s\r\n\r\n.\r\n"; got != want {
		t.Errorf("TOP 1 0 = %q, want %q", got, want)
	}

	_, c = quirky(t, Quirks{AddHeaders: true}, msg)
	if got := c.okCmd("RETR 1"); got != "+OK 22 octets" {
		t.Errorf("RETR status = %q", got)
	}
	if got, want := c.readBlock(), "Subject: s\r\nX-UIDL: uid-1\r\nStatus: O\r\n\r\nl1\r\nl2\r\n.\r\n"; got != want {
		t.Errorf("RETR = %q, want %q", got, want)
	}
	c.okCmd("TOP 1 0")
	if got, want := c.readBlock(), "Subject: s\r\nX-UIDL: uid-1\r\nStatus: O\r\n\r\n.\r\n"; got != want {
		t.Errorf("TOP 1 0 = %q, want %q", got, want)
	}
	for raw, want := range map[string]string{
		"Subject: only\r\n": "Subject: only\r\nX-UIDL: uid-1\r\nStatus: O\r\n.\r\n",
		"\r\nbody\r\n":      "X-UIDL: uid-1\r\nStatus: O\r\n\r\nbody\r\n.\r\n",
	} {
		_, c = quirky(t, Quirks{AddHeaders: true}, raw)
		c.okCmd("RETR 1")
		if got := c.readBlock(); got != want {
			t.Errorf("RETR of %q = %q, want %q", raw, got, want)
		}
	}
}

// solid-pop3d (5), WildDuck (3), cf. MS-STANOPOP3 C0010: the connection is closed instead
// of the Nth negative reply.
func TestQuirkCloseAfterBadCommands(t *testing.T) {
	m := &Mailbox{Quirks: Quirks{CloseAfterBadCommands: 3}}
	c := dial(t, m.Start(t))
	c.readLine()
	if got := c.cmd("XYZZY"); got != "-ERR unknown command" {
		t.Errorf("first bad command = %q", got)
	}
	if got := c.cmd("STAT"); got != "-ERR not authenticated" {
		t.Errorf("second bad command = %q", got)
	}
	c.okCmd("USER user")
	c.send("PASS wrong\r\n")
	c.expectEOF()
}

// Closing the server cuts a session's FailedLoginDelay short; the delay itself is tested on
// synctest's clock by TestQuirkFailedLoginDelaySynctest.
func TestQuirkFailedLoginDelayStop(t *testing.T) {
	slow := &Mailbox{Quirks: Quirks{FailedLoginDelay: time.Hour}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- slow.Serve(l) }()
	c := dial(t, l.Addr().String())
	c.readLine()
	c.okCmd("USER user")
	c.send("PASS wrong\r\n")
	c.send("NOOP\r\n") // read after the PASS: the session is in the delay
	l.Close()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Serve = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return while a session waited in FailedLoginDelay")
	}
}
