package pop3

import (
	"net"
	"syscall"
)

// quickAckConn returns the socket below nc whose delayed ACKs the Conn turns off before
// each read (Options.DisableQuickAck): nc itself when it is a *net.TCPConn, the one below
// a TLS connection or any other wrapper with a NetConn method, or nil when there is none
// or the platform has no TCP_QUICKACK.
func quickAckConn(nc net.Conn) syscall.RawConn {
	if !quickAckSupported {
		return nil
	}
	for range 8 { // wrappers of wrappers, but not forever
		switch c := nc.(type) {
		case *net.TCPConn:
			rc, err := c.SyscallConn()
			if err != nil {
				return nil
			}
			return rc
		case interface{ NetConn() net.Conn }:
			nc = c.NetConn()
		default:
			return nil
		}
	}
	return nil
}
