package pop3test

import (
	"strings"
	"testing"
)

// RFC 1939 section 3 and RFC 2449 section 4, behind Strict: what a lenient server accepts
// is refused, and the session goes on.
func TestMailboxStrict(t *testing.T) {
	cases := []struct{ cmd, strict string }{
		{"LIST 01", "-ERR invalid number 01"},
		{"LIST +1", "-ERR invalid number +1"},
		{"LIST 1 2", "-ERR too many arguments"},
		{"RETR  1", "-ERR arguments must be separated by single spaces"},
		{"TOP 1 00", "-ERR invalid number 00"},
		{"STAT x", "-ERR too many arguments"},
		{"NOOP " + strings.Repeat("9", 41), "-ERR argument longer than 40 octets"},
		{"LIST " + strings.Repeat("1", 251), "-ERR command line longer than 255 octets"},
		{"LIST \x01", "-ERR argument holds the octet 0x1"},
	}
	m := &Mailbox{Messages: [][]byte{[]byte("a\r\n")}, Strict: true}
	c := login(t, m.Start(t))
	for _, tc := range cases {
		if got := c.cmd(tc.cmd); got != tc.strict {
			t.Errorf("%q = %q, want %q", tc.cmd, got, tc.strict)
		}
	}
	c.send("NOOP\n")
	c.expectLine("-ERR command line must end in CRLF")
	for _, ok := range []string{"LIST 1", "TOP 1 0", "list 1"} {
		if got := c.cmd(ok); !strings.HasPrefix(got, "+OK") {
			t.Errorf("%q = %q", ok, got)
		}
		if ok == "TOP 1 0" {
			c.readBlock()
		}
	}

	lenient := &Mailbox{Messages: [][]byte{[]byte("a\r\n")}}
	c = login(t, lenient.Start(t))
	for _, cmd := range []string{"LIST 01", "LIST 1 2", "RETR  1", "LIST " + strings.Repeat("0", 250) + "1"} {
		if got := c.cmd(cmd); !strings.HasPrefix(got, "+OK") {
			t.Errorf("lenient %q = %q", cmd, got)
		}
		if strings.HasPrefix(cmd, "RETR") {
			c.readBlock()
		}
	}
}

// RFC 6856 behind Strict: non-ASCII credentials only with UTF8 USER; a message holding
// UTF-8 only after the UTF8 command ([UTF8]); no STLS after UTF8.
func TestMailboxStrictUTF8(t *testing.T) {
	m := &Mailbox{Strict: true, User: "jürgen"}
	c := dial(t, m.Start(t))
	c.readLine()
	if got := c.cmd("USER jürgen"); got != "-ERR [AUTH] non-ASCII credentials need UTF8 USER" {
		t.Errorf("USER = %q", got)
	}

	msg := "Subject: Grüße\r\n\r\nü\r\n"
	m = &Mailbox{Strict: true, UTF8: true, User: "jürgen", Messages: [][]byte{[]byte(msg)}, STLS: true}
	c = dial(t, m.Start(t))
	c.readLine()
	c.okCmd("USER jürgen")
	c.okCmd("PASS pass")
	if got := c.cmd("RETR 1"); got != "-ERR [UTF8] the message holds UTF-8; send UTF8 first" {
		t.Errorf("RETR before UTF8 = %q", got)
	}
	if got := c.cmd("TOP 1 0"); !strings.HasPrefix(got, "-ERR [UTF8]") {
		t.Errorf("TOP before UTF8 = %q", got)
	}
	c.quit()
	c = dial(t, m.Start(t))
	c.readLine()
	c.okCmd("UTF8")
	if got := c.cmd("STLS"); got != "-ERR STLS after UTF8" {
		t.Errorf("STLS after UTF8 = %q", got)
	}
	c.okCmd("USER jürgen")
	c.okCmd("PASS pass")
	c.okCmd("RETR 1")
	if got := c.readBlock(); got != msg+".\r\n" {
		t.Errorf("RETR after UTF8 = %q", got)
	}
}

// Record mode: a Mailbox session is written as a transcript that a script Server replays
// byte for byte, pipelined batches, bodies and STLS included.
func TestMailboxRecord(t *testing.T) {
	m := &Mailbox{Messages: [][]byte{[]byte("Subject: r\r\n\r\n.dot\r\n")}, STLS: true, Pipelining: true, Record: true}
	session := func(addr string) []string {
		c := dial(t, addr)
		var got []string
		got = append(got, c.readLine())
		c.send("CAPA\r\n")
		got = append(got, c.readUntil(".\r\n"))
		c.send("STLS\r\n")
		got = append(got, c.readLine())
		c.startTLS(m.ClientTLSConfig())
		c.send("USER user\r\nPASS pass\r\nRETR 1\r\nLIST\r\n")
		got = append(got, c.readLine(), c.readLine(), c.readUntil(".\r\n"), c.readUntil(".\r\n"))
		c.send("QUIT\r\n")
		got = append(got, c.readLine())
		c.expectEOF()
		return got
	}
	want := session(m.Start(t))
	transcript := m.Transcripts()[0]
	if !strings.Contains(transcript, "\n"+tlsDirective+"\n") {
		t.Fatalf("transcript without %q:\n%s", tlsDirective, transcript)
	}
	steps, err := ParseTranscript(strings.NewReader(transcript))
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(t, append(steps, Cut())...)
	got := session(srv.Addr())
	if strings.Join(got, "") != strings.Join(want, "") {
		t.Errorf("replay answered %q, the Mailbox %q", got, want)
	}
	if err := srv.Wait(); err != nil {
		t.Fatal(err)
	}
}

// An implicit-TLS session is recorded with "! STARTTLS" first, and its replay is an
// implicit-TLS script server.
func TestMailboxRecordImplicitTLS(t *testing.T) {
	m := &Mailbox{Record: true}
	session := func(addr string) string {
		c := tlsDial(t, addr, ClientTLSConfig())
		greeting := c.readLine()
		c.okCmd("QUIT")
		return greeting
	}
	want := session(m.StartTLS(t))
	transcript := m.Transcripts()[0]
	if !strings.HasPrefix(transcript, tlsDirective+"\nS: +OK pop3test ready\r\n") {
		t.Fatalf("transcript:\n%s", transcript)
	}
	steps, err := ParseTranscript(strings.NewReader(transcript))
	if err != nil {
		t.Fatal(err)
	}
	if steps[0].String() != "StartTLS()" {
		t.Errorf("first step %v", steps[0])
	}
	srv := NewServer(t, steps...)
	if got := session(srv.Addr()); got != want {
		t.Errorf("replayed greeting %q, want %q", got, want)
	}
	if err := srv.Wait(); err != nil {
		t.Fatal(err)
	}
}

// The "! STARTTLS" line of a transcript, in any case and with trailing blanks, is a
// StartTLS step that ends the Send before it.
func TestParseTranscriptStartTLS(t *testing.T) {
	steps, err := ParseTranscript(strings.NewReader("S: +OK\r\nC: STLS\r\nS: +OK go\r\n! starttls \r\nC: CAPA\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, st := range steps {
		got = append(got, st.String())
	}
	want := `Send("+OK\r\n") Expect("STLS") Send("+OK go\r\n") StartTLS() Expect("CAPA")`
	if strings.Join(got, " ") != want {
		t.Errorf("steps %s, want %s", strings.Join(got, " "), want)
	}
}
