package pop3test

import (
	"encoding/base64"
	"io"
	"testing"
	"time"
)

// FuzzMailboxSession sends arbitrary octets to a Mailbox session, with any combination of
// Strict and the quirks: it never panics or hangs, and the mailbox stays consistent.
//
//	go test -run '^$' -fuzz FuzzMailboxSession ./pop3test
func FuzzMailboxSession(f *testing.F) {
	plain := base64.StdEncoding.EncodeToString([]byte("\x00user\x00pass"))
	for _, seed := range []string{
		"USER user\r\nPASS pass\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 1\r\nTOP 2 1\r\nDELE 1\r\nQUIT\r\n",
		"CAPA\r\nUTF8\r\nUSER user\r\nPASS pass\r\nLIST 01\r\nLIST 1 2\r\nRETR  2\r\nRSET\r\nNOOP\r\nQUIT\r\n",
		"AUTH PLAIN " + plain + "\r\nDELE 2\r\nDELE 2\r\nRETR 2\r\nQUIT\r\n",
		"AUTH PLAIN\r\n" + plain + "\r\nTOP 1 -1\r\nTOP 1 99999999999999999999\r\nQUIT\r\n",
		"AUTH LOGIN\r\n*\r\nAUTH XOAUTH2 =\r\n\r\nAUTH\r\nUSER\r\nPASS\r\n",
		"STLS\r\n\x16\x03\x01\x00\x05hello",
		"USER user\nPASS pass\nRETR 1\nQUIT\n",
		"\r\n \r\n\x00\xff\r\nUSER \xc3\xa4\r\nPASS \r\n",
	} {
		f.Add([]byte(seed), uint16(0))
		f.Add([]byte(seed), uint16(0xffff))
	}
	f.Fuzz(func(t *testing.T, input []byte, flags uint16) {
		bit := func(n uint) bool { return flags&(1<<n) != 0 }
		m := &Mailbox{
			Messages: [][]byte{[]byte("Subject: a\r\n\r\n.one\r\n"), []byte("no header\n"), nil},
			UIDs:     []string{"x", "x"},
			SASL:     []string{"PLAIN", "LOGIN", "XOAUTH2"},
			STLS:     bit(0), UTF8: bit(1), Strict: bit(2), Pipelining: bit(3), NoLock: bit(4),
			Quirks: Quirks{
				LowerCaseStatus: bit(5), Tabs: bit(6), BareLF: bit(7), NoCAPA: bit(8),
				NoUIDL: bit(9), NoTOP: bit(10), NoPipelining: bit(11), ChattyListings: bit(12),
				TopExtraBlankLine: bit(13), CRCRLF: bit(14), AddHeaders: bit(15),
				CloseAfterBadCommands: int(flags % 7), TimestampGreeting: true,
			},
		}
		client, stop, done := servePipe(m)
		drained := make(chan struct{})
		go func() { io.Copy(io.Discard, client); close(drained) }()
		client.SetWriteDeadline(time.Now().Add(10 * time.Second))
		client.Write(input) // fails once the session has ended
		client.Close()      // the session reads what it has, then the end
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the session did not end after the connection closed")
		}
		<-drained
		close(stop)
		if got := m.Remaining(); got > 3 || got != len(m.Contents()) {
			t.Errorf("%d messages remain, %d contents", got, len(m.Contents()))
		}
		if len(m.Contents())+len(m.Deleted()) != 3 {
			t.Errorf("%d remaining and %d deleted of 3", len(m.Contents()), len(m.Deleted()))
		}
	})
}
