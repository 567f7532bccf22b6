// Package pop3test provides fake POP3 servers for testing POP3 clients, as
// net/http/httptest does for HTTP.
//
// It offers two kinds of server:
//
//   - [Server] plays a fixed script on a single connection: it sends exactly
//     the bytes the script says and checks, byte for byte, every line the
//     client sends. Use it to test protocol details, malformed replies,
//     timeouts and dropped connections.
//   - [Mailbox] is an in-memory POP3 server that serves any number of
//     sessions. By default it is well-behaved; options add TLS, SASL,
//     UTF-8, locks and delays, the quirks of real servers, and strictness.
//     Use it for end-to-end tests and benchmarks.
//
// # Scripts
//
// A scripted test looks like this:
//
//	func TestLogin(t *testing.T) {
//		srv := pop3test.NewServer(t,
//			pop3test.Reply("+OK ready"),
//			pop3test.Expect("CAPA"),
//			pop3test.Reply("-ERR"),
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
// [StartTLS] is a TLS handshake in the script: after the reply to STLS it
// plays RFC 2595's STLS, and as the first step it makes an implicit-TLS
// server. The client trusts the server with [CertPool] or [ClientTLSConfig]:
//
//	srv := pop3test.NewServer(t,
//		pop3test.Reply("+OK ready"),
//		pop3test.Expect("STLS"),
//		pop3test.Reply("+OK begin TLS"),
//		pop3test.StartTLS(),
//		pop3test.Expect("CAPA"),
//		pop3test.Reply("+OK", "USER", "."),
//	)
//	c, err := pop3.DialStartTLS(srv.Addr(), &pop3.Options{TLSConfig: pop3test.ClientTLSConfig()})
//
// [StartTLSConfig] sets the server's TLS configuration (old versions, say)
// and [ExpectTLSFailure] expects the client to abort the handshake.
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
// example with a "-text" attribute in .gitattributes). A line
// "! STARTTLS" is a [StartTLS] step.
//
// # Command order of the pop3 Client
//
// A script for github.com/popwire/pop3's Client must expect its commands in
// the order it sends them. Dial and DialTLS send nothing: they read the
// greeting. Then:
//
//   - DialStartTLS and Client.StartTLS send STLS and, over TLS, CAPA.
//   - Login sends CAPA first, unless the capabilities are known in this
//     state (asked by Capabilities, StartTLS or a Login that failed); a
//     script of a server that lists nothing answers it with "-ERR". Then,
//     when CAPA lists UTF8 (and Options.DisableUTF8 is not set), it sends
//     UTF8. With ASCII credentials it then sends USER, then PASS after a
//     positive reply; with non-ASCII ones "AUTH PLAIN <initial response>"
//     if CAPA lists SASL PLAIN, or USER and PASS in UTF-8 if it lists
//     "UTF8 USER". Where the CAPA before login lists PIPELINING, the CAPA of
//     the new state goes in the same write as PASS (a script expects "PASS
//     ..." then "CAPA" and answers both), and later calls send no CAPA.
//     When CAPA lists capabilities but not USER, Login sends AUTH PLAIN if it
//     lists SASL PLAIN, and nothing otherwise.
//   - Auth sends CAPA unless the capabilities are known, then UTF8 when
//     CAPA lists it, then AUTH with the initial response on the line when
//     CAPA listed SASL and it fits.
//   - Stat, List, UIDL, Retr, Top, Dele and Noop send their one command,
//     never CAPA; UIDL and List never take a message number.
//   - RetrEach, TopEach and DeleEach send CAPA first unless the
//     capabilities are known (to learn PIPELINING), then their commands,
//     pipelined when PIPELINING is listed.
//   - ListAll sends CAPA first unless the capabilities are known, then a
//     bare UIDL and a bare LIST, in one write when PIPELINING is listed; no
//     UIDL when CAPA lists capabilities without it.
//   - Capabilities sends CAPA once; a successful Login or Auth forgets the
//     answer, so the next Capabilities, RetrEach, TopEach, DeleEach or
//     ListAll after login sends CAPA again.
//   - Quit sends QUIT; with nothing marked deleted in the session it does
//     not wait for the reply (the script may leave it out). Close sends
//     nothing.
//
// The test TestClientCommandOrder of package pop3 checks this list.
//
// # Mailbox
//
// A [Mailbox] needs only its messages:
//
//	mb := &pop3test.Mailbox{Messages: [][]byte{[]byte("Subject: hi\r\n\r\nHello\r\n")}}
//	addr := mb.Start(t) // log in as "user" / "pass"
//
// TLS: [Mailbox.StartTLS] serves implicit TLS (as on port 995) and the STLS
// field offers STLS on the plain port. The server presents [Certificate], a
// self-signed certificate for 127.0.0.1, ::1 and localhost made when first
// needed; [Mailbox.ClientTLSConfig] and [Mailbox.CertPool] trust it, like
// the client of httptest.NewTLSServer. The TLS field replaces the server's
// configuration.
//
// Authentication: USER and PASS always; the SASL field offers AUTH PLAIN,
// LOGIN and XOAUTH2 (Token is the access token; a wrong one gets Gmail's
// JSON failure); UTF8 lists "UTF8 USER" and accepts RFC 6856's UTF8. Every
// credential failure carries [AUTH], and CAPA lists AUTH-RESP-CODE.
//
// Mail that changes: UIDs chooses the unique-ids (duplicates and long ones
// too); [Mailbox.Add] delivers a new message and [Mailbox.Remove] expires
// one between sessions; [Mailbox.Contents] and [Mailbox.Deleted] tell what
// is left and what the client deleted.
//
// Locks and delays: a successful login locks the maildrop until its
// session ends, so a second concurrent login gets "-ERR [IN-USE]" unless
// NoLock is set; LoginDelay lists LOGIN-DELAY and refuses a login too soon
// with "-ERR [LOGIN-DELAY]"; Expire lists EXPIRE.
//
// Session lifetime: a session ends when the client sends QUIT, the only way
// its deletions are committed, or closes the connection, when the Mailbox is
// closed, and, like a real server's autologout (RFC 1939 section 3), when
// the client sends no command for IdleTimeout (10 minutes by default): the
// session sends "-ERR Disconnected for inactivity." and closes the
// connection without committing anything, releasing the lock. A client that
// stops reading a reply is cut off after the same time.
//
// [Quirks] imitates what real servers do and a client must survive:
// lower-case status, tabs, bare LF, no CAPA, no UIDL, no TOP, dropped
// pipelined commands, PIPELINING only after login, chatty listings, an
// APOP-style timestamp, TOP's extra blank line, CR CR LF bodies, added
// Status: and X-UIDL: fields, closing after bad commands, slow failed
// logins. Strict makes the Mailbox refuse what the RFCs do not allow, to
// test a client's own strictness.
//
// Record keeps a transcript of every session ([Mailbox.Transcripts]), which
// [ParseTranscript] turns into a script for [NewServer] to replay.
package pop3test
