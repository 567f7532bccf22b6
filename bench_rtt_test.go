package pop3_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/popwire/pop3"
	"github.com/popwire/pop3/internal/latency"
	"github.com/popwire/pop3/pop3test"
)

// The benchmarks of round trips and of the pipeline window (README, "Round trips and the
// pipeline window"). Each iteration runs the raw baseline and the client one after the
// other against the same server, and reports both and their ratio:
//
//	go test -run '^$' -bench 'RoundTrips|WindowLatency|WindowTLS' -benchtime 3x .
//
// raw-ms and client-ms are the medians' inputs: the mean time of one run of each; ratio
// is client-ms / raw-ms (cpu-ratio the same for CPU time). ns/op counts both runs.

// rttMailbox is a mailbox of count messages of size octets that any number of sessions
// may use at once (a session that did not wait for QUIT's reply may still hold it).
func rttMailbox(count, size int, pipelining bool) *pop3test.Mailbox {
	msgs := make([][]byte, count)
	for i := range msgs {
		msgs[i] = benchMessage(size)
	}
	return &pop3test.Mailbox{Messages: msgs, Pipelining: pipelining, NoLock: true}
}

// retrCommands returns "RETR 1\r\n" to "RETR count\r\n" in one buffer.
func retrCommands(count int) []byte {
	var cmds []byte
	for i := 1; i <= count; i++ {
		cmds = fmt.Appendf(cmds, "RETR %d\r\n", i)
	}
	return cmds
}

// rawLogin is the raw baseline's login on conn: the greeting, USER and PASS, each
// awaited.
func rawLogin(tb testing.TB, conn net.Conn) *rawSession {
	s := &rawSession{conn: conn, r: bufio.NewReaderSize(conn, 64<<10)}
	s.line(tb)
	for _, cmd := range []string{"USER user", "PASS pass"} {
		fmt.Fprintf(conn, "%s\r\n", cmd)
		s.line(tb)
	}
	return s
}

// sessionOctets measures, through a direct connection to addr, the octets of the replies
// to RETR 1 to count and to the QUIT after them.
func sessionOctets(b *testing.B, addr string, count int) (retrs, quit int64) {
	s := newRawSession(b, addr)
	for i := 1; i <= count; i++ {
		retrs += s.replyLength(b, "RETR "+strconv.Itoa(i))
	}
	fmt.Fprintf(s.conn, "QUIT\r\n")
	return retrs, int64(len(s.line(b)))
}

// rawWholeSession is the raw baseline of a whole session: the fewest round trips any
// client needs for it, 4 after the greeting. It connects, logs in (USER, then PASS),
// lists (LIST, read to its end), and sends every RETR and QUIT in one write, reading the
// replies' octets (known in advance) without looking at them.
func rawWholeSession(b *testing.B, addr string, cmds []byte, octets int64) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	s := rawLogin(b, conn)
	fmt.Fprintf(conn, "LIST\r\n")
	s.line(b)
	for {
		l, err := s.r.ReadSlice('\n')
		if err != nil {
			b.Fatal(err)
		}
		if string(l) == ".\r\n" {
			break
		}
	}
	s.fetch(b, cmds, octets)
}

