package pop3_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/popwire/pop3"
	"github.com/popwire/pop3/internal/latency"
	"github.com/popwire/pop3/pop3test"
)

// BenchmarkSyncRoundTrips times a whole fetch-and-delete session, connect to close,
// through a proxy that makes a 20 ms and a 100 ms round trip: Login and a Sync with
// {Delete: true} of count messages of 2 KB into a store in memory, against the raw
// baseline's session of the same commands in the fewest round trips a client that deletes
// only what it has stored can take (rawSyncSession): 5 after the greeting. The Client takes 6: CAPA, USER, PASS
// with CAPA, UIDL with LIST, the RETRs (with the DELEs of each group committed in the same
// stream), the last DELEs with QUIT. Before each iteration, untimed, both mailboxes get
// count new messages. See README, "Round trips and the pipeline window":
//
//	go test -run '^$' -bench 'SyncRoundTrips' -benchtime 3x -count 3 .
func BenchmarkSyncRoundTrips(b *testing.B) {
	for _, rtt := range []time.Duration{20 * time.Millisecond, 100 * time.Millisecond} {
		for _, count := range []int{100, 1000, 10000} {
			b.Run(fmt.Sprintf("rtt=%v/msgs=%d", rtt, count), func(b *testing.B) { benchSyncRoundTrips(b, rtt, count) })
		}
	}
}

// benchSyncRoundTrips is one case of BenchmarkSyncRoundTrips.
func benchSyncRoundTrips(b *testing.B, rtt time.Duration, count int) {
	msg := benchMessage(2000)
	rawBox := &pop3test.Mailbox{Pipelining: true}
	clientBox := &pop3test.Mailbox{Pipelining: true}
	rawAddr := latency.Proxy(b, rawBox.Start(b), rtt/2)
	clientAddr := latency.Proxy(b, clientBox.Start(b), rtt/2)
	buf := make([]byte, 32<<10)
	var rawWall, clientWall time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for range count {
			rawBox.Add("", msg)
			clientBox.Add("", msg)
		}
		b.StartTimer()
		wall, _ := timed(func() { rawSyncSession(b, rawAddr, count) })
		rawWall += wall
		wall, _ = timed(func() { clientSyncSession(b, clientAddr, count, buf) })
		clientWall += wall
		b.StopTimer()
		if rawBox.Remaining() != 0 || clientBox.Remaining() != 0 {
			b.Fatalf("%d and %d messages left", rawBox.Remaining(), clientBox.Remaining())
		}
		b.StartTimer()
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(b.N) }
	b.ReportMetric(ms(rawWall), "raw-ms")
	b.ReportMetric(ms(clientWall), "client-ms")
	b.ReportMetric(float64(clientWall)/float64(rawWall), "ratio")
}

// rawSyncSession is the raw baseline of a fetch-and-delete session of count messages: it
// logs in (USER, then PASS), sends UIDL and LIST in one write and reads both listings,
// sends every RETR in one write and reads the replies to their ends, then sends every DELE
// and QUIT in one write and reads their status lines: 5 round trips after the greeting.
func rawSyncSession(b *testing.B, addr string, count int) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	s := rawLogin(b, conn)
	fmt.Fprintf(conn, "UIDL\r\nLIST\r\n")
	rawMultiLine(b, s.r, 2)
	var retrs, deles []byte
	for i := 1; i <= count; i++ {
		retrs = append(append(retrs, "RETR "...), strconv.Itoa(i)+"\r\n"...)
		deles = append(append(deles, "DELE "...), strconv.Itoa(i)+"\r\n"...)
	}
	errc := make(chan error, 1)
	go func() { _, err := conn.Write(retrs); errc <- err }()
	rawMultiLine(b, s.r, count)
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	go func() { _, err := conn.Write(append(deles, "QUIT\r\n"...)); errc <- err }()
	for range count + 1 {
		s.line(b)
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}

// rawMultiLine reads n positive multi-line replies to their ends, without looking at them.
func rawMultiLine(b *testing.B, r *bufio.Reader, n int) {
	for range n {
		l, err := r.ReadSlice('\n')
		if err != nil || l[0] != '+' {
			b.Fatalf("raw session: %q, %v", l, err)
		}
		for string(l) != ".\r\n" {
			if l, err = r.ReadSlice('\n'); err != nil && err != bufio.ErrBufferFull {
				b.Fatal(err)
			}
		}
	}
}

// clientSyncSession is the same session with the Client: Login, then Sync with
// {Delete: true} into a new store, which ends the session with QUIT.
func clientSyncSession(b *testing.B, addr string, count int, buf []byte) {
	c, err := pop3.Dial(addr, &pop3.Options{Account: "bench@sync"})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("user", "pass"); err != nil {
		b.Fatal(err)
	}
	res, err := c.Sync(context.Background(), newTableStore(), pop3.SyncPolicy{Delete: true}, func(_ pop3.SyncMessage, r io.Reader) error {
		_, err := io.CopyBuffer(io.Discard, r, buf)
		return err
	})
	if err != nil || res.Fetched != count || res.Deleted != count {
		b.Fatalf("Sync: %+v, %v", res, err)
	}
}
