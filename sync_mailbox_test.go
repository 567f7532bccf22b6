package pop3_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/popwire/pop3"
	. "github.com/popwire/pop3/pop3test"
)

// Mail that changes between sessions: new mail arriving is fetched, mail the server
// expired is forgotten, and nothing known is fetched twice.
func TestSyncChangingMailbox(t *testing.T) {
	mb := &Mailbox{Messages: messages(3), UIDs: []string{"a", "b", "c"}, Pipelining: true}
	addr := mb.Start(t)
	store := newTableStore()
	acct := pop3.SyncAccount(addr, "user")
	if res, err := syncSession(t, addr, store, pop3.SyncPolicy{}, &collector{}); err != nil || res.Fetched != 3 {
		t.Fatalf("%+v, %v", res, err)
	}
	mb.Add("d", []byte("Subject: d\r\n\r\nnew\r\n"))
	mb.Remove("a") // the server expired it
	var col collector
	res, err := syncSession(t, addr, store, pop3.SyncPolicy{}, &col)
	if err != nil || res.Fetched != 1 || res.Forgotten != 1 || res.Kept != 3 || col.uids[0] != "d" {
		t.Fatalf("%+v, %v, fetched %q", res, err, col.uids)
	}
	if got := store.uids(acct); fmt.Sprint(got) != "[b c d]" {
		t.Errorf("store holds %v", got)
	}
}

// Duplicate unique-ids on a real-looking server (C0041): identical copies are delivered
// once, differing ones each, and all are deleted; long unique-ids are kept as they are.
func TestSyncMailboxDuplicatesC0041(t *testing.T) {
	long := strings.Repeat("L", 70) // RFC 1939 allows 70 octets
	mb := &Mailbox{
		Messages: [][]byte{[]byte("Subject: A\r\n\r\nsame\r\n"), []byte("Subject: A\r\n\r\nsame\r\n"), []byte("Subject: B\r\n\r\nother\r\n"), []byte("Subject: L\r\n\r\nlong\r\n")},
		UIDs:     []string{"dup", "dup", "dup", long},
	}
	addr := mb.Start(t)
	var col collector
	res, err := syncSession(t, addr, newTableStore(), pop3.SyncPolicy{Delete: true}, &col)
	if err != nil {
		t.Fatal(err)
	}
	if res.Fetched != 3 || res.Identical != 1 || res.Deleted != 4 || mb.Remaining() != 0 {
		t.Fatalf("%+v, %d left", res, mb.Remaining())
	}
	if fmt.Sprint(col.uids) != fmt.Sprint([]string{"dup", "dup", long}) {
		t.Errorf("delivered %q", col.uids)
	}
	if len(mb.Deleted()) != 4 {
		t.Errorf("server deleted %d", len(mb.Deleted()))
	}
}

// No UIDL on the Mailbox: leave-on-server refused, fetch-and-delete works.
func TestSyncMailboxNoUIDL(t *testing.T) {
	mb := &Mailbox{Messages: messages(3), Quirks: Quirks{NoUIDL: true}}
	addr := mb.Start(t)
	if _, err := syncSession(t, addr, newTableStore(), pop3.SyncPolicy{}, &collector{}); !errors.Is(err, pop3.ErrNoUIDL) {
		t.Fatalf("err %v, want ErrNoUIDL", err)
	}
	if mb.Remaining() != 3 {
		t.Fatal("a refused sync removed mail")
	}
	var col collector
	res, err := syncSession(t, addr, newTableStore(), pop3.SyncPolicy{Delete: true}, &col)
	if err != nil || res.Fetched != 3 || res.Deleted != 3 || mb.Remaining() != 0 {
		t.Fatalf("%+v, %v", res, err)
	}
}

// EXPIRE 0 listed by the Mailbox is reported with a keeping policy.
func TestSyncMailboxExpireZero(t *testing.T) {
	mb := &Mailbox{Messages: messages(1), Expire: "0"}
	addr := mb.Start(t)
	res, err := syncSession(t, addr, newTableStore(), pop3.SyncPolicy{}, &collector{})
	if err != nil || !res.ExpireZero {
		t.Fatalf("%+v, %v", res, err)
	}
}

