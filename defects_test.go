package pop3_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/popwire/pop3"
	. "github.com/popwire/pop3/pop3test"
)

// The three defects of issue 11, each against a hostile server.

// pipePeer plays a server on the far end of an in-memory pipe and returns the client
// end, and a function that closes the client end and waits for the server to end. The
// server writes opening[0] at once (the greeting) and each later opening reply after
// reading a line, then runs serve, then closes its end.
func pipePeer(opening []string, serve func(r *bufio.Reader, server net.Conn)) (net.Conn, func()) {
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer server.Close()
		r := bufio.NewReader(server)
		for i, reply := range opening {
			if i > 0 {
				if _, err := r.ReadString('\n'); err != nil {
					return
				}
			}
			if _, err := io.WriteString(server, reply); err != nil {
				return
			}
		}
		serve(r, server)
	}()
	return client, func() { client.Close(); <-done }
}

// greetLogin is the opening of a session that logs in with USER and PASS: the greeting,
// then the replies to CAPA (which Login asks first; this server lists none), USER and PASS.
var greetLogin = []string{"+OK ready\r\n", "-ERR\r\n", "+OK\r\n", "+OK\r\n"}

// trickle answers the next line with status, then sends line after line, one every gap,
// until the client goes away or limit lines are sent.
func trickle(status, line string, gap time.Duration, limit int) func(*bufio.Reader, net.Conn) {
	return func(r *bufio.Reader, server net.Conn) {
		if _, err := r.ReadString('\n'); err != nil {
			return
		}
		if _, err := io.WriteString(server, status); err != nil {
			return
		}
		for range limit {
			time.Sleep(gap)
			if _, err := io.WriteString(server, line); err != nil {
				return
			}
		}
	}
}

// Defect 1: a listing whose lines keep arriving, each well within the Timeout, is read
// for no longer than the Timeout as a whole; it used to be read until the server stopped.
// synctest's clock makes the gaps exact.
func TestListingDeadlineIsForTheWholeReply(t *testing.T) {
	for _, keyword := range []string{"LIST", "UIDL", "CAPA"} {
		t.Run(keyword, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				client, wait := pipePeer(nil, trickle("+OK\r\n", "1 1\r\n", 100*time.Millisecond, 1000))
				defer wait()
				c := pop3.NewConn(client, &pop3.Options{Timeout: 500 * time.Millisecond})
				start := time.Now()
				if err := c.Cmd(keyword); err != nil {
					t.Fatal(err)
				}
				if _, err := c.ReadResponse(); err != nil {
					t.Fatal(err)
				}
				lines := 0
				err := c.ReadListing(func([]byte) error { lines++; return nil })
				if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.Is(err, pop3.ErrBroken) {
					t.Fatalf("ReadListing: %v after %d lines; want a timeout", err, lines)
				}
				if d := time.Since(start); d != 500*time.Millisecond {
					t.Errorf("the listing was read for %v; want the Timeout, 500ms", d)
				}
			})
		})
	}
}

// The same through the Client: the status line and its listing share one deadline.
func TestClientListingDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client, wait := pipePeer(greetLogin, trickle("+OK\r\n", "1 1\r\n", 100*time.Millisecond, 1000))
		defer wait()
		c, err := pop3.NewClient(client, &pop3.Options{Timeout: 500 * time.Millisecond, AllowInsecureAuth: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Login("alice", "secret"); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := c.List(); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("List: %v; want a timeout", err)
		}
		if d := time.Since(start); d != 500*time.Millisecond {
			t.Errorf("List took %v; want the Timeout, 500ms", d)
		}
	})
}

// Options.MaxListingEntries bounds a listing: one over it fails with ErrReplyTooLarge, and
// the Conn is broken (the rest was not read).
func TestListingEntriesBounded(t *testing.T) {
	listing := "+OK\r\n" + strings.Repeat("1 1\r\n", 11)
	c, srv := login(t, &pop3.Options{MaxListingEntries: 10}, Expect("LIST"), Send(listing), ExpectClosed())
	if _, err := c.List(); !errors.Is(err, pop3.ErrReplyTooLarge) || !errors.Is(err, pop3.ErrBroken) {
		t.Fatalf("List: %v; want ErrReplyTooLarge and ErrBroken", err)
	}
	c.Close()
	wait(t, srv)
	c, srv = login(t, &pop3.Options{MaxListingEntries: 11}, Expect("LIST"), Send(listing+".\r\n"))
	if list, err := c.List(); err != nil || len(list) != 11 {
		t.Fatalf("List at the bound: %d entries, %v", len(list), err)
	}
	wait(t, srv)
}

