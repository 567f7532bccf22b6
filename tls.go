package pop3

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Security is how a connection made by DialContext is protected; see Options.Security.
type Security int

const (
	// SecurityPlain is plain TCP (port 110 by custom). It is the zero value. Login and the
	// password-bearing SASL mechanisms still refuse to run over it, except to a loopback
	// address or with Options.AllowInsecureAuth.
	SecurityPlain Security = iota
	// SecurityImplicitTLS is TLS from the first octet (port 995 by custom), the mode
	// RFC 8314 section 3.1 recommends: the greeting already arrives over TLS.
	SecurityImplicitTLS
	// SecuritySTLS is plain TCP upgraded with STLS (RFC 2595 section 4) right after the
	// greeting, before anything else is sent. If the server refuses or lacks STLS the dial
	// fails; it never goes on in cleartext.
	SecuritySTLS
)

// String returns the mode's name: "plain", "implicit TLS" or "STLS".
func (s Security) String() string {
	switch s {
	case SecurityPlain:
		return "plain"
	case SecurityImplicitTLS:
		return "implicit TLS"
	case SecuritySTLS:
		return "STLS"
	}
	return fmt.Sprintf("Security(%d)", int(s))
}

// DialContext connects to addr ("host:port") as opts.Security says: plain TCP, implicit
// TLS, or plain TCP followed by STLS; then it waits for the greeting, and with STLS it
// completes the upgrade and asks CAPA again. The context bounds the dial, the TLS handshake
// and the greeting (and the STLS exchange): if it ends first, the connection is closed and
// the error matches the context's error. Every wait is also bounded by opts.Timeout.
//
// The certificate is verified against opts.TLSConfig, whose ServerName defaults to the host
// in addr; TLS 1.2 is the least version accepted.
func DialContext(ctx context.Context, addr string, opts *Options) (*Client, error) {
	var security Security
	if opts != nil {
		security = opts.Security
	}
	return dial(ctx, addr, opts, security)
}

// DialStartTLS connects to addr ("host:port", port 110 by custom) over TCP, waits for the
// greeting, and upgrades the connection with STLS (RFC 2595 section 4), as DialContext does
// with SecuritySTLS. It fails, closing the connection, if the server refuses STLS or does
// not know it: it never falls back to cleartext, and no credentials are ever sent.
func DialStartTLS(addr string, opts *Options) (*Client, error) {
	return dial(context.Background(), addr, opts, SecuritySTLS)
}

// dial is the one dialling path of Dial, DialTLS, DialStartTLS and DialContext.
func dial(ctx context.Context, addr string, opts *Options, security Security) (*Client, error) {
	if security < SecurityPlain || security > SecuritySTLS {
		return nil, fmt.Errorf("%w: %v", ErrInvalidArgument, security)
	}
	o := opts.withDefaults()
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("pop3: dial: %w", err)
	}
	nc, err := (&net.Dialer{Timeout: o.Timeout}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pop3: dial: %w", err)
	}
	// Until the session is set up, the end of ctx closes the connection, which unblocks
	// whatever waits on it.
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	c, err := startSession(ctx, nc, host, opts, security)
	if c != nil {
		c.addr = addr
	}
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

// startSession runs the opening of a session on nc, which it closes on error.
func startSession(ctx context.Context, nc net.Conn, host string, opts *Options, security Security) (*Client, error) {
	conn := nc
	if security == SecurityImplicitTLS {
		tc := tls.Client(nc, opts.tlsConfig(host))
		if err := handshake(ctx, tc, opts.withDefaults().Timeout); err != nil {
			nc.Close()
			return nil, fmt.Errorf("pop3: TLS handshake: %w", err)
		}
		conn = tc
	}
	c, err := NewClient(conn, opts)
	if err != nil {
		return nil, err
	}
	c.host = host
	if security == SecuritySTLS {
		if err := c.startTLS(ctx, nil); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// handshake runs the TLS handshake within timeout and ctx.
func handshake(ctx context.Context, tc *tls.Conn, timeout time.Duration) error {
	if err := tc.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		return err
	}
	return tc.SetDeadline(time.Time{})
}

// cloneTLSConfig returns a copy of base (nil is the zero configuration) for a connection
// to host: ServerName defaults to host, and MinVersion is at least TLS 1.2.
func cloneTLSConfig(base *tls.Config, host string) *tls.Config {
	var cfg *tls.Config
	if base != nil {
		cfg = base.Clone()
	} else {
		cfg = new(tls.Config)
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg
}

// StartTLS upgrades the connection with STLS (RFC 2595 section 4). It is valid only before
// login. config is cloned (nil means Options.TLSConfig); its ServerName defaults to the
// host the Client dialled, which a Client made with NewClient does not know, and TLS 1.2
// is the least version accepted. The certificate is verified unless config says otherwise.
//
// A negative reply is returned as an *Error and the session goes on in cleartext: the
// caller decides whether to give up (DialStartTLS does). If the server sends anything
// right after its "+OK", StartTLS fails with ErrPlaintextInjection and closes the
// connection. After the handshake every octet is read through TLS, the capabilities are
// forgotten and asked again with CAPA; a handshake failure leaves the Conn broken.
func (c *Client) StartTLS(config *tls.Config) error {
	return c.startTLS(context.Background(), config)
}

func (c *Client) startTLS(ctx context.Context, config *tls.Config) error {
	if err := c.conn.available(); err != nil {
		return err
	}
	if c.loggedIn {
		return fmt.Errorf("%w: STLS is valid only before login", ErrAuthenticated)
	}
	if c.conn.isTLS() {
		return errors.New("pop3: StartTLS: the connection is already TLS")
	}
	if config == nil {
		config = c.opts.TLSConfig
	}
	cfg := cloneTLSConfig(config, c.host)
	if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
		return errors.New("pop3: StartTLS: no ServerName to verify the certificate against: set it in the tls.Config")
	}
	if _, err := c.cmd("STLS"); err != nil {
		return err
	}
	if err := c.conn.startTLS(ctx, cfg); err != nil {
		return err
	}
	c.caps = nil
	_, err := c.capabilities()
	return err
}

// isTLS reports whether the connection is protected by TLS.
func (c *Conn) isTLS() bool {
	_, ok := c.NetConn().(interface{ ConnectionState() tls.ConnectionState })
	return ok
}

// isLoopback reports whether the connection's peer is a loopback address. A connection
// whose address is not an IP address (net.Pipe's "pipe") is not.
func (c *Conn) isLoopback() bool {
	switch a := c.NetConn().RemoteAddr().(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	case nil:
		return false
	default:
		ap, err := netip.ParseAddrPort(a.String())
		return err == nil && ap.Addr().IsLoopback()
	}
}
