package pop3_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/popwire/pop3"
)

// Leave mail on the server: each message is fetched once, and later syncs fetch only what
// is new. The state lives in one file per account.
func ExampleClient_Sync() {
	addr, stop := serveExample(
		"Subject: first\r\n\r\nHello\r\n",
		"Subject: second\r\n\r\nWorld\r\n",
	)
	defer stop()
	dir, err := os.MkdirTemp("", "sync-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := pop3.OpenSyncFile(filepath.Join(dir, "alice.state"))
	if err != nil {
		log.Fatal(err)
	}

	for run := 1; run <= 2; run++ {
		c, err := pop3.Dial(addr, nil) // on the Internet: pop3.DialTLS("host:995", nil)
		if err != nil {
			log.Fatal(err)
		}
		if err := c.Login("user", "pass"); err != nil {
			log.Fatal(err)
		}
		// The zero SyncPolicy keeps every message on the server.
		res, err := c.Sync(context.Background(), store, pop3.SyncPolicy{}, func(m pop3.SyncMessage, body io.Reader) error {
			data, err := io.ReadAll(body) // store it durably before returning nil
			fmt.Printf("run %d: %s %q\n", run, m.UID, data)
			return err
		})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("run %d: fetched %d, kept %d\n", run, res.Fetched, res.Kept)
	}
	// Output:
	// run 1: uid-1 "Subject: first\r\n\r\nHello\r\n"
	// run 1: uid-2 "Subject: second\r\n\r\nWorld\r\n"
	// run 1: fetched 2, kept 2
	// run 2: fetched 0, kept 2
}

// Remove from the server what was stored more than 30 days ago, as Outlook's "remove
// from server after 30 days" does; or, with zero DeleteAfter, everything once stored.
func ExampleSyncPolicy() {
	_ = pop3.SyncPolicy{Delete: true, DeleteAfter: 30 * 24 * time.Hour}
	_ = pop3.SyncPolicy{Delete: true} // fetch and delete
}

// dbStore keeps the sync state the way an app keeps it in its own database: a table keyed
// by account and unique-id, and one row per account for the last login. Replace the maps
// with SQL statements (SELECT in Load, a transaction of DELETE and INSERT OR REPLACE in
// Commit) and several workers can share the state.
type dbStore struct {
	mu     sync.Mutex
	rows   map[[2]string]pop3.SyncRecord
	logins map[string]time.Time
}

func (s *dbStore) Load(account string) (pop3.SyncState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := pop3.SyncState{Account: account, LastLogin: s.logins[account]}
	for key, rec := range s.rows {
		if key[0] == account {
			st.Records = append(st.Records, rec)
		}
	}
	return st, nil
}

func (s *dbStore) Commit(ch pop3.SyncChange) error {
	s.mu.Lock() // BEGIN
	defer s.mu.Unlock()
	for _, uid := range ch.Forget {
		delete(s.rows, [2]string{ch.Account, uid})
	}
	for _, rec := range ch.Put {
		s.rows[[2]string{ch.Account, rec.UID}] = rec
	}
	if !ch.LastLogin.IsZero() {
		s.logins[ch.Account] = ch.LastLogin
	}
	return nil // COMMIT: durable before it returns
}

// A SyncStore of your own, in a few lines: fetch and delete, with the state in the app's
// database.
func ExampleSyncStore() {
	addr, stop := serveExample("Subject: a\r\n\r\n1\r\n", "Subject: b\r\n\r\n2\r\n")
	defer stop()
	store := &dbStore{rows: map[[2]string]pop3.SyncRecord{}, logins: map[string]time.Time{}}

	c, err := pop3.Dial(addr, nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Login("user", "pass"); err != nil {
		log.Fatal(err)
	}
	res, err := c.Sync(context.Background(), store, pop3.SyncPolicy{Delete: true}, func(m pop3.SyncMessage, body io.Reader) error {
		_, err := io.Copy(io.Discard, body)
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("fetched %d, deleted %d\n", res.Fetched, res.Deleted)
	// Output:
	// fetched 2, deleted 2
}
