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
// tmp/, synced, renamed into new/, and the directory synced, before deliver returns. Its
// file name carries a digest of the account, the unique-id and the content, so a run that
// was killed after storing a message but before recording it finds the file and does not
// store it again.
type maildir struct {
	dir     string
	account string
	tag     string          // digest of the account, in the names of its tmp files
	have    map[string]bool // names already in new/ or cur/ (without the ":2," flags)
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

// deliver stores one message, CRLF turned into LF, and returns once it is durable.
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
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	name := m.fileName(msg.UID, h.Sum(nil))
	if m.have[name] {
		return nil // stored by an earlier run that did not get to record it
	}
	if err := os.Rename(tmp.Name(), filepath.Join(m.dir, "new", name)); err != nil {
		return err
	}
	if err := syncDir(filepath.Join(m.dir, "new")); err != nil {
		return err
	}
	m.have[name] = true
	return nil
}

// fileName is the Maildir name of a message: the same for the same account, unique-id and
// content.
func (m *maildir) fileName(uid string, content []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", m.account, uid)
	h.Write(content)
	return "popsync." + hex.EncodeToString(h.Sum(nil)[:16])
}

// syncDir makes the renames in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
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
