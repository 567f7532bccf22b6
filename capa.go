package pop3

import (
	"errors"
	"strings"
)

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
// answers CAPA with -ERR has none to list: the result is then empty, with a nil error.
func (c *Client) Capabilities() (Capabilities, error) {
	if c.caps != nil {
		return c.caps, nil
	}
	if _, err := c.cmd("CAPA"); err != nil {
		var perr *Error
		if errors.As(err, &perr) {
			c.caps = Capabilities{}
			return c.caps, nil
		}
		return nil, err
	}
	caps := Capabilities{}
	err := c.conn.ReadListing(func(line []byte) error {
		tag, rest := nextField(line)
		if len(tag) == 0 {
			return nil
		}
		name := strings.ToUpper(string(tag))
		args := caps[name]
		for {
			var arg []byte
			arg, rest = nextField(rest)
			if len(arg) == 0 {
				break
			}
			args = append(args, string(arg))
		}
		caps[name] = args
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.caps = caps
	return caps, nil
}
