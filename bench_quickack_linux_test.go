package pop3_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/popwire/pop3"
	"github.com/popwire/pop3/internal/mailutilstest"
	"github.com/popwire/pop3/internal/realserver"
	"github.com/popwire/pop3/pop3test"
)

// BenchmarkSerialRetr times one Retr at a time, each read to its end before the next is
// sent, against a server that writes a reply's status line and its body in two writes
// with Nagle's algorithm on, as GNU Mailutils, Cyrus, Courier, WildDuck, perdition and
// Twisted do: the body waits for the ACK of the status line, which a client with delayed
// ACKs sends some 40 ms later. The client (TCP_QUICKACK re-armed before each read by
// default on Linux, and with Options.DisableQuickAck) is compared with a raw socket that
// sends the same command and reads the same octets, re-arming TCP_QUICKACK itself, and
// with the raw socket without it. The same loop runs against GNU Mailutils where pop3d is
// installed (BenchmarkSerialRetrMailutils). Each op is one message.
//
//	go test -run '^$' -bench SerialRetr -benchtime 200x .
func BenchmarkSerialRetr(b *testing.B) {
	msg := benchMessage(10_000) // one segment: Nagle holds it back whole
	split := splitServer(b, msg)
	b.Run("split/raw-quickack", func(b *testing.B) { rawRetrLoop(b, split, "user", "pass", true) })
	b.Run("split/raw", func(b *testing.B) { rawRetrLoop(b, split, "user", "pass", false) })
	b.Run("split/client", func(b *testing.B) { clientRetrLoop(b, split, "user", "pass", nil) })
	b.Run("split/client-noquickack", func(b *testing.B) {
		clientRetrLoop(b, split, "user", "pass", &pop3.Options{DisableQuickAck: true})
	})

}

// BenchmarkSerialRetrMailutils is BenchmarkSerialRetr's loop against GNU Mailutils pop3d
// (internal/mailutilstest), skipped where it is not installed.
func BenchmarkSerialRetrMailutils(b *testing.B) {
	msg := benchMessage(10_000)
	stored := []byte(strings.ReplaceAll(string(msg), "\r\n", "\n"))
	mu := mailutilstest.Start(b, []realserver.Message{{Name: "bench", Data: stored}})
	user, pass := mailutilstest.Login("alice"), "secret"
	b.Run("raw-quickack", func(b *testing.B) { rawRetrLoop(b, mu.Addr, user, pass, true) })
	b.Run("raw", func(b *testing.B) { rawRetrLoop(b, mu.Addr, user, pass, false) })
	b.Run("client", func(b *testing.B) { clientRetrLoop(b, mu.Addr, user, pass, nil) })
	b.Run("client-noquickack", func(b *testing.B) {
		clientRetrLoop(b, mu.Addr, user, pass, &pop3.Options{DisableQuickAck: true})
	})
}

// clientRetrLoop logs in to addr and retrieves message 1 b.N times with Retr.
func clientRetrLoop(b *testing.B, addr, user, pass string, opts *pop3.Options) {
	var c *pop3.Client
	for try := 0; c == nil; try++ {
		var err error
		if c, err = pop3.Dial(addr, opts); err != nil {
			b.Fatal(err)
		}
		if err = c.Login(user, pass); err != nil {
			c.Close()
			c = nil
			var perr *pop3.Error
			if !errors.As(err, &perr) || !perr.HasCode("IN-USE") || try == 100 {
				b.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond) // the previous run's server process is ending
		}
	}
	defer c.Quit()
	var buf [32 << 10]byte
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := c.Retr(1)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyBuffer(io.Discard, r, buf[:]); err != nil {
			b.Fatal(err)
		}
	}
}

