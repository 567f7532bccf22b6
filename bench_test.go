package pop3_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/popwire/pop3"
	"github.com/popwire/pop3/internal/latency"
	"github.com/popwire/pop3/pop3test"
)

// The benchmarks run the Client and a raw baseline against the same in-process server
// (pop3test.Mailbox on 127.0.0.1) in the same run. The raw baseline sends the same
// commands and reads exactly the octets of the replies without looking at them: the
// physical reference that no POP3 client can beat.
//
//	go test -run '^$' -bench . -benchmem
//
// README.md reports the figures as ratios to the baseline.

// benchMessage returns a message of about size octets of 76-octet text lines, with a
// line beginning with a dot every 40 lines so that dot-stuffing is exercised.
func benchMessage(size int) []byte {
	var b bytes.Buffer
	b.WriteString("From: bench@example.org\r\nSubject: benchmark\r\n\r\n")
	line := strings.Repeat("abcdefghij", 7) + "klmn\r\n"
	for i := 0; b.Len() < size; i++ {
		if i%40 == 39 {
			b.WriteString(".dotted line\r\n")
		} else {
			b.WriteString(line)
		}
	}
	return b.Bytes()
}

// rawSession is the baseline client: it logs in, then measures the length of every reply
// once, and afterwards reads replies by length only.
type rawSession struct {
	conn net.Conn
	r    *bufio.Reader // for the setup only
	buf  []byte
}

func newRawSession(tb testing.TB, addr string) *rawSession {
	tb.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return rawLogin(tb, conn)
}

func (s *rawSession) line(tb testing.TB) string {
	l, err := s.r.ReadString('\n')
	if err != nil || !strings.HasPrefix(l, "+") {
		tb.Fatalf("raw session: %q, %v", l, err)
	}
	return l
}

// replyLength sends cmd and measures its multi-line reply, status line and terminator
// included.
func (s *rawSession) replyLength(tb testing.TB, cmd string) int64 {
	fmt.Fprintf(s.conn, "%s\r\n", cmd)
	n := int64(len(s.line(tb)))
	for {
		l, err := s.r.ReadSlice('\n')
		for err == bufio.ErrBufferFull {
			n += int64(len(l))
			l, err = s.r.ReadSlice('\n')
		}
		if err != nil {
			tb.Fatal(err)
		}
		n += int64(len(l))
		if string(l) == ".\r\n" {
			return n
		}
	}
}

// fetch writes the commands from a goroutine while it reads total octets of replies
// straight from the socket into one buffer, the way a client with an unbounded pipelining
// window and no parsing at all would.
func (s *rawSession) fetch(tb testing.TB, cmds []byte, total int64) {
	errc := make(chan error, 1)
	go func() { _, err := s.conn.Write(cmds); errc <- err }()
	if s.r.Buffered() != 0 {
		tb.Fatal("raw session: octets left over from the setup")
	}
	if len(s.buf) == 0 {
		s.buf = make([]byte, 64<<10)
	}
	for total > 0 {
		n, err := s.conn.Read(s.buf[:min(int64(len(s.buf)), total)])
		total -= int64(n)
		if err != nil && total > 0 {
			tb.Fatal(err)
		}
	}
	if err := <-errc; err != nil {
		tb.Fatal(err)
	}
}

