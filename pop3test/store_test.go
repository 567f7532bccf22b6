package pop3test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// uidl returns the body of a UIDL reply.
func (c *rawClient) uidl() string {
	c.t.Helper()
	c.okCmd("UIDL")
	return c.readBlock()
}

// quit ends a session with QUIT.
func (c *rawClient) quit() {
	c.t.Helper()
	c.okCmd("QUIT")
	c.expectEOF()
}

func contentsString(msgs []Message) string {
	var parts []string
	for _, m := range msgs {
		parts = append(parts, m.UID+"="+string(m.Data))
	}
	return strings.Join(parts, " ")
}

// MS-STANOPOP3 C0041: two messages may share a unique-id; unique-ids are served verbatim,
// however long, and a missing or empty entry of UIDs means "uid-<n>".
func TestMailboxUIDs(t *testing.T) {
	long := strings.Repeat("L", 300)
	m := &Mailbox{
		Messages: [][]byte{[]byte("a\r\n"), []byte("b\r\n"), []byte("c\r\n"), []byte("d\r\n")},
		UIDs:     []string{"same", "same", "", long},
	}
	c := login(t, m.Start(t))
	if got, want := c.uidl(), "1 same\r\n2 same\r\n3 uid-3\r\n4 "+long+"\r\n.\r\n"; got != want {
		t.Errorf("UIDL = %q, want %q", got, want)
	}
	if got := c.cmd("UIDL 4"); got != "+OK 4 "+long {
		t.Errorf("UIDL 4 = %q", got)
	}

	m2 := &Mailbox{Messages: [][]byte{[]byte("a\r\n"), []byte("b\r\n")}, UIDs: []string{"!~{}"}}
	if got, want := contentsString(m2.Contents()), "!~{}=a\r\n uid-2=b\r\n"; got != want {
		t.Errorf("Contents = %q, want %q", got, want)
	}
}

// New mail arrives between sessions: a session keeps the view it had at login; the next one
// sees the new message, with a unique-id never used before when none is given (MS-STANOPOP3
// C0040: a unique-id is not reused).
func TestMailboxAdd(t *testing.T) {
	m := &Mailbox{
		Messages: [][]byte{[]byte("one\r\n"), []byte("two\r\n")},
		UIDs:     []string{"uid-3"}, // so the fresh unique-ids must skip uid-3
		NoLock:   true,
	}
	addr := m.Start(t)
	old := login(t, addr)
	m.Add("", []byte("three\n"))
	m.Add("chosen", []byte("four\r\n"))
	m.Add("", []byte("five\r\n"))
	if got, want := old.uidl(), "1 uid-3\r\n2 uid-2\r\n.\r\n"; got != want {
		t.Errorf("UIDL of the session logged in before Add = %q, want %q", got, want)
	}
	c := login(t, addr)
	if got, want := c.uidl(), "1 uid-3\r\n2 uid-2\r\n3 uid-4\r\n4 chosen\r\n5 uid-5\r\n.\r\n"; got != want {
		t.Errorf("UIDL after Add = %q, want %q", got, want)
	}
	c.okCmd("RETR 3")
	if got := c.readBlock(); got != "three\r\n.\r\n" {
		t.Errorf("RETR 3 = %q", got)
	}
	if got, want := contentsString(m.Contents()), "uid-3=one\r\n uid-2=two\r\n uid-4=three\n chosen=four\r\n uid-5=five\r\n"; got != want {
		t.Errorf("Contents = %q, want %q (Data as given)", got, want)
	}
	// Add copies the data; Contents returns copies.
	data := []byte("six\r\n")
	m.Add("six", data)
	data[0] = 'X'
	got := m.Contents()
	got[5].Data[0] = 'Y'
	if again := m.Contents(); string(again[5].Data) != "six\r\n" {
		t.Errorf("message 6 = %q after changing the caller's slices", again[5].Data)
	}
	// A fresh unique-id is never one a message had before, even one since deleted.
	c.okCmd("DELE 5")
	c.quit()
	m.Add("", nil)
	if got := m.Contents(); got[len(got)-1].UID != "uid-7" {
		t.Errorf("fresh unique-id after deleting uid-5: %q, want uid-7", got[len(got)-1].UID)
	}
}

