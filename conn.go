package pop3

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

const (
	defaultTimeout       = time.Minute
	defaultMaxLineLength = 8 << 10
	// maxMaxLineLength caps Options.MaxLineLength: the read buffer holds a whole line.
	maxMaxLineLength = 1 << 20
	readBufferSize   = 64 << 10
	// maxCommandLength is RFC 2449's bound on a command line, CRLF included.
	maxCommandLength = 255
)

// Conn is a POP3 connection below the Client: it sends commands and reads status lines,
// listings and dot-stuffed bodies, for callers that need a command the Client never sends.
// Every wait on the server has the Options' Timeout. After a timeout, a cut, an over-long
// line or a body that could not be read to its end, the Conn is out of step with the server
// and every later call returns an error that matches ErrBroken.
//
// A Conn is not safe for concurrent use, except that Close may be called at any time.
type Conn struct {
	nc      net.Conn
	r       *bufio.Reader
	w       *bufio.Writer
	timeout time.Duration
	maxLine int

	// pending holds the commands sent whose status line has not been read yet, oldest
	// first, as they appear in errors (passwords elided). pendingMu guards it: during a
	// pipelined batch one goroutine writes commands while another reads the replies.
	pendingMu sync.Mutex
	pending   []string
	// lineDeadline, when set, bounds the reading of one whole status or listing line, so
	// that a server trickling octets cannot stretch one reply beyond the Timeout.
	lineDeadline time.Time
	// readLimit, when positive, caps the next read of the network: readLine sets it to
	// what is left of a line at its bound, so an over-long line fails having read no more.
	readLimit int
	// body is the multi-line body being read, if any; the next command drains it.
	body *DotReader
	// broken is set once the connection has fallen out of step.
	broken error

	// mu guards nc and closed: Close may run in another goroutine while StartTLS puts a
	// TLS connection in nc's place (tls.go).
	mu     sync.Mutex
	closed bool
	// trace writes the transcript to Options.DebugWriter; nil without one (trace.go).
	trace *tracer
}

// NewConn wraps nc. It reads nothing: the caller reads the greeting with ReadResponse.
func NewConn(nc net.Conn, opts *Options) *Conn {
	o := opts.withDefaults()
	c := &Conn{nc: nc, timeout: o.Timeout, maxLine: o.MaxLineLength, trace: newTracer(o.DebugWriter)}
	c.r = bufio.NewReaderSize(deadlineReader{c}, max(readBufferSize, c.maxLine+2))
	c.w = bufio.NewWriter(deadlineWriter{c})
	return c
}

// deadlineReader gives every read of the network its own deadline.
type deadlineReader struct{ c *Conn }

func (d deadlineReader) Read(p []byte) (int, error) {
	deadline := time.Now().Add(d.c.timeout)
	if !d.c.lineDeadline.IsZero() && d.c.lineDeadline.Before(deadline) {
		deadline = d.c.lineDeadline
	}
	if err := d.c.nc.SetReadDeadline(deadline); err != nil {
		return 0, err
	}
	if l := d.c.readLimit; l > 0 && len(p) > l {
		p = p[:l]
	}
	n, err := d.c.nc.Read(p)
	d.c.trace.server(p[:n])
	return n, err
}

// deadlineWriter gives every write to the network its own deadline.
type deadlineWriter struct{ c *Conn }

func (d deadlineWriter) Write(p []byte) (int, error) {
	if err := d.c.nc.SetWriteDeadline(time.Now().Add(d.c.timeout)); err != nil {
		return 0, err
	}
	return d.c.nc.Write(p)
}

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nc
}

// Close closes the connection without sending anything. It may be called from another
// goroutine to unblock a call in progress.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return c.nc.Close()
}

// Err returns the error that put the connection out of step, or nil.
func (c *Conn) Err() error { return c.broken }

// fail marks the connection out of step with cause and returns the error every later call
// will return. An io.EOF becomes io.ErrUnexpectedEOF: a POP3 server never ends a reply by
// closing the connection.
func (c *Conn) fail(cause error) error {
	if c.broken == nil {
		if cause == io.EOF {
			cause = io.ErrUnexpectedEOF
		}
		c.broken = &brokenError{cause: cause}
	}
	return c.broken
}

// ready drains a body still being read and reports whether the connection can be used.
func (c *Conn) ready() error {
	if c.broken != nil {
		return c.broken
	}
	if c.body != nil {
		if err := c.body.Close(); err != nil {
			return err
		}
	}
	return c.broken
}

