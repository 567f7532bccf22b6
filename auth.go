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
// Both are first prepared with PRECIS (RFC 8265: UsernameCasePreserved, OpaqueString): an
// empty value, or one PRECIS refuses, such as one holding a control character, or a user
// name with a space, fails with ErrInvalidArgument naming the character, never altered
// silently.
//
// Login then asks CAPA, unless the capabilities are known in this state, so that its
// outcome never depends on whether Capabilities was called before. When the server lists
// UTF8, Login sends the UTF8 command first (RFC 6856 section 3.1; Options.DisableUTF8
// turns it off; a negative reply to it is ignored). ASCII credentials go as USER and PASS,
// PASS only after a positive reply to USER, the password as it is, spaces included; but if
// the server lists capabilities without USER, they go as AUTH PLAIN when it lists "SASL
// PLAIN", and otherwise Login fails with ErrNoAuthMechanism, which says when the server
// lists STLS and may offer a login only after it (WildDuck does so by default).
// Non-ASCII credentials go as AUTH PLAIN when CAPA lists "SASL PLAIN", else as USER and
// PASS in UTF-8 when CAPA lists "UTF8 USER"; a non-ASCII password with an ASCII user name
// goes in PASS anyway with Options.AllowUTF8Password; otherwise Login fails with
// ErrUTF8Credentials and sends no credential.
//
// Over a connection that is not TLS and was not dialled to a loopback address, Login fails
// with ErrInsecureAuth before sending anything, unless Options.AllowInsecureAuth is set.
//
// A negative reply is returned as an *Error, whose Code tells a bad password ("AUTH")
// from a locked maildrop ("IN-USE") or a login too soon ("LOGIN-DELAY"). After a
// successful login the capabilities are forgotten, so Capabilities asks CAPA again; but
// where the server listed PIPELINING, Login sends that CAPA in the same write as PASS and
// keeps its answer, so the session's first batch costs no round trip for it. After a
// negative reply to PASS the reply to that CAPA is read and discarded.
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
	c.user = username
	caps, err := c.capabilities()
	if err != nil {
		return err
	}
	ascii := isASCII(user) && isASCII(pass)
	switch {
	case len(caps) > 0 && !caps.User() && !caps.UTF8User():
		// The server has listed what it offers, and USER is not among it (RFC 2449
		// section 6.5; MS-STANOPOP3 C0009; "UTF8 USER" implies it): send no password it
		// will refuse.
		if caps.SupportsSASL(sasl.Plain) {
			return c.authenticate(sasl.NewPlainClient("", user, pass))
		}
		err := fmt.Errorf("%w: CAPA lists neither USER nor SASL PLAIN (SASL: %v)", ErrNoAuthMechanism, caps.SASLMechanisms())
		if caps.STLS() && !c.conn.isTLS() {
			err = fmt.Errorf("%w; it lists STLS, and may offer a login only after it: use DialStartTLS or StartTLS", err)
		}
		return err
	case ascii:
		if err := c.enableUTF8(caps); err != nil {
			return err
		}
		return c.userPass(user, pass, false, caps.Pipelining())
	case caps.SupportsSASL(sasl.Plain):
		return c.authenticate(sasl.NewPlainClient("", user, pass))
	case caps.UTF8User(), c.opts.AllowUTF8Password && isASCII(user):
		if err := c.enableUTF8(caps); err != nil {
			return err
		}
		return c.userPass(user, pass, true, caps.Pipelining())
	case !isASCII(user):
		return fmt.Errorf("%w: the user name is not ASCII, and the server lists neither SASL PLAIN nor UTF8 USER", ErrUTF8Credentials)
	}
	return fmt.Errorf("%w: the password is not ASCII, and the server lists neither SASL PLAIN nor UTF8 USER; "+
		"set Options.AllowUTF8Password to send it in PASS anyway (many servers accept it)", ErrUTF8Credentials)
}

// enableUTF8 sends the UTF8 command when the server lists it and Options.DisableUTF8 is
// not set (RFC 6856 section 3.1). A negative reply leaves the session as it was and is not
// an error: the login goes on without UTF-8 mode.
func (c *Client) enableUTF8(caps Capabilities) error {
	if c.opts.DisableUTF8 || !caps.UTF8() {
		return nil
	}
	_, err := c.cmd("UTF8")
	var perr *Error
	if errors.As(err, &perr) {
		return nil
	}
	return err
}

