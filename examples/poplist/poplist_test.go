package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/popwire/pop3/pop3test"
)

// The demo listing: every sample, with encoded words decoded (UTF-8, ISO-8859-1, KOI8-R).
func TestDemo(t *testing.T) {
	var out, errb bytes.Buffer
	if code := poplist([]string{"-demo"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	s := out.String()
	for _, want := range []string{
		"UNIQUE-ID", "uid-1", "uid-5", "5 messages",
		"Welcome to popsync",
		"日本語の件名 / Привет / Grüße",
		"Jürgen Müller <juergen@example.de>",
		"An attachment — binary.bin",
		"2026-12-01 09:05:00 +0100",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("listing lacks %q:\n%s", want, s)
		}
	}
}

func TestEmpty(t *testing.T) {
	mb := &pop3test.Mailbox{Pipelining: true}
	addr := mb.Start(t)
	t.Setenv("POP3_PASSWORD", "pass")
	var out, errb bytes.Buffer
	if code := poplist([]string{"-addr", addr, "-user", "user", "-tls", "none"}, &out, &errb); code != 0 || out.String() != "0 messages\n" {
		t.Fatalf("exit %d: %q %s", code, out.String(), errb.String())
	}
}

// Nothing is deleted, and the password is checked.
func TestWrongPassword(t *testing.T) {
	mb := &pop3test.Mailbox{Messages: [][]byte{[]byte("Subject: x\r\n\r\n")}}
	addr := mb.Start(t)
	t.Setenv("POP3_PASSWORD", "nope")
	var out, errb bytes.Buffer
	if code := poplist([]string{"-addr", addr, "-user", "user", "-tls", "none"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "wrong user name or password") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if mb.Remaining() != 1 {
		t.Fatal("poplist removed a message")
	}
}
