package pop3_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/popwire/pop3"
	. "github.com/popwire/pop3/pop3test"
)

// The tests below name the MS-STANOPOP3 items (../shared/spec/MS-STANOPOP3.txt) they cover.

// greeting and loginSteps are the opening of most scripts. Login asks CAPA first, whether
// or not the capabilities were asked before; this server lists none.
var (
	greeting   = Reply("+OK ready")
	loginSteps = []Step{greeting, Expect("CAPA"), Reply("-ERR"), Expect("USER alice"), Reply("+OK"), Expect("PASS secret"), Reply("+OK logged in")}
)

// script joins step lists.
func script(parts ...any) []Step {
	var steps []Step
	for _, p := range parts {
		switch p := p.(type) {
		case Step:
			steps = append(steps, p)
		case []Step:
			steps = append(steps, p...)
		}
	}
	return steps
}

// dial connects a Client to a scripted server.
func dial(t *testing.T, opts *pop3.Options, steps ...Step) (*pop3.Client, *Server) {
	t.Helper()
	srv := NewServer(t, steps...)
	c, err := pop3.Dial(srv.Addr(), opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, srv
}

// login connects and logs in as alice; parts are the steps that follow, as Steps or []Step.
func login(t *testing.T, opts *pop3.Options, parts ...any) (*pop3.Client, *Server) {
	t.Helper()
	c, srv := dial(t, opts, script(append([]any{loginSteps}, parts...)...)...)
	if err := c.Login("alice", "secret"); err != nil {
		t.Fatalf("Login: %v", err)
	}
	return c, srv
}

func wait(t *testing.T, srv *Server) {
	t.Helper()
	if err := srv.Wait(); err != nil {
		t.Fatal(err)
	}
}

func readAll(t *testing.T, r io.ReadCloser, err error) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return string(b)
}

func asError(t *testing.T, err error) *pop3.Error {
	t.Helper()
	var perr *pop3.Error
	if !errors.As(err, &perr) {
		t.Fatalf("error %v (%T) is not a *pop3.Error", err, err)
	}
	return perr
}

