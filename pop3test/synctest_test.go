package pop3test

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// servePipe serves one session of m on an in-memory connection and returns the client's
// side; closing stop tells the server to end, and done is closed once it has.
func servePipe(m *Mailbox) (client net.Conn, stop chan struct{}, done <-chan struct{}) {
	server, client := net.Pipe()
	stop = make(chan struct{})
	ended := make(chan struct{})
	go func() {
		m.serveConn(server, false, stop)
		server.Close()
		close(ended)
	}()
	return client, stop, ended
}

// pipeSession starts a session of m on an in-memory connection, for tests in a synctest
// bubble, and returns the client's side after reading the greeting.
func pipeSession(t *testing.T, m *Mailbox) *rawClient {
	t.Helper()
	c, _ := idleClient(t, m)
	return c
}

// idleClient is pipeSession that also returns the channel closed when the session has
// ended.
func idleClient(t *testing.T, m *Mailbox) (*rawClient, <-chan struct{}) {
	t.Helper()
	client, stop, done := servePipe(m)
	t.Cleanup(func() {
		close(stop)
		client.Close()
		<-done
	})
	c := &rawClient{t: t, c: client, r: bufio.NewReader(client)}
	c.readLine()
	return c, done
}

// Quirks.FailedLoginDelay: the refusal comes exactly after the delay (on synctest's clock),
// a good password at once.
func TestQuirkFailedLoginDelaySynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const d = 7 * time.Second // Courier's
		m := &Mailbox{Quirks: Quirks{FailedLoginDelay: d}}
		c := pipeSession(t, m)
		c.okCmd("USER user")
		start := time.Now()
		if got := c.cmd("PASS wrong"); !strings.HasPrefix(got, "-ERR [AUTH]") {
			t.Errorf("PASS = %q", got)
		}
		if elapsed := time.Since(start); elapsed != d {
			t.Errorf("refused after %v, want %v", elapsed, d)
		}
		c.okCmd("USER user")
		start = time.Now()
		c.okCmd("PASS pass")
		if elapsed := time.Since(start); elapsed != 0 {
			t.Errorf("accepted after %v", elapsed)
		}
	})
}

// A login that finds the maildrop locked waits lockGrace for the holder to end: [IN-USE]
// after exactly lockGrace if it does not, success as soon as the holder's connection
// closes if it does.
func TestMailboxLockGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &Mailbox{}
		holder := pipeSession(t, m)
		holder.okCmd("USER user")
		holder.okCmd("PASS pass")

		second := pipeSession(t, m)
		second.okCmd("USER user")
		start := time.Now()
		if got := second.cmd("PASS pass"); !strings.HasPrefix(got, "-ERR [IN-USE]") {
			t.Errorf("PASS = %q", got)
		}
		if elapsed := time.Since(start); elapsed != lockGrace {
			t.Errorf("IN-USE after %v, want %v", elapsed, lockGrace)
		}

		second.okCmd("USER user")
		second.send("PASS pass\r\n")
		time.Sleep(lockGrace / 2)
		holder.c.Close() // without QUIT, during the grace period
		second.expectLine("+OK maildrop has 0 messages (0 octets)")
		if elapsed := time.Since(start); elapsed != lockGrace+lockGrace/2 {
			t.Errorf("logged in %v after the first PASS, want %v", elapsed, lockGrace+lockGrace/2)
		}
	})
}

// RFC 2449 section 8.1.2, on synctest's clock: a login sooner than LoginDelay after the
// previous successful one is refused with [LOGIN-DELAY]; a refused login does not restart
// the delay, so one at the full delay succeeds.
func TestMailboxLoginDelaySynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &Mailbox{LoginDelay: time.Minute, NoLock: true}
		c := pipeSession(t, m)
		c.okCmd("USER user")
		c.okCmd("PASS pass")
		time.Sleep(59 * time.Second)
		c = pipeSession(t, m)
		c.okCmd("USER user")
		if got := c.cmd("PASS pass"); !strings.HasPrefix(got, "-ERR [LOGIN-DELAY] ") {
			t.Errorf("PASS after 59 s = %q", got)
		}
		time.Sleep(time.Second)
		c.okCmd("USER user")
		c.okCmd("PASS pass")
		c = pipeSession(t, m)
		c.okCmd("USER user")
		if got := c.cmd("PASS pass"); !strings.HasPrefix(got, "-ERR [LOGIN-DELAY] ") {
			t.Errorf("PASS at once after a login = %q", got)
		}
	})
}