// Remove takes away every remaining message with a unique-id, as a server expiring mail,
// without touching the view of a session logged in; Deleted does not list them.
func TestMailboxRemove(t *testing.T) {
	m := &Mailbox{
		Messages: [][]byte{[]byte("a\r\n"), []byte("b\r\n"), []byte("c\r\n")},
		UIDs:     []string{"x", "y", "x"},
		NoLock:   true,
	}
	addr := m.Start(t)
	old := login(t, addr)
	if n := m.Remove("x"); n != 2 {
		t.Errorf("Remove(x) = %d, want 2", n)
	}
	if n := m.Remove("nothing"); n != 0 {
		t.Errorf("Remove(nothing) = %d, want 0", n)
	}
	if got := old.cmd("STAT"); got != "+OK 3 9" {
		t.Errorf("STAT of the session logged in before Remove = %q", got)
	}
	c := login(t, addr)
	if got := c.uidl(); got != "1 y\r\n.\r\n" {
		t.Errorf("UIDL after Remove = %q", got)
	}
	// The old session deletes a removed message and a remaining one: only the remaining
	// one is committed.
	old.okCmd("DELE 3")
	old.okCmd("DELE 2")
	old.quit()
	if got := contentsString(m.Contents()); got != "" {
		t.Errorf("Contents = %q, want none", got)
	}
	if got := contentsString(m.Deleted()); got != "y=b\r\n" {
		t.Errorf("Deleted = %q, want y alone", got)
	}
}

// Deleted lists what committed sessions deleted, in DELE order; RSET and a session cut
// without QUIT delete nothing.
func TestMailboxDeleted(t *testing.T) {
	m := &Mailbox{Messages: [][]byte{[]byte("1\r\n"), []byte("2\r\n"), []byte("3\r\n"), []byte("4\r\n")}}
	addr := m.Start(t)
	c := login(t, addr)
	c.okCmd("DELE 1")
	c.okCmd("RSET")
	c.okCmd("DELE 3")
	c.okCmd("DELE 1")
	c.quit()
	c = login(t, addr)
	c.okCmd("DELE 1")
	c.c.Close()
	c = login(t, addr)
	c.okCmd("DELE 2")
	c.quit()
	if got, want := contentsString(m.Deleted()), "uid-3=3\r\n uid-1=1\r\n uid-4=4\r\n"; got != want {
		t.Errorf("Deleted = %q, want %q", got, want)
	}
	if got, want := contentsString(m.Contents()), "uid-2=2\r\n"; got != want {
		t.Errorf("Contents = %q, want %q", got, want)
	}
	if m.Remaining() != 1 {
		t.Errorf("Remaining = %d", m.Remaining())
	}
}

// RFC 1939 section 8, RFC 2449 section 8.1.1: the maildrop is locked from a successful
// login until the session ends; a second login meanwhile gets [IN-USE], a failed one does
// not take the lock, and QUIT releases it before its reply.
func TestMailboxLock(t *testing.T) {
	m := &Mailbox{Messages: [][]byte{[]byte("a\r\n")}}
	addr := m.Start(t)

	bad := dial(t, addr)
	bad.expectLine("+OK pop3test ready")
	bad.okCmd("USER user")
	if got := bad.cmd("PASS wrong"); !strings.HasPrefix(got, "-ERR [AUTH]") {
		t.Fatalf("wrong PASS = %q", got)
	}

	first := login(t, addr)
	second := dial(t, addr)
	second.expectLine("+OK pop3test ready")
	second.okCmd("USER user")
	if got := second.cmd("PASS pass"); !strings.HasPrefix(got, "-ERR [IN-USE] ") {
		t.Fatalf("PASS while locked = %q, want -ERR [IN-USE]", got)
	}
	if got := second.cmd("STAT"); got != "-ERR not authenticated" {
		t.Errorf("STAT after IN-USE = %q", got)
	}
	first.quit()
	second.okCmd("USER user")
	second.okCmd("PASS pass") // QUIT answered: the lock is free
	second.c.Close()          // a cut session releases it too, once the server sees the close
	waitUnlocked(t, m)
	login(t, addr).quit()

	free := &Mailbox{NoLock: true}
	addr = free.Start(t)
	login(t, addr)
	login(t, addr).quit()
}

