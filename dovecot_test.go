package pop3_test

// Integration tests of the Client against a real Dovecot 2.3 started on 127.0.0.1 by
// internal/dovecottest. They skip when Dovecot is absent (or the tests do not run as root)
// unless POP3_TEST_DOVECOT is set, in which case that is a failure:
//
//	POP3_TEST_DOVECOT=1 go test -race -run Dovecot -v .
//
// Every test starts its own instance, so no two tests share a mailbox, and they run in
// parallel. Comments name the MS-STANOPOP3 items each test covers against a real server.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/popwire/pop3"
	"github.com/popwire/pop3/internal/dovecottest"
)

// dcTimeout bounds every wait on Dovecot; generous, for the race detector on a slow machine.
const dcTimeout = 30 * time.Second

// dcStart starts a private Dovecot holding dovecottest.Messages() for alice.
func dcStart(t *testing.T) (*dovecottest.Server, []dovecottest.Message) {
	t.Helper()
	msgs := dovecottest.Messages()
	return dovecottest.Start(t, msgs), msgs
}

// dcCountingConn counts the octets the client writes, to show that a call sent nothing.
type dcCountingConn struct {
	net.Conn
	written atomic.Int64
}

func (c *dcCountingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}

// dcDialer dials as a net.Dialer does and wraps the connection in a dcCountingConn, which
// it keeps for the test (Options.Dialer).
type dcDialer struct{ conn *dcCountingConn }

func (d *dcDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	nc, err := new(net.Dialer).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	d.conn = &dcCountingConn{Conn: nc}
	return d.conn, nil
}

// dcDial opens a session on the plain port (C0001) through a counting connection and
// checks the greeting (C0002, C0007). Dial gets the dialled address, 127.0.0.1, so the
// cleartext login is allowed; a NewClient over the same socket would not know where it
// leads.
func dcDial(t *testing.T, srv *dovecottest.Server) (*pop3.Client, *dcCountingConn) {
	t.Helper()
	d := new(dcDialer)
	c, err := pop3.Dial(srv.Addr, &pop3.Options{Timeout: dcTimeout, Dialer: d})
	if err != nil {
		t.Fatalf("Dial %s: %v", srv.Addr, err)
	}
	cc := d.conn
	t.Cleanup(func() { c.Close() })
	if g := c.Greeting(); !strings.HasPrefix(g, "Dovecot") {
		t.Errorf("Greeting() = %q, want Dovecot's", g)
	}
	if n := cc.written.Load(); n != 0 {
		t.Errorf("%d octets written before any call", n)
	}
	return c, cc
}

// dcLogin opens a session and logs in as alice (C0042, C0044, C0046).
func dcLogin(t *testing.T, srv *dovecottest.Server) (*pop3.Client, *dcCountingConn) {
	t.Helper()
	c, cc := dcDial(t, srv)
	if err := c.Login("alice", srv.Users["alice"]); err != nil {
		t.Fatalf("Login(alice): %v", err)
	}
	return c, cc
}

// dcRead drains and closes a body reader.
func dcRead(t *testing.T, what string, rc io.ReadCloser, err error) []byte {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("%s: reading the body: %v", what, err)
	}
	if err := rc.Close(); err != nil {
		t.Fatalf("%s: Close: %v", what, err)
	}
	return data
}

// dcCompare reports where got and want first differ, with a little context.
func dcCompare(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	lo := max(i-20, 0)
	t.Errorf("%s: got %d octets, want %d; first difference at octet %d: got %q, want %q",
		what, len(got), len(want), i, got[lo:min(i+20, len(got))], want[lo:min(i+20, len(want))])
}

// dcListSize is the size Dovecot lists for a stored message: its octets with every LF
// counted as CRLF (RFC 1939 §11), without the CRLF it adds after a last line that has none.
func dcListSize(stored []byte) int64 {
	n := int64(len(dovecottest.Wire(stored)))
	if !bytes.HasSuffix(stored, []byte("\n")) {
		n -= 2
	}
	return n
}

// dcTop is what TOP n lines delivers for a stored message: the header, the blank line and
// the first lines lines of the body, on the wire (CRLF, a final CRLF added if missing).
func dcTop(stored []byte, lines int) []byte {
	i := bytes.Index(stored, []byte("\n\n"))
	if i < 0 {
		panic("stored message without a blank line after the header")
	}
	out := append([]byte(nil), stored[:i+2]...)
	body := stored[i+2:]
	for k := 0; k < lines && len(body) > 0; k++ {
		j := bytes.IndexByte(body, '\n')
		if j < 0 {
			out = append(out, body...)
			break
		}
		out = append(out, body[:j+1]...)
		body = body[j+1:]
	}
	return dovecottest.Wire(out)
}

