package pop3

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// Error is a negative reply from the server ("-ERR ..."). The Client returns it bare or
// wrapped, so errors.As finds it; the connection is still usable after one.
type Error struct {
	// Command is the command the reply answered, with any password elided
	// ("PASS ***"); empty for the greeting.
	Command string
	// Code is the RFC 2449 response code without brackets, upper-cased, such as
	// "IN-USE", "LOGIN-DELAY", "SYS/TEMP", "SYS/PERM" or "AUTH"; "" when the reply has none.
	Code string
	// Text is the human-readable text after the status indicator and the code.
	Text string
}

// Error formats the reply as "pop3: COMMAND: -ERR [CODE] text".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("pop3: ")
	if e.Command != "" {
		b.WriteString(e.Command)
		b.WriteString(": ")
	} else {
		b.WriteString("greeting: ")
	}
	b.WriteString("-ERR")
	if e.Code != "" {
		b.WriteString(" [")
		b.WriteString(e.Code)
		b.WriteString("]")
	}
	if e.Text != "" {
		b.WriteString(" ")
		b.WriteString(e.Text)
	}
	return b.String()
}

// Temporary reports whether the reply says that trying again later may succeed: the
// maildrop is locked by another session ([IN-USE]), logins come too fast ([LOGIN-DELAY]),
// or the server has a transient fault ([SYS/TEMP]).
func (e *Error) Temporary() bool {
	return e.HasCode("IN-USE") || e.HasCode("LOGIN-DELAY") || e.HasCode("SYS/TEMP")
}

// HasCode reports whether the reply's response code is code or one of its descendants in the
// RFC 2449 hierarchy: a reply with [SYS/TEMP/DISK] has the codes "SYS", "SYS/TEMP" and
// "SYS/TEMP/DISK". The comparison ignores case.
func (e *Error) HasCode(code string) bool {
	if len(e.Code) < len(code) || !strings.EqualFold(e.Code[:len(code)], code) {
		return false
	}
	return len(e.Code) == len(code) || e.Code[len(code)] == '/'
}