// C0001, C0002, C0007, C0044, C0046, C0012, C0030: a whole session, byte for byte.
func TestSessionTranscript(t *testing.T) {
	c, srv := dial(t, nil,
		Reply("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>"),
		Expect("CAPA"), Reply("-ERR"), // Login asks what the server offers
		Expect("USER alice"), Reply("+OK"),
		Expect("PASS a b  c"), Reply("+OK maildrop locked"),
		Expect("STAT"), Reply("+OK 2 320"),
		Expect("QUIT"), Reply("+OK bye"),
		ExpectClosed(),
	)
	if got := c.Greeting(); got != "POP3 server ready <1896.697170952@dbc.mtview.ca.us>" {
		t.Errorf("Greeting() = %q", got)
	}
	if err := c.Login("alice", "a b  c"); err != nil { // C0046: the password verbatim
		t.Fatal(err)
	}
	if n, size, err := c.Stat(); err != nil || n != 2 || size != 320 {
		t.Fatalf("Stat() = %d, %d, %v", n, size, err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	wait(t, srv)
	// V0008: never APOP, even when the greeting offers a timestamp.
	for _, line := range srv.Received() {
		if strings.HasPrefix(line, "APOP") {
			t.Errorf("sent %q", line)
		}
	}
}

// C0002, C0007: nothing is sent before the greeting, and a silent server is a timeout, not
// a hang.
func TestGreetingTimeout(t *testing.T) {
	srv := NewServer(t, Stall(2*time.Second))
	// Without a deadline, Dial would wait the stall out and read the end of the script.
	_, err := pop3.Dial(srv.Addr(), &pop3.Options{Timeout: 200 * time.Millisecond})
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Dial: %v; want a timeout", err)
	}
	if got := srv.Received(); len(got) != 0 {
		t.Errorf("sent before the greeting: %q", got)
	}
}

// C0007: the client waits for a late greeting and only then identifies itself.
func TestGreetingLate(t *testing.T) {
	c, srv := dial(t, &pop3.Options{Timeout: 2 * time.Second},
		Stall(150*time.Millisecond), greeting, Expect("CAPA"), Reply("-ERR"),
		Expect("USER alice"), Reply("+OK"), Expect("PASS secret"), Reply("+OK"))
	if err := c.Login("alice", "secret"); err != nil {
		t.Fatal(err)
	}
	wait(t, srv)
}

func TestNegativeGreeting(t *testing.T) {
	srv := NewServer(t, Reply("-ERR [SYS/TEMP] too busy"), ExpectClosed())
	_, err := pop3.Dial(srv.Addr(), nil)
	perr := asError(t, err)
	if perr.Code != "SYS/TEMP" || perr.Command != "" || !perr.Temporary() {
		t.Errorf("got %#v", perr)
	}
	wait(t, srv)
}

// V0001: any reply beginning with "+" is positive, whatever its case; anything else is
// negative. C0004, C0017: runs of spaces and tabs separate fields; text after them is ignored.
func TestLenientStatusLines(t *testing.T) {
	c, srv := login(t, nil,
		Expect("STAT"), Reply("+ok \t 2   320 extra junk"),
		Expect("NOOP"), Reply("+"),
		Expect("NOOP"), Reply("+OK\t"),
		Expect("NOOP"), Reply("+Ok whatever"),
		Expect("NOOP"), Reply("-err no"),
		Expect("NOOP"), Reply("*bogus"),
		Expect("STAT"), Reply("+OK\t7\t1024"),
	)
	if n, size, err := c.Stat(); err != nil || n != 2 || size != 320 {
		t.Fatalf("Stat() = %d, %d, %v", n, size, err)
	}
	for i := 0; i < 3; i++ {
		if err := c.Noop(); err != nil {
			t.Fatalf("Noop %d: %v", i, err)
		}
	}
	for _, text := range []string{"no", ""} { // C0029: a negative NOOP is an error
		if perr := asError(t, c.Noop()); perr.Command != "NOOP" || perr.Text != text {
			t.Errorf("got %#v", perr)
		}
	}
	if n, size, err := c.Stat(); err != nil || n != 7 || size != 1024 {
		t.Fatalf("Stat() = %d, %d, %v", n, size, err)
	}
	wait(t, srv)
}

// C0005: a bare LF ends a reply line as well as CRLF does.
func TestBareLF(t *testing.T) {
	c, srv := dial(t, nil,
		Send("+OK hello\n"), Expect("CAPA"), Send("-ERR\n"),
		Expect("USER alice"), Send("+OK\n"), Expect("PASS secret"), Send("+OK\n"),
		Expect("LIST"), Send("+OK\n1 10\n2 20\n.\n"),
		Expect("RETR 1"), Send("+OK\nline\n..dot\n.\n"),
		Expect("NOOP"), Send("+OK\n"),
	)
	if err := c.Login("alice", "secret"); err != nil {
		t.Fatal(err)
	}
	list, err := c.List()
	if err != nil || len(list) != 2 || list[1] != (pop3.ListEntry{Number: 2, Size: 20}) {
		t.Fatalf("List() = %v, %v", list, err)
	}
	r, err := c.Retr(1)
	if got := readAll(t, r, err); got != "line\n.dot\n" {
		t.Errorf("body %q", got)
	}
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
	wait(t, srv)
}

func TestStatMalformed(t *testing.T) { // C0017
	c, srv := login(t, nil,
		Expect("STAT"), Reply("+OK two 320"),
		Expect("STAT"), Reply("+OK 2"),
		Expect("STAT"), Reply("+OK 3 30"),
	)
	for i := 0; i < 2; i++ {
		if _, _, err := c.Stat(); !errors.Is(err, pop3.ErrMalformed) {
			t.Fatalf("Stat: %v; want ErrMalformed", err)
		}
	}
	// A malformed line was read whole: the connection is still in step.
	if n, _, err := c.Stat(); err != nil || n != 3 {
		t.Fatalf("Stat() = %d, %v", n, err)
	}
	wait(t, srv)
}

// V0003, C0020, C0021: a bare LIST, a multi-line scan list with tabs, extra text and gaps.
func TestList(t *testing.T) {
	c, srv := login(t, nil,
		Expect("LIST"), Reply("+OK 3 messages:", "1 120", "3\t50 extra info", "4  \t 9999999999", "."),
		Expect("LIST"), Reply("+OK", "."),
		Expect("LIST"), Reply("-ERR [SYS/PERM] mailbox corrupt"),
	)
	list, err := c.List()
	want := []pop3.ListEntry{{1, 120}, {3, 50}, {4, 9999999999}}
	if err != nil || len(list) != len(want) {
		t.Fatalf("List() = %v, %v", list, err)
	}
	for i := range want {
		if list[i] != want[i] {
			t.Errorf("entry %d: %v, want %v", i, list[i], want[i])
		}
	}
	if list, err := c.List(); err != nil || len(list) != 0 {
		t.Fatalf("empty maildrop: List() = %v, %v", list, err)
	}
	if perr := asError(t, func() error { _, err := c.List(); return err }()); perr.Code != "SYS/PERM" || perr.Temporary() {
		t.Errorf("got %#v", perr)
	}
	wait(t, srv)
}

// V0002: listings end at any line that begins with ".", as Outlook reads them.
func TestListingEndsAtAnyDotLine(t *testing.T) {
	c, srv := login(t, nil,
		Expect("UIDL"), Reply("+OK", "1 a", ". end of list"),
		Expect("NOOP"), Reply("+OK"),
	)
	list, err := c.UIDL()
	if err != nil || len(list) != 1 {
		t.Fatalf("UIDL() = %v, %v", list, err)
	}
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
	wait(t, srv)
}

func TestListMalformedKeepsStep(t *testing.T) {
	c, srv := login(t, nil,
		Expect("LIST"), Reply("+OK", "1 120", "x 5", "3 7", "."),
		Expect("NOOP"), Reply("+OK"),
	)
	if _, err := c.List(); !errors.Is(err, pop3.ErrMalformed) {
		t.Fatalf("List: %v; want ErrMalformed", err)
	}
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
	wait(t, srv)
}

// V0007, C0037, C0038, C0039, C0041: a bare UIDL; unique-ids are opaque, any length,
// separated by tabs or runs of spaces, followed by ignored text, and may repeat.
func TestUIDL(t *testing.T) {
	long := strings.Repeat("z", 71)
	c, srv := login(t, nil,
		Expect("UIDL"), Reply("+OK",
			"1 whqtswO00WBw418f9t5JxYwZ",
			"2\t+abc",
			"3   -x extra info",
			"5 !#",
			"6 "+long,
			"7 a:b",
			"8 +abc",
			"."),
		Expect("UIDL"), Reply("+OK", "1 ", "."),
	)
	list, err := c.UIDL()
	if err != nil {
		t.Fatal(err)
	}
	want := []pop3.UIDEntry{{1, "whqtswO00WBw418f9t5JxYwZ"}, {2, "+abc"}, {3, "-x"}, {5, "!#"}, {6, long}, {7, "a:b"}, {8, "+abc"}}
	if len(list) != len(want) {
		t.Fatalf("UIDL() = %v", list)
	}
	for i := range want {
		if list[i] != want[i] {
			t.Errorf("entry %d: %v, want %v", i, list[i], want[i])
		}
	}
	byUID := pop3.NumbersByUID(list)
	if got := byUID["+abc"]; len(got) != 2 || got[0] != 2 || got[1] != 8 { // C0041
		t.Errorf(`NumbersByUID["+abc"] = %v`, got)
	}
	if _, err := c.UIDL(); !errors.Is(err, pop3.ErrMalformed) { // an empty unique-id
		t.Fatalf("UIDL: %v; want ErrMalformed", err)
	}
	wait(t, srv)
}

// V0004, C0022, C0023, V0002, C0006: RETR streams the body exactly, CRLF kept, dots unstuffed.
func TestRetr(t *testing.T) {
	body := "Subject: dots\r\n\r\n.\r\n.hidden\r\n..two\r\nend.\r\n"
	c, srv := login(t, nil,
		Expect("RETR 1"), Send("+OK 52 octets\r\nSubject: dots\r\n\r\n..\r\n..hidden\r\n...two\r\nend.\r\n.\r\n"),
		Expect("RETR 2"), Reply("-ERR no such message"),
		Expect("NOOP"), Reply("+OK"),
	)
	r, err := c.Retr(1)
	if got := readAll(t, r, err); got != body {
		t.Errorf("body %q, want %q", got, body)
	}
	_, err = c.Retr(2)
	if perr := asError(t, err); perr.Command != "RETR 2" || perr.Text != "no such message" {
		t.Errorf("got %#v", perr)
	}
	if err := c.Noop(); err != nil { // C0031: the session goes on after -ERR
		t.Fatal(err)
	}
	wait(t, srv)
}

// A body that is not read to its end is drained by the next command.
func TestRetrDrainedByNextCommand(t *testing.T) {
	c, srv := login(t, nil,
		Expect("RETR 1"), Reply("+OK", "first line", "..", "last", "."),
		Expect("RETR 2"), Reply("+OK", "second", "."),
		Expect("NOOP"), Reply("+OK"),
	)
	r, err := c.Retr(1)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 3)
	if _, err := io.ReadFull(r, buf); err != nil || string(buf) != "fir" {
		t.Fatalf("read %q, %v", buf, err)
	}
	r2, err := c.Retr(2)
	if got := readAll(t, r2, err); got != "second\r\n" {
		t.Errorf("second body %q", got)
	}
	// The first body was cut short by the drain: its reader says so rather than io.EOF.
	if n, err := r.Read(buf); n != 0 || !errors.Is(err, pop3.ErrBodySkipped) {
		t.Errorf("first reader after drain: %d, %v; want ErrBodySkipped", n, err)
	}
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
	wait(t, srv)
}

