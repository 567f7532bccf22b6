package pop3

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
)

// Dialer makes the network connection below a session: *net.Dialer, *tls.Dialer,
// golang.org/x/net/proxy's ContextDialer (a SOCKS5 proxy) and a test transport all
// satisfy it. See Options.Dialer.
type Dialer interface {
	// DialContext connects to address ("host:port") on network "tcp"; the Dial functions
	// bound it with Options.Timeout and their context.
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Security is how a Dial function protects the connection; see Options.Security.
type Security int

const (
	// SecurityDefault, the zero value, leaves the choice to the Dial function called:
	// plain TCP for Dial, implicit TLS for DialTLS, STLS for DialStartTLS, and implicit
	// TLS for DialContext, so that nothing goes in cleartext unless the caller asks.
	SecurityDefault Security = iota
	// SecurityPlain is plain TCP (port 110 by custom). Login and the password-bearing
	// SASL mechanisms still refuse to run over it, except to a loopback address or with
	// Options.AllowInsecureAuth.
	SecurityPlain
	// SecurityImplicitTLS is TLS from the first octet (port 995 by custom), the mode
	// RFC 8314 section 3.1 recommends: the greeting already arrives over TLS.
	SecurityImplicitTLS
	// SecuritySTLS is plain TCP upgraded with STLS (RFC 2595 section 4) right after the
	// greeting, before anything else is sent. If the server refuses or lacks STLS the dial
	// fails; it never goes on in cleartext.
	SecuritySTLS
)

// String returns the mode's name: "default", "plain", "implicit TLS" or "STLS".
func (s Security) String() string {
	switch s {
	case SecurityDefault:
		return "default"
	case SecurityPlain:
		return "plain"
	case SecurityImplicitTLS:
		return "implicit TLS"
	case SecuritySTLS:
		return "STLS"
	}
	return fmt.Sprintf("Security(%d)", int(s))
}

// The ports of RFC 1939 and RFC 8314, for an address given without one.
const (
	defaultPort    = "110"
	defaultTLSPort = "995"
)

// Dial connects to addr ("host:port"; port 110 when it is missing) over plain TCP and waits
// for the greeting. Options.Security must be SecurityDefault or SecurityPlain: any other
// mode is refused with ErrInvalidArgument, never ignored (use DialContext to choose it in
// the Options).
//
// Over plain TCP, Login refuses to send credentials unless addr names a loopback address
// ("localhost", 127.0.0.0/8, ::1) or Options.AllowInsecureAuth is set: upgrade with
// StartTLS first, or use DialTLS or DialStartTLS.
func Dial(addr string, opts *Options) (*Client, error) {
	return dial(context.Background(), addr, opts, SecurityPlain)
}

// DialTLS connects to addr ("host:port"; port 995 when it is missing) with implicit TLS and
// waits for the greeting. The certificate is verified against Options.TLSConfig, whose
// ServerName defaults to the host in addr. Options.Security must be SecurityDefault or
// SecurityImplicitTLS, else the call fails with ErrInvalidArgument.
func DialTLS(addr string, opts *Options) (*Client, error) {
	return dial(context.Background(), addr, opts, SecurityImplicitTLS)
}

// DialStartTLS connects to addr ("host:port"; port 110 when it is missing) over TCP, waits
// for the greeting, and upgrades the connection with STLS (RFC 2595 section 4), as
// DialContext does with SecuritySTLS. It fails, closing the connection, if the server
// refuses STLS or does not know it: it never falls back to cleartext, and no credentials
// are ever sent. Options.Security must be SecurityDefault or SecuritySTLS, else the call
// fails with ErrInvalidArgument.
func DialStartTLS(addr string, opts *Options) (*Client, error) {
	return dial(context.Background(), addr, opts, SecuritySTLS)
}

// DialContext connects to addr as Options.Security says: implicit TLS by default (the zero
// value, SecurityDefault, as SecurityImplicitTLS; port 995 when addr has none), plain TCP
// only when asked for with SecurityPlain, or plain TCP followed by STLS with SecuritySTLS
// (port 110 for both when addr has none). Then it waits for the greeting, and with STLS it
// completes the upgrade and asks CAPA again.
//
// The context bounds the dial, the TLS handshake and the greeting (and the STLS exchange):
// if it ends first, the connection is closed and the error matches the context's error.
// Every wait is also bounded by Options.Timeout. The certificate is verified against
// Options.TLSConfig, whose ServerName defaults to the host in addr; TLS 1.2 is the least
// version accepted. Options.Dialer, when set, makes the connection.
func DialContext(ctx context.Context, addr string, opts *Options) (*Client, error) {
	return dial(ctx, addr, opts, SecurityDefault)
}

// NewClient starts a session on conn, which is already connected: it waits for the
// greeting (MS-STANOPOP3 C0002, C0007). On error conn is closed.
//
// The Client does not know where conn leads, so Login and the password-bearing SASL
// mechanisms refuse to run over it unless it is TLS (a *tls.Conn, or a connection whose
// ConnectionState method says so) or Options.AllowInsecureAuth is set, even when its
// remote address is a loopback one: it may be a proxy. StartTLS needs a tls.Config with
// ServerName set.
func NewClient(conn net.Conn, opts *Options) (*Client, error) {
	return newClient(conn, opts, "")
}

// newClient starts a session on nc, dialled to addr ("" when unknown), and reads the
// greeting; on error it closes nc.
func newClient(nc net.Conn, opts *Options, addr string) (*Client, error) {
	c := &Client{conn: NewConn(nc, opts), opts: opts.withDefaults()}
	if err := c.readGreeting(addr); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// readGreeting reads the server's first line (RFC 1939 section 4). A greeting that does not
// come within the Timeout, or is not a POP3 status line at all, gets an error that says
// what is likely wrong; a negative one is an *Error.
func (c *Client) readGreeting(addr string) error {
	if addr == "" {
		if ra := c.conn.NetConn().RemoteAddr(); ra != nil {
			addr = ra.String()
		}
	}
	line, err := c.conn.readGreeting()
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		hint := ""
		if !c.conn.isTLS() {
			hint = ": is this an implicit-TLS port? use DialTLS"
		}
		return fmt.Errorf("pop3: no greeting within %v from %s%s: %w", c.opts.Timeout, addr, hint, unprefixed(err))
	case err != nil:
		return err
	case !isPositive(line) && !bytes.HasPrefix(line, []byte("-")):
		shown := line
		if len(shown) > 100 {
			shown = shown[:100]
		}
		return fmt.Errorf("%w: not a POP3 server: %s greeted with %q", ErrMalformed, addr, shown)
	}
	resp, err := c.conn.statusReply(line)
	if err != nil {
		return err
	}
	c.greeting = resp.Text
	return nil
}

// dial is the one dialling path of Dial, DialTLS, DialStartTLS and DialContext; mode is the
// caller's own mode, SecurityDefault for DialContext.
func dial(ctx context.Context, addr string, opts *Options, mode Security) (*Client, error) {
	security, err := chooseSecurity(opts, mode)
	if err != nil {
		return nil, err
	}
	host, hostport, err := splitAddr(addr, security)
	if err != nil {
		return nil, fmt.Errorf("pop3: dial: %w", err)
	}
	o := opts.withDefaults()
	var d Dialer = &net.Dialer{}
	if o.Dialer != nil {
		d = o.Dialer
	}
	dctx, cancel := context.WithTimeout(ctx, o.Timeout)
	nc, err := d.DialContext(dctx, "tcp", hostport)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("pop3: dial: %w", err)
	}
	if nc == nil {
		return nil, errors.New("pop3: dial: the Dialer returned no connection and no error")
	}
	// Until the session is set up, the end of ctx closes the connection, which unblocks
	// whatever waits on it.
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	c, err := startSession(ctx, nc, host, hostport, opts, security)
	if !stop() {
		if c != nil {
			c.Close()
		}
		if err == nil {
			return nil, fmt.Errorf("pop3: dial: %w", context.Cause(ctx))
		}
		return nil, fmt.Errorf("pop3: dial: %w: %w", context.Cause(ctx), err)
	}
	return c, err
}

