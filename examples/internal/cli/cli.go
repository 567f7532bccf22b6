// Package cli holds what the example programs share: the connection flags, the password,
// the dial, and the one-line errors with a hint.
package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/popwire/pop3"
)

// Flags are the connection flags of popsync and poplist.
type Flags struct {
	Addr    string        // -addr: the server, host[:port]
	User    string        // -user: the user name
	TLS     string        // -tls: implicit, starttls or none
	CA      string        // -ca: a PEM file of roots to trust besides the system's
	Timeout time.Duration // -timeout: Options.Timeout
	Debug   bool          // -debug: the redacted protocol trace on stderr
	Demo    bool          // -demo: use the in-process demo server
}

// Register defines the flags on fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Addr, "addr", "", "server `HOST[:PORT]` (the port defaults to 995, or 110 with -tls starttls or none)")
	fs.StringVar(&f.User, "user", "", "user `NAME`; the password comes from $POP3_PASSWORD or a prompt")
	fs.StringVar(&f.TLS, "tls", "implicit", "`MODE`: implicit (TLS from the start), starttls (STLS), or none")
	fs.StringVar(&f.CA, "ca", "", "PEM `FILE` of certificate authorities to trust besides the system's")
	fs.DurationVar(&f.Timeout, "timeout", time.Minute, "bound on every wait on the server")
	fs.BoolVar(&f.Debug, "debug", false, "write the protocol trace (passwords redacted) to stderr")
	fs.BoolVar(&f.Demo, "demo", false, "serve sample messages from an in-process server on 127.0.0.1 and use it")
}

// Check reports a flag combination that cannot work.
func (f *Flags) Check() error {
	switch f.TLS {
	case "implicit", "starttls", "none":
	default:
		return fmt.Errorf("-tls %q: want implicit, starttls or none", f.TLS)
	}
	if !f.Demo && (f.Addr == "" || f.User == "") {
		return errors.New("-addr and -user are required (or try -demo)")
	}
	return nil
}

// Address returns -addr with the default port of the -tls mode when it has none.
func (f *Flags) Address() string {
	if _, _, err := net.SplitHostPort(f.Addr); err == nil {
		return f.Addr
	}
	port := "995"
	if f.TLS != "implicit" {
		port = "110"
	}
	return net.JoinHostPort(strings.Trim(f.Addr, "[]"), port)
}

// Options returns the client options the flags ask for.
func (f *Flags) Options(stderr io.Writer) (*pop3.Options, error) {
	opts := &pop3.Options{Timeout: f.Timeout}
	if f.Debug {
		opts.DebugWriter = stderr
	}
	if f.CA != "" {
		pem, err := os.ReadFile(f.CA)
		if err != nil {
			return nil, fmt.Errorf("-ca: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-ca %s: no PEM certificate in it", f.CA)
		}
		opts.TLSConfig = &tls.Config{RootCAs: pool}
	}
	return opts, nil
}

// Dial connects as the flags say and waits for the greeting (and, with starttls, completes
// STLS).
func (f *Flags) Dial(ctx context.Context, opts *pop3.Options) (*pop3.Client, error) {
	addr := f.Address()
	o := *opts
	switch f.TLS {
	case "implicit":
		o.Security = pop3.SecurityImplicitTLS
	case "starttls":
		o.Security = pop3.SecuritySTLS
	default:
		o.Security = pop3.SecurityPlain
	}
	return pop3.DialContext(ctx, addr, &o)
}

// Password returns $POP3_PASSWORD, or asks on the terminal without echo when standard
// input is one.
func Password(user string) (string, error) {
	if p, ok := os.LookupEnv("POP3_PASSWORD"); ok {
		return p, nil
	}
	if !IsTerminal(os.Stdin) {
		return "", errors.New("no password: set POP3_PASSWORD (standard input is not a terminal)")
	}
	fmt.Fprintf(os.Stderr, "Password for %s: ", user)
	p, err := readPassword(os.Stdin)
	fmt.Fprintln(os.Stderr)
	return p, err
}

// IsTerminal reports whether f is a terminal (a character device).
func IsTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Explain turns an error of a session into one line with a hint at the likely cause.
func Explain(err error, f *Flags) string {
	var perr *pop3.Error
	var cerr *tls.CertificateVerificationError
	var uerr x509.UnknownAuthorityError
	var herr x509.HostnameError
	var nerr net.Error
	msg := err.Error()
	switch {
	case errors.As(err, &perr) && perr.HasCode("AUTH"):
		return msg + " (wrong user name or password?)"
	case errors.As(err, &perr) && perr.HasCode("IN-USE"):
		return msg + " (the mailbox is locked by another session: try again later)"
	case errors.As(err, &perr) && perr.HasCode("LOGIN-DELAY"):
		return msg + " (the server allows logins only so often: try again later)"
	case errors.As(err, &cerr), errors.As(err, &uerr), errors.As(err, &herr):
		return msg + " (certificate not trusted: pass the server's CA with -ca FILE)"
	case errors.As(err, &nerr) && nerr.Timeout() && f.TLS != "implicit":
		return msg + " (no reply within the timeout: if this is an implicit-TLS port such as 995, use -tls implicit)"
	case errors.As(err, &nerr) && nerr.Timeout():
		return msg + " (no reply within the timeout: if this is a plain port such as 110, use -tls starttls)"
	case strings.Contains(msg, "first record does not look like a TLS handshake"):
		return msg + " (the server does not speak TLS on this port: try -tls starttls)"
	case errors.Is(err, pop3.ErrInsecureAuth):
		return msg + " (use -tls implicit or -tls starttls)"
	}
	return msg
}
