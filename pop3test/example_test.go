package pop3test_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"time"

	"github.com/popwire/pop3"
	"github.com/popwire/pop3/pop3test"
)

// serve serves mb on 127.0.0.1, with implicit TLS if implicitTLS is set; stop closes it.
// In a test, mb.Start(t) or mb.StartTLS(t) does all this.
func serve(mb *pop3test.Mailbox, implicitTLS bool) (addr string, stop func()) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		if implicitTLS {
			mb.ServeTLS(l)
		} else {
			mb.Serve(l)
		}
		close(done)
	}()
	return l.Addr().String(), func() { l.Close(); <-done }
}

// login dials addr and logs in as "user" / "pass".
func login(addr string) *pop3.Client {
	c, err := pop3.Dial(addr, nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Login("user", "pass"); err != nil {
		log.Fatal(err)
	}
	return c
}

// A well-behaved in-memory server: log in as "user" / "pass".
func ExampleMailbox() {
	mb := &pop3test.Mailbox{Messages: [][]byte{[]byte("Subject: hi\r\n\r\nHello\r\n")}}
	addr, stop := serve(mb, false) // in a test: addr := mb.Start(t)
	defer stop()

	c := login(addr)
	defer c.Close()
	r, err := c.Retr(1)
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(r)
	fmt.Printf("%q\n", body)
	// Output: "Subject: hi\r\n\r\nHello\r\n"
}

// Implicit TLS, as on port 995, like httptest.NewTLSServer: the client trusts the
// generated certificate through ClientTLSConfig, valid for 127.0.0.1 and localhost.
func ExampleMailbox_tls() {
	mb := &pop3test.Mailbox{Messages: [][]byte{[]byte("Subject: secret\r\n\r\n\r\n")}}
	addr, stop := serve(mb, true) // in a test: addr := mb.StartTLS(t)
	defer stop()

	c, err := pop3.DialTLS(addr, &pop3.Options{TLSConfig: mb.ClientTLSConfig()})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("user", "pass"); err != nil {
		log.Fatal(err)
	}
	n, size, _ := c.Stat()
	fmt.Println(n, size)
	// Output: 1 21
}

// STLS on the plain port (RFC 2595): CAPA lists STLS until TLS is on.
func ExampleMailbox_stls() {
	mb := &pop3test.Mailbox{STLS: true}
	addr, stop := serve(mb, false)
	defer stop()

	c, err := pop3.DialStartTLS(addr, &pop3.Options{TLSConfig: mb.ClientTLSConfig()})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	caps, _ := c.Capabilities() // asked again over TLS
	fmt.Println("STLS offered over TLS:", caps.STLS())
	// Output: STLS offered over TLS: false
}

// SASL: AUTH PLAIN for a non-ASCII password, and XOAUTH2, whose refused token comes back
// with Gmail's JSON status.
func ExampleMailbox_sasl() {
	mb := &pop3test.Mailbox{
		User: "alice@example.com", Pass: "pässwörd", Token: "ya29.good",
		SASL: []string{"PLAIN", "XOAUTH2"}, NoLock: true,
	}
	addr, stop := serve(mb, false)
	defer stop()

	c, _ := pop3.Dial(addr, nil)
	err := c.Auth(pop3.NewXOAuth2Client("alice@example.com", "ya29.expired"))
	var perr *pop3.Error
	if errors.As(err, &perr) {
		fmt.Println("refused:", perr.Code) // perr.Text carries the JSON status
	}
	fmt.Println(c.Login("alice@example.com", "pässwörd")) // AUTH PLAIN: the password is not ASCII
	c.Close()
	// Output:
	// refused: AUTH
	// <nil>
}

// RFC 6856: UTF8 lists "UTF8 USER", so UTF-8 credentials go in USER and PASS.
func ExampleMailbox_utf8() {
	mb := &pop3test.Mailbox{User: "jürgen", Pass: "пароль", UTF8: true}
	addr, stop := serve(mb, false)
	defer stop()

	c, _ := pop3.Dial(addr, nil)
	defer c.Close()
	fmt.Println(c.Login("jürgen", "пароль"))
	// Output: <nil>
}

// New mail arrives between sessions, a message expires, and the test reads what the client
// deleted.
func ExampleMailbox_Add() {
	mb := &pop3test.Mailbox{
		Messages: [][]byte{[]byte("Subject: 1\r\n\r\n\r\n"), []byte("Subject: 2\r\n\r\n\r\n")},
		UIDs:     []string{"first", "second"},
	}
	addr, stop := serve(mb, false)
	defer stop()

	c := login(addr)
	c.Dele(1)
	c.Quit()

	mb.Add("", []byte("Subject: 3\r\n\r\n\r\n")) // gets a fresh unique-id
	mb.Remove("second")                          // expired by the server

	c = login(addr)
	uids, _ := c.UIDL()
	fmt.Println("next session:", uids)
	c.Quit()
	fmt.Println("deleted:", mb.Deleted()[0].UID)
	fmt.Println("left:", len(mb.Contents()))
	// Output:
	// next session: [{1 uid-3}]
	// deleted: first
	// left: 1
}

// The maildrop lock (RFC 1939 section 8) and LOGIN-DELAY (RFC 2449).
func ExampleMailbox_lock() {
	mb := &pop3test.Mailbox{LoginDelay: time.Hour}
	addr, stop := serve(mb, false)
	defer stop()

	first := login(addr)
	second, _ := pop3.Dial(addr, nil)
	var perr *pop3.Error
	if errors.As(second.Login("user", "pass"), &perr) {
		fmt.Println("while the first session runs:", perr.Code)
	}
	first.Quit()
	if errors.As(second.Login("user", "pass"), &perr) {
		fmt.Println("within the hour:", perr.Code)
	}
	second.Close()
	// Output:
	// while the first session runs: IN-USE
	// within the hour: LOGIN-DELAY
}

// Quirks of real servers, to test that a client survives them: here GNU Mailutils' RETR,
// which adds header fields, and a server without UIDL.
func ExampleQuirks() {
	mb := &pop3test.Mailbox{
		Messages: [][]byte{[]byte("Subject: hi\r\n\r\nHello\r\n")},
		Quirks:   pop3test.Quirks{AddHeaders: true, NoUIDL: true, LowerCaseStatus: true},
	}
	addr, stop := serve(mb, false)
	defer stop()

	c := login(addr)
	defer c.Close()
	r, _ := c.Retr(1)
	body, _ := io.ReadAll(r)
	fmt.Printf("%q\n", body)
	_, err := c.UIDL()
	var perr *pop3.Error
	fmt.Println("UIDL refused:", errors.As(err, &perr))
	// Output:
	// "Subject: hi\r\nX-UIDL: uid-1\r\nStatus: O\r\n\r\nHello\r\n"
	// UIDL refused: true
}

// A strict Mailbox refuses what RFC 1939 does not allow, to test a client's own care;
// a lenient one (the default) accepts it, as most real servers do.
func ExampleMailbox_strict() {
	for _, strict := range []bool{true, false} {
		mb := &pop3test.Mailbox{Strict: strict, Messages: [][]byte{[]byte("a\r\n")}}
		addr, stop := serve(mb, false)
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			log.Fatal(err)
		}
		r := bufio.NewReader(conn)
		r.ReadString('\n') // the greeting
		fmt.Println("Strict:", strict)
		for _, cmd := range []string{"USER user", "PASS pass", "LIST 01", "LIST 1 extra"} {
			fmt.Fprintf(conn, "%s\r\n", cmd)
			reply, _ := r.ReadString('\n')
			fmt.Printf("  %s: %s\n", cmd, strings.TrimRight(reply, "\r\n"))
		}
		conn.Close()
		stop()
	}
	// Output:
	// Strict: true
	//   USER user: +OK send PASS
	//   PASS pass: +OK maildrop has 1 messages (3 octets)
	//   LIST 01: -ERR invalid number 01
	//   LIST 1 extra: -ERR too many arguments
	// Strict: false
	//   USER user: +OK send PASS
	//   PASS pass: +OK maildrop has 1 messages (3 octets)
	//   LIST 01: +OK 1 3
	//   LIST 1 extra: +OK 1 3
}

// Record a session as a transcript, for a script Server to replay (pop3test.NewServer(t,
// steps...)) or to save with os.WriteFile for LoadTranscript.
func ExampleMailbox_Transcripts() {
	mb := &pop3test.Mailbox{Record: true}
	addr, stop := serve(mb, false)
	defer stop()

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	r := bufio.NewReader(conn)
	r.ReadString('\n') // the greeting
	for _, cmd := range []string{"USER user", "PASS pass", "NOOP", "QUIT"} {
		fmt.Fprintf(conn, "%s\r\n", cmd)
		r.ReadString('\n')
	}
	conn.Close()
	transcript := mb.Transcripts()[0] // complete: the reply to QUIT was read
	fmt.Print(strings.ReplaceAll(transcript, "\r\n", "\n"))
	steps, _ := pop3test.ParseTranscript(strings.NewReader(transcript))
	fmt.Println(len(steps), "steps")
	// Output:
	// S: +OK pop3test ready
	// C: USER user
	// S: +OK send PASS
	// C: PASS pass
	// S: +OK maildrop has 0 messages (0 octets)
	// C: NOOP
	// S: +OK
	// C: QUIT
	// S: +OK pop3test signing off
	// 9 steps
}
