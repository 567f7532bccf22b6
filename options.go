package pop3

import (
	"crypto/tls"
	"io"
	"time"
)

// Options configures a Client or a Conn. A nil *Options is the zero value, and the zero
// value of every field is a sensible default.
type Options struct {
	// Timeout bounds every wait on the server: the dial, the TLS handshake, the greeting,
	// each reply (a status line, or a status line and its whole listing, however slowly
	// its lines arrive), each wait for more of a message body, the skipping of the rest of
	// a body left unread (in all; past it the connection is broken), each write. Zero
	// means one minute. A body may stream in for any time, but a wait for its next octets
	// fails after at least Timeout and at most 9/8 Timeout: its deadline, Timeout and an
	// eighth of it after the moment it is set, is set again only once that eighth has
	// passed, not before every read.
	Timeout time.Duration
	// TLSConfig is used by DialTLS, DialStartTLS, DialContext, and StartTLS when given nil.
	// It is cloned, never modified; ServerName defaults to the dialled host, and a
	// MinVersion below TLS 1.2 is raised to TLS 1.2 (RFC 8314 section 4.1).
	TLSConfig *tls.Config
	// MaxLineLength bounds a status line or a listing line (LIST, UIDL, CAPA), line ending
	// excluded; a longer line fails with ErrLineTooLong. Zero means 8 KiB; a value over
	// 1 MiB is taken as 1 MiB. Message bodies are not bounded by it: their lines stream
	// through whatever their length.
	MaxLineLength int
	// MaxListingEntries bounds the lines of a listing (LIST, UIDL, CAPA, or one read with
	// Conn.ReadListing); a longer one fails with ErrReplyTooLarge. Zero means four
	// million, a few hundred MiB of entries at most.
	MaxListingEntries int
	// Security is how the connection is protected: SecurityImplicitTLS, SecuritySTLS or
	// SecurityPlain. DialContext follows it, implicit TLS when it is SecurityDefault (the
	// zero value). Dial, DialTLS and DialStartTLS each have their own mode and refuse a
	// Security that contradicts it with ErrInvalidArgument.
	Security Security
	// Dialer, when set, makes the network connection for every Dial function, to the
	// "host:port" it is given: a SOCKS5 proxy (golang.org/x/net/proxy), a local address
	// (a *net.Dialer with LocalAddr), a test transport. TLS and STLS still run over what
	// it returns, with the certificate checked against the dialled host, so it should be
	// a plain stream (a *tls.Dialer would add a second layer, except with Dial). Nil means
	// a *net.Dialer. The dial is bounded by Timeout and the context.
	Dialer Dialer
	// AllowInsecureAuth permits Login, and Auth with a mechanism that sends a password or
	// a bearer token as it is (PLAIN, LOGIN, XOAUTH2, OAUTHBEARER) or a password
	// equivalent (NTLM), over a connection that is not TLS and was not dialled to a
	// loopback address ("localhost", 127.0.0.0/8, ::1). Without it they fail with
	// ErrInsecureAuth before anything is sent (RFC 8314 section 5.2, RFC 2595 section
	// 2.3). The address that counts is the one given to the Dial function, not the
	// socket's peer, which may be a proxy; a Client made with NewClient has none, so only
	// TLS or this field lets it send credentials.
	AllowInsecureAuth bool
	// AllowUTF8Password lets Login send a non-ASCII password, in UTF-8 after PRECIS, in
	// PASS to a server that lists neither "SASL PLAIN" nor "UTF8 USER" (RFC 6856 section
	// 2.2), or lists no capabilities at all. GNU Mailutils, popa3d, solid-pop3d, perdition
	// and Twisted accept it so. Without it Login refuses such a password with
	// ErrUTF8Credentials before sending anything: RFC 6856 gives the server no way to say
	// which charset it expects. A non-ASCII user name is refused either way.
	AllowUTF8Password bool
	// DisableUTF8 stops Login and Auth from sending the RFC 6856 UTF8 command before they
	// authenticate. By default it is sent whenever CAPA lists UTF8: the library passes
	// message octets through unchanged, so UTF-8 mode is always safe for it, and without it
	// a server such as Courier replaces every message whose header holds raw UTF-8 by a
	// generated notice.
	DisableUTF8 bool
	// DisableQuickAck stops the Conn from turning on TCP_QUICKACK before it waits on the
	// network, as it does by default on Linux when the connection is, or runs over, a
	// *net.TCPConn (a plain or TLS connection the library dialled, or one from a Dialer).
	// With delayed ACKs, a server that writes a reply's status line and its body
	// separately with Nagle's algorithm on (GNU Mailutils, Cyrus, Courier, WildDuck,
	// perdition, Twisted) holds the body until the client's ACK, about 40 ms later, on
	// every command. Where the Conn reads the socket itself (a *net.TCPConn, and the one
	// below a TLS connection the library made) it costs one system call each time a read
	// finds nothing to read and has to wait; below a TLS connection or a wrapper made by
	// the caller, one per read of it. It does nothing elsewhere.
	DisableQuickAck bool
	// DebugWriter, when set, receives the protocol transcript: every line both ways, in
	// the transcript format of package pop3test ("C: " and "S: " lines). Passwords,
	// every argument of AUTH after the mechanism and every response of a SASL exchange
	// appear as "***". Message bodies are included; write errors are ignored.
	DebugWriter io.Writer
	// Account names the maildrop in the state of Sync, which refuses a store that holds
	// another account's. Empty means SyncAccount of the address dialled and the user name
	// given to Login; set it for a Client made with NewClient or logged in with Auth.
	Account string
}

// withDefaults returns a copy of o with the defaults filled in.
func (o *Options) withDefaults() Options {
	var v Options
	if o != nil {
		v = *o
	}
	if v.Timeout <= 0 {
		v.Timeout = defaultTimeout
	}
	if v.MaxLineLength <= 0 {
		v.MaxLineLength = defaultMaxLineLength
	}
	v.MaxLineLength = min(v.MaxLineLength, maxMaxLineLength)
	if v.MaxListingEntries <= 0 {
		v.MaxListingEntries = defaultMaxListingEntries
	}
	return v
}

// tlsConfig returns the TLS configuration for a connection to host: a clone of the
// caller's, with ServerName and MinVersion filled in when unset.
func (o *Options) tlsConfig(host string) *tls.Config {
	var base *tls.Config
	if o != nil {
		base = o.TLSConfig
	}
	return cloneTLSConfig(base, host)
}
