package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/popwire/pop3"
	"github.com/popwire/pop3/examples/internal/demo"
	"github.com/popwire/pop3/pop3test"
)

// runPopsync runs the command in-process and returns its exit status and output.
func runPopsync(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = popsync(args, &out, &errb)
	return code, out.String(), errb.String()
}

// maildirMessages returns the contents of the messages in dir's new/ and cur/, sorted.
func maildirMessages(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join(dir, sub, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(data))
		}
	}
	sort.Strings(out)
	return out
}

// lf returns the messages as popsync stores them: LF line endings, ending in a newline.
func lf(msgs [][]byte) []string {
	var out []string
	for _, m := range msgs {
		s := strings.ReplaceAll(string(m), "\r\n", "\n")
		if !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func sameMessages(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("Maildir holds %d messages, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("message %d differs:\n got %.200q\nwant %.200q", i, got[i], want[i])
		}
	}
}

// The demo: the samples land in the Maildir once; a second run fetches nothing new.
func TestDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "Maildir")
	code, out, errs := runPopsync(t, "-demo", "-maildir", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	if !strings.Contains(out, "fetched 5 messages") || !strings.Contains(out, "kept 5") || !strings.Contains(out, "-addr") {
		t.Errorf("output: %s", out)
	}
	sameMessages(t, maildirMessages(t, dir), lf(demo.Messages()))
	code, out, _ = runPopsync(t, "-demo", "-maildir", dir)
	if code != 0 || !strings.Contains(out, "fetched 0 messages") {
		t.Fatalf("second run: exit %d: %s", code, out)
	}
	sameMessages(t, maildirMessages(t, dir), lf(demo.Messages()))
	states, _ := filepath.Glob(filepath.Join(dir, "popsync-*.state"))
	tmp, _ := os.ReadDir(filepath.Join(dir, "tmp"))
	if len(states) != 1 || len(tmp) != 0 {
		t.Errorf("%d state files, %d tmp files; want 1 and 0", len(states), len(tmp))
	}
}

func testMessages(n int) [][]byte {
	var out [][]byte
	for i := 1; i <= n; i++ {
		out = append(out, []byte("Subject: message "+strings.Repeat("x", i%7)+"\r\n\r\n.leading dot\r\nline\r\rwith CR\r\n"+strings.Repeat("body ", i*13)+"\r\n"))
	}
	return out
}