// chooseSecurity returns the mode a dial runs in: Options.Security, which must not
// contradict the Dial function's own mode, or that mode; implicit TLS when neither says.
func chooseSecurity(opts *Options, mode Security) (Security, error) {
	var asked Security
	if opts != nil {
		asked = opts.Security
	}
	if asked < SecurityDefault || asked > SecuritySTLS {
		return 0, fmt.Errorf("%w: Options.Security is %v", ErrInvalidArgument, asked)
	}
	switch {
	case mode == SecurityDefault && asked == SecurityDefault:
		return SecurityImplicitTLS, nil
	case mode == SecurityDefault:
		return asked, nil
	case asked != SecurityDefault && asked != mode:
		return 0, fmt.Errorf("%w: Options.Security is %v, but %s dials with %v: use %s or DialContext",
			ErrInvalidArgument, asked, dialName(mode), mode, dialName(asked))
	}
	return mode, nil
}

// dialName is the Dial function whose own mode is s.
func dialName(s Security) string {
	switch s {
	case SecurityImplicitTLS:
		return "DialTLS"
	case SecuritySTLS:
		return "DialStartTLS"
	}
	return "Dial"
}

// splitAddr returns the host of addr and addr with a port: 995 for implicit TLS, 110
// otherwise, when addr has none. A bare IPv6 address may be given with or without brackets.
func splitAddr(addr string, security Security) (host, hostport string, err error) {
	port := defaultPort
	if security == SecurityImplicitTLS {
		port = defaultTLSPort
	}
	host, p, err := net.SplitHostPort(addr)
	if err == nil {
		if host == "" {
			return "", "", fmt.Errorf("address %q: missing host", addr)
		}
		if p == "" {
			return host, net.JoinHostPort(host, port), nil
		}
		return host, addr, nil
	}
	host = addr
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if host == "" || strings.ContainsAny(host, "[]") ||
		strings.Contains(host, ":") && !isIPAddr(host) {
		return "", "", err
	}
	return host, net.JoinHostPort(host, port), nil
}