func benchClient(tb testing.TB, addr string) *pop3.Client {
	c, err := pop3.Dial(addr, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	if err := c.Login("user", "pass"); err != nil {
		tb.Fatal(err)
	}
	return c
}

// BenchmarkRetr streams one large message with Retr and io.Copy, against the raw baseline.
func BenchmarkRetr(b *testing.B) {
	for _, size := range []int{1 << 20, 64 << 20} {
		msg := benchMessage(size)
		addr := (&pop3test.Mailbox{Messages: [][]byte{msg}}).Start(b)
		name := fmt.Sprintf("%dMiB", size>>20)
		b.Run("raw/"+name, func(b *testing.B) {
			s := newRawSession(b, addr)
			n := s.replyLength(b, "RETR 1")
			b.SetBytes(int64(len(msg)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.fetch(b, []byte("RETR 1\r\n"), n)
			}
		})
		b.Run("client/"+name, func(b *testing.B) {
			c := benchClient(b, addr)
			b.SetBytes(int64(len(msg)))
			b.ResetTimer()
			retrLoop(b, c, len(msg))
		})
	}
}

// retrLoop streams message 1, of size octets, b.N times with Retr and io.Copy.
func retrLoop(b *testing.B, c *pop3.Client, size int) {
	for i := 0; i < b.N; i++ {
		r, err := c.Retr(1)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, r); err != nil || n != int64(size) {
			b.Fatalf("copied %d, %v", n, err)
		}
	}
}

// batch is a mailbox of count messages of size octets, and the commands that fetch them.
type batch struct {
	addr  string
	nums  []int
	cmds  []byte
	bytes int64
}

func newBatch(b *testing.B, count, size int, pipelining bool) batch {
	msgs := make([][]byte, count)
	var total int64
	for i := range msgs {
		msgs[i] = benchMessage(size)
		total += int64(len(msgs[i]))
	}
	bt := batch{addr: (&pop3test.Mailbox{Messages: msgs, Pipelining: pipelining}).Start(b), bytes: total}
	for i := 1; i <= count; i++ {
		bt.nums = append(bt.nums, i)
		bt.cmds = fmt.Appendf(bt.cmds, "RETR %d\r\n", i)
	}
	return bt
}

// replyOctets measures the octets of the replies to the batch once, through addr.
func (bt batch) replyOctets(b *testing.B, addr string) (*rawSession, int64) {
	s := newRawSession(b, addr)
	var n int64
	for _, num := range bt.nums {
		n += s.replyLength(b, fmt.Sprintf("RETR %d", num))
	}
	return s, n
}

func runRetrEach(b *testing.B, c *pop3.Client, bt batch) {
	var buf [32 << 10]byte
	for i := 0; i < b.N; i++ {
		err := c.RetrEach(bt.nums, func(n int, r io.Reader) error {
			_, err := io.CopyBuffer(io.Discard, r, buf[:])
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRetrEach fetches 2000 messages of 10 KB, pipelined and one at a time.
func BenchmarkRetrEach(b *testing.B) {
	pipelined := newBatch(b, 2000, 10_000, true)
	serial := newBatch(b, 2000, 10_000, false)
	b.Run("raw/pipelined", func(b *testing.B) {
		s, n := pipelined.replyOctets(b, pipelined.addr)
		b.SetBytes(pipelined.bytes)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			s.fetch(b, pipelined.cmds, n)
		}
	})
	b.Run("client/pipelined", func(b *testing.B) {
		c := benchClient(b, pipelined.addr)
		b.SetBytes(pipelined.bytes)
		b.ResetTimer()
		runRetrEach(b, c, pipelined)
	})
	b.Run("client/serial", func(b *testing.B) {
		c := benchClient(b, serial.addr)
		b.SetBytes(serial.bytes)
		b.ResetTimer()
		runRetrEach(b, c, serial)
	})
}

// BenchmarkRetrEachLatency fetches 200 messages of 2 KB through a proxy that delays
// every packet by 10 ms each way (a 20 ms round trip), pipelined and one at a time.
func BenchmarkRetrEachLatency(b *testing.B) {
	const oneWay = 10 * time.Millisecond
	pipelined := newBatch(b, 200, 2000, true)
	serial := newBatch(b, 200, 2000, false)
	b.Run("raw/pipelined", func(b *testing.B) {
		s, n := pipelined.replyOctets(b, delayProxy(b, pipelined.addr, oneWay))
		b.SetBytes(pipelined.bytes)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			s.fetch(b, pipelined.cmds, n)
		}
	})
	b.Run("client/pipelined", func(b *testing.B) {
		c := benchClient(b, delayProxy(b, pipelined.addr, oneWay))
		b.SetBytes(pipelined.bytes)
		b.ResetTimer()
		runRetrEach(b, c, pipelined)
	})
	b.Run("client/serial", func(b *testing.B) {
		c := benchClient(b, delayProxy(b, serial.addr, oneWay))
		b.SetBytes(serial.bytes)
		b.ResetTimer()
		runRetrEach(b, c, serial)
	})
}

// TestStreamingAllocations checks the allocation target of the body reader: streaming a
// 64 MiB message with Retr and io.Copy allocates under 64 KiB in all.
func TestStreamingAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB message")
	}
	msg := benchMessage(64 << 20)
	c := benchClient(t, (&pop3test.Mailbox{Messages: [][]byte{msg}}).Start(t))
	res := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		retrLoop(b, c, len(msg))
	})
	// The server runs in this process too; its allocations per RETR are counted with the
	// client's, which makes the bound conservative.
	if res.N == 0 || res.AllocedBytesPerOp() >= 64<<10 {
		t.Errorf("streaming 64 MiB allocated %d octets per message (%d allocations), want < 64 KiB", res.AllocedBytesPerOp(), res.AllocsPerOp())
	}
}