// C0006: a connection cut before the terminating line is never a complete message, and
// the connection is broken afterwards.
func TestRetrCut(t *testing.T) {
	c, srv := login(t, nil,
		Expect("RETR 1"), Send("+OK\r\nSubject: x\r\n\r\npartial"), Cut(),
	)
	r, err := c.Retr(1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if !errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
		t.Fatalf("ReadAll: %q, %v; want io.ErrUnexpectedEOF", got, err)
	}
	if err := c.Noop(); !errors.Is(err, pop3.ErrBroken) {
		t.Fatalf("Noop after a cut: %v; want ErrBroken", err)
	}
	wait(t, srv)
}

// C0005, C0006, C0014: a stalled body or reply is a timeout, and later calls fail at once.
func TestStallTimeouts(t *testing.T) {
	opts := &pop3.Options{Timeout: 200 * time.Millisecond}
	t.Run("body", func(t *testing.T) {
		c, srv := login(t, opts, Expect("RETR 1"), Send("+OK\r\nSubject: x\r\n"), Stall(2*time.Second))
		r, err := c.Retr(1)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(r)
		if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.Is(err, pop3.ErrBroken) {
			t.Fatalf("ReadAll: %v; want a timeout", err)
		}
		if err := c.Noop(); !errors.Is(err, pop3.ErrBroken) || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Noop: %v; want the error of the timeout again", err)
		}
		for _, line := range srv.Received() {
			if line == "NOOP\r\n" {
				t.Error("NOOP was sent on a broken connection")
			}
		}
	})
	t.Run("reply without CRLF", func(t *testing.T) {
		c, _ := login(t, opts, Expect("STAT"), Send("+OK 1 2"), Stall(2*time.Second))
		if _, _, err := c.Stat(); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Stat: %v; want a timeout", err)
		}
	})
	t.Run("no reply", func(t *testing.T) {
		c, _ := login(t, opts, Expect("NOOP"), Stall(2*time.Second))
		if err := c.Noop(); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Noop: %v; want a timeout", err)
		}
		if _, err := c.Retr(1); !errors.Is(err, pop3.ErrBroken) {
			t.Fatalf("Retr after a timeout: %v; want ErrBroken", err)
		}
	})
}