// rawRetrLoop logs in to addr with a plain socket, measures the reply to "RETR 1" once,
// and then sends it b.N times, reading exactly that many octets each time; with quickAck
// it turns TCP_QUICKACK on before every read.
func rawRetrLoop(b *testing.B, addr, user, pass string, quickAck bool) {
	var conn net.Conn
	var r *bufio.Reader
	expect := func() string {
		l, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(l, "+OK") {
			b.Fatalf("raw: %q, %v", l, err)
		}
		return l
	}
	for try := 0; conn == nil; try++ {
		var err error
		if conn, err = net.Dial("tcp", addr); err != nil {
			b.Fatal(err)
		}
		r = bufio.NewReader(conn)
		expect()
		fmt.Fprintf(conn, "USER %s\r\n", user)
		expect()
		fmt.Fprintf(conn, "PASS %s\r\n", pass)
		if l, err := r.ReadString('\n'); strings.HasPrefix(l, "-ERR [IN-USE]") && try < 100 {
			conn.Close()
			conn = nil
			time.Sleep(10 * time.Millisecond) // the previous run's server process is ending
		} else if err != nil || !strings.HasPrefix(l, "+OK") {
			b.Fatalf("raw: %q, %v", l, err)
		}
	}
	defer func() {
		fmt.Fprintf(conn, "QUIT\r\n")
		r.ReadString('\n')
		conn.Close()
	}()
	rc, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	fmt.Fprintf(conn, "RETR 1\r\n")
	n := len(expect())
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			b.Fatal(err)
		}
		n += len(l)
		if l == ".\r\n" {
			break
		}
	}
	if r.Buffered() != 0 {
		b.Fatal("raw: octets after the reply")
	}
	buf := make([]byte, 64<<10)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := conn.Write([]byte("RETR 1\r\n")); err != nil {
			b.Fatal(err)
		}
		for left := n; left > 0; {
			if quickAck {
				rc.Control(func(fd uintptr) {
					syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
				})
			}
			m, err := conn.Read(buf[:min(left, len(buf))])
			if err != nil {
				b.Fatal(err)
			}
			left -= m
		}
	}
}

// splitServer serves POP3 on 127.0.0.1 with every connection's Nagle algorithm on and
// every status line written before, and apart from, the body that follows it. Any user
// and password log in; the maildrop is msg alone.
func splitServer(tb testing.TB, msg []byte) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	tb.Cleanup(func() { l.Close(); <-done })
	body := append([]byte(strings.ReplaceAll(string(msg), "\r\n.", "\r\n..")), ".\r\n"...)
	status := fmt.Sprintf("+OK %d octets\r\n", len(msg))
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			c.(*net.TCPConn).SetNoDelay(false)
			go serveSplit(c, status, body)
		}
	}()
	return l.Addr().String()
}

func serveSplit(c net.Conn, status string, body []byte) {
	defer c.Close()
	io.WriteString(c, "+OK ready\r\n")
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		switch cmd := strings.ToUpper(strings.Fields(line + " x")[0]); cmd {
		case "CAPA":
			io.WriteString(c, "+OK\r\n")
			io.WriteString(c, "USER\r\nUIDL\r\n.\r\n")
		case "RETR":
			io.WriteString(c, status)
			c.Write(body)
		case "QUIT":
			io.WriteString(c, "+OK bye\r\n")
			return
		default:
			io.WriteString(c, "+OK\r\n")
		}
	}
}

// BenchmarkRetrQuickAck is the cost of TCP_QUICKACK on bulk retrieval, where it brings
// nothing (pop3test.Mailbox writes with Nagle off): BenchmarkRetr's loop with the default
// Options and with DisableQuickAck, one system call more per read of the socket.
//
//	go test -run '^$' -bench RetrQuickAck -benchmem .
func BenchmarkRetrQuickAck(b *testing.B) {
	for _, size := range []int{1 << 20, 64 << 20} {
		msg := benchMessage(size)
		addr := (&pop3test.Mailbox{Messages: [][]byte{msg}}).Start(b)
		for _, disable := range []bool{false, true} {
			name := fmt.Sprintf("quickack/%dMiB", size>>20)
			if disable {
				name = fmt.Sprintf("noquickack/%dMiB", size>>20)
			}
			b.Run(name, func(b *testing.B) {
				c, err := pop3.Dial(addr, &pop3.Options{DisableQuickAck: disable})
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				if err := c.Login("user", "pass"); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(msg)))
				b.ResetTimer()
				retrLoop(b, c, len(msg))
			})
		}
	}
}
