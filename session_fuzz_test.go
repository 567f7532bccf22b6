package pop3

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzClientSession plays arbitrary server octets against a whole session of the Client:
// whatever the server says, every call returns (no panic, no hang), a body that ends
// early never reads as complete, and an error that is not a negative reply leaves the
// connection broken.
func FuzzClientSession(f *testing.F) {
	f.Add("+OK ready\r\n+OK\r\n+OK\r\n+OK 2 30\r\n+OK\r\n1 10\r\n2\t20 x\r\n.\r\n"+
		"+OK\r\n1 a\r\n2 b\r\n.\r\n+OK\r\n..x\r\n.\r\n+OK\r\nh\r\n\r\n.\r\n+OK\r\n"+
		"+OK\r\nPIPELINING\r\n.\r\n+OK\r\n.\r\n+OK\r\nb\r\n.\r\n+OK\r\n+OK bye\r\n", 0)
	f.Add("+ok\n+\n+OK\n-ERR [IN-USE] locked\n", 3)
	f.Add("+OK\r\n+OK\r\n+OK\r\n+OK 1 5\r\n+OK\r\n.\r\n+OK\r\n.\r\n+OK\r\npartial", 5)
	f.Add("+OK\r\n-ERR [SYS/TEMP\r\n-\r\n"+strings.Repeat("x", 300)+"\r\n", 1)
	f.Fuzz(func(t *testing.T, server string, chunk int) {
		if chunk < 0 {
			chunk = -chunk
		}
		c, err := NewClient(newStreamConn(server, chunk%32), &Options{MaxLineLength: 256, AllowInsecureAuth: true})
		if err != nil {
			checkSessionError(t, "greeting", c, err)
			return
		}
		calls := []struct {
			name string
			call func() error
		}{
			{"Capabilities", func() error { _, err := c.Capabilities(); return err }},
			{"Login", func() error { return c.Login("alice", "secret") }},
			{"Stat", func() error { _, _, err := c.Stat(); return err }},
			{"List", func() error { _, err := c.List(); return err }},
			{"UIDL", func() error { _, err := c.UIDL(); return err }},
			{"ListAll", func() error { _, err := c.ListAll(); return err }},
			{"Retr", func() error { return readWhole(c.Retr(1)) }},
			{"Top", func() error { return readWhole(c.Top(2, 0)) }},
			{"Dele", func() error { return c.Dele(3) }},
			{"RetrEach", func() error {
				return c.RetrEach([]int{1, 2}, func(n int, r io.Reader) error {
					_, err := io.Copy(io.Discard, r)
					return err
				})
			}},
			{"DeleEach", func() error { return c.DeleEach([]int{4, 5}) }},
			{"Noop", c.Noop},
			{"Quit", c.Quit},
		}
		for _, call := range calls {
			checkSessionError(t, call.name, c, call.call())
		}
	})
}

// readWhole reads a body to its end; a body cut short must not end in io.EOF.
func readWhole(r io.ReadCloser, err error) error {
	if err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	return r.Close()
}

// checkSessionError checks that an error is one the session may return: a negative reply,
// a refusal before sending (the state, a malformed listing), or a broken connection.
func checkSessionError(t *testing.T, name string, c *Client, err error) {
	t.Helper()
	var perr *Error
	switch {
	case err == nil, errors.As(err, &perr):
	case errors.Is(err, ErrBroken), errors.Is(err, ErrMalformed), errors.Is(err, ErrNotAuthenticated),
		errors.Is(err, ErrDeleted), errors.Is(err, ErrNoAuthMechanism), errors.Is(err, ErrInvalidArgument):
	default:
		t.Fatalf("%s: unexpected error %v", name, err)
	}
	if errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("%s: a cut connection reads as io.EOF: %v", name, err)
	}
	if c != nil && errors.Is(err, ErrBroken) && c.conn.Err() == nil {
		t.Fatalf("%s: %v, but the connection is not marked broken", name, err)
	}
}
