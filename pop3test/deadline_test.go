package pop3test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

// testIdle is the IdleTimeout of the tests over TCP: short, so that they wait little, and
// never compared with a measured time.
const testIdle = 200 * time.Millisecond

// idleLogin is idleClient logged in with USER and PASS.
func idleLogin(t *testing.T, m *Mailbox) (*rawClient, <-chan struct{}) {
	t.Helper()
	c, done := idleClient(t, m)
	c.okCmd("USER user")
	c.okCmd("PASS pass")
	return c, done
}

// expectAutologout reads the autologout's last line and then the close.
func (c *rawClient) expectAutologout() {
	c.t.Helper()
	c.expectLine("-ERR " + idleLine)
	c.expectEOF()
}

// waitSessionsGone waits, for at most 10 seconds, until no goroutine is left but those
// before ignores, and fails the test if one is.
func waitSessionsGone(t *testing.T, before goleak.Option) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := goleak.Find(before)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the session's goroutine is still running: %v", err)
		}
	}
}

// isLocked reports whether a session holds m's maildrop lock.
func isLocked(m *Mailbox) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.locked
}

// RFC 1939 section 3's autologout: a client that reads the greeting and sends nothing gets
// the final line and the close after IdleTimeout, while the Mailbox runs on; the session's
// goroutine is gone.
func TestMailboxIdleBeforeLogin(t *testing.T) {
	m := &Mailbox{IdleTimeout: testIdle, Record: true}
	addr := m.Start(t)
	before := goleak.IgnoreCurrent()
	c := dial(t, addr)
	c.expectLine("+OK pop3test ready")
	c.expectAutologout()
	waitSessionsGone(t, before)
	if tr := m.Transcripts()[0]; !strings.HasSuffix(tr, "# autologout: the client sent no command for 200ms\nS: -ERR Disconnected for inactivity.\r\n") {
		t.Errorf("transcript = %q", tr)
	}
	c = login(t, addr)
	c.quit()
}

// A logged-in client that marks a message deleted and goes idle: the session ends without
// UPDATE (RFC 1939 sections 3 and 6), so the message is still there; the lock is released
// when the session ends, so the next login gets in with no [IN-USE]; its STAT and RETR
// answer for the message kept (C0017, C0022, C0023).
func TestMailboxIdleNoUpdate(t *testing.T) {
	m := &Mailbox{IdleTimeout: testIdle, Messages: [][]byte{[]byte("Subject: a\r\n\r\na\r\n"), []byte("Subject: b\r\n\r\nb\r\n")}}
	addr := m.Start(t)
	before := goleak.IgnoreCurrent()
	c := login(t, addr)
	c.okCmd("DELE 1")
	c.expectAutologout()
	waitSessionsGone(t, before)
	if isLocked(m) {
		t.Fatal("the maildrop is still locked after the session ended")
	}
	if got := m.Remaining(); got != 2 {
		t.Errorf("%d messages remain, want 2", got)
	}
	if got := m.Deleted(); len(got) != 0 {
		t.Errorf("Deleted = %v, want none", got)
	}
	c = login(t, addr)
	if got, want := c.cmd("STAT"), "+OK 2 34"; got != want {
		t.Errorf("STAT = %q, want %q", got, want)
	}
	c.okCmd("RETR 1")
	if got := c.readBlock(); got != "Subject: a\r\n\r\na\r\n.\r\n" {
		t.Errorf("RETR 1 = %q", got)
	}
	c.quit()
}

// The idle timeout holds over TLS too: on implicit TLS from the greeting, and after STLS
// on the TLS connection.
func TestMailboxIdleTLS(t *testing.T) {
	t.Run("implicit", func(t *testing.T) {
		m := &Mailbox{IdleTimeout: testIdle}
		addr := m.StartTLS(t)
		c := tlsDial(t, addr, m.ClientTLSConfig())
		c.expectLine("+OK pop3test ready")
		c.okCmd("USER user")
		c.okCmd("PASS pass")
		c.expectAutologout()
	})
	t.Run("STLS", func(t *testing.T) {
		m := &Mailbox{IdleTimeout: testIdle, STLS: true}
		addr := m.Start(t)
		c := dial(t, addr)
		c.expectLine("+OK pop3test ready")
		c.okCmd("STLS")
		c.startTLS(m.ClientTLSConfig())
		c.okCmd("USER user")
		c.expectAutologout()
	})
}

// bigMessage is a message of about 16 MiB, more than the socket buffers of both sides
// hold.
func bigMessage() []byte {
	line := []byte(strings.Repeat("0123456789", 7) + "\r\n")
	return bytes.Repeat(line, 16<<20/len(line))
}

// dialGreeting connects to addr, over TLS if cfg is not nil, and returns the client after
// it read the greeting.
func dialGreeting(t *testing.T, addr string, cfg *tls.Config) *rawClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	c := &rawClient{t: t, c: conn, r: bufio.NewReader(conn)}
	if cfg != nil {
		cfg = cfg.Clone()
		cfg.ServerName = "127.0.0.1"
		tc := tls.Client(conn, cfg)
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		c.c, c.r = tc, bufio.NewReader(tc)
	}
	c.expectLine("+OK pop3test ready")
	return c
}

