package pop3

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"
)

const (
	defaultTimeout       = time.Minute
	defaultMaxLineLength = 8 << 10
	// maxMaxLineLength caps Options.MaxLineLength: the read buffer holds a whole line.
	maxMaxLineLength = 1 << 20
	// defaultMaxListingEntries is Options.MaxListingEntries' default: a listing of four
	// million entries costs a few hundred MiB, more than any real maildrop needs.
	defaultMaxListingEntries = 4_000_000
	readBufferSize           = 64 << 10
	// maxCommandLength is RFC 2449's bound on a command line, CRLF included.
	maxCommandLength = 255
)

// Conn is a POP3 connection below the Client: it sends commands and reads status lines,
// listings and dot-stuffed bodies, for callers that need a command the Client never sends.
// Every reply must arrive whole within the Options' Timeout, and a message body must not
// stop arriving for longer (within an eighth more: see Options.Timeout). After a timeout,
// a cut, an over-long line, a reply that answers no command or a body that could not be
// read to its end, the Conn is out of step with the server and every later call returns
// the error that broke it, which matches ErrBroken.
//
// The Conn takes turns: while a body it lent is unread, the next call drains it; while a
// batch of the Client (RetrEach, TopEach, DeleEach) runs on it, every other call fails
// with ErrBusy before anything is sent. After Close every call fails at once with an
// error matching net.ErrClosed.
//
// A Conn is not safe for concurrent use, except that Close may be called at any time.
type Conn struct {
	// nc is the network connection; mu guards it, since Close may run in another
	// goroutine while StartTLS puts a TLS connection in its place.
	nc      net.Conn
	r       *readBuffer  // reads nc through traceReader; only the owner's goroutine
	w       *writeBuffer // writes nc through deadlineWriter; the owner, or a batch's writer
	timeout time.Duration
	maxLine int
	// maxEntries bounds the lines of a listing (Options.MaxListingEntries).
	maxEntries int
	trace      *tracer // nil without Options.DebugWriter (trace.go)
	// sock is nc read through quickAckTCP, which turns TCP_QUICKACK on whenever a read
	// waits, when nc is a *net.TCPConn; quickAck is the socket found below another nc, on
	// which each read re-arms it (quickack.go). Both nil when nc's reads do it
	// themselves (TLS over a quickAckTCP) or with DisableQuickAck; set with nc.
	sock         *quickAckTCP
	quickAck     syscall.RawConn
	quickAckWant bool // !Options.DisableQuickAck

	// state is who may use the Conn now: one of the conn* states below. The owner's
	// goroutine moves it between idle, body and batch; broken and closed are final, and
	// Close may set closed from any goroutine. guard reads it at every entry.
	state atomic.Int32
	mu    sync.Mutex
	// broken is what put the Conn out of step (Err), or nil; set under mu before the state
	// becomes broken, never changed after.
	broken error
	// body is the body lent in the body state, or by the running batch; nil otherwise.
	body *DotReader
	// bodyArmed is when a read of a body last set nc's read deadline (armBodyRead), or
	// zero once anything else has set it since.
	bodyArmed time.Time
	// answered is the command whose status line was read last: a listing or body read
	// after it belongs to its reply.
	answered sentCommand
	// flight is the one record of the commands sent whose status line is not read yet.
	flight inFlight
	// bodies holds the body readers of the running batch not lent yet (see lend); nil
	// outside a batch.
	bodies []DotReader
}

// bodyBlock is the number of body readers a batch allocates at once.
const bodyBlock = 32

// The states of a Conn.
const (
	connIdle   int32 = iota // ready for a command
	connBody                // a DotReader borrows the Conn; the next entry drains it
	connBatch               // a batch owns the Conn; every other entry gets ErrBusy
	connBroken              // out of step with the server; final
	connClosed              // closed by Close; final
)

// NewConn wraps nc. It reads nothing: the caller reads the greeting with ReadResponse.
func NewConn(nc net.Conn, opts *Options) *Conn {
	o := opts.withDefaults()
	c := &Conn{nc: nc, timeout: o.Timeout, maxLine: o.MaxLineLength, maxEntries: o.MaxListingEntries,
		trace: newTracer(o.DebugWriter), quickAckWant: !o.DisableQuickAck}
	c.setQuickAck(nc)
	c.r = &readBuffer{src: traceReader{c}, size: max(readBufferSize, c.maxLine+2)}
	c.w = &writeBuffer{dst: deadlineWriter{c}}
	return c
}