// TestDovecotRetrMatchesStored retrieves every message and compares it octet for octet
// with what is stored, and checks STAT and LIST against the store.
//
// Covers C0001 (connect), C0002/C0007 (greeting first, nothing sent before it), C0015/C0017
// (STAT), C0020/C0021 (LIST listing and exact sizes), C0022/C0023 (RETR body: dot-unstuffed,
// CRLF kept, lines of "." and ".." and a 100 000-octet line, 8-bit text, an empty body, a
// missing final newline, ~2 MiB), V0002 (dot-unstuffing), V0003 (bare LIST), C0006
// (multi-line termination), C0013 (many commands in one session), C0030 (QUIT).
func TestDovecotRetrMatchesStored(t *testing.T) {
	t.Parallel()
	srv, msgs := dcStart(t)
	c, _ := dcDial(t, srv)

	caps, err := c.Capabilities()
	if err != nil {
		t.Fatalf("Capabilities: %v", err)
	}
	for _, name := range []string{"TOP", "UIDL", "USER", "STLS", "PIPELINING", "RESP-CODES", "AUTH-RESP-CODE"} {
		if !caps.Has(name) {
			t.Errorf("capabilities before login lack %s: %v", name, caps)
		}
	}
	if got := strings.Join(caps.Args("SASL"), " "); got != "PLAIN LOGIN" {
		t.Errorf("SASL arguments %q, want \"PLAIN LOGIN\"", got)
	}
	if err := c.Login("alice", srv.Users["alice"]); err != nil {
		t.Fatalf("Login: %v", err)
	}

	var total int64
	for _, m := range msgs {
		total += dcListSize(m.Data)
	}
	count, size, err := c.Stat()
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if count != len(msgs) || size != total {
		t.Errorf("Stat() = %d, %d; want %d, %d", count, size, len(msgs), total)
	}

	list, err := c.List()
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(list) != len(msgs) {
		t.Fatalf("List() has %d entries, want %d", len(list), len(msgs))
	}
	for i, e := range list {
		if want := (pop3.ListEntry{Number: i + 1, Size: dcListSize(msgs[i].Data)}); e != want {
			t.Errorf("List()[%d] = %+v, want %+v (%s)", i, e, want, msgs[i].Name)
		}
	}

	for i, m := range msgs {
		rc, err := c.Retr(i + 1)
		got := dcRead(t, fmt.Sprintf("Retr(%d)", i+1), rc, err)
		dcCompare(t, fmt.Sprintf("Retr(%d) (%s)", i+1, m.Name), got, dovecottest.Wire(m.Data))
	}

	// The session is still in step after all that (C0013).
	if err := c.Noop(); err != nil {
		t.Errorf("Noop after the retrievals: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Errorf("Quit: %v", err)
	}
}

// TestDovecotTop checks TOP n 0 (the header and the blank line), TOP n 2 and a TOP whose
// line count exceeds the body (the whole message) for every message, and that an unread
// TOP body is drained before the next command.
//
// Covers C0032 (TOP arguments), C0034 (TOP reply: header, blank line, up to n body lines;
// n beyond the body gives the whole message), C0022/C0023 (body octets) and V0002.
func TestDovecotTop(t *testing.T) {
	t.Parallel()
	srv, msgs := dcStart(t)
	c, _ := dcLogin(t, srv)

	for i, m := range msgs {
		for _, lines := range []int{0, 2} {
			rc, err := c.Top(i+1, lines)
			got := dcRead(t, fmt.Sprintf("Top(%d, %d)", i+1, lines), rc, err)
			dcCompare(t, fmt.Sprintf("Top(%d, %d) (%s)", i+1, lines, m.Name), got, dcTop(m.Data, lines))
		}
	}
	// More lines than any body has: the whole message, as RETR gives it.
	for i, m := range msgs {
		if m.Name != "dots" && m.Name != "no-final-newline" && m.Name != "long-line" {
			continue
		}
		rc, err := c.Top(i+1, 1000000)
		got := dcRead(t, fmt.Sprintf("Top(%d, 1000000)", i+1), rc, err)
		dcCompare(t, fmt.Sprintf("Top(%d, 1000000) (%s)", i+1, m.Name), got, dovecottest.Wire(m.Data))
	}

	// A body left unread is drained by the next command; the session stays in step.
	if _, err := c.Top(2, 5); err != nil {
		t.Fatalf("Top(2, 5): %v", err)
	}
	rc, err := c.Top(1, 0)
	got := dcRead(t, "Top(1, 0) after an unread Top", rc, err)
	dcCompare(t, "Top(1, 0) after an unread Top", got, dcTop(msgs[0].Data, 0))
	if err := c.Quit(); err != nil {
		t.Errorf("Quit: %v", err)
	}
}

// TestDovecotUIDLStable lists unique-ids in two sessions: they are equal, unique, within
// RFC 1939's form, and those the instance was built with.
//
// Covers C0035/C0037 (UIDL listing), V0007 (bare UIDL), C0038 (number, blank, uid),
// C0039 (1-70 octets in 0x21-0x7E, persistent across sessions), C0040 (no reuse).
func TestDovecotUIDLStable(t *testing.T) {
	t.Parallel()
	srv, msgs := dcStart(t)

	var sessions [2][]pop3.UIDEntry
	for s := range sessions {
		c, _ := dcLogin(t, srv)
		uids, err := c.UIDL()
		if err != nil {
			t.Fatalf("session %d: UIDL: %v", s+1, err)
		}
		sessions[s] = uids
		if err := c.Quit(); err != nil {
			t.Fatalf("session %d: Quit: %v", s+1, err)
		}
	}
	first, second := sessions[0], sessions[1]
	if len(first) != len(msgs) {
		t.Fatalf("UIDL has %d entries, want %d", len(first), len(msgs))
	}
	if len(second) != len(first) {
		t.Fatalf("second UIDL has %d entries, the first %d", len(second), len(first))
	}
	seen := map[string]int{}
	for i, e := range first {
		if e != second[i] {
			t.Errorf("entry %d: %+v in the first session, %+v in the second", i, e, second[i])
		}
		if e.Number != i+1 {
			t.Errorf("entry %d has number %d", i, e.Number)
		}
		if want := dovecottest.UIDL(i + 1); e.UID != want {
			t.Errorf("message %d: UID %q, want %q", e.Number, e.UID, want)
		}
		if len(e.UID) < 1 || len(e.UID) > 70 || strings.IndexFunc(e.UID, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
			t.Errorf("message %d: UID %q is not 1-70 octets of 0x21-0x7E", e.Number, e.UID)
		}
		if j, dup := seen[e.UID]; dup {
			t.Errorf("messages %d and %d share the UID %q", j, e.Number, e.UID)
		}
		seen[e.UID] = e.Number
	}
}

// TestDovecotDeleQuitCommits marks message 2 deleted and quits: the next session has one
// message fewer, renumbered, and message 2's UID is gone.
//
// Covers C0024 (DELE n), C0026 (a deleted message leaves LIST, UIDL and STAT in the
// session), C0030 and RFC 1939 §6 (QUIT in TRANSACTION commits the deletion),
// C0040 (UIDs, not numbers, identify messages across sessions).
func TestDovecotDeleQuitCommits(t *testing.T) {
	t.Parallel()
	srv, msgs := dcStart(t)

	c, _ := dcLogin(t, srv)
	before, err := c.UIDL()
	if err != nil {
		t.Fatalf("UIDL: %v", err)
	}
	if err := c.Dele(2); err != nil {
		t.Fatalf("Dele(2): %v", err)
	}
	// In the same session message 2 has left the listings; the others keep their numbers.
	list, err := c.List()
	if err != nil {
		t.Fatalf("List after Dele: %v", err)
	}
	if len(list) != len(msgs)-1 || list[0].Number != 1 || list[1].Number != 3 {
		t.Errorf("List after Dele(2) = %v; want numbers 1, 3, 4, ...", list)
	}
	uids, err := c.UIDL()
	if err != nil {
		t.Fatalf("UIDL after Dele: %v", err)
	}
	for _, e := range uids {
		if e.Number == 2 || e.UID == before[1].UID {
			t.Errorf("UIDL after Dele(2) still lists %+v", e)
		}
	}
	if n, _, err := c.Stat(); err != nil || n != len(msgs)-1 {
		t.Errorf("Stat after Dele(2) = %d, %v; want %d", n, err, len(msgs)-1)
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("Quit: %v", err)
	}

	c2, _ := dcLogin(t, srv)
	n, _, err := c2.Stat()
	if err != nil {
		t.Fatalf("second session: Stat: %v", err)
	}
	if n != len(msgs)-1 {
		t.Errorf("second session: Stat count %d, want %d", n, len(msgs)-1)
	}
	after, err := c2.UIDL()
	if err != nil {
		t.Fatalf("second session: UIDL: %v", err)
	}
	var want []string
	for i, e := range before {
		if i != 1 {
			want = append(want, e.UID)
		}
	}
	var got []string
	for _, e := range after {
		got = append(got, e.UID)
		if e.UID == before[1].UID {
			t.Errorf("second session: the deleted message's UID %q is still listed", e.UID)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("second session: UIDs\n%v\nwant\n%v", got, want)
	}
	// Numbers are per session: message 2 is now what was message 3.
	rc, err := c2.Retr(2)
	dcCompare(t, "second session: Retr(2)", dcRead(t, "Retr(2)", rc, err), dovecottest.Wire(msgs[2].Data))
	if err := c2.Quit(); err != nil {
		t.Errorf("second session: Quit: %v", err)
	}
}

// TestDovecotDeleCloseKeeps marks messages deleted and closes without QUIT: the server never
// enters UPDATE, and the next session sees every message.
//
// Covers V0006 (no RSET: closing without QUIT undoes deletions), RFC 1939 §6 (a session
// that ends without QUIT deletes nothing), C0026.
func TestDovecotDeleCloseKeeps(t *testing.T) {
	t.Parallel()
	srv, msgs := dcStart(t)

	c, cc := dcLogin(t, srv)
	before, err := c.UIDL()
	if err != nil {
		t.Fatalf("UIDL: %v", err)
	}
	for _, n := range []int{1, 2, len(msgs)} {
		if err := c.Dele(n); err != nil {
			t.Fatalf("Dele(%d): %v", n, err)
		}
	}
	if n, _, err := c.Stat(); err != nil || n != len(msgs)-3 {
		t.Errorf("Stat after three Dele = %d, %v; want %d", n, err, len(msgs)-3)
	}
	written := cc.written.Load()
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if n := cc.written.Load(); n != written {
		t.Errorf("Close wrote %d octets; it must not send QUIT", n-written)
	}

	c2, _ := dcLogin(t, srv)
	n, _, err := c2.Stat()
	if err != nil {
		t.Fatalf("second session: Stat: %v", err)
	}
	if n != len(msgs) {
		t.Errorf("second session: Stat count %d, want %d: a deletion took effect without QUIT", n, len(msgs))
	}
	after, err := c2.UIDL()
	if err != nil {
		t.Fatalf("second session: UIDL: %v", err)
	}
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("second session: UIDL\n%v\nwant\n%v", after, before)
	}
	if err := c2.Quit(); err != nil {
		t.Errorf("second session: Quit: %v", err)
	}
}

// TestDovecotErrors checks Dovecot's negative replies arrive as *pop3.Error and leave the
// session usable, and that calls the client refuses locally send nothing.
//
// Covers C0010 (after an auth -ERR the connection stays open and another login may
// follow), C0008/C0016 (no TRANSACTION command before login, nothing sent), C0011
// (message numbers from 1, checked locally), C0026 (a message deleted in the session is
// refused locally, nothing sent), C0031 (an -ERR leaves the session usable).
func TestDovecotErrors(t *testing.T) {
	t.Parallel()
	srv, msgs := dcStart(t)

	t.Run("bad-password", func(t *testing.T) {
		c, _ := dcDial(t, srv)
		// C0008/C0016: nothing is sent for a TRANSACTION command before the login.
		c2, cc2 := dcDial(t, srv)
		if _, _, err := c2.Stat(); !errors.Is(err, pop3.ErrNotAuthenticated) {
			t.Errorf("Stat before login: %v, want ErrNotAuthenticated", err)
		}
		if n := cc2.written.Load(); n != 0 {
			t.Errorf("Stat before login wrote %d octets", n)
		}

		err := c.Login("alice", "wrong-password")
		var perr *pop3.Error
		if !errors.As(err, &perr) {
			t.Fatalf("Login with a bad password: %v (%T), want a *pop3.Error", err, err)
		}
		if perr.Code != "AUTH" || perr.Command != "PASS ***" {
			t.Errorf("bad password: Error{Command: %q, Code: %q, Text: %q}, want Command \"PASS ***\" and Code \"AUTH\"",
				perr.Command, perr.Code, perr.Text)
		}
		if strings.Contains(err.Error(), "wrong-password") {
			t.Errorf("the error shows the password: %v", err)
		}
		// C0010: Dovecot keeps the connection open; a second login succeeds.
		if err := c.Login("alice", srv.Users["alice"]); err != nil {
			t.Fatalf("Login after a failed one: %v", err)
		}
		if n, _, err := c.Stat(); err != nil || n != len(msgs) {
			t.Errorf("Stat after the second login = %d, %v", n, err)
		}
		if err := c.Login("alice", srv.Users["alice"]); !errors.Is(err, pop3.ErrAuthenticated) {
			t.Errorf("a second Login: %v, want ErrAuthenticated", err)
		}
		if err := c.Quit(); err != nil {
			t.Errorf("Quit: %v", err)
		}
	})

	t.Run("no-such-message", func(t *testing.T) {
		c, _ := dcLogin(t, srv)
		n := len(msgs) + 1
		_, err := c.Retr(n)
		var perr *pop3.Error
		if !errors.As(err, &perr) {
			t.Fatalf("Retr(%d): %v (%T), want a *pop3.Error", n, err, err)
		}
		if want := fmt.Sprintf("RETR %d", n); perr.Command != want {
			t.Errorf("Retr(%d): Command %q, want %q", n, perr.Command, want)
		}
		if _, err := c.Top(n, 0); !errors.As(err, &perr) {
			t.Errorf("Top(%d, 0): %v, want a *pop3.Error", n, err)
		}
		if err := c.Dele(n); !errors.As(err, &perr) {
			t.Errorf("Dele(%d): %v, want a *pop3.Error", n, err)
		}
		// C0031: the session is still usable.
		if err := c.Noop(); err != nil {
			t.Errorf("Noop after -ERR: %v", err)
		}
		rc, err := c.Retr(1)
		dcCompare(t, "Retr(1) after -ERR", dcRead(t, "Retr(1)", rc, err), dovecottest.Wire(msgs[0].Data))
		if err := c.Quit(); err != nil {
			t.Errorf("Quit: %v", err)
		}
	})

	t.Run("deleted-in-session", func(t *testing.T) {
		c, cc := dcLogin(t, srv)
		if err := c.Dele(1); err != nil {
			t.Fatalf("Dele(1): %v", err)
		}
		written := cc.written.Load()
		if _, err := c.Retr(1); !errors.Is(err, pop3.ErrDeleted) {
			t.Errorf("Retr(1) after Dele(1): %v, want ErrDeleted", err)
		}
		if _, err := c.Top(1, 0); !errors.Is(err, pop3.ErrDeleted) {
			t.Errorf("Top(1, 0) after Dele(1): %v, want ErrDeleted", err)
		}
		if err := c.Dele(1); !errors.Is(err, pop3.ErrDeleted) {
			t.Errorf("Dele(1) twice: %v, want ErrDeleted", err)
		}
		if _, err := c.Retr(0); !errors.Is(err, pop3.ErrInvalidArgument) {
			t.Errorf("Retr(0): %v, want ErrInvalidArgument", err)
		}
		if _, err := c.Top(2, -1); !errors.Is(err, pop3.ErrInvalidArgument) {
			t.Errorf("Top(2, -1): %v, want ErrInvalidArgument", err)
		}
		if n := cc.written.Load() - written; n != 0 {
			t.Errorf("refused calls wrote %d octets", n)
		}
		if err := c.Noop(); err != nil {
			t.Errorf("Noop: %v", err)
		}
		// Close without QUIT: nothing is deleted, so later sessions on this server are unaffected.
		c.Close()
	})
}

// TestDovecotImplicitTLS logs in over implicit TLS (the certificate verified against the
// instance's own root, ServerName defaulting to the dialled IP) and retrieves message 1.
//
// Covers C0001 with RFC 8314 §3 (implicit TLS), C0023 over TLS, C0042-C0046.
func TestDovecotImplicitTLS(t *testing.T) {
	t.Parallel()
	srv, msgs := dcStart(t)

	c, err := pop3.DialTLS(srv.TLSAddr, &pop3.Options{Timeout: dcTimeout, TLSConfig: &tls.Config{RootCAs: srv.RootCAs}})
	if err != nil {
		t.Fatalf("DialTLS: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if g := c.Greeting(); !strings.HasPrefix(g, "Dovecot") {
		t.Errorf("Greeting() = %q", g)
	}
	caps, err := c.Capabilities()
	if err != nil {
		t.Fatalf("Capabilities: %v", err)
	}
	if caps.Has("STLS") {
		t.Errorf("STLS offered on an implicit TLS connection: %v", caps)
	}
	if err := c.Login("alice", srv.Users["alice"]); err != nil {
		t.Fatalf("Login: %v", err)
	}
	if n, _, err := c.Stat(); err != nil || n != len(msgs) {
		t.Errorf("Stat = %d, %v; want %d", n, err, len(msgs))
	}
	for i, m := range msgs {
		if m.Name != "dots" && m.Name != "large" {
			continue
		}
		rc, err := c.Retr(i + 1)
		got := dcRead(t, fmt.Sprintf("Retr(%d)", i+1), rc, err)
		dcCompare(t, fmt.Sprintf("Retr(%d) over TLS (%s)", i+1, m.Name), got, dovecottest.Wire(m.Data))
	}
	if err := c.Quit(); err != nil {
		t.Errorf("Quit: %v", err)
	}
	// Dovecot's own record of the session: alice logged in over TLS.
	loggedIn := regexp.MustCompile(`Login: user=<alice>, [^\n]*, TLS, session=`)
	for deadline := time.Now().Add(5 * time.Second); !loggedIn.MatchString(srv.Log()); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("Dovecot's log shows no TLS login for alice:\n%s", srv.Log())
			break
		}
	}

	// A certificate the caller does not trust is refused. (That the trusted one was accepted
	// shows ServerName defaulted to "127.0.0.1": crypto/tls verifies nothing without one.)
	_, err = pop3.DialTLS(srv.TLSAddr, &pop3.Options{Timeout: dcTimeout, TLSConfig: &tls.Config{RootCAs: x509.NewCertPool()}})
	var uerr x509.UnknownAuthorityError
	if !errors.As(err, &uerr) {
		t.Errorf("DialTLS with an empty root pool: %v, want x509.UnknownAuthorityError", err)
	}
}