// A client that sends RETR of a large message, then DELE and QUIT, and reads nothing: the
// write of the reply times out and ends the session, long before the Mailbox is closed,
// without executing the DELE and QUIT; the client finds the reply cut short, and the lock
// is released.
func TestMailboxWriteTimeout(t *testing.T) {
	msg := bigMessage()
	for _, implicitTLS := range []bool{false, true} {
		t.Run("TLS="+strconv.FormatBool(implicitTLS), func(t *testing.T) {
			m := &Mailbox{IdleTimeout: testIdle, Messages: [][]byte{msg}}
			var addr string
			var cfg *tls.Config
			if implicitTLS {
				addr, cfg = m.StartTLS(t), m.ClientTLSConfig()
			} else {
				addr = m.Start(t)
			}
			before := goleak.IgnoreCurrent()
			c := dialGreeting(t, addr, cfg)
			c.okCmd("USER user")
			c.okCmd("PASS pass")
			c.send("RETR 1\r\nDELE 1\r\nQUIT\r\n")
			waitSessionsGone(t, before)
			if isLocked(m) {
				t.Fatal("the maildrop is still locked after the session ended")
			}
			if got := m.Remaining(); got != 1 {
				t.Errorf("%d messages remain, want 1: the commands after RETR ran", got)
			}
			rest, err := io.ReadAll(c.r)
			if err != nil && !isPeerClosed(err) {
				t.Fatalf("read: %v", err)
			}
			if !bytes.HasPrefix(rest, []byte("+OK "+strconv.Itoa(len(msg))+" octets\r\n")) || len(rest) >= len(msg) {
				t.Errorf("read %d octets starting %q, want the reply to RETR cut short", len(rest), rest[:min(len(rest), 40)])
			}
			c = dialGreeting(t, addr, cfg)
			c.okCmd("USER user")
			c.okCmd("PASS pass")
			c.quit()
		})
	}
}

// On synctest's clock: without IdleTimeout, a session waits exactly 10 minutes (RFC 1939
// section 3's shortest autologout timer) for a command, then sends the final line, closes
// and releases the lock.
func TestMailboxIdleTimeoutDefault(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second} {
		if got := (&Mailbox{IdleTimeout: d}).idleTimeout(); got != 10*time.Minute {
			t.Errorf("IdleTimeout %v: %v, want 10m", d, got)
		}
	}
	synctest.Test(t, func(t *testing.T) {
		m := &Mailbox{Messages: [][]byte{[]byte("Subject: a\r\n\r\na\r\n")}}
		c, done := idleLogin(t, m)
		c.okCmd("DELE 1")
		start := time.Now()
		c.expectLine("-ERR Disconnected for inactivity.")
		if elapsed := time.Since(start); elapsed != 10*time.Minute {
			t.Errorf("autologout after %v, want 10m", elapsed)
		}
		c.expectEOF()
		<-done
		if isLocked(m) || m.Remaining() != 1 {
			t.Errorf("after the autologout: locked %v, %d messages remain", isLocked(m), m.Remaining())
		}
	})
}

// On synctest's clock: the timeout counts from the last reply, so commands coming just
// before it keep the session; a client that pauses in the middle of AUTH is logged out
// like an idle one, with the lower-case status of the quirk.
func TestMailboxIdleRearmed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const d = time.Minute
		m := &Mailbox{IdleTimeout: d, SASL: []string{"PLAIN"}, Quirks: Quirks{LowerCaseStatus: true}}
		c, done := idleClient(t, m)
		for range 5 {
			time.Sleep(d - time.Nanosecond)
			c.cmd("NOOP")
		}
		// Half an IdleTimeout later, so that a deadline left from the wait before the
		// challenge would end the session too early: the wait for the response is armed
		// again when the challenge has been sent.
		time.Sleep(d / 2)
		c.send("AUTH PLAIN\r\n")
		c.expectLine("+ ")
		start := time.Now()
		c.expectLine("-err Disconnected for inactivity.")
		if elapsed := time.Since(start); elapsed != d {
			t.Errorf("autologout %v after the challenge, want %v", elapsed, d)
		}
		c.expectEOF()
		<-done
	})
}

// On synctest's clock, over net.Pipe (which buffers nothing): a client that stops reading
// a RETR reply ends the session exactly IdleTimeout after the piece being written began;
// one that reads slowly but takes every piece of 256 KiB within IdleTimeout gets the whole
// reply, though it takes longer than IdleTimeout.
func TestMailboxWriteBoundSynctest(t *testing.T) {
	const d = time.Minute
	msg := bytes.Repeat([]byte(strings.Repeat("x", 62)+"\r\n"), 1<<20/64) // 1 MiB, 4 pieces
	synctest.Test(t, func(t *testing.T) {
		m := &Mailbox{IdleTimeout: d, Messages: [][]byte{msg}}
		c, done := idleLogin(t, m)
		start := time.Now()
		c.send("RETR 1\r\nDELE 1\r\nQUIT\r\n")
		c.expectLine("+OK 1048576 octets")
		<-done
		if elapsed := time.Since(start); elapsed != d {
			t.Errorf("the session ended %v after RETR, want %v", elapsed, d)
		}
		if isLocked(m) || m.Remaining() != 1 {
			t.Errorf("after the write timeout: locked %v, %d messages remain", isLocked(m), m.Remaining())
		}
	})
	synctest.Test(t, func(t *testing.T) {
		m := &Mailbox{IdleTimeout: d, Messages: [][]byte{msg}}
		c, _ := idleLogin(t, m)
		start := time.Now()
		c.send("RETR 1\r\n")
		want := "+OK 1048576 octets\r\n" + string(msg) + ".\r\n"
		got := make([]byte, 0, len(want))
		buf := make([]byte, 128<<10)
		for len(got) < len(want) {
			time.Sleep(d / 4)
			n, err := io.ReadFull(c.r, buf[:min(len(buf), len(want)-len(got))])
			got = append(got, buf[:n]...)
			if err != nil {
				t.Fatalf("after %d octets: %v", len(got), err)
			}
		}
		if string(got) != want {
			t.Error("the reply to RETR differs from the message")
		}
		if elapsed := time.Since(start); elapsed <= d {
			t.Errorf("the reply took %v, want longer than IdleTimeout for this test", elapsed)
		}
		c.quit()
	})
}
