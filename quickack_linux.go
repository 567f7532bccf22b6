//go:build linux

package pop3

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// rearmQuickAck turns TCP_QUICKACK on for the socket rc before a read. Linux clears it
// again on its own (whenever the socket sends data soon after receiving some), so it is
// set again before every read that may wait: the ACK of a status line then leaves at
// once, and a server that writes the body separately with Nagle's algorithm on (GNU
// Mailutils, Cyrus, Courier) sends it without waiting ~40 ms for a delayed ACK. Setting it
// also sends an ACK that is pending. An error (a socket closed meanwhile) is the next
// read's to report.
func rearmQuickAck(rc syscall.RawConn) {
	rc.Control(func(fd uintptr) { setQuickAck(fd) })
}

func setQuickAck(fd uintptr) {
	syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
}

// Read reads the socket through rc, turning TCP_QUICKACK on each time the socket has
// nothing to read and the read is about to wait: what a rearmQuickAck before every read
// does, without its system call when data is already there. Deadlines and Close apply as
// to the TCP connection's Read (the runtime's poller waits), and errors are the same
// kinds: a *net.OpError, io.EOF at the end of the stream.
func (q *quickAckTCP) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	q.p, q.n, q.err = p, 0, nil
	err := q.rc.Read(q.readFn)
	n, rerr := q.n, q.err
	q.p, q.err = nil, nil
	if err == nil && rerr != nil {
		err = os.NewSyscallError("read", rerr)
	}
	if err != nil {
		var oe *net.OpError
		if errors.As(err, &oe) {
			oe.Op = "read"
			return 0, oe
		}
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: q.LocalAddr(), Addr: q.RemoteAddr(), Err: err}
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// readOnce is the read of Read's rc.Read: it reads the socket once (again after EINTR),
// and when there is nothing to read turns TCP_QUICKACK on and asks to wait.
func (q *quickAckTCP) readOnce(fd uintptr) bool {
	for {
		q.n, q.err = syscall.Read(int(fd), q.p)
		if q.err != syscall.EINTR {
			break
		}
	}
	if q.err == syscall.EAGAIN {
		setQuickAck(fd)
		return false // wait until the socket is readable, then read again
	}
	if q.n < 0 {
		q.n = 0
	}
	return true
}

// quickAckSupported reports whether rearmQuickAck does anything here.
const quickAckSupported = true