// C0005: a status or listing line over the bound fails after a bounded read.
func TestLineTooLong(t *testing.T) {
	opts := &pop3.Options{MaxLineLength: 100}
	t.Run("status", func(t *testing.T) {
		// Over the bound and still coming: the client fails at once, without waiting for
		// the rest (the server's write of a whole 1 MiB line would meet the client's close).
		c, _ := login(t, opts, Expect("STAT"), Send("+OK "+strings.Repeat("9", 300)), Stall(time.Second))
		if _, _, err := c.Stat(); !errors.Is(err, pop3.ErrLineTooLong) || !errors.Is(err, pop3.ErrBroken) {
			t.Fatalf("Stat: %v; want ErrLineTooLong", err)
		}
	})
	t.Run("listing", func(t *testing.T) {
		c, _ := login(t, opts, Expect("UIDL"), Send("+OK\r\n1 "+strings.Repeat("u", 200)+"\r\n.\r\n"))
		if _, err := c.UIDL(); !errors.Is(err, pop3.ErrLineTooLong) {
			t.Fatalf("UIDL: %v; want ErrLineTooLong", err)
		}
	})
	t.Run("at the bound", func(t *testing.T) {
		text := strings.Repeat("x", 96)
		c, srv := login(t, opts, Expect("NOOP"), Reply("+OK "+text))
		if err := c.Noop(); err != nil {
			t.Fatal(err)
		}
		wait(t, srv)
	})
}

