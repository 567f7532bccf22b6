package pop3_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/popwire/pop3"
	. "github.com/popwire/pop3/pop3test"
)

// syncEvery is Client.Sync with a commit every n delivered messages.
func syncEvery(c *pop3.Client, n int, store pop3.SyncStore, policy pop3.SyncPolicy, deliver func(pop3.SyncMessage, io.Reader) error) (pop3.SyncResult, error) {
	plan, err := c.PlanSync(context.Background(), store, policy)
	if err != nil {
		return pop3.SyncResult{}, err
	}
	pop3.SetCommitEvery(plan, n)
	return plan.Run(context.Background(), deliver)
}

// The writes of a login through loginSteps, before the Sync's CAPA.
var loginWrites = []string{"CAPA\r\n", "USER alice\r\n", "PASS secret\r\n"}

// checkWrites compares the client's writes after the login with want, write by write.
func checkWrites(t *testing.T, log *tcpWriteLog, want ...string) {
	t.Helper()
	want = append(append([]string(nil), loginWrites...), want...)
	if got := log.Writes(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("writes\n %q\nwant\n %q", got, want)
	}
}

// Fetch and delete with PIPELINING, in the fewest round trips: UIDL and LIST in one write,
// every RETR in the next; once the first group of messages is committed (a group of 2
// here), its DELEs go into the same stream while the RETRs of the other group are still
// unanswered (the server reads them before it answers RETR 3); the DELEs of the last group
// go in one write with QUIT, whose +OK is awaited before the unique-ids are forgotten.
func TestSyncStreamDeletesAfterCommit(t *testing.T) {
	store := newTableStore()
	acct := "alice@127.0.0.1"
	log := newTCPWriteLog()
	c, srv := login(t, &pop3.Options{Account: acct, Dialer: log}, capaPipelining,
		Expect("UIDL"), Expect("LIST"),
		Reply("+OK", "1 a", "2 b", "3 c", "4 d", ".", "+OK", "1 5", "2 5", "3 5", "4 5", "."),
		Expect("RETR 1"), Expect("RETR 2"), Expect("RETR 3"), Expect("RETR 4"),
		Reply("+OK", "one", ".", "+OK", "two", "."),
		Expect("DELE 1"), Expect("DELE 2"),
		Reply("+OK", "three", ".", "+OK", "four", ".", "+OK", "+OK"),
		Expect("DELE 3"), Expect("DELE 4"), Expect("QUIT"),
		Reply("+OK", "+OK", "+OK bye"), ExpectClosed(),
	)
	var col collector
	var commitsAt []int // the store's commits when each message is delivered
	col.fail = func(m pop3.SyncMessage) error { commitsAt = append(commitsAt, store.commits); return nil }
	res, err := syncEvery(c, 2, store, pop3.SyncPolicy{Delete: true}, col.deliver)
	if err != nil {
		t.Fatal(err)
	}
	wait(t, srv)
	checkWrites(t, log, "CAPA\r\n", "UIDL\r\nLIST\r\n", "RETR 1\r\nRETR 2\r\nRETR 3\r\nRETR 4\r\n",
		"DELE 1\r\nDELE 2\r\n", "DELE 3\r\nDELE 4\r\nQUIT\r\n")
	if res.Fetched != 4 || res.Deleted != 4 || res.Kept != 0 {
		t.Errorf("result %+v", res)
	}
	// One commit for each group, before its DELEs; one to forget after QUIT's +OK.
	if fmt.Sprint(commitsAt) != "[0 0 1 1]" || store.commits != 3 {
		t.Errorf("commits at each delivery %v, %d in all; want [0 0 1 1] and 3", commitsAt, store.commits)
	}
	if got := store.uids(acct); len(got) != 0 {
		t.Errorf("store still holds %v after QUIT +OK", got)
	}
}

