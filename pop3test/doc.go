// Package pop3test provides fake POP3 servers for testing POP3 clients.
//
// It offers two kinds of server:
//
//   - [Server] plays a fixed script on a single connection: it sends exactly
//     the bytes the script says and checks, byte for byte, every line the
//     client sends. Use it to test protocol details, malformed replies,
//     timeouts and dropped connections.
//   - [Mailbox] is a small, well-behaved in-memory POP3 server that serves
//     any number of sessions. Use it for end-to-end tests and benchmarks.
//
// A scripted test looks like this:
//
//	func TestLogin(t *testing.T) {
//		srv := pop3test.NewServer(t,
//			pop3test.Reply("+OK ready"),
//			pop3test.Expect("USER alice"),
//			pop3test.Reply("+OK"),
//			pop3test.Expect("PASS secret"),
//			pop3test.Reply("+OK logged in"),
//			pop3test.Expect("QUIT"),
//			pop3test.Reply("+OK bye"),
//			pop3test.ExpectClosed(),
//		)
//
//		// ... run the client under test against srv.Addr() ...
//
//		if err := srv.Wait(); err != nil {
//			t.Fatal(err)
//		}
//	}
//
// Every failure of the script is also reported through t.Errorf when the
// test ends, so calling [Server.Wait] is optional.
//
// A [Mailbox] needs only its messages:
//
//	mb := &pop3test.Mailbox{Messages: [][]byte{[]byte("Subject: hi\r\n\r\nHello\r\n")}}
//	addr := mb.Start(t) // log in as "user" / "pass"
//
// Tests can change the mail between sessions and read what the client did:
// [Mailbox.Add] delivers a new message, [Mailbox.Remove] expires one,
// [Mailbox.Contents] and [Mailbox.Deleted] tell what is left and what was
// deleted. UIDs chooses the unique-ids. A successful login locks the
// maildrop until its session ends, so a second concurrent login gets
// "-ERR [IN-USE]" unless NoLock is set; LoginDelay and Expire add the
// LOGIN-DELAY and EXPIRE capabilities of RFC 2449, and Quirks imitates real
// servers' deviations.
//
// Scripts can also be kept in transcript files, read with [LoadTranscript]
// or [ParseTranscript]:
//
//	# greeting and login
//	S: +OK ready
//	C: USER alice
//	S: +OK
//
// Lines starting with "S: " are sent by the server and lines starting with
// "C: " are expected from the client, both verbatim including their line
// terminator, so a transcript stored with CRLF line endings describes a
// conforming conversation and one stored with bare LF line endings describes
// a broken one. Keep such files out of any line-ending conversion (for
// example with a "-text" attribute in .gitattributes).
package pop3test
