package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/popwire/pop3"
)

// maildir delivers messages of one account into a Maildir: each message is written to
// tmp/ and renamed into new/. Its file name carries a digest of the account, the unique-id
// and the content, so a run that was killed after storing a message but before recording
// it finds the file and does not store it again.
//
// deliver reads a message (CRLF turned into LF) and hands it to a writer goroutine, which
// creates, writes and renames the file while the next message arrives; a message over
// maxQueued is written by deliver itself. The files are made durable in groups: flush
// waits for the writer, then makes every file delivered since the last flush durable, with
// one syncfs(2) on Linux (elsewhere an fsync of each file, run concurrently so that the
// file system commits them together, and then of new/), and durableStore calls it before
// each Commit of the sync state. So a unique-id is recorded only once its message is on
// disk, which is the order Sync needs, at a fraction of the cost of two fsyncs per
// message. A write that fails fails every later deliver and flush, so no Commit records
// a message that is not stored.
type maildir struct {
	dir     string
	account string
	tag     string         // digest of the account, in the names of its tmp files
	have    map[string]int // names in new/ or cur/ (without the ":2," flags): foundOnDisk or storedNow
	seq     int            // numbers this run's tmp files
	pid     int            // in this run's tmp file names

	queue   chan *queued   // messages for the writer goroutine
	free    chan *queued   // buffers the writer is done with
	written sync.WaitGroup // messages queued and not yet written
	stopped chan struct{}  // closed when the writer goroutine has returned
	early   chan struct{}  // asks the early flusher for a syncfs
	flushed chan struct{}  // closed when the early flusher has returned

	// flushDir and earlyDir are dir, opened before anything is written, for the syncfs of
	// flush and of the early flusher: each sees every write error from its opening on.
	flushDir, earlyDir *os.File

	mu      sync.Mutex
	err     error    // the first failed write or flush; sticky
	pending []string // files renamed into new/ and not yet flushed
}

// queued is a message waiting for the writer: its tmp and final names and its octets.
type queued struct {
	tmp, final string
	data       []byte
}

// maxQueued is the largest message deliver hands to the writer goroutine; a larger one is
// streamed to its file without being held in memory. queueDepth bounds the messages
// waiting, so at most about queueDepth×maxQueued octets are held.
const (
	maxQueued  = 1 << 20
	queueDepth = 32
)

// openMaildir creates dir/{tmp,new,cur}, removes the account's tmp files left by a killed
// run, notes which messages are already there, and starts the writer; close stops it.
func openMaildir(dir, account string) (*maildir, error) {
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, err
		}
	}
	sum := sha256.Sum256([]byte(account))
	m := &maildir{dir: dir, account: account, tag: hex.EncodeToString(sum[:6]), have: make(map[string]int), pid: os.Getpid()}
	stale, err := filepath.Glob(filepath.Join(dir, "tmp", "popsync-"+m.tag+"-*"))
	if err != nil {
		return nil, err
	}
	for _, name := range stale {
		if err := os.Remove(name); err != nil {
			return nil, err
		}
	}
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			name, _, _ := strings.Cut(e.Name(), ":")
			m.have[name] = foundOnDisk
		}
	}
	if m.flushDir, err = os.Open(dir); err != nil {
		return nil, err
	}
	if m.earlyDir, err = os.Open(dir); err != nil {
		m.flushDir.Close()
		return nil, err
	}
	m.queue = make(chan *queued, queueDepth)
	m.free = make(chan *queued, queueDepth+1)
	m.stopped = make(chan struct{})
	m.early = make(chan struct{}, 1)
	m.flushed = make(chan struct{})
	go m.writer()
	go m.earlyFlusher()
	return m, nil
}

// close stops the writer and the early flusher once they are done.
func (m *maildir) close() {
	close(m.queue)
	<-m.stopped
	close(m.early)
	<-m.flushed
	m.flushDir.Close()
	m.earlyDir.Close()
}

// earlyEvery is how many files the writer writes between two early flushes.
const earlyEvery = 64

// earlyFlusher starts writing out the files already written, while the next messages
// arrive, so that the flush before a Commit, which has to wait for its syncfs, finds
// little left to write. flush does not count on it for durability.
func (m *maildir) earlyFlusher() {
	defer close(m.flushed)
	for range m.early {
		m.earlyFlush()
	}
}