// userPass sends USER, then PASS after a positive reply, and with it CAPA when the server
// listed PIPELINING (passWithCAPA). Both commands are checked before USER is sent; utf8
// lets them hold non-ASCII UTF-8.
func (c *Client) userPass(user, pass string, utf8, pipelining bool) error {
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
	if _, err := c.conn.roundTrip("USER", []string{user}, utf8); err != nil {
		return err
	}
	if pipelining {
		return c.passWithCAPA(pass, utf8)
	}
	if _, err := c.conn.roundTrip("PASS", []string{pass}, utf8); err != nil {
		return err
	}
	c.enterTransaction()
	return nil
}

// passWithCAPA sends PASS and CAPA in one write, for a server that listed PIPELINING
// before the login, so that the capabilities of the TRANSACTION state cost no round trip
// of their own. Both replies are read whatever PASS's: after a negative one, CAPA's is
// read and discarded (the AUTHORIZATION state's capabilities are kept), so the connection
// stays in step, and PASS's *Error is returned.
func (c *Client) passWithCAPA(pass string, utf8 bool) error {
	var passed bool
	var passErr error
	caps := Capabilities{}
	cmds := []command{{keyword: "PASS", args: []string{pass}, utf8: utf8}, {keyword: "CAPA"}}
	err := c.conn.pipeline(cmds, func(i int, _ Response, err error) error {
		switch {
		case i == 0:
			passed, passErr = err == nil, err
			return nil
		case isNegative(err):
			return nil // no capabilities to list
		case !passed:
			return c.conn.readListing(nil, capaMaxOctets, func([]byte) error { return nil })
		}
		return c.conn.readListing(nil, capaMaxOctets, caps.addLine)
	})
	switch {
	case passErr != nil:
		return passErr // a CAPA that broke the connection after it shows at the next call
	case !passed:
		return err
	}
	c.enterTransaction()
	if err != nil {
		return err
	}
	c.caps = caps
	return nil
}

// Auth authenticates with the SASL mechanism mech (RFC 5034), any client of
// github.com/emersion/go-sasl, NewXOAuth2Client or NewNTLMClient. It asks CAPA first if
// the capabilities are not known yet, and sends UTF8 first when the server lists it, as
// Login does.
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
// OAUTHBEARER), or a password equivalent (NTLM), fails with ErrInsecureAuth before
// anything is sent, over a connection that is not TLS and was not dialled to a loopback
// address, unless Options.AllowInsecureAuth is set. No SASL security layer is negotiated.
// After success the capabilities are forgotten, so Capabilities asks CAPA again.
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
	if err := c.enableUTF8(caps); err != nil {
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
	_, okGoesOn := mech.(okContinuer)
	for first := true; ; first = false {
		challenge, more, err := c.conn.readAuthReply()
		if first && okGoesOn && err == nil && (!more || strings.EqualFold(challenge, "OK")) {
			// Exchange 2003 answers AUTH NTLM with "+OK", Exchange 5.5 with "+ OK": both
			// mean "send the NEGOTIATE", never a finished login.
			challenge, more = "", true
		}
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

// failureReporter is a mechanism that explains a negative reply: XOAUTH2 tells what its
// failure challenge said, NTLM which step was refused; failure returns "" if it knows
// nothing.
type failureReporter interface {
	failure() string
}

// okContinuer is a mechanism whose servers may answer the AUTH command with "+OK" or
// "+ OK" meaning "go on" (NTLM, ntlm.go).
type okContinuer interface {
	okContinues()
}

// sendsSecret reports whether the mechanism sends a password or bearer token as it is, so
// that anyone reading the connection could replay it, or a password equivalent (NTLM).
func sendsSecret(mech string) bool {
	switch strings.ToUpper(mech) {
	case sasl.Plain, sasl.Login, "XOAUTH2", sasl.OAuthBearer, "NTLM":
		return true
	}
	return false
}

// checkCleartext applies the cleartext policy (RFC 8314 section 5.2, RFC 2595 section
// 2.3, the rule of Go's net/smtp): credentials go only over TLS, to a loopback address the
// caller dialled, or with Options.AllowInsecureAuth. The socket's peer does not count: a
// proxy on 127.0.0.1 may forward the connection anywhere.
func (c *Client) checkCleartext() error {
	if c.opts.AllowInsecureAuth || c.conn.isTLS() || isLoopbackHost(c.host) {
		return nil
	}
	if c.host == "" {
		return fmt.Errorf("%w made outside the library (NewClient), whose destination is unknown: use TLS, or set Options.AllowInsecureAuth", ErrInsecureAuth)
	}
	return fmt.Errorf("%w to %s: use TLS (DialTLS, DialStartTLS or StartTLS), or set Options.AllowInsecureAuth", ErrInsecureAuth, c.host)
}
