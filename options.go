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
	// its lines arrive), each read of a message body, each write. Zero means one minute.
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
	// Security is how DialContext protects the connection: SecurityPlain (the zero
	// value), SecurityImplicitTLS or SecuritySTLS. Dial, DialTLS and DialStartTLS ignore
	// it, each having its own.
	Security Security
	// AllowInsecureAuth permits Login, and Auth with a mechanism that sends a password or
	// a bearer token as it is (PLAIN, LOGIN, XOAUTH2, OAUTHBEARER) or a password
	// equivalent (NTLM), over a connection that is neither TLS nor to a loopback address. Without it they fail with ErrInsecureAuth
	// before anything is sent (RFC 8314 section 5.2, RFC 2595 section 2.3).
	AllowInsecureAuth bool
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
