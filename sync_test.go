package pop3_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/popwire/pop3"
	. "github.com/popwire/pop3/pop3test"
)

// tableStore is the database-style store of ExampleSyncStore (dbStore) with what the tests
// need besides: it counts the commits, and they fail once failAfter reaches zero.
type tableStore struct {
	dbStore
	failMu    sync.Mutex
	commits   int
	failAfter int // commits that succeed before the rest fail; <0 never fails
}

func newTableStore() *tableStore {
	return &tableStore{dbStore: dbStore{rows: map[[2]string]pop3.SyncRecord{}, logins: map[string]time.Time{}}, failAfter: -1}
}

func (s *tableStore) Commit(ch pop3.SyncChange) error {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	if s.failAfter == 0 {
		return errors.New("disk full")
	}
	s.failAfter--
	s.commits++
	return s.dbStore.Commit(ch)
}

// uids returns the unique-ids the store holds for account, sorted.
func (s *tableStore) uids(account string) []string {
	st, _ := s.Load(account)
	var out []string
	for _, r := range st.Records {
		out = append(out, r.UID)
	}
	sort.Strings(out)
	return out
}

// collector is a deliver function that keeps what it is given.
type collector struct {
	got  []string // bodies in order
	uids []string
	msgs []pop3.SyncMessage
	fail func(m pop3.SyncMessage) error
}

