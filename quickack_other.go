//go:build !linux

package pop3

import "syscall"

// rearmQuickAck does nothing: TCP_QUICKACK is Linux's.
func rearmQuickAck(syscall.RawConn) {}

// Read is the TCP connection's: withQuickAck makes no quickAckTCP here.
func (q *quickAckTCP) Read(p []byte) (int, error) { return q.TCPConn.Read(p) }

func (q *quickAckTCP) readOnce(uintptr) bool { return true }

// quickAckSupported reports whether rearmQuickAck does anything here.
const quickAckSupported = false
