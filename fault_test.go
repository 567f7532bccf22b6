package pop3_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/popwire/pop3"
	"github.com/popwire/pop3/pop3test"
)

// Fault injection. A whole session (greeting, CAPA, USER/PASS, STAT, LIST, UIDL, TOP, RETR
// of messages with dot-stuffed, 8-bit and long lines, NOOP, DELE, QUIT) is recorded once
// from pop3test.Mailbox, with single calls and with pipelined TopEach, RetrEach and
// DeleEach. It is then replayed with the server's octets cut after every offset (over
// TCP, by a pop3test.Server) and, separately, stalled at every offset (over net.Pipe in a
// synctest bubble, where the Timeout passes in fake time, so every offset is tried at no
// cost and the time a call takes is exact). At every offset:
//
//   - nothing panics, and a call succeeds only if the server sent the whole reply it
//     needs, with the same result as in the recording;
//   - a body read to io.EOF is the whole message, octet for octet; one cut short fails
//     with an error that is not io.EOF (io.ErrUnexpectedEOF for a cut);
//   - the call that meets the fault fails with an error matching ErrBroken, never a
//     negative reply the server did not send; a cut is never mistaken for a timeout, and
//     a stall is a timeout that ends within the Timeout;
//   - every later call fails at once: in the bubble, without sending an octet and
//     without any time passing.
//
// The client's lines are checked octet for octet against the recording up to the fault.
// MS-STANOPOP3 items covered at every offset: C0002, C0005, C0006, C0014 (a greeting,
// reply or final line that never comes is a timeout or a cut, never a hang or a message
// that looks whole; later calls fail), V0002 and C0023 (bodies unstuffed, CRLF kept).

// faultTimeout is the Options.Timeout of the stalled replays in the bubble (fake time);
// faultTCPTimeout that of the sampled TCP stalls, real time, long enough that a busy
// machine's scheduler rarely makes the server later than the client's deadline.
const (
	faultTimeout    = 50 * time.Millisecond
	faultTCPTimeout = 250 * time.Millisecond
)

// faultLongLine is longer than faultOptions' MaxLineLength: a body line that no status or
// listing line could be.
var faultLongLine = strings.Repeat("0123456789abcdef", 80) // 1280 octets

// faultMessages are the messages of the recorded sessions, as stored.
var faultMessages = [][]byte{
	[]byte("From: a@example.org\r\nTo: b@example.org\r\nSubject: dots\r\n\r\n" +
		".\r\n..\r\n.leading dot\r\n...three\r\nplain\r\n" +
		"8-bit: caf\xe9 \x80\xff \xc3\xa9\r\n.\r\n"),
	[]byte("From: c@example.org\r\nSubject: long\r\n\r\n" + faultLongLine + "\r\n." + faultLongLine + "\r\nend.\r\n"),
	[]byte("Subject: short\r\n\r\nno line ending at the end"),
}

// faultOptions returns the Options of a replay.
func faultOptions(timeout time.Duration) *pop3.Options {
	return &pop3.Options{Timeout: timeout, MaxLineLength: 512, AllowInsecureAuth: true, Account: faultAccount}
}

// faultAccount names the maildrop of the replays in Sync's state.
const faultAccount = "user@fault"

// faultSync runs a fetch-and-delete Sync into a new store and checks, whatever fault it
// meets, the order of its commit points: every message delivered is recorded, and no
// unique-id is forgotten, and none reported deleted, unless QUIT's +OK arrived (then the
// call succeeds and the store is empty). With the default commit groups of 256, its DELEs
// all go with QUIT.
var faultSync = faultSyncEvery(0)

// faultSyncEvery is faultSync with a commit every n messages (n > 0): the DELE of each
// message goes into the stream of the RETRs once it is committed.
func faultSyncEvery(n int) faultCall {
	return faultCall{"Sync", func(c *pop3.Client, _ *faultLog) (string, error) { return faultSyncRun(c, n) }}
}

