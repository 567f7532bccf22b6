package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/popwire/pop3/pop3test"
)

func TestSyncTwiceThenDelete(t *testing.T) {
	msgs := [][]byte{
		[]byte("Subject: one\r\n\r\n.\r\nbody\r\n"),
		[]byte("Subject: two\r\n\r\n..dots\r\n"),
	}
	mb := &pop3test.Mailbox{Messages: msgs, Pipelining: true}
	addr := mb.Start(t)
	dir := t.TempDir()

	n, err := run(addr, "user", "pass", dir, false, false, 5*time.Second)
	if err != nil || n != 2 {
		t.Fatalf("first sync: %d, %v", n, err)
	}
	for i, m := range msgs {
		got, err := os.ReadFile(filepath.Join(dir, fileName("uid-"+string(rune('1'+i)))))
		if err != nil || string(got) != string(m) {
			t.Errorf("message %d stored as %q, %v", i+1, got, err)
		}
	}
	n, err = run(addr, "user", "pass", dir, false, true, 5*time.Second)
	if err != nil || n != 0 {
		t.Fatalf("second sync: %d, %v; want nothing new", n, err)
	}
	if mb.Remaining() != 0 {
		t.Errorf("%d messages left on the server after -delete", mb.Remaining())
	}
}