// C0032, C0034: TOP sends both arguments and streams like RETR; C0031: a server without TOP.
func TestTop(t *testing.T) {
	c, srv := login(t, nil,
		Expect("TOP 1 0"), Reply("+OK", "Subject: a", "", "."),
		Expect("TOP 2 3"), Reply("-ERR unknown command"),
		Expect("NOOP"), Reply("+OK"),
	)
	r, err := c.Top(1, 0)
	if got := readAll(t, r, err); got != "Subject: a\r\n\r\n" {
		t.Errorf("TOP body %q", got)
	}
	if _, err := c.Top(1, -1); !errors.Is(err, pop3.ErrInvalidArgument) {
		t.Errorf("Top(1, -1): %v", err)
	}
	_, err = c.Top(2, 3)
	if perr := asError(t, err); perr.Command != "TOP 2 3" {
		t.Errorf("got %#v", perr)
	}
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
	wait(t, srv)
}

// C0024, C0026, V0006: DELE marks; a deleted message is refused locally; Close sends
// nothing more (no RSET, no QUIT), so the server deletes nothing.
func TestDeleThenClose(t *testing.T) {
	c, srv := login(t, nil,
		Expect("DELE 1"), Reply("+OK marked"),
		Expect("DELE 2"), Reply("-ERR [SYS/TEMP] busy"),
		ExpectClosed(),
	)
	if err := c.Dele(1); err != nil {
		t.Fatal(err)
	}
	if perr := asError(t, c.Dele(2)); perr.Code != "SYS/TEMP" || !perr.HasCode("sys") {
		t.Errorf("got %#v", perr)
	}
	for name, call := range map[string]func() error{
		"Retr": func() error { _, err := c.Retr(1); return err },
		"Top":  func() error { _, err := c.Top(1, 0); return err },
		"Dele": func() error { return c.Dele(1) },
	} {
		t.Run(name, func(t *testing.T) {
			if err := call(); !errors.Is(err, pop3.ErrDeleted) {
				t.Errorf("%s of a deleted message: %v; want ErrDeleted", name, err)
			}
		})
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	wait(t, srv)
}

// C0030, C0012: QUIT commits; a negative reply to QUIT is returned and the connection is
// closed all the same.
func TestQuitNegative(t *testing.T) {
	c, srv := login(t, nil,
		Expect("DELE 1"), Reply("+OK"),
		Expect("QUIT"), Reply("-ERR [SYS/PERM] some deleted messages not removed"),
		ExpectClosed(),
	)
	if err := c.Dele(1); err != nil {
		t.Fatal(err)
	}
	if perr := asError(t, c.Quit()); perr.Command != "QUIT" || perr.Code != "SYS/PERM" {
		t.Errorf("got %#v", perr)
	}
	wait(t, srv)
	if err := c.Noop(); err == nil {
		t.Error("Noop after Quit succeeded")
	}
}

// C0003, C0042, C0046, C0011: arguments that could inject a command are refused, and
// nothing is sent.
func TestArgumentsRefused(t *testing.T) {
	c, srv := dial(t, nil, greeting, ExpectClosed())
	for _, cred := range [][2]string{
		{"a\r\nDELE 1", "x"}, {"a\nb", "x"}, {"a\x00", "x"}, {"", "x"}, {"two words", "x"},
		{"alice", "p\r\nDELE 1"}, {"alice", "p\x00"}, {"alice", ""}, {"alice", "tab\there"},
		{"alice", "del\x7f"}, // non-ASCII credentials: TestUTF8Credentials in auth_test.go
	} {
		t.Run(fmt.Sprintf("%q", cred), func(t *testing.T) {
			if err := c.Login(cred[0], cred[1]); !errors.Is(err, pop3.ErrInvalidArgument) {
				t.Errorf("Login(%q, %q): %v; want ErrInvalidArgument", cred[0], cred[1], err)
			}
		})
	}
	if err := c.Conn().Cmd("NOOP", "x\r\nDELE 1"); !errors.Is(err, pop3.ErrInvalidArgument) {
		t.Errorf("Conn.Cmd: %v", err)
	}
	if err := c.Conn().Cmd("X", strings.Repeat("a", 260)); !errors.Is(err, pop3.ErrInvalidArgument) {
		t.Errorf("a 263-octet command line: %v", err)
	}
	c.Close()
	wait(t, srv)
}

func TestMessageNumbersRefused(t *testing.T) { // C0011, C0032
	c, srv := login(t, nil, ExpectClosed())
	calls := map[string]func() error{
		"Retr(0)":       func() error { _, err := c.Retr(0); return err },
		"Retr(-3)":      func() error { _, err := c.Retr(-3); return err },
		"Top(0, 1)":     func() error { _, err := c.Top(0, 1); return err },
		"Dele(0)":       func() error { return c.Dele(0) },
		"RetrEach(1,0)": func() error { return c.RetrEach([]int{1, 0}, func(int, io.Reader) error { return nil }) },
		"DeleEach(-1)":  func() error { return c.DeleEach([]int{-1}) },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, pop3.ErrInvalidArgument) {
			t.Errorf("%s: %v; want ErrInvalidArgument", name, err)
		}
	}
	c.Close()
	wait(t, srv)
}