// Cmd sends one command: the keyword and arguments separated by single spaces, ending in
// CRLF (MS-STANOPOP3 C0003, C0004). Before anything is sent it drains the body of a previous
// reply that was not read to its end, and checks the line: an argument that is empty, or
// holds a control octet or a non-ASCII octet, and a line longer than 255 octets, are
// refused with ErrInvalidArgument. The password of PASS is elided from errors.
func (c *Conn) Cmd(keyword string, args ...string) error {
	if err := c.queue(keyword, args...); err != nil {
		return err
	}
	return c.flush()
}

// queue checks and buffers one command without sending it; flush sends what is queued.
func (c *Conn) queue(keyword string, args ...string) error {
	return c.queueCommand(keyword, args, false)
}

// queueCommand is queue; allowUTF8 lets the arguments hold non-ASCII UTF-8, for the
// credentials a server that lists "UTF8 USER" accepts in USER and PASS (RFC 6856 section 2.2).
func (c *Conn) queueCommand(keyword string, args []string, allowUTF8 bool) error {
	if err := c.ready(); err != nil {
		return err
	}
	if err := checkCommand(keyword, args, allowUTF8); err != nil {
		return err
	}
	c.writeCommand(keyword, args)
	return nil
}

// writeCommand buffers a checked command and records it as awaiting its reply. It touches
// only the writing side of the Conn, so the writer of a pipelined batch may call it while
// another goroutine reads replies; a write error surfaces at the next flush.
func (c *Conn) writeCommand(keyword string, args []string) {
	c.w.WriteString(keyword)
	for _, a := range args {
		c.w.WriteByte(' ')
		c.w.WriteString(a)
	}
	c.w.WriteString("\r\n")
	display := displayCommand(keyword, args)
	c.trace.client(display)
	c.pendingMu.Lock()
	c.pending = append(c.pending, display)
	c.pendingMu.Unlock()
}

func (c *Conn) flush() error {
	if err := c.w.Flush(); err != nil {
		return c.fail(err)
	}
	return nil
}

// checkCommand is the one place that validates what goes on the wire; allowUTF8 is
// checkArgument's.
func checkCommand(keyword string, args []string, allowUTF8 bool) error {
	if err := checkWord(keyword, "keyword"); err != nil {
		return err
	}
	n := len(keyword) + 2
	for _, a := range args {
		if err := checkArgument(a, allowUTF8); err != nil {
			return err
		}
		n += 1 + len(a)
	}
	if n > maxCommandLength {
		return fmt.Errorf("%w: %s command line of %d octets exceeds %d", ErrInvalidArgument, keyword, n, maxCommandLength)
	}
	return nil
}

// checkArgument refuses an empty argument and any octet outside printable ASCII and space
// (MS-STANOPOP3 C0003): a CR, LF or NUL would let the argument inject a command. With
// allowUTF8 it also accepts non-ASCII characters, provided the argument is valid UTF-8 and
// holds no control character (RFC 6856 "UTF8 USER" credentials).
func checkArgument(a string, allowUTF8 bool) error {
	if a == "" {
		return fmt.Errorf("%w: empty argument", ErrInvalidArgument)
	}
	for i := 0; i < len(a); i++ {
		if c := a[i]; c < ' ' || c == 0x7f || (c > 0x7f && !allowUTF8) {
			return fmt.Errorf("%w: argument holds the octet %#02x", ErrInvalidArgument, c)
		}
	}
	if allowUTF8 && (!utf8.ValidString(a) || strings.ContainsFunc(a, unicode.IsControl)) {
		return fmt.Errorf("%w: argument is not UTF-8 text without control characters", ErrInvalidArgument)
	}
	return nil
}

// checkWord checks a value that must be a single printable word: a keyword, a user name.
func checkWord(w, what string) error {
	if w == "" {
		return fmt.Errorf("%w: empty %s", ErrInvalidArgument, what)
	}
	for i := 0; i < len(w); i++ {
		if c := w[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("%w: %s holds the octet %#02x", ErrInvalidArgument, what, c)
		}
	}
	return nil
}

