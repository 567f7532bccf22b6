package pop3

import (
	"crypto/tls"
	"net"
	"testing"
)

// wrapped is a connection from a custom Dialer that shows what it wraps.
type wrapped struct{ net.Conn }

func (w wrapped) NetConn() net.Conn { return w.Conn }

// TestQuickAckFindsTheSocket checks how each connection gets TCP_QUICKACK turned on: a
// *net.TCPConn is read through quickAckTCP (on when a read waits), and so is the one below
// a TLS connection the library makes (withQuickAck), whose reads the Conn then leaves
// alone; the TCP connection below a TLS connection the caller made, or below a Dialer's
// wrapper that has a NetConn method, is re-armed before each read; a connection with no
// socket below it gets neither, and none does with Options.DisableQuickAck.
func TestQuickAckFindsTheSocket(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	tcp, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	const none, sock, perRead, below = "none", "on each wait", "before each read", "by the reads below"
	cfg := &tls.Config{ServerName: "localhost"}
	for _, tc := range []struct {
		name string
		nc   net.Conn
		opts *Options
		want string
	}{
		{"tcp", tcp, nil, sock},
		{"tls", tls.Client(tcp, cfg), nil, perRead},
		{"tls the library made", tls.Client(withQuickAck(tcp, true), cfg), nil, below},
		{"tls the library made, disabled", tls.Client(withQuickAck(tcp, false), cfg), &Options{DisableQuickAck: true}, none},
		{"wrapper", wrapped{tcp}, nil, perRead},
		{"tls over a wrapper", tls.Client(wrapped{tcp}, cfg), nil, perRead},
		{"pipe", p1, nil, none},
		{"disabled", tcp, &Options{DisableQuickAck: true}, none},
	} {
		c := NewConn(tc.nc, tc.opts)
		got := none
		switch {
		case c.sock != nil:
			got = sock
		case c.quickAck != nil:
			got = perRead
		case readsQuickAck(tc.nc):
			got = below
		}
		if want := tc.want; !quickAckSupported {
			if got != none {
				t.Errorf("%s: TCP_QUICKACK %s on a platform without it", tc.name, got)
			}
		} else if got != want {
			t.Errorf("%s: TCP_QUICKACK %s, want %s", tc.name, got, want)
		}
	}
}