func faultSyncRun(c *pop3.Client, every int) (string, error) {
	store := newTableStore()
	var delivered []string
	plan, err := c.PlanSync(context.Background(), store, pop3.SyncPolicy{Delete: true})
	if err != nil {
		return "", err
	}
	if every > 0 {
		pop3.SetCommitEvery(plan, every)
	}
	res, err := plan.Run(context.Background(), func(m pop3.SyncMessage, body io.Reader) error {
		if _, err := faultBody(body); err != nil {
			return err
		}
		delivered = append(delivered, m.UID)
		return nil
	})
	slices.Sort(delivered)
	recorded := store.uids(faultAccount)
	if err != nil && (!slices.Equal(recorded, delivered) || res.Deleted != 0) {
		return "", fmt.Errorf("Sync failed (%v) with %v recorded of %v delivered and %d reported deleted", err, recorded, delivered, res.Deleted)
	}
	return fmt.Sprintf("%+v, store %v", res, recorded), err
}

// faultBody reads a body to its end, read by read, and reports whether it ended in
// io.EOF. An error that is io.EOF only at the wrapping level but not io.ErrUnexpectedEOF
// is returned as it is, for the caller to reject.
func faultBody(r io.Reader) (string, error) {
	var b bytes.Buffer
	buf := make([]byte, 700)
	for {
		n, err := r.Read(buf)
		b.Write(buf[:n])
		if err == io.EOF {
			return b.String(), nil
		}
		if err != nil {
			return b.String(), fmt.Errorf("after %d octets: %w", b.Len(), err)
		}
	}
}

// faultLog collects the bodies a call read, complete or not, by command ("RETR 2").
type faultLog struct {
	bodies map[string]string // complete bodies
	errs   map[string]error  // bodies cut short
}

// readInto reads the body of cmd into the log.
func (l *faultLog) readInto(cmd string, r io.Reader) error {
	body, err := faultBody(r)
	if err != nil {
		l.errs[cmd] = err
		return err
	}
	l.bodies[cmd] = body
	return nil
}

// faultCall is one call of a recorded session; run returns its result as text.
type faultCall struct {
	name string
	run  func(c *pop3.Client, l *faultLog) (string, error)
}

func single(l *faultLog, cmd string, r io.ReadCloser, err error) (string, error) {
	if err != nil {
		return "", err
	}
	defer r.Close()
	if err := l.readInto(cmd, r); err != nil {
		return "", err
	}
	return l.bodies[cmd], nil
}

func each(keyword string, l *faultLog, extra string) func(int, io.Reader) error {
	return func(n int, r io.Reader) error {
		return l.readInto(fmt.Sprintf("%s %d%s", keyword, n, extra), r)
	}
}

var (
	faultCapabilities = faultCall{"Capabilities", func(c *pop3.Client, _ *faultLog) (string, error) {
		caps, err := c.Capabilities()
		return fmt.Sprint(caps), err
	}}
	faultQuit = faultCall{"Quit", func(c *pop3.Client, _ *faultLog) (string, error) { return "", c.Quit() }}
)

func faultRetr(n int) faultCall {
	return faultCall{fmt.Sprint("Retr ", n), func(c *pop3.Client, l *faultLog) (string, error) {
		r, err := c.Retr(n)
		return single(l, fmt.Sprint("RETR ", n), r, err)
	}}
}

func faultTop(n, lines int) faultCall {
	return faultCall{fmt.Sprint("Top ", n, " ", lines), func(c *pop3.Client, l *faultLog) (string, error) {
		r, err := c.Top(n, lines)
		return single(l, fmt.Sprint("TOP ", n, " ", lines), r, err)
	}}
}

func faultDele(n int) faultCall {
	return faultCall{fmt.Sprint("Dele ", n), func(c *pop3.Client, _ *faultLog) (string, error) { return "", c.Dele(n) }}
}