// setQuickAck chooses how reads of nc turn TCP_QUICKACK on (quickack.go).
func (c *Conn) setQuickAck(nc net.Conn) {
	c.sock, c.quickAck = nil, nil
	if !c.quickAckWant || readsQuickAck(nc) {
		return
	}
	if q, ok := withQuickAck(nc, true).(*quickAckTCP); ok {
		c.sock = q
		return
	}
	c.quickAck = quickAckConn(nc)
}

// traceReader reads the network and traces what it read: through sock, or re-arming
// TCP_QUICKACK first where the Conn has a socket for it. Deadlines are set by the readers
// above it: one for a whole reply (readLine's callers), one for the reads of a body.
type traceReader struct{ c *Conn }

func (t traceReader) Read(p []byte) (int, error) {
	var n int
	var err error
	if t.c.sock != nil {
		n, err = t.c.sock.Read(p)
	} else {
		if t.c.quickAck != nil {
			rearmQuickAck(t.c.quickAck)
		}
		n, err = t.c.nc.Read(p)
	}
	t.c.trace.server(p[:n])
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

// NetConn returns the underlying connection: the one given to NewConn or dialled, or the
// *tls.Conn after STLS. Below a TLS connection the library made (DialTLS, DialContext,
// STLS), on Linux and unless Options.DisableQuickAck is set, the TCP connection is
// wrapped so that its reads turn TCP_QUICKACK on; the wrapper's NetConn method returns
// the *net.TCPConn. Reading from what NetConn returns while the Conn is in use breaks the
// session; the wrapper's reads, unlike a *net.TCPConn's, must also never be concurrent.
func (c *Conn) NetConn() net.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nc
}

// Close closes the connection without sending anything. It may be called from another
// goroutine to unblock a call in progress, which then fails with an error that says the
// connection was closed by the caller; every later call fails at once with an error
// matching net.ErrClosed.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state.Store(connClosed)
	return c.nc.Close()
}

// Err returns the error that put the connection out of step, or nil.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.broken
}

// fail marks the connection out of step with cause, met while reading or sending the reply
// to command, and returns the error every later call will return. An io.EOF becomes
// io.ErrUnexpectedEOF: a POP3 server never ends a reply by closing the connection. If
// Close came first, cause is its consequence, and the error says so. It may be called
// from a batch's writer goroutine.
func (c *Conn) fail(command string, cause error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.state.Load() {
	case connBroken:
		return c.broken
	case connClosed:
		if c.broken != nil {
			return c.broken
		}
		return &closedError{command: command}
	}
	if errors.Is(cause, io.EOF) && !errors.Is(cause, io.ErrUnexpectedEOF) {
		cause = io.ErrUnexpectedEOF // a cut never looks like a complete reply
	}
	c.broken = &brokenError{command: command, cause: cause}
	c.state.Store(connBroken)
	return c.broken
}

// abort fails the connection with cause and closes the network connection below it, so
// that whatever waits on it returns; the Conn is broken, not closed by the caller.
func (c *Conn) abort(command string, cause error) error {
	err := c.fail(command, cause)
	c.mu.Lock()
	c.nc.Close()
	c.mu.Unlock()
	return err
}

// guard is the one gate of every entry into the Conn, the Client's calls included. It
// returns the final error of a broken or closed Conn, ErrBusy while a batch owns it, and
// otherwise drains a body still lent, leaving the Conn idle for the caller.
func (c *Conn) guard() error {
	switch c.state.Load() {
	case connIdle:
		return nil
	case connBody:
		if err := c.body.Close(); err != nil {
			return err
		}
		return c.guard()
	case connBatch:
		return fmt.Errorf("%w: a RetrEach, TopEach or DeleEach owns the connection until it returns", ErrBusy)
	}
	return c.final()
}

// final is what every entry returns once the Conn is broken or closed: after Close, that
// it is closed; otherwise the error that broke it.
func (c *Conn) final() error {
	if c.state.Load() == connClosed {
		return errClosed
	}
	return c.broken
}