// Messages stored in an earlier session that the policy now removes need no fetch: their
// DELEs go ahead of the RETRs, in the same write; with nothing to fetch, the DELEs and
// QUIT go in one write. The stored unique-id is at number 2 in this session's listing,
// and DELE 2 is what goes (C0040: numbers come from this session's listing only).
func TestSyncStreamDeletesStoredFirst(t *testing.T) {
	acct := "alice@127.0.0.1"
	old := time.Now().Add(-48 * time.Hour)
	policy := pop3.SyncPolicy{Delete: true, DeleteAfter: 24 * time.Hour}
	t.Run("with fetch", func(t *testing.T) {
		store := newTableStore()
		store.Commit(pop3.SyncChange{Account: acct, Put: []pop3.SyncRecord{{UID: "a", Stored: old, Copies: 1}}})
		log := newTCPWriteLog()
		c, srv := login(t, &pop3.Options{Account: acct, Dialer: log}, capaPipelining,
			Expect("UIDL"), Expect("LIST"),
			Reply("+OK", "1 b", "2 a", ".", "+OK", "1 5", "2 5", "."),
			Expect("DELE 2"), Expect("RETR 1"), Reply("+OK", "+OK", "one", "."),
			Expect("QUIT"), Reply("+OK bye"), ExpectClosed(),
		)
		var col collector
		res, err := c.Sync(context.Background(), store, policy, col.deliver)
		if err != nil {
			t.Fatal(err)
		}
		wait(t, srv)
		checkWrites(t, log, "CAPA\r\n", "UIDL\r\nLIST\r\n", "DELE 2\r\nRETR 1\r\n", "QUIT\r\n")
		if res.Fetched != 1 || res.Deleted != 1 || res.Kept != 1 {
			t.Errorf("result %+v", res)
		}
		if got := store.uids(acct); fmt.Sprint(got) != "[b]" {
			t.Errorf("store holds %v, want [b]", got)
		}
	})
	t.Run("nothing to fetch", func(t *testing.T) {
		store := newTableStore()
		store.Commit(pop3.SyncChange{Account: acct, Put: []pop3.SyncRecord{{UID: "a", Stored: old, Copies: 1}, {UID: "b", Stored: old, Copies: 1}}})
		log := newTCPWriteLog()
		c, srv := login(t, &pop3.Options{Account: acct, Dialer: log}, capaPipelining,
			Expect("UIDL"), Expect("LIST"),
			Reply("+OK", "1 a", "2 b", ".", "+OK", "1 5", "2 5", "."),
			Expect("DELE 1"), Expect("DELE 2"), Expect("QUIT"), Reply("+OK", "+OK", "+OK bye"), ExpectClosed(),
		)
		res, err := c.Sync(context.Background(), store, policy, (&collector{}).deliver)
		if err != nil {
			t.Fatal(err)
		}
		wait(t, srv)
		checkWrites(t, log, "CAPA\r\n", "UIDL\r\nLIST\r\n", "DELE 1\r\nDELE 2\r\nQUIT\r\n")
		if res.Deleted != 2 || res.Kept != 0 || len(store.uids(acct)) != 0 {
			t.Errorf("result %+v, store %v", res, store.uids(acct))
		}
	})
}

// A negative reply to one DELE leaves that message on the server and its unique-id
// recorded; the other DELEs and QUIT go on, and the error names the refused DELE.
func TestSyncStreamDeleRefused(t *testing.T) {
	store := newTableStore()
	acct := "alice@127.0.0.1"
	c, srv := login(t, &pop3.Options{Account: acct}, capaPipelining,
		Expect("UIDL"), Expect("LIST"),
		Reply("+OK", "1 a", "2 b", ".", "+OK", "1 5", "2 5", "."),
		Expect("RETR 1"), Expect("RETR 2"), Reply("+OK", "one", ".", "+OK", "two", "."),
		Expect("DELE 1"), Expect("DELE 2"), Expect("QUIT"),
		Reply("-ERR message locked", "+OK", "+OK bye"), ExpectClosed(),
	)
	res, err := c.Sync(context.Background(), store, pop3.SyncPolicy{Delete: true}, (&collector{}).deliver)
	var perr *pop3.Error
	if !errors.As(err, &perr) || perr.Command != "DELE 1" {
		t.Fatalf("err %v, want the *Error of DELE 1", err)
	}
	checkPrefixOnce(t, err)
	wait(t, srv)
	if res.Fetched != 2 || res.Deleted != 1 || res.Kept != 1 {
		t.Errorf("result %+v", res)
	}
	if got := store.uids(acct); fmt.Sprint(got) != "[a]" {
		t.Errorf("store holds %v, want [a]", got)
	}
}

