package pop3

import (
	"crypto/tls"
	"net"
	"testing"
)

// wrapped is a connection from a custom Dialer that shows what it wraps.
type wrapped struct{ net.Conn }

func (w wrapped) NetConn() net.Conn { return w.Conn }

// TestQuickAckFindsTheSocket checks which connections get TCP_QUICKACK re-armed before
// each read: a *net.TCPConn, the TCP connection below TLS, and below a Dialer's wrapper
// that has a NetConn method; not a connection with no socket below it, and none with
// Options.DisableQuickAck.
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
	for _, tc := range []struct {
		name string
		nc   net.Conn
		opts *Options
		want bool
	}{
		{"tcp", tcp, nil, true},
		{"tls", tls.Client(tcp, &tls.Config{ServerName: "localhost"}), nil, true},
		{"wrapper", wrapped{tcp}, nil, true},
		{"tls over a wrapper", tls.Client(wrapped{tcp}, &tls.Config{ServerName: "localhost"}), nil, true},
		{"pipe", p1, nil, false},
		{"disabled", tcp, &Options{DisableQuickAck: true}, false},
	} {
		c := NewConn(tc.nc, tc.opts)
		if got, want := c.quickAck != nil, tc.want && quickAckSupported; got != want {
			t.Errorf("%s: re-arms TCP_QUICKACK %v, want %v", tc.name, got, want)
		}
	}
}
