package pop3test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// cmd sends a command and returns the status line without CRLF.
func (c *rawClient) cmd(line string) string {
	c.t.Helper()
	c.send(line + "\r\n")
	return strings.TrimSuffix(c.readLine(), "\r\n")
}

// okCmd sends a command and fails unless the reply is positive.
func (c *rawClient) okCmd(line string) string {
	c.t.Helper()
	st := c.cmd(line)
	if !strings.HasPrefix(st, "+OK") {
		c.t.Fatalf("%s: %s", line, st)
	}
	return st
}

// readBlock reads the raw bytes of a multi-line body up to and including the
// terminating ".\r\n", checking that every line ends in CRLF.
func (c *rawClient) readBlock() string {
	c.t.Helper()
	var b strings.Builder
	for {
		line := c.readLine()
		if !strings.HasSuffix(line, "\r\n") {
			c.t.Fatalf("line %q does not end in CRLF", line)
		}
		b.WriteString(line)
		if line == ".\r\n" {
			return b.String()
		}
	}
}

func login(t testing.TB, addr string) *rawClient {
	t.Helper()
	c := dial(t, addr)
	c.expectLine("+OK pop3test ready")
	c.okCmd("USER user")
	c.okCmd("PASS pass")
	return c
}

func TestMailboxSession(t *testing.T) {
	m := &Mailbox{Messages: [][]byte{
		[]byte("Subject: one\r\n\r\nbody one\r\n"),
		[]byte("Subject: two\r\n\r\nline 1\r\nline 2\r\n"),
	}}
	addr := m.Start(t)
	c := login(t, addr)
	if got, want := c.cmd("STAT"), "+OK 2 58"; got != want {
		t.Errorf("STAT = %q, want %q", got, want)
	}
	if got := c.okCmd("LIST"); got != "+OK 2 messages (58 octets)" {
		t.Errorf("LIST = %q", got)
	}
	if got, want := c.readBlock(), "1 26\r\n2 32\r\n.\r\n"; got != want {
		t.Errorf("LIST body = %q, want %q", got, want)
	}
	if got := c.cmd("LIST 2"); got != "+OK 2 32" {
		t.Errorf("LIST 2 = %q", got)
	}
	c.okCmd("UIDL")
	if got, want := c.readBlock(), "1 uid-1\r\n2 uid-2\r\n.\r\n"; got != want {
		t.Errorf("UIDL body = %q, want %q", got, want)
	}
	if got := c.cmd("uidl 2"); got != "+OK 2 uid-2" {
		t.Errorf("UIDL 2 = %q", got)
	}
	if got := c.cmd("RETR 1"); got != "+OK 26 octets" {
		t.Errorf("RETR 1 = %q", got)
	}
	if got, want := c.readBlock(), "Subject: one\r\n\r\nbody one\r\n.\r\n"; got != want {
		t.Errorf("RETR 1 body = %q, want %q", got, want)
	}
	if got := c.cmd("NOOP"); got != "+OK" {
		t.Errorf("NOOP = %q", got)
	}
	for _, tc := range []struct{ cmd, want string }{
		{"RETR 3", "-ERR no such message"},
		{"RETR 0", "-ERR invalid message number"},
		{"RETR x", "-ERR invalid message number"},
		{"RETR", "-ERR missing message number"},
		{"LIST 9", "-ERR no such message"},
		{"TOP 1", "-ERR usage: TOP msg lines"},
		{"TOP 1 -1", "-ERR invalid number of lines"},
		{"USER user", "-ERR already authenticated"},
		{"XYZZY", "-ERR unknown command"},
		{"APOP user 0123", "-ERR unknown command"},
	} {
		if got := c.cmd(tc.cmd); got != tc.want {
			t.Errorf("%s = %q, want %q", tc.cmd, got, tc.want)
		}
	}
	c.okCmd("QUIT")
	c.expectEOF()
}

func TestMailboxAuthorization(t *testing.T) {
	m := &Mailbox{User: "alice", Pass: "open sesame", Greeting: "+OK hello"}
	addr := m.Start(t)
	c := dial(t, addr)
	c.expectLine("+OK hello")
	for _, tc := range []struct{ cmd, want string }{
		{"STAT", "-ERR not authenticated"},
		{"RETR 1", "-ERR not authenticated"},
		{"PASS open sesame", "-ERR send USER first"},
		{"USER", "-ERR missing user name"},
		{"USER alice", "+OK send PASS"},
		{"PASS wrong", "-ERR [AUTH] invalid user name or password"},
		{"PASS open sesame", "-ERR send USER first"},
		{"USER bob", "+OK send PASS"},
		{"PASS open sesame", "-ERR [AUTH] invalid user name or password"},
		{"USER alice", "+OK send PASS"},
		{"PASS open sesame", "+OK maildrop has 0 messages (0 octets)"},
		{"STAT", "+OK 0 0"},
	} {
		if got := c.cmd(tc.cmd); got != tc.want {
			t.Errorf("%s = %q, want %q", tc.cmd, got, tc.want)
		}
	}
}