// A locked maildrop and a login too soon are retry-later errors; the state records the
// last login, so a caller can tell how long to wait (RFC 2449 LOGIN-DELAY).
func TestSyncRetryLater(t *testing.T) {
	mb := &Mailbox{Messages: messages(1), LoginDelay: time.Hour}
	addr := mb.Start(t)
	store := newTableStore()
	before := time.Now()
	if _, err := syncSession(t, addr, store, pop3.SyncPolicy{}, &collector{}); err != nil {
		t.Fatal(err)
	}
	st, _ := store.Load(pop3.SyncAccount(addr, "user"))
	if st.LastLogin.Before(before) || st.LastLogin.After(time.Now()) {
		t.Errorf("LastLogin %v, want the time of the login", st.LastLogin)
	}
	c, err := pop3.Dial(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	caps, err := c.Capabilities()
	if err != nil {
		t.Fatal(err)
	}
	delay, ok := caps.LoginDelay()
	err = c.Login("user", "pass")
	var perr *pop3.Error
	if !errors.As(err, &perr) || !perr.HasCode("LOGIN-DELAY") || !perr.Temporary() || !ok || delay.Delay != time.Hour {
		t.Fatalf("second login: %v (LOGIN-DELAY %v %v)", err, delay, ok)
	}
	if wait := time.Until(st.LastLogin.Add(delay.Delay)); wait < 59*time.Minute {
		t.Errorf("next login in %v", wait)
	}

	locked := &Mailbox{Messages: messages(1)}
	laddr := locked.Start(t)
	holder, err := pop3.Dial(laddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if err := holder.Login("user", "pass"); err != nil {
		t.Fatal(err)
	}
	c2, err := pop3.Dial(laddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.Login("user", "pass"); !errors.As(err, &perr) || !perr.HasCode("IN-USE") || !perr.Temporary() {
		t.Fatalf("login to a locked maildrop: %v", err)
	}
}

// Every quirk the Mailbox can play: a sync fetches the same octets.
func TestSyncMailboxQuirks(t *testing.T) {
	for name, q := range map[string]Quirks{
		"lower case":      {LowerCaseStatus: true},
		"tabs":            {Tabs: true},
		"no CAPA":         {NoCAPA: true},
		"chatty":          {ChattyListings: true},
		"timestamp":       {TimestampGreeting: true},
		"pipelining late": {PipeliningAfterLogin: true},
	} {
		t.Run(name, func(t *testing.T) {
			mb := &Mailbox{Messages: messages(4), Pipelining: true, Quirks: q}
			addr := mb.Start(t)
			var col collector
			res, err := syncSession(t, addr, newTableStore(), pop3.SyncPolicy{Delete: true}, &col)
			if err != nil || res.Fetched != 4 || mb.Remaining() != 0 {
				t.Fatalf("%+v, %v, %d left", res, err, mb.Remaining())
			}
			for i, body := range col.got {
				if body != string(messages(4)[i]) {
					t.Errorf("message %d: %q", i+1, body)
				}
			}
		})
	}
}

// A second sync of the same account while the first holds the maildrop fails with
// [IN-USE] and changes nothing in the store.
func TestSyncMailboxLockedStoreUntouched(t *testing.T) {
	mb := &Mailbox{Messages: messages(2)}
	addr := mb.Start(t)
	holder, err := pop3.Dial(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if err := holder.Login("user", "pass"); err != nil {
		t.Fatal(err)
	}
	store := newTableStore()
	c, err := pop3.Dial(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("user", "pass"); err == nil {
		t.Fatal("second login succeeded")
	}
	if _, err := c.Sync(context.Background(), store, pop3.SyncPolicy{}, (&collector{}).deliver); !errors.Is(err, pop3.ErrNotAuthenticated) {
		t.Fatalf("Sync before login: %v", err)
	}
	if store.commits != 0 {
		t.Errorf("%d commits", store.commits)
	}
}