// faultLogin is the opening of every recorded session: CAPA, a login as user, then
// STAT, LIST and UIDL.
func faultLogin(user, pass string) []faultCall {
	return []faultCall{faultCapabilities,
		{"Login", func(c *pop3.Client, _ *faultLog) (string, error) { return "", c.Login(user, pass) }},
		{"Stat", func(c *pop3.Client, _ *faultLog) (string, error) {
			n, size, err := c.Stat()
			return fmt.Sprint(n, size), err
		}},
		{"List", func(c *pop3.Client, _ *faultLog) (string, error) {
			l, err := c.List()
			return fmt.Sprint(l), err
		}},
		{"UIDL", func(c *pop3.Client, _ *faultLog) (string, error) {
			l, err := c.UIDL()
			return fmt.Sprint(l), err
		}},
	}
}

// faultSessions are the sessions recorded and replayed: from pop3test.Mailbox with single
// calls and with batches, and from the transcripts of Dovecot and GNU Mailutils
// (testdata/*.txt, played by a pop3test.Server) as replay_test.go plays them, the
// negative reply to RETR 2 included.
var faultSessions = []struct {
	name       string
	transcript string // testdata/<transcript>.txt; "" for pop3test.Mailbox
	pipelining bool
	calls      []faultCall
}{
	{"single calls", "", false, slices.Concat(faultLogin("user", "pass"), []faultCall{
		faultTop(1, 1), faultRetr(1), faultRetr(2), faultRetr(3),
		{"Noop", func(c *pop3.Client, _ *faultLog) (string, error) { return "", c.Noop() }},
		faultDele(1), faultDele(3), faultQuit,
	})},
	{"pipelined batches", "", true, slices.Concat(faultLogin("user", "pass"), []faultCall{
		{"TopEach", func(c *pop3.Client, l *faultLog) (string, error) {
			return "", c.TopEach([]int{1, 2, 3}, 0, each("TOP", l, " 0"))
		}},
		{"RetrEach", func(c *pop3.Client, l *faultLog) (string, error) {
			return "", c.RetrEach([]int{3, 1, 2}, each("RETR", l, ""))
		}},
		{"DeleEach", func(c *pop3.Client, _ *faultLog) (string, error) { return "", c.DeleEach([]int{1, 2, 3}) }},
		faultQuit,
	})},
	{"sync with deletion", "", true, slices.Concat(faultLogin("user", "pass"), []faultCall{faultSync})},
	{"sync deleting in the stream", "", true, slices.Concat(faultLogin("user", "pass"), []faultCall{faultSyncEvery(1)})},
	{"dovecot transcript", "dovecot", false, faultTranscriptCalls},
	{"mailutils transcript", "mailutils", false, faultTranscriptCalls},
}

// faultTranscriptCalls is the session of the transcripts in testdata.
var faultTranscriptCalls = func() []faultCall {
	calls := faultLogin("alice", "secret")
	// CAPA again after the login, before STAT.
	calls = slices.Insert(calls, 2, faultCapabilities)
	return append(calls, faultRetr(1), faultTop(1, 0), faultRetr(2), faultDele(1), faultQuit)
}()

// recording is a recorded session.
type recording struct {
	calls   []faultCall
	lines   []string   // the client's command lines, CRLF included
	replies [][]byte   // replies[0] is the greeting, replies[k] answers lines[k-1]
	ends    []int      // ends[k]: the offset in the server's octets where replies[k] ends
	callEnd []int      // callEnd[i]: the number of lines sent once calls[i] has returned
	results []string   // what each call returned
	errs    []error    // the negative reply (*pop3.Error) each call returned, or nil
	bodies  []faultLog // what each call read
	total   int        // the server's octets in all
}

// tapConn records what goes both ways.
type tapConn struct {
	net.Conn
	mu       sync.Mutex
	sent     bytes.Buffer
	received bytes.Buffer
}

func (t *tapConn) Read(p []byte) (int, error) {
	n, err := t.Conn.Read(p)
	t.mu.Lock()
	t.received.Write(p[:n])
	t.mu.Unlock()
	return n, err
}

