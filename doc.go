// Package pop3 is a POP3 client (RFC 1939, with the CAPA, response codes and PIPELINING
// of RFC 2449) that reads real servers the way Microsoft Outlook does ([MS-STANOPOP3]),
// and never corrupts a message on the way.
//
// # Example
//
//	c, err := pop3.DialTLS("pop.example.org:995", nil)
//	if err != nil {
//		return err
//	}
//	defer c.Close() // without Quit, nothing marked deleted is removed
//	if err := c.Login("alice", "secret"); err != nil {
//		return err
//	}
//	uids, err := c.UIDL()
//	if err != nil {
//		return err
//	}
//	for _, u := range uids {
//		msg, err := c.Retr(u.Number)
//		if err != nil {
//			return err
//		}
//		err = store(u.UID, msg) // the octets as sent, CRLF kept, dot-stuffing removed
//		msg.Close()
//		if err != nil {
//			return err
//		}
//		if err := c.Dele(u.Number); err != nil {
//			return err
//		}
//	}
//	return c.Quit() // the server removes the messages marked deleted
//
// # What it does differently
//
//   - Message bodies stream: RETR and TOP return a reader that removes the dot-stuffing as
//     the octets arrive, keeps CRLF, holds no line in memory (a line of any length passes),
//     and reports a connection that ends early as io.ErrUnexpectedEOF, never as io.EOF.
//   - Replies are read leniently, as Outlook reads them: any reply that begins with "+" is
//     positive, whatever its case; fields may be separated by runs of spaces and tabs; a
//     line may end in a bare LF; text after the numbers and unique-ids is ignored.
//   - Negative replies are typed: *Error carries the command, the RFC 2449 response code
//     ("IN-USE", "LOGIN-DELAY", "SYS/TEMP", "SYS/PERM", "AUTH") and the text.
//   - Every argument is checked before it is sent: a CR, LF, NUL or other control octet
//     can never inject a command. Every wait has a deadline, every status line a bound.
//   - The Client sends only the commands Outlook sends: never RSET, APOP, or an argument to
//     LIST or UIDL. Deletions are undone by closing without QUIT.
//   - RetrEach, TopEach and DeleEach pipeline their commands when the server lists
//     PIPELINING, within a bounded window.
//
// # Secure sessions
//
// DialTLS (port 995) and DialStartTLS (STLS on port 110) verify the certificate against the
// dialled host, with TLS 1.2 at least; DialStartTLS never falls back to cleartext, and
// octets the server sends between its "+OK" to STLS and the handshake abort the session.
// DialContext uses implicit TLS unless Options.Security asks otherwise, and every Dial
// function connects through Options.Dialer when it is set (a SOCKS5 proxy, say). Login
// prepares credentials with PRECIS and refuses to send them over a cleartext connection
// unless the dialled address is loopback or Options.AllowInsecureAuth is set; it sends the
// RFC 6856 UTF8 command first when the server lists it. Auth
// runs any SASL mechanism of github.com/emersion/go-sasl, and NewXOAuth2Client gives the
// XOAUTH2 mechanism of Microsoft 365 and Gmail. Options.DebugWriter receives the protocol
// transcript with every secret replaced by "***".
//
// # Layers
//
// The package is built in two layers, with calls going one way:
//
//   - Conn (conn.go) owns the network connection: one buffered reader and writer, a
//     deadline on every read and write, and the "broken" state. It is the one place
//     that writes to the network (commands through queue and flush, or writeCommand for
//     the writer of a pipelined batch, always after checkCommand has checked every
//     octet; SASL responses through sendAuthResponse; only the TLS handshakes of tls.go
//     run on the net.Conn below it), the one place that reads a status or listing line
//     (readLine, bounded in length by Options.MaxLineLength and as a whole line by the
//     Timeout), and it hands multi-line bodies to a DotReader (multiline.go), a small
//     state machine that unstuffs dots while streaming, scans the buffer in place and
//     implements io.WriterTo. ParseResponse (response.go) turns a status line into a
//     Response, and ReadResponse turns a negative one into an *Error; during AUTH,
//     readAuthReply (auth.go) tells continuations from the final reply. The trace
//     (trace.go) is fed by the reader below the buffer and by the command writer, with
//     the secrets already replaced. Conn knows nothing of POP3 states. After a timeout,
//     a cut, an over-long line or a body that could not be read to its end, Conn is out
//     of step with the server, and every later call fails at once with an error
//     matching ErrBroken.
//   - Client is the POP3 session: greeting, AUTHORIZATION, TRANSACTION. client.go has the
//     commands Outlook sends; capa.go the capabilities, cached per state; uidl.go the
//     unique-ids; pipeline.go the batches RetrEach, TopEach and DeleEach: with PIPELINING a
//     writer goroutine keeps a bounded window of commands ahead while the caller's goroutine
//     reads the replies, so neither side can block the other; auth.go Login's choice of
//     USER/PASS or AUTH PLAIN, the SASL exchange and the cleartext policy, with precis.go
//     and xoauth2.go; dial.go the one dialling path and the greeting, tls.go STLS;
//     listall.go ListAll, UIDL and LIST in one round trip. The Client checks message
//     numbers and the session state before anything is sent, and remembers the messages it
//     marked deleted. It never reads bytes itself. A body reader borrows the Conn until it
//     is read to its end or closed; the next command drains what is left.
//
// Error and the sentinel errors that the library's errors wrap are in errors.go. Package
// pop3test provides a scripted fake server and an in-memory server for tests, the
// library's own and its users'.
//
// # Profile
//
// The Client follows Microsoft's [MS-STANOPOP3], Outlook's reading of RFC 1939; the tests
// name the items (C0001-C0047, V0001-V0008) they cover.
//
// [MS-STANOPOP3]: https://learn.microsoft.com/en-us/openspecs/exchange_standards/ms-stanopop3
package pop3
