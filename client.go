package pop3

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// Client is a POP3 session with a server, speaking the command set Outlook uses
// (MS-STANOPOP3): CAPA, USER/PASS, STAT, bare LIST, bare UIDL, RETR, TOP, DELE, NOOP and
// QUIT, with STLS and AUTH for secure sessions. It never sends RSET, APOP, or an argument
// to LIST, UIDL, STAT, NOOP or QUIT; to undo deletions, Close the session without QUIT and
// the server deletes nothing.
//
// A Client is not safe for concurrent use, except that Close may be called at any time.
type Client struct {
	conn     *Conn
	greeting string
	loggedIn bool
	caps     Capabilities // nil until CAPA has been asked in the current state
	deleted  map[int]bool // messages this session marked deleted
	opts     Options      // with the defaults filled in
	host     string       // the dialled host, the default TLS ServerName; "" after NewClient
	addr     string       // the dialled address, for Sync's account; "" after NewClient
	user     string       // the user name given to Login, for Sync's account
	// loginTime is when the login succeeded, recorded by Sync for LOGIN-DELAY.
	loginTime time.Time
}

// Conn returns the connection below the Client, for commands the Client does not send.
// A caller that changes the session through it (by deleting a message, say) is on its own.
func (c *Client) Conn() *Conn { return c.conn }

// Greeting returns the text of the server's greeting, after "+OK".
func (c *Client) Greeting() string { return c.greeting }

// cmd sends one command and reads its status line.
func (c *Client) cmd(keyword string, args ...string) (Response, error) {
	return c.conn.roundTrip(keyword, args, false)
}

// enterTransaction records a successful login: the capabilities may differ now.
func (c *Client) enterTransaction() {
	c.loggedIn = true
	c.loginTime = time.Now()
	c.caps = nil
	c.deleted = make(map[int]bool)
}

// transaction checks that a TRANSACTION-state command may be sent.
func (c *Client) transaction() error {
	if err := c.conn.available(); err != nil {
		return err
	}
	if !c.loggedIn {
		return ErrNotAuthenticated
	}
	return nil
}

// message checks a message number before it is sent: logged in, at least 1, and not
// marked deleted in this session.
func (c *Client) message(n int) (string, error) {
	if err := c.checkMessage(n); err != nil {
		return "", err
	}
	return strconv.Itoa(n), nil
}

// checkMessage is message's check alone: the state, a number of at least 1, not marked
// deleted.
func (c *Client) checkMessage(n int) error {
	if err := c.transaction(); err != nil {
		return err
	}
	if n < 1 {
		return fmt.Errorf("%w: message number %d is below 1", ErrInvalidArgument, n)
	}
	if c.deleted[n] {
		return fmt.Errorf("%w: message %d", ErrDeleted, n)
	}
	return nil
}

// Stat returns the number of messages in the maildrop and their total size in octets
// (the drop listing of RFC 1939 section 5).
func (c *Client) Stat() (count int, size int64, err error) {
	if err := c.transaction(); err != nil {
		return 0, 0, err
	}
	resp, err := c.cmd("STAT")
	if err != nil {
		return 0, 0, err
	}
	n, size, err := parseNumberPair([]byte(resp.Text))
	if err == nil && n > maxMessageNumber {
		err = fmt.Errorf("%w: %d messages is out of range", ErrMalformed, n)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("pop3: STAT reply %q: %w", resp.Text, unprefixed(err))
	}
	return int(n), size, nil
}

// ListEntry is one line of a LIST reply: a message and its size in octets.
type ListEntry struct {
	Number int   // the message number, valid in this session only
	Size   int64 // the size in octets the server gives
}

// List returns the number and size of every message not marked deleted. It sends a bare
// LIST, never "LIST n".
func (c *Client) List() ([]ListEntry, error) {
	if err := c.transaction(); err != nil {
		return nil, err
	}
	var scan scanListing
	if err := c.conn.listing("LIST", 0, scan.add); err != nil {
		return nil, err
	}
	return scan.entries(), nil
}

// Retr retrieves message n. The reader streams the message as the server sends it, CRLF
// line endings kept and dot-stuffing removed; it returns
// io.EOF only after the terminating line, and an error matching io.ErrUnexpectedEOF if the
// connection ends before it. Read it to the end or Close it; the next call on the Client
// drains whatever is left.
func (c *Client) Retr(n int) (io.ReadCloser, error) {
	num, err := c.message(n)
	if err != nil {
		return nil, err
	}
	if _, err := c.cmd("RETR", num); err != nil {
		return nil, err
	}
	return c.conn.DotReader(), nil
}

// Top retrieves the header of message n, the blank line after it, and the first lines
// lines of its body. The reader behaves as Retr's.
func (c *Client) Top(n, lines int) (io.ReadCloser, error) {
	num, err := c.message(n)
	if err != nil {
		return nil, err
	}
	if err := checkLineCount(lines); err != nil {
		return nil, err
	}
	if _, err := c.cmd("TOP", num, strconv.Itoa(lines)); err != nil {
		return nil, err
	}
	return c.conn.DotReader(), nil
}

// checkLineCount refuses a negative TOP line count.
func checkLineCount(lines int) error {
	if lines < 0 {
		return fmt.Errorf("%w: TOP line count %d is negative", ErrInvalidArgument, lines)
	}
	return nil
}

// Dele marks message n deleted. The server removes it only
// when Quit succeeds; Close instead, and nothing is removed. Later calls that name n fail
// with ErrDeleted without asking the server.
func (c *Client) Dele(n int) error {
	num, err := c.message(n)
	if err != nil {
		return err
	}
	if _, err := c.cmd("DELE", num); err != nil {
		return err
	}
	c.deleted[n] = true
	return nil
}

// Noop asks the server for a positive reply, to keep the session alive or check it
// without changing anything.
func (c *Client) Noop() error {
	if err := c.transaction(); err != nil {
		return err
	}
	_, err := c.cmd("NOOP")
	return err
}

// Quit ends the session with QUIT. When this session has marked messages deleted, Quit
// waits for the reply: a positive one means the server has removed them; a negative one
// is returned as an *Error, and some may remain. When it has marked none (or has not
// logged in), the reply can change nothing, and Quit does not wait for it: it sends QUIT,
// ends its side of the stream, and closes the connection, saving a round trip; only an
// error sending QUIT is returned then. The connection is closed either way. Called from
// the callback of a batch, Quit cannot send QUIT: it closes the connection, which aborts
// the batch and removes nothing, and returns an error matching ErrBusy.
func (c *Client) Quit() error {
	if errors.Is(c.conn.available(), ErrBusy) {
		c.conn.Close()
		return fmt.Errorf("%w: QUIT not sent, the connection is closed and nothing is removed", ErrBusy)
	}
	var err error
	if len(c.deleted) > 0 {
		_, err = c.cmd("QUIT")
	} else {
		err = c.conn.sendLast("QUIT")
	}
	if cerr := c.conn.Close(); err == nil && cerr != nil && !errors.Is(cerr, net.ErrClosed) {
		err = cerr
	}
	return err
}

// Close closes the connection without QUIT: the server never enters its UPDATE state, so
// no message marked deleted in this session is removed. It may be
// called from another goroutine to abort a call in progress.
func (c *Client) Close() error {
	return c.conn.Close()
}
