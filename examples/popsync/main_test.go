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
		got, err := os.ReadFile(filepath.Join(dir, fileName("uid-"+string(rune('1'+i)), 0)))
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

// Two messages that share a unique-id (MS-STANOPOP3 C0041) are both stored, each in its own
// file, before either is deleted.
func TestSyncSharedUID(t *testing.T) {
	srv := pop3test.NewServer(t,
		pop3test.Reply("+OK ready"),
		pop3test.Expect("CAPA"), pop3test.Reply("-ERR"), // Login asks CAPA first
		pop3test.Expect("USER user"), pop3test.Reply("+OK"),
		pop3test.Expect("PASS pass"), pop3test.Reply("+OK"),
		pop3test.Expect("UIDL"), pop3test.Reply("+OK", "1 same", "2 same", "."),
		pop3test.Expect("CAPA"), pop3test.Reply("+OK", "USER", "UIDL", "."),
		pop3test.Expect("RETR 1"), pop3test.Reply("+OK", "first", "."),
		pop3test.Expect("RETR 2"), pop3test.Reply("+OK", "second", "."),
		pop3test.Expect("DELE 1"), pop3test.Reply("+OK"),
		pop3test.Expect("DELE 2"), pop3test.Reply("+OK"),
		pop3test.Expect("QUIT"), pop3test.Reply("+OK"),
	)
	dir := t.TempDir()
	if n, err := run(srv.Addr(), "user", "pass", dir, false, true, 5*time.Second); err != nil || n != 2 {
		t.Fatalf("sync: %d, %v", n, err)
	}
	for i, want := range []string{"first\r\n", "second\r\n"} {
		got, err := os.ReadFile(filepath.Join(dir, fileName("same", i)))
		if err != nil || string(got) != want {
			t.Errorf("copy %d stored as %q, %v", i, got, err)
		}
	}
	if err := srv.Wait(); err != nil {
		t.Fatal(err)
	}
}
