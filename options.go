package pop3

import (
	"crypto/tls"
	"time"
)

// Options configures a Client or a Conn. A nil *Options is the zero value, and the zero
// value of every field is a sensible default.
type Options struct {
	// Timeout bounds every wait on the server: the dial, the TLS handshake, the greeting,
	// each reply, each read of a message body, each write. Zero means one minute.
	Timeout time.Duration
	// TLSConfig is used by DialTLS. It is cloned, never modified; ServerName defaults to
	// the dialled host, and MinVersion to TLS 1.2.
	TLSConfig *tls.Config
	// MaxLineLength bounds a status line or a listing line (LIST, UIDL, CAPA), line ending
	// excluded; a longer line fails with ErrLineTooLong. Zero means 8 KiB. Message bodies
	// are not bounded by it: their lines stream through whatever their length.
	MaxLineLength int
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
	return v
}

// tlsConfig returns the TLS configuration for a connection to host: a clone of the
// caller's, with ServerName and MinVersion filled in when unset.
func (o *Options) tlsConfig(host string) *tls.Config {
	var cfg *tls.Config
	if o != nil && o.TLSConfig != nil {
		cfg = o.TLSConfig.Clone()
	} else {
		cfg = new(tls.Config)
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg
}
