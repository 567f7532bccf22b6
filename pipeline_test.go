package pop3_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/popwire/pop3"
	. "github.com/popwire/pop3/pop3test"
)

var (
	capaPipelining = []Step{Expect("CAPA"), Reply("+OK", "TOP", "UIDL", "PIPELINING", ".")}
	capaSerial     = []Step{Expect("CAPA"), Reply("+OK", "TOP", "UIDL", ".")}
)

// collect returns a RetrEach callback that records every body it reads whole.
func collect(got map[int]string) func(int, io.Reader) error {
	return func(n int, r io.Reader) error {
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		got[n] = string(b)
		return nil
	}
}

// RFC 2449 section 6.6: with PIPELINING the commands go out before the first reply is
// read. The script answers only after it has received all three, so a client that waited
// for each reply would time out here.
func TestRetrEachPipelinedOrder(t *testing.T) {
	c, srv := login(t, &pop3.Options{Timeout: 2 * time.Second}, capaPipelining,
		Expect("RETR 3"), Expect("RETR 1"), Expect("RETR 2"),
		Reply("+OK", "three", ".", "+OK", "..one", ".", "+OK 5 octets", "two", "."),
		Expect("NOOP"), Reply("+OK"),
	)
	got := map[int]string{}
	var order []int
	err := c.RetrEach([]int{3, 1, 2}, func(n int, r io.Reader) error {
		order = append(order, n)
		return collect(got)(n, r)
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(order) != "[3 1 2]" || got[3] != "three\r\n" || got[1] != ".one\r\n" || got[2] != "two\r\n" {
		t.Errorf("order %v, bodies %v", order, got)
	}
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
	wait(t, srv)
}

// A -ERR in the middle skips that message and goes on; the error names it.
func TestRetrEachNegativeInTheMiddle(t *testing.T) {
	for _, pipelined := range []bool{true, false} {
		t.Run(fmt.Sprint("pipelined=", pipelined), func(t *testing.T) {
			capa := capaSerial
			if pipelined {
				capa = capaPipelining
			}
			c, srv := login(t, nil, capa,
				Expect("RETR 1"), Reply("+OK", "a", "."),
				Expect("RETR 2"), Reply("-ERR [SYS/TEMP] message locked"),
				Expect("RETR 3"), Reply("+OK", "c", "."),
				Expect("NOOP"), Reply("+OK"),
			)
			got := map[int]string{}
			err := c.RetrEach([]int{1, 2, 3}, collect(got))
			perr := asError(t, err)
			if perr.Command != "RETR 2" || perr.Code != "SYS/TEMP" {
				t.Errorf("got %#v", perr)
			}
			if len(got) != 2 || got[1] != "a\r\n" || got[3] != "c\r\n" {
				t.Errorf("bodies %v", got)
			}
			if err := c.Noop(); err != nil {
				t.Fatal(err)
			}
			wait(t, srv)
		})
	}
}

// When fn fails, the batch stops and the replies in flight are drained, so the
// connection stays in step.
func TestRetrEachCallbackFails(t *testing.T) {
	c, srv := login(t, nil, capaPipelining,
		Expect("RETR 1"), Expect("RETR 2"), Expect("RETR 3"), Expect("RETR 4"),
		Reply("+OK", "a", ".", "+OK", "b", "b", ".", "-ERR gone", "+OK", "..d", "."),
		Expect("NOOP"), Reply("+OK fine"),
	)
	stop := errors.New("stop")
	var calls []int
	err := c.RetrEach([]int{1, 2, 3, 4}, func(n int, r io.Reader) error {
		calls = append(calls, n)
		if n == 2 {
			var one [1]byte
			r.Read(one[:]) // read a part; the rest must be skipped
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("RetrEach: %v; want the callback's error", err)
	}
	if fmt.Sprint(calls) != "[1 2]" {
		t.Errorf("fn called for %v", calls)
	}
	if err := c.Noop(); err != nil {
		t.Fatalf("Noop after the batch: %v", err)
	}
	wait(t, srv)
}

// A connection cut in the middle of a batch ends it with an error that is not io.EOF, and
// the connection is broken.
func TestRetrEachCut(t *testing.T) {
	c, srv := login(t, nil, capaPipelining,
		Expect("RETR 1"), Expect("RETR 2"),
		Send("+OK\r\nfirst\r\n.\r\n+OK\r\nsecond, cut"), Cut(),
	)
	got := map[int]string{}
	err := c.RetrEach([]int{1, 2}, collect(got))
	if !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, pop3.ErrBroken) {
		t.Fatalf("RetrEach: %v; want io.ErrUnexpectedEOF", err)
	}
	if len(got) != 1 || got[1] != "first\r\n" {
		t.Errorf("bodies %v", got)
	}
	if err := c.Noop(); !errors.Is(err, pop3.ErrBroken) {
		t.Fatalf("Noop: %v; want ErrBroken", err)
	}
	wait(t, srv)
}

// Without PIPELINING, each command waits for the reply to the one before. In synctest's
// bubble, synctest.Wait lets a writer that sent RETR 2 early get it to the server, which
// records it, before the callback looks.
func TestRetrEachSerialWithoutPipelining(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var early string
		opening := append(slices.Clone(greetLogin), "+OK\r\nTOP\r\nUIDL\r\n.\r\n", "+OK\r\na\r\n.\r\n")
		client, wait := pipePeer(opening, func(r *bufio.Reader, server net.Conn) {
			line, err := r.ReadString('\n')
			mu.Lock()
			early = line
			mu.Unlock()
			if err == nil {
				io.WriteString(server, "+OK\r\nb\r\n.\r\n")
				r.ReadString('\n') // until the client closes
			}
		})
		defer wait()
		c, err := pop3.NewClient(client, &pop3.Options{AllowInsecureAuth: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Login("alice", "secret"); err != nil {
			t.Fatal(err)
		}
		got := map[int]string{}
		err = c.RetrEach([]int{1, 2}, func(n int, r io.Reader) error {
			if n == 1 {
				synctest.Wait()
				mu.Lock()
				defer mu.Unlock()
				if early != "" {
					t.Errorf("%q was sent before the reply to RETR 1 was read", early)
				}
			}
			return collect(got)(n, r)
		})
		if err != nil || got[1] != "a\r\n" || got[2] != "b\r\n" {
			t.Fatalf("RetrEach: %v, %v", err, got)
		}
	})
}

// TopEach sends both arguments; DeleEach marks the messages deleted in this session.
func TestTopEachDeleEach(t *testing.T) {
	c, srv := login(t, nil, capaPipelining,
		Expect("TOP 1 0"), Expect("TOP 2 0"), Reply("+OK", "H: 1", "", ".", "+OK", "H: 2", "", "."),
		Expect("DELE 1"), Expect("DELE 2"), Expect("DELE 3"), Reply("+OK", "-ERR no such message", "+OK"),
		Expect("QUIT"), Reply("+OK"),
	)
	got := map[int]string{}
	if err := c.TopEach([]int{1, 2}, 0, collect(got)); err != nil {
		t.Fatal(err)
	}
	if got[1] != "H: 1\r\n\r\n" || got[2] != "H: 2\r\n\r\n" {
		t.Errorf("headers %v", got)
	}
	if err := c.TopEach([]int{1}, -1, collect(got)); !errors.Is(err, pop3.ErrInvalidArgument) {
		t.Errorf("TopEach with -1 lines: %v", err)
	}
	err := c.DeleEach([]int{1, 2, 3})
	if perr := asError(t, err); perr.Command != "DELE 2" {
		t.Errorf("got %#v", perr)
	}
	if _, err := c.Retr(1); !errors.Is(err, pop3.ErrDeleted) {
		t.Errorf("Retr(1) after DeleEach: %v", err)
	}
	if _, err := c.Retr(3); !errors.Is(err, pop3.ErrDeleted) {
		t.Errorf("Retr(3) after DeleEach: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	wait(t, srv)
}

// A batch of 100 000 tiny messages completes through a real server that answers pipelined
// commands: the window keeps both sides moving, and memory stays bounded.
func TestRetrEachHundredThousand(t *testing.T) {
	if testing.Short() {
		t.Skip("large batch")
	}
	const n = 100000
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = []byte(fmt.Sprintf("Subject: %d\r\n\r\n.%d\r\n", i+1, i+1))
	}
	mb := &Mailbox{Messages: msgs, Pipelining: true}
	c, err := pop3.Dial(mb.Start(t), &pop3.Options{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("user", "pass"); err != nil {
		t.Fatal(err)
	}
	nums := make([]int, n)
	for i := range nums {
		nums[i] = i + 1
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	count := 0
	buf := make([]byte, 256)
	err = c.RetrEach(nums, func(num int, r io.Reader) error {
		k, err := io.ReadFull(r, buf[:len(msgs[num-1])])
		if err != nil || string(buf[:k]) != string(msgs[num-1]) {
			return fmt.Errorf("message %d: %q, %v", num, buf[:k], err)
		}
		count++
		return nil
	})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if count != n {
		t.Fatalf("%d messages, want %d", count, n)
	}
	// The live heap after the batch is bounded whatever the batch size: nothing of the
	// bodies or replies is kept.
	if grown := int64(after.HeapInuse) - int64(before.HeapInuse); grown > 32<<20 {
		t.Errorf("heap grew by %d octets during the batch", grown)
	}
}

// The pipelined and the serial batch give the same results through a real server.
func TestRetrEachMatchesRetr(t *testing.T) {
	msgs := [][]byte{
		[]byte("Subject: a\r\n\r\n.\r\n..\r\n"),
		[]byte("Subject: b\r\n\r\n" + strings.Repeat("long ", 50000) + "\r\n"),
		[]byte("Subject: c\r\n\r\nGr\xc3\xbc\xc3\x9fe\r\n.x\r\n"),
	}
	for _, pipelining := range []bool{true, false} {
		t.Run(fmt.Sprint("pipelining=", pipelining), func(t *testing.T) {
			mb := &Mailbox{Messages: msgs, Pipelining: pipelining}
			c, err := pop3.Dial(mb.Start(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Login("user", "pass"); err != nil {
				t.Fatal(err)
			}
			got := map[int]string{}
			if err := c.RetrEach([]int{1, 2, 3, 2}, collect(got)); err != nil {
				t.Fatal(err)
			}
			for i, m := range msgs {
				r, err := c.Retr(i + 1)
				one := readAll(t, r, err)
				if one != string(m) || got[i+1] != one {
					t.Errorf("pipelining=%v message %d: RetrEach and Retr differ from the stored message", pipelining, i+1)
				}
			}
			if err := c.DeleEach([]int{1, 3}); err != nil {
				t.Fatal(err)
			}
			if err := c.Quit(); err != nil {
				t.Fatal(err)
			}
			if mb.Remaining() != 1 {
				t.Errorf("pipelining=%v: %d messages left after DeleEach and Quit, want 1", pipelining, mb.Remaining())
			}
		})
	}
}

// The callback must not use the Client while the batch owns the connection: such a call
// fails at once and sends nothing, and the batch's replies stay matched to its commands.
func TestRetrEachCallbackCannotUseClient(t *testing.T) {
	mb := &Mailbox{Messages: [][]byte{[]byte("Subject: 1\r\n\r\none\r\n"), []byte("Subject: 2\r\n\r\ntwo\r\n")}, Pipelining: true}
	c, err := pop3.Dial(mb.Start(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("user", "pass"); err != nil {
		t.Fatal(err)
	}
	got := map[int]string{}
	err = c.RetrEach([]int{1, 2}, func(n int, r io.Reader) error {
		for name, call := range map[string]func() error{
			"Noop":     c.Noop,
			"Retr":     func() error { _, err := c.Retr(2); return err },
			"RetrEach": func() error { return c.RetrEach([]int{1}, collect(got)) },
		} {
			t.Run(name, func(t *testing.T) {
				if err := call(); !errors.Is(err, pop3.ErrBusy) {
					t.Errorf("%s inside the callback: %v; want ErrBusy", name, err)
				}
			})
		}
		return collect(got)(n, r)
	})
	if err != nil || got[1] != "Subject: 1\r\n\r\none\r\n" || got[2] != "Subject: 2\r\n\r\ntwo\r\n" {
		t.Fatalf("RetrEach: %v, bodies %v", err, got)
	}
	if err := c.Noop(); err != nil {
		t.Fatalf("Noop after the batch: %v", err)
	}
}

// Quit closes the connection either way: from inside a batch's callback it cannot send
// QUIT, so it closes the connection without it (nothing is removed) and the batch stops.
func TestQuitInsideBatchCloses(t *testing.T) {
	for name, steps := range map[string][]Step{
		"serial":    script(capaSerial, Expect("RETR 1"), Reply("+OK", "a", "."), ExpectClosed()),
		"pipelined": script(capaPipelining, Expect("RETR 1"), Expect("RETR 2"), Reply("+OK", "a", "."), ExpectClosed()),
	} {
		t.Run(name, func(t *testing.T) {
			c, srv := login(t, nil, steps)
			var quitErr error
			err := c.RetrEach([]int{1, 2}, func(int, io.Reader) error {
				quitErr = c.Quit()
				return nil
			})
			if !errors.Is(quitErr, pop3.ErrBusy) {
				t.Errorf("Quit inside the callback: %v; want ErrBusy", quitErr)
			}
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("RetrEach after Quit closed the connection: %v; want net.ErrClosed", err)
			}
			wait(t, srv) // the connection closed with no QUIT sent
		})
	}
}

// C0026: DeleEach refuses a number listed twice before anything is sent.
func TestDeleEachDuplicate(t *testing.T) {
	c, srv := login(t, nil, ExpectClosed())
	if err := c.DeleEach([]int{1, 2, 1}); !errors.Is(err, pop3.ErrInvalidArgument) {
		t.Fatalf("DeleEach: %v; want ErrInvalidArgument", err)
	}
	c.Close()
	wait(t, srv)
}

// pipeListener hands out the server ends of in-memory pipes, which buffer nothing: a
// write waits until the other side reads.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}
func (l *pipeListener) Close() error   { close(l.closed); return nil }
func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{} }

// pipeMailboxClient serves mb on one end of a net.Pipe, a connection that buffers nothing
// at all, and returns a Client logged in on the other end with the given Timeout.
func pipeMailboxClient(t *testing.T, mb *Mailbox, timeout time.Duration) *pop3.Client {
	t.Helper()
	l := &pipeListener{conns: make(chan net.Conn, 1), closed: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- mb.Serve(l) }()
	client, server := net.Pipe()
	l.conns <- server
	c, err := pop3.NewClient(client, &pop3.Options{Timeout: timeout, AllowInsecureAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); l.Close(); <-done })
	if err := c.Login("user", "pass"); err != nil {
		t.Fatal(err)
	}
	return c
}

// numbersUpTo returns the message numbers 1 to n.
func numbersUpTo(n int) []int {
	nums := make([]int, n)
	for i := range nums {
		nums[i] = i + 1
	}
	return nums
}

// C0023: a large pipelined batch over a connection that buffers nothing at all still
// completes, each body the message of its number: the client reads replies while it writes
// commands, so the two sides never wait on each other.
func TestRetrEachOverUnbufferedPipe(t *testing.T) {
	const n = 3000
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = []byte(fmt.Sprintf("Subject: %d\r\n\r\n%s\r\n", i+1, strings.Repeat("x", i%200)))
	}
	c := pipeMailboxClient(t, &Mailbox{Messages: msgs, Pipelining: true}, 20*time.Second)
	nums := numbersUpTo(n)
	count := 0
	err := c.RetrEach(nums, func(num int, r io.Reader) error {
		b, err := io.ReadAll(r)
		if err == nil && string(b) != string(msgs[num-1]) {
			err = fmt.Errorf("message %d differs", num)
		}
		count++
		return err
	})
	if err != nil || count != n {
		t.Fatalf("RetrEach: %v after %d messages", err, count)
	}
	if err := c.DeleEach(nums); err != nil {
		t.Fatal(err)
	}
}

// A callback that fails while the batch's writer is blocked on a connection that buffers
// nothing (the server, blocked writing replies nobody reads, reads no more commands): the
// batch stops its writer and reads the replies already asked for while the writer's last
// write completes, so the connection stays in step. Before, the reader waited for the
// writer first, and both waited until the write deadline broke the connection. Every
// command sent gets its reply, read in order, so NOOP and STAT after it are in step (C0014).
func TestRetrEachCallbackFailsWhileWriterBlocked(t *testing.T) {
	const n = 3000
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = []byte(fmt.Sprintf("Subject: %d\r\n\r\n%s\r\n", i+1, strings.Repeat("x", 100)))
	}
	c := pipeMailboxClient(t, &Mailbox{Messages: msgs, Pipelining: true}, 2*time.Second)
	stop := errors.New("stop here")
	calls := 0
	err := c.RetrEach(numbersUpTo(n), func(int, io.Reader) error {
		calls++
		if calls == 5 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || errors.Is(err, pop3.ErrBroken) || calls != 5 {
		t.Fatalf("RetrEach: %v after %d calls; want the callback's error alone after 5", err, calls)
	}
	if err := c.Noop(); err != nil {
		t.Fatalf("NOOP after the stopped batch: %v; want the connection in step", err)
	}
	if count, _, err := c.Stat(); err != nil || count != n {
		t.Fatalf("STAT: %d, %v", count, err)
	}
}

// A callback that panics leaves replies in flight that nobody will read: the batch stops
// its writer goroutine and marks the connection broken before the panic goes on, so that a
// later call fails with ErrBroken instead of reading a reply meant for a RETR.
func TestRetrEachCallbackPanics(t *testing.T) {
	const count = 3000 // more than one window, so that the writer is waiting when fn panics
	msgs := make([][]byte, count)
	nums := make([]int, count)
	for i := range msgs {
		msgs[i] = fmt.Appendf(nil, "Subject: %d\r\n\r\nbody\r\n", i+1)
		nums[i] = i + 1
	}
	c := benchClient(t, (&Mailbox{Messages: msgs, Pipelining: true}).Start(t))
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic did not reach RetrEach's caller")
			}
		}()
		c.RetrEach(nums, func(n int, r io.Reader) error {
			if n == 2 {
				panic("callback fails")
			}
			return nil
		})
	}()
	if _, _, err := c.Stat(); !errors.Is(err, pop3.ErrBroken) {
		t.Errorf("Stat after the panic: %v; want ErrBroken", err)
	}
	for deadline := time.Now().Add(5 * time.Second); batchWriters() > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the batch's writer goroutine outlived the panic")
		}
	}
}

// batchWriters counts the writer goroutines of pipelined batches still running.
func batchWriters() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "pop3.(*Conn).runPipelined")
}

// A pipelined batch on a connection already out of step (a body read timed out) fails
// with ErrBroken before its writer sends anything, as every other call does.
func TestBatchOnBrokenConnection(t *testing.T) {
	c, srv := login(t, &pop3.Options{Timeout: 200 * time.Millisecond}, capaPipelining,
		Expect("RETR 1"), Send("+OK\r\npart of a body"), Stall(time.Second),
		ExpectClosed(),
	)
	if _, err := c.Capabilities(); err != nil { // known, so the batch asks nothing
		t.Fatal(err)
	}
	r, err := c.Retr(1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r); !errors.Is(err, pop3.ErrBroken) {
		t.Fatalf("reading the body: %v; want ErrBroken", err)
	}
	if err := c.DeleEach([]int{2, 3}); !errors.Is(err, pop3.ErrBroken) {
		t.Errorf("DeleEach: %v; want ErrBroken", err)
	}
	if err := c.RetrEach([]int{2}, collect(map[int]string{})); !errors.Is(err, pop3.ErrBroken) {
		t.Errorf("RetrEach: %v; want ErrBroken", err)
	}
	c.Close()
	wait(t, srv) // the script fails on any DELE or RETR sent after the timeout
}

// A body reader kept after its callback returned reads nothing of a later message: each
// reader of a batch is its own (they are allocated in blocks of 32, never reused), so one
// read to its end still reports io.EOF and one left part-read reports ErrBodySkipped,
// across several blocks.
func TestRetrEachKeptReadersEndTheirOwn(t *testing.T) {
	const count = 100
	msgs := make([][]byte, count)
	nums := make([]int, count)
	for i := range msgs {
		msgs[i] = []byte(fmt.Sprintf("Subject: %d\r\n\r\nbody of message %d\r\n", i+1, i+1))
		nums[i] = i + 1
	}
	for _, pipelined := range []bool{true, false} {
		t.Run(fmt.Sprint("pipelined=", pipelined), func(t *testing.T) {
			c := mailboxClient(t, (&Mailbox{Messages: msgs, Pipelining: pipelined}).Start(t))
			kept := make([]io.Reader, count+1)
			err := c.RetrEach(nums, func(n int, r io.Reader) error {
				kept[n] = r
				if n%2 == 0 {
					_, err := io.ReadAll(r)
					return err
				}
				_, err := r.Read(make([]byte, 4)) // part of it
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			for n := 1; n <= count; n++ {
				got, err := io.ReadAll(kept[n])
				want := error(nil) // io.ReadAll turns io.EOF into nil
				if n%2 == 1 {
					want = pop3.ErrBodySkipped
				}
				if len(got) != 0 || !errors.Is(err, want) {
					t.Errorf("message %d, read again after the batch: %q, %v; want nothing, %v", n, got, err, want)
				}
			}
			if err := c.Noop(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Once a batch has returned, the idle Conn keeps nothing of it: not its numbers, nor its
// callback and what that holds (the last command answered keeps only its text).
func TestRetrEachKeepsNothingOfTheBatch(t *testing.T) {
	c := mailboxClient(t, (&Mailbox{Messages: messages(2), Pipelining: true}).Start(t))
	freed := make(chan struct{})
	func() {
		big := new([1 << 20]byte)
		runtime.SetFinalizer(big, func(*[1 << 20]byte) { close(freed) })
		err := c.RetrEach([]int{1, 2}, func(_ int, r io.Reader) error {
			_ = big[0]
			_, err := io.Copy(io.Discard, r)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}()
	for range 10 {
		runtime.GC()
		select {
		case <-freed:
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Error("what the callback holds is still reachable after RetrEach returned")
}
