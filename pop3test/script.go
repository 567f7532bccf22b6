package pop3test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// MaxLineLength is the longest line, including its terminator, that a
// [Server] or a [Mailbox] accepts from a client.
const MaxLineLength = 64 << 10

const (
	// defaultIOTimeout bounds every single read and write of a Server.
	defaultIOTimeout = 10 * time.Second
	// defaultWaitBound bounds how long Server.Wait blocks.
	defaultWaitBound = 30 * time.Second
	// maxQuoted is how many bytes of sent data an error message quotes.
	maxQuoted = 200
)

type stepKind uint8

const (
	stepInvalid stepKind = iota
	stepSend
	stepExpect
	stepStall
	stepCut
	stepExpectClosed
	stepTLS
	stepTLSFailure
)

// Step is one action in a script played by a [Server].
//
// The zero Step is invalid; build steps with [Send], [Reply], [Expect],
// [ExpectRaw], [Stall], [Cut], [ExpectClosed], [StartTLS], [StartTLSConfig]
// and [ExpectTLSFailure].
type Step struct {
	kind stepKind
	data string
	d    time.Duration
	tls  *tls.Config
}

// Send returns a Step that writes raw to the client exactly as given, in one
// write; no line terminator is added.
func Send(raw string) Step {
	return Step{kind: stepSend, data: raw}
}

// Reply returns a Step that writes each line followed by "\r\n" to the
// client, all lines in one write.
func Reply(lines ...string) Step {
	n := 0
	for _, l := range lines {
		n += len(l) + 2
	}
	var b strings.Builder
	b.Grow(n)
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	return Step{kind: stepSend, data: b.String()}
}

// Expect returns a Step that reads one line from the client and fails unless
// it is exactly line followed by "\r\n". A line ending in a bare LF is a
// mismatch. line must not contain a line feed. Every read and write of a
// Server is bounded by 10 seconds: a client that keeps a step waiting longer
// fails the script.
func Expect(line string) Step {
	return Step{kind: stepExpect, data: line + "\r\n"}
}

// ExpectRaw returns a Step that reads one line from the client and fails
// unless it is exactly raw, which must end in "\n" and contain no other line
// feed. Use it to expect a line with a nonstandard terminator such as a bare
// LF.
func ExpectRaw(raw string) Step {
	return Step{kind: stepExpect, data: raw}
}

// Stall returns a Step that waits for d before the script goes on. The wait
// ends early when the server is closed.
func Stall(d time.Duration) Step {
	return Step{kind: stepStall, d: d}
}

// Cut returns a Step that closes the connection at once. It must be the last
// step of a script.
func Cut() Step {
	return Step{kind: stepCut}
}

// ExpectClosed returns a Step that waits for the client to close the
// connection; any byte the client sends first is a failure. It must be the
// last step of a script. Like every step that reads, it waits at most 10
// seconds. The cleanup of a script ending in ExpectClosed waits for the
// script to end (within that bound) before closing the server, so a client
// closed just before the test ends is seen closing.
func ExpectClosed() Step {
	return Step{kind: stepExpectClosed}
}

// StartTLS returns a Step that runs the server side of a TLS handshake on
// the connection; the rest of the script runs over TLS. Placed after the
// reply to STLS it plays RFC 2595's STLS; as the first step it makes an
// implicit-TLS server (RFC 8314). The server presents [Certificate], which
// clients trust with [CertPool] or [ClientTLSConfig], and requires TLS 1.2 or
// later. Octets the client sent before the handshake fail the script: a
// client must wait for the reply to STLS. The handshake is bounded like
// every read.
func StartTLS() Step {
	return Step{kind: stepTLS}
}

// StartTLSConfig is like [StartTLS] with the server configuration cfg, for
// example to offer only old protocol versions. If cfg has no certificate,
// [Certificate] is used; cfg itself is not modified.
func StartTLSConfig(cfg *tls.Config) Step {
	return Step{kind: stepTLS, tls: cfg}
}

// ExpectTLSFailure returns a Step that runs the server side of a TLS
// handshake that must fail, because the client refuses the certificate or
// the protocol version, and fails the script if it succeeds. cfg is as for
// [StartTLSConfig]; nil means the configuration of [StartTLS]. It must be
// the last step of a script.
func ExpectTLSFailure(cfg *tls.Config) Step {
	return Step{kind: stepTLSFailure, tls: cfg}
}

