package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/popwire/pop3/internal/dovecottest"
	"github.com/popwire/pop3/internal/latency"
	"github.com/popwire/pop3/internal/realserver"
)

// benchDir holds the Maildirs of every run of the benchmark; TestMain removes it once
// all have ended. On ext4 without a journal (as on the machine the README's figures come
// from) creating a file costs time in proportion to the files deleted nearby in the last
// minute or so, so removing each run's Maildirs would make the runs after it pay for it.
var benchDir string

// benchBase returns benchDir, created on first use.
func benchBase(b *testing.B) string {
	if benchDir == "" {
		dir, err := os.MkdirTemp("", "popsync-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchDir = dir
	}
	return benchDir
}

// BenchmarkVsMpop times popsync and mpop (Debian package mpop, delivering to a Maildir)
// fetching the same mailbox from the same real Dovecot, one after the other in every
// iteration, each as a process with a fresh Maildir and no state: 2000 × 10 KB over
// loopback, and 200 × 2 KB through a proxy that adds a 20 ms round trip. Both leave the
// mail on the server. popsync makes every message durable (one syncfs, or an fsync of each
// file and of new/) before it records it; mpop is run as it comes. Before each run the
// page cache is written out (sync), so that neither pays for what the other left dirty.
//
//	POP3_TEST_DOVECOT=1 go test -run '^$' -bench VsMpop -count 5 ./examples/popsync
func BenchmarkVsMpop(b *testing.B) {
	for _, tc := range []struct {
		name   string
		count  int
		size   int
		oneWay time.Duration
	}{
		{"loopback/2000x10KB", 2000, 10_000, 0},
		{"rtt20ms/200x2KB", 200, 2_000, 10 * time.Millisecond},
	} {
		msgs := make([]realserver.Message, tc.count)
		var octets int64
		for i := range msgs {
			body := strings.Repeat(fmt.Sprintf("line %d of a generated message body\n", i), tc.size/40)
			msgs[i] = realserver.Message{Name: fmt.Sprintf("m%d", i), Data: []byte(fmt.Sprintf("Subject: %d\nFrom: a@example.org\n\n%s", i, body))}
			octets += int64(len(msgs[i].Data))
		}
		srv := dovecottest.Start(b, msgs)
		addr := srv.Addr
		if tc.oneWay > 0 {
			addr = latency.Proxy(b, srv.Addr, tc.oneWay)
		}
		pass := srv.Users["alice"]
		// popsync and mpop run alternately, each iteration one of each (in turns first),
		// so that a change in the machine's load weighs on both alike; the ratio is
		// popsync's time over mpop's.
		b.Run(tc.name, func(b *testing.B) {
			if _, err := exec.LookPath("mpop"); err != nil {
				b.Skip("mpop is not installed")
			}
			bin := popsyncBinary(b)
			host, port, _ := strings.Cut(addr, ":")
			var popsyncTime, mpopTime time.Duration
			b.SetBytes(2 * octets)
			for i := 0; i < b.N; i++ {
				dir, err := os.MkdirTemp(benchBase(b), "run-")
				if err != nil {
					b.Fatal(err)
				}
				runPopsync := func() {
					cmd := exec.Command(bin, "-addr", addr, "-user", "alice", "-tls", "none", "-maildir", filepath.Join(dir, "Maildir"))
					cmd.Env = append(os.Environ(), "POP3_PASSWORD="+pass)
					// Each run starts with nothing dirty in the page cache, so that neither
					// pays for writing out what the other left.
					syscall.Sync()
					start := time.Now()
					out, err := cmd.CombinedOutput()
					popsyncTime += time.Since(start)
					if err != nil || !strings.Contains(string(out), fmt.Sprintf("fetched %d messages", tc.count)) {
						b.Fatalf("popsync: %v: %s", err, out)
					}
				}
				runMpop := func() {
					md := filepath.Join(dir, "mpop")
					for _, sub := range []string{"tmp", "new", "cur"} {
						os.MkdirAll(filepath.Join(md, sub), 0o700)
					}
					cmd := exec.Command("mpop", "--host="+host, "--port="+port, "--tls=off", "--auth=user",
						"--user=alice", "--passwordeval=echo "+pass, "--keep=on",
						"--uidls-file="+filepath.Join(dir, "uidls"), "--delivery=maildir,"+md, "--quiet")
					syscall.Sync()
					start := time.Now()
					out, err := cmd.CombinedOutput()
					mpopTime += time.Since(start)
					if err != nil {
						b.Fatalf("mpop: %v: %s", err, out)
					}
					if n, _ := os.ReadDir(filepath.Join(md, "new")); len(n) != tc.count {
						b.Fatalf("mpop delivered %d messages, want %d", len(n), tc.count)
					}
				}
				// The order alternates, so that neither always runs on the other's heels.
				if i%2 == 0 {
					runPopsync()
					runMpop()
				} else {
					runMpop()
					runPopsync()
				}
			}
			b.ReportMetric(float64(popsyncTime.Milliseconds())/float64(b.N), "popsync-ms/op")
			b.ReportMetric(float64(mpopTime.Milliseconds())/float64(b.N), "mpop-ms/op")
			b.ReportMetric(float64(popsyncTime)/float64(mpopTime), "popsync/mpop")
		})
	}
}
