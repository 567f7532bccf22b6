package pop3

import (
	"strings"
	"time"
)

// capaMaxOctets bounds a whole CAPA reply's listing, line endings counted as two octets:
// RFC 2449 capability lines are short, real servers list a dozen in a few hundred octets,
// and a listing that never ends must not keep the client reading nor cost memory.
const capaMaxOctets = 16 << 10

// Capabilities is what the server listed in reply to CAPA (RFC 2449): each capability's
// tag, upper-cased, and its arguments.
type Capabilities map[string][]string

// Has reports whether the server listed the capability name, in any case.
func (c Capabilities) Has(name string) bool {
	_, ok := c[strings.ToUpper(name)]
	return ok
}

// Args returns the arguments listed with the capability name, such as the mechanisms of
// "SASL"; nil when there are none or the capability is absent.
func (c Capabilities) Args(name string) []string {
	return c[strings.ToUpper(name)]
}

// Capabilities asks the server for its capabilities with CAPA, once in each state: the
// answer is kept until the login, after which the server may list others. A server that
// answers CAPA with -ERR has none to list: the result is then empty, with a nil error. A
// CAPA listing over 16 KiB fails with ErrReplyTooLarge. The result is the caller's copy.
func (c *Client) Capabilities() (Capabilities, error) {
	caps, err := c.capabilities()
	if err != nil {
		return nil, err
	}
	return caps.clone(), nil
}

// capabilities is Capabilities without the copy, for the library's own use.
func (c *Client) capabilities() (Capabilities, error) {
	if err := c.conn.available(); err != nil {
		return nil, err
	}
	if c.caps != nil {
		if err := c.conn.Err(); err != nil {
			return nil, err // a broken connection fails every call, the cached one too
		}
		return c.caps, nil
	}
	caps := Capabilities{}
	err := c.conn.listing("CAPA", capaMaxOctets, caps.addLine)
	if isNegative(err) {
		caps, err = Capabilities{}, nil // no capabilities to list
	}
	if err != nil {
		return nil, err
	}
	c.caps = caps
	return caps, nil
}

// addLine adds one line of a CAPA listing: a tag, upper-cased, and its arguments. It is
// the one parser of CAPA lines, for Capabilities and for the CAPA that Login pipelines
// after PASS.
func (c Capabilities) addLine(line []byte) error {
	tag, rest := nextField(line)
	if len(tag) == 0 {
		return nil
	}
	name := strings.ToUpper(string(tag))
	args := c[name]
	for {
		var arg []byte
		arg, rest = nextField(rest)
		if len(arg) == 0 {
			break
		}
		args = append(args, string(arg))
	}
	c[name] = args
	return nil
}

