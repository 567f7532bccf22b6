package pop3_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/popwire/pop3"
	"github.com/popwire/pop3/pop3test"
)

// BenchmarkIdleSessions opens 100, 1 000 and 10 000 sessions at once, each logged in and
// then idle after one STAT (a polled mailbox between polls), against a pop3test.Mailbox
// running in another process (this test binary, re-run as TestMailboxProcess), so that
// only the client's memory is in this process. It reports the live heap (after a garbage
// collection, so that a pooled buffer no session uses counts for nothing) and the resident
// memory (the free memory returned to the system first) that each session adds, for this
// client and for a minimal raw client: a socket and a 4 KiB bufio.Reader, which logs in
// with USER and PASS. Each op opens and closes all the sessions once; run it once:
//
//	go test -run '^$' -bench IdleSessions -benchtime 1x .
func BenchmarkIdleSessions(b *testing.B) {
	addr := mailboxProcess(b)
	for _, n := range []int{100, 1_000, 10_000} {
		b.Run(fmt.Sprintf("raw4KiB/%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				idleSessions(b, n, func() (func(), error) {
					conn, err := net.Dial("tcp", addr)
					if err != nil {
						return nil, err
					}
					s := &minimalSession{conn: conn, r: bufio.NewReaderSize(conn, 4<<10)}
					if err := s.login(); err != nil {
						conn.Close()
						return nil, err
					}
					return func() { s.conn.Close() }, nil
				})
			}
		})
		b.Run(fmt.Sprintf("client/%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				idleSessions(b, n, func() (func(), error) {
					c, err := pop3.Dial(addr, nil)
					if err != nil {
						return nil, err
					}
					if err := c.Login("user", "pass"); err != nil {
						c.Close()
						return nil, err
					}
					if _, _, err := c.Stat(); err != nil {
						c.Close()
						return nil, err
					}
					return func() { c.Close() }, nil
				})
			}
		})
	}
}

// idleSessions opens n sessions with open, measures what they hold, and closes them.
func idleSessions(b *testing.B, n int, open func() (closer func(), err error)) {
	heap0, rss0 := memoryInUse(b)
	closers := make([]func(), 0, n)
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	for range n {
		closer, err := open()
		if err != nil {
			b.Fatal(err)
		}
		closers = append(closers, closer)
	}
	heap1, rss1 := memoryInUse(b)
	b.ReportMetric(float64(heap1-heap0)/float64(n), "heap-B/session")
	b.ReportMetric(float64(rss1-rss0)/float64(n), "rss-B/session")
}

// memoryInUse returns the live heap after two collections and the resident set size
// after the free memory has been returned to the system.
func memoryInUse(tb testing.TB) (heap, rss int64) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	statm, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return int64(ms.HeapAlloc), 0 // not Linux: no RSS
	}
	var size, resident int64
	fmt.Sscan(string(statm), &size, &resident)
	return int64(ms.HeapAlloc), resident * int64(os.Getpagesize())
}

// minimalSession is the smallest client that can hold a POP3 session: a socket and a
// 4 KiB reader.
type minimalSession struct {
	conn net.Conn
	r    *bufio.Reader
}

func (s *minimalSession) login() error {
	for _, cmd := range []string{"", "USER user\r\n", "PASS pass\r\n", "STAT\r\n"} {
		if cmd != "" {
			if _, err := s.conn.Write([]byte(cmd)); err != nil {
				return err
			}
		}
		l, err := s.r.ReadSlice('\n')
		if err != nil || !bytes.HasPrefix(l, []byte("+OK")) {
			return fmt.Errorf("minimal client: %q, %v", l, err)
		}
	}
	return nil
}

// mailboxProcess runs TestMailboxProcess in a child process and returns the address of
// its mailbox; the child ends when its standard input closes, at the cleanup.
func mailboxProcess(tb testing.TB) string {
	return childProcess(tb, "TestMailboxProcess", "POP3_MAILBOX_PROCESS=1", "addr ")
}

// childProcess runs this test binary again, for its test named test only, with env added
// to its environment, and returns what follows prefix on the first line of its standard
// output that begins with it (the rest is discarded). The child runs until its standard
// input closes, at the cleanup, which waits for it.
func childProcess(tb testing.TB, test, env, prefix string) string {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^"+test+"$")
	cmd.Env = append(os.Environ(), env)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { stdin.Close(); cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			go io.Copy(io.Discard, stdout)
			return strings.TrimSpace(rest)
		}
	}
	tb.Fatalf("%s did not start: %v", test, sc.Err())
	return ""
}

// TestMailboxProcess is the mailbox of BenchmarkIdleSessions in a process of its own:
// with POP3_MAILBOX_PROCESS set, it serves a pop3test.Mailbox of one message (sessions
// may overlap) on 127.0.0.1, writes "addr" and the address to standard output, and
// serves until its standard input closes. Otherwise it is skipped.
func TestMailboxProcess(t *testing.T) {
	if os.Getenv("POP3_MAILBOX_PROCESS") == "" {
		t.Skip("run by BenchmarkIdleSessions")
	}
	mb := &pop3test.Mailbox{Messages: [][]byte{[]byte("Subject: x\r\n\r\nbody\r\n")}, NoLock: true}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- mb.Serve(l) }()
	fmt.Printf("addr %s\n", l.Addr())
	os.Stdin.Read(make([]byte, 1)) // until the benchmark closes it
	l.Close()
	if err := <-errc; err != nil {
		t.Error(err)
	}
}