func TestMailboxErrorGreeting(t *testing.T) {
	m := &Mailbox{Greeting: "-ERR [SYS/TEMP] busy"}
	c := dial(t, m.Start(t))
	c.expectLine("-ERR [SYS/TEMP] busy")
	c.expectEOF()
}

func TestMailboxCapa(t *testing.T) {
	for _, pipelining := range []bool{false, true} {
		m := &Mailbox{Pipelining: pipelining}
		c := dial(t, m.Start(t))
		c.expectLine("+OK pop3test ready")
		c.okCmd("CAPA")
		want := "TOP\r\nUIDL\r\nUSER\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
		if pipelining {
			want += "PIPELINING\r\n"
		}
		want += ".\r\n"
		if got := c.readBlock(); got != want {
			t.Errorf("Pipelining=%v: CAPA = %q, want %q", pipelining, got, want)
		}
	}
}

func TestMailboxDotStuffing(t *testing.T) {
	for _, tc := range []struct{ name, msg, want string }{
		{"plain", "a\r\nb\r\n", "a\r\nb\r\n.\r\n"},
		{"dot lines", "Subject: x\r\n\r\n.\r\n..\r\n.hidden\r\nmid.dle\r\n", "Subject: x\r\n\r\n..\r\n...\r\n..hidden\r\nmid.dle\r\n.\r\n"},
		{"leading dot", ".first\r\nsecond\r\n", "..first\r\nsecond\r\n.\r\n"},
		{"no final CRLF", "a\r\n.b", "a\r\n..b\r\n.\r\n"},
		{"bare LF", "a\nb\n.c\n", "a\r\nb\r\n..c\r\n.\r\n"},
		{"mixed endings", "a\r\nb\n\nc", "a\r\nb\r\n\r\nc\r\n.\r\n"},
		{"empty", "", ".\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &Mailbox{Messages: [][]byte{[]byte(tc.msg)}}
			c := login(t, m.Start(t))
			st := c.okCmd("RETR 1")
			if got := c.readBlock(); got != tc.want {
				t.Errorf("RETR body = %q, want %q", got, tc.want)
			}
			// The size is that of the message as served, before stuffing.
			unstuffed := strings.ReplaceAll("\r\n"+strings.TrimSuffix(tc.want, ".\r\n"), "\r\n.", "\r\n")[2:]
			if want := "+OK " + strconv.Itoa(len(unstuffed)) + " octets"; st != want {
				t.Errorf("RETR status = %q, want %q", st, want)
			}
		})
	}
}

func TestDotStuff(t *testing.T) {
	p := []byte("a\r\nb\r\n")
	if got := dotStuff(nil, p); &got[0] != &p[0] {
		t.Error("dotStuff copied a message that needs no stuffing")
	}
	if got := toCRLF(p); &got[0] != &p[0] {
		t.Error("toCRLF copied a message with CRLF line endings")
	}
	if got := string(toCRLF([]byte("\n\r\n\n"))); got != "\r\n\r\n\r\n" {
		t.Errorf("toCRLF = %q", got)
	}
}

func TestMailboxTop(t *testing.T) {
	msg := "From: a\r\nSubject: s\r\n\r\nl1\r\n.l2\r\nl3\r\n"
	m := &Mailbox{Messages: [][]byte{
		[]byte(msg),
		[]byte("From: only headers\r\n"),
		[]byte("\r\nno headers\r\n"),
	}}
	c := login(t, m.Start(t))
	for _, tc := range []struct{ cmd, want string }{
		{"TOP 1 0", "From: a\r\nSubject: s\r\n\r\n.\r\n"},
		{"TOP 1 1", "From: a\r\nSubject: s\r\n\r\nl1\r\n.\r\n"},
		{"TOP 1 2", "From: a\r\nSubject: s\r\n\r\nl1\r\n..l2\r\n.\r\n"},
		{"TOP 1 3", "From: a\r\nSubject: s\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n"},
		{"TOP 1 100", "From: a\r\nSubject: s\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n"},
		{"TOP 2 5", "From: only headers\r\n.\r\n"},
		{"TOP 3 0", "\r\n.\r\n"},
		{"TOP 3 1", "\r\nno headers\r\n.\r\n"},
	} {
		c.okCmd(tc.cmd)
		if got := c.readBlock(); got != tc.want {
			t.Errorf("%s = %q, want %q", tc.cmd, got, tc.want)
		}
	}
}