// waitUnlocked waits until no session holds m's lock.
func waitUnlocked(t *testing.T, m *Mailbox) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m.mu.Lock()
		locked := m.locked
		unlocked := m.unlocked
		m.mu.Unlock()
		if !locked {
			return
		}
		select {
		case <-unlocked:
		case <-time.After(time.Until(deadline)):
			t.Fatal("the lock was not released")
		}
	}
}

// RFC 2449 section 6.8: LOGIN-DELAY listed in CAPA in whole seconds, rounded up; its
// enforcement is tested on synctest's clock by TestMailboxLoginDelaySynctest.
func TestMailboxLoginDelayCapa(t *testing.T) {
	for delay, want := range map[time.Duration]string{90 * time.Second: "90", 1500 * time.Millisecond: "2"} {
		m := &Mailbox{LoginDelay: delay}
		c := dial(t, m.Start(t))
		c.expectLine("+OK pop3test ready")
		c.okCmd("CAPA")
		if got := c.readBlock(); !strings.Contains(got, "\r\nLOGIN-DELAY "+want+"\r\n") {
			t.Errorf("LoginDelay %v: CAPA = %q, want LOGIN-DELAY %s", delay, got, want)
		}
	}
}

// RFC 2449 section 6.7: EXPIRE listed as given; Quirks.NoUIDL removes UIDL from CAPA and
// from the commands.
func TestMailboxCapaExpireNoUIDL(t *testing.T) {
	m := &Mailbox{Expire: "NEVER", Quirks: Quirks{NoUIDL: true}, Messages: [][]byte{[]byte("a\r\n")}}
	c := dial(t, m.Start(t))
	c.expectLine("+OK pop3test ready")
	c.okCmd("CAPA")
	if got, want := c.readBlock(), "TOP\r\nUSER\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nEXPIRE NEVER\r\n.\r\n"; got != want {
		t.Errorf("CAPA = %q, want %q", got, want)
	}
	c.okCmd("USER user")
	c.okCmd("PASS pass")
	if got := c.cmd("UIDL"); !strings.HasPrefix(got, "-ERR") {
		t.Errorf("UIDL = %q", got)
	}
	if got := c.cmd("UIDL 1"); !strings.HasPrefix(got, "-ERR") {
		t.Errorf("UIDL 1 = %q", got)
	}
}

// Add, Remove, Contents and Deleted are safe while sessions run (checked by -race).
func TestMailboxStoreConcurrent(t *testing.T) {
	m := &Mailbox{NoLock: true}
	addr := m.Start(t)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				uid := fmt.Sprintf("g%d-%d", g, i)
				m.Add(uid, []byte(uid+"\r\n"))
				c := login(t, addr)
				c.cmd("DELE 1") // another goroutine may have removed every message
				c.quit()
				m.Remove(uid)
				m.Contents()
				m.Deleted()
			}
		}()
	}
	wg.Wait()
	// Every goroutine removes its own message if no session deleted it first.
	if got := m.Contents(); len(got) != 0 {
		t.Errorf("Contents = %v, want none", got)
	}
	seen := map[string]bool{}
	for _, msg := range m.Deleted() {
		if seen[msg.UID] {
			t.Errorf("%s deleted twice", msg.UID)
		}
		seen[msg.UID] = true
	}
}