func (c *collector) deliver(m pop3.SyncMessage, body io.Reader) error {
	if c.fail != nil {
		if err := c.fail(m); err != nil {
			return err
		}
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	c.got = append(c.got, string(b))
	c.uids = append(c.uids, m.UID)
	c.msgs = append(c.msgs, m)
	return nil
}

// syncSession dials addr, logs in as user/pass and runs one Sync.
func syncSession(t *testing.T, addr string, store pop3.SyncStore, policy pop3.SyncPolicy, col *collector) (pop3.SyncResult, error) {
	t.Helper()
	c, err := pop3.Dial(addr, nil)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	if err := c.Login("user", "pass"); err != nil {
		t.Fatalf("Login: %v", err)
	}
	return c.Sync(context.Background(), store, policy, col.deliver)
}

func messages(n int) [][]byte {
	var out [][]byte
	for i := 1; i <= n; i++ {
		out = append(out, []byte(fmt.Sprintf("Subject: %d\r\n\r\n.dot line %d\r\n", i, i)))
	}
	return out
}

// The transcript of a leave-on-server sync: CAPA after the login, one UIDL, one LIST
// (C0040: numbers only from this session's listing), RETR of the new message only, and
// QUIT; no DELE, no RSET, no argument to LIST or UIDL (V0003, V0007).
func TestSyncTranscriptKeep(t *testing.T) {
	store := newTableStore()
	acct := "alice@127.0.0.1"
	c, srv := login(t, &pop3.Options{Account: acct},
		Expect("CAPA"), Reply("+OK", "UIDL", "TOP", "."),
		Expect("UIDL"), Reply("+OK", "1 known-1", "2 new-2", "."),
		Expect("LIST"), Reply("+OK 2 messages", "1 100", "2 23", "."),
		Expect("RETR 2"), Reply("+OK 23 octets", "Subject: b", "", "..body", "."),
		Expect("QUIT"), Reply("+OK bye"), ExpectClosed(),
	)
	store.Commit(pop3.SyncChange{Account: acct, Put: []pop3.SyncRecord{{UID: "known-1", Stored: time.Now(), Copies: 1}}})
	var col collector
	res, err := c.Sync(context.Background(), store, pop3.SyncPolicy{}, col.deliver)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Wait(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"Subject: b\r\n\r\n.body\r\n"}; fmt.Sprint(col.got) != fmt.Sprint(want) {
		t.Fatalf("delivered %q, want %q", col.got, want)
	}
	if col.msgs[0] != (pop3.SyncMessage{Number: 2, UID: "new-2", Size: 23}) {
		t.Errorf("SyncMessage %+v", col.msgs[0])
	}
	if res != (pop3.SyncResult{Fetched: 1, Kept: 2, Octets: 21}) {
		t.Errorf("result %+v", res)
	}
	if got := store.uids(acct); fmt.Sprint(got) != "[known-1 new-2]" {
		t.Errorf("store holds %v", got)
	}
}

// Fetch and delete: the DELEs come only after the messages are stored and recorded, and
// the unique-ids are forgotten only after QUIT's +OK.
func TestSyncTranscriptDelete(t *testing.T) {
	store := newTableStore()
	acct := "alice@127.0.0.1"
	var commitsAtDele int
	c, srv := login(t, &pop3.Options{Account: acct},
		Expect("CAPA"), Reply("+OK", "UIDL", "."),
		Expect("UIDL"), Reply("+OK", "1 a", "2 b", "."),
		Expect("LIST"), Reply("+OK", "1 5", "2 5", "."),
		Expect("RETR 1"), Reply("+OK", "one", "."),
		Expect("RETR 2"), Reply("+OK", "two", "."),
		Expect("DELE 1"), Reply("+OK"),
		Expect("DELE 2"), Reply("+OK"),
		Expect("QUIT"), Reply("+OK bye"), ExpectClosed(),
	)
	var col collector
	col.fail = func(m pop3.SyncMessage) error { commitsAtDele = store.commits; return nil }
	res, err := c.Sync(context.Background(), store, pop3.SyncPolicy{Delete: true}, col.deliver)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Wait(); err != nil {
		t.Fatal(err)
	}
	if res.Fetched != 2 || res.Deleted != 2 || res.Kept != 0 {
		t.Errorf("result %+v", res)
	}
	if commitsAtDele != 0 || store.commits != 2 { // records before DELE; forget after QUIT
		t.Errorf("commits: %d before delivery, %d in all; want 0 and 2", commitsAtDele, store.commits)
	}
	if got := store.uids(acct); len(got) != 0 {
		t.Errorf("store still holds %v after QUIT +OK", got)
	}
}

// A cut before QUIT's reply is never taken as committed deletions: the unique-ids stay
// recorded, so the next sync neither fetches them again nor believes them gone.
func TestSyncCutBeforeQuitReply(t *testing.T) {
	store := newTableStore()
	acct := "alice@127.0.0.1"
	c, _ := login(t, &pop3.Options{Account: acct},
		Expect("CAPA"), Reply("+OK", "UIDL", "."),
		Expect("UIDL"), Reply("+OK", "1 a", "."),
		Expect("LIST"), Reply("+OK", "1 5", "."),
		Expect("RETR 1"), Reply("+OK", "one", "."),
		Expect("DELE 1"), Reply("+OK"),
		Expect("QUIT"), Cut(),
	)
	var col collector
	res, err := c.Sync(context.Background(), store, pop3.SyncPolicy{Delete: true}, col.deliver)
	if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, pop3.ErrBroken) {
		t.Fatalf("Sync error %v, want one matching io.ErrUnexpectedEOF and ErrBroken", err)
	}
	checkPrefixOnce(t, err)
	if res.Deleted != 0 || res.Fetched != 1 {
		t.Errorf("result %+v", res)
	}
	if got := store.uids(acct); fmt.Sprint(got) != "[a]" {
		t.Errorf("store holds %v, want [a]", got)
	}
}