func (t *tapConn) Write(p []byte) (int, error) {
	t.mu.Lock()
	t.sent.Write(p)
	t.mu.Unlock()
	return t.Conn.Write(p)
}

// record plays calls against a Mailbox holding faultMessages, or against the transcript
// testdata/<transcript>.txt, and records the session.
func record(t *testing.T, transcript string, pipelining bool, calls []faultCall) *recording {
	t.Helper()
	var addr string
	if transcript == "" {
		addr = (&pop3test.Mailbox{Messages: faultMessages, Pipelining: pipelining}).Start(t)
	} else {
		steps, err := pop3test.LoadTranscript(filepath.Join("testdata", transcript+".txt"))
		if err != nil {
			t.Fatal(err)
		}
		addr = pop3test.NewServer(t, steps...).Addr()
	}
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	tap := &tapConn{Conn: nc}
	c, err := pop3.NewClient(tap, faultOptions(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rec := &recording{calls: calls}
	for _, call := range calls {
		l := faultLog{bodies: map[string]string{}, errs: map[string]error{}}
		res, err := call.run(c, &l)
		var perr *pop3.Error
		if err != nil && !errors.As(err, &perr) {
			t.Fatalf("recording %s: %v", call.name, err)
		}
		rec.results = append(rec.results, res)
		rec.errs = append(rec.errs, err)
		rec.bodies = append(rec.bodies, l)
		tap.mu.Lock()
		rec.callEnd = append(rec.callEnd, bytes.Count(tap.sent.Bytes(), []byte("\n")))
		tap.mu.Unlock()
	}
	sent, received := tap.sent.String(), tap.received.Bytes()
	rec.lines = strings.SplitAfter(sent, "\n")
	rec.lines = rec.lines[:len(rec.lines)-1]
	rec.total = len(received)
	// Split the server's octets into replies: one status line each, and the lines up to
	// "." for a positive reply to a multi-line command.
	pos := 0
	nextLine := func() string {
		i := bytes.IndexByte(received[pos:], '\n')
		if i < 0 {
			t.Fatalf("recording ends inside a line: %q", received[pos:])
		}
		line := string(received[pos : pos+i+1])
		pos += i + 1
		return line
	}
	cut := func(start int) {
		rec.replies = append(rec.replies, received[start:pos])
		rec.ends = append(rec.ends, pos)
	}
	nextLine()
	cut(0)
	for _, line := range rec.lines {
		start := pos
		keyword, args, _ := strings.Cut(strings.TrimSuffix(line, "\r\n"), " ")
		multi := keyword == "RETR" || keyword == "TOP" || (args == "" && (keyword == "CAPA" || keyword == "LIST" || keyword == "UIDL"))
		if status := nextLine(); multi && status[0] == '+' {
			for nextLine() != ".\r\n" {
			}
		}
		cut(start)
	}
	if pos != len(received) {
		t.Fatalf("recording: %d octets after the last reply", len(received)-pos)
	}
	if transcript == "" && (!strings.Contains(string(received), ".."+faultLongLine) || !strings.Contains(string(received), "\r\n..\r\n")) {
		t.Fatal("recording: the long and dot-stuffed lines are missing")
	}
	return rec
}

// replyEnd is the offset where the reply to the last command of calls[0..i] ends.
func (r *recording) replyEnd(i int) int { return r.ends[r.callEnd[i]] }

// bodyEnd is the offset where the reply to cmd, sent by call i, ends.
func (r *recording) bodyEnd(i int, cmd string) int {
	first := 0
	if i > 0 {
		first = r.callEnd[i-1]
	}
	for k := first; k < r.callEnd[i]; k++ {
		if r.lines[k] == cmd+"\r\n" {
			return r.ends[k+1]
		}
	}
	panic("no command " + cmd + " in call " + r.calls[i].name)
}

// faultKind is how the server's octets stop at the offset.
type faultKind int

const (
	faultCut   faultKind = iota // the connection is closed
	faultStall                  // the server sends nothing more and keeps the connection open
)

// replayProbe lets the checks see the server of a replay: settle waits until the client
// and the server have nothing left to do and returns the octets the server has received;
// nil when the replay cannot tell (TCP).
type replayProbe func() int

// check plays the recorded calls over nc, whose server sends the first offset octets of
// the recorded replies, and checks every outcome. It returns the outcome of the greeting
// and each call as text, for the test log on failure.
func (r *recording) check(t *testing.T, nc net.Conn, opts *pop3.Options, offset int, kind faultKind, settle replayProbe) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("offset %d of %d (%s): "+format, append([]any{offset, r.total, kindName(kind)}, args...)...)
	}
	// checkFault checks the error of the call that met the fault.
	checkFault := func(what string, err error) {
		t.Helper()
		var perr *pop3.Error
		switch {
		case !errors.Is(err, pop3.ErrBroken):
			fail("%s: %v; want an error matching ErrBroken", what, err)
		case errors.As(err, &perr):
			fail("%s: %v: a negative reply the server never sent", what, err)
		case errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF):
			fail("%s: %v: a cut read as io.EOF", what, err)
		case kind == faultCut && errors.Is(err, os.ErrDeadlineExceeded):
			fail("%s: %v: a cut connection waited for the timeout", what, err)
		case kind == faultStall && !errors.Is(err, os.ErrDeadlineExceeded):
			fail("%s: %v; want a timeout", what, err)
		}
	}
	start := time.Now()
	c, err := pop3.NewClient(nc, opts)
	if elapsed := time.Since(start); settle != nil && elapsed > opts.Timeout {
		fail("the greeting took %v, beyond the Timeout", elapsed)
	}
	if err != nil {
		// Over TCP a busy machine may delay a greeting sent whole beyond its Timeout.
		if offset >= r.ends[0] && (settle != nil || kind == faultCut) {
			fail("greeting: %v, although it was sent whole", err)
		}
		checkFault("greeting", err)
		return
	}
	defer c.Close()
	if offset < r.ends[0] {
		fail("greeting %q accepted, but only %d of its %d octets were sent", c.Greeting(), offset, r.ends[0])
	}
	broken := false
	received := 0
	for i, call := range r.calls {
		l := faultLog{bodies: map[string]string{}, errs: map[string]error{}}
		start := time.Now()
		res, err := call.run(c, &l)
		elapsed := time.Since(start)
		// Bodies: a complete one is the message as recorded, and the server sent it whole;
		// one cut short has the right error.
		for cmd, body := range l.bodies {
			if want := r.bodies[i].bodies[cmd]; body != want {
				fail("%s: %s read to io.EOF as %q, want %q", call.name, cmd, body, want)
			}
			if end := r.bodyEnd(i, cmd); offset < end {
				fail("%s: %s read to io.EOF, but the server sent %d of the %d octets up to its end", call.name, cmd, offset, end)
			}
		}
		for cmd, berr := range l.errs {
			if errors.Is(berr, io.EOF) && !errors.Is(berr, io.ErrUnexpectedEOF) {
				fail("%s: %s cut short with %v", call.name, cmd, berr)
			}
		}
		// A stall fails within the Timeout, or within 9/8 of it while a body streams in
		// (Options.Timeout: the deadline of a body's waits is re-armed once an eighth of
		// the Timeout has passed, not before every read).
		if settle != nil && elapsed > opts.Timeout+opts.Timeout/8 {
			fail("%s took %v, beyond 9/8 of the Timeout", call.name, elapsed)
		}
		switch {
		case broken:
			// Later calls fail at once, without a word to the server.
			if err == nil {
				fail("%s succeeded after the connection broke", call.name)
			}
			if settle != nil {
				if elapsed != 0 {
					fail("%s took %v after the connection broke", call.name, elapsed)
				}
				if n := settle(); n != received {
					fail("%s sent %d octets after the connection broke", call.name, n-received)
				}
			}
		case err == nil:
			if end := r.replyEnd(i); offset < end {
				fail("%s succeeded, but the server sent %d of the %d octets it needs", call.name, offset, end)
			}
			if r.errs[i] != nil {
				fail("%s succeeded; the server's reply was %v", call.name, r.errs[i])
			}
			if res != r.results[i] {
				fail("%s returned %q, want %q", call.name, res, r.results[i])
			}
		case r.errs[i] != nil && offset >= r.replyEnd(i) && err.Error() == r.errs[i].Error():
			// The negative reply the server sent; the session goes on.
		default:
			// A call whose replies were all sent fails only over TCP: the server closing
			// with the client's commands unread sends a reset, which may discard what
			// the client had not read yet, and a busy machine may delay a reply beyond
			// its Timeout.
			if offset >= r.replyEnd(i) && settle != nil {
				fail("%s: %v, although its replies were sent whole", call.name, err)
			}
			checkFault(call.name, err)
			broken = true
			if settle != nil {
				received = settle()
			}
		}
	}
	if offset < r.total && !broken {
		fail("the session ended without noticing the fault")
	}
}

