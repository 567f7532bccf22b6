package pop3

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-sasl"
)

// Login authenticates with a user name and a password.
//
// Both are first prepared with PRECIS (RFC 8265: UsernameCasePreserved, OpaqueString): a
// value PRECIS refuses, such as one holding a control octet or an empty one, or a user
// name with a space, fails with ErrInvalidArgument, never altered silently. ASCII
// credentials go as USER and PASS, PASS only after a positive reply to USER, the password
// as it is, spaces included. Non-ASCII credentials go as AUTH PLAIN when CAPA lists
// "SASL PLAIN", else as USER and PASS in UTF-8 when CAPA lists "UTF8 USER" (RFC 6856);
// otherwise Login fails with ErrUTF8Credentials and sends no credential. CAPA is asked
// only for non-ASCII credentials, and only if not known yet.
//
// Over a connection that is neither TLS nor to a loopback address, Login fails with
// ErrInsecureAuth before sending anything, unless Options.AllowInsecureAuth is set.
//
// A negative reply is returned as an *Error, whose Code tells a bad password ("AUTH")
// from a locked maildrop ("IN-USE") or a login too soon ("LOGIN-DELAY"). After a
// successful login the capabilities are forgotten, so Capabilities asks CAPA again.
func (c *Client) Login(username, password string) error {
	if err := c.conn.available(); err != nil {
		return err
	}
	if c.loggedIn {
		return ErrAuthenticated
	}
	user, pass, err := prepareCredentials(username, password)
	if err != nil {
		return err
	}
	if err := c.checkCleartext(); err != nil {
		return err
	}
	if caps := c.caps; len(caps) > 0 && !caps.User() {
		// The server has listed what it offers, and USER is not among it (RFC 2449
		// section 6.5): send no password it will refuse.
		if caps.SupportsSASL(sasl.Plain) {
			return c.authenticate(sasl.NewPlainClient("", user, pass))
		}
		return fmt.Errorf("%w: CAPA lists neither USER nor SASL PLAIN (SASL: %v)", ErrNoAuthMechanism, caps.SASLMechanisms())
	}
	if isASCII(user) && isASCII(pass) {
		return c.userPass(user, pass, false)
	}
	caps, err := c.capabilities()
	if err != nil {
		return err
	}
	switch {
	case caps.SupportsSASL(sasl.Plain):
		return c.authenticate(sasl.NewPlainClient("", user, pass))
	case caps.UTF8User():
		return c.userPass(user, pass, true)
	}
	return fmt.Errorf("%w: it lists neither SASL PLAIN nor UTF8 USER", ErrUTF8Credentials)
}

// userPass sends USER, then PASS after a positive reply. Both commands are checked before
// USER is sent; utf8 lets them hold non-ASCII UTF-8.
func (c *Client) userPass(user, pass string, utf8 bool) error {
	if !utf8 {
		if err := checkWord(user, "user name"); err != nil {
			return err
		}
	}
	if err := checkCommand("USER", []string{user}, utf8); err != nil {
		return err
	}
	if err := checkCommand("PASS", []string{pass}, utf8); err != nil {
		return fmt.Errorf("%w (in the password)", err)
	}
	for _, cmd := range [][2]string{{"USER", user}, {"PASS", pass}} {
		if _, err := c.conn.roundTrip(cmd[0], cmd[1:], utf8); err != nil {
			return err
		}
	}
	c.enterTransaction()
	return nil
}

// Auth authenticates with the SASL mechanism mech (RFC 5034), any client of
// github.com/emersion/go-sasl or NewXOAuth2Client. It asks CAPA first if the capabilities
// are not known yet.
//
// The initial response goes on the AUTH line only when CAPA listed SASL and the line fits
// in 255 octets; otherwise AUTH names the mechanism alone and the response follows the
// server's first continuation, the two-step form Microsoft 365 requires for XOAUTH2. An
// empty initial response is sent as "=". A challenge that is not valid base64, or an error
// from mech, cancels the exchange with "*"; the error returned wraps both that cause and
// the server's *Error. A negative reply is returned as an *Error; for XOAUTH2 its Text
// carries the status the server gave in its JSON challenge.
//
// A mechanism that sends a password or a token as it is (PLAIN, LOGIN, XOAUTH2,
// OAUTHBEARER) fails with ErrInsecureAuth before anything is sent, over a connection that
// is neither TLS nor to a loopback address, unless Options.AllowInsecureAuth is set. No
// SASL security layer is negotiated. After success the capabilities are forgotten, so
// Capabilities asks CAPA again.
func (c *Client) Auth(mech sasl.Client) error {
	if mech == nil {
		return fmt.Errorf("%w: nil SASL mechanism", ErrInvalidArgument)
	}
	return c.authenticate(mech)
}

