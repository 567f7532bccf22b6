package pop3_test

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/popwire/pop3"
	. "github.com/popwire/pop3/pop3test"
)

// tcpWriteLog is an Options.Dialer like writeLog (listall_test.go) whose connections keep
// CloseWrite: it records each Write to the network as one entry, and how many writes came
// before CloseWrite, the exact writes a transcript cannot show.
type tcpWriteLog struct {
	mu         sync.Mutex
	writes     []string
	closeWrite int // the number of writes before CloseWrite; -1 if it was not called
}

func newTCPWriteLog() *tcpWriteLog { return &tcpWriteLog{closeWrite: -1} }

func (w *tcpWriteLog) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &tcpLoggedConn{TCPConn: nc.(*net.TCPConn), log: w}, nil
}

// Writes returns the writes made so far.
func (w *tcpWriteLog) Writes() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.writes...)
}

type tcpLoggedConn struct {
	*net.TCPConn
	log *tcpWriteLog
}

func (c *tcpLoggedConn) Write(p []byte) (int, error) {
	c.log.mu.Lock()
	c.log.writes = append(c.log.writes, string(p))
	c.log.mu.Unlock()
	return c.TCPConn.Write(p)
}

func (c *tcpLoggedConn) CloseWrite() error {
	c.log.mu.Lock()
	c.log.closeWrite = len(c.log.writes)
	c.log.mu.Unlock()
	return c.TCPConn.CloseWrite()
}

// capaUserPipelining is the AUTHORIZATION state's CAPA of a server that pipelines.
var capaUserPipelining = []Step{Expect("CAPA"), Reply("+OK", "USER", "PIPELINING", ".")}

// Where the server listed PIPELINING before the login (RFC 2449 section 6.6), the CAPA of
// the TRANSACTION state goes in the same write as PASS, and PASS only after a positive
// USER (MS-STANOPOP3 C0044, C0047; TestLoginUserRefusedWithPipelining for C0045); the batch that follows asks no CAPA of its own, and Quit with
// nothing deleted sends QUIT and closes without waiting for its reply.
func TestLoginSendsCAPAWithPASS(t *testing.T) {
	log := newTCPWriteLog()
	c, srv := dial(t, &pop3.Options{Dialer: log}, script(greeting, capaUserPipelining,
		Expect("USER alice"), Reply("+OK"),
		Expect("PASS secret"), Expect("CAPA"), Reply("+OK logged in", "+OK", "PIPELINING", "UIDL", "."),
		Expect("RETR 1"), Expect("RETR 2"), Reply("+OK", "one", ".", "+OK", "two", "."),
		Expect("QUIT"), ExpectClosed(),
	)...)
	if err := c.Login("alice", "secret"); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := c.RetrEach([]int{1, 2}, func(n int, r io.Reader) error {
		b, err := io.ReadAll(r)
		got = append(got, string(b))
		return err
	})
	if err != nil || strings.Join(got, "|") != "one\r\n|two\r\n" {
		t.Fatalf("RetrEach: %q, %v", got, err)
	}
	caps, err := c.Capabilities()
	if err != nil || !caps.UIDL() || caps.User() {
		t.Errorf("Capabilities after the login: %v, %v; want those of the CAPA sent with PASS", caps, err)
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("Quit: %v", err)
	}
	wait(t, srv)
	want := []string{"CAPA\r\n", "USER alice\r\n", "PASS secret\r\nCAPA\r\n", "RETR 1\r\nRETR 2\r\n", "QUIT\r\n"}
	if w := log.Writes(); strings.Join(w, "|") != strings.Join(want, "|") {
		t.Errorf("writes %q, want %q", w, want)
	}
	if log.closeWrite != len(want) {
		t.Errorf("CloseWrite after %d writes, want after QUIT's (%d)", log.closeWrite, len(want))
	}
}

