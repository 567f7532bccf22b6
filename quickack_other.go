//go:build !linux

package pop3

import "syscall"

// rearmQuickAck does nothing: TCP_QUICKACK is Linux's.
func rearmQuickAck(syscall.RawConn) {}

// quickAckSupported reports whether rearmQuickAck does anything here.
const quickAckSupported = false
