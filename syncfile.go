package pop3

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SyncFile is the file store of Sync: the state of one account in one text file that a
// person can read, one line per unique-id. Every Commit writes the whole file anew, to a
// temporary file that is synced and renamed over the old one, and then syncs the
// directory, so a crash leaves either the old state or the new one. A file that is
// damaged or not a state file is an error, never an empty state.
//
// A SyncFile is safe for concurrent use by the goroutines of one process; two processes
// must not sync the same account at once (the server's maildrop lock usually sees to it).
type SyncFile struct {
	path string

	mu    sync.Mutex
	state SyncState // as last read or written
}

// syncFileMagic is the first line of a state file, naming the format and its version.
const syncFileMagic = "pop3-sync-state 1"

// OpenSyncFile opens (or creates) the embedded default store: one file per account. A
// file that does not exist yet is an empty state, written by the first Commit; its
// directory must exist and be writable.
func OpenSyncFile(path string) (*SyncFile, error) {
	f := &SyncFile{path: path}
	if _, err := f.read(); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if _, err := os.Stat(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("pop3: sync file: %w", unprefixed(err))
	}
	return f, nil
}

// Path returns the file's name.
func (f *SyncFile) Path() string { return f.path }

// Load reads the file and returns the state it holds; account is not used, since the
// file holds one account, and Sync checks that it is the right one.
func (f *SyncFile) Load(account string) (SyncState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, err := f.read()
	if errors.Is(err, os.ErrNotExist) {
		return SyncState{}, nil // not written yet
	}
	if err != nil {
		return SyncState{}, err
	}
	return cloneState(st), nil
}

// Commit applies ch to the state last read or written and writes the file anew. A change
// for another account than the one the file holds is refused with ErrForeignStore.
func (f *SyncFile) Commit(ch SyncChange) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	next, err := applyChange(f.state, ch)
	if err != nil {
		return err
	}
	return f.write(next)
}

// read reads and parses the file into f.state.
func (f *SyncFile) read() (SyncState, error) {
	data, err := os.ReadFile(f.path)
	if err != nil {
		return SyncState{}, fmt.Errorf("pop3: sync file: %w", unprefixed(err))
	}
	st, err := parseSyncFile(data)
	if err != nil {
		return SyncState{}, fmt.Errorf("pop3: sync file %s: %w", f.path, unprefixed(err))
	}
	f.state = st
	return st, nil
}

// write replaces the file with st atomically and durably.
func (f *SyncFile) write(st SyncState) error {
	dir := filepath.Dir(f.path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(f.path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("pop3: sync file: %w", unprefixed(err))
	}
	fail := func(err error) error {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("pop3: sync file: %w", unprefixed(err))
	}
	if _, err := tmp.Write(formatSyncFile(st)); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("pop3: sync file: %w", unprefixed(err))
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("pop3: sync file: %w", unprefixed(err))
	}
	f.state = st
	return nil
}

// syncDir makes a rename in dir durable.
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

// applyChange returns st with ch applied; st is not modified.
func applyChange(st SyncState, ch SyncChange) (SyncState, error) {
	if ch.Account == "" {
		return SyncState{}, fmt.Errorf("%w: a sync change without an account", ErrInvalidArgument)
	}
	if st.Account != "" && st.Account != ch.Account {
		return SyncState{}, fmt.Errorf("%w: it holds %q, the change is for %q", ErrForeignStore, st.Account, ch.Account)
	}
	next := SyncState{Account: ch.Account, LastLogin: st.LastLogin}
	if !ch.LastLogin.IsZero() {
		next.LastLogin = ch.LastLogin
	}
	drop := make(map[string]bool, len(ch.Forget)+len(ch.Put))
	for _, uid := range ch.Forget {
		drop[uid] = true
	}
	for _, rec := range ch.Put {
		drop[rec.UID] = true
	}
	next.Records = make([]SyncRecord, 0, len(st.Records)+len(ch.Put))
	for _, rec := range st.Records {
		if !drop[rec.UID] {
			next.Records = append(next.Records, rec)
		}
	}
	seen := make(map[string]bool, len(ch.Put))
	for _, rec := range ch.Put {
		if err := checkRecord(rec); err != nil {
			return SyncState{}, err
		}
		if seen[rec.UID] {
			return SyncState{}, fmt.Errorf("%w: unique-id %q put twice in one change", ErrInvalidArgument, rec.UID)
		}
		seen[rec.UID] = true
		rec.Digests = append([]string(nil), rec.Digests...)
		next.Records = append(next.Records, rec)
	}
	return next, nil
}

// checkRecord refuses a record the file could not hold.
func checkRecord(rec SyncRecord) error {
	if rec.UID == "" || rec.Copies < 0 {
		return fmt.Errorf("%w: sync record %q with %d copies", ErrInvalidArgument, rec.UID, rec.Copies)
	}
	for _, d := range rec.Digests {
		if len(d) != 64 || strings.Trim(d, "0123456789abcdef") != "" {
			return fmt.Errorf("%w: sync record %q: digest %q is not hexadecimal SHA-256", ErrInvalidArgument, rec.UID, d)
		}
	}
	return nil
}

// cloneState returns a deep copy of st.
func cloneState(st SyncState) SyncState {
	out := st
	out.Records = make([]SyncRecord, len(st.Records))
	for i, rec := range st.Records {
		rec.Digests = append([]string(nil), rec.Digests...)
		out.Records[i] = rec
	}
	return out
}

