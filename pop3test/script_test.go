package pop3test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeTB records the failures and cleanups of code under test instead of
// failing the real test, so that failing scripts can be tested.
type fakeTB struct {
	testing.TB
	mu       sync.Mutex
	errs     []string
	logs     []string
	cleanups []func()
	once     sync.Once
}

// fatalPanic is what fakeTB.Fatalf panics with.
type fatalPanic struct{ msg string }

func newFakeTB(t *testing.T) *fakeTB {
	f := &fakeTB{TB: t}
	t.Cleanup(func() { f.finish() })
	return f
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Logf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs = append(f.logs, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	panic(fatalPanic{fmt.Sprintf(format, args...)})
}

func (f *fakeTB) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

// finish runs the registered cleanups, last first, once, and returns the
// errors reported.
func (f *fakeTB) finish() []string {
	f.once.Do(func() {
		f.mu.Lock()
		fns := f.cleanups
		f.mu.Unlock()
		for i := len(fns) - 1; i >= 0; i-- {
			fns[i]()
		}
	})
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.errs...)
}

// rawClient is a minimal line-oriented TCP client.
type rawClient struct {
	t testing.TB
	c net.Conn
	r *bufio.Reader
}

func dial(t testing.TB, addr string) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return &rawClient{t: t, c: c, r: bufio.NewReader(c)}
}

func (c *rawClient) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, s); err != nil {
		c.t.Fatalf("write %q: %v", s, err)
	}
}

// readLine reads one line including its terminator.
func (c *rawClient) readLine() string {
	c.t.Helper()
	line, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v (got %q)", err, line)
	}
	return line
}

// expectLine reads a line and checks it is want followed by CRLF.
func (c *rawClient) expectLine(want string) {
	c.t.Helper()
	if got := c.readLine(); got != want+"\r\n" {
		c.t.Fatalf("got %q, want %q", got, want+"\r\n")
	}
}

// expectEOF checks that the server closed the connection without sending
// anything more.
func (c *rawClient) expectEOF() {
	c.t.Helper()
	rest, err := io.ReadAll(c.r)
	if err != nil && !isPeerClosed(err) {
		c.t.Fatalf("read: %v", err)
	}
	if len(rest) > 0 {
		c.t.Fatalf("got %q, want the connection closed", rest)
	}
}

func waitDone(t *testing.T, s *Server) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("serving goroutine did not end")
	}
}

func contains(errs []string, sub string) bool {
	for _, e := range errs {
		if strings.Contains(e, sub) {
			return true
		}
	}
	return false
}

func TestScriptSuccess(t *testing.T) {
	srv := NewServer(t,
		Reply("+OK ready"),
		Expect("USER alice"),
		Reply("+OK"),
		Expect("PASS secret"),
		Reply("+OK logged in"),
		Expect("LIST"),
		Reply("+OK 2 messages", "1 120", "2 200", "."),
		Expect("QUIT"),
		Reply("+OK bye"),
		ExpectClosed(),
	)
	if !strings.HasPrefix(srv.Addr(), "127.0.0.1:") {
		t.Errorf("Addr() = %q", srv.Addr())
	}
	c := dial(t, srv.Addr())
	c.expectLine("+OK ready")
	c.send("USER alice\r\n")
	c.expectLine("+OK")
	c.send("PASS secret\r\n")
	c.expectLine("+OK logged in")
	c.send("LIST\r\n")
	for _, want := range []string{"+OK 2 messages", "1 120", "2 200", "."} {
		c.expectLine(want)
	}
	c.send("QUIT\r\n")
	c.expectLine("+OK bye")
	c.c.Close()

	if err := srv.Wait(); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	waitDone(t, srv)
	want := []string{"USER alice\r\n", "PASS secret\r\n", "LIST\r\n", "QUIT\r\n"}
	if got := srv.Received(); !reflect.DeepEqual(got, want) {
		t.Errorf("Received() = %q, want %q", got, want)
	}
}

