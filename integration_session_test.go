package pop3_test

// Whole sessions against every backend of integration_test.go. Comments name the
// MS-STANOPOP3 items each test covers against the servers.

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/popwire/pop3"
	"github.com/popwire/pop3/internal/realserver"
)

// TestIntegrationRetrMatchesStored retrieves every message and compares it octet for octet
// with what is stored, and checks STAT and LIST against the store.
//
// Covers C0001 (connect), C0002/C0007 (greeting first, nothing sent before it), C0015/C0017
// (STAT), C0020/C0021 (LIST listing and exact sizes), C0022/C0023 (RETR body: dot-unstuffed,
// CRLF kept, lines of "." and ".." and a 100 000-octet line, 8-bit text, an empty body, a
// missing final newline, ~2 MiB), V0002 (dot-unstuffing), V0003 (bare LIST; Mailutils
// answers it with a bare "+OK"), C0006 (multi-line termination), C0013 (many commands in
// one session), C0030 (QUIT).
func TestIntegrationRetrMatchesStored(t *testing.T) {
	msgs := realserver.Messages()
	forEachBackend(t, msgs, func(t *testing.T, srv *itServer) {
		c, _ := itDial(t, srv)
		caps, err := c.Capabilities()
		if err != nil {
			t.Fatalf("Capabilities: %v", err)
		}
		for _, name := range srv.caps {
			if !caps.Has(name) {
				t.Errorf("capabilities before login lack %s: %v", name, caps)
			}
		}
		if got := strings.Join(caps.Args("SASL"), " "); got != srv.sasl {
			t.Errorf("SASL arguments %q, want %q", got, srv.sasl)
		}
		if err := c.Login(srv.alice.user, srv.alice.pass); err != nil {
			t.Fatalf("Login: %v", err)
		}

		// The first listing of the session, before any message was read: exact sizes.
		var total int64
		for _, m := range msgs {
			total += srv.listSize(m.Data)
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
			if want := (pop3.ListEntry{Number: i + 1, Size: srv.listSize(msgs[i].Data)}); e != want {
				t.Errorf("List()[%d] = %+v, want %+v (%s)", i, e, want, msgs[i].Name)
			}
		}

		for i, m := range msgs {
			rc, err := c.Retr(i + 1)
			got := itRead(t, fmt.Sprintf("Retr(%d)", i+1), rc, err)
			itMessage(t, srv, fmt.Sprintf("Retr(%d) (%s)", i+1, m.Name), got, m.Data)
		}

		// The session is still in step after all that (C0013).
		if err := c.Noop(); err != nil {
			t.Errorf("Noop after the retrievals: %v", err)
		}
		if err := c.Quit(); err != nil {
			t.Errorf("Quit: %v", err)
		}
	})
}

// TestIntegrationTop checks TOP n 0 (the header and the blank line), TOP n 2 and a TOP
// whose line count exceeds the body (the whole message) for every message, and that an
// unread TOP body is drained before the next command.
//
// Covers C0032 (TOP arguments), C0034 (TOP reply: header, blank line, up to n body lines;
// n beyond the body gives the whole message), C0022/C0023 (body octets) and V0002.
func TestIntegrationTop(t *testing.T) {
	msgs := realserver.Messages()
	forEachBackend(t, msgs, func(t *testing.T, srv *itServer) {
		c, _ := itLogin(t, srv)
		for i, m := range msgs {
			for _, lines := range []int{0, 2} {
				rc, err := c.Top(i+1, lines)
				got := itRead(t, fmt.Sprintf("Top(%d, %d)", i+1, lines), rc, err)
				itCompare(t, fmt.Sprintf("Top(%d, %d) (%s)", i+1, lines, m.Name), srv.canon(got), itTop(srv, m.Data, lines))
			}
		}
		// More lines than any body has: the whole message, as RETR gives it.
		for i, m := range msgs {
			if m.Name != "dots" && m.Name != "no-final-newline" && m.Name != "long-line" {
				continue
			}
			rc, err := c.Top(i+1, 1000000)
			got := itRead(t, fmt.Sprintf("Top(%d, 1000000)", i+1), rc, err)
			itCompare(t, fmt.Sprintf("Top(%d, 1000000) (%s)", i+1, m.Name), srv.canon(got), itTop(srv, m.Data, 1000000))
		}

		// A body left unread is drained by the next command; the session stays in step.
		if _, err := c.Top(2, 5); err != nil {
			t.Fatalf("Top(2, 5): %v", err)
		}
		rc, err := c.Top(1, 0)
		got := itRead(t, "Top(1, 0) after an unread Top", rc, err)
		itCompare(t, "Top(1, 0) after an unread Top", srv.canon(got), itTop(srv, msgs[0].Data, 0))
		if err := c.Quit(); err != nil {
			t.Errorf("Quit: %v", err)
		}
	})
}