func isIPAddr(host string) bool {
	_, err := netip.ParseAddr(host)
	return err == nil
}

// isLoopbackHost reports whether a dialled host names this machine: "localhost" or a
// loopback IP address. The cleartext policy trusts it because the caller chose it; the
// socket's own remote address says nothing, as it may be a proxy's.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// startSession runs the opening of a session on nc, dialled to hostport, which it closes on
// error.
func startSession(ctx context.Context, nc net.Conn, host, hostport string, opts *Options, security Security) (*Client, error) {
	conn := nc
	if security == SecurityImplicitTLS {
		tc := tls.Client(withQuickAck(nc, !opts.withDefaults().DisableQuickAck), opts.tlsConfig(host))
		if err := handshake(ctx, tc, opts.withDefaults().Timeout); err != nil {
			nc.Close()
			var rerr tls.RecordHeaderError
			if errors.As(err, &rerr) {
				return nil, fmt.Errorf("pop3: TLS handshake with %s: %w: is this a plain POP3 port? use Dial or DialStartTLS", hostport, err)
			}
			return nil, fmt.Errorf("pop3: TLS handshake with %s: %w", hostport, err)
		}
		conn = tc
	}
	c, err := newClient(conn, opts, hostport)
	if err != nil {
		return nil, err
	}
	c.host, c.addr = host, hostport
	if security == SecuritySTLS {
		if err := c.startTLS(ctx, nil); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}