// clone returns a copy of c that shares nothing with it.
func (c Capabilities) clone() Capabilities {
	out := make(Capabilities, len(c))
	for k, v := range c {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// User reports whether the server offers USER and PASS (RFC 2449 section 6.3) in the
// current state.
func (c Capabilities) User() bool { return c.Has("USER") }

// SASLMechanisms returns the SASL mechanisms listed with "SASL" (RFC 5034 section 3),
// upper-cased, in the server's order; nil when the server lists none.
func (c Capabilities) SASLMechanisms() []string {
	var mechs []string
	for _, m := range c.Args("SASL") {
		mechs = append(mechs, strings.ToUpper(m))
	}
	return mechs
}

// SupportsSASL reports whether "SASL" lists the mechanism mech, in any case.
func (c Capabilities) SupportsSASL(mech string) bool {
	return c.hasArg("SASL", mech)
}

// UIDL reports whether the server offers UIDL, the unique-id listing (RFC 2449 section
// 6.8).
func (c Capabilities) UIDL() bool { return c.Has("UIDL") }

// STLS reports whether the server offers STLS (RFC 2595 section 4) in the current state.
func (c Capabilities) STLS() bool { return c.Has("STLS") }

// Pipelining reports whether the server accepts commands sent before the replies to
// earlier ones (RFC 2449 section 6.6).
func (c Capabilities) Pipelining() bool { return c.Has("PIPELINING") }

// RespCodes reports whether the server sends the response codes of RFC 2449 section 8, so
// that a bracketed word at the start of a reply's text is surely one.
func (c Capabilities) RespCodes() bool { return c.Has("RESP-CODES") }

// AuthRespCode reports whether the server marks every credential failure with the
// response code "AUTH" (RFC 3206 section 6).
func (c Capabilities) AuthRespCode() bool { return c.Has("AUTH-RESP-CODE") }

// UTF8 reports whether the server offers the UTF8 command (RFC 6856 section 2.1).
func (c Capabilities) UTF8() bool { return c.Has("UTF8") }

// UTF8User reports whether the server lists "UTF8 USER": it accepts UTF-8 user names and
// passwords in USER and PASS (RFC 6856 section 2.2). Without it a client must not send them.
func (c Capabilities) UTF8User() bool { return c.hasArg("UTF8", "USER") }

// LoginDelayPolicy is the LOGIN-DELAY capability (RFC 2449 section 6.5).
type LoginDelayPolicy struct {
	// Delay is the least time the server wants between two logins.
	Delay time.Duration
	// PerUser is set when the value may differ per user: ask CAPA again after login.
	PerUser bool
}

// LoginDelay returns the LOGIN-DELAY capability; ok is false when it is absent or
// malformed.
func (c Capabilities) LoginDelay() (p LoginDelayPolicy, ok bool) {
	args, present := c["LOGIN-DELAY"]
	if !present || len(args) == 0 {
		return LoginDelayPolicy{}, false
	}
	secs, ok := capabilityNumber(args[0])
	if !ok || secs > int64(maxDuration/time.Second) {
		return LoginDelayPolicy{}, false
	}
	return LoginDelayPolicy{Delay: time.Duration(secs) * time.Second, PerUser: c.hasArg("LOGIN-DELAY", "USER")}, true
}

const maxDuration = time.Duration(1<<63 - 1)

// capabilityNumber parses a capability's argument that must be a number and nothing else
// (numberField's rule, with no blank around it: a Capabilities map may be built by hand).
func capabilityNumber(arg string) (int64, bool) {
	n, rest, err := numberField([]byte(arg))
	return n, err == nil && len(rest) == 0 && arg[0] >= '0' && arg[0] <= '9'
}

// ExpirePolicy is the EXPIRE capability (RFC 2449 section 6.7): how long the server keeps
// messages left on it.
type ExpirePolicy struct {
	// Never is set when the server never deletes messages on its own ("EXPIRE NEVER").
	Never bool
	// Days is the least number of days messages are kept, when Never is false. Zero means
	// leaving messages on the server is not allowed: a retrieved message may be deleted at
	// the end of the session even without DELE.
	Days int
	// PerUser is set when the value may differ per user: ask CAPA again after login.
	PerUser bool
}

// Expire returns the EXPIRE capability; ok is false when it is absent or malformed. The
// one-word "EXPIRENEVER" that GNU Mailutils sends is read as "EXPIRE NEVER".
func (c Capabilities) Expire() (p ExpirePolicy, ok bool) {
	if _, present := c["EXPIRENEVER"]; present {
		return ExpirePolicy{Never: true, PerUser: c.hasArg("EXPIRENEVER", "USER")}, true
	}
	args, present := c["EXPIRE"]
	if !present || len(args) == 0 {
		return ExpirePolicy{}, false
	}
	p.PerUser = c.hasArg("EXPIRE", "USER")
	if strings.EqualFold(args[0], "NEVER") {
		p.Never = true
		return p, true
	}
	days, ok := capabilityNumber(args[0])
	if !ok || days > maxMessageNumber {
		return ExpirePolicy{}, false
	}
	p.Days = int(days)
	return p, true
}

// hasArg reports whether the capability name lists arg, in any case.
func (c Capabilities) hasArg(name, arg string) bool {
	for _, a := range c.Args(name) {
		if strings.EqualFold(a, arg) {
			return true
		}
	}
	return false
}