// C0045 with PIPELINING listed: a negative reply to USER is waited for and the password is
// never sent, although PASS could have been pipelined with USER.
func TestLoginUserRefusedWithPipelining(t *testing.T) {
	log := newTCPWriteLog()
	c, srv := dial(t, &pop3.Options{Dialer: log}, script(greeting, capaUserPipelining,
		Expect("USER alice"), Reply("-ERR no such user"), ExpectClosed(),
	)...)
	var perr *pop3.Error
	if err := c.Login("alice", "secret"); !errors.As(err, &perr) || perr.Command != "USER alice" {
		t.Fatalf("Login: %v; want the *pop3.Error of USER", err)
	}
	c.Close()
	wait(t, srv)
	want := []string{"CAPA\r\n", "USER alice\r\n"}
	if w := log.Writes(); strings.Join(w, "|") != strings.Join(want, "|") {
		t.Errorf("writes %q, want %q: no PASS after a refused USER", w, want)
	}
	for _, line := range srv.Received() {
		if strings.HasPrefix(line, "PASS") {
			t.Errorf("the server received %q", line)
		}
	}
}

// C0010 (b): after a negative reply to the PASS sent with CAPA, the CAPA reply is read and discarded:
// the connection stays in step, and a second Login sends USER, then PASS and CAPA again.
func TestLoginDiscardsCAPAAfterFailedPASS(t *testing.T) {
	log := newTCPWriteLog()
	c, srv := dial(t, &pop3.Options{Dialer: log}, script(greeting, capaUserPipelining,
		Expect("USER alice"), Reply("+OK"),
		Expect("PASS wrong"), Expect("CAPA"), Reply("-ERR [AUTH] invalid password", "+OK", "USER", "PIPELINING", "."),
		Expect("USER alice"), Reply("+OK"),
		Expect("PASS secret"), Expect("CAPA"), Reply("+OK logged in", "-ERR not now"),
		Expect("STAT"), Reply("+OK 0 0"),
	)...)
	err := c.Login("alice", "wrong")
	if perr := asError(t, err); perr.Command != "PASS ***" || perr.Code != "AUTH" {
		t.Fatalf("Login with a wrong password: %v", err)
	}
	if err := c.Login("alice", "secret"); err != nil {
		t.Fatalf("second Login: %v", err)
	}
	if n, _, err := c.Stat(); n != 0 || err != nil {
		t.Fatalf("Stat: %d, %v", n, err)
	}
	if caps, err := c.Capabilities(); err != nil || len(caps) != 0 {
		t.Errorf("Capabilities after a CAPA answered -ERR: %v, %v; want none, asked no more", caps, err)
	}
	wait(t, srv)
	want := []string{"CAPA\r\n", "USER alice\r\n", "PASS wrong\r\nCAPA\r\n", "USER alice\r\n", "PASS secret\r\nCAPA\r\n", "STAT\r\n"}
	if w := log.Writes(); strings.Join(w, "|") != strings.Join(want, "|") {
		t.Errorf("writes %q, want %q", w, want)
	}
}

// C0010 (a): a server that closes the connection after refusing the PASS sent with CAPA:
// Login returns the refusal, and the next call the cut.
func TestLoginFailedPASSThenCut(t *testing.T) {
	c, srv := dial(t, nil, script(greeting, capaUserPipelining,
		Expect("USER alice"), Reply("+OK"),
		Expect("PASS wrong"), Expect("CAPA"), Reply("-ERR [AUTH] invalid password"), Cut(),
	)...)
	err := c.Login("alice", "wrong")
	if perr := asError(t, err); perr.Code != "AUTH" {
		t.Fatalf("Login: %v", err)
	}
	wait(t, srv)
	if err := c.Login("alice", "secret"); !errors.Is(err, pop3.ErrBroken) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Login after the cut: %v, want ErrBroken and io.ErrUnexpectedEOF", err)
	}
}