// TestIntegrationUIDLStable lists unique-ids in two sessions: they are equal, unique,
// within RFC 1939's form, and, where the backend's are known in advance, those.
//
// Covers C0035/C0037 (UIDL listing), V0007 (bare UIDL), C0038 (number, blank, uid),
// C0039 (1-70 octets in 0x21-0x7E, persistent across sessions), C0040 (no reuse).
func TestIntegrationUIDLStable(t *testing.T) {
	msgs := realserver.Messages()
	forEachBackend(t, msgs, func(t *testing.T, srv *itServer) {
		var sessions [2][]pop3.UIDEntry
		for s := range sessions {
			c, _ := itLogin(t, srv)
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
			if srv.uidl != nil {
				if want := srv.uidl(i + 1); e.UID != want {
					t.Errorf("message %d: UID %q, want %q", e.Number, e.UID, want)
				}
			}
			if len(e.UID) < 1 || len(e.UID) > 70 || strings.IndexFunc(e.UID, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
				t.Errorf("message %d: UID %q is not 1-70 octets of 0x21-0x7E", e.Number, e.UID)
			}
			if j, dup := seen[e.UID]; dup {
				t.Errorf("messages %d and %d share the UID %q", j, e.Number, e.UID)
			}
			seen[e.UID] = e.Number
		}
	})
}

// TestIntegrationDeleQuitCommits marks message 2 deleted and quits: the next session has
// one message fewer, renumbered, and message 2's UID is gone.
//
// Covers C0024 (DELE n), C0026 (a deleted message leaves LIST, UIDL and STAT in the
// session), C0030 and RFC 1939 §6 (QUIT in TRANSACTION commits the deletion),
// C0040 (UIDs, not numbers, identify messages across sessions).
func TestIntegrationDeleQuitCommits(t *testing.T) {
	msgs := realserver.Messages()
	forEachBackend(t, msgs, func(t *testing.T, srv *itServer) {
		c, _ := itLogin(t, srv)
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

		c2, _ := itLogin(t, srv)
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
		itMessage(t, srv, "second session: Retr(2)", itRead(t, "Retr(2)", rc, err), msgs[2].Data)
		if err := c2.Quit(); err != nil {
			t.Errorf("second session: Quit: %v", err)
		}
	})
}

// TestIntegrationDeleCloseKeeps marks messages deleted and closes without QUIT: the server
// never enters UPDATE, and the next session sees every message.
//
// Covers V0006 (no RSET: closing without QUIT undoes deletions), RFC 1939 §6 (a session
// that ends without QUIT deletes nothing), C0026.
func TestIntegrationDeleCloseKeeps(t *testing.T) {
	msgs := realserver.Messages()
	forEachBackend(t, msgs, func(t *testing.T, srv *itServer) {
		c, cc := itLogin(t, srv)
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

		c2, _ := itLogin(t, srv)
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
	})
}