func kindName(k faultKind) string {
	if k == faultCut {
		return "cut"
	}
	return "stall"
}

// script returns the steps of a pop3test.Server that plays rec up to offset and then
// cuts the connection or stalls.
func (r *recording) script(offset int, kind faultKind) (steps []pop3test.Step, expects int) {
	left := offset
	for k, reply := range r.replies {
		if k > 0 {
			if left == 0 {
				break
			}
			steps = append(steps, pop3test.ExpectRaw(r.lines[k-1]))
			expects++
		}
		n := min(left, len(reply))
		if n > 0 {
			steps = append(steps, pop3test.Send(string(reply[:n])))
		}
		left -= n
		if n < len(reply) {
			break
		}
	}
	if kind == faultStall {
		return append(steps, pop3test.Stall(time.Minute)), expects
	}
	return append(steps, pop3test.Cut()), expects
}

// pipeReplay is the server of a replay over net.Pipe in a synctest bubble: it checks the
// client's lines against the recording, sends the first offset octets of the replies,
// then closes the connection (a cut) or waits until release is closed (a stall).
type pipeReplay struct {
	mu       sync.Mutex
	received []byte
	mismatch string
}

func (p *pipeReplay) serve(nc net.Conn, rec *recording, offset int, kind faultKind, release <-chan struct{}) {
	lines := make(chan string, len(rec.lines)+1)
	go func() { // the reader: every octet the client sends
		var partial []byte
		buf := make([]byte, 4096)
		for {
			n, err := nc.Read(buf)
			p.mu.Lock()
			p.received = append(p.received, buf[:n]...)
			p.mu.Unlock()
			partial = append(partial, buf[:n]...)
			for {
				i := bytes.IndexByte(partial, '\n')
				if i < 0 {
					break
				}
				select {
				case lines <- string(partial[:i+1]):
				default: // more lines than the recording has; the check of the line fails
				}
				partial = partial[i+1:]
			}
			if err != nil {
				close(lines)
				return
			}
		}
	}()
	defer nc.Close()
	left := offset
	for k, reply := range rec.replies {
		if k > 0 {
			if left == 0 {
				break
			}
			line, ok := <-lines
			if !ok {
				return
			}
			if line != rec.lines[k-1] {
				p.mu.Lock()
				p.mismatch = fmt.Sprintf("client sent %q, the recording has %q", line, rec.lines[k-1])
				p.mu.Unlock()
				return
			}
		}
		n := min(left, len(reply))
		if n > 0 {
			if _, err := nc.Write(reply[:n]); err != nil {
				return
			}
		}
		left -= n
		if n < len(reply) {
			break
		}
	}
	if kind == faultStall {
		<-release
	}
}

