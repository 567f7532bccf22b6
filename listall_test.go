package pop3_test

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"testing"

	"github.com/popwire/pop3"
	. "github.com/popwire/pop3/pop3test"
)

// writeLog is an Options.Dialer that records every Write the client makes on the
// connection, to show which commands share one write.
type writeLog struct {
	mu     sync.Mutex
	writes []string
}

type loggedConn struct {
	net.Conn
	log *writeLog
}

func (c loggedConn) Write(p []byte) (int, error) {
	c.log.mu.Lock()
	c.log.writes = append(c.log.writes, string(p))
	c.log.mu.Unlock()
	return c.Conn.Write(p)
}

func (w *writeLog) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	nc, err := new(net.Dialer).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return loggedConn{nc, w}, nil
}

func (w *writeLog) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.writes)
}

var listAllWant = []pop3.MessageInfo{{Number: 1, Size: 120, UID: "uid-a"}, {Number: 2, Size: 200, UID: ""}, {Number: 3, Size: 340, UID: "uid-c"}}

// V0003, V0007, RFC 2449 section 6.6: with PIPELINING, ListAll sends UIDL and LIST in one
// write and joins the listings by number; a message missing from UIDL has no UID, one
// missing from LIST is left out. Without it, the two go one after the other.
func TestListAll(t *testing.T) {
	uidl := Reply("+OK", "1 uid-a", "3 uid-c", "4 uid-gone", ".")
	list := Reply("+OK 3 messages", "1 120", "2\t200 extra", "3 340", ".")
	for _, tt := range []struct {
		name  string
		caps  Step
		write string // the write that carries UIDL
	}{
		{"pipelined", Reply("+OK", "UIDL", "PIPELINING", "."), "UIDL\r\nLIST\r\n"},
		{"serial", Reply("+OK", "UIDL", "."), "UIDL\r\n"},
		{"no CAPA", Reply("-ERR"), "UIDL\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			log := new(writeLog)
			c, srv := login(t, &pop3.Options{Dialer: log},
				Expect("CAPA"), tt.caps,
				Expect("UIDL"), uidl, Expect("LIST"), list,
				Expect("NOOP"), Reply("+OK"))
			got, err := c.ListAll()
			if err != nil || !slices.Equal(got, listAllWant) {
				t.Fatalf("ListAll() = %v, %v; want %v", got, err, listAllWant)
			}
			if err := c.Noop(); err != nil {
				t.Fatal(err)
			}
			wait(t, srv)
			if !slices.Contains(log.all(), tt.write) {
				t.Errorf("writes %q; want one of %q", log.all(), tt.write)
			}
		})
	}
}

// Without UIDL, ListAll returns LIST's numbers and sizes with every UID "": UIDL is not
// sent when CAPA lists capabilities without it, and a -ERR to it is not an error.
func TestListAllWithoutUIDL(t *testing.T) {
	want := []pop3.MessageInfo{{Number: 1, Size: 120}, {Number: 2, Size: 200}}
	list := Reply("+OK", "1 120", "2 200", ".")
	t.Run("not listed", func(t *testing.T) {
		c, srv := login(t, nil, Expect("CAPA"), Reply("+OK", "TOP", "PIPELINING", "."), Expect("LIST"), list)
		if got, err := c.ListAll(); err != nil || !slices.Equal(got, want) {
			t.Errorf("ListAll() = %v, %v; want %v", got, err, want)
		}
		wait(t, srv)
	})
	t.Run("refused, pipelined", func(t *testing.T) {
		c, srv := login(t, nil, Expect("CAPA"), Reply("+OK", "UIDL", "PIPELINING", "."),
			Expect("UIDL"), Reply("-ERR not today"), Expect("LIST"), list)
		if got, err := c.ListAll(); err != nil || !slices.Equal(got, want) {
			t.Errorf("ListAll() = %v, %v; want %v", got, err, want)
		}
		wait(t, srv)
	})
}

// A malformed UIDL listing, a refused LIST and a cut are errors; after the first two the
// connection stays in step (the pipelined LIST reply is read), after the cut it is broken.
func TestListAllErrors(t *testing.T) {
	pipelining := []Step{Expect("CAPA"), Reply("+OK", "UIDL", "PIPELINING", ".")}
	t.Run("malformed UIDL", func(t *testing.T) {
		c, srv := login(t, nil, pipelining,
			Expect("UIDL"), Reply("+OK", "1 uid-a", "x uid-b", "."), Expect("LIST"), Reply("+OK", "1 120", "."),
			Expect("NOOP"), Reply("+OK"))
		if _, err := c.ListAll(); !errors.Is(err, pop3.ErrMalformed) {
			t.Errorf("ListAll: %v; want ErrMalformed", err)
		}
		if err := c.Noop(); err != nil {
			t.Errorf("Noop after: %v", err)
		}
		wait(t, srv)
	})
	// C0037: one line per message; a message listed twice is a malformed listing.
	for name, uids := range map[string][]string{
		"UIDL lists a message twice":               {"1 uid-a", "1 uid-b"},
		"UIDL lists a message twice, out of order": {"2 uid-b", "1 uid-a", "2 uid-c"},
	} {
		t.Run(name, func(t *testing.T) {
			c, srv := login(t, nil, pipelining,
				Expect("UIDL"), Reply(append(append([]string{"+OK"}, uids...), ".")...),
				Expect("LIST"), Reply("+OK", "1 120", "2 200", "."),
				Expect("NOOP"), Reply("+OK"))
			if _, err := c.ListAll(); !errors.Is(err, pop3.ErrMalformed) || errors.Is(err, pop3.ErrBroken) {
				t.Errorf("ListAll: %v; want ErrMalformed, the connection usable", err)
			}
			if err := c.Noop(); err != nil {
				t.Errorf("Noop after: %v", err)
			}
			wait(t, srv)
		})
	}
	t.Run("LIST refused", func(t *testing.T) {
		c, srv := login(t, nil, pipelining,
			Expect("UIDL"), Reply("+OK", "1 uid-a", "."), Expect("LIST"), Reply("-ERR [SYS/TEMP] busy"),
			Expect("NOOP"), Reply("+OK"))
		_, err := c.ListAll()
		if perr := asError(t, err); perr.Command != "LIST" || perr.Code != "SYS/TEMP" {
			t.Errorf("ListAll: %#v", perr)
		}
		if err := c.Noop(); err != nil {
			t.Errorf("Noop after: %v", err)
		}
		wait(t, srv)
	})
	t.Run("cut", func(t *testing.T) {
		c, srv := login(t, nil, pipelining, Expect("UIDL"), Send("+OK\r\n1 uid-a\r\n"), Cut())
		if _, err := c.ListAll(); !errors.Is(err, pop3.ErrBroken) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("ListAll: %v; want ErrBroken and io.ErrUnexpectedEOF", err)
		}
		wait(t, srv)
	})
	t.Run("not logged in", func(t *testing.T) {
		c, srv := dial(t, nil, greeting)
		if _, err := c.ListAll(); !errors.Is(err, pop3.ErrNotAuthenticated) {
			t.Errorf("ListAll: %v; want ErrNotAuthenticated", err)
		}
		wait(t, srv)
	})
}
