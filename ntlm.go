package pop3

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/Azure/go-ntlmssp"
	"github.com/emersion/go-sasl"
)

// NewNTLMClient returns a SASL client for the NTLM mechanism of MS-OXPOP3. domain may be empty,
// or given in username as DOMAIN\user; user@domain is sent as it is (a UPN logon).
//
// It is how Outlook logs in to on-premises Exchange with Windows credentials ("Secure
// Password Authentication"). Pass it to Client.Auth, over TLS: the answer it sends is a
// password equivalent, so the cleartext policy of Login applies to it (TLS, a loopback
// address, or Options.AllowInsecureAuth). Login never chooses NTLM by itself.
//
// The exchange is that of MS-OXPOP3 section 4.1: "AUTH NTLM" with no initial response;
// the server's "+" (Exchange 2003's "+OK" and Exchange 5.5's "+ OK" are taken as the same
// "go on", never as a finished login); the NEGOTIATE message; the server's CHALLENGE; the
// AUTHENTICATE message; then "+OK" or "-ERR". The messages are built by
// github.com/Azure/go-ntlmssp: a NEGOTIATE naming no client domain or workstation, and an
// NTLMv2 answer (MS-NLMP section 3.3.2).
//
// A non-empty domain fills the domain field of the answer for a plain user name and for a
// UPN; with DOMAIN\user the two must name the same domain. NTLMv2 is the only version
// spoken: a CHALLENGE that asks for LM (NTLMSSP_NEGOTIATE_LM_KEY) or for key exchange
// (NTLMSSP_NEGOTIATE_KEY_EXCH), or that lacks NTLMSSP_NEGOTIATE_UNICODE, is refused with
// an error and the exchange cancelled, as is a CHALLENGE that is truncated or not a
// CHALLENGE at all (ErrMalformed). No channel binding (Extended Protection) is sent, and a
// CHALLENGE cannot say that the server requires it (MS-NLMP section 2.2.2.1): such a
// server refuses the AUTHENTICATE with "-ERR", like a wrong password.
//
// A negative reply is returned as an *Error whose Text ends with which step the server
// refused: "(the server does not offer NTLM)" for an "-ERR" to AUTH NTLM, or, after the
// AUTHENTICATE, a note that the credentials are wrong or the server requires channel
// binding. The client may be used for another Auth.
func NewNTLMClient(domain, username, password string) sasl.Client {
	return &ntlmClient{domain: domain, username: username, password: password}
}

// ntlmStep is how far an NTLM exchange has gone.
type ntlmStep int

const (
	ntlmStarted       ntlmStep = iota // AUTH NTLM sent, nothing else
	ntlmNegotiateSent                 // the NEGOTIATE message sent
	ntlmAnswerSent                    // the AUTHENTICATE message sent
)

// maxNTLMName bounds the octets of a user or domain name: NTLM carries each in UTF-16
// behind a 16-bit length.
const maxNTLMName = 1024

// The negotiate flags of MS-NLMP section 2.2.2.5 that the client checks in a CHALLENGE.
const (
	ntlmFlagUnicode = 0x00000001 // NTLMSSP_NEGOTIATE_UNICODE (A)
	ntlmFlagLMKey   = 0x00000080 // NTLMSSP_NEGOTIATE_LM_KEY (G)
	ntlmFlagKeyExch = 0x40000000 // NTLMSSP_NEGOTIATE_KEY_EXCH (V)
)

// ntlmChallengeFixed is the length of the fixed part of a CHALLENGE message, up to and
// including its TargetInfoFields (MS-NLMP section 2.2.1.2).
const ntlmChallengeFixed = 48

type ntlmClient struct {
	domain, username, password string
	step                       ntlmStep
}

// Start checks the credentials and returns the mechanism name, with no initial response
// (MS-OXPOP3 section 2.2.1).
func (n *ntlmClient) Start() (string, []byte, error) {
	n.step = ntlmStarted
	if _, err := n.logonName(); err != nil {
		return "", nil, err
	}
	if !utf8.ValidString(n.password) {
		return "", nil, fmt.Errorf("%w: NTLM password is not valid UTF-8", ErrInvalidArgument)
	}
	return "NTLM", nil, nil
}