// TestIntegrationErrors checks the servers' negative replies arrive as *pop3.Error and
// leave the session usable, and that calls the client refuses locally send nothing.
//
// Covers C0010 (after an auth -ERR the connection stays open and another login may
// follow), C0008/C0016 (no TRANSACTION command before login, nothing sent), C0011
// (message numbers from 1, checked locally), C0026 (a message deleted in the session is
// refused locally, nothing sent: Mailutils would answer a second DELE with +OK), C0031
// (an -ERR leaves the session usable).
func TestIntegrationErrors(t *testing.T) {
	msgs := realserver.Messages()
	forEachBackend(t, msgs, func(t *testing.T, srv *itServer) {
		t.Run("bad-password", func(t *testing.T) {
			c, _ := itDial(t, srv)
			// C0008/C0016: nothing is sent for a TRANSACTION command before the login.
			c2, cc2 := itDial(t, srv)
			if _, _, err := c2.Stat(); !errors.Is(err, pop3.ErrNotAuthenticated) {
				t.Errorf("Stat before login: %v, want ErrNotAuthenticated", err)
			}
			if n := cc2.written.Load(); n != 0 {
				t.Errorf("Stat before login wrote %d octets", n)
			}

			err := c.Login(srv.alice.user, "wrong-password")
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
			// C0010: the connection stays open; a second login succeeds.
			if err := c.Login(srv.alice.user, srv.alice.pass); err != nil {
				t.Fatalf("Login after a failed one: %v", err)
			}
			if n, _, err := c.Stat(); err != nil || n != len(msgs) {
				t.Errorf("Stat after the second login = %d, %v", n, err)
			}
			if err := c.Login(srv.alice.user, srv.alice.pass); !errors.Is(err, pop3.ErrAuthenticated) {
				t.Errorf("a second Login: %v, want ErrAuthenticated", err)
			}
			if err := c.Quit(); err != nil {
				t.Errorf("Quit: %v", err)
			}
		})

		t.Run("no-such-message", func(t *testing.T) {
			c, _ := itLogin(t, srv)
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
			itMessage(t, srv, "Retr(1) after -ERR", itRead(t, "Retr(1)", rc, err), msgs[0].Data)
			if err := c.Quit(); err != nil {
				t.Errorf("Quit: %v", err)
			}
		})

		t.Run("deleted-in-session", func(t *testing.T) {
			c, cc := itLogin(t, srv)
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
	})
}

// TestIntegrationRetrEachMatchesRetr: RetrEach of the whole mailbox, pipelined (every
// backend lists PIPELINING), returns exactly what Retr returns one message at a time, and
// what is stored; TopEach and DeleEach behave as Top and Dele.
func TestIntegrationRetrEachMatchesRetr(t *testing.T) {
	msgs := realserver.Messages()
	forEachBackend(t, msgs, func(t *testing.T, srv *itServer) {
		c, _ := itLogin(t, srv)
		caps, err := c.Capabilities()
		if err != nil || !caps.Pipelining() {
			t.Fatalf("capabilities %v, %v: want PIPELINING", caps, err)
		}
		nums := make([]int, len(msgs))
		for i := range nums {
			nums[i] = i + 1
		}
		batch := map[int][]byte{}
		err = c.RetrEach(nums, func(n int, r io.Reader) error {
			b, err := io.ReadAll(r)
			batch[n] = b
			return err
		})
		if err != nil {
			t.Fatalf("RetrEach: %v", err)
		}
		for i, m := range msgs {
			r, err := c.Retr(i + 1)
			one := itRead(t, fmt.Sprintf("RETR %d", i+1), r, err)
			itCompare(t, fmt.Sprintf("RetrEach message %d", i+1), srv.canon(batch[i+1]), srv.canon(one))
			itMessage(t, srv, fmt.Sprintf("RetrEach message %d against the store", i+1), batch[i+1], m.Data)
		}

		heads := map[int][]byte{}
		err = c.TopEach(nums, 2, func(n int, r io.Reader) error {
			b, err := io.ReadAll(r)
			heads[n] = b
			return err
		})
		if err != nil {
			t.Fatalf("TopEach: %v", err)
		}
		for i, m := range msgs {
			r, err := c.Top(i+1, 2)
			one := itRead(t, fmt.Sprintf("TOP %d 2", i+1), r, err)
			itCompare(t, fmt.Sprintf("TopEach message %d", i+1), srv.canon(heads[i+1]), srv.canon(one))
			itCompare(t, fmt.Sprintf("TopEach message %d against the store", i+1), srv.canon(heads[i+1]), itTop(srv, m.Data, 2))
		}

		if err := c.DeleEach([]int{1, 3}); err != nil {
			t.Fatalf("DeleEach: %v", err)
		}
		if err := c.Quit(); err != nil {
			t.Fatalf("Quit: %v", err)
		}
		c2, _ := itLogin(t, srv)
		if n, _, err := c2.Stat(); err != nil || n != len(msgs)-2 {
			t.Fatalf("after DeleEach and Quit: Stat() = %d, %v; want %d", n, err, len(msgs)-2)
		}
	})
}

// ListAll sends UIDL and LIST in one write (every backend lists PIPELINING) and returns
// what List and UIDL return one after the other.
func TestIntegrationListAll(t *testing.T) {
	msgs := realserver.Messages()
	forEachBackend(t, msgs, func(t *testing.T, srv *itServer) {
		writes := new(writeLog)
		c, err := pop3.Dial(srv.addr, &pop3.Options{Timeout: itTimeout, Dialer: writes})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Login(srv.alice.user, srv.alice.pass); err != nil {
			t.Fatal(err)
		}
		infos, err := c.ListAll()
		if err != nil {
			t.Fatalf("ListAll: %v", err)
		}
		list, err := c.List()
		if err != nil {
			t.Fatal(err)
		}
		uids, err := c.UIDL()
		if err != nil {
			t.Fatal(err)
		}
		if len(infos) != len(msgs) || len(list) != len(msgs) || len(uids) != len(msgs) {
			t.Fatalf("ListAll %d, List %d, UIDL %d entries; want %d", len(infos), len(list), len(uids), len(msgs))
		}
		for i, info := range infos {
			if info.Number != list[i].Number || info.UID != uids[i].UID || uids[i].Number != info.Number {
				t.Errorf("ListAll()[%d] = %+v; List %+v, UIDL %+v", i, info, list[i], uids[i])
			}
		}
		if !slices.Contains(writes.all(), "UIDL\r\nLIST\r\n") {
			t.Errorf("UIDL and LIST not in one write: %q", writes.all())
		}
	})
}
