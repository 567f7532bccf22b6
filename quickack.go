package pop3

import (
	"crypto/tls"
	"net"
	"syscall"
)

// TCP_QUICKACK (Options.DisableQuickAck) is turned on before the Conn waits on a socket,
// which sends at once an ACK the kernel is holding back, in one of two ways:
//
//   - where the library reads the socket itself, a *net.TCPConn given to NewConn or
//     dialled, and the TCP connection below a TLS connection it makes (DialTLS,
//     DialContext, STLS), it reads through quickAckTCP, which turns TCP_QUICKACK on each
//     time a read finds nothing to read and has to wait, and never when data is there:
//     one system call per wait, none per read;
//   - where it only finds the socket below what it reads (a TLS connection the caller
//     made, a Dialer's wrapper with a NetConn method), it turns TCP_QUICKACK on before
//     each read of that connection (rearmQuickAck), since it cannot tell which of them
//     will wait.

// quickAckTCP is a TCP connection whose reads turn TCP_QUICKACK on whenever they have to
// wait for the network (readQuickAck). Every other method is the *net.TCPConn's.
type quickAckTCP struct {
	*net.TCPConn
	rc syscall.RawConn
	// readFn is q.readOnce, bound once; p, n and err are the read in progress, so that a
	// read allocates nothing. Reads of a quickAckTCP are never concurrent: its one reader
	// is the Conn's owner or the TLS connection above it, which reads under its lock.
	readFn func(fd uintptr) bool
	p      []byte
	n      int
	err    error
}

// withQuickAck returns nc read through quickAckTCP when it is a *net.TCPConn, want is set
// and the platform has TCP_QUICKACK; otherwise nc itself.
func withQuickAck(nc net.Conn, want bool) net.Conn {
	tcp, ok := nc.(*net.TCPConn)
	if !ok || !want || !quickAckSupported {
		return nc
	}
	rc, err := tcp.SyscallConn()
	if err != nil {
		return nc
	}
	q := &quickAckTCP{TCPConn: tcp, rc: rc}
	q.readFn = q.readOnce
	return q
}

// NetConn returns the TCP connection.
func (q *quickAckTCP) NetConn() net.Conn { return q.TCPConn }

// readsQuickAck reports whether reads of nc turn TCP_QUICKACK on by themselves: nc is, or
// is a TLS connection over, a quickAckTCP.
func readsQuickAck(nc net.Conn) bool {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	_, ok := nc.(*quickAckTCP)
	return ok
}

// quickAckConn returns the socket below nc on which the Conn turns TCP_QUICKACK on
// before each read (Options.DisableQuickAck): nc itself when it is a *net.TCPConn, the
// one below a TLS connection or any other wrapper with a NetConn method, or nil when there
// is none, the platform has no TCP_QUICKACK, or a quickAckTCP below does it already.
func quickAckConn(nc net.Conn) syscall.RawConn {
	if !quickAckSupported {
		return nil
	}
	for range 8 { // wrappers of wrappers, but not forever
		switch c := nc.(type) {
		case *quickAckTCP:
			return nil
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