func TestScriptPipelinedClient(t *testing.T) {
	srv := NewServer(t,
		Reply("+OK ready"),
		Expect("STAT"),
		Expect("NOOP"),
		Reply("+OK 0 0", "+OK"),
	)
	c := dial(t, srv.Addr())
	c.expectLine("+OK ready")
	c.send("STAT\r\nNOOP\r\n")
	c.expectLine("+OK 0 0")
	c.expectLine("+OK")
	if err := srv.Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestScriptMismatch(t *testing.T) {
	for _, tc := range []struct {
		name, sent, want string
	}{
		{"different", "USER bob\r\n", `step 2: client sent "USER bob\r\n", script expected "USER alice\r\n"`},
		{"bare LF", "USER alice\n", `step 2: client sent "USER alice\n", script expected "USER alice\r\n"`},
		{"trailing space", "USER alice \r\n", `step 2: client sent "USER alice \r\n", script expected "USER alice\r\n"`},
		{"bare CR", "USER alice\r\r\n", `step 2: client sent "USER alice\r\r\n", script expected "USER alice\r\n"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ft := newFakeTB(t)
			srv := NewServer(ft,
				Reply("+OK ready"),
				Expect("USER alice"),
				Reply("+OK"),
			)
			c := dial(t, srv.Addr())
			c.expectLine("+OK ready")
			c.send(tc.sent)
			c.expectEOF() // the server cuts the connection on a mismatch
			err := srv.Wait()
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Wait() = %v, want %s", err, tc.want)
			}
			waitDone(t, srv)
			if got := srv.Received(); !reflect.DeepEqual(got, []string{tc.sent}) {
				t.Errorf("Received() = %q", got)
			}
			errs := ft.finish()
			if len(errs) != 1 || !strings.Contains(errs[0], tc.want) {
				t.Errorf("reported %q, want one error containing %s", errs, tc.want)
			}
		})
	}
}

func TestScriptClientClosesEarly(t *testing.T) {
	ft := newFakeTB(t)
	srv := NewServer(ft, Reply("+OK ready"), Expect("QUIT"))
	c := dial(t, srv.Addr())
	c.expectLine("+OK ready")
	c.send("QU")
	c.c.Close()
	err := srv.Wait()
	want := `step 2: client sent "QU" and closed the connection, script expected "QUIT\r\n"`
	if err == nil || err.Error() != want {
		t.Fatalf("Wait() = %v, want %s", err, want)
	}
	if errs := ft.finish(); len(errs) != 1 {
		t.Errorf("reported %q", errs)
	}
}

func TestScriptSendRaw(t *testing.T) {
	raw := "+OK bare\n+OK mixed\r\n\x00binary"
	srv := NewServer(t, Send(raw), Cut())
	c := dial(t, srv.Addr())
	got, err := io.ReadAll(c.r)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != raw {
		t.Errorf("got %q, want %q", got, raw)
	}
	if err := srv.Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestScriptReplyIsOneWrite(t *testing.T) {
	// Reply builds the whole reply before writing; check the bytes.
	st := Reply("+OK", "a", ".")
	if st.kind != stepSend || st.data != "+OK\r\na\r\n.\r\n" {
		t.Errorf("Reply = %v", st)
	}
	if st := Reply(); st.data != "" {
		t.Errorf("Reply() = %v", st)
	}
}

func TestScriptStall(t *testing.T) {
	const d = 300 * time.Millisecond
	srv := NewServer(t, Reply("+OK ready"), Stall(d), Reply("+OK late"))
	c := dial(t, srv.Addr())
	c.expectLine("+OK ready")
	start := time.Now()
	c.expectLine("+OK late")
	if el := time.Since(start); el < d-50*time.Millisecond {
		t.Errorf("second reply after %v, want about %v", el, d)
	}
	if err := srv.Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestScriptFinalStallEndsOnClose(t *testing.T) {
	ft := newFakeTB(t)
	srv := NewServer(ft, Reply("+OK ready"), Stall(time.Hour))
	c := dial(t, srv.Addr())
	c.expectLine("+OK ready")
	start := time.Now()
	srv.Close()
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("Close took %v", el)
	}
	waitDone(t, srv)
	c.expectEOF()
	if errs := ft.finish(); len(errs) != 0 {
		t.Errorf("reported %q, want nothing for a final stall cut short", errs)
	}
}

func TestScriptStallInterrupted(t *testing.T) {
	ft := newFakeTB(t)
	srv := NewServer(ft, Reply("+OK ready"), Stall(time.Hour), Reply("+OK never"))
	c := dial(t, srv.Addr())
	c.expectLine("+OK ready")
	srv.Close()
	errs := ft.finish()
	if !contains(errs, "step 2: server closed during Stall(1h0m0s)") {
		t.Errorf("reported %q", errs)
	}
}

func TestScriptCut(t *testing.T) {
	srv := NewServer(t, Reply("+OK ready"), Expect("STAT"), Cut())
	c := dial(t, srv.Addr())
	c.expectLine("+OK ready")
	c.send("STAT\r\n")
	c.expectEOF()
	waitDone(t, srv)
	if err := srv.Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestScriptCutFirst(t *testing.T) {
	srv := NewServer(t, Cut())
	c := dial(t, srv.Addr())
	c.expectEOF()
	waitDone(t, srv)
}

func TestScriptExpectClosed(t *testing.T) {
	srv := NewServer(t, Reply("+OK ready"), ExpectClosed())
	c := dial(t, srv.Addr())
	c.expectLine("+OK ready")
	c.c.Close()
	if err := srv.Wait(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, srv)
}

func TestScriptExpectClosedButClientSends(t *testing.T) {
	for _, sent := range []string{"QUIT\r\n", "X"} {
		t.Run(fmt.Sprintf("%q", sent), func(t *testing.T) {
			ft := newFakeTB(t)
			srv := NewServer(ft, Reply("+OK ready"), ExpectClosed())
			c := dial(t, srv.Addr())
			c.expectLine("+OK ready")
			c.send(sent)
			if sent == "X" {
				c.c.(*net.TCPConn).CloseWrite()
			}
			want := fmt.Sprintf("step 2: client sent %q, script expected the connection to be closed", sent)
			if err := srv.Wait(); err == nil || err.Error() != want {
				t.Fatalf("Wait() = %v, want %s", err, want)
			}
			if errs := ft.finish(); len(errs) != 1 {
				t.Errorf("reported %q", errs)
			}
		})
	}
}

func TestScriptUnexpectedLineAfterEnd(t *testing.T) {
	ft := newFakeTB(t)
	srv := NewServer(ft, Reply("+OK ready"))
	c := dial(t, srv.Addr())
	c.expectLine("+OK ready")
	if err := srv.Wait(); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	c.send("NOOP\r\n")
	c.expectEOF()
	waitDone(t, srv)
	errs := ft.finish()
	if len(errs) != 1 || !strings.Contains(errs[0], `unexpected line after end of script: "NOOP\r\n"`) {
		t.Errorf("reported %q", errs)
	}
}

func TestScriptClientClosesAfterEnd(t *testing.T) {
	srv := NewServer(t, Reply("+OK ready"))
	c := dial(t, srv.Addr())
	c.expectLine("+OK ready")
	c.c.Close()
	waitDone(t, srv)
}

func TestScriptIdleClientAfterEnd(t *testing.T) {
	// A client that stays connected but silent after the script is fine,
	// even across read deadlines.
	srv := newServer(t, config{ioTimeout: 50 * time.Millisecond, waitBound: time.Second},
		[]Step{Reply("+OK ready")})
	c := dial(t, srv.Addr())
	c.expectLine("+OK ready")
	time.Sleep(200 * time.Millisecond)
	select {
	case <-srv.Done():
		t.Fatal("server ended while the client was still connected")
	default:
	}
}

func TestScriptReadTimeout(t *testing.T) {
	ft := newFakeTB(t)
	srv := newServer(ft, config{ioTimeout: 100 * time.Millisecond, waitBound: 5 * time.Second},
		[]Step{Reply("+OK ready"), Expect("USER alice")})
	c := dial(t, srv.Addr())
	c.expectLine("+OK ready")
	want := `step 2: timed out waiting for "USER alice\r\n"`
	if err := srv.Wait(); err == nil || err.Error() != want {
		t.Fatalf("Wait() = %v, want %s", err, want)
	}
	c.expectEOF()
	if errs := ft.finish(); len(errs) != 1 {
		t.Errorf("reported %q", errs)
	}
}

func TestScriptExpectClosedTimeout(t *testing.T) {
	ft := newFakeTB(t)
	srv := newServer(ft, config{ioTimeout: 100 * time.Millisecond, waitBound: 5 * time.Second},
		[]Step{ExpectClosed()})
	dial(t, srv.Addr())
	want := "step 1: timed out waiting for the client to close the connection"
	if err := srv.Wait(); err == nil || err.Error() != want {
		t.Fatalf("Wait() = %v, want %s", err, want)
	}
	ft.finish()
}

func TestScriptWaitBound(t *testing.T) {
	ft := newFakeTB(t)
	srv := newServer(ft, config{ioTimeout: time.Hour, waitBound: 100 * time.Millisecond},
		[]Step{Reply("+OK ready"), Expect("USER alice")})
	start := time.Now()
	err := srv.Wait()
	if err == nil || !strings.Contains(err.Error(), "did not finish") {
		t.Fatalf("Wait() = %v", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("Wait took %v", el)
	}
	errs := ft.finish()
	if !contains(errs, "no client connected") {
		t.Errorf("reported %q", errs)
	}
}

func TestScriptLineTooLong(t *testing.T) {
	ft := newFakeTB(t)
	srv := NewServer(ft, Reply("+OK ready"), Expect("USER alice"))
	c := dial(t, srv.Addr())
	c.expectLine("+OK ready")
	go io.WriteString(c.c, strings.Repeat("x", MaxLineLength+10)+"\r\n")
	err := srv.Wait()
	if err == nil || !strings.Contains(err.Error(), "step 2: client sent a line longer than") {
		t.Fatalf("Wait() = %v", err)
	}
	ft.finish()
}

func TestScriptLongLineWithinLimit(t *testing.T) {
	line := strings.Repeat("x", MaxLineLength-2)
	srv := NewServer(t, Expect(line), Reply("+OK"))
	c := dial(t, srv.Addr())
	c.send(line + "\r\n")
	c.expectLine("+OK")
	if err := srv.Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestScriptSecondConnection(t *testing.T) {
	ft := newFakeTB(t)
	srv := NewServer(ft, Reply("+OK ready"))
	c := dial(t, srv.Addr())
	c.expectLine("+OK ready")
	c2 := dial(t, srv.Addr())
	c2.expectEOF()
	errs := ft.finish()
	if len(errs) != 1 || !strings.Contains(errs[0], "unexpected extra connection") {
		t.Errorf("reported %q", errs)
	}
}

func TestScriptNoConnection(t *testing.T) {
	ft := newFakeTB(t)
	srv := NewServer(ft, Reply("+OK ready"))
	errs := ft.finish()
	if len(errs) != 1 || !strings.Contains(errs[0], "no client connected") {
		t.Errorf("reported %q", errs)
	}
	waitDone(t, srv)
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestScriptEmpty(t *testing.T) {
	srv := NewServer(t)
	if err := srv.Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestScriptUnfinishedAtCleanup(t *testing.T) {
	ft := newFakeTB(t)
	srv := NewServer(ft, Reply("+OK ready"), Expect("QUIT"))
	c := dial(t, srv.Addr())
	c.expectLine("+OK ready")
	errs := ft.finish()
	if len(errs) != 1 || !strings.Contains(errs[0], `step 2: server closed while waiting for "QUIT\r\n"`) {
		t.Errorf("reported %q", errs)
	}
	if !contains(ft.logs, `S: "+OK ready\r\n"`) {
		t.Errorf("conversation log %q", ft.logs)
	}
	_ = srv
}

func TestScriptInvalid(t *testing.T) {
	for name, steps := range map[string][]Step{
		"cut not last":           {Cut(), Reply("+OK")},
		"expect closed not last": {ExpectClosed(), Expect("QUIT")},
		"zero step":              {{}},
		"expect with LF inside":  {Expect("A\r\nB")},
		"expect raw without LF":  {ExpectRaw("QUIT")},
		"expect raw empty":       {ExpectRaw("")},
		"negative stall":         {Stall(-time.Second)},
	} {
		t.Run(name, func(t *testing.T) {
			ft := newFakeTB(t)
			defer func() {
				p, ok := recover().(fatalPanic)
				if !ok || !strings.Contains(p.msg, "invalid script") {
					t.Errorf("recovered %v, want a fatal invalid script", p)
				}
			}()
			NewServer(ft, steps...)
		})
	}
}

func TestScriptReceivedConcurrent(t *testing.T) {
	const n = 200
	steps := []Step{}
	for i := range n {
		steps = append(steps, Expect(fmt.Sprintf("NOOP %d", i)))
	}
	srv := NewServer(t, steps...)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				_ = srv.Received()
			}
		}
	}()
	c := dial(t, srv.Addr())
	for i := range n {
		c.send(fmt.Sprintf("NOOP %d\r\n", i))
	}
	if err := srv.Wait(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if got := len(srv.Received()); got != n {
		t.Errorf("received %d lines, want %d", got, n)
	}
}

func TestStepString(t *testing.T) {
	for _, tc := range []struct {
		st   Step
		want string
	}{
		{Send("+OK\n"), `Send("+OK\n")`},
		{Expect("QUIT"), `Expect("QUIT")`},
		{ExpectRaw("QUIT\n"), `ExpectRaw("QUIT\n")`},
		{Stall(time.Second), "Stall(1s)"},
		{Cut(), "Cut()"},
		{ExpectClosed(), "ExpectClosed()"},
		{Step{}, "Step{}"},
	} {
		if got := tc.st.String(); got != tc.want {
			t.Errorf("String() = %s, want %s", got, tc.want)
		}
	}
}

func TestParseTranscript(t *testing.T) {
	in := "# a comment\r\n" +
		"S: +OK ready\r\n" +
		"\r\n" +
		"C: USER alice\r\n" +
		"S: +OK 2 messages\r\n" +
		"# comments do not split a Send\n" +
		"S: 1 100\n" +
		"S:\r\n" +
		"S: .\r\n" +
		"C: QUIT\n" +
		"C:\r\n" +
		"   \n" +
		"S: +OK bye"
	steps, err := ParseTranscript(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{
		Send("+OK ready\r\n"),
		ExpectRaw("USER alice\r\n"),
		Send("+OK 2 messages\r\n1 100\n\r\n.\r\n"),
		ExpectRaw("QUIT\n"),
		ExpectRaw("\r\n"),
		Send("+OK bye"),
	}
	if !reflect.DeepEqual(steps, want) {
		t.Errorf("got  %v\nwant %v", steps, want)
	}
}

func TestParseTranscriptErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"S: +OK\r\nX: what\r\n", "transcript line 2:"},
		{"S:+OK\r\n", "transcript line 1:"},
		{"C: QUIT", "no line terminator"},
		{" S: indented\r\n", "transcript line 1:"},
	} {
		if _, err := ParseTranscript(strings.NewReader(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseTranscript(%q) error = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestLoadTranscriptCRLF(t *testing.T) {
	steps, err := LoadTranscript(filepath.Join("testdata", "login.txt"))
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(t, steps...)
	c := dial(t, srv.Addr())
	c.expectLine("+OK pop3test ready")
	c.send("USER alice\r\n")
	c.expectLine("+OK")
	c.send("PASS secret\r\n")
	c.expectLine("+OK logged in")
	c.send("QUIT\r\n")
	c.expectLine("+OK bye")
	c.c.Close()
	if err := srv.Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestLoadTranscriptBareLF(t *testing.T) {
	steps, err := LoadTranscript(filepath.Join("testdata", "bare-lf.txt"))
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(t, steps...)
	c := dial(t, srv.Addr())
	// The server sends bare LF line endings exactly as in the file.
	if got := c.readLine(); got != "+OK ready\n" {
		t.Fatalf("got %q", got)
	}
	c.send("STAT\n")
	if got := c.readLine(); got != "+OK 1 10\n" {
		t.Fatalf("got %q", got)
	}
	if err := srv.Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestLoadTranscriptBareLFRejectsCRLFClient(t *testing.T) {
	steps, err := LoadTranscript(filepath.Join("testdata", "bare-lf.txt"))
	if err != nil {
		t.Fatal(err)
	}
	ft := newFakeTB(t)
	srv := NewServer(ft, steps...)
	c := dial(t, srv.Addr())
	c.readLine()
	c.send("STAT\r\n")
	want := `step 2: client sent "STAT\r\n", script expected "STAT\n"`
	if err := srv.Wait(); err == nil || err.Error() != want {
		t.Fatalf("Wait() = %v, want %s", err, want)
	}
	ft.finish()
}

func TestTestdataLineEndings(t *testing.T) {
	// Guard against the test files being converted on checkout.
	for name, crlf := range map[string]bool{"login.txt": true, "bare-lf.txt": false} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(string(b), "\r\n"); got != crlf {
			t.Errorf("%s: contains CRLF = %v, want %v", name, got, crlf)
		}
	}
}

func TestLoadTranscriptMissing(t *testing.T) {
	_, err := LoadTranscript(filepath.Join("testdata", "no-such-file.txt"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want not exist", err)
	}
}