// earlyFlush is one early syncfs. Its error is kept like a failed write's, so that every
// later flush and deliver fails: the kernel reports a write error to each descriptor
// once, and a page that failed to be written is not written again, so the error must not
// be lost here even though flush's own descriptor sees it too.
func (m *maildir) earlyFlush() {
	if _, err := syncFS(m.earlyDir); err != nil {
		m.mu.Lock()
		if m.err == nil {
			m.err = fmt.Errorf("flushing the Maildir: %w", err)
		}
		m.mu.Unlock()
	}
}

// syncFS is syncAll; a test may replace it.
var syncFS = syncAll

// writer writes the queued messages, in order, until the queue is closed.
func (m *maildir) writer() {
	defer close(m.stopped)
	n := 0
	for q := range m.queue {
		if m.failed() == nil {
			m.placed(q.tmp, q.final, createFile(q.tmp, func(f *os.File) error {
				_, err := f.Write(q.data)
				return err
			}))
		}
		if n++; n%earlyEvery == 0 {
			select {
			case m.early <- struct{}{}:
			default: // one is still running
			}
		}
		m.written.Done()
		select {
		case m.free <- q:
		default:
		}
	}
}

// failed returns the error of the first write that failed.
func (m *maildir) failed() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// placed renames the file tmp, written unless err says otherwise, to final; the outcome
// goes to m.err or m.pending.
func (m *maildir) placed(tmp, final string, err error) {
	if err == nil {
		if err = os.Rename(tmp, final); err != nil {
			os.Remove(tmp)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		if m.err == nil {
			m.err = err
		}
		return
	}
	m.pending = append(m.pending, final)
}

// createFile creates the new file path and fills it with write; on failure it removes it.
func createFile(path string, write func(*os.File) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// statePath returns the name of the account's sync state file: in the Maildir directory,
// beside tmp/, new/ and cur/, so that accounts sharing a Maildir have one each.
func (m *maildir) statePath() string {
	return filepath.Join(m.dir, "popsync-"+safeAccount.ReplaceAllString(m.account, "_")+"-"+m.tag+".state")
}

var safeAccount = regexp.MustCompile(`[^A-Za-z0-9@._-]+`)

// tmpName returns a name in tmp/ for the next message: this run's own, since the stale
// files of the account were removed and the pid tells runs apart.
func (m *maildir) tmpName() string {
	m.seq++
	return filepath.Join(m.dir, "tmp", fmt.Sprintf("popsync-%s-%d-%d", m.tag, m.pid, m.seq))
}

// deliver stores one message, CRLF turned into LF; flush makes it durable.
func (m *maildir) deliver(msg pop3.SyncMessage, body io.Reader) error {
	if err := m.failed(); err != nil {
		return err
	}
	var q *queued
	select {
	case q = <-m.free:
	default:
		q = new(queued)
	}
	// Read up to maxQueued octets (the size LIST gave is a hint for the buffer only).
	buf := bytes.NewBuffer(q.data[:0])
	buf.Grow(int(min(max(msg.Size, 0), maxQueued) + bytes.MinRead))
	n, err := buf.ReadFrom(io.LimitReader(body, maxQueued+1))
	if err != nil {
		return err
	}
	if n > maxQueued {
		return m.deliverLarge(msg, io.MultiReader(bytes.NewReader(buf.Bytes()), body))
	}
	q.data = crlfToLF(buf.Bytes())
	sum := sha256.Sum256(q.data)
	name := m.fileName(msg.UID, sum[:])
	if m.stored(name, sum[:]) {
		return nil
	}
	m.have[name] = storedNow
	q.tmp, q.final = m.tmpName(), filepath.Join(m.dir, "new", name)
	m.written.Add(1)
	m.queue <- q
	return nil
}

// deliverLarge streams a message over maxQueued octets to its file: it is written to
// tmp/ first, since its name needs the digest of all of it.
func (m *maildir) deliverLarge(msg pop3.SyncMessage, body io.Reader) error {
	tmp := m.tmpName()
	h := sha256.New()
	err := createFile(tmp, func(f *os.File) error {
		w := bufio.NewWriterSize(io.MultiWriter(f, h), 64<<10)
		lf := &lfWriter{w: w}
		if _, err := io.Copy(lf, body); err != nil {
			return err
		}
		if err := lf.Close(); err != nil {
			return err
		}
		return w.Flush()
	})
	if err != nil {
		return err
	}
	sum := h.Sum(nil)
	name := m.fileName(msg.UID, sum)
	if m.stored(name, sum) {
		os.Remove(tmp)
		return nil
	}
	m.have[name] = storedNow
	m.placed(tmp, filepath.Join(m.dir, "new", name), nil)
	return m.failed()
}

// Values of maildir.have.
const (
	foundOnDisk = 1 // by openMaildir: left by an earlier run
	storedNow   = 2 // by this run
)

// stored reports whether the message name, whose content has the SHA-256 sum, is already
// stored: by this run (the name carries the digest), or by an earlier one that did not
// get to record it and left the whole file.
func (m *maildir) stored(name string, sum []byte) bool {
	switch m.have[name] {
	case storedNow:
		return true
	case foundOnDisk:
		return sameContent(m.dir, name, sum)
	}
	return false
}

// sameContent reports whether the message name, in new/ or cur/, holds the octets whose
// SHA-256 is sum: a file left by a crash of the machine before it was flushed may be
// empty or cut, and is then written again.
func sameContent(dir, name string, sum []byte) bool {
	for _, sub := range []string{"new", "cur"} {
		matches, _ := filepath.Glob(filepath.Join(dir, sub, name+"*"))
		for _, path := range matches {
			f, err := os.Open(path)
			if err != nil {
				continue
			}
			h := sha256.New()
			_, err = io.Copy(h, f)
			f.Close()
			if err == nil && bytes.Equal(h.Sum(nil), sum) {
				return true
			}
		}
	}
	return false
}

// flush waits for the writer, then makes the messages delivered since the last flush
// durable: their data, then their names in new/.
func (m *maildir) flush() error {
	m.written.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	if len(m.pending) == 0 {
		return nil
	}
	if ok, err := syncFS(m.flushDir); err != nil {
		m.err = fmt.Errorf("flushing the Maildir: %w", err)
		return m.err
	} else if ok {
		m.pending = m.pending[:0]
		return nil
	}
	errs := make(chan error, len(m.pending))
	sem := make(chan struct{}, 32)
	for _, path := range m.pending {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			errs <- syncFile(path)
		}()
	}
	var first error
	for range m.pending {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		m.err = first // a page that failed to be written is not written again
		return first
	}
	if err := syncFile(filepath.Join(m.dir, "new")); err != nil {
		m.err = err
		return err
	}
	m.pending = m.pending[:0]
	return nil
}

// durableStore is the sync state, committed only after the messages it records are on
// disk.
type durableStore struct {
	*pop3.SyncFile
	md *maildir
}

// Commit flushes the Maildir, then commits the change.
func (s durableStore) Commit(ch pop3.SyncChange) error {
	if err := s.md.flush(); err != nil {
		return err
	}
	return s.SyncFile.Commit(ch)
}

// fileName is the Maildir name of a message: the same for the same account, unique-id and
// content.
func (m *maildir) fileName(uid string, content []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", m.account, uid)
	h.Write(content)
	return "popsync." + hex.EncodeToString(h.Sum(nil)[:16])
}

// syncFile fsyncs a file or a directory.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// lfWriter turns CRLF into LF on its way to w; a CR not followed by LF is kept.
type lfWriter struct {
	w  io.Writer
	cr bool // the last octet written was a CR, held back
}

func (l *lfWriter) Write(p []byte) (int, error) {
	n := len(p)
	if l.cr {
		l.cr = false
		if len(p) > 0 && p[0] != '\n' {
			if _, err := l.w.Write([]byte{'\r'}); err != nil {
				return 0, err
			}
		}
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\r')
		if i < 0 {
			if _, err := l.w.Write(p); err != nil {
				return 0, err
			}
			break
		}
		if _, err := l.w.Write(p[:i]); err != nil {
			return 0, err
		}
		p = p[i+1:]
		switch {
		case len(p) == 0:
			l.cr = true
		case p[0] != '\n':
			if _, err := l.w.Write([]byte{'\r'}); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// Close writes a CR held back at the end.
func (l *lfWriter) Close() error {
	if l.cr {
		l.cr = false
		_, err := l.w.Write([]byte{'\r'})
		return err
	}
	return nil
}

// crlfToLF turns CRLF into LF in b, in place, and returns the shortened slice; a CR not
// followed by LF is kept.
func crlfToLF(b []byte) []byte {
	i := bytes.Index(b, []byte("\r\n"))
	if i < 0 {
		return b
	}
	w := i
	for r := i + 1; r < len(b); {
		j := bytes.Index(b[r:], []byte("\r\n"))
		if j < 0 {
			w += copy(b[w:], b[r:])
			break
		}
		w += copy(b[w:], b[r:r+j])
		r += j + 1
	}
	return b[:w]
}
