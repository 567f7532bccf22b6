package pop3

import (
	"fmt"

	"golang.org/x/text/secure/precis"
)

// prepareCredentials prepares a user name and a password for the wire with the PRECIS
// profiles of RFC 8265: UsernameCasePreserved (section 3.4) and OpaqueString (section 4.2),
// the successors of SASLprep that RFC 5034 and RFC 6856 name. They normalise to NFC and map
// full-width and non-ASCII spaces; they refuse, rather than alter, what is disallowed: a
// control character (CR, LF, NUL, TAB), a space in a user name, an empty value. ASCII
// credentials without such characters come back unchanged. The errors match
// ErrInvalidArgument and never show the password.
func prepareCredentials(username, password string) (string, string, error) {
	user, err := precis.UsernameCasePreserved.String(username)
	if err != nil {
		return "", "", fmt.Errorf("%w: the user name is refused by PRECIS UsernameCasePreserved: %w", ErrInvalidArgument, err)
	}
	pass, err := precis.OpaqueString.String(password)
	if err != nil {
		return "", "", fmt.Errorf("%w: the password is refused by PRECIS OpaqueString: %w", ErrInvalidArgument, err)
	}
	return user, pass, nil
}

// isASCII reports whether s holds ASCII octets only.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