// exchange is the guard of the Conn's own exchanges (a command and its whole reply, a
// pipeline, a batch): on top of guard, it refuses to start while a reply to a command sent
// through Cmd is unread, which the exchange would otherwise take as its own.
func (c *Conn) exchange() error {
	if err := c.guard(); err != nil {
		return err
	}
	if c.flight.len() > 0 {
		return fmt.Errorf("%w: the reply to %s, sent with Conn.Cmd, is unread", ErrBusy, c.flight.oldest())
	}
	return nil
}

// available is the guard without its draining: it returns ErrBusy while a batch owns the
// Conn, the final error once it is broken or closed, and nil otherwise. The Client asks it
// before checks of its own, so that every call fails the same way in those states.
func (c *Conn) available() error {
	if c.state.Load() >= connBatch {
		return c.guard()
	}
	return nil
}

// setState moves the state from one the owner set to another; it fails only when the Conn
// has been broken or closed in the meantime, returning the final error.
func (c *Conn) setState(from, to int32) error {
	if c.state.CompareAndSwap(from, to) {
		return nil
	}
	if s := c.state.Load(); s == connBroken || s == connClosed {
		return c.final()
	}
	return fmt.Errorf("pop3: internal error: connection state %d, not %d", c.state.Load(), from)
}

// Cmd sends one command: the keyword and arguments separated by single spaces, ending in
// CRLF. Before anything is sent it drains the body of a previous reply that was not read
// to its end, and checks the line: an argument that is empty, or holds a control octet or
// a non-ASCII octet, and a line longer than 255 octets, are refused with
// ErrInvalidArgument. The password of PASS is elided from errors.
func (c *Conn) Cmd(keyword string, args ...string) error {
	if err := c.guard(); err != nil {
		return err
	}
	return c.send(keyword, args, false)
}

// command is one command line of a pipeline: the keyword and its arguments, and whether
// the arguments may hold non-ASCII UTF-8 (the credentials a server that lists "UTF8 USER"
// accepts in USER and PASS, RFC 6856 section 2.2).
type command struct {
	keyword string
	args    []string
	utf8    bool
}

// send checks one command and sends it; its reply is read afterwards (readStatus,
// readListing, lend). The caller has passed the guard.
func (c *Conn) send(keyword string, args []string, utf8 bool) error {
	if err := checkCommand(keyword, args, utf8); err != nil {
		return err
	}
	if err := c.checkInStep(keyword); err != nil {
		return err
	}
	c.writeCommand(keyword, args)
	return c.flush()
}

// pipeline sends several commands in one write, for a server that lists PIPELINING (RFC
// 2449 section 6.6), and reads their status lines in order. reply is called with the
// index of each command and its status line (a negative one as an *Error in err); it
// reads the rest of a positive multi-line reply itself, with readListing or lend, before
// it returns. Every command is checked before anything is sent. The errors reply returns
// are joined into the result and the reading goes on, unless the Conn is broken.
func (c *Conn) pipeline(cmds []command, reply func(i int, resp Response, err error) error) error {
	if err := c.exchange(); err != nil {
		return err
	}
	for _, cmd := range cmds {
		if err := checkCommand(cmd.keyword, cmd.args, cmd.utf8); err != nil {
			return err
		}
	}
	if err := c.checkInStep(cmds[0].keyword); err != nil {
		return err
	}
	for _, cmd := range cmds {
		c.writeCommand(cmd.keyword, cmd.args)
	}
	if err := c.flush(); err != nil {
		return err
	}
	var errs []error
	for i := range cmds {
		resp, err := c.readStatus()
		if err != nil && !isNegative(err) {
			return joinErrors(append(errs, err)...)
		}
		if rerr := reply(i, resp, err); rerr != nil {
			errs = append(errs, rerr)
			if c.state.Load() >= connBroken {
				break
			}
		}
	}
	return joinErrors(errs...)
}

// checkInStep is the stray-reply check made before a command is sent while no reply is
// outstanding: octets already buffered then answer no command, and would be taken as the
// reply to this one. The connection is out of step.
func (c *Conn) checkInStep(next string) error {
	if n := c.r.Buffered(); n > 0 && c.flight.len() == 0 {
		return c.fail(next, fmt.Errorf("%d octets arrived that answer no command (a stray reply), before %s was sent", n, next))
	}
	return nil
}

// writeCommand buffers a checked command and records it in flight. It touches only the
// writing side of the Conn, so the writer of a pipelined batch may call it while another
// goroutine reads replies; a write error surfaces at the next flush.
func (c *Conn) writeCommand(keyword string, args []string) { c.writeTagged(keyword, args, 0) }