// C0008, C0016, C0018, V0005, C0025, C0028, C0033, C0035: TRANSACTION commands are refused
// before login, with nothing sent; C0043: no second login.
func TestStateEnforced(t *testing.T) {
	c, srv := dial(t, nil, greeting, ExpectClosed())
	calls := map[string]func() error{
		"Stat": func() error { _, _, err := c.Stat(); return err },
		"List": func() error { _, err := c.List(); return err },
		"UIDL": func() error { _, err := c.UIDL(); return err },
		"Retr": func() error { _, err := c.Retr(1); return err },
		"Top":  func() error { _, err := c.Top(1, 1); return err },
		"Dele": func() error { return c.Dele(1) },
		"Noop": c.Noop,
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, pop3.ErrNotAuthenticated) {
			t.Errorf("%s before login: %v; want ErrNotAuthenticated", name, err)
		}
	}
	c.Close()
	wait(t, srv)

	c2, srv2 := login(t, nil, ExpectClosed())
	if err := c2.Login("alice", "secret"); !errors.Is(err, pop3.ErrAuthenticated) {
		t.Errorf("second Login: %v", err)
	}
	c2.Close()
	wait(t, srv2)
}

// C0045, C0047: after a negative USER the password is never sent; C0010: the client may
// try again on the same connection, or the server may hang up.
func TestUserRefused(t *testing.T) {
	c, srv := dial(t, nil, greeting, Expect("CAPA"), Reply("-ERR"),
		Expect("USER nobody"), Reply("-ERR [AUTH] no such user"),
		Expect("USER alice"), Reply("+OK"), Expect("PASS secret"), Reply("+OK"),
		Expect("NOOP"), Reply("+OK"),
	)
	perr := asError(t, c.Login("nobody", "secret"))
	if perr.Command != "USER nobody" || perr.Code != "AUTH" {
		t.Errorf("got %#v", perr)
	}
	if err := c.Login("alice", "secret"); err != nil {
		t.Fatal(err)
	}
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
	wait(t, srv)

	c2, srv2 := dial(t, nil, greeting, Expect("CAPA"), Reply("-ERR"), Expect("USER alice"), Reply("-ERR go away"), Cut())
	if perr := asError(t, c2.Login("alice", "secret")); perr.Text != "go away" {
		t.Errorf("got %#v", perr)
	}
	if err := c2.Login("alice", "secret"); err == nil {
		t.Error("Login on a closed connection succeeded")
	}
	wait(t, srv2)
	for _, line := range append(srv.Received(), srv2.Received()...) {
		if strings.HasPrefix(line, "PASS") && line != "PASS secret\r\n" {
			t.Errorf("sent %q", line)
		}
	}
	if n := len(srv2.Received()); n != 2 { // CAPA and USER
		t.Errorf("sent %d lines, want CAPA and USER only: %q", n, srv2.Received())
	}
}

