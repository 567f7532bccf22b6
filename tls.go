package pop3

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"
)

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