// writeTagged is writeCommand for a command of a batch, recorded with its index in the
// batch (tag), which tells the reader what the next reply answers.
func (c *Conn) writeTagged(keyword string, args []string, tag int) {
	c.writeLine(keyword, 0, args)
	display := displayCommand(keyword, args)
	c.trace.client(display)
	c.flight.push(sentCommand{text: display, octets: commandOctets(keyword, args), tag: tag})
}

// writeFirst is writeTagged for the command of b.first[i], tagged i: it writes the
// message number as it formats it and records the command without its text (see
// sentCommand), so that it allocates nothing.
func (c *Conn) writeFirst(b *batch, i int) {
	c.writeLine(b.keyword, b.first[i], b.extra)
	if c.trace != nil {
		c.trace.client(b.display(i))
	}
	c.flight.push(sentCommand{b: b, octets: b.octets(i), tag: i})
}

// writeLine buffers a checked command line: keyword, then number when it is positive (a
// message number, formatted in place), then args, separated by single spaces, and CRLF.
func (c *Conn) writeLine(keyword string, number int, args []string) {
	c.w.WriteString(keyword)
	if number > 0 {
		var digits [20]byte
		c.w.write(' ')
		c.w.Write(strconv.AppendInt(digits[:0], int64(number), 10))
	}
	for _, a := range args {
		c.w.write(' ')
		c.w.WriteString(a)
	}
	c.w.WriteString("\r\n")
}

func (c *Conn) flush() error {
	if err := c.w.Flush(); err != nil {
		return c.fail(c.flight.oldest(), err)
	}
	return nil
}

// checkCommand is the one place that validates what goes on the wire; allowUTF8 is
// checkArgument's.
func checkCommand(keyword string, args []string, allowUTF8 bool) error {
	if err := checkWord(keyword, "keyword"); err != nil {
		return err
	}
	for _, a := range args {
		if err := checkArgument(a, allowUTF8); err != nil {
			return err
		}
	}
	if n := commandOctets(keyword, args); n > maxCommandLength {
		return fmt.Errorf("%w: %s command line of %d octets exceeds %d", ErrInvalidArgument, keyword, n, maxCommandLength)
	}
	return nil
}

// checkArgument refuses an empty argument and any octet outside printable ASCII and space:
// a CR, LF or NUL would let the argument inject a command. With allowUTF8 it also accepts
// non-ASCII characters, provided the argument is valid UTF-8 and holds no control
// character (RFC 6856 "UTF8 USER" credentials).
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

// sendLast sends the last command of a session, whose reply the caller will not read,
// and ends the writing side of the connection (a TCP FIN, or TLS's close_notify) behind
// it; the caller closes the Conn next. Closing a TCP socket right after a write is safe
// only while nothing unread waits in its receive buffer: then the kernel sends the
// command and a FIN after it, even after the close. With unread data it would send a
// reset instead and could drop the command; but the stray-reply check has just found
// nothing buffered with nothing in flight, so the only octets that can arrive are the
// command's own reply, which means the server has read it.
func (c *Conn) sendLast(keyword string) error {
	if err := c.guard(); err != nil {
		return err
	}
	if err := c.send(keyword, nil, false); err != nil {
		return err
	}
	if cw, ok := c.NetConn().(interface{ CloseWrite() error }); ok {
		cw.CloseWrite() // an error here changes nothing: the Close that follows ends the stream too
	}
	return nil
}

// ReadResponse reads the status line that answers the oldest command not yet answered (or
// the greeting). A negative reply is returned as an *Error together with its Response; an
// I/O failure marks the connection broken. The whole line must arrive within the Timeout.
func (c *Conn) ReadResponse() (Response, error) {
	if err := c.guard(); err != nil {
		return Response{}, err
	}
	return c.readStatus()
}

// begin starts an exchange whose replies the caller reads itself (AUTH's continuations):
// it sends one command after the exchange guard.
func (c *Conn) begin(keyword string, args ...string) error {
	if err := c.exchange(); err != nil {
		return err
	}
	return c.send(keyword, args, false)
}

// roundTrip sends one command and reads its status line: the Client's single-line call.
func (c *Conn) roundTrip(keyword string, args []string, utf8 bool) (Response, error) {
	if err := c.exchange(); err != nil {
		return Response{}, err
	}
	if err := c.send(keyword, args, utf8); err != nil {
		return Response{}, err
	}
	return c.readStatus()
}

