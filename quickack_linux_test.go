package pop3

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client *net.TCPConn, server net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { nc.Close(); server.Close() })
	return nc.(*net.TCPConn), server
}

func quickAckOn(t *testing.T, rc syscall.RawConn) bool {
	t.Helper()
	var v int
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		v, gerr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK)
	}); err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	return v != 0
}

// TestReadQuickAck checks quickAckTCP's reads: they return what arrived, io.EOF at the end,
// a timeout error at the read deadline, net.ErrClosed after Close; and a read that has to
// wait turns TCP_QUICKACK on (Linux reports it off again once the socket is in
// delayed-ACK mode, which setting it to 0 forces here).
func TestReadQuickAck(t *testing.T) {
	tcp, server := tcpPair(t)
	q := withQuickAck(tcp, true).(*quickAckTCP)
	set := func(v int) {
		q.rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, v) })
	}

	set(0)
	if quickAckOn(t, q.rc) {
		t.Fatal("TCP_QUICKACK still on after setting it to 0")
	}
	q.SetReadDeadline(time.Now().Add(20 * time.Millisecond)) // nothing is ever sent before it
	var buf [16]byte
	n, err := q.Read(buf[:])
	var ne net.Error
	if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read with nothing sent: %d, %v; want a timeout", n, err)
	}
	if !quickAckOn(t, q.rc) {
		t.Error("a read that waited left TCP_QUICKACK off")
	}

	q.SetReadDeadline(time.Time{})
	if _, err := server.Write([]byte("+OK\r\n")); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(io.LimitReader(q, 5))
	if string(got) != "+OK\r\n" || err != nil {
		t.Fatalf("read %q, %v", got, err)
	}
	if n, err := q.Read(nil); n != 0 || err != nil {
		t.Errorf("empty read: %d, %v", n, err)
	}
	server.Close()
	if n, err := q.Read(buf[:]); n != 0 || err != io.EOF {
		t.Errorf("read at the end: %d, %v; want io.EOF", n, err)
	}

	tcp2, _ := tcpPair(t)
	q2 := withQuickAck(tcp2, true).(*quickAckTCP)
	done := make(chan error, 1)
	go func() { _, err := q2.Read(buf[:]); done <- err }()
	q2.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Errorf("read during Close: %v; want net.ErrClosed", err)
	}
	if _, err := q2.Read(buf[:]); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after Close: %v; want net.ErrClosed", err)
	}
}