// A server without UIDL: leave-on-server is refused before anything is fetched, with a
// typed error; fetch-and-delete works with LIST alone.
func TestSyncNoUIDL(t *testing.T) {
	acct := "alice@127.0.0.1"
	t.Run("keep refused", func(t *testing.T) {
		c, _ := login(t, &pop3.Options{Account: acct},
			Expect("CAPA"), Reply("-ERR no CAPA"),
			Expect("UIDL"), Reply("-ERR unknown command"),
		)
		var col collector
		_, err := c.Sync(context.Background(), newTableStore(), pop3.SyncPolicy{Delete: true, DeleteAfter: time.Hour}, col.deliver)
		if !errors.Is(err, pop3.ErrNoUIDL) || len(col.got) != 0 {
			t.Fatalf("err %v, delivered %d", err, len(col.got))
		}
	})
	t.Run("CAPA without UIDL", func(t *testing.T) {
		c, _ := login(t, &pop3.Options{Account: acct},
			Expect("CAPA"), Reply("+OK", "TOP", "USER", "."),
		)
		_, err := c.Sync(context.Background(), newTableStore(), pop3.SyncPolicy{}, (&collector{}).deliver)
		if !errors.Is(err, pop3.ErrNoUIDL) {
			t.Fatalf("err %v, want ErrNoUIDL", err)
		}
	})
	t.Run("fetch and delete", func(t *testing.T) {
		c, srv := login(t, &pop3.Options{Account: acct},
			Expect("CAPA"), Reply("-ERR no CAPA"),
			Expect("UIDL"), Reply("-ERR unknown command"),
			Expect("LIST"), Reply("+OK", "1 5", "2 5", "."),
			Expect("RETR 1"), Reply("+OK", "one", "."),
			Expect("RETR 2"), Reply("+OK", "two", "."),
			Expect("DELE 1"), Reply("+OK"),
			Expect("DELE 2"), Reply("+OK"),
			Expect("QUIT"), Reply("+OK"), ExpectClosed(),
		)
		var col collector
		res, err := c.Sync(context.Background(), newTableStore(), pop3.SyncPolicy{Delete: true}, col.deliver)
		if err != nil {
			t.Fatal(err)
		}
		srv.Wait()
		if res.Fetched != 2 || res.Deleted != 2 || col.uids[0] != "" {
			t.Errorf("result %+v, uids %q", res, col.uids)
		}
	})
}

// EXPIRE 0 with a policy that keeps mail is reported; with fetch-and-delete it is not.
func TestSyncExpireZero(t *testing.T) {
	for _, tc := range []struct {
		policy pop3.SyncPolicy
		want   bool
	}{{pop3.SyncPolicy{}, true}, {pop3.SyncPolicy{Delete: true, DeleteAfter: time.Hour}, true}, {pop3.SyncPolicy{Delete: true}, false}} {
		t.Run(fmt.Sprint(tc.policy), func(t *testing.T) {
			c, srv := login(t, &pop3.Options{Account: "a@b"},
				Expect("CAPA"), Reply("+OK", "UIDL", "EXPIRE 0", "."),
				Expect("UIDL"), Reply("+OK", "."),
				Expect("LIST"), Reply("+OK", "."),
				Expect("QUIT"), Reply("+OK"),
			)
			res, err := c.Sync(context.Background(), newTableStore(), tc.policy, (&collector{}).deliver)
			if err != nil || res.ExpireZero != tc.want {
				t.Fatalf("ExpireZero %v, err %v; want %v", res.ExpireZero, err, tc.want)
			}
			wait(t, srv)
		})
	}
}

// A store that belongs to another account is refused before anything is fetched or
// deleted.
func TestSyncForeignStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	f, err := pop3.OpenSyncFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(pop3.SyncChange{Account: "bob@pop.example.org", Put: []pop3.SyncRecord{{UID: "x", Stored: time.Now(), Copies: 1}}}); err != nil {
		t.Fatal(err)
	}
	c, srv := login(t, nil, Expect("QUIT"), Reply("+OK"))
	_, err = c.Sync(context.Background(), f, pop3.SyncPolicy{Delete: true}, (&collector{}).deliver)
	if !errors.Is(err, pop3.ErrForeignStore) {
		t.Fatalf("err %v, want ErrForeignStore", err)
	}
	c.Quit()
	if err := srv.Wait(); err != nil {
		t.Fatal(err) // nothing but QUIT was sent
	}
}

