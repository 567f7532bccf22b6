package pop3_test

import (
	"slices"
	"testing"

	"github.com/popwire/pop3"
)

// Against a real Dovecot (which lists PIPELINING), ListAll sends UIDL and LIST in one write
// and returns what List and UIDL return one after the other.
func TestDovecotListAll(t *testing.T) {
	t.Parallel()
	srv, msgs := dcStart(t)
	writes := new(writeLog)
	c, err := pop3.Dial(srv.Addr, &pop3.Options{Timeout: dcTimeout, Dialer: writes})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice", srv.Users["alice"]); err != nil {
		t.Fatal(err)
	}
	infos, err := c.ListAll()
	if err != nil {
		t.Fatalf("ListAll: %v", err)
	}
	list, err := c.List()
	if err != nil {
		t.Fatal(err)
	}
	uids, err := c.UIDL()
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != len(msgs) || len(list) != len(msgs) || len(uids) != len(msgs) {
		t.Fatalf("ListAll %d, List %d, UIDL %d entries; want %d", len(infos), len(list), len(uids), len(msgs))
	}
	for i, info := range infos {
		want := pop3.MessageInfo{Number: list[i].Number, Size: list[i].Size, UID: uids[i].UID}
		if info != want || uids[i].Number != want.Number {
			t.Errorf("ListAll()[%d] = %+v, want %+v", i, info, want)
		}
	}
	if !slices.Contains(writes.all(), "UIDL\r\nLIST\r\n") {
		t.Errorf("UIDL and LIST not in one write: %q", writes.all())
	}
}
