package pop3

import (
	"fmt"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
)

// prepareCredentials prepares a user name and a password for the wire with the PRECIS
// profiles of RFC 8265: UsernameCasePreserved (section 3.4) and OpaqueString (section 4.2),
// the successors of SASLprep that RFC 5034 and RFC 6856 name. They normalise to NFC and map
// full-width and non-ASCII spaces; they refuse, rather than alter, what is disallowed: a
// control character (CR, LF, NUL, TAB), a space in a user name, an empty value. ASCII
// credentials without such characters come back unchanged. The errors match
// ErrInvalidArgument, say "empty password" or name the character refused by its position
// and code point, and never show the password.
func prepareCredentials(username, password string) (string, string, error) {
	if username == "" {
		return "", "", fmt.Errorf("%w: empty user name", ErrInvalidArgument)
	}
	if password == "" {
		return "", "", fmt.Errorf("%w: empty password", ErrInvalidArgument)
	}
	if !utf8.ValidString(username) {
		return "", "", fmt.Errorf("%w: the user name is not valid UTF-8", ErrInvalidArgument)
	}
	if !utf8.ValidString(password) {
		return "", "", fmt.Errorf("%w: the password is not valid UTF-8", ErrInvalidArgument)
	}
	user, err := precis.UsernameCasePreserved.String(username)
	if err != nil {
		return "", "", precisError("user name", username, precis.UsernameCasePreserved, "UsernameCasePreserved", err)
	}
	pass, err := precis.OpaqueString.String(password)
	if err != nil {
		return "", "", precisError("password", password, precis.OpaqueString, "OpaqueString", err)
	}
	return user, pass, nil
}

// precisError explains why profile refused the value what: the first character it refuses
// on its own, by position and code point, or the profile's error when no single character
// is to blame (a rule about the whole value, such as the bidi rule, or a value that maps to
// nothing).
func precisError(what, value string, profile *precis.Profile, name string, err error) error {
	pos := 0
	for _, r := range value {
		pos++
		if _, rerr := profile.String(string(r)); rerr != nil {
			return fmt.Errorf("%w: the %s's character %d, %U, is not allowed by PRECIS %s (RFC 8265)", ErrInvalidArgument, what, pos, r, name)
		}
	}
	return fmt.Errorf("%w: the %s is refused by PRECIS %s (RFC 8265): %w", ErrInvalidArgument, what, name, err)
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
