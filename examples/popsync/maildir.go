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

	"github.com/popwire/pop3"
)

// maildir delivers messages of one account into a Maildir: each message is written to
// tmp/ and renamed into new/. Its file name carries a digest of the account, the unique-id
// and the content, so a run that was killed after storing a message but before recording
// it finds the file and does not store it again.
//
// The files are made durable in groups: flush makes every file delivered since the last
// flush durable, with one syncfs(2) on Linux (elsewhere an fsync of each file, run
// concurrently so that the file system commits them together, and then of new/), and
// durableStore calls it before each Commit of the sync state. So a unique-id is recorded
// only once its message is on disk, which is the order Sync needs, at a fraction of the
// cost of two fsyncs per message.
type maildir struct {
	dir     string
	account string
	tag     string          // digest of the account, in the names of its tmp files
	have    map[string]bool // names already in new/ or cur/ (without the ":2," flags)
	pending []string        // files renamed into new/ and not yet fsynced
}

// openMaildir creates dir/{tmp,new,cur}, removes the account's tmp files left by a killed
// run, and notes which messages are already there.
func openMaildir(dir, account string) (*maildir, error) {
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, err
		}
	}
	sum := sha256.Sum256([]byte(account))
	m := &maildir{dir: dir, account: account, tag: hex.EncodeToString(sum[:6]), have: make(map[string]bool)}
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
			m.have[name] = true
		}
	}
	return m, nil
}

// statePath returns the name of the account's sync state file: in the Maildir directory,
// beside tmp/, new/ and cur/, so that accounts sharing a Maildir have one each.
func (m *maildir) statePath() string {
	return filepath.Join(m.dir, "popsync-"+safeAccount.ReplaceAllString(m.account, "_")+"-"+m.tag+".state")
}

var safeAccount = regexp.MustCompile(`[^A-Za-z0-9@._-]+`)

// deliver stores one message, CRLF turned into LF; flush makes it durable.
func (m *maildir) deliver(msg pop3.SyncMessage, body io.Reader) error {
	tmp, err := os.CreateTemp(filepath.Join(m.dir, "tmp"), "popsync-"+m.tag+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // gone after the rename; removes it on failure
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(tmp, h), 64<<10)
	lf := &lfWriter{w: w}
	_, err = io.Copy(lf, body)
	if err == nil {
		err = lf.Close()
	}
	if err == nil {
		err = w.Flush()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	sum := h.Sum(nil)
	name := m.fileName(msg.UID, sum)
	final := filepath.Join(m.dir, "new", name)
	if m.have[name] && sameContent(m.dir, name, sum) {
		return nil // stored by an earlier run that did not get to record it
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return err
	}
	m.have[name] = true
	m.pending = append(m.pending, final)
	return nil
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

// flush makes the messages delivered since the last flush durable: their data, then
// their names in new/.
func (m *maildir) flush() error {
	if len(m.pending) == 0 {
		return nil
	}
	if ok, err := syncAll(m.dir); err != nil {
		return err
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
		return first
	}
	if err := syncFile(filepath.Join(m.dir, "new")); err != nil {
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
