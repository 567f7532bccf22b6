package pop3_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/popwire/pop3"
	. "github.com/popwire/pop3/pop3test"
)

// Hostile and broken servers. Each case ends in a clear typed error, or in a tolerated
// success where real servers do it and the data is intact; where memory matters it is
// measured with runtime.ReadMemStats against the bound the Options set. MS-STANOPOP3
// items: C0002, C0005, C0014 (greetings and status lines that never end), V0001 (status
// octets), C0021 and C0038 (listings), C0034 (TOP), C0041 (shared unique-ids).

// allocated returns the octets allocated (by the whole process) while f runs.
func allocated(f func()) uint64 {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// rawServer runs serve on the first connection accepted on 127.0.0.1 and returns the
// address; the cleanup closes the listener and the connection and waits for serve.
func rawServer(t *testing.T, serve func(c net.Conn, r *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conn net.Conn
	wg.Go(func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		mu.Lock()
		conn = c
		mu.Unlock()
		defer c.Close()
		serve(c, bufio.NewReader(c))
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		if conn != nil {
			conn.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// endless writes chunk to c until the client goes away.
func endless(c net.Conn, chunk []byte) {
	for {
		if _, err := c.Write(chunk); err != nil {
			return
		}
	}
}

// countConn counts the octets the client reads.
type countConn struct {
	net.Conn
	mu   sync.Mutex
	read int
}

func (c *countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.read += n
	c.mu.Unlock()
	return n, err
}

func (c *countConn) octets() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.read
}

// checkBroken checks an error that must mean the connection is lost: ErrBroken and a cut
// (io.ErrUnexpectedEOF, or a reset), never a negative reply and never io.EOF alone.
func checkBroken(t *testing.T, what string, err error) {
	t.Helper()
	var perr *pop3.Error
	switch {
	case !errors.Is(err, pop3.ErrBroken):
		t.Fatalf("%s: %v; want ErrBroken", what, err)
	case errors.As(err, &perr):
		t.Fatalf("%s: %v: a negative reply the server never sent", what, err)
	case !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE):
		t.Fatalf("%s: %v; want io.ErrUnexpectedEOF or a reset", what, err)
	}
}

// closedOrBroken reports whether err says the connection is lost (ErrBroken) or was
// closed by this side (net.ErrClosed).
func closedOrBroken(err error) bool {
	return errors.Is(err, pop3.ErrBroken) || errors.Is(err, net.ErrClosed)
}

// An endless status line fails with ErrLineTooLong having read no more than the read
// buffer the bound sizes (64 KiB, or the bound and a line ending if larger), and costs no
// more memory than that buffer, at 8 KiB (the default) and at 1 MiB (the largest bound).
func TestHostileEndlessStatusLine(t *testing.T) {
	chunk := []byte(strings.Repeat("9", 32<<10))
	for _, maxLine := range []int{0, 1 << 20} {
		addr := rawServer(t, func(c net.Conn, r *bufio.Reader) {
			io.WriteString(c, "+OK ready\r\n")
			if line, _ := r.ReadString('\n'); line != "CAPA\r\n" { // Login asks CAPA first
				return
			}
			io.WriteString(c, "-ERR\r\n")
			if line, _ := r.ReadString('\n'); line != "USER alice\r\n" {
				return
			}
			io.WriteString(c, "+OK ")
			endless(c, chunk)
		})
		bound := 8 << 10
		if maxLine > 0 {
			bound = maxLine
		}
		var cc *countConn
		var err error
		cost := allocated(func() {
			var nc net.Conn
			if nc, err = net.Dial("tcp", addr); err != nil {
				return
			}
			cc = &countConn{Conn: nc}
			var c *pop3.Client
			if c, err = pop3.NewClient(cc, &pop3.Options{MaxLineLength: maxLine, AllowInsecureAuth: true}); err != nil {
				return
			}
			defer c.Close()
			err = c.Login("alice", "secret")
		})
		if !errors.Is(err, pop3.ErrLineTooLong) || !errors.Is(err, pop3.ErrBroken) {
			t.Fatalf("MaxLineLength %d: Login: %v; want ErrLineTooLong and ErrBroken", maxLine, err)
		}
		// The read buffer holds a whole line: max(64 KiB, bound+2).
		buffer := max(64<<10, bound+2)
		if opening := len("+OK ready\r\n-ERR\r\n"); cc.octets() > opening+buffer {
			t.Errorf("MaxLineLength %d: read %d octets after the greeting and the CAPA reply", maxLine, cc.octets()-opening)
		}
		// The 64 KiB read buffer is lent from a sync.Pool, which may hand out a new one
		// (and under the race detector drops what it is given at random): allow two.
		if limit := uint64(buffer + 2*64<<10); cost > limit {
			t.Errorf("MaxLineLength %d: the session allocated %d octets, over %d", maxLine, cost, limit)
		}
		t.Logf("MaxLineLength %d: failed after reading %d octets, %d allocated", bound, cc.octets(), cost)
	}
}

// pipeSession runs a session over net.Pipe in a synctest bubble, where time is fake:
// serve plays the server, session the client, and both must end.
func pipeSession(t *testing.T, serve func(c net.Conn, r *bufio.Reader), session func(t *testing.T, nc net.Conn)) {
	synctest.Test(t, func(t *testing.T) {
		client, server := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer server.Close()
			serve(server, bufio.NewReader(server))
		}()
		defer func() {
			client.Close()
			<-done
		}()
		session(t, client)
	})
}

// trickleForever writes the octets of s one at a time, every 10 ms, and then one "x" every 10
// ms for ever, until the client goes away.
func trickleForever(c net.Conn, s string) {
	for i := 0; ; i++ {
		b := byte('x')
		if i < len(s) {
			b = s[i]
		}
		if _, err := c.Write([]byte{b}); err != nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A status line or a greeting trickled an octet at a time, each well within the Timeout,
// is still bounded by the Timeout as a whole: the call ends with a timeout when the Timeout
// has passed since it began (in fake time, exactly).
func TestHostileTrickledStatusLine(t *testing.T) {
	const timeout = 100 * time.Millisecond
	opts := &pop3.Options{Timeout: timeout, MaxLineLength: 1 << 20, AllowInsecureAuth: true}
	t.Run("greeting", func(t *testing.T) {
		pipeSession(t, func(c net.Conn, _ *bufio.Reader) { trickleForever(c, "+OK ") }, func(t *testing.T, nc net.Conn) {
			start := time.Now()
			_, err := pop3.NewClient(nc, opts)
			if !errors.Is(err, os.ErrDeadlineExceeded) || time.Since(start) != timeout {
				t.Fatalf("NewClient: %v after %v; want a timeout after %v", err, time.Since(start), timeout)
			}
		})
	})
	t.Run("reply", func(t *testing.T) {
		serve := func(c net.Conn, r *bufio.Reader) {
			io.WriteString(c, "+OK ready\r\n")
			if line, _ := r.ReadString('\n'); line != "CAPA\r\n" { // Login asks CAPA first
				return
			}
			io.WriteString(c, "-ERR\r\n")
			if line, _ := r.ReadString('\n'); line == "USER alice\r\n" {
				trickleForever(c, "+OK ")
			}
		}
		pipeSession(t, serve, func(t *testing.T, nc net.Conn) {
			c, err := pop3.NewClient(nc, opts)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if err := c.Login("alice", "secret"); !errors.Is(err, os.ErrDeadlineExceeded) || time.Since(start) != timeout {
				t.Fatalf("Login: %v after %v; want a timeout after %v", err, time.Since(start), timeout)
			}
			start = time.Now()
			if err := c.Login("alice", "secret"); !errors.Is(err, pop3.ErrBroken) || time.Since(start) != 0 {
				t.Fatalf("Login after the timeout: %v after %v; want ErrBroken at once", err, time.Since(start))
			}
		})
	})
}

// A status line known to be over the bound fails at once, without waiting for the rest of
// it: a server that sends 200 octets of a greeting or a reply with a bound of 100, and then
// nothing, gets ErrLineTooLong with no time passing (in fake time), not after the Timeout.
func TestHostileOverlongLineStalls(t *testing.T) {
	opts := &pop3.Options{MaxLineLength: 100, AllowInsecureAuth: true}
	long := "+OK " + strings.Repeat("x", 200)
	stall := func(c net.Conn, r *bufio.Reader) { io.Copy(io.Discard, r) } // until the client closes
	t.Run("greeting", func(t *testing.T) {
		serve := func(c net.Conn, r *bufio.Reader) {
			io.WriteString(c, long)
			stall(c, r)
		}
		pipeSession(t, serve, func(t *testing.T, nc net.Conn) {
			start := time.Now()
			_, err := pop3.NewClient(nc, opts)
			if !errors.Is(err, pop3.ErrLineTooLong) || time.Since(start) != 0 {
				t.Fatalf("NewClient: %v after %v; want ErrLineTooLong at once", err, time.Since(start))
			}
		})
	})
	t.Run("reply", func(t *testing.T) {
		serve := func(c net.Conn, r *bufio.Reader) {
			io.WriteString(c, "+OK ready\r\n")
			if line, _ := r.ReadString('\n'); line != "CAPA\r\n" { // Login asks CAPA first
				return
			}
			io.WriteString(c, "-ERR\r\n")
			if line, _ := r.ReadString('\n'); line == "USER alice\r\n" {
				io.WriteString(c, long)
			}
			stall(c, r)
		}
		pipeSession(t, serve, func(t *testing.T, nc net.Conn) {
			c, err := pop3.NewClient(nc, opts)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if err := c.Login("alice", "secret"); !errors.Is(err, pop3.ErrLineTooLong) || time.Since(start) != 0 {
				t.Fatalf("Login: %v after %v; want ErrLineTooLong at once", err, time.Since(start))
			}
		})
	})
}

// A body line that never ends streams through in constant memory (body lines are not
// bounded: they stream whatever their length), and Close from the caller ends it with an
// error that is not io.EOF.
func TestHostileEndlessBodyLine(t *testing.T) {
	chunk := []byte(strings.Repeat("x", 32<<10))
	addr := rawServer(t, func(c net.Conn, r *bufio.Reader) {
		io.WriteString(c, "+OK ready\r\n")
		for _, want := range []string{"CAPA\r\n", "USER alice\r\n", "PASS secret\r\n", "RETR 1\r\n"} {
			if line, _ := r.ReadString('\n'); line != want {
				return
			}
			switch want {
			case "CAPA\r\n": // Login asks it first; this server lists nothing
				io.WriteString(c, "-ERR\r\n")
			case "RETR 1\r\n":
				io.WriteString(c, "+OK\r\nSubject: endless\r\n\r\n")
				endless(c, chunk)
				return
			default:
				io.WriteString(c, "+OK\r\n")
			}
		}
	})
	c, err := pop3.Dial(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice", "secret"); err != nil {
		t.Fatal(err)
	}
	r, err := c.Retr(1)
	if err != nil {
		t.Fatal(err)
	}
	const stream = 64 << 20
	var n int64
	cost := allocated(func() { n, err = io.CopyN(io.Discard, r, stream) })
	if err != nil || n != stream {
		t.Fatalf("read %d octets of the endless line: %v", n, err)
	}
	if cost > 256<<10 {
		t.Errorf("streaming 64 MiB of one line allocated %d octets", cost)
	}
	t.Logf("64 MiB of one body line: %d octets allocated", cost)
	c.Close()
	_, err = io.Copy(io.Discard, r)
	if !closedOrBroken(err) || errors.Is(err, io.EOF) {
		t.Fatalf("reading after Close: %v; want ErrBroken or net.ErrClosed, not io.EOF", err)
	}
}

// A greeting that is negative, empty, endless or cut: a typed error each, and the
// connection of a negative greeting (C0002) or of one that is no POP3 status line is
// closed.
func TestHostileGreeting(t *testing.T) {
	t.Run("-ERR", func(t *testing.T) {
		srv := NewServer(t, Reply("-ERR [IN-USE] \xe9\x00 busy"), ExpectClosed())
		_, err := pop3.Dial(srv.Addr(), nil)
		if perr := asError(t, err); perr.Command != "" || perr.Code != "IN-USE" || perr.Text != "\xe9\x00 busy" {
			t.Errorf("Dial: %#v", perr)
		}
		wait(t, srv)
	})
	t.Run("bare -ERR then close", func(t *testing.T) {
		srv := NewServer(t, Reply("-ERR"), Cut())
		_, err := pop3.Dial(srv.Addr(), nil)
		asError(t, err)
	})
	// An empty line is no POP3 greeting: the server is not taken for a POP3 server that
	// refused, so the error is ErrMalformed saying so, not an *Error.
	t.Run("empty line", func(t *testing.T) {
		srv := NewServer(t, Reply(""), ExpectClosed())
		_, err := pop3.Dial(srv.Addr(), nil)
		var perr *pop3.Error
		if !errors.Is(err, pop3.ErrMalformed) || errors.As(err, &perr) || !strings.Contains(err.Error(), "not a POP3 server") {
			t.Fatalf("Dial: %v; want ErrMalformed saying not a POP3 server", err)
		}
		wait(t, srv)
	})
	t.Run("never ends", func(t *testing.T) {
		srv := NewServer(t, Send("+OK ready"), Stall(time.Minute))
		_, err := pop3.Dial(srv.Addr(), &pop3.Options{Timeout: 50 * time.Millisecond})
		if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.Is(err, pop3.ErrBroken) {
			t.Fatalf("Dial: %v; want a timeout", err)
		}
	})
	t.Run("cut inside", func(t *testing.T) {
		srv := NewServer(t, Send("+OK rea"), Cut())
		_, err := pop3.Dial(srv.Addr(), nil)
		checkBroken(t, "Dial", err)
	})
	t.Run("none", func(t *testing.T) {
		srv := NewServer(t, Cut())
		_, err := pop3.Dial(srv.Addr(), nil)
		checkBroken(t, "Dial", err)
	})
}

// The server closes the connection at each change of state; the call that meets it fails
// with ErrBroken and a cut, never a success or a negative reply, and later calls fail at
// once. A QUIT whose reply never came is not reported as committed.
func TestHostileCloseAtStateChange(t *testing.T) {
	capa := []Step{greeting, Expect("CAPA"), Reply("-ERR")} // Login asks CAPA first
	login := script(capa, Expect("USER alice"), Reply("+OK"), Expect("PASS secret"), Reply("+OK"))
	mustLogin := func(t *testing.T, c *pop3.Client) {
		t.Helper()
		if err := c.Login("alice", "secret"); err != nil {
			t.Fatalf("Login: %v", err)
		}
	}
	loginOnly := func(t *testing.T, c *pop3.Client) error { return c.Login("alice", "secret") }
	deleQuit := func(t *testing.T, c *pop3.Client) error {
		mustLogin(t, c)
		if err := c.Dele(1); err != nil {
			t.Fatalf("Dele: %v", err)
		}
		return c.Quit()
	}
	for _, tc := range []struct {
		name  string
		steps []Step
		call  func(t *testing.T, c *pop3.Client) error // returns the error of the call that meets the close
	}{
		{"after the greeting", []Step{greeting, Cut()}, loginOnly},
		{"after CAPA", script(capa, Cut()), loginOnly},
		{"after USER", script(capa, Expect("USER alice"), Reply("+OK"), Cut()), loginOnly},
		{"instead of the PASS reply", script(capa, Expect("USER alice"), Reply("+OK"), Expect("PASS secret"), Cut()), loginOnly},
		{"after the login", script(login, Cut()),
			func(t *testing.T, c *pop3.Client) error {
				mustLogin(t, c)
				_, _, err := c.Stat()
				return err
			}},
		{"inside AUTH", []Step{greeting, Expect("CAPA"), Reply("+OK", "SASL LOGIN", "."),
			Expect("AUTH LOGIN " + b64("alice")), Reply("+ " + b64("Password:")), Expect(b64("secret")), Cut()},
			func(t *testing.T, c *pop3.Client) error { return c.Auth(sasl.NewLoginClient("alice", "secret")) }},
		{"instead of the STLS reply", []Step{greeting, Expect("STLS"), Cut()},
			func(t *testing.T, c *pop3.Client) error { return c.StartTLS(nil) }},
		{"after DELE", script(login, Expect("DELE 1"), Reply("+OK"), Cut()), deleQuit},
		{"instead of the QUIT reply (UPDATE)", script(login, Expect("DELE 1"), Reply("+OK"), Expect("QUIT"), Cut()), deleQuit},
		{"inside a pipelined batch", script(login, Expect("CAPA"), Reply("+OK", "PIPELINING", "."),
			Expect("DELE 1"), Reply("+OK"), Expect("DELE 2"), Cut()),
			func(t *testing.T, c *pop3.Client) error {
				mustLogin(t, c)
				return c.DeleEach([]int{1, 2, 3})
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, srv := dial(t, nil, tc.steps...)
			checkBroken(t, tc.name, tc.call(t, c))
			if err := c.Noop(); !closedOrBroken(err) && !errors.Is(err, pop3.ErrNotAuthenticated) {
				t.Fatalf("Noop after the close: %v; want ErrBroken, net.ErrClosed (after Quit) or ErrNotAuthenticated", err)
			}
			wait(t, srv)
		})
	}
}

// Microsoft 365 has been seen answering DELE with an empty line. That is a negative reply
// (MS-STANOPOP3 V0001: anything that does not begin with "+"): Dele returns an *Error
// naming the command, the message is not taken as marked deleted, and the session goes on.
func TestHostileEmptyDeleReply(t *testing.T) {
	c, srv := login(t, nil,
		Expect("DELE 1"), Reply(""),
		Expect("NOOP"), Reply("+OK"),
		Expect("RETR 1"), Reply("+OK", "x", "."),
		Expect("QUIT"), Reply("+OK"),
	)
	err := c.Dele(1)
	if perr := asError(t, err); perr.Command != "DELE 1" || perr.Text != "" || perr.Code != "" {
		t.Fatalf("Dele: %#v", perr)
	}
	if err := c.Noop(); err != nil {
		t.Fatalf("Noop after the empty reply: %v", err)
	}
	r, err := c.Retr(1) // not marked deleted: the server is asked
	if got := readAll(t, r, err); got != "x\r\n" {
		t.Fatalf("Retr: %q", got)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	wait(t, srv)
}

// LIST sizes that disagree with the bodies, as Mailutils' do within a session (and a size
// no message has): the bodies come whole as sent, and a claimed size costs no memory.
func TestHostileListSizes(t *testing.T) {
	body := strings.Repeat("a line of the body\r\n", 50)
	c, srv := login(t, nil,
		Expect("LIST"), Reply("+OK", "1 10", "2 999999999999999999", "."),
		Expect("RETR 1"), Send("+OK 10 octets\r\n"+body+".\r\n"),
		Expect("RETR 2"), Send("+OK 999999999999999999 octets\r\nshort\r\n.\r\n"),
		Expect("LIST"), Reply("+OK", "1 99999999999999999999", "2 5", "."),
		Expect("NOOP"), Reply("+OK"),
	)
	list, err := c.List()
	if err != nil || len(list) != 2 || list[0] != (pop3.ListEntry{Number: 1, Size: 10}) || list[1].Size != 999999999999999999 {
		t.Fatalf("List: %v, %v", list, err)
	}
	r, err := c.Retr(1)
	if got := readAll(t, r, err); got != body {
		t.Fatalf("Retr 1: %d octets, want the %d sent", len(got), len(body))
	}
	var got string
	cost := allocated(func() {
		r, err := c.Retr(2)
		got = readAll(t, r, err)
	})
	if got != "short\r\n" {
		t.Fatalf("Retr 2: %q", got)
	}
	if cost > 128<<10 {
		t.Errorf("a RETR claiming %d octets allocated %d", list[1].Size, cost)
	}
	// A size beyond int64 is malformed; the listing is read to its end and the session goes on.
	if _, err := c.List(); !errors.Is(err, pop3.ErrMalformed) || errors.Is(err, pop3.ErrBroken) {
		t.Fatalf("List: %v; want ErrMalformed, the connection usable", err)
	}
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
	wait(t, srv)
}

// TOP with more or fewer body lines than asked (Mailutils adds an empty line to TOP n k):
// what the server sent comes whole, unstuffed; the client does not count lines.
func TestHostileTopLineCounts(t *testing.T) {
	header := "Subject: t\r\n\r\n"
	c, srv := login(t, nil,
		Expect("TOP 1 1"), Reply("+OK", "Subject: t", "", "one", "..two", "three", "."),
		Expect("TOP 1 5"), Reply("+OK", "Subject: t", "", "."),
		Expect("TOP 1 2"), Reply("+OK", "Subject: t", "", "one", "two", "", "."),
	)
	for _, tc := range []struct {
		lines int
		want  string
	}{
		{1, header + "one\r\n.two\r\nthree\r\n"},
		{5, header},
		{2, header + "one\r\ntwo\r\n\r\n"},
	} {
		r, err := c.Top(1, tc.lines)
		if got := readAll(t, r, err); got != tc.want {
			t.Errorf("Top(1, %d) = %q, want %q", tc.lines, got, tc.want)
		}
	}
	wait(t, srv)
}

// UIDL numbers out of range or repeated fail with ErrMalformed (a message listed twice
// would give one message two unique-ids, and a sync by unique-id would store it under the
// other message's id and later delete that one unread), the listing read to its end and the
// session usable; numbers missing (messages deleted earlier) or beyond the count are
// tolerated as listed, and so are unique-ids shared by two messages (C0041).
func TestHostileUIDLNumbers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []string
		want  []pop3.UIDEntry // nil: ErrMalformed
	}{
		{"zero", []string{"0 a", "1 b"}, nil},
		{"negative", []string{"1 a", "-1 b"}, nil},
		{"beyond an int32", []string{"2147483648 a"}, nil},
		{"beyond an int64", []string{"99999999999999999999 a"}, nil},
		{"not a number", []string{"1 a", "two b"}, nil},
		{"repeated", []string{"1 a", "1 b"}, nil},
		{"repeated, out of order", []string{"2 a", "1 b", "3 c", "2 d"}, nil},
		{"missing", []string{"1 a", "3 c", "4 d"}, []pop3.UIDEntry{{1, "a"}, {3, "c"}, {4, "d"}}},
		{"out of order", []string{"3 c", "1 a", "2 b"}, []pop3.UIDEntry{{3, "c"}, {1, "a"}, {2, "b"}}},
		{"beyond the count", []string{"1 a", "2147483647 z"}, []pop3.UIDEntry{{1, "a"}, {2147483647, "z"}}},
		{"shared unique-id", []string{"1 a", "2 a"}, []pop3.UIDEntry{{1, "a"}, {2, "a"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, srv := login(t, nil,
				Expect("UIDL"), Reply(append(append([]string{"+OK"}, tc.lines...), ".")...),
				Expect("NOOP"), Reply("+OK"),
			)
			list, err := c.UIDL()
			switch {
			case tc.want == nil && (!errors.Is(err, pop3.ErrMalformed) || errors.Is(err, pop3.ErrBroken)):
				t.Fatalf("UIDL: %v, %v; want ErrMalformed, the connection usable", list, err)
			case tc.want != nil && (err != nil || !equalUIDs(list, tc.want)):
				t.Fatalf("UIDL: %v, %v; want %v", list, err, tc.want)
			}
			if err := c.Noop(); err != nil {
				t.Fatalf("Noop after UIDL: %v", err)
			}
			wait(t, srv)
		})
	}
}

func equalUIDs(a, b []pop3.UIDEntry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// NUL and 8-bit octets in status lines: the text is kept as sent where it is only text
// (the greeting, a negative reply), a number they corrupt is ErrMalformed with the session
// usable, and the first octet alone decides whether a reply is positive (V0001).
func TestHostileStatusOctets(t *testing.T) {
	c, srv := dial(t, nil,
		Reply("+OK \x00ready\xff\xfe"),
		Expect("CAPA"), Reply("-ERR"), // the first Login asks; the later ones use the answer
		Expect("USER alice"), Reply("\x00+OK"),
		Expect("USER alice"), Reply("+\x00OK\xe9"),
		Expect("PASS secret"), Reply("-ERR [AUTH] mot de passe erron\xe9\x00"),
		Expect("USER alice"), Reply("+OK"),
		Expect("PASS secret"), Reply("+OK\x00\x00"),
		Expect("STAT"), Reply("+OK 2\x00 320"),
		Expect("STAT"), Reply("+OK 2 3\xff0"),
		Expect("STAT"), Reply("+OK 2 320 \x00\xff"),
		Expect("LIST"), Reply("+OK", "1\x00 10", "."),
		Expect("UIDL"), Reply("+OK", "1 caf\xe9", "."),
		Expect("UIDL"), Reply("+OK", "1 a\x00b", "."),
		Expect("NOOP"), Reply("+OK"),
	)
	if got := c.Greeting(); got != "\x00ready\xff\xfe" {
		t.Errorf("Greeting() = %q", got)
	}
	if perr := asError(t, c.Login("alice", "secret")); perr.Command != "USER alice" {
		t.Errorf("Login: %#v", perr)
	}
	perr := asError(t, c.Login("alice", "secret"))
	if perr.Command != "PASS ***" || perr.Code != "AUTH" || perr.Text != "mot de passe erron\xe9\x00" {
		t.Errorf("Login: %#v", perr)
	}
	if err := c.Login("alice", "secret"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, _, err := c.Stat(); !errors.Is(err, pop3.ErrMalformed) || errors.Is(err, pop3.ErrBroken) {
			t.Fatalf("Stat: %v; want ErrMalformed, the connection usable", err)
		}
	}
	if n, size, err := c.Stat(); err != nil || n != 2 || size != 320 {
		t.Fatalf("Stat: %d %d %v", n, size, err)
	}
	if _, err := c.List(); !errors.Is(err, pop3.ErrMalformed) {
		t.Fatalf("List: %v; want ErrMalformed", err)
	}
	if list, err := c.UIDL(); err != nil || !equalUIDs(list, []pop3.UIDEntry{{1, "caf\xe9"}}) {
		t.Fatalf("UIDL: %v %v", list, err)
	}
	if _, err := c.UIDL(); !errors.Is(err, pop3.ErrMalformed) {
		t.Fatalf("UIDL: %v; want ErrMalformed", err)
	}
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
	wait(t, srv)
}

// A body that never ends, left unread: Close (or the next call, or Quit) skips the rest
// within one Timeout in all, then the connection is broken; it never drains for ever,
// however steadily the octets keep coming (in fake time).
func TestHostileEndlessBodySkipped(t *testing.T) {
	const timeout = 200 * time.Millisecond
	serve := func(c net.Conn, r *bufio.Reader) {
		io.WriteString(c, "+OK ready\r\n")
		for _, want := range []string{"CAPA\r\n", "USER alice\r\n", "PASS secret\r\n", "RETR 1\r\n"} {
			if line, _ := r.ReadString('\n'); line != want {
				return
			}
			switch want {
			case "CAPA\r\n":
				io.WriteString(c, "-ERR\r\n")
			case "RETR 1\r\n":
				io.WriteString(c, "+OK\r\nSubject: endless\r\n\r\n")
				trickleForever(c, "")
				return
			default:
				io.WriteString(c, "+OK\r\n")
			}
		}
	}
	for _, how := range []string{"Close", "next call", "Quit"} {
		t.Run(how, func(t *testing.T) {
			pipeSession(t, serve, func(t *testing.T, nc net.Conn) {
				c, err := pop3.NewClient(nc, &pop3.Options{Timeout: timeout, AllowInsecureAuth: true})
				if err != nil {
					t.Fatal(err)
				}
				if err := c.Login("alice", "secret"); err != nil {
					t.Fatal(err)
				}
				r, err := c.Retr(1)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(r, make([]byte, 10)); err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				switch how {
				case "Close":
					err = r.Close()
				case "next call":
					err = c.Noop()
				case "Quit":
					err = c.Quit()
				}
				if !errors.Is(err, pop3.ErrBroken) && !errors.Is(err, net.ErrClosed) || time.Since(start) != timeout {
					t.Fatalf("%s: %v after %v; want ErrBroken after %v", how, err, time.Since(start), timeout)
				}
				if _, err := io.ReadAll(r); err == nil || errors.Is(err, io.EOF) {
					t.Errorf("reading the skipped body: %v; want an error, not io.EOF", err)
				}
			})
		})
	}
}
