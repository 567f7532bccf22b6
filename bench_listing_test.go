package pop3_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/popwire/pop3"
	"github.com/popwire/pop3/pop3test"
)

// BenchmarkListing reads UIDL and LIST listings of 1 000, 10 000 and 100 000 entries with
// the Client against the raw baseline, paired: each iteration reads the listing once with
// a raw socket (fetchListing, which reads the reply to its end and parses nothing) and once
// with the Client, each from a pop3test.Mailbox of the same messages in this process, and reports the time per entry of each
// and their ratio (socket/...), each the median over the iterations, so that a change in
// the load of the machine weighs on both alike and an iteration that lost the processor
// counts for little; a collection before each read leaves each side only its own garbage
// (and that of its server) to collect in its time. The Client also reads from memory (memory/..., a listingConn), where only its own
// work is measured and its allocations are counted without a server's. Each
// sub-benchmark reports ns/entry; from memory, allocs/op is per listing.
//
//	go test -run '^$' -bench Listing -benchmem .
func BenchmarkListing(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		// Two mailboxes alike: a Mailbox takes one session at a time.
		rawAddr, clientAddr := listingMailbox(n).Start(b), listingMailbox(n).Start(b)
		for _, cmd := range []string{"UIDL", "LIST"} {
			name := fmt.Sprintf("%s/%d", cmd, n)
			b.Run("socket/"+name, func(b *testing.B) {
				s := newRawSession(b, rawAddr)
				octets := s.replyLength(b, cmd)
				c := benchClient(b, clientAddr)
				raw, client := make([]float64, b.N), make([]float64, b.N)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					runtime.GC() // the garbage of one side is not collected in the other's time
					t0 := time.Now()
					if got := s.fetchListing(b, []byte(cmd+"\r\n")); got != octets {
						b.Fatalf("%d octets, want %d", got, octets)
					}
					raw[i] = float64(time.Since(t0).Nanoseconds()) / float64(n)
					runtime.GC()
					t0 = time.Now()
					if got := listOnce(b, c, cmd); got != n {
						b.Fatalf("%d entries, want %d", got, n)
					}
					client[i] = float64(time.Since(t0).Nanoseconds()) / float64(n)
				}
				ratios := make([]float64, b.N)
				for i := range ratios {
					ratios[i] = client[i] / raw[i]
				}
				b.ReportMetric(median(raw), "raw-ns/entry")
				b.ReportMetric(median(client), "ns/entry")
				b.ReportMetric(median(ratios), "ratio")
			})
			b.Run("memory/"+name, func(b *testing.B) {
				c := listingClient(b, n)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if got := listOnce(b, c, cmd); got != n {
						b.Fatalf("%d entries, want %d", got, n)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/entry")
			})
		}
	}
}

// fetchListing sends cmd and reads its multi-line reply straight from the socket into one
// buffer until it finds the reply's end, the line "." (a CRLF, a dot and a CRLF, across
// reads too), the least any client must do: without it a reader would have to know the
// length in advance. It returns the octets read, which must be the whole reply.
func (s *rawSession) fetchListing(tb testing.TB, cmd []byte) int64 {
	if _, err := s.conn.Write(cmd); err != nil {
		tb.Fatal(err)
	}
	if s.r.Buffered() != 0 {
		tb.Fatal("raw session: octets left over from the setup")
	}
	if len(s.buf) == 0 {
		s.buf = make([]byte, 64<<10)
	}
	const end = "\r\n.\r\n"
	total, kept := int64(0), 0 // buf[:kept]: the last octets of the previous read
	for {
		n, err := s.conn.Read(s.buf[kept:])
		total += int64(n)
		if i := bytes.Index(s.buf[:kept+n], []byte(end)); i >= 0 {
			if i+len(end) != kept+n {
				tb.Fatal("raw session: octets after the listing")
			}
			return total
		}
		if err != nil {
			tb.Fatal(err)
		}
		kept = copy(s.buf, s.buf[max(0, kept+n-(len(end)-1)):kept+n])
	}
}

// median returns the median of v, which it sorts.
func median(v []float64) float64 {
	slices.Sort(v)
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[len(v)/2]
}

// listOnce reads one listing with the Client and returns its length.
func listOnce(tb testing.TB, c *pop3.Client, cmd string) int {
	if cmd == "UIDL" {
		l, err := c.UIDL()
		if err != nil {
			tb.Fatal(err)
		}
		return len(l)
	}
	l, err := c.List()
	if err != nil {
		tb.Fatal(err)
	}
	return len(l)
}