// TestDovecotNonASCIIPassword logs bob in with the password "pässwörd". Dovecot lists
// SASL PLAIN but not RFC 6856 UTF8, so Login must use AUTH PLAIN (RFC 5034, RFC 4616)
// rather than send non-ASCII octets in PASS; it does so over implicit TLS here.
//
// Covers C0003 (no non-ASCII octets in USER/PASS unless UTF8 USER is listed) and
// C0009 (an authentication method the server offers).
func TestDovecotNonASCIIPassword(t *testing.T) {
	t.Parallel()
	srv, msgs := dcStart(t)

	c, err := pop3.DialTLS(srv.TLSAddr, &pop3.Options{Timeout: dcTimeout, TLSConfig: &tls.Config{RootCAs: srv.RootCAs}})
	if err != nil {
		t.Fatalf("DialTLS: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login("bob", srv.Users["bob"]); err != nil {
		t.Fatalf("Login(bob, %q): %v", srv.Users["bob"], err)
	}
	if n, _, err := c.Stat(); err != nil || n != 3 {
		t.Errorf("bob: Stat = %d, %v; want 3", n, err)
	}
	rc, err := c.Retr(1)
	dcCompare(t, "bob: Retr(1)", dcRead(t, "Retr(1)", rc, err), dovecottest.Wire(msgs[0].Data))
	if err := c.Quit(); err != nil {
		t.Errorf("Quit: %v", err)
	}
	loggedIn := regexp.MustCompile(`Login: user=<bob>, method=PLAIN, [^\n]*, TLS, session=`)
	for deadline := time.Now().Add(5 * time.Second); !loggedIn.MatchString(srv.Log()); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("Dovecot's log shows no AUTH PLAIN login over TLS for bob:\n%s", srv.Log())
			break
		}
	}

	// With a wrong non-ASCII password the failure is Dovecot's [AUTH] reply.
	c2, err := pop3.DialTLS(srv.TLSAddr, &pop3.Options{Timeout: dcTimeout, TLSConfig: &tls.Config{RootCAs: srv.RootCAs}})
	if err != nil {
		t.Fatalf("DialTLS: %v", err)
	}
	t.Cleanup(func() { c2.Close() })
	err = c2.Login("bob", "pässwort")
	var perr *pop3.Error
	if !errors.As(err, &perr) || perr.Code != "AUTH" {
		t.Errorf("Login(bob) with a wrong password: %v, want a *pop3.Error with Code \"AUTH\"", err)
	}
	if err != nil && strings.Contains(err.Error(), "pässwort") {
		t.Errorf("the error shows the password: %v", err)
	}
}