// A commit that fails after DELEs of an earlier group were sent: no more DELE, no QUIT;
// the connection is closed, so the server removes nothing, not even what was committed.
func TestSyncStreamCommitFailure(t *testing.T) {
	store := newTableStore()
	store.failAfter = 1
	acct := "alice@127.0.0.1"
	log := newTCPWriteLog()
	c, srv := login(t, &pop3.Options{Account: acct, Dialer: log}, capaPipelining,
		Expect("UIDL"), Expect("LIST"),
		Reply("+OK", "1 a", "2 b", "3 c", ".", "+OK", "1 5", "2 5", "3 5", "."),
		Expect("RETR 1"), Expect("RETR 2"), Expect("RETR 3"), Reply("+OK", "one", ".", "+OK", "two", "."),
		Expect("DELE 1"), Expect("DELE 2"), Reply("+OK", "three", ".", "+OK", "+OK"),
		ExpectClosed(),
	)
	res, err := syncEvery(c, 2, store, pop3.SyncPolicy{Delete: true}, (&collector{}).deliver)
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err %v, want the store's", err)
	}
	checkPrefixOnce(t, err)
	wait(t, srv)
	checkWrites(t, log, "CAPA\r\n", "UIDL\r\nLIST\r\n", "RETR 1\r\nRETR 2\r\nRETR 3\r\n", "DELE 1\r\nDELE 2\r\n")
	if res.Fetched != 3 || res.Deleted != 0 || res.Kept != 3 {
		t.Errorf("result %+v", res)
	}
	if got := store.uids(acct); fmt.Sprint(got) != "[a b]" {
		t.Errorf("store holds %v, want [a b]", got)
	}
}

// Without PIPELINING, one command at a time and in the same order: each group's DELEs
// after its commit, before the next RETR; the last DELEs, then QUIT.
func TestSyncStreamSerial(t *testing.T) {
	store := newTableStore()
	acct := "alice@127.0.0.1"
	log := newTCPWriteLog()
	c, srv := login(t, &pop3.Options{Account: acct, Dialer: log},
		Expect("CAPA"), Reply("+OK", "UIDL", "."),
		Expect("UIDL"), Reply("+OK", "1 a", "2 b", "3 c", "."),
		Expect("LIST"), Reply("+OK", "1 5", "2 5", "3 5", "."),
		Expect("RETR 1"), Reply("+OK", "one", "."),
		Expect("RETR 2"), Reply("+OK", "two", "."),
		Expect("DELE 1"), Reply("+OK"),
		Expect("DELE 2"), Reply("+OK"),
		Expect("RETR 3"), Reply("+OK", "three", "."),
		Expect("DELE 3"), Reply("+OK"),
		Expect("QUIT"), Reply("+OK bye"), ExpectClosed(),
	)
	res, err := syncEvery(c, 2, store, pop3.SyncPolicy{Delete: true}, (&collector{}).deliver)
	if err != nil {
		t.Fatal(err)
	}
	wait(t, srv)
	checkWrites(t, log, "CAPA\r\n", "UIDL\r\n", "LIST\r\n", "RETR 1\r\n", "RETR 2\r\n", "DELE 1\r\n", "DELE 2\r\n",
		"RETR 3\r\n", "DELE 3\r\n", "QUIT\r\n")
	if res.Fetched != 3 || res.Deleted != 3 || len(store.uids(acct)) != 0 {
		t.Errorf("result %+v, store %v", res, store.uids(acct))
	}
}

// A deliver that fails stops the fetch: the DELEs of what was stored and committed before
// still go, one after the other, then QUIT; the message deliver refused stays.
func TestSyncStreamDeliverFailure(t *testing.T) {
	store := newTableStore()
	acct := "alice@127.0.0.1"
	c, srv := login(t, &pop3.Options{Account: acct}, capaPipelining,
		Expect("UIDL"), Expect("LIST"),
		Reply("+OK", "1 a", "2 b", "3 c", ".", "+OK", "1 5", "2 5", "3 5", "."),
		Expect("RETR 1"), Expect("RETR 2"), Expect("RETR 3"), Reply("+OK", "one", "."),
		Expect("DELE 1"), Reply("+OK", "two", ".", "+OK", "three", ".", "+OK"),
		Expect("QUIT"), Reply("+OK bye"), ExpectClosed(),
	)
	var col collector
	col.fail = func(m pop3.SyncMessage) error {
		if m.Number == 2 {
			return errors.New("mailbox full")
		}
		return nil
	}
	res, err := syncEvery(c, 1, store, pop3.SyncPolicy{Delete: true}, col.deliver)
	if err == nil || !strings.Contains(err.Error(), "mailbox full") {
		t.Fatalf("err %v", err)
	}
	wait(t, srv)
	if res.Fetched != 1 || res.Deleted != 1 || res.Kept != 2 || len(store.uids(acct)) != 0 {
		t.Errorf("result %+v, store %v", res, store.uids(acct))
	}
}