// logonName returns the name given to go-ntlmssp, which reads DOMAIN\user as the domain
// and the user, and any other name as the user with an empty domain.
func (n *ntlmClient) logonName() (string, error) {
	for _, f := range [][2]string{{n.domain, "domain"}, {n.username, "user name"}} {
		if err := checkNTLMName(f[0], f[1]); err != nil {
			return "", err
		}
	}
	if strings.Contains(n.domain, `\`) {
		return "", fmt.Errorf(`%w: NTLM domain %q holds a "\"`, ErrInvalidArgument, n.domain)
	}
	domain, user, ok := strings.Cut(n.username, `\`)
	if !ok {
		domain, user = n.domain, n.username
	} else if n.domain != "" && !strings.EqualFold(domain, n.domain) {
		return "", fmt.Errorf("%w: NTLM user name %q names another domain than %q", ErrInvalidArgument, n.username, n.domain)
	}
	if user == "" {
		return "", fmt.Errorf("%w: empty NTLM user name", ErrInvalidArgument)
	}
	if domain == "" {
		return user, nil
	}
	return domain + `\` + user, nil
}

// checkNTLMName refuses a name that is not UTF-8, holds a control octet, or is too long.
func checkNTLMName(s, what string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: NTLM %s is not valid UTF-8", ErrInvalidArgument, what)
	}
	if len(s) > maxNTLMName {
		return fmt.Errorf("%w: NTLM %s is over %d octets", ErrInvalidArgument, what, maxNTLMName)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return fmt.Errorf("%w: NTLM %s holds the control octet %#02x", ErrInvalidArgument, what, s[i])
		}
	}
	return nil
}

// Next answers the server's first continuation, whatever it holds, with the NEGOTIATE
// message, and the CHALLENGE with the AUTHENTICATE message.
func (n *ntlmClient) Next(challenge []byte) ([]byte, error) {
	switch n.step {
	case ntlmStarted:
		msg, err := ntlmssp.NewNegotiateMessage("", "")
		if err != nil {
			return nil, fmt.Errorf("ntlm: NEGOTIATE: %w", err)
		}
		n.step = ntlmNegotiateSent
		return msg, nil
	case ntlmNegotiateSent:
		if err := checkNTLMChallenge(challenge); err != nil {
			return nil, err
		}
		name, err := n.logonName()
		if err != nil {
			return nil, err
		}
		msg, err := ntlmssp.NewAuthenticateMessage(challenge, name, n.password, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: NTLM CHALLENGE: %w", ErrMalformed, err)
		}
		n.step = ntlmAnswerSent
		return msg, nil
	}
	return nil, sasl.ErrUnexpectedServerChallenge
}

// errNTLMv2Only is wrapped by the refusal of a CHALLENGE whose flags ask for what this
// client does not do.
var errNTLMv2Only = errors.New("ntlm: this client speaks NTLMv2 only, with UNICODE and no key exchange")

// checkNTLMChallenge checks the header of a CHALLENGE message (MS-NLMP section 2.2.1.2)
// and refuses the flags this client does not honour; go-ntlmssp parses the rest.
func checkNTLMChallenge(c []byte) error {
	if len(c) < ntlmChallengeFixed {
		return fmt.Errorf("%w: NTLM CHALLENGE truncated: %d octets, at least %d expected", ErrMalformed, len(c), ntlmChallengeFixed)
	}
	if string(c[:8]) != "NTLMSSP\x00" {
		return fmt.Errorf("%w: NTLM CHALLENGE lacks the signature NTLMSSP", ErrMalformed)
	}
	if t := binary.LittleEndian.Uint32(c[8:12]); t != 2 {
		return fmt.Errorf("%w: NTLM message of type %d where a CHALLENGE (type 2) was due", ErrMalformed, t)
	}
	flags := binary.LittleEndian.Uint32(c[20:24])
	switch {
	case flags&ntlmFlagLMKey != 0:
		return fmt.Errorf("%w: the server asks for LM (NTLMSSP_NEGOTIATE_LM_KEY)", errNTLMv2Only)
	case flags&ntlmFlagKeyExch != 0:
		return fmt.Errorf("%w: the server asks for key exchange (NTLMSSP_NEGOTIATE_KEY_EXCH)", errNTLMv2Only)
	case flags&ntlmFlagUnicode == 0:
		return fmt.Errorf("%w: the server does not offer UNICODE (NTLMSSP_NEGOTIATE_UNICODE)", errNTLMv2Only)
	}
	return nil
}

// failure tells, for a negative reply, which step of the exchange the server refused.
func (n *ntlmClient) failure() string {
	switch n.step {
	case ntlmStarted:
		return "the server does not offer NTLM"
	case ntlmNegotiateSent:
		return "the server refused the NTLM NEGOTIATE"
	}
	return "NTLM logon refused: wrong credentials, or the server requires channel binding (Extended Protection), which this client cannot send"
}

// okContinues marks NTLM as a mechanism whose first "+OK" or "+ OK" means "go on".
func (n *ntlmClient) okContinues() {}
