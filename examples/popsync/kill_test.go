package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/popwire/pop3/pop3test"
)

// buildPopsync builds the command once for the tests that run it as a process.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func popsyncBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "popsync-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "popsync")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proxy forwards one connection at a time to target and calls trip once the server has
// sent limit octets to the client (the octets past it are not forwarded), or, with
// onQuit, once the client has sent QUIT (forwarded to the server or not, as forwardQuit
// says). It counts what the server sent in total.
type proxy struct {
	l           net.Listener
	target      string
	limit       int64 // <0: no limit
	onQuit      bool
	forwardQuit bool
	trip        func()
	stall       bool // at the limit, hold the connection open instead of closing it
	quit        chan struct{}
	sent        atomic.Int64
	tripped     atomic.Bool
	wg          sync.WaitGroup
}

func startProxy(t *testing.T, target string, p *proxy) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.l, p.target, p.quit = l, target, make(chan struct{})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() { defer p.wg.Done(); p.serve(c) }()
		}
	}()
	t.Cleanup(func() { l.Close(); close(p.quit); p.wg.Wait() })
	return l.Addr().String()
}

func (p *proxy) fire() {
	if p.tripped.CompareAndSwap(false, true) && p.trip != nil {
		p.trip()
	}
}

func (p *proxy) serve(client net.Conn) {
	defer client.Close()
	if p.tripped.Load() {
		// After the trip the proxy forwards whatever comes: the run after a kill reaches
		// the same address, so it is the same account.
		p.forward(client)
		return
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	done := make(chan struct{}, 2)
	go func() { // client -> server
		defer func() { done <- struct{}{} }()
		var line []byte
		buf := make([]byte, 4096)
		for {
			n, err := client.Read(buf)
			chunk := buf[:n]
			if p.onQuit {
				line = append(line, chunk...)
				if i := bytes.Index(line, []byte("QUIT\r\n")); i >= 0 {
					if p.forwardQuit {
						server.Write(line[:i+6])
						time.Sleep(20 * time.Millisecond) // let the server commit before the kill
					}
					p.fire()
					return
				}
				if j := bytes.LastIndexByte(line, '\n'); j >= 0 {
					line = line[j+1:]
				}
			}
			if n > 0 {
				if _, err := server.Write(chunk); err != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	go func() { // server -> client
		defer func() { done <- struct{}{} }()
		buf := make([]byte, 4096)
		for {
			n, err := server.Read(buf)
			chunk := buf[:n]
			if p.limit >= 0 {
				if left := p.limit - p.sent.Load(); int64(n) >= left {
					chunk = chunk[:max(left, 0)]
					client.Write(chunk)
					p.sent.Add(int64(len(chunk)))
					p.fire()
					if p.stall {
						<-p.quit
					}
					return
				}
			}
			if n > 0 {
				if _, err := client.Write(chunk); err != nil {
					return
				}
				p.sent.Add(int64(n))
			}
			if err != nil {
				return
			}
		}
	}()
	<-done
}

// forward copies both ways until either side closes.
func (p *proxy) forward(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(server, client); done <- struct{}{} }()
	go func() { io.Copy(client, server); done <- struct{}{} }()
	<-done
}

// runBinary runs popsync as a process; trip kills it or signals it.
func runBinary(t testing.TB, addr, dir string, extra ...string) *exec.Cmd {
	t.Helper()
	args := append([]string{"-addr", addr, "-user", "user", "-tls", "none", "-maildir", dir, "-timeout", "5s"}, extra...)
	cmd := exec.Command(popsyncBinary(t), args...)
	cmd.Env = append(os.Environ(), "POP3_PASSWORD=pass")
	return cmd
}

// The kill test: SIGKILL popsync at many points of a sync with deletion — after every
// thirtieth of the octets the server sends, and around QUIT — run it again, and check
// that no message is lost, none is stored twice, and the server ends empty.
func TestKillAnywhere(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs popsync many times")
	}
	msgs := testMessages(40)
	want := lf(msgs)

	// One whole session through the proxy tells how many octets the server sends.
	{
		mb := &pop3test.Mailbox{Messages: msgs, Pipelining: true}
		p := &proxy{limit: -1}
		addr := startProxy(t, mb.Start(t), p)
		dir := t.TempDir()
		if out, err := runBinary(t, addr, dir, "-delete-after", "0s").CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		sameMessages(t, maildirMessages(t, dir), want)
		total := p.sent.Load()
		t.Logf("a whole session: %d octets from the server", total)

		type point struct {
			name        string
			limit       int64
			onQuit      bool
			forwardQuit bool
		}
		var points []point
		for i := int64(1); i <= 30; i++ {
			points = append(points, point{name: fmt.Sprintf("after %d octets", total*i/30), limit: total * i / 30})
		}
		points = append(points,
			point{name: "QUIT not sent", limit: -1, onQuit: true},
			point{name: "QUIT sent, reply lost", limit: -1, onQuit: true, forwardQuit: true},
			point{name: "after the greeting", limit: 20},
		)
		killed := 0
		for _, pt := range points {
			t.Run(pt.name, func(t *testing.T) {
				mb := &pop3test.Mailbox{Messages: msgs, Pipelining: true}
				direct := mb.Start(t)
				dir := t.TempDir()
				var cmd *exec.Cmd
				var mu sync.Mutex
				p := &proxy{limit: pt.limit, onQuit: pt.onQuit, forwardQuit: pt.forwardQuit, trip: func() {
					mu.Lock()
					defer mu.Unlock()
					if cmd != nil && cmd.Process != nil {
						cmd.Process.Kill()
					}
				}}
				addr := startProxy(t, direct, p)
				mu.Lock()
				cmd = runBinary(t, addr, dir, "-delete-after", "0s")
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				err := cmd.Start()
				mu.Unlock()
				if err != nil {
					t.Fatal(err)
				}
				err = cmd.Wait()
				if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					killed++
				} else if err != nil && p.tripped.Load() {
					// Cut before the kill landed: popsync saw a cut and exited by itself.
				} else if err != nil {
					t.Fatalf("first run: %v: %s", err, out.String())
				}
				again := runBinary(t, addr, dir, "-delete-after", "0s")
				if o, err := again.CombinedOutput(); err != nil {
					t.Fatalf("second run: %v: %s", err, o)
				}
				sameMessages(t, maildirMessages(t, dir), want)
				if mb.Remaining() != 0 {
					t.Fatalf("%d messages left on the server", mb.Remaining())
				}
				if tmp, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(tmp) != 0 {
					t.Errorf("%d files left in tmp/", len(tmp))
				}
			})
		}
		t.Logf("%d kill points, %d runs ended by SIGKILL; 0 messages lost, 0 stored twice", len(points), killed)
	}
}

// SIGINT stops cleanly: exit 130, a line saying what was stored and that nothing unstored
// was deleted, and the server still holds every message.
func TestInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs popsync")
	}
	msgs := testMessages(40)
	mb := &pop3test.Mailbox{Messages: msgs, Pipelining: true}
	stalled := make(chan struct{})
	p := &proxy{limit: 6000, stall: true, trip: func() { close(stalled) }}
	addr := startProxy(t, mb.Start(t), p)
	dir := t.TempDir()
	cmd := runBinary(t, addr, dir, "-delete-after", "0s", "-timeout", "1m")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	<-stalled
	// The proxy holds the rest of the session back: popsync waits on the server.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if entries, _ := os.ReadDir(filepath.Join(dir, "new")); len(entries) > 0 {
			break
		}
	}
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	if cmd.ProcessState.ExitCode() != 130 {
		t.Fatalf("exit %v, want 130: %s", err, stderr.String())
	}
	line := stderr.String()
	stored := len(maildirMessages(t, dir))
	if !strings.Contains(line, fmt.Sprintf("interrupted: %d messages", stored)) || !strings.Contains(line, "nothing that was not stored was deleted") {
		t.Errorf("stderr %q, %d stored", line, stored)
	}
	if mb.Remaining() != 40 || stored == 0 {
		t.Errorf("%d left on the server, %d stored", mb.Remaining(), stored)
	}
}