// Errors the library returns, wrapped with details; test for them with errors.Is. Every
// error's text begins with "pop3: " once: a sentinel carries it, and a wrapper that adds
// details never repeats it. Each sentinel's comment links the main calls that return it
// (others that share their code, such as ListAll, Sync and the Dial functions, may return
// it too); a test of the package checks each linked call against a server that provokes it.
var (
	// ErrInvalidArgument is returned, before anything is sent, for an argument that holds
	// a CR, LF, NUL or other control octet, a message number below 1, a negative TOP line
	// count, a message listed twice for deletion, a nil callback or mechanism, credentials
	// that PRECIS refuses, or a command line longer than the 255 octets RFC 2449 allows.
	// Returned by [Conn.Cmd], [Client.Retr], [Client.Top], [Client.Dele],
	// [Client.RetrEach], [Client.TopEach], [Client.DeleEach], [Client.Login] and
	// [Client.Auth].
	ErrInvalidArgument = errors.New("pop3: invalid argument")
	// ErrDeleted is returned, before anything is sent, for a message this session has
	// marked deleted, by [Client.Retr], [Client.Top], [Client.Dele], [Client.RetrEach],
	// [Client.TopEach] and [Client.DeleEach].
	ErrDeleted = errors.New("pop3: message is marked deleted in this session")
	// ErrLineTooLong is returned when a status or listing line exceeds the bound set by
	// Options.MaxLineLength, by whatever call reads the line, such as [Conn.ReadResponse],
	// [Conn.ReadListing], [Client.Stat] or [Client.List]. The connection is broken: the
	// error matches ErrBroken too.
	ErrLineTooLong = errors.New("pop3: reply line too long")
	// ErrMalformed is returned when a reply the library has to parse does not have the
	// expected form: by [Client.Stat], [Client.List] and [Client.UIDL] for their numbers
	// and unique-ids, and by [Client.Auth] for a challenge that is not base64.
	ErrMalformed = errors.New("pop3: malformed reply")
	// ErrReplyTooLarge is returned when a listing holds more entries than
	// Options.MaxListingEntries, by [Client.List], [Client.UIDL] and [Conn.ReadListing],
	// or a CAPA reply is over 16 KiB, by [Client.Capabilities] (and the calls that ask
	// CAPA first). The rest of the reply is not read: the error matches ErrBroken too.
	ErrReplyTooLarge = errors.New("pop3: reply too large")
	// ErrBroken is returned once the connection has fallen out of step with the server:
	// after a timeout, a cut connection, a line or reply over its bound, a reply that
	// answers no command, or a body that could not be read to its end. The call during
	// which it happened returns the cause, naming the command ("pop3: RETR 7: unexpected
	// EOF"), and every later call of [Client] and [Conn] returns the same error at once.
	// The connection should be closed.
	ErrBroken = errors.New("pop3: connection is broken")
	// ErrBodySkipped is returned by the Read of a body from [Client.Retr], [Client.Top]
	// or [Conn.DotReader] after the body was closed, or drained by the next call, before
	// it was read to its end: the message the caller holds is incomplete.
	ErrBodySkipped = errors.New("pop3: the rest of the message body was skipped")
	// ErrBusy is returned, before anything is sent, by every call of the [Client] and of
	// its [Conn] made from inside the callback of RetrEach or TopEach, or from the deliver
	// function of Sync or SyncPlan.Run: the batch owns the connection until it returns. Quit, which closes the connection whatever happens,
	// closes it then too. The Client's calls return it as well while the reply to a
	// command sent with Conn.Cmd is unread.
	ErrBusy = errors.New("pop3: a batch is running on this connection")
	// ErrNotAuthenticated is returned, before anything is sent, for a TRANSACTION-state
	// command issued before a successful login: by [Client.Stat], [Client.List],
	// [Client.UIDL], [Client.Retr], [Client.Top], [Client.Dele], [Client.Noop],
	// [Client.RetrEach], [Client.TopEach] and [Client.DeleEach].
	ErrNotAuthenticated = errors.New("pop3: not logged in")
	// ErrAuthenticated is returned, before anything is sent, by [Client.Login],
	// [Client.Auth] and [Client.StartTLS] after a successful login.
	ErrAuthenticated = errors.New("pop3: already logged in")
	// ErrNoAuthMechanism is returned by [Client.Login], before any credential is sent,
	// when the capabilities the server listed offer neither USER nor SASL PLAIN.
	ErrNoAuthMechanism = errors.New("pop3: the server offers no login mechanism this client can use")
	// ErrInsecureAuth is returned, before anything is sent, by [Client.Login] and by
	// [Client.Auth] with a mechanism that sends a password or token as it is (PLAIN,
	// LOGIN, XOAUTH2, OAUTHBEARER), on a connection that is neither TLS nor to a loopback
	// address, unless Options.AllowInsecureAuth is set (RFC 8314 section 5.2).
	ErrInsecureAuth = errors.New("pop3: refusing to send credentials over a cleartext connection")
	// ErrPlaintextInjection is returned by [Client.StartTLS] (and [DialStartTLS]) when the
	// server sent more octets right after its "+OK" to STLS: they arrived before TLS and
	// may have been injected by an attacker, so the connection is closed (RFC 2595
	// section 4).
	ErrPlaintextInjection = errors.New("pop3: octets after the STLS reply, before TLS")
	// ErrUTF8Credentials is returned by [Client.Login], before the credentials are sent,
	// for a non-ASCII user name or password when the server offers neither SASL PLAIN nor
	// "UTF8 USER" (RFC 6856 section 2.2). It matches ErrInvalidArgument too.
	ErrUTF8Credentials = fmt.Errorf("%w: the server accepts no non-ASCII credentials", ErrInvalidArgument)
)

// brokenError records why a connection fell out of step, and during the reply to which
// command; it matches ErrBroken and the original cause with errors.Is. Its text is
// "pop3: COMMAND: cause", the cause's own "pop3: " left out.
type brokenError struct {
	command string
	cause   error
}

func (e *brokenError) Error() string {
	return "pop3: " + commandPrefix(e.command) + unprefixed(e.cause).Error()
}

func (e *brokenError) Unwrap() []error { return []error{ErrBroken, e.cause} }

// commandPrefix is "COMMAND: ", or "" for no command.
func commandPrefix(command string) string {
	if command == "" {
		return ""
	}
	return command + ": "
}

// closedError is the error of a Conn closed by Close (or Quit): for a call that Close
// aborted, naming the command whose reply it was reading, and for every call after.
// It matches net.ErrClosed.
type closedError struct {
	command string
}

// errClosed is what every call returns after Close.
var errClosed error = &closedError{}

func (e *closedError) Error() string {
	if e.command == "" {
		return "pop3: the connection is closed"
	}
	return "pop3: " + e.command + ": the connection was closed by the caller"
}

func (e *closedError) Unwrap() error { return net.ErrClosed }

// unprefixed shows err without the "pop3: " its text begins with, for a wrapper that says
// "pop3: " itself: the one way the library puts an error of its own inside another's
// text. errors.Is and errors.As see err.
func unprefixed(err error) error { return innerError{err} }

type innerError struct{ err error }

func (e innerError) Error() string { return strings.TrimPrefix(e.err.Error(), "pop3: ") }
func (e innerError) Unwrap() error { return e.err }