// readStatus reads the status line of the next reply, within a deadline of its own, and
// turns it into the reply to the oldest command in flight.
func (c *Conn) readStatus() (Response, error) {
	var dl replyDeadline
	return c.readStatusWithin(&dl, true)
}

// readStatusWithin is readStatus within the reply's deadline dl. A negative status line is
// parsed, for its *Error; a positive one only with parse, otherwise its Response is the
// zero one (see readPositive).
func (c *Conn) readStatusWithin(dl *replyDeadline, parse bool) (resp Response, err error) {
	line, err := c.readLine(dl)
	if err != nil {
		return Response{}, c.fail(c.replying(), err)
	}
	if parse || !isPositive(line) {
		resp, err = c.statusReply(line)
	} else {
		c.answered = c.flight.pop()
	}
	c.r.release()
	return resp, err
}

// readGreeting reads the server's first line within the Timeout and returns it raw, for
// the Client to tell a POP3 greeting from another protocol's before it takes it as a
// status line with statusReply.
func (c *Conn) readGreeting() ([]byte, error) {
	if err := c.guard(); err != nil {
		return nil, err
	}
	var dl replyDeadline
	line, err := c.readLine(&dl)
	if err != nil {
		return nil, c.fail("greeting", err)
	}
	return line, nil
}

// replying names the reply being read: the oldest command in flight, or the greeting.
func (c *Conn) replying() string {
	if command := c.flight.oldest(); command != "" {
		return command
	}
	return "greeting"
}

// readPositive is readStatus for a caller that needs only whether the reply is positive
// (a batch): a positive status line is taken as the reply to the oldest command in flight
// without being parsed into a Response; a negative one is returned as its *Error.
func (c *Conn) readPositive() error {
	var dl replyDeadline
	_, err := c.readStatusWithin(&dl, false)
	return err
}

// statusReply turns a status line into the reply to the oldest command in flight.
func (c *Conn) statusReply(line []byte) (Response, error) {
	c.answered = c.flight.pop()
	resp := ParseResponse(line)
	if !resp.OK {
		return resp, &Error{Command: c.answered.display(), Code: resp.Code, Text: resp.Text}
	}
	return resp, nil
}

// isNegative reports whether err is a negative reply, which leaves the Conn usable.
func isNegative(err error) bool {
	var perr *Error
	return errors.As(err, &perr)
}

// replyDeadline is the deadline of one reply, set on the network connection the first
// time the reply's reading has to wait on it, and kept for the rest of the reply.
type replyDeadline struct{ armed bool }

// arm sets the reply's deadline unless it is set already.
func (dl *replyDeadline) arm(c *Conn) error {
	if dl.armed {
		return nil
	}
	dl.armed = true
	c.bodyArmed = time.Time{}
	return c.nc.SetReadDeadline(time.Now().Add(c.timeout))
}

// armBodyRead sets the read deadline before a read of a body waits on the network. The
// deadline set is the Timeout and a slack of an eighth of it past the moment it is set,
// and it is set again only once that slack has passed; so a read that receives nothing
// fails at least a Timeout and at most 9/8 of it after it began to wait, and a body that
// keeps streaming in costs a clock read per wait, not a new deadline each time. skipBy,
// when set, is the one deadline of the skipping of a body (DotReader.Close).
func (c *Conn) armBodyRead(skipBy time.Time) error {
	if !skipBy.IsZero() {
		c.bodyArmed = time.Time{}
		return c.nc.SetReadDeadline(skipBy)
	}
	slack := c.timeout / 8
	now := time.Now()
	if !c.bodyArmed.IsZero() && now.Sub(c.bodyArmed) < slack {
		return nil
	}
	c.bodyArmed = now
	return c.nc.SetReadDeadline(now.Add(c.timeout + slack))
}