// replayPipe plays rec at offset over net.Pipe in a synctest bubble.
func replayPipe(t *testing.T, rec *recording, offset int, kind faultKind) {
	synctest.Test(t, func(t *testing.T) {
		client, server := net.Pipe()
		release := make(chan struct{})
		p := &pipeReplay{}
		done := make(chan struct{})
		go func() {
			defer close(done)
			p.serve(server, rec, offset, kind, release)
		}()
		settle := func() int {
			synctest.Wait()
			p.mu.Lock()
			defer p.mu.Unlock()
			return len(p.received)
		}
		defer func() { // also after a failed check, so that the bubble's goroutines end
			close(release)
			client.Close()
			<-done
			if p.mismatch != "" {
				t.Errorf("offset %d (%s): %s", offset, kindName(kind), p.mismatch)
			}
		}()
		rec.check(t, client, faultOptions(faultTimeout), offset, kind, settle)
	})
}

// replayTCP plays rec at offset against a pop3test.Server.
func replayTCP(t *testing.T, rec *recording, offset int, kind faultKind, timeout time.Duration) {
	steps, expects := rec.script(offset, kind)
	srv := pop3test.NewServer(t, steps...)
	nc, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	rec.check(t, nc, faultOptions(timeout), offset, kind, nil)
	nc.Close()
	if kind == faultStall {
		// On a busy machine the client's Timeout may end before the server's goroutine
		// has read the client's last line and reached the stall: let it get there (it
		// has the lines), or Close would fail the script in the middle.
		for wait := time.Now().Add(10 * time.Second); len(srv.Received()) < expects && time.Now().Before(wait); {
			time.Sleep(time.Millisecond)
		}
	}
	srv.Close()
	if err := srv.Wait(); err != nil {
		t.Fatalf("offset %d (%s): %v", offset, kindName(kind), err)
	}
}