// delayProxy forwards connections to target, holding back everything it receives for
// delay in each direction, as a long link would.
func delayProxy(tb testing.TB, target string, delay time.Duration) string {
	return latency.Proxy(tb, target, delay)
}

// BenchmarkRetrMemory streams a 1 MiB message from memory instead of a socket, so that
// what it measures is the client's own work per octet (buffering, scanning for stuffed
// dots, unstuffing), without a server sharing the CPU. The raw baseline reads the same
// reply octets from the same memoryConn into a 64 KiB buffer: one copy, no parsing.
func BenchmarkRetrMemory(b *testing.B) {
	msg := benchMessage(1 << 20)
	mc := newMemoryConn(msg)
	b.Run("raw", func(b *testing.B) {
		buf := make([]byte, 64<<10)
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			mc.Write([]byte("RETR 1\r\n"))
			for total := len(mc.retr); total > 0; {
				n, _ := mc.Read(buf)
				total -= n
			}
		}
	})
	b.Run("client", func(b *testing.B) {
		mc.pending = []byte("+OK ready\r\n")
		c, err := pop3.NewClient(mc, &pop3.Options{AllowInsecureAuth: true}) // NewClient: no loopback exemption
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Login("user", "pass"); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		b.ResetTimer()
		retrLoop(b, c, len(msg))
	})
}

// memoryConn is a net.Conn to a server in memory that answers RETR with one message, CAPA
// with an empty list, and any other command with "+OK".
type memoryConn struct {
	retr    []byte // the whole reply to RETR: status line, dot-stuffed body, terminator
	pending []byte // reply octets not read yet
}

func newMemoryConn(msg []byte) *memoryConn {
	stuffed := bytes.ReplaceAll(msg, []byte("\r\n."), []byte("\r\n.."))
	reply := fmt.Appendf(nil, "+OK %d octets\r\n%s.\r\n", len(msg), stuffed)
	return &memoryConn{retr: reply}
}

func (m *memoryConn) Read(p []byte) (int, error) {
	if len(m.pending) == 0 {
		return 0, io.EOF
	}
	n := copy(p, m.pending)
	m.pending = m.pending[n:]
	return n, nil
}

// Write takes one command per call, as the Client flushes them unpipelined.
func (m *memoryConn) Write(p []byte) (int, error) {
	switch {
	case bytes.HasPrefix(p, []byte("RETR ")):
		m.pending = m.retr
	case bytes.HasPrefix(p, []byte("CAPA")):
		m.pending = []byte("+OK\r\n.\r\n")
	default:
		m.pending = []byte("+OK\r\n")
	}
	return len(p), nil
}