// String describes the step in the form of the call that built it.
func (st Step) String() string {
	switch st.kind {
	case stepSend:
		return fmt.Sprintf("Send(%s)", quote(st.data))
	case stepExpect:
		if line, ok := strings.CutSuffix(st.data, "\r\n"); ok && !strings.Contains(line, "\n") {
			return fmt.Sprintf("Expect(%q)", line)
		}
		return fmt.Sprintf("ExpectRaw(%q)", st.data)
	case stepStall:
		return fmt.Sprintf("Stall(%v)", st.d)
	case stepCut:
		return "Cut()"
	case stepExpectClosed:
		return "ExpectClosed()"
	case stepTLS:
		if st.tls != nil {
			return "StartTLSConfig(...)"
		}
		return "StartTLS()"
	case stepTLSFailure:
		return "ExpectTLSFailure(...)"
	}
	return "Step{}"
}

// validate reports the first malformed step of a script.
func validate(steps []Step) error {
	for i, st := range steps {
		n := i + 1
		switch st.kind {
		case stepSend:
		case stepExpect:
			if st.data == "" || strings.IndexByte(st.data, '\n') != len(st.data)-1 {
				return fmt.Errorf("step %d: expected line %q must end in its only line feed", n, st.data)
			}
		case stepStall:
			if st.d < 0 {
				return fmt.Errorf("step %d: negative stall %v", n, st.d)
			}
		case stepTLS:
		case stepCut, stepExpectClosed, stepTLSFailure:
			if n != len(steps) {
				return fmt.Errorf("step %d: %v must be the last step, but %d more follow", n, st, len(steps)-n)
			}
		default:
			return fmt.Errorf("step %d: zero Step; use the constructors of package pop3test", n)
		}
	}
	return nil
}

// config holds the limits of a Server; tests of this package shorten them.
type config struct {
	ioTimeout time.Duration
	waitBound time.Duration
}

// Server is a scripted fake POP3 server that plays its script on the first
// connection it accepts. Create one with [NewServer].
type Server struct {
	t     testing.TB
	cfg   config
	steps []Step
	ln    net.Listener
	wg    sync.WaitGroup

	closing    chan struct{} // closed by Close
	closeOnce  sync.Once
	closeErr   error
	scriptDone chan struct{} // closed when the script has finished or failed
	scriptOnce sync.Once
	done       chan struct{} // closed when the serving goroutine has ended

	mu       sync.Mutex
	conn     net.Conn
	received []string
	errs     []error
	log      []string
}

// NewServer starts a Server listening on 127.0.0.1 with a free port. It plays
// steps on the first connection it accepts; every later connection is closed
// at once and counted as a failure.
//
// NewServer registers a cleanup with t that closes the server, waits for its
// goroutines to end and then reports every failure with t.Errorf, followed by
// a log of the conversation. An invalid script stops the test with t.Fatalf.
func NewServer(t testing.TB, steps ...Step) *Server {
	t.Helper()
	return newServer(t, config{ioTimeout: defaultIOTimeout, waitBound: defaultWaitBound}, steps)
}

func newServer(t testing.TB, cfg config, steps []Step) *Server {
	t.Helper()
	if err := validate(steps); err != nil {
		t.Fatalf("pop3test: invalid script: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pop3test: %v", err)
	}
	s := &Server{
		t:          t,
		cfg:        cfg,
		steps:      append([]Step(nil), steps...),
		ln:         ln,
		closing:    make(chan struct{}),
		scriptDone: make(chan struct{}),
		done:       make(chan struct{}),
	}
	if len(steps) == 0 {
		s.finishScript()
	}
	s.wg.Add(1)
	go s.acceptLoop()
	t.Cleanup(s.cleanup)
	return s
}

// Addr returns the address the server listens on, in the form
// "127.0.0.1:port".
func (s *Server) Addr() string {
	return s.ln.Addr().String()
}

// Received returns every line the client has sent so far, each with the exact
// bytes received including its line terminator. A final line cut short by the
// client closing the connection is included as received. It is safe to call
// while the script is running.
func (s *Server) Received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.received...)
}

// Wait blocks until the script has finished or failed and returns the first
// failure, or nil if every step succeeded so far. After the last step the
// server keeps watching the connection for unexpected lines; such later
// failures are reported by the cleanup registered by [NewServer].
//
// Wait gives up after 30 seconds and then returns an error, so a test can
// never hang on it.
func (s *Server) Wait() error {
	timer := time.NewTimer(s.cfg.waitBound)
	defer timer.Stop()
	select {
	case <-s.scriptDone:
	case <-timer.C:
		return fmt.Errorf("script did not finish within %v", s.cfg.waitBound)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errs) > 0 {
		return s.errs[0]
	}
	return nil
}