func TestMailboxPipelining(t *testing.T) {
	const n = 50
	m := &Mailbox{Pipelining: true}
	for i := range n {
		m.Messages = append(m.Messages, []byte(fmt.Sprintf("Subject: %d\r\n\r\n.body %d\r\n", i+1, i+1)))
	}
	c := login(t, m.Start(t))
	var batch strings.Builder
	for i := range n {
		fmt.Fprintf(&batch, "RETR %d\r\n", i+1)
	}
	batch.WriteString("STAT\r\nQUIT\r\n")
	c.send(batch.String())
	for i := range n {
		if st := c.readLine(); !strings.HasPrefix(st, "+OK ") {
			t.Fatalf("RETR %d: %q", i+1, st)
		}
		want := fmt.Sprintf("Subject: %d\r\n\r\n..body %d\r\n.\r\n", i+1, i+1)
		if got := c.readBlock(); got != want {
			t.Fatalf("RETR %d = %q, want %q", i+1, got, want)
		}
	}
	if st := c.readLine(); !strings.HasPrefix(st, "+OK 50 ") {
		t.Errorf("STAT = %q", st)
	}
	c.expectLine("+OK pop3test signing off")
	c.expectEOF()
}

func TestMailboxPipelinedRepliesAreBatched(t *testing.T) {
	// Replies to a pipelined batch must not be flushed one by one: they
	// should arrive in very few segments. Count the reads needed.
	m := &Mailbox{Pipelining: true}
	c := login(t, m.Start(t))
	const n = 100
	c.send(strings.Repeat("NOOP\r\n", n))
	want := strings.Repeat("+OK\r\n", n)
	buf := make([]byte, len(want))
	if _, err := io.ReadFull(c.r, buf); err != nil {
		t.Fatal(err)
	}
	if string(buf) != want {
		t.Errorf("got %q", buf)
	}
}

// Batching never withholds a reply: a whole command followed by part of the next one is
// answered at once, as a real server would, whatever the client does next.
func TestMailboxAnswersBeforePartialLine(t *testing.T) {
	m := &Mailbox{}
	c := login(t, m.Start(t))
	c.send("NOOP\r\nNO")
	c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := c.r.ReadString('\n'); err != nil || line != "+OK\r\n" {
		t.Fatalf("reply to the whole NOOP: %q, %v", line, err)
	}
	c.send("OP\r\n")
	c.expectLine("+OK")
}

func TestMailboxDeleteCommit(t *testing.T) {
	m := &Mailbox{Messages: [][]byte{
		[]byte("m1\r\n"), []byte("m2\r\n"), []byte("m3\r\n"),
	}}
	addr := m.Start(t)
	if got := m.Remaining(); got != 3 {
		t.Fatalf("Remaining() = %d before any session", got)
	}

	c := login(t, addr)
	if got := c.cmd("DELE 1"); got != "+OK message 1 deleted" {
		t.Errorf("DELE 1 = %q", got)
	}
	if got := c.cmd("DELE 1"); got != "-ERR message 1 already deleted" {
		t.Errorf("second DELE 1 = %q", got)
	}
	if got := c.cmd("RETR 1"); got != "-ERR message 1 already deleted" {
		t.Errorf("RETR of deleted = %q", got)
	}
	if got := c.cmd("DELE 4"); got != "-ERR no such message" {
		t.Errorf("DELE 4 = %q", got)
	}
	if got := c.cmd("STAT"); got != "+OK 2 8" {
		t.Errorf("STAT after DELE = %q", got)
	}
	c.okCmd("LIST")
	if got := c.readBlock(); got != "2 4\r\n3 4\r\n.\r\n" {
		t.Errorf("LIST after DELE = %q", got)
	}
	c.okCmd("QUIT")
	c.expectEOF()
	if got := m.Remaining(); got != 2 {
		t.Errorf("Remaining() = %d after DELE+QUIT, want 2", got)
	}

	// A new session sees the remaining messages renumbered.
	c = login(t, addr)
	if got := c.cmd("STAT"); got != "+OK 2 8" {
		t.Errorf("STAT in new session = %q", got)
	}
	c.okCmd("RETR 1")
	if got := c.readBlock(); got != "m2\r\n.\r\n" {
		t.Errorf("RETR 1 in new session = %q", got)
	}
	c.okCmd("UIDL")
	if got := c.readBlock(); got != "1 uid-2\r\n2 uid-3\r\n.\r\n" {
		t.Errorf("UIDL in new session = %q", got)
	}
}