func (m *memoryConn) Close() error        { return nil }
func (m *memoryConn) LocalAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (m *memoryConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 110}
}
func (m *memoryConn) SetDeadline(time.Time) error      { return nil }
func (m *memoryConn) SetReadDeadline(time.Time) error  { return nil }
func (m *memoryConn) SetWriteDeadline(time.Time) error { return nil }

// pipeMemConn is a net.Conn to a server in memory that lists PIPELINING and answers every
// RETR with the same message, any number of commands per write, and any other command with
// "+OK". A Read waits while nothing is owed.
type pipeMemConn struct {
	mu      sync.Mutex
	cond    sync.Cond
	retr    []byte // the whole reply to RETR: status line, dot-stuffed body, terminator
	owed    int    // RETR replies owed and not begun
	cur     []byte // reply octets not read yet
	partial []byte // a command line not whole yet
}

func newPipeMemConn(msg []byte) *pipeMemConn {
	stuffed := bytes.ReplaceAll(msg, []byte("\r\n."), []byte("\r\n.."))
	m := &pipeMemConn{retr: fmt.Appendf(nil, "+OK %d octets\r\n%s.\r\n", len(msg), stuffed)}
	m.cond.L = &m.mu
	m.cur = []byte("+OK ready\r\n")
	return m
}

func (m *pipeMemConn) Read(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for n < len(p) {
		if len(m.cur) == 0 {
			if m.owed == 0 {
				if n > 0 {
					break
				}
				m.cond.Wait()
				continue
			}
			m.owed--
			m.cur = m.retr
		}
		k := copy(p[n:], m.cur)
		m.cur = m.cur[k:]
		n += k
	}
	return n, nil
}

func (m *pipeMemConn) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	data := append(m.partial, p...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		line := data[:i+1]
		data = data[i+1:]
		switch {
		case bytes.HasPrefix(line, []byte("RETR ")):
			m.owed++
		case bytes.HasPrefix(line, []byte("CAPA")):
			m.cur = append(m.cur, "+OK\r\nPIPELINING\r\nUSER\r\n.\r\n"...)
		default:
			m.cur = append(m.cur, "+OK\r\n"...)
		}
	}
	m.partial = append([]byte(nil), data...)
	m.cond.Broadcast()
	return len(p), nil
}

func (m *pipeMemConn) Close() error        { return nil }
func (m *pipeMemConn) LocalAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (m *pipeMemConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 110}
}
func (m *pipeMemConn) SetDeadline(time.Time) error      { return nil }
func (m *pipeMemConn) SetReadDeadline(time.Time) error  { return nil }
func (m *pipeMemConn) SetWriteDeadline(time.Time) error { return nil }

// BenchmarkRetrEachMemory retrieves 20 000 messages of 10 KB with one pipelined RetrEach
// from memory (pipeMemConn), so that what it measures is the client's own work per
// message (its commands, their record in flight, the status lines, the bodies' readers)
// as well as per octet, with no socket and no server process. The raw baseline writes the
// same RETRs at once and reads the replies' octets from the same kind of conn. ns/msg is
// the time per message.
func BenchmarkRetrEachMemory(b *testing.B) {
	const count = 20000
	msg := benchMessage(10_000)
	b.Run("raw", func(b *testing.B) {
		m := newPipeMemConn(msg)
		m.cur = nil
		buf := make([]byte, 64<<10)
		cmds := retrCommands(count)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			m.Write(cmds)
			for total := count * len(m.retr); total > 0; {
				n, _ := m.Read(buf)
				total -= n
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/count, "ns/msg")
	})
	b.Run("client", func(b *testing.B) {
		m := newPipeMemConn(msg)
		c, err := pop3.NewClient(m, &pop3.Options{AllowInsecureAuth: true})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Login("user", "pass"); err != nil {
			b.Fatal(err)
		}
		nums := make([]int, count)
		for i := range nums {
			nums[i] = i + 1
		}
		buf := make([]byte, 32<<10)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			err := c.RetrEach(nums, func(n int, r io.Reader) error {
				_, err := io.CopyBuffer(io.Discard, r, buf)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/count, "ns/msg")
	})
}