// Done returns a channel that is closed when the goroutine serving the
// scripted connection has ended, or, if no client ever connected, when the
// server has been closed.
func (s *Server) Done() <-chan struct{} {
	return s.done
}

// Close closes the listener and the connection and waits for the server's
// goroutines to end. A script interrupted by Close counts as failed unless
// only a final [Stall] was cut short. Close may be called more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		if err := s.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			s.closeErr = err
		}
		s.mu.Lock()
		c := s.conn
		s.mu.Unlock()
		if c != nil {
			c.Close()
		}
	})
	s.wg.Wait()
	return s.closeErr
}

func (s *Server) cleanup() {
	// A client closed just before the test ended may not have been seen
	// yet (a TLS close takes a moment): let a final ExpectClosed see it.
	s.mu.Lock()
	connected := s.conn != nil
	s.mu.Unlock()
	if n := len(s.steps); connected && n > 0 && s.steps[n-1].kind == stepExpectClosed {
		timer := time.NewTimer(s.cfg.ioTimeout)
		select {
		case <-s.scriptDone:
		case <-timer.C:
		}
		timer.Stop()
	}
	s.Close()
	s.mu.Lock()
	errs := append([]error(nil), s.errs...)
	log := append([]string(nil), s.log...)
	s.mu.Unlock()
	for _, err := range errs {
		s.t.Errorf("pop3test: %v", err)
	}
	if len(errs) > 0 {
		if len(log) == 0 {
			s.t.Logf("pop3test: nothing was exchanged")
		} else {
			s.t.Logf("pop3test: conversation:\n\t%s", strings.Join(log, "\n\t"))
		}
	}
}

func (s *Server) isClosing() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}

func (s *Server) finishScript() {
	s.scriptOnce.Do(func() { close(s.scriptDone) })
}

func (s *Server) fail(format string, args ...any) {
	err := fmt.Errorf(format, args...)
	s.mu.Lock()
	s.errs = append(s.errs, err)
	s.mu.Unlock()
}

func (s *Server) logf(format string, args ...any) {
	entry := fmt.Sprintf(format, args...)
	s.mu.Lock()
	s.log = append(s.log, entry)
	s.mu.Unlock()
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	accepted := false
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if !s.isClosing() {
				s.fail("accept: %v", err)
			}
			if !accepted {
				if len(s.steps) > 0 {
					s.fail("no client connected; the script has %d steps", len(s.steps))
				}
				s.finishScript()
				close(s.done)
			}
			return
		}
		s.mu.Lock()
		switch {
		case s.isClosing():
			s.mu.Unlock()
			c.Close()
		case accepted:
			s.errs = append(s.errs, fmt.Errorf("unexpected extra connection from %v; only the first connection is scripted", c.RemoteAddr()))
			s.mu.Unlock()
			c.Close()
		default:
			accepted = true
			s.conn = c
			s.mu.Unlock()
			s.wg.Add(1)
			go s.serve(c)
		}
	}
}