// listingUID is the unique-id of message i in the listing benchmarks: 24 hexadecimal
// digits, like Dovecot's.
func listingUID(i int) string { return fmt.Sprintf("%08x%016x", i, uint64(i)*0x9e3779b97f4a7c15) }

// listingMailbox is a mailbox of n small messages with Dovecot-like unique-ids.
func listingMailbox(n int) *pop3test.Mailbox {
	msg := []byte("Subject: x\r\n\r\nbody\r\n")
	mb := &pop3test.Mailbox{Messages: make([][]byte, n), UIDs: make([]string, n)}
	for i := range n {
		mb.Messages[i] = msg
		mb.UIDs[i] = listingUID(i + 1)
	}
	return mb
}

// listingClient is a Client logged in over a listingConn of n entries.
func listingClient(tb testing.TB, n int) *pop3.Client {
	c, err := pop3.NewClient(newListingConn(n), &pop3.Options{AllowInsecureAuth: true})
	if err != nil {
		tb.Fatal(err)
	}
	if err := c.Login("user", "pass"); err != nil {
		tb.Fatal(err)
	}
	return c
}

// TestListingAllocations checks the allocation target of the listings: reading a UIDL or
// LIST listing of 100 000 entries allocates a bounded number of times, not once per entry
// (the slices grow by doubling, the unique-ids share one string).
func TestListingAllocations(t *testing.T) {
	const n = 100_000
	c := listingClient(t, n)
	for _, cmd := range []string{"UIDL", "LIST"} {
		allocs := testing.AllocsPerRun(5, func() {
			if got := listOnce(t, c, cmd); got != n {
				t.Fatalf("%s: %d entries, want %d", cmd, got, n)
			}
		})
		if allocs > 100 {
			t.Errorf("%s of %d entries: %.0f allocations, want at most 100 (none per entry)", cmd, n, allocs)
		}
	}
}

// listingConn is a net.Conn to a server in memory that answers UIDL and LIST with listings
// of n entries made once, CAPA with PIPELINING and UIDL, and any other command with "+OK".
type listingConn struct {
	uidl, list []byte
	pending    []byte
}

func newListingConn(n int) *listingConn {
	m := &listingConn{pending: []byte("+OK ready\r\n")}
	m.uidl = append(m.uidl, "+OK\r\n"...)
	m.list = append(m.list, "+OK\r\n"...)
	for i := 1; i <= n; i++ {
		m.uidl = fmt.Appendf(m.uidl, "%d %s\r\n", i, listingUID(i))
		m.list = fmt.Appendf(m.list, "%d %d\r\n", i, 1000+i%5000)
	}
	m.uidl = append(m.uidl, ".\r\n"...)
	m.list = append(m.list, ".\r\n"...)
	return m
}

func (m *listingConn) Read(p []byte) (int, error) {
	if len(m.pending) == 0 {
		return 0, io.EOF
	}
	n := copy(p, m.pending)
	m.pending = m.pending[n:]
	return n, nil
}

// Write answers every command line in p, after whatever is still pending.
func (m *listingConn) Write(p []byte) (int, error) {
	for _, line := range bytes.SplitAfter(p, []byte("\n")) {
		switch {
		case len(line) == 0:
		case bytes.HasPrefix(line, []byte("UIDL")):
			m.queue(m.uidl)
		case bytes.HasPrefix(line, []byte("LIST")):
			m.queue(m.list)
		case bytes.HasPrefix(line, []byte("CAPA")):
			m.queue([]byte("+OK\r\nUSER\r\nUIDL\r\n.\r\n"))
		default:
			m.queue([]byte("+OK\r\n"))
		}
	}
	return len(p), nil
}

// queue puts reply after the pending octets, sharing it when nothing is pending.
func (m *listingConn) queue(reply []byte) {
	if len(m.pending) == 0 {
		m.pending = reply
	} else {
		m.pending = append(slices.Clip(m.pending), reply...)
	}
}

func (m *listingConn) Close() error        { return nil }
func (m *listingConn) LocalAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (m *listingConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 110}
}
func (m *listingConn) SetDeadline(time.Time) error      { return nil }
func (m *listingConn) SetReadDeadline(time.Time) error  { return nil }
func (m *listingConn) SetWriteDeadline(time.Time) error { return nil }