// The file format, line by line:
//
//	pop3-sync-state 1
//	account alice@pop.example.org
//	last-login 2026-12-01T19:00:00Z
//	uid 000000017a3b 2026-12-01T19:00:01.5Z 1 - 3f7a…(64 hex digits)
//
// A uid line holds the unique-id, the time first stored, the number of copies, "remove"
// or "-", and the digests separated by commas or "-". Unique-ids and the account are
// written with octets outside printable ASCII, and "%", as %XX. Lines starting with "#"
// are comments.

// formatSyncFile writes st in the file format.
func formatSyncFile(st SyncState) []byte {
	var b bytes.Buffer
	b.WriteString(syncFileMagic + "\n")
	b.WriteString("# Unique-ids stored by github.com/popwire/pop3 Sync: unique-id, first stored, copies, remove, SHA-256 digests.\n")
	if st.Account != "" {
		b.WriteString("account " + escapeField(st.Account) + "\n")
	}
	if !st.LastLogin.IsZero() {
		b.WriteString("last-login " + st.LastLogin.UTC().Format(time.RFC3339Nano) + "\n")
	}
	for _, rec := range st.Records {
		b.WriteString("uid ")
		b.WriteString(escapeField(rec.UID))
		b.WriteByte(' ')
		b.WriteString(rec.Stored.UTC().Format(time.RFC3339Nano))
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(rec.Copies))
		if rec.Remove {
			b.WriteString(" remove ")
		} else {
			b.WriteString(" - ")
		}
		if len(rec.Digests) == 0 {
			b.WriteString("-")
		} else {
			b.WriteString(strings.Join(rec.Digests, ","))
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// parseSyncFile reads the file format; anything it does not know is an error naming the
// line.
func parseSyncFile(data []byte) (SyncState, error) {
	var st SyncState
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	line := 0
	seen := make(map[string]bool)
	bad := func(format string, args ...any) error {
		return fmt.Errorf("line %d: %s: %w", line, fmt.Sprintf(format, args...), unprefixed(ErrDamagedSyncFile))
	}
	for sc.Scan() {
		line++
		text := sc.Text()
		if line == 1 {
			if text != syncFileMagic {
				return SyncState{}, bad("not a sync state file (want %q first)", syncFileMagic)
			}
			continue
		}
		if text == "" || text[0] == '#' {
			continue
		}
		fields := strings.Split(text, " ")
		switch fields[0] {
		case "account":
			if len(fields) != 2 || st.Account != "" {
				return SyncState{}, bad("account line")
			}
			acct, err := unescapeField(fields[1])
			if err != nil || acct == "" {
				return SyncState{}, bad("account %q", fields[1])
			}
			st.Account = acct
		case "last-login":
			t, err := time.Parse(time.RFC3339Nano, strings.Join(fields[1:], " "))
			if err != nil || len(fields) != 2 {
				return SyncState{}, bad("last-login")
			}
			st.LastLogin = t
		case "uid":
			if len(fields) != 6 {
				return SyncState{}, bad("uid line with %d fields, want 6", len(fields))
			}
			var rec SyncRecord
			var err error
			if rec.UID, err = unescapeField(fields[1]); err != nil || rec.UID == "" {
				return SyncState{}, bad("unique-id %q", fields[1])
			}
			if seen[rec.UID] {
				return SyncState{}, bad("unique-id %q twice", rec.UID)
			}
			seen[rec.UID] = true
			if rec.Stored, err = time.Parse(time.RFC3339Nano, fields[2]); err != nil {
				return SyncState{}, bad("time %q", fields[2])
			}
			n, err := strconv.Atoi(fields[3])
			if err != nil || n < 0 || fields[3] != strconv.Itoa(n) {
				return SyncState{}, bad("copies %q", fields[3])
			}
			rec.Copies = n
			switch fields[4] {
			case "remove":
				rec.Remove = true
			case "-":
			default:
				return SyncState{}, bad("flag %q", fields[4])
			}
			if fields[5] != "-" {
				rec.Digests = strings.Split(fields[5], ",")
			}
			if err := checkRecord(rec); err != nil {
				return SyncState{}, bad("%v", err)
			}
			st.Records = append(st.Records, rec)
		default:
			return SyncState{}, bad("unknown line %q", fields[0])
		}
	}
	if err := sc.Err(); err != nil {
		return SyncState{}, fmt.Errorf("line %d: %w: %w", line+1, unprefixed(ErrDamagedSyncFile), err)
	}
	if line == 0 {
		return SyncState{}, fmt.Errorf("empty file: %w", unprefixed(ErrDamagedSyncFile))
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		return SyncState{}, fmt.Errorf("line %d: cut short: %w", line, unprefixed(ErrDamagedSyncFile))
	}
	if len(st.Records) > 0 && st.Account == "" {
		return SyncState{}, fmt.Errorf("records without an account: %w", unprefixed(ErrDamagedSyncFile))
	}
	return st, nil
}

// ErrDamagedSyncFile is returned by OpenSyncFile and SyncFile.Load for a file that is
// not a sync state file or is damaged.
var ErrDamagedSyncFile = errors.New("pop3: damaged sync state file")

// escapeField writes s with octets outside printable ASCII, and "%", as %XX.
func escapeField(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// unescapeField reverses escapeField and refuses what it would not write.
func unescapeField(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) {
				return "", errors.New("short escape")
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil || s[i+1:i+3] != strings.ToUpper(s[i+1:i+3]) {
				return "", errors.New("bad escape")
			}
			if e := byte(v); e > ' ' && e < 0x7f && e != '%' {
				return "", errors.New("needless escape")
			}
			b.WriteByte(byte(v))
			i += 2
		case c <= ' ' || c >= 0x7f:
			return "", errors.New("raw octet")
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}