// serve plays the script on c.
func (s *Server) serve(c net.Conn) {
	defer s.wg.Done()
	defer close(s.done)
	defer c.Close()
	defer s.finishScript()

	r := bufio.NewReaderSize(c, MaxLineLength)
	for i, st := range s.steps {
		n := i + 1
		switch st.kind {
		case stepSend:
			if !s.send(c, n, st.data) {
				return
			}
		case stepExpect:
			line, err := s.readLine(c, r)
			if err != nil {
				s.failRead(n, err, line, fmt.Sprintf("%q", st.data))
				return
			}
			if line != st.data {
				s.fail("step %d: client sent %q, script expected %q", n, line, st.data)
				return
			}
		case stepStall:
			s.logf("-- stall %v", st.d)
			timer := time.NewTimer(st.d)
			select {
			case <-timer.C:
			case <-s.closing:
				timer.Stop()
				if n != len(s.steps) {
					s.fail("step %d: server closed during %v, %d steps before the end of the script", n, st, len(s.steps)-n)
				}
				return
			}
		case stepCut:
			s.logf("-- cut")
			return
		case stepTLS, stepTLSFailure:
			if r.Buffered() > 0 {
				b, _ := r.Peek(r.Buffered())
				s.fail("step %d: client sent %s before the TLS handshake", n, quote(string(b)))
				return
			}
			tc := tls.Server(c, serverTLSConfig(st.tls))
			tc.SetDeadline(time.Now().Add(s.cfg.ioTimeout))
			err := tc.Handshake()
			tc.SetDeadline(time.Time{})
			if st.kind == stepTLSFailure {
				if err == nil {
					s.fail("step %d: the TLS handshake succeeded, script expected it to fail", n)
				} else {
					s.logf("-- TLS handshake failed as expected: %v", err)
				}
				return
			}
			if err != nil {
				s.fail("step %d: TLS handshake: %v", n, err)
				return
			}
			s.logf("-- TLS handshake done")
			c = tc
			r = bufio.NewReaderSize(c, MaxLineLength)
		case stepExpectClosed:
			line, err := s.readLine(c, r)
			switch {
			case line != "":
				s.fail("step %d: client sent %q, script expected the connection to be closed", n, line)
			case isPeerClosed(err):
				s.logf("-- closed by client")
			default:
				s.failRead(n, err, line, "the client to close the connection")
			}
			return
		}
	}
	s.finishScript()
	s.logf("-- end of script")

	// Watch for lines the script does not account for until the client
	// closes the connection or the server is closed.
	for {
		line, err := s.readLine(c, r)
		if line != "" {
			s.fail("unexpected line after end of script: %q", line)
			return
		}
		if isTimeout(err) && !s.isClosing() {
			continue
		}
		return
	}
}

// send writes data to c, reporting a failure for step n if it cannot.
func (s *Server) send(c net.Conn, n int, data string) bool {
	s.logf("S: %s", quote(data))
	c.SetWriteDeadline(time.Now().Add(s.cfg.ioTimeout))
	if _, err := io.WriteString(c, data); err != nil {
		switch {
		case s.isClosing():
			s.fail("step %d: server closed while sending %s", n, quote(data))
		case isTimeout(err):
			s.fail("step %d: timed out sending %s", n, quote(data))
		default:
			s.fail("step %d: sending %s: %v", n, quote(data), err)
		}
		return false
	}
	return true
}

// errLineTooLong reports a client line longer than MaxLineLength.
var errLineTooLong = errors.New("line too long")

// readLine reads one line from the client, with its terminator, under a
// deadline. On error, line holds whatever partial data was read.
func (s *Server) readLine(c net.Conn, r *bufio.Reader) (line string, err error) {
	c.SetReadDeadline(time.Now().Add(s.cfg.ioTimeout))
	b, err := r.ReadSlice('\n')
	line = string(b)
	if line != "" {
		s.mu.Lock()
		s.received = append(s.received, line)
		s.log = append(s.log, fmt.Sprintf("C: %s", quote(line)))
		s.mu.Unlock()
	}
	if err == bufio.ErrBufferFull {
		err = errLineTooLong
	}
	return line, err
}

// failRead records why reading what step n expected (described by want)
// failed; partial is the data read before the error.
func (s *Server) failRead(n int, err error, partial, want string) {
	switch {
	case err == errLineTooLong:
		s.fail("step %d: client sent a line longer than %d bytes, script expected %s", n, MaxLineLength, want)
	case s.isClosing():
		s.fail("step %d: server closed while waiting for %s", n, want)
	case isTimeout(err) && partial != "":
		s.fail("step %d: timed out waiting for %s; client sent %q without a line feed", n, want, partial)
	case isTimeout(err):
		s.fail("step %d: timed out waiting for %s", n, want)
	case isPeerClosed(err) && partial != "":
		s.fail("step %d: client sent %q and closed the connection, script expected %s", n, partial, want)
	case isPeerClosed(err):
		s.fail("step %d: client closed the connection, script expected %s", n, want)
	default:
		s.fail("step %d: reading from client: %v; script expected %s", n, err, want)
	}
}

func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// isPeerClosed reports whether err means that the client closed the
// connection. A client that closes with unread data makes its side send a
// reset instead of a FIN.
func isPeerClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// quote quotes data for messages, shortening long data.
func quote(data string) string {
	if len(data) <= maxQuoted {
		return fmt.Sprintf("%q", data)
	}
	return fmt.Sprintf("%q... (%d bytes)", data[:maxQuoted], len(data))
}
