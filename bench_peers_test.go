package pop3_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkPeers fetches the same mailbox with this client and with the other POP3 clients
// found on the machine, in the same run: curl (pop3://, one connection for all the
// messages), Python's poplib, and mpop (which pipelines), each against the same
// pop3test.Mailbox, over loopback and through the 20 ms round-trip proxy. A peer that is
// not installed is skipped. Every run is a whole session: connecting, logging in, fetching
// every message, QUIT. Each peer runs as a process, so its start-up is counted too: the
// batches are large enough for it not to matter much.
//
//	go test -run '^$' -bench Peers -benchmem .
func BenchmarkPeers(b *testing.B) {
	for _, link := range []struct {
		name  string
		count int
		delay time.Duration
	}{
		{"loopback/1000x10KB", 1000, 0},
		{"rtt20ms/100x10KB", 100, 10 * time.Millisecond},
	} {
		bt := newBatch(b, link.count, 10_000, true)
		addr := bt.addr
		if link.delay > 0 {
			addr = delayProxy(b, bt.addr, link.delay)
		}
		// A whole session each time, as the peers run: connect, log in, fetch, QUIT.
		b.Run(link.name+"/popwire", func(b *testing.B) {
			var buf [32 << 10]byte
			b.SetBytes(bt.bytes)
			for i := 0; i < b.N; i++ {
				c := benchClient(b, addr)
				err := c.RetrEach(bt.nums, func(n int, r io.Reader) error {
					_, err := io.CopyBuffer(io.Discard, r, buf[:])
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
				if err := c.Quit(); err != nil {
					b.Fatal(err)
				}
			}
		})
		for _, peer := range peers {
			b.Run(link.name+"/"+peer.name, func(b *testing.B) {
				if _, err := exec.LookPath(peer.program); err != nil {
					b.Skipf("%s is not installed", peer.program)
				}
				dir := b.TempDir()
				args := peer.args(b, addr, link.count, dir)
				b.SetBytes(bt.bytes)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					os.RemoveAll(filepath.Join(dir, "state")) // what a peer remembers of a run
					out, err := exec.Command(peer.program, args...).CombinedOutput()
					if err != nil {
						b.Fatalf("%s: %v\n%s", peer.name, err, out)
					}
				}
			})
		}
	}
}

// peers are the other clients BenchmarkPeers runs: each fetches messages 1 to count of the
// mailbox at addr (user "user", password "pass") and throws them away. dir is the peer's
// own; a file "state" there is removed before every run.
var peers = []struct {
	name, program string
	args          func(b *testing.B, addr string, count int, dir string) []string
}{
	{"curl", "curl", func(b *testing.B, addr string, count int, dir string) []string {
		// One globbed URL: curl keeps the connection for every message, sending RETR each.
		return []string{"-sS", "-u", "user:pass", "-o", "/dev/null", fmt.Sprintf("pop3://%s/[1-%d]", addr, count)}
	}},
	{"python-poplib", "python3", func(b *testing.B, addr string, count int, dir string) []string {
		host, port := splitHostPort(b, addr)
		return []string{"-c", fmt.Sprintf(`
import poplib
p = poplib.POP3(%q, %s)
p.user("user"); p.pass_("pass")
for i in range(1, %d + 1):
    p.retr(i)
p.quit()
`, host, port, count)}
	}},
	{"mpop", "mpop", func(b *testing.B, addr string, count int, dir string) []string {
		// Keeping the messages, with its list of the unique-ids it has fetched removed
		// before each run, mpop fetches every message every time.
		host, port := splitHostPort(b, addr)
		return []string{"--host=" + host, "--port=" + port, "--tls=off", "--auth=user",
			"--user=user", "--passwordeval=echo pass", "--keep=on",
			"--uidls-file=" + filepath.Join(dir, "state"), "--delivery=mbox,/dev/null", "--quiet"}
	}},
}

func splitHostPort(b *testing.B, addr string) (string, string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		b.Fatal(err)
	}
	return host, port
}
