// Package pop3 is a POP3 client (RFC 1939, with the CAPA, response codes and PIPELINING
// of RFC 2449) that reads real servers the way Microsoft Outlook does ([MS-STANOPOP3]),
// and never corrupts a message on the way.
//
// A [Client] is one session: dial it with [DialTLS] (port 995), [DialStartTLS] (STLS on
// port 110) or [DialContext], log in with [Client.Login] or [Client.Auth], then list,
// fetch and delete. Below it, a [Conn] sends any command and reads any reply, for the
// commands the Client does not send. [Options] sets the timeout, the bounds and the trace.
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
//   - Message bodies stream: [Client.Retr] and [Client.Top] return a reader that removes
//     the dot-stuffing as the octets arrive, keeps CRLF, holds no line in memory (a line of
//     any length passes), and reports a connection that ends early as
//     io.ErrUnexpectedEOF, never as io.EOF.
//   - Replies are read leniently, as Outlook reads them: any reply that begins with "+" is
//     positive, whatever its case; fields may be separated by runs of spaces and tabs; a
//     line may end in a bare LF; text after the numbers and unique-ids is ignored.
//   - Negative replies are typed: an [*Error] carries the command, the RFC 2449 response
//     code ("IN-USE", "LOGIN-DELAY", "SYS/TEMP", "SYS/PERM", "AUTH") and the text. Other
//     failures match the sentinel errors, such as [ErrBroken] and [ErrBusy], with
//     errors.Is; each one's comment lists the calls that return it.
//   - Every argument is checked before it is sent: a CR, LF, NUL or other control octet
//     can never inject a command. Every reply has a deadline (the Timeout, for a whole
//     reply), every line and listing a bound, and a reply that answers no command is
//     detected before the next command is sent.
//   - The Client sends only the commands Outlook sends: never RSET, APOP, or an argument to
//     LIST or UIDL. Deletions are undone by closing without QUIT.
//   - [Client.RetrEach], [Client.TopEach] and [Client.DeleEach] pipeline their commands
//     when the server lists PIPELINING, within a bounded window.
//
// # Taking turns
//
// A Client and its Conn are used from one goroutine at a time; only Close may be called
// from any goroutine, and it aborts the call in progress, which then fails with an error
// that says the connection was closed by the caller (matching net.ErrClosed). A body
// reader borrows the connection until it is read to its end or closed; the next call
// drains what is left, and the body then reads [ErrBodySkipped]. While a batch
// (RetrEach, TopEach, DeleEach) runs, every other call, from its callback too, fails with
// [ErrBusy] before anything is sent. Once the connection is out of step with the server (a
// timeout, a cut, a reply over its bound), every call fails at once with the error that
// broke it, which matches [ErrBroken] and names the command ("pop3: RETR 7: unexpected
// EOF").
//
// To cancel a call with a context, close the Client when the context ends:
//
//	stop := context.AfterFunc(ctx, func() { c.Close() })
//	defer stop()
//
// # Secure sessions
//
// [DialTLS] and [DialStartTLS] verify the certificate against the dialled host, with TLS
// 1.2 at least; DialStartTLS never falls back to cleartext, and octets the server sends
// between its "+OK" to STLS and the handshake abort the session
// ([ErrPlaintextInjection]). [Client.Login] prepares credentials with PRECIS and refuses to
// send them over a cleartext connection to a host that is not loopback unless
// Options.AllowInsecureAuth is set ([ErrInsecureAuth]). [Client.Auth] runs any SASL
// mechanism of github.com/emersion/go-sasl, and [NewXOAuth2Client] gives the XOAUTH2
// mechanism of Microsoft 365 and Gmail. Options.DebugWriter receives the protocol
// transcript with every secret replaced by "***".
//
// # Tests
//
// Package github.com/popwire/pop3/pop3test provides a scripted fake server and an
// in-memory mailbox server, for the library's tests and its users'. How the package is
// built, for those who change it, is in ARCHITECTURE.md.
//
// [MS-STANOPOP3]: https://learn.microsoft.com/en-us/openspecs/exchange_standards/ms-stanopop3
package pop3