// readLine is the one place that reads a status or listing line, within the reply's
// deadline dl. It returns the line without its ending (CRLF or a bare LF), valid until the
// next read or release. A line longer than the bound fails with ErrLineTooLong, having
// read no more than the read buffer holds. A line already buffered costs no system call
// and no clock read. The caller fails the Conn on error.
func (c *Conn) readLine(dl *replyDeadline) ([]byte, error) {
	b := c.r
	scanned := 0 // octets of b.buffered() known to hold no LF
	for {
		if b.r < b.w {
			buf := b.buf[b.r:b.w]
			if i := bytes.IndexByte(buf[scanned:], '\n'); i >= 0 {
				line := buf[:scanned+i]
				b.r += scanned + i + 1
				if n := len(line); n > 0 && line[n-1] == '\r' {
					line = line[:n-1]
				}
				if len(line) > c.maxLine {
					return nil, c.lineTooLong()
				}
				return line, nil
			}
			scanned = len(buf)
			if scanned > c.maxLine+1 {
				return nil, c.lineTooLong()
			}
		}
		if err := dl.arm(c); err != nil {
			return nil, err
		}
		if err := b.fill(); err != nil {
			return nil, err
		}
	}
}

// lineTooLong is readLine's error for a line over MaxLineLength.
func (c *Conn) lineTooLong() error {
	return fmt.Errorf("%w: over %d octets", ErrLineTooLong, c.maxLine)
}

// DotReader returns a reader for the multi-line body that follows a positive status line:
// it yields the octets exactly as sent, line endings kept, with the dot-stuffing removed,
// and ends at the line ".". The Conn is lent to the reader until it reaches the end or is
// closed; the next command drains what is left. While a batch owns the Conn, the reader
// fails with ErrBusy.
func (c *Conn) DotReader() *DotReader {
	if err := c.guard(); err != nil {
		return &DotReader{c: c, err: err}
	}
	d, err := c.lend(connIdle, connBody)
	if err != nil {
		return &DotReader{c: c, err: err}
	}
	return d
}

// lend lends the Conn to a new body reader, moving the state from one to another (the
// body state, or the batch state kept).
func (c *Conn) lend(from, to int32) (*DotReader, error) {
	if err := c.setState(from, to); err != nil {
		return nil, err
	}
	var d *DotReader
	if to != connBatch {
		d = new(DotReader)
	} else {
		// A batch's bodies take their readers from a block of them, one allocation per
		// bodyBlock messages; each reader is still its own, never reused, so one kept
		// after its callback returned still reports its own end.
		if len(c.bodies) == 0 {
			c.bodies = make([]DotReader, bodyBlock)
		}
		d, c.bodies = &c.bodies[0], c.bodies[1:]
	}
	*d = DotReader{c: c, command: c.answered, lineStart: true}
	c.body = d
	return d, nil
}

// ReadListing reads the lines of a multi-line listing (LIST, UIDL, CAPA) after a positive
// status line and calls fn with each, without its line ending; the slice is valid only
// during the call. The listing ends at any line that begins with ".": listings never hold
// such a line. Every line is bounded like a status line, the number of lines by
// Options.MaxListingEntries, and the whole listing must arrive within the Timeout. If fn
// returns an error, the rest of the listing is read and skipped, and that error returned;
// an error that matches ErrBroken ends the reading at once.
func (c *Conn) ReadListing(fn func(line []byte) error) error {
	if err := c.guard(); err != nil {
		return err
	}
	return c.readListing(nil, 0, fn)
}

// listing sends one command without arguments and reads its status line and, after a positive one, its
// listing, all within one deadline; maxOctets, when positive, bounds the listing's total
// size, line endings counted as two octets.
func (c *Conn) listing(keyword string, maxOctets int, fn func(line []byte) error) error {
	if err := c.exchange(); err != nil {
		return err
	}
	if err := c.send(keyword, nil, false); err != nil {
		return err
	}
	var dl replyDeadline
	if _, err := c.readStatusWithin(&dl, true); err != nil {
		return err
	}
	return c.readListing(&dl, maxOctets, fn)
}

// readListing reads a listing within the reply's deadline dl (nil: a deadline of its own).
func (c *Conn) readListing(dl *replyDeadline, maxOctets int, fn func(line []byte) error) error {
	if dl == nil {
		dl = new(replyDeadline)
	}
	var first error
	entries, octets := 0, 0
	for {
		line, err := c.readLine(dl)
		if err != nil {
			return c.fail(c.answered.display(), err)
		}
		if len(line) > 0 && line[0] == '.' {
			c.r.release()
			return first
		}
		if entries++; entries > c.maxEntries {
			return c.fail(c.answered.display(), fmt.Errorf("%w: the listing holds more than %d entries (Options.MaxListingEntries)", ErrReplyTooLarge, c.maxEntries))
		}
		if octets += len(line) + 2; maxOctets > 0 && octets > maxOctets {
			return c.fail(c.answered.display(), fmt.Errorf("%w: the listing is over %d octets", ErrReplyTooLarge, maxOctets))
		}
		if first == nil {
			first = fn(line)
			if first != nil && errors.Is(first, ErrBroken) {
				return first
			}
		}
	}
}