// A negative reply to the last RETR still ends the batch in the fewest round trips: the
// DELEs of what was stored go with QUIT, and the refused message stays, unrecorded.
func TestSyncStreamLastRetrRefused(t *testing.T) {
	store := newTableStore()
	acct := "alice@127.0.0.1"
	log := newTCPWriteLog()
	c, srv := login(t, &pop3.Options{Account: acct, Dialer: log}, capaPipelining,
		Expect("UIDL"), Expect("LIST"),
		Reply("+OK", "1 a", "2 b", ".", "+OK", "1 5", "2 5", "."),
		Expect("RETR 1"), Expect("RETR 2"), Reply("+OK", "one", ".", "-ERR no such message"),
		Expect("DELE 1"), Expect("QUIT"), Reply("+OK", "+OK bye"), ExpectClosed(),
	)
	res, err := c.Sync(context.Background(), store, pop3.SyncPolicy{Delete: true}, (&collector{}).deliver)
	var perr *pop3.Error
	if !errors.As(err, &perr) || perr.Command != "RETR 2" {
		t.Fatalf("err %v, want the *Error of RETR 2", err)
	}
	wait(t, srv)
	checkWrites(t, log, "CAPA\r\n", "UIDL\r\nLIST\r\n", "RETR 1\r\nRETR 2\r\n", "DELE 1\r\nQUIT\r\n")
	if res.Fetched != 1 || res.Deleted != 1 || res.Kept != 1 || len(store.uids(acct)) != 0 {
		t.Errorf("result %+v, store %v", res, store.uids(acct))
	}
}

// C0041: copies sharing a unique-id whose commits fall in different groups are all
// counted: the record committed after the second group says 2 copies, not 1, so the next
// session does not fetch them again.
func TestSyncCopiesAcrossCommits(t *testing.T) {
	store := newTableStore()
	acct := "alice@127.0.0.1"
	c, srv := login(t, &pop3.Options{Account: acct}, capaPipelining,
		Expect("UIDL"), Expect("LIST"),
		Reply("+OK", "1 same", "2 same", ".", "+OK", "1 5", "2 5", "."),
		Expect("RETR 1"), Expect("RETR 2"),
		Reply("+OK", "one", ".", "+OK", "two", "."),
		Expect("QUIT"), ExpectClosed(),
	)
	res, err := syncEvery(c, 1, store, pop3.SyncPolicy{}, (&collector{}).deliver)
	if err != nil {
		t.Fatal(err)
	}
	wait(t, srv)
	st, err := store.Load(acct)
	if err != nil {
		t.Fatal(err)
	}
	if res.Fetched != 2 || len(st.Records) != 1 || st.Records[0].Copies != 2 || len(st.Records[0].Digests) != 2 {
		t.Errorf("result %+v, records %+v; want one record of 2 copies with 2 digests", res, st.Records)
	}
}

// A negative reply to QUIT in the stream: nothing is counted deleted or forgotten, and the
// error says so and names QUIT's reply once.
func TestSyncStreamQuitRefused(t *testing.T) {
	store := newTableStore()
	acct := "alice@127.0.0.1"
	c, srv := login(t, &pop3.Options{Account: acct}, capaPipelining,
		Expect("UIDL"), Expect("LIST"),
		Reply("+OK", "1 a", ".", "+OK", "1 5", "."),
		Expect("RETR 1"), Reply("+OK", "one", "."),
		Expect("DELE 1"), Expect("QUIT"), Reply("+OK", "-ERR maildrop update failed"), ExpectClosed(),
	)
	res, err := syncEvery(c, 1, store, pop3.SyncPolicy{Delete: true}, (&collector{}).deliver)
	wait(t, srv)
	if err == nil || !strings.Contains(err.Error(), "may not have removed") || strings.Count(err.Error(), "maildrop update failed") != 1 {
		t.Errorf("error %v; want one saying the messages may not be removed, naming QUIT's reply once", err)
	}
	if res.Deleted != 0 || len(store.uids(acct)) != 1 {
		t.Errorf("result %+v, store %v; want nothing deleted, the unique-id kept", res, store.uids(acct))
	}
}