func TestMailboxDeleteWithoutQuit(t *testing.T) {
	m := &Mailbox{Messages: [][]byte{[]byte("m1\r\n"), []byte("m2\r\n")}}
	addr := m.Start(t)
	c := login(t, addr)
	c.okCmd("DELE 1")
	c.okCmd("DELE 2")
	c.c.Close()

	c = login(t, addr)
	if got := c.cmd("STAT"); got != "+OK 2 8" {
		t.Errorf("STAT = %q, want both messages kept", got)
	}
	if got := m.Remaining(); got != 2 {
		t.Errorf("Remaining() = %d, want 2", got)
	}
}

func TestMailboxRset(t *testing.T) {
	m := &Mailbox{Messages: [][]byte{[]byte("m1\r\n"), []byte("m2\r\n")}}
	addr := m.Start(t)
	c := login(t, addr)
	c.okCmd("DELE 2")
	if got := c.cmd("RSET"); got != "+OK maildrop has 2 messages (8 octets)" {
		t.Errorf("RSET = %q", got)
	}
	c.okCmd("RETR 2")
	c.readBlock()
	c.okCmd("QUIT")
	c.expectEOF()
	if got := m.Remaining(); got != 2 {
		t.Errorf("Remaining() = %d, want 2", got)
	}
}

func TestMailboxQuitInAuthorization(t *testing.T) {
	m := &Mailbox{Messages: [][]byte{[]byte("m1\r\n")}}
	c := dial(t, m.Start(t))
	c.expectLine("+OK pop3test ready")
	c.okCmd("QUIT")
	c.expectEOF()
}

func TestMailboxLongLine(t *testing.T) {
	m := &Mailbox{}
	c := dial(t, m.Start(t))
	c.expectLine("+OK pop3test ready")
	go io.WriteString(c.c, strings.Repeat("N", MaxLineLength+1)+"\r\n")
	c.expectLine("-ERR line too long")
	c.expectEOF()
}

func TestMailboxConcurrentSessions(t *testing.T) {
	const sessions = 8
	m := &Mailbox{Pipelining: true, NoLock: true}
	for i := range 20 {
		m.Messages = append(m.Messages, bytes.Repeat([]byte(fmt.Sprintf(".line %d\r\n", i)), 1000))
	}
	addr := m.Start(t)
	var wg sync.WaitGroup
	for s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := login(t, addr)
			for i := range m.Messages {
				c.okCmd("RETR " + strconv.Itoa(i+1))
				if got, want := c.readBlock(), strings.Repeat(fmt.Sprintf("..line %d\r\n", i), 1000)+".\r\n"; got != want {
					t.Errorf("session %d: RETR %d mismatch", s, i+1)
					return
				}
			}
			c.okCmd("DELE " + strconv.Itoa(s+1))
			c.okCmd("QUIT")
		}()
	}
	wg.Wait()
	if got := m.Remaining(); got != 20-sessions {
		t.Errorf("Remaining() = %d, want %d", got, 20-sessions)
	}
}

func TestMailboxServeReturnsOnClose(t *testing.T) {
	m := &Mailbox{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- m.Serve(l) }()
	c := login(t, l.Addr().String()) // an idle session must not block Serve
	l.Close()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Serve = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the listener was closed")
	}
	c.expectEOF()
}

func TestMailboxLargeMessage(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd\r\n.x\r\n"), 64<<10)
	m := &Mailbox{Messages: [][]byte{body}}
	c := login(t, m.Start(t))
	c.okCmd("RETR 1")
	got, err := c.r.ReadBytes('\n') // first line
	if err != nil {
		t.Fatal(err)
	}
	n := len(got)
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			t.Fatal(err)
		}
		if string(line) == ".\r\n" {
			break
		}
		n += len(line)
	}
	if want := len(body) + bytes.Count(body, []byte("\n.")); n != want {
		t.Errorf("received %d bytes, want %d", n, want)
	}
}

func BenchmarkMailboxRetr(b *testing.B) {
	const size = 8 << 20
	line := []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n.")
	msg := bytes.Repeat(line, size/len(line))
	m := &Mailbox{Messages: [][]byte{msg}}
	c := login(b, m.Start(b))
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	for range b.N {
		c.send("RETR 1\r\n")
		for {
			l, err := c.r.ReadSlice('\n')
			if err != nil {
				b.Fatal(err)
			}
			if string(l) == ".\r\n" {
				break
			}
		}
	}
}