// clientWholeSession is the same session with the Client: Login, List, RetrEach of every
// message listed, Quit.
func clientWholeSession(b *testing.B, addr string, buf []byte) {
	c, err := pop3.Dial(addr, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("user", "pass"); err != nil {
		b.Fatal(err)
	}
	list, err := c.List()
	if err != nil {
		b.Fatal(err)
	}
	nums := make([]int, len(list))
	for i, e := range list {
		nums[i] = e.Number
	}
	err = c.RetrEach(nums, func(n int, r io.Reader) error {
		_, err := io.CopyBuffer(io.Discard, r, buf)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		b.Fatal(err)
	}
}

// runPaired runs raw and then client b.N times, timing each run, and reports the mean
// wall time of each and their ratio; with cpu, the process's CPU time too.
func runPaired(b *testing.B, cpu bool, raw, client func()) {
	var rawWall, rawCPU, clientWall, clientCPU time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		wall, used := timed(raw)
		rawWall, rawCPU = rawWall+wall, rawCPU+used
		wall, used = timed(client)
		clientWall, clientCPU = clientWall+wall, clientCPU+used
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(b.N) }
	b.ReportMetric(ms(rawWall), "raw-ms")
	b.ReportMetric(ms(clientWall), "client-ms")
	b.ReportMetric(float64(clientWall)/float64(rawWall), "ratio")
	if cpu {
		b.ReportMetric(ms(rawCPU), "raw-cpu-ms")
		b.ReportMetric(ms(clientCPU), "client-cpu-ms")
		b.ReportMetric(float64(clientCPU)/float64(rawCPU), "cpu-ratio")
	}
}

// timed runs f and returns the wall time and the process's CPU time (user and system) it
// took.
func timed(f func()) (wall, cpu time.Duration) {
	c0, t0 := processCPU(), time.Now()
	f()
	return time.Since(t0), processCPU() - c0
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRoundTrips times a whole session, connect to close, Login + List + RetrEach +
// Quit, of count messages of 2 KB through a proxy that makes a 20 ms and a 100 ms round
// trip, against the raw baseline's session of the same commands in 4 round trips after the
// greeting (rawWholeSession). The Client needs 5: CAPA, USER, PASS with CAPA, LIST, the
// RETRs; QUIT's reply is not awaited, nothing being deleted. With link=tcp the connection's
// TCP handshake takes its time as over a real link (latency.Link: the greeting arrives 2
// round trips after connect); with link=data only the data is delayed (latency.Proxy: the
// greeting arrives after half a round trip).
func BenchmarkRoundTrips(b *testing.B) {
	links := []struct {
		name  string
		proxy func(testing.TB, string, time.Duration) string
	}{{"tcp", latency.Link}, {"data", latency.Proxy}}
	for _, link := range links {
		for _, rtt := range []time.Duration{20 * time.Millisecond, 100 * time.Millisecond} {
			for _, count := range []int{100, 1000, 10000} {
				b.Run(fmt.Sprintf("link=%s/rtt=%v/msgs=%d", link.name, rtt, count), func(b *testing.B) {
					direct := rttMailbox(count, 2000, true).Start(b)
					retrs, quit := sessionOctets(b, direct, count)
					cmds := append(retrCommands(count), "QUIT\r\n"...)
					addr := link.proxy(b, direct, rtt/2)
					buf := make([]byte, 32<<10)
					runPaired(b, false, func() { rawWholeSession(b, addr, cmds, retrs+quit) },
						func() { clientWholeSession(b, addr, buf) })
				})
			}
		}
	}
}

// batchPair is a logged-in raw baseline and Client on one server, for a batch of RETRs.
type batchPair struct {
	raw    *rawSession
	client *pop3.Client
	nums   []int
	cmds   []byte
	octets int64 // of the replies to cmds
	buf    []byte
}

// newBatchPair makes the pair for RETR 1 to count, whose replies are octets long.
func newBatchPair(raw *rawSession, c *pop3.Client, count int, octets int64) *batchPair {
	bp := &batchPair{raw: raw, client: c, cmds: retrCommands(count), octets: octets, buf: make([]byte, 32<<10)}
	for i := 1; i <= count; i++ {
		bp.nums = append(bp.nums, i)
	}
	return bp
}

func (bp *batchPair) rawBatch(b *testing.B) { bp.raw.fetch(b, bp.cmds, bp.octets) }

func (bp *batchPair) clientBatch(b *testing.B) {
	err := bp.client.RetrEach(bp.nums, func(n int, r io.Reader) error {
		_, err := io.CopyBuffer(io.Discard, r, bp.buf)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkWindowLatency fetches count messages of 4 KB with one RetrEach, through a
// proxy that makes a 100 ms round trip, against the raw baseline, which sends every RETR
// at once (an unbounded window). Both are logged in before the timing starts.
func BenchmarkWindowLatency(b *testing.B) {
	const rtt = 100 * time.Millisecond
	for _, count := range []int{200, 2000, 20000} {
		b.Run(fmt.Sprintf("rtt=%v/msgs=%d", rtt, count), func(b *testing.B) {
			direct := rttMailbox(count, 4000, true).Start(b)
			retrs, _ := sessionOctets(b, direct, count)
			addr := latency.Proxy(b, direct, rtt/2)
			bp := newBatchPair(newRawSession(b, addr), benchClient(b, addr), count, retrs)
			runPaired(b, false, func() { bp.rawBatch(b) }, func() { bp.clientBatch(b) })
		})
	}
}

// BenchmarkWindowTLS fetches count messages of 10 KB with one RetrEach over implicit TLS,
// from a pop3test.Mailbox in another process (this test binary, run again as
// TestBenchMailboxProcess), so that the CPU time measured is the client's alone, against a
// raw TLS reader that sends every RETR at once and reads the octets of the replies.
func BenchmarkWindowTLS(b *testing.B) {
	for _, count := range []int{200, 2000, 20000} {
		b.Run(fmt.Sprintf("msgs=%d", count), func(b *testing.B) {
			addr, cfg := startMailboxProcess(b, count, 10_000)
			conn, err := tls.Dial("tcp", addr, cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { conn.Close() })
			raw := rawLogin(b, conn)
			var octets int64
			for i := 1; i <= count; i++ {
				octets += raw.replyLength(b, "RETR "+strconv.Itoa(i))
			}
			c, err := pop3.DialTLS(addr, &pop3.Options{TLSConfig: cfg})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { c.Close() })
			if err := c.Login("user", "pass"); err != nil {
				b.Fatal(err)
			}
			bp := newBatchPair(raw, c, count, octets)
			runPaired(b, true, func() { bp.rawBatch(b) }, func() { bp.clientBatch(b) })
		})
	}
}

// startMailboxProcess runs a Mailbox of count messages of size octets, with PIPELINING
// and implicit TLS, in a process of its own, and returns its address and a TLS
// configuration that trusts its certificate. A cleanup ends the process.
func startMailboxProcess(b *testing.B, count, size int) (string, *tls.Config) {
	line := childProcess(b, "TestBenchMailboxProcess", fmt.Sprintf("POP3_BENCH_MAILBOX=%d,%d", count, size), "MAILBOX ")
	addr, cert, ok := strings.Cut(line, " ")
	if !ok {
		b.Fatalf("mailbox process: %q", line)
	}
	der, err := base64.StdEncoding.DecodeString(cert)
	if err != nil {
		b.Fatal(err)
	}
	crt, err := x509.ParseCertificate(der)
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(crt)
	return addr, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// TestBenchMailboxProcess is the server of BenchmarkWindowTLS, in a process of its own;
// it does nothing unless run by startMailboxProcess. It prints the address and the
// certificate, and serves until its standard input closes.
func TestBenchMailboxProcess(t *testing.T) {
	spec := os.Getenv("POP3_BENCH_MAILBOX")
	if spec == "" {
		t.Skip("run by BenchmarkWindowTLS")
	}
	var count, size int
	if _, err := fmt.Sscanf(spec, "%d,%d", &count, &size); err != nil {
		t.Fatal(err)
	}
	addr := rttMailbox(count, size, true).StartTLS(t)
	fmt.Printf("MAILBOX %s %s\n", addr, base64.StdEncoding.EncodeToString(pop3test.Certificate().Raw))
	io.Copy(io.Discard, os.Stdin)
}