// Leave on server, then -delete-after 0s empties the server without fetching again.
func TestKeepThenDelete(t *testing.T) {
	msgs := testMessages(20)
	mb := &pop3test.Mailbox{Messages: msgs, Pipelining: true}
	addr := mb.Start(t)
	dir := t.TempDir()
	t.Setenv("POP3_PASSWORD", "pass")
	args := []string{"-addr", addr, "-user", "user", "-tls", "none", "-maildir", dir}
	if code, out, errs := runPopsync(t, args...); code != 0 || !strings.Contains(out, "fetched 20 messages") {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	sameMessages(t, maildirMessages(t, dir), lf(msgs))
	if mb.Remaining() != 20 {
		t.Fatalf("%d left on the server, want 20", mb.Remaining())
	}
	if code, out, errs := runPopsync(t, append(args, "-delete-after", "0s")...); code != 0 || !strings.Contains(out, "fetched 0 messages") || !strings.Contains(out, "deleted 20") {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	if mb.Remaining() != 0 {
		t.Fatalf("%d left on the server, want 0", mb.Remaining())
	}
	sameMessages(t, maildirMessages(t, dir), lf(msgs))
}

// Two accounts into one Maildir: their unique-ids are the same ("uid-1"...), yet each
// account's mail is stored, and deleting one account's mail touches only its own server.
func TestTwoAccountsOneMaildir(t *testing.T) {
	a := &pop3test.Mailbox{Messages: testMessages(3)}
	b := &pop3test.Mailbox{Messages: [][]byte{[]byte("Subject: b1\r\n\r\nB\r\n"), []byte("Subject: b2\r\n\r\nB\r\n")}}
	addrA, addrB := a.Start(t), b.Start(t)
	dir := t.TempDir()
	t.Setenv("POP3_PASSWORD", "pass")
	for _, addr := range []string{addrA, addrB} {
		if code, out, errs := runPopsync(t, "-addr", addr, "-user", "user", "-tls", "none", "-maildir", dir, "-delete-after", "0s"); code != 0 {
			t.Fatalf("%s: exit %d: %s%s", addr, code, out, errs)
		}
	}
	sameMessages(t, maildirMessages(t, dir), lf(append(testMessages(3), b.Messages...)))
	if a.Remaining() != 0 || b.Remaining() != 0 {
		t.Fatalf("left: %d and %d", a.Remaining(), b.Remaining())
	}
	states, _ := filepath.Glob(filepath.Join(dir, "popsync-*.state"))
	if len(states) != 2 {
		t.Errorf("%d state files, want one per account", len(states))
	}
}

// One-line errors with a hint, and a non-zero exit.
func TestErrors(t *testing.T) {
	mb := &pop3test.Mailbox{Messages: testMessages(1)}
	addr := mb.Start(t)
	t.Setenv("POP3_PASSWORD", "wrong")
	code, _, errs := runPopsync(t, "-addr", addr, "-user", "user", "-tls", "none", "-maildir", t.TempDir())
	if code != 1 || !strings.Contains(errs, "[AUTH]") || !strings.Contains(errs, "wrong user name or password") || strings.Count(errs, "\n") != 1 {
		t.Errorf("wrong password: exit %d, %q", code, errs)
	}

	// A listener that never answers: no greeting within the timeout, and the hint.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	held := make(chan net.Conn, 1)
	go func() {
		if c, err := l.Accept(); err == nil {
			held <- c
		}
	}()
	defer func() {
		select {
		case c := <-held:
			c.Close()
		default:
		}
	}()
	code, _, errs = runPopsync(t, "-addr", l.Addr().String(), "-user", "user", "-tls", "none", "-timeout", "300ms", "-maildir", t.TempDir())
	if code != 1 || !strings.Contains(errs, "implicit") {
		t.Errorf("silent server: exit %d, %q", code, errs)
	}

	// A mailbox locked by another session.
	holder, err := pop3.Dial(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if err := holder.Login("user", "pass"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("POP3_PASSWORD", "pass")
	code, _, errs = runPopsync(t, "-addr", addr, "-user", "user", "-tls", "none", "-maildir", t.TempDir())
	if code != 1 || !strings.Contains(errs, "[IN-USE]") || !strings.Contains(errs, "locked") {
		t.Errorf("locked mailbox: exit %d, %q", code, errs)
	}

	code, _, errs = runPopsync(t, "-addr", addr)
	if code != 2 || !strings.Contains(errs, "-user") {
		t.Errorf("missing -user: exit %d, %q", code, errs)
	}
	code, _, _ = runPopsync(t, "-demo", "-delete-after", "soon")
	if code != 2 {
		t.Errorf("bad -delete-after: exit %d", code)
	}
}

// The CRLF-to-LF writer keeps a lone CR, also across writes; crlfToLF, the in-place
// conversion of the messages held in memory, does the same.
func TestLFWriter(t *testing.T) {
	for in, want := range map[string]string{
		"a\r\nb\rc\r\r\nd\r": "a\nb\rc\r\nd\r",
		"":                   "",
		"\r\n":               "\n",
		"\r\r\n\r\n":         "\r\n\n",
		"no line ends":       "no line ends",
		"x\r\ny\r\nz":        "x\ny\nz",
		"\n\r":               "\n\r",
	} {
		if got := string(crlfToLF([]byte(in))); got != want {
			t.Errorf("crlfToLF(%q) = %q, want %q", in, got, want)
		}
	}
	for _, chunk := range []int{1, 2, 3, 1000} {
		in := "a\r\nb\rc\r\r\nd\r"
		var out bytes.Buffer
		w := &lfWriter{w: &out}
		for s := in; s != ""; {
			n := min(chunk, len(s))
			w.Write([]byte(s[:n]))
			s = s[n:]
		}
		w.Close()
		if got, want := out.String(), "a\nb\rc\r\nd\r"; got != want {
			t.Errorf("chunk %d: %q, want %q", chunk, got, want)
		}
	}
}

// testMaildir opens a new Maildir for one account; a cleanup closes it.
func testMaildir(t *testing.T) (string, *maildir) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "Maildir")
	md, err := openMaildir(dir, "alice@example.org")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(md.close)
	return dir, md
}

// deliver hands small messages to the writer goroutine and streams one over maxQueued
// itself; both land in new/ with LF line ends once flushed, the same message again in one
// file (a copy sharing its unique-id, C0041), and tmp/ is left empty.
func TestMaildirDeliver(t *testing.T) {
	dir, md := testMaildir(t)
	big := "Subject: big\r\n\r\n" + strings.Repeat("0123456789abcdef\r\n", maxQueued/18+10)
	msgs := []string{"Subject: a\r\n\r\none\r\n", big, "Subject: b\r\n\r\ntwo\rthree\r\n", "Subject: a\r\n\r\none\r\n"}
	for i, m := range msgs {
		uid := fmt.Sprint(i % 3)
		if err := md.deliver(pop3.SyncMessage{Number: i + 1, UID: uid, Size: int64(len(m))}, strings.NewReader(m)); err != nil {
			t.Fatalf("message %d: %v", i+1, err)
		}
	}
	if err := md.flush(); err != nil {
		t.Fatal(err)
	}
	var want [][]byte
	for _, m := range msgs[:3] {
		want = append(want, []byte(m))
	}
	sameMessages(t, maildirMessages(t, dir), lf(want))
	if tmp, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(tmp) != 0 {
		t.Errorf("tmp/ holds %d files after the flush", len(tmp))
	}
}

// A write that fails makes the next flush fail, and every deliver and flush after it:
// no Commit can then record a message that is not stored.
func TestMaildirWriteFails(t *testing.T) {
	dir, md := testMaildir(t)
	if err := os.Remove(filepath.Join(dir, "tmp")); err != nil {
		t.Fatal(err)
	}
	msg := pop3.SyncMessage{Number: 1, UID: "u1", Size: 5}
	if err := md.deliver(msg, strings.NewReader("a\r\n\r\n")); err != nil {
		t.Fatalf("deliver, before the writer ran: %v", err)
	}
	if err := md.flush(); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("flush after a failed write: %v, want ErrNotExist", err)
	}
	msg.Number, msg.UID = 2, "u2"
	if err := md.deliver(msg, strings.NewReader("b\r\n\r\n")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("deliver after a failed write: %v, want ErrNotExist", err)
	}
	if err := md.flush(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("second flush after a failed write: %v, want ErrNotExist", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "new")); len(entries) != 0 {
		t.Errorf("new/ holds %d files", len(entries))
	}
}

// A failed early syncfs is kept: the kernel reports a write error once to each descriptor
// and does not write the failed pages again, so the flush before the next Commit, and
// every deliver after it, must fail even though the flush's own syncfs would succeed.
func TestMaildirEarlyFlushFails(t *testing.T) {
	_, md := testMaildir(t)
	failed := errors.New("injected EIO")
	syncFS = func(d *os.File) (bool, error) {
		if d == md.earlyDir {
			return false, failed
		}
		return syncAll(d)
	}
	t.Cleanup(func() { syncFS = syncAll })
	msg := pop3.SyncMessage{Number: 1, UID: "u1", Size: 5}
	if err := md.deliver(msg, strings.NewReader("a\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	md.written.Wait()
	md.earlyFlush()
	if err := md.flush(); !errors.Is(err, failed) {
		t.Fatalf("flush after a failed early syncfs: %v, want the injected error", err)
	}
	msg.Number, msg.UID = 2, "u2"
	if err := md.deliver(msg, strings.NewReader("b\r\n\r\n")); !errors.Is(err, failed) {
		t.Errorf("deliver after a failed early syncfs: %v, want the injected error", err)
	}
	if err := md.flush(); !errors.Is(err, failed) {
		t.Errorf("second flush: %v, want the injected error", err)
	}
}

// flush's syncfs failing fails the flush and every later one.
func TestMaildirFlushFails(t *testing.T) {
	_, md := testMaildir(t)
	failed := errors.New("injected EIO")
	syncFS = func(*os.File) (bool, error) { return false, failed }
	t.Cleanup(func() { syncFS = syncAll })
	if err := md.deliver(pop3.SyncMessage{Number: 1, UID: "u1", Size: 5}, strings.NewReader("a\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := md.flush(); !errors.Is(err, failed) {
			t.Errorf("flush %d: %v, want the injected error", i+1, err)
		}
	}
}
