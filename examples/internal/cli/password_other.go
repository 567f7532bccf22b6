//go:build !linux

package cli

import (
	"errors"
	"os"
)

// readPassword cannot turn off the echo on this system without another dependency.
func readPassword(f *os.File) (string, error) {
	return "", errors.New("no password: set POP3_PASSWORD (a prompt without echo needs Linux)")
}