// Defect 2: a CAPA reply of many long lines of short arguments cost far more memory than
// its size (1000 lines of 8 KiB allocated 211 MiB). The whole reply is bounded now: it
// fails with ErrReplyTooLarge having allocated little.
func TestCapaReplyCostBounded(t *testing.T) {
	line := "X" + strings.Repeat(" a", 4000) + "\r\n"
	reply := []byte("+OK\r\n" + strings.Repeat(line, 1000) + ".\r\n")
	// The server allocates nothing while the client reads.
	client, wait := pipePeer([]string{"+OK ready\r\n"}, func(r *bufio.Reader, server net.Conn) {
		if _, err := r.ReadString('\n'); err == nil { // CAPA
			server.Write(reply)
		}
	})
	c, err := pop3.NewClient(client, nil)
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = c.Capabilities()
	runtime.ReadMemStats(&after)
	wait()
	if !errors.Is(err, pop3.ErrReplyTooLarge) || !errors.Is(err, pop3.ErrBroken) {
		t.Fatalf("Capabilities: %v; want ErrReplyTooLarge and ErrBroken", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("CAPA allocated %d KiB; want little", alloc>>10)
	}
}

// Defect 3: a line that answers nothing, already buffered when the next command is to be
// sent, was taken as that command's reply. It is detected before sending: the connection
// is out of step, and the command is never sent.
func TestStrayReplyDetected(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []Step
		call  func(c *pop3.Client) error
	}{
		// Login returned nil although the server refused the password.
		{"Login", []Step{greeting, Expect("CAPA"), Reply("-ERR"), Expect("USER alice"), Send("+OK\r\n+OK\r\n"), ExpectClosed()},
			func(c *pop3.Client) error { return c.Login("alice", "secret") }},
		// Stat returned numbers the server never sent for STAT.
		{"Stat", script(loginSteps, Expect("NOOP"), Send("+OK\r\n+OK 9 999\r\n"), ExpectClosed()),
			func(c *pop3.Client) error {
				if err := c.Noop(); err != nil {
					return fmt.Errorf("Noop: %w", err)
				}
				_, _, err := c.Stat()
				return err
			}},
		// Retr returned a message that began with a status line.
		{"Retr", script(loginSteps, Expect("NOOP"), Send("+OK\r\n+OK 20 octets\r\n"), ExpectClosed()),
			func(c *pop3.Client) error {
				if err := c.Noop(); err != nil {
					return fmt.Errorf("Noop: %w", err)
				}
				r, err := c.Retr(2)
				if err == nil {
					_, err = io.ReadAll(r)
				}
				return err
			}},
		// The same after a body: octets after its terminating line answer nothing.
		{"after a body", script(loginSteps, Expect("RETR 1"), Send("+OK\r\nbody\r\n.\r\n+OK stray\r\n"), ExpectClosed()),
			func(c *pop3.Client) error {
				if _, err := io.ReadAll(must(c.Retr(1))); err != nil {
					return fmt.Errorf("Retr: %w", err)
				}
				return c.Noop()
			}},
		// And between the commands of a serial batch.
		{"serial batch", script(loginSteps, capaSerial, Expect("DELE 1"), Send("+OK\r\n+OK\r\n"), ExpectClosed()),
			func(c *pop3.Client) error { return c.DeleEach([]int{1, 2}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := NewServer(t, tc.steps...)
			c, err := pop3.Dial(srv.Addr(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.name != "Login" {
				if err := c.Login("alice", "secret"); err != nil {
					t.Fatal(err)
				}
			}
			err = tc.call(c)
			if !errors.Is(err, pop3.ErrBroken) || !strings.Contains(err.Error(), "answer no command") {
				t.Errorf("%v; want ErrBroken for a stray reply", err)
			}
			c.Close()
			wait(t, srv) // the script fails on any command sent after the stray line
		})
	}
}

func must(r io.ReadCloser, err error) io.Reader {
	if err != nil {
		return iotestErrReader{err}
	}
	return r
}

type iotestErrReader struct{ err error }

func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }

// A body may stream in for much longer than the Timeout, each octet well within it, and a
// stall after it fails at least a Timeout and at most 9/8 of it after the last octet
// (Options.Timeout: the deadline of a body's waits is set again only once an eighth of the
// Timeout has passed). An 800 ms Timeout, a line every 40 ms for 4 s, then silence;
// synctest's clock makes the figures exact.
func TestBodyStallDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 800 * time.Millisecond
		client, wait := pipePeer(nil, func(r *bufio.Reader, server net.Conn) {
			if _, err := r.ReadString('\n'); err != nil {
				return
			}
			if _, err := io.WriteString(server, "+OK\r\n"); err != nil {
				return
			}
			for range 100 {
				time.Sleep(40 * time.Millisecond)
				if _, err := io.WriteString(server, "a body line\r\n"); err != nil {
					return
				}
			}
			time.Sleep(time.Minute)
		})
		defer wait()
		c := pop3.NewConn(client, &pop3.Options{Timeout: timeout})
		if err := c.Cmd("RETR", "1"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ReadResponse(); err != nil {
			t.Fatal(err)
		}
		body := c.DotReader()
		start := time.Now()
		last, octets := start, 0
		var buf [64]byte
		var err error
		for err == nil {
			var n int
			n, err = body.Read(buf[:])
			if n > 0 {
				last, octets = time.Now(), octets+n
			}
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.Is(err, pop3.ErrBroken) {
			t.Fatalf("body: %v after %d octets; want a timeout", err, octets)
		}
		if octets != 100*len("a body line\r\n") || last.Sub(start) != 4*time.Second {
			t.Errorf("read %d octets for %v; want the whole stream, 4s", octets, last.Sub(start))
		}
		if stall := time.Since(last); stall <= timeout || stall > timeout+timeout/8 {
			t.Errorf("the stall failed after %v; want more than %v and at most %v", stall, timeout, timeout+timeout/8)
		}
	})
}