// authenticate runs one AUTH exchange with mech (RFC 5034 section 4).
func (c *Client) authenticate(mech sasl.Client) error {
	if err := c.conn.available(); err != nil {
		return err
	}
	if c.loggedIn {
		return ErrAuthenticated
	}
	name, ir, err := mech.Start()
	if err != nil {
		return fmt.Errorf("pop3: AUTH: %w", err)
	}
	if err := checkWord(name, "SASL mechanism"); err != nil {
		return err
	}
	if sendsSecret(name) {
		if err := c.checkCleartext(); err != nil {
			return err
		}
	}
	caps, err := c.capabilities()
	if err != nil {
		return err
	}
	args := []string{name}
	if ir != nil && len(caps.SASLMechanisms()) > 0 {
		enc := "="
		if len(ir) > 0 {
			enc = base64.StdEncoding.EncodeToString(ir)
		}
		if checkCommand("AUTH", []string{name, enc}, false) == nil { // fits in 255 octets
			args = append(args, enc)
			ir = nil
		}
	}
	if err := c.conn.begin("AUTH", args...); err != nil {
		return err
	}
	for {
		challenge, more, err := c.conn.readAuthReply()
		if err != nil {
			var perr *Error
			if errors.As(err, &perr) {
				if r, ok := mech.(failureReporter); ok {
					if f := r.failure(); f != "" {
						perr.Text = strings.TrimSpace(perr.Text + " (" + f + ")")
					}
				}
			}
			return err
		}
		if !more {
			c.enterTransaction()
			return nil
		}
		// Every challenge is decoded, the first of the two-step form too: one that is not
		// base64 is cancelled, never answered (RFC 5034 section 4).
		data, err := decodeChallenge(challenge)
		if err != nil {
			return c.cancelAuth(fmt.Errorf("%w: AUTH %s challenge: %w", ErrMalformed, name, err))
		}
		var resp []byte
		if ir != nil {
			// The initial response that did not go on the AUTH line answers the
			// first continuation, which carries no data for the mechanism.
			resp, ir = ir, nil
		} else if resp, err = mech.Next(data); err != nil {
			return c.cancelAuth(fmt.Errorf("pop3: AUTH %s: %w", name, err))
		}
		if err := c.conn.sendAuthResponse(base64.StdEncoding.EncodeToString(resp)); err != nil {
			return err
		}
	}
}

// decodeChallenge decodes the base64 of a server challenge. Unlike encoding/base64, which
// skips CR and LF even in strict mode, it refuses every octet outside the base64 alphabet
// (RFC 5034 section 4). A lone "=", the client's spelling of an empty response, is taken
// as an empty challenge too.
func decodeChallenge(challenge string) ([]byte, error) {
	if challenge == "=" {
		return []byte{}, nil
	}
	for i := 0; i < len(challenge); i++ {
		switch c := challenge[i]; {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '+', c == '/', c == '=':
		default:
			return nil, fmt.Errorf("not base64: holds the octet %#02x", c)
		}
	}
	data, err := base64.StdEncoding.Strict().DecodeString(challenge)
	if err != nil {
		return nil, fmt.Errorf("not base64: %w", err)
	}
	return data, nil
}

// cancelAuth ends an AUTH exchange with "*" and returns cause, wrapping the server's
// reply, which RFC 5034 says is negative.
func (c *Client) cancelAuth(cause error) error {
	err := c.conn.cancelAuth()
	switch {
	case err != nil && !isNegative(err):
		return fmt.Errorf("%w; cancelling: %w", cause, unprefixed(err))
	case err == nil:
		// The server accepted an exchange the client cancelled: it is logged in.
		c.enterTransaction()
		return fmt.Errorf("%w (the server accepted the cancelled exchange)", cause)
	}
	return fmt.Errorf("%w: %w", cause, unprefixed(err))
}

// failureReporter is a mechanism that answers a failure challenge with an empty response,
// as XOAUTH2 does, and tells what the challenge said; failure returns "" if there was none.
type failureReporter interface {
	failure() string
}

// sendsSecret reports whether the mechanism sends a password or bearer token as it is, so
// that anyone reading the connection could replay it.
func sendsSecret(mech string) bool {
	switch strings.ToUpper(mech) {
	case sasl.Plain, sasl.Login, "XOAUTH2", sasl.OAuthBearer:
		return true
	}
	return false
}

// checkCleartext applies the cleartext policy (RFC 8314 section 5.2, RFC 2595 section
// 2.3, the rule of Go's net/smtp): credentials go only over TLS, to a loopback address,
// or with Options.AllowInsecureAuth.
func (c *Client) checkCleartext() error {
	if c.opts.AllowInsecureAuth || c.conn.isTLS() || c.conn.isLoopback() {
		return nil
	}
	return fmt.Errorf("%w to %v: use TLS, or set Options.AllowInsecureAuth", ErrInsecureAuth, c.conn.NetConn().RemoteAddr())
}