// Without PIPELINING before the login, PASS goes alone and the batch asks CAPA itself.
func TestLoginSendsPASSAloneWithoutPipelining(t *testing.T) {
	log := newTCPWriteLog()
	c, srv := dial(t, &pop3.Options{Dialer: log}, script(greeting, Expect("CAPA"), Reply("+OK", "USER", "."),
		Expect("USER alice"), Reply("+OK"),
		Expect("PASS secret"), Reply("+OK logged in"),
		Expect("CAPA"), Reply("+OK", "PIPELINING", "."),
		Expect("DELE 1"), Expect("DELE 2"), Reply("+OK", "+OK"),
		Expect("QUIT"), Reply("+OK bye"),
	)...)
	if err := c.Login("alice", "secret"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleEach([]int{1, 2}); err != nil {
		t.Fatal(err)
	}
	// Messages are marked deleted: Quit waits for the reply, which says whether they went.
	if err := c.Quit(); err != nil {
		t.Fatalf("Quit: %v", err)
	}
	wait(t, srv)
	want := []string{"CAPA\r\n", "USER alice\r\n", "PASS secret\r\n", "CAPA\r\n", "DELE 1\r\nDELE 2\r\n", "QUIT\r\n"}
	if w := log.Writes(); strings.Join(w, "|") != strings.Join(want, "|") {
		t.Errorf("writes %q, want %q", w, want)
	}
	if log.closeWrite != -1 {
		t.Errorf("CloseWrite called after %d writes; Quit with deletions reads the reply", log.closeWrite)
	}
}

// Quit with nothing marked deleted does not wait for the reply: against a server that
// never answers QUIT it returns nil at once, and the server sees QUIT and then the end of
// the stream.
func TestQuitWithoutDeletionsDoesNotWait(t *testing.T) {
	c, srv := login(t, nil, Expect("QUIT"), ExpectClosed())
	if err := c.Quit(); err != nil {
		t.Fatalf("Quit: %v", err)
	}
	wait(t, srv)
	if err := c.Noop(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Noop after Quit: %v, want net.ErrClosed", err)
	}
}

// C0014: Quit on a broken connection sends nothing and returns what broke it.
func TestQuitWithoutDeletionsOnBrokenConn(t *testing.T) {
	log := newTCPWriteLog()
	c, srv := login(t, &pop3.Options{Dialer: log}, Expect("NOOP"), Cut())
	if err := c.Noop(); !errors.Is(err, pop3.ErrBroken) {
		t.Fatalf("Noop: %v", err)
	}
	wait(t, srv)
	if err := c.Quit(); !errors.Is(err, pop3.ErrBroken) {
		t.Errorf("Quit: %v, want ErrBroken", err)
	}
	if w := log.Writes(); len(w) == 0 || w[len(w)-1] != "NOOP\r\n" {
		t.Errorf("writes %q; want NOOP last, no QUIT on the broken connection", w)
	}
}

// The pipeline window refills in chunks: a RetrEach of 40 000 messages, whose commands
// (468 894 octets) fill the 256 KiB window almost twice, goes out in about as many writes
// as its commands fill 4 KiB buffers, plus one for each time the window filled (each
// refill sends at least a quarter of it), not one write per command or two, however the
// reader and the writer take turns.
func TestRetrEachWindowRefillsInChunks(t *testing.T) {
	const count = 40000
	mb := &Mailbox{Messages: make([][]byte, count), Pipelining: true}
	for i := range mb.Messages {
		mb.Messages[i] = []byte("Subject: x\r\n\r\nbody\r\n")
	}
	addr := mb.Start(t)
	log := newTCPWriteLog()
	c, err := pop3.Dial(addr, &pop3.Options{Dialer: log})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("user", "pass"); err != nil {
		t.Fatal(err)
	}
	before := len(log.Writes())
	nums := make([]int, count)
	octets := 0
	for i := range nums {
		nums[i] = i + 1
		octets += len("RETR \r\n") + len(strconv.Itoa(i+1))
	}
	got := 0
	err = c.RetrEach(nums, func(n int, r io.Reader) error {
		got++
		runtime.Gosched() // let the writer run after each reply, as a slower reader would
		_, err := io.Copy(io.Discard, r)
		return err
	})
	if err != nil || got != count {
		t.Fatalf("RetrEach: %d messages, %v", got, err)
	}
	writes := log.Writes()[before:]
	sent := 0
	for _, w := range writes {
		sent += len(w)
	}
	if sent != octets {
		t.Fatalf("the batch wrote %d octets, want %d", sent, octets)
	}
	if limit := octets/4096 + 8; len(writes) > limit {
		t.Errorf("the batch took %d writes for %d octets of commands, want at most %d", len(writes), octets, limit)
	}
}