// The account of a dialled session is SyncAccount of the address and the Login user.
func TestSyncAccount(t *testing.T) {
	for _, tc := range [][3]string{
		{"POP.Example.org:995", "alice", "alice@pop.example.org"},
		{"pop.example.org:110", "alice", "alice@pop.example.org"},
		{"pop.example.org", "alice", "alice@pop.example.org"},
		{"127.0.0.1:1100", "u@x", "u@x@127.0.0.1:1100"},
		{"[::1]:995", "a", "a@[::1]"},
	} {
		if got := pop3.SyncAccount(tc[0], tc[1]); got != tc[2] {
			t.Errorf("SyncAccount(%q, %q) = %q, want %q", tc[0], tc[1], got, tc[2])
		}
	}
	mb := &Mailbox{Messages: messages(1)}
	addr := mb.Start(t)
	store := newTableStore()
	if _, err := syncSession(t, addr, store, pop3.SyncPolicy{}, &collector{}); err != nil {
		t.Fatal(err)
	}
	if got := store.uids(pop3.SyncAccount(addr, "user")); len(got) != 1 {
		t.Errorf("store holds %v for %s", got, pop3.SyncAccount(addr, "user"))
	}
	// Without a known account (NewClient), Sync asks for Options.Account.
	srv := NewServer(t, greeting, Expect("CAPA"), Reply("-ERR"), Expect("USER user"), Reply("+OK"), Expect("PASS pass"), Reply("+OK"))
	conn, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c, err := pop3.NewClient(conn, &pop3.Options{AllowInsecureAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("user", "pass"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Sync(context.Background(), store, pop3.SyncPolicy{}, (&collector{}).deliver); !errors.Is(err, pop3.ErrSyncAccount) {
		t.Fatalf("err %v, want ErrSyncAccount", err)
	}
}

// New, known and vanished messages against the in-memory server: the first sync fetches
// everything, a second fetches nothing, and a message gone from the server is forgotten.
func TestSyncMailboxKeep(t *testing.T) {
	for _, pipelining := range []bool{false, true} {
		t.Run(fmt.Sprintf("pipelining=%v", pipelining), func(t *testing.T) {
			mb := &Mailbox{Messages: messages(5), Pipelining: pipelining}
			addr := mb.Start(t)
			store := newTableStore()
			var col collector
			res, err := syncSession(t, addr, store, pop3.SyncPolicy{}, &col)
			if err != nil {
				t.Fatal(err)
			}
			if res.Fetched != 5 || res.Kept != 5 || res.Deleted != 0 || len(col.got) != 5 {
				t.Fatalf("first sync %+v", res)
			}
			for i, body := range col.got {
				if want := string(messages(5)[i]); body != want {
					t.Errorf("message %d: %q, want %q", i+1, body, want)
				}
			}
			res, err = syncSession(t, addr, store, pop3.SyncPolicy{}, &collector{})
			if err != nil || res.Fetched != 0 || res.Kept != 5 {
				t.Fatalf("second sync %+v, %v", res, err)
			}
			if mb.Remaining() != 5 {
				t.Errorf("%d messages left on the server, want 5", mb.Remaining())
			}
		})
	}
}

// Delete with zero DeleteAfter empties the server in the session that stored the mail.
func TestSyncMailboxDeleteNow(t *testing.T) {
	mb := &Mailbox{Messages: messages(300), Pipelining: true}
	addr := mb.Start(t)
	store := newTableStore()
	var col collector
	res, err := syncSession(t, addr, store, pop3.SyncPolicy{Delete: true}, &col)
	if err != nil {
		t.Fatal(err)
	}
	if res.Fetched != 300 || res.Deleted != 300 || mb.Remaining() != 0 {
		t.Fatalf("%+v, %d left", res, mb.Remaining())
	}
	if got := store.uids(pop3.SyncAccount(addr, "user")); len(got) != 0 {
		t.Errorf("store holds %d unique-ids after the server removed them", len(got))
	}
	// 300 records are committed in two groups before the first DELE.
	if store.commits != 3 {
		t.Errorf("%d commits, want 3 (256, 44, forget)", store.commits)
	}
}

// DeleteAfter: a message stays until it was first stored DeleteAfter ago, and goes at that
// very moment, whatever the clock says between.
func TestSyncDeleteAfterBoundary(t *testing.T) {
	const after = 72 * time.Hour
	start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		elapsed time.Duration
		deleted bool
	}{{0, false}, {time.Hour, false}, {after - time.Nanosecond, false}, {after, true}, {after + time.Second, true}, {100 * after, true}} {
		t.Run(tc.elapsed.String(), func(t *testing.T) {
			mb := &Mailbox{Messages: messages(2)}
			addr := mb.Start(t)
			store := newTableStore()
			now := start
			defer pop3.SetSyncClock(func() time.Time { return now })()
			policy := pop3.SyncPolicy{Delete: true, DeleteAfter: after}
			if res, err := syncSession(t, addr, store, policy, &collector{}); err != nil || res.Fetched != 2 || res.Deleted != 0 {
				t.Fatalf("first sync %+v, %v", res, err)
			}
			now = start.Add(tc.elapsed)
			res, err := syncSession(t, addr, store, policy, &collector{})
			if err != nil || res.Fetched != 0 {
				t.Fatalf("second sync %+v, %v", res, err)
			}
			if got := res.Deleted == 2 && mb.Remaining() == 0; got != tc.deleted {
				t.Errorf("after %v: %+v, %d left; want deleted=%v", tc.elapsed, res, mb.Remaining(), tc.deleted)
			}
		})
	}
}

// Remove when I delete it: a unique-id marked for removal is deleted by the next sync
// even though the policy keeps mail.
func TestSyncMarkForRemoval(t *testing.T) {
	mb := &Mailbox{Messages: messages(3)}
	addr := mb.Start(t)
	store := newTableStore()
	if _, err := syncSession(t, addr, store, pop3.SyncPolicy{}, &collector{}); err != nil {
		t.Fatal(err)
	}
	acct := pop3.SyncAccount(addr, "user")
	if err := pop3.MarkForRemoval(store, acct, "uid-2", "not-stored"); err != nil {
		t.Fatal(err)
	}
	res, err := syncSession(t, addr, store, pop3.SyncPolicy{}, &collector{})
	if err != nil || res.Deleted != 1 || res.Kept != 2 || res.Fetched != 0 {
		t.Fatalf("%+v, %v", res, err)
	}
	if got := store.uids(acct); fmt.Sprint(got) != "[uid-1 uid-3]" {
		t.Errorf("store holds %v", got)
	}
	if err := pop3.MarkForRemoval(store, "other@host", "uid-1"); err != nil {
		t.Fatal(err) // the table store holds many accounts: nothing to mark there
	}
}

// Baseline records everything as stored without downloading it.
func TestSyncBaseline(t *testing.T) {
	mb := &Mailbox{Messages: messages(4)}
	addr := mb.Start(t)
	store := newTableStore()
	c, err := pop3.Dial(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login("user", "pass"); err != nil {
		t.Fatal(err)
	}
	n, err := c.SyncBaseline(context.Background(), store)
	if err != nil || n != 4 {
		t.Fatalf("baseline recorded %d, %v", n, err)
	}
	var col collector
	res, err := syncSession(t, addr, store, pop3.SyncPolicy{}, &col)
	if err != nil || res.Fetched != 0 || len(col.got) != 0 || res.Kept != 4 {
		t.Fatalf("sync after baseline: %+v, %v", res, err)
	}
}

// Plan: the messages and octets to fetch are known before the first download, and Run
// follows them one by one.
func TestSyncPlan(t *testing.T) {
	mb := &Mailbox{Messages: messages(3), Pipelining: true}
	addr := mb.Start(t)
	c, err := pop3.Dial(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("user", "pass"); err != nil {
		t.Fatal(err)
	}
	plan, err := c.PlanSync(context.Background(), newTableStore(), pop3.SyncPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	var octets int64
	for _, m := range mb.Messages {
		octets += int64(len(m))
	}
	if len(plan.Fetch) != 3 || plan.FetchOctets != octets {
		t.Fatalf("plan %d messages %d octets, want 3 and %d", len(plan.Fetch), plan.FetchOctets, octets)
	}
	var col collector
	res, err := plan.Run(context.Background(), col.deliver)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range col.msgs {
		if m != plan.Fetch[i] {
			t.Errorf("delivered %+v, planned %+v", m, plan.Fetch[i])
		}
	}
	if res.Octets != octets {
		t.Errorf("octets %d, want %d", res.Octets, octets)
	}
	if _, err := plan.Run(context.Background(), col.deliver); !errors.Is(err, pop3.ErrInvalidArgument) {
		t.Errorf("second Run: %v", err)
	}
}

// Cancelling mid-batch: what was delivered is recorded, nothing is deleted, and the error
// matches ctx.Err().
func TestSyncCancelled(t *testing.T) {
	mb := &Mailbox{Messages: messages(50), Pipelining: true}
	addr := mb.Start(t)
	store := newTableStore()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var col collector
	col.fail = func(m pop3.SyncMessage) error {
		if m.Number == 20 {
			cancel()
			return ctx.Err()
		}
		return nil
	}
	c, err := pop3.Dial(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("user", "pass"); err != nil {
		t.Fatal(err)
	}
	res, err := c.Sync(ctx, store, pop3.SyncPolicy{Delete: true}, col.deliver)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	checkPrefixOnce(t, err)
	if res.Deleted != 0 || mb.Remaining() != 50 {
		t.Fatalf("deleted %d, %d left", res.Deleted, mb.Remaining())
	}
	if got := store.uids(pop3.SyncAccount(addr, "user")); len(got) != 19 || res.Fetched != 19 {
		t.Fatalf("recorded %d, fetched %d; want 19", len(got), res.Fetched)
	}
	// The next sync fetches the rest exactly once and deletes everything.
	var rest collector
	res, err = syncSession(t, addr, store, pop3.SyncPolicy{Delete: true}, &rest)
	if err != nil || res.Fetched != 31 || res.Deleted != 50 || mb.Remaining() != 0 {
		t.Fatalf("%+v, %v, %d left", res, err, mb.Remaining())
	}
}

// A store that fails to commit stops the sync before any DELE: nothing unrecorded is
// deleted.
func TestSyncStoreFailure(t *testing.T) {
	for _, tc := range []struct{ msgs, failAfter, recorded int }{{3, 0, 0}, {300, 1, 256}} {
		t.Run(fmt.Sprint(tc), func(t *testing.T) {
			mb := &Mailbox{Messages: messages(tc.msgs), Pipelining: true}
			addr := mb.Start(t)
			store := newTableStore()
			store.failAfter = tc.failAfter
			_, err := syncSession(t, addr, store, pop3.SyncPolicy{Delete: true}, &collector{})
			if err == nil || !strings.Contains(err.Error(), "disk full") {
				t.Fatalf("err %v", err)
			}
			if mb.Remaining() != tc.msgs {
				t.Fatalf("%d left, want %d", mb.Remaining(), tc.msgs)
			}
			if got := len(store.uids(pop3.SyncAccount(addr, "user"))); got != tc.recorded {
				t.Errorf("%d recorded, want %d", got, tc.recorded)
			}
		})
	}
}

// deliver must read the whole message: one that returns nil early is not recorded.
func TestSyncDeliverReadsAll(t *testing.T) {
	mb := &Mailbox{Messages: messages(2)}
	addr := mb.Start(t)
	store := newTableStore()
	lazy := func(m pop3.SyncMessage, body io.Reader) error { return nil }
	c, err := pop3.Dial(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Login("user", "pass")
	_, err = c.Sync(context.Background(), store, pop3.SyncPolicy{Delete: true}, lazy)
	if err == nil || mb.Remaining() != 2 || len(store.uids(pop3.SyncAccount(addr, "user"))) != 0 {
		t.Fatalf("err %v, %d left", err, mb.Remaining())
	}
}

// Copies sharing a unique-id (C0041), scripted: identical copies are delivered once,
// differing ones each, and all copies are deleted when the policy deletes.
func TestSyncDuplicateUIDsC0041(t *testing.T) {
	store := newTableStore()
	c, srv := login(t, &pop3.Options{Account: "a@b"},
		Expect("CAPA"), Reply("+OK", "UIDL", "."),
		Expect("UIDL"), Reply("+OK", "1 same", "2 same", "3 same", "4 solo", "."),
		Expect("LIST"), Reply("+OK", "1 5", "2 5", "3 5", "4 5", "."),
		Expect("RETR 1"), Reply("+OK", "copy A", "."),
		Expect("RETR 2"), Reply("+OK", "copy A", "."),
		Expect("RETR 3"), Reply("+OK", "copy B", "."),
		Expect("RETR 4"), Reply("+OK", "solo", "."),
		Expect("DELE 1"), Reply("+OK"),
		Expect("DELE 2"), Reply("+OK"),
		Expect("DELE 3"), Reply("+OK"),
		Expect("DELE 4"), Reply("+OK"),
		Expect("QUIT"), Reply("+OK"), ExpectClosed(),
	)
	var col collector
	res, err := c.Sync(context.Background(), store, pop3.SyncPolicy{Delete: true}, col.deliver)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Wait(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(col.got) != fmt.Sprint([]string{"copy A\r\n", "copy B\r\n", "solo\r\n"}) {
		t.Errorf("delivered %q", col.got)
	}
	if res.Fetched != 3 || res.Identical != 1 || res.Deleted != 4 {
		t.Errorf("%+v", res)
	}
}

// A second copy appearing later under a unique-id already stored is fetched and
// delivered; the copy already stored is not delivered again.
func TestSyncDuplicateUIDLaterC0041(t *testing.T) {
	store := newTableStore()
	first, srv1 := login(t, &pop3.Options{Account: "a@b"},
		Expect("CAPA"), Reply("+OK", "UIDL", "."),
		Expect("UIDL"), Reply("+OK", "1 same", "."),
		Expect("LIST"), Reply("+OK", "1 5", "."),
		Expect("RETR 1"), Reply("+OK", "copy A", "."),
		Expect("QUIT"), Reply("+OK"),
	)
	var col collector
	if _, err := first.Sync(context.Background(), store, pop3.SyncPolicy{}, col.deliver); err != nil {
		t.Fatal(err)
	}
	wait(t, srv1)
	second, srv2 := login(t, &pop3.Options{Account: "a@b"},
		Expect("CAPA"), Reply("+OK", "UIDL", "."),
		Expect("UIDL"), Reply("+OK", "1 same", "2 same", "."),
		Expect("LIST"), Reply("+OK", "1 5", "2 5", "."),
		Expect("RETR 1"), Reply("+OK", "copy A", "."),
		Expect("RETR 2"), Reply("+OK", "copy B", "."),
		Expect("QUIT"), Reply("+OK"),
	)
	res, err := second.Sync(context.Background(), store, pop3.SyncPolicy{}, col.deliver)
	if err != nil {
		t.Fatal(err)
	}
	wait(t, srv2)
	if fmt.Sprint(col.got) != fmt.Sprint([]string{"copy A\r\n", "copy B\r\n"}) || res.Identical != 1 {
		t.Errorf("delivered %q, %+v", col.got, res)
	}
}

// The file store: created empty, written atomically, read back; a damaged or foreign
// file is an error, never an empty state.
func TestSyncFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "alice.state")
	f, err := pop3.OpenSyncFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.Load("alice@x")
	if err != nil || st.Account != "" || len(st.Records) != 0 {
		t.Fatalf("new file: %+v, %v", st, err)
	}
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 5, time.UTC)
	recs := []pop3.SyncRecord{
		{UID: "plain", Stored: t0, Copies: 1, Digests: []string{strings.Repeat("ab", 32)}},
		{UID: "ünï%code\x7f", Stored: t0.Add(time.Second), Copies: 2, Remove: true},
	}
	if err := f.Commit(pop3.SyncChange{Account: "alice@x", Put: recs, LastLogin: t0}); err != nil {
		t.Fatal(err)
	}
	g, err := pop3.OpenSyncFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err = g.Load("alice@x")
	if err != nil {
		t.Fatal(err)
	}
	if st.Account != "alice@x" || !st.LastLogin.Equal(t0) || fmt.Sprint(st.Records) != fmt.Sprint(recs) {
		t.Fatalf("read back %+v", st)
	}
	data, _ := os.ReadFile(path)
	if !bytes.Contains(data, []byte("uid plain 2026-12-01T10:00:00.000000005Z 1 - abab")) || !bytes.Contains(data, []byte("%C3%BCn%C3%AF%25code%7F")) {
		t.Errorf("file:\n%s", data)
	}
	if err := g.Commit(pop3.SyncChange{Account: "bob@x"}); !errors.Is(err, pop3.ErrForeignStore) {
		t.Errorf("commit for another account: %v", err)
	}
	if err := g.Commit(pop3.SyncChange{Account: "alice@x", Forget: []string{"plain"}}); err != nil {
		t.Fatal(err)
	}
	if st, _ := g.Load(""); len(st.Records) != 1 {
		t.Errorf("after forget: %+v", st.Records)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the state file", len(entries))
	}
	if _, err := pop3.OpenSyncFile(filepath.Join(dir, "missing", "state")); err == nil {
		t.Error("OpenSyncFile in a directory that does not exist: no error")
	}
	for name, content := range map[string]string{
		"empty":     "",
		"foreign":   "{\"json\": true}\n",
		"cut":       "pop3-sync-state 1\naccount a@b\nuid x 2026-12-01T10:00:00Z 1 -",
		"bad field": "pop3-sync-state 1\naccount a@b\nuid x 2026-12-01T10:00:00Z one - -\n",
		"no acct":   "pop3-sync-state 1\nuid x 2026-12-01T10:00:00Z 1 - -\n",
		"twice":     "pop3-sync-state 1\naccount a@b\nuid x 2026-12-01T10:00:00Z 1 - -\nuid x 2026-12-01T10:00:00Z 1 - -\n",
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "s")
			os.WriteFile(p, []byte(content), 0o600)
			_, err := pop3.OpenSyncFile(p)
			if !errors.Is(err, pop3.ErrDamagedSyncFile) {
				t.Fatalf("OpenSyncFile: %v, want ErrDamagedSyncFile", err)
			}
			checkPrefixOnce(t, err)
		})
	}
}

// FuzzSyncFile: the parser never panics, and what it accepts formats back to a file it
// reads as the same state.
func FuzzSyncFile(f *testing.F) {
	f.Add([]byte("pop3-sync-state 1\naccount a@b\nlast-login 2026-12-01T10:00:00Z\nuid x%20y 2026-12-01T10:00:00Z 2 remove -\n"))
	f.Add(pop3.FormatSyncFile(pop3.SyncState{Account: "u@h", Records: []pop3.SyncRecord{{UID: "1", Copies: 1, Digests: []string{strings.Repeat("0", 64)}}}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := pop3.ParseSyncFile(data)
		if err != nil {
			return
		}
		again, err := pop3.ParseSyncFile(pop3.FormatSyncFile(st))
		if err != nil {
			t.Fatalf("formatted state does not parse: %v", err)
		}
		if fmt.Sprint(again) != fmt.Sprint(st) {
			t.Fatalf("round trip changed %+v into %+v", st, again)
		}
	})
}