// displayCommand is a command as errors show it: passwords and other secrets elided.
func displayCommand(keyword string, args []string) string {
	switch {
	case len(args) == 0:
		return keyword
	case strings.EqualFold(keyword, "PASS"):
		return keyword + " ***"
	case strings.EqualFold(keyword, "APOP"), strings.EqualFold(keyword, "AUTH"):
		return keyword + " " + args[0] + strings.Repeat(" ***", len(args)-1)
	}
	return keyword + " " + strings.Join(args, " ")
}

// ReadResponse reads the status line that answers the oldest command not yet answered (or
// the greeting). A negative reply is returned as an *Error together with its Response; an
// I/O failure marks the connection broken.
func (c *Conn) ReadResponse() (Response, error) {
	if err := c.ready(); err != nil {
		return Response{}, err
	}
	line, err := c.readLine()
	if err != nil {
		return Response{}, err
	}
	return c.statusReply(line)
}

// statusReply turns a status line into the reply to the oldest command not yet answered.
func (c *Conn) statusReply(line []byte) (Response, error) {
	command := ""
	c.pendingMu.Lock()
	if len(c.pending) > 0 {
		command = c.pending[0]
		c.pending[0] = ""
		c.pending = c.pending[1:]
	}
	c.pendingMu.Unlock()
	resp := ParseResponse(line)
	if !resp.OK {
		return resp, &Error{Command: command, Code: resp.Code, Text: resp.Text}
	}
	return resp, nil
}

// readLine is the one place that reads a status or listing line. It returns the line
// without its ending (CRLF or a bare LF), valid until the next read. A line longer than the
// bound fails having read from the network no more than the bound and a line ending, and
// the whole line must arrive within the Timeout.
func (c *Conn) readLine() ([]byte, error) {
	c.lineDeadline = time.Now().Add(c.timeout)
	defer func() { c.lineDeadline = time.Time{} }()
	scanned := 0
	for {
		buf, err := c.r.Peek(c.r.Buffered())
		if err != nil {
			return nil, c.fail(err)
		}
		limit := min(len(buf), c.maxLine+2)
		if i := bytes.IndexByte(buf[scanned:limit], '\n'); i >= 0 {
			end := scanned + i
			line := buf[:end]
			if end > 0 && line[end-1] == '\r' {
				line = line[:end-1]
			}
			if len(line) > c.maxLine {
				return nil, c.fail(fmt.Errorf("%w: over %d octets", ErrLineTooLong, c.maxLine))
			}
			c.r.Discard(end + 1)
			return line, nil
		}
		if len(buf) > c.maxLine+1 {
			return nil, c.fail(fmt.Errorf("%w: over %d octets", ErrLineTooLong, c.maxLine))
		}
		scanned = limit
		// Everything buffered belongs to this line: read no more than the rest of a line
		// at the bound, CRLF included.
		c.readLimit = c.maxLine + 2 - len(buf)
		_, err = c.r.Peek(len(buf) + 1)
		c.readLimit = 0
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				err = fmt.Errorf("%w: over %d octets", ErrLineTooLong, c.maxLine)
			}
			return nil, c.fail(err)
		}
	}
}

// DotReader returns a reader for the multi-line body that follows a positive status line:
// it yields the octets exactly as sent, line endings kept, with the dot-stuffing removed,
// and ends at the line ".". The Conn is lent to the reader until it reaches the end or is
// closed; the next command drains what is left.
func (c *Conn) DotReader() *DotReader {
	if c.broken != nil {
		return &DotReader{c: c, err: c.broken}
	}
	if c.body != nil {
		c.body.Close()
	}
	c.body = &DotReader{c: c, lineStart: true}
	return c.body
}

// ReadListing reads the lines of a multi-line listing (LIST, UIDL, CAPA) after a positive
// status line and calls fn with each, without its line ending; the slice is valid only
// during the call. The listing ends at any line that begins with "." (MS-STANOPOP3 V0002:
// listings never hold such a line). Every line is bounded like a status line. If fn
// returns an error, the rest of the listing is read and skipped, and that error returned;
// an error that matches ErrBroken ends the reading at once.
func (c *Conn) ReadListing(fn func(line []byte) error) error {
	if err := c.ready(); err != nil {
		return err
	}
	var first error
	for {
		line, err := c.readLine()
		if err != nil {
			return err
		}
		if len(line) > 0 && line[0] == '.' {
			return first
		}
		if first == nil {
			first = fn(line)
			if errors.Is(first, ErrBroken) {
				return first
			}
		}
	}
}
