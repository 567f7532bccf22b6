package pop3_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/popwire/pop3"
	. "github.com/popwire/pop3/pop3test"
)

// Issue 9: a cut inside a reply names the command whose reply it cut, and still matches
// ErrBroken and io.ErrUnexpectedEOF; inside a batch too, serial and pipelined. A joined
// batch error holds each error once.
func TestCutNamesTheCommand(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []Step
		call  func(c *pop3.Client) error
	}{
		{"Retr status", []Step{Expect("RETR 7"), Send("+O"), Cut()},
			func(c *pop3.Client) error { _, err := c.Retr(7); return err }},
		{"Retr body", []Step{Expect("RETR 7"), Send("+OK\r\nhalf a bo"), Cut()},
			func(c *pop3.Client) error { _, err := io.ReadAll(must(c.Retr(7))); return err }},
		{"List", []Step{Expect("LIST"), Send("+OK\r\n1 100\r\n2 "), Cut()},
			func(c *pop3.Client) error { _, err := c.List(); return err }},
		{"serial RetrEach", script(capaSerial, Expect("RETR 6"), Reply("+OK", "six", "."),
			Expect("RETR 7"), Send("+OK\r\nhalf"), Cut()),
			func(c *pop3.Client) error { return c.RetrEach([]int{6, 7, 8}, collect(map[int]string{})) }},
		{"pipelined RetrEach", script(capaPipelining, Expect("RETR 6"), Expect("RETR 7"), Expect("RETR 8"),
			Send("+OK\r\nsix\r\n.\r\n+OK\r\nhalf"), Cut()),
			func(c *pop3.Client) error { return c.RetrEach([]int{6, 7, 8}, collect(map[int]string{})) }},
		{"pipelined DeleEach", script(capaPipelining, Expect("DELE 6"), Expect("DELE 7"), Expect("DELE 8"),
			Send("+OK\r\n-ERR [SYS/TEMP] locked\r\n"), Cut()),
			func(c *pop3.Client) error { return c.DeleEach([]int{6, 7, 8}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := login(t, nil, tc.steps)
			err := tc.call(c)
			if !errors.Is(err, pop3.ErrBroken) || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%v; want ErrBroken and io.ErrUnexpectedEOF", err)
			}
			text := err.Error()
			want := "pop3: RETR 7: unexpected EOF"
			switch tc.name {
			case "List":
				want = "pop3: LIST: unexpected EOF"
			case "pipelined DeleEach":
				want = "pop3: DELE 8: unexpected EOF"
				if !strings.Contains(text, "pop3: DELE 7: -ERR [SYS/TEMP] locked") {
					t.Errorf("%q does not name the refused DELE 7", text)
				}
			}
			if !strings.Contains(text, want) || strings.Count(text, "unexpected EOF") != 1 {
				t.Errorf("%q; want %q, once", text, want)
			}
			checkPrefixOnce(t, err)
			// Later calls fail at once with the same error.
			if later := c.Noop(); !errors.Is(later, pop3.ErrBroken) || !strings.Contains(later.Error(), want) {
				t.Errorf("Noop after: %v", later)
			}
		})
	}
}

// A timeout inside a reply names the command too. synctest's clock makes it exact.
func TestTimeoutNamesTheCommand(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client, wait := pipePeer([]string{"+OK ready\r\n", "+OK\r\nthe start of a body"}, func(r *bufio.Reader, _ net.Conn) {
			r.ReadString('\n') // until the client closes
		})
		defer wait()
		c := pop3.NewConn(client, &pop3.Options{Timeout: time.Second})
		var err error
		if _, err = c.ReadResponse(); err != nil {
			t.Fatal(err)
		}
		if err := c.Cmd("RETR", "7"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ReadResponse(); err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(c.DotReader())
		if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.Is(err, pop3.ErrBroken) ||
			!strings.HasPrefix(err.Error(), "pop3: RETR 7: ") {
			t.Fatalf("%v; want a timeout naming RETR 7", err)
		}
	})
}

// A call that Close aborts from another goroutine says the connection was closed by the
// caller and matches net.ErrClosed, not ErrBroken. The server's receipt of NOOP is the
// event that the call is under way.
func TestCloseAbortSaysClosedByCaller(t *testing.T) {
	received := make(chan struct{})
	client, wait := pipePeer(greetLogin, func(r *bufio.Reader, _ net.Conn) {
		r.ReadString('\n') // NOOP, never answered
		close(received)
		r.ReadString('\n') // until the client closes
	})
	defer wait()
	c, err := pop3.NewClient(client, &pop3.Options{AllowInsecureAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login("alice", "secret"); err != nil {
		t.Fatal(err)
	}
	go func() {
		<-received
		c.Close()
	}()
	err = c.Noop()
	if !errors.Is(err, net.ErrClosed) || errors.Is(err, pop3.ErrBroken) ||
		err.Error() != "pop3: NOOP: the connection was closed by the caller" {
		t.Fatalf("Noop: %v; want closed by the caller", err)
	}
	if err := c.Noop(); !errors.Is(err, net.ErrClosed) || err.Error() != "pop3: the connection is closed" {
		t.Errorf("Noop after Close: %v", err)
	}
}