// RFC 2449 section 8, RFC 3206: response codes on a refused PASS, the password elided.
func TestPassResponseCodes(t *testing.T) {
	for _, tt := range []struct{ reply, code, text string }{
		{"-ERR [IN-USE] Mailbox locked by another session", "IN-USE", "Mailbox locked by another session"},
		{"-ERR [LOGIN-DELAY] wait 15 minutes", "LOGIN-DELAY", "wait 15 minutes"},
		{"-ERR [AUTH] Authentication failed.", "AUTH", "Authentication failed."},
		{"-ERR [SYS/TEMP/DISK] disk full", "SYS/TEMP/DISK", "disk full"},
		{"-ERR [x-vendor] nope", "X-VENDOR", "nope"},
		{"-ERR Logon failure: unknown user name or bad password.", "", "Logon failure: unknown user name or bad password."},
	} {
		t.Run(tt.reply, func(t *testing.T) {
			c, srv := dial(t, nil, greeting, Expect("CAPA"), Reply("-ERR"), Expect("USER alice"), Reply("+OK"), Expect("PASS secret"), Reply(tt.reply))
			err := c.Login("alice", "secret")
			perr := asError(t, err)
			if perr.Code != tt.code || perr.Text != tt.text || perr.Command != "PASS ***" {
				t.Errorf("got %#v", perr)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("the error shows the password: %v", err)
			}
			wait(t, srv)
		})
	}
}

// RFC 2449 section 5: CAPA, case-insensitive, kept until login and asked again after it;
// -ERR means no capabilities.
func TestCapabilities(t *testing.T) {
	c, srv := dial(t, nil, greeting,
		Expect("CAPA"), Reply("+OK Capability list follows", "TOP", "uidl", "USER", "SASL PLAIN  LOGIN", "LOGIN-DELAY\t900 USER", "EXPIRENEVER", "."),
		Expect("USER alice"), Reply("+OK"), Expect("PASS secret"), Reply("+OK"),
		Expect("CAPA"), Reply("-ERR unknown command"),
	)
	caps, err := c.Capabilities()
	if err != nil {
		t.Fatal(err)
	}
	if !caps.Has("top") || !caps.Has("UIDL") || caps.Has("PIPELINING") || !caps.Has("ExpireNever") {
		t.Errorf("Has: %v", caps)
	}
	if got := caps.Args("sasl"); len(got) != 2 || got[0] != "PLAIN" || got[1] != "LOGIN" {
		t.Errorf("Args(SASL) = %q", got)
	}
	if got := caps.Args("LOGIN-DELAY"); len(got) != 2 || got[0] != "900" {
		t.Errorf("Args(LOGIN-DELAY) = %q", got)
	}
	if again, err := c.Capabilities(); err != nil || len(again) != len(caps) { // cached: no second CAPA
		t.Errorf("second call: %v, %v", again, err)
	}
	if err := c.Login("alice", "secret"); err != nil {
		t.Fatal(err)
	}
	caps, err = c.Capabilities()
	if err != nil || caps == nil || len(caps) != 0 {
		t.Errorf("after -ERR: %v, %v; want empty and nil", caps, err)
	}
	wait(t, srv)
}

// C0013: commands may be issued repeatedly on one session.
func TestManyCommands(t *testing.T) { // C0027: NOOP without arguments, repeatedly
	var steps []Step
	for i := 0; i < 100; i++ {
		steps = append(steps, Expect("NOOP"), Reply("+OK"), Expect("STAT"), Reply("+OK 1 1"))
	}
	c, srv := login(t, nil, steps)
	for i := 0; i < 100; i++ {
		if err := c.Noop(); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Stat(); err != nil {
			t.Fatal(err)
		}
	}
	wait(t, srv)
}

// Close from another goroutine unblocks a call waiting on the server, once the server has
// received its command (the event; without Close the call would end only with the
// script, in an EOF).
func TestCloseUnblocks(t *testing.T) {
	c, srv := login(t, &pop3.Options{Timeout: 10 * time.Second}, Expect("NOOP"), Stall(5*time.Second))
	go func() {
		for !slices.Contains(srv.Received(), "NOOP\r\n") {
			runtime.Gosched()
		}
		c.Close()
	}()
	if err := c.Noop(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Noop: %v; want net.ErrClosed", err)
	}
}

