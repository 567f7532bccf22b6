package pop3

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-sasl"
)

// NewXOAuth2Client returns a client of the XOAUTH2 SASL mechanism, which Gmail and
// Microsoft 365 (Exchange Online, Outlook.com) use for OAuth 2.0 access tokens. Its
// response is "user=" username "\x01auth=Bearer " accessToken "\x01\x01". Pass it to
// Client.Auth, over TLS.
//
// When the server refuses the token it sends a challenge holding a JSON error, such as
// {"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}; the client answers
// it with an empty response, and Auth returns the server's final "-ERR" as an *Error whose
// Text ends with the decoded status, for example "(XOAUTH2 status 401, schemes Bearer,
// scope https://mail.google.com/)". A user name or token holding the octet 0x01 is refused
// before anything is sent.
func NewXOAuth2Client(username, accessToken string) sasl.Client {
	return &xoauth2Client{username: username, token: accessToken}
}

type xoauth2Client struct {
	username, token string
	failed          string // what the failure challenge said, once one came
}

// Start returns the mechanism name and the initial response, and forgets the failure of
// an earlier exchange, so that the client may be used again.
func (x *xoauth2Client) Start() (string, []byte, error) {
	x.failed = ""
	if strings.ContainsRune(x.username, 1) || strings.ContainsRune(x.token, 1) {
		return "", nil, errors.New("xoauth2: the user name or token holds the octet 0x01")
	}
	return "XOAUTH2", []byte("user=" + x.username + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}

// Next answers the failure challenge, the only one XOAUTH2 knows, with an empty response.
func (x *xoauth2Client) Next(challenge []byte) ([]byte, error) {
	if x.failed != "" {
		return nil, sasl.ErrUnexpectedServerChallenge
	}
	x.failed = describeXOAuth2Failure(challenge)
	return []byte{}, nil
}

func (x *xoauth2Client) failure() string { return x.failed }

// describeXOAuth2Failure turns the JSON of a failure challenge into a short text.
func describeXOAuth2Failure(challenge []byte) string {
	var fields map[string]any
	if err := json.Unmarshal(challenge, &fields); err != nil || fields["status"] == nil {
		const max = 200
		text := strings.ToValidUTF8(string(challenge), "?")
		if len(text) > max {
			text = text[:max] + "..."
		}
		return fmt.Sprintf("XOAUTH2 error %q", text)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "XOAUTH2 status %v", fields["status"])
	for _, k := range []string{"schemes", "scope"} {
		if v, ok := fields[k]; ok {
			fmt.Fprintf(&b, ", %s %v", k, v)
		}
	}
	return b.String()
}