// replaceConn puts nc, the TLS connection over the current one, in its place; the caller
// has made sure nothing is buffered. It fails if Close came first.
func (c *Conn) replaceConn(nc net.Conn) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Load() == connClosed {
		nc.Close()
		return errClosed
	}
	c.nc = nc
	c.bodyArmed = time.Time{}
	c.setQuickAck(nc)
	c.r.Reset(traceReader{c})
	return nil
}

// readAuthReply reads one line of an AUTH exchange, within a deadline of its own, and is
// the one place that classifies it (RFC 5034 section 4): "+" alone or "+ " and base64 is a
// continuation, returned with more true and the base64 text; any other line ends the
// exchange and is returned as ReadResponse returns a status line: "+OK" with a nil error,
// "-ERR" as an *Error. The challenge is bounded by Options.MaxLineLength like any line.
func (c *Conn) readAuthReply() (challenge string, more bool, err error) {
	if err := c.guard(); err != nil {
		return "", false, err
	}
	var dl replyDeadline
	line, err := c.readLine(&dl)
	if err != nil {
		return "", false, c.fail(c.replying(), err)
	}
	defer c.r.release()
	if isPositive(line) && (len(line) == 1 || isBlank(line[1])) { // "+" alone or with a blank, not "+OK"
		return strings.TrimRight(string(skipBlanks(line[1:])), " \t"), true, nil
	}
	_, err = c.statusReply(line)
	return "", false, err
}

// sendAuthResponse sends one client response of an AUTH exchange: a line of base64, maybe
// empty, or "*" to cancel (RFC 5034 section 4). It is not a command: the AUTH command's
// reply is still the one awaited, and no 255-octet bound applies. The transcript shows
// "***" for a response and "*" for a cancel.
func (c *Conn) sendAuthResponse(line string) error {
	if err := c.guard(); err != nil {
		return err
	}
	display := "***"
	if line == "*" {
		display = line
	} else if _, err := base64.StdEncoding.Strict().DecodeString(line); err != nil {
		return fmt.Errorf("%w: SASL response is not base64", ErrInvalidArgument)
	}
	c.w.WriteString(line)
	c.w.WriteString("\r\n")
	c.trace.client(display)
	return c.flush()
}

// cancelAuth cancels an AUTH exchange with "*" and reads the final reply, which RFC 5034
// says is negative: it returns that *Error, or nil if the server accepted the exchange
// anyway. A continuation after the cancel leaves the Conn out of step.
func (c *Conn) cancelAuth() error {
	if err := c.sendAuthResponse("*"); err != nil {
		return err
	}
	_, more, err := c.readAuthReply()
	if more {
		return c.fail(c.replying(), fmt.Errorf("%w: a continuation after the cancel", ErrMalformed))
	}
	return err
}

// startTLS runs the TLS handshake with cfg after a positive reply to STLS, within the
// Timeout and ctx, and reads through TLS from then on. Octets already buffered arrived
// before TLS, perhaps injected by an attacker (RFC 2595 section 4): the connection is
// closed, with ErrPlaintextInjection. A failed handshake leaves the Conn broken.
func (c *Conn) startTLS(ctx context.Context, cfg *tls.Config) error {
	if err := c.guard(); err != nil {
		return err
	}
	if n := c.r.Buffered(); n > 0 {
		err := c.fail("STLS", fmt.Errorf("%w: %d octets", ErrPlaintextInjection, n))
		c.Close()
		return err
	}
	tc := tls.Client(withQuickAck(c.NetConn(), c.quickAckWant), cfg)
	if err := handshake(ctx, tc, c.timeout); err != nil {
		return c.fail("STLS", fmt.Errorf("handshake: %w", err))
	}
	if err := c.replaceConn(tc); err != nil {
		return err
	}
	c.trace.note("TLS handshake done: " + tls.VersionName(tc.ConnectionState().Version))
	return nil
}