// TestFaultCutEveryOffset replays the recorded sessions over TCP with the connection cut
// after every offset of the server's octets, from 0 (nothing sent) to the whole session.
func TestFaultCutEveryOffset(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: thousands of TCP connections; TestFaultStallEveryOffset covers every offset in fake time")
	}
	for _, s := range faultSessions {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			rec := record(t, s.transcript, s.pipelining, s.calls)
			for offset := 0; offset <= rec.total; offset++ {
				replayTCP(t, rec, offset, faultCut, 10*time.Second)
			}
			t.Logf("%s: cut after each of %d offsets over TCP (%d calls, %d commands)", s.name, rec.total+1, len(rec.calls), len(rec.lines))
		})
	}
}

// TestFaultStallEveryOffset replays the recorded sessions with the server stalling at
// every offset, in a synctest bubble over net.Pipe: every call ends within the Timeout,
// the one that meets the stall with a timeout, every later one at once. The cuts are
// replayed the same way too, where a cut must cost no time at all.
func TestFaultStallEveryOffset(t *testing.T) {
	for _, s := range faultSessions {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			rec := record(t, s.transcript, s.pipelining, s.calls)
			for offset := 0; offset <= rec.total; offset++ {
				replayPipe(t, rec, offset, faultStall)
				replayPipe(t, rec, offset, faultCut)
			}
			t.Logf("%s: stalled and cut at each of %d offsets over net.Pipe, in fake time", s.name, rec.total+1)
		})
	}
}

// TestFaultStallSampledTCP stalls real sockets at a sample of offsets, with a real 250 ms
// Timeout: the deadlines of a TCP connection end the stall as the fake ones do.
func TestFaultStallSampledTCP(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: thousands of TCP connections; TestFaultStallEveryOffset covers every offset in fake time")
	}
	const samples = 12
	for _, s := range faultSessions {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			rec := record(t, s.transcript, s.pipelining, s.calls)
			tried := 0
			for i := range samples {
				offset := i * rec.total / (samples - 1)
				replayTCP(t, rec, offset, faultStall, faultTCPTimeout)
				tried++
			}
			t.Logf("%s: stalled at %d of %d offsets over TCP", s.name, tried, rec.total+1)
		})
	}
}
