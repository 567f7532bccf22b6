//go:build linux

package pop3

import "syscall"

// rearmQuickAck turns TCP_QUICKACK on for the socket rc before a read. Linux clears it
// again on its own, so it is set before every read of the network: the ACK of a status
// line then leaves at once, and a server that writes the body separately with Nagle's
// algorithm on (GNU Mailutils, Cyrus, Courier) sends it without waiting ~40 ms for a
// delayed ACK. Setting it also sends an ACK that is pending. An error (a socket closed
// meanwhile) is the next read's to report.
func rearmQuickAck(rc syscall.RawConn) {
	rc.Control(func(fd uintptr) {
		syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}

// quickAckSupported reports whether rearmQuickAck does anything here.
const quickAckSupported = true