// The Conn below the Client, for commands the Client does not send. C0019, C0036: the
// Client never sends LIST or UIDL with an argument (V0003, V0007), but a caller of the Conn
// may, and reads the single-line scan or unique-id listing as a status line.
func TestConnLowLevel(t *testing.T) {
	srv := NewServer(t, greeting,
		Expect("LIST 2"), Reply("+OK 2 200"),
		Expect("UIDL 2"), Reply("+OK 2\tQhdPYR:00WBw1Ph7x7"),
		Expect("XTND XMIT"), Reply("+OK", "..a", "b", "."),
		Expect("RSET"), Reply("-ERR [SYS/TEMP] no"),
	)
	nc, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	conn := pop3.NewConn(nc, nil)
	defer conn.Close()
	if resp, err := conn.ReadResponse(); err != nil || resp.Text != "ready" {
		t.Fatalf("greeting %+v, %v", resp, err)
	}
	if err := conn.Cmd("LIST", "2"); err != nil {
		t.Fatal(err)
	}
	if resp, err := conn.ReadResponse(); err != nil || resp.Text != "2 200" { // C0019
		t.Fatalf("LIST 2: %+v, %v", resp, err)
	}
	if err := conn.Cmd("UIDL", "2"); err != nil {
		t.Fatal(err)
	}
	if resp, err := conn.ReadResponse(); err != nil || resp.Text != "2\tQhdPYR:00WBw1Ph7x7" { // C0036
		t.Fatalf("UIDL 2: %+v, %v", resp, err)
	}
	if err := conn.Cmd("XTND", "XMIT"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ReadResponse(); err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	if _, err := io.Copy(&body, conn.DotReader()); err != nil || body.String() != ".a\r\nb\r\n" {
		t.Fatalf("body %q, %v", body.String(), err)
	}
	if err := conn.Cmd("RSET"); err != nil {
		t.Fatal(err)
	}
	resp, err := conn.ReadResponse()
	if perr := asError(t, err); resp.OK || perr.Code != "SYS/TEMP" || perr.Command != "RSET" {
		t.Errorf("got %+v, %#v", resp, perr)
	}
	wait(t, srv)
}

// C0009: when the server has listed its capabilities and USER is not among them, Login
// uses SASL PLAIN if offered, and otherwise fails without sending a credential.
func TestLoginFollowsCapabilities(t *testing.T) {
	c, srv := dial(t, nil, greeting,
		Expect("CAPA"), Reply("+OK", "TOP", "SASL PLAIN", "."),
		Expect("AUTH PLAIN AGFsaWNlAHNlY3JldA=="), Reply("+OK"),
	)
	if _, err := c.Capabilities(); err != nil {
		t.Fatal(err)
	}
	if err := c.Login("alice", "secret"); err != nil {
		t.Fatal(err)
	}
	wait(t, srv)

	c2, srv2 := dial(t, nil, greeting, Expect("CAPA"), Reply("+OK", "SASL GSSAPI", "."), ExpectClosed())
	if _, err := c2.Capabilities(); err != nil {
		t.Fatal(err)
	}
	if err := c2.Login("alice", "secret"); !errors.Is(err, pop3.ErrNoAuthMechanism) {
		t.Fatalf("Login: %v; want ErrNoAuthMechanism", err)
	}
	c2.Close()
	wait(t, srv2)
}

// A greeting trickled an octet at a time cannot stretch the wait beyond the Timeout: the
// whole line must arrive within it. An octet every 150 ms, then silence: a deadline per
// read alone would give up 400 ms into the silence, at 700 ms; the whole line's deadline
// gives up at 400 ms. synctest's clock makes the figures exact.
func TestGreetingTrickled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client, wait := pipePeer(nil, func(_ *bufio.Reader, server net.Conn) {
			for _, octet := range []string{"+", "O", "K"} {
				if _, err := io.WriteString(server, octet); err != nil {
					return
				}
				time.Sleep(150 * time.Millisecond)
			}
			time.Sleep(5 * time.Second)
		})
		defer wait()
		start := time.Now()
		_, err := pop3.NewClient(client, &pop3.Options{Timeout: 400 * time.Millisecond})
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("NewClient: %v; want a timeout", err)
		}
		if d := time.Since(start); d != 400*time.Millisecond {
			t.Errorf("NewClient gave up after %v, want 400ms", d)
		}
	})
}

// A CAPA listing that does not end is cut off past 16 KiB, and the connection marked
// broken.
func TestCapabilitiesBounded(t *testing.T) {
	c, _ := dial(t, nil, greeting, Expect("CAPA"), Send("+OK\r\n"+strings.Repeat("X-CAP\r\n", 3000)), Stall(time.Second))
	if _, err := c.Capabilities(); !errors.Is(err, pop3.ErrReplyTooLarge) || !errors.Is(err, pop3.ErrBroken) {
		t.Fatalf("Capabilities: %v; want ErrReplyTooLarge and ErrBroken", err)
	}
}
