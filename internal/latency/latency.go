// Package latency is a TCP proxy on 127.0.0.1 that holds back what it forwards, as a long
// link would, for the benchmarks (the kernel here has no netem).
package latency

import (
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy forwards connections to target, delivering everything it receives oneWay after it
// arrived, in each direction: a round trip through it costs 2×oneWay. A new connection
// reaches target at once (the client's connect completes on 127.0.0.1): only data is
// delayed. It returns the proxy's address; a cleanup registered with tb closes it and its
// connections.
func Proxy(tb testing.TB, target string, oneWay time.Duration) string {
	tb.Helper()
	return proxy(tb, target, oneWay, 0)
}

// Link is Proxy with the TCP handshake of a real link as well: a new connection reaches
// target 3×oneWay after the client connected (SYN, SYN-ACK, and the ACK on which the
// server's accept returns), so that a greeting the server sends at once arrives 2 round
// trips after the client began to connect, as over a link of that round trip.
func Link(tb testing.TB, target string, oneWay time.Duration) string {
	tb.Helper()
	return proxy(tb, target, oneWay, 3*oneWay)
}

func proxy(tb testing.TB, target string, oneWay, handshake time.Duration) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	closed := false
	tb.Cleanup(func() {
		l.Close()
		mu.Lock()
		closed = true
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, in)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				// What the client sends before the handshake is over waits in the socket and
				// then takes oneWay like the rest.
				time.Sleep(handshake)
				out, err := net.Dial("tcp", target)
				if err != nil {
					in.Close()
					return
				}
				mu.Lock()
				if closed {
					mu.Unlock()
					out.Close()
					in.Close()
					return
				}
				conns = append(conns, out)
				mu.Unlock()
				wg.Add(2)
				go func() { defer wg.Done(); delayCopy(out, in, oneWay) }()
				go func() { defer wg.Done(); delayCopy(in, out, oneWay) }()
			}()
		}
	}()
	return l.Addr().String()
}

// delayCopy copies src to dst, each chunk written delay after it was read.
func delayCopy(dst, src net.Conn, delay time.Duration) {
	type chunk struct {
		at   time.Time
		data []byte
	}
	queue := make(chan chunk, 4096)
	go func() {
		defer close(queue)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				queue <- chunk{time.Now().Add(delay), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range queue {
		time.Sleep(time.Until(c.at))
		if _, err := dst.Write(c.data); err != nil {
			break
		}
	}
	dst.Close()
	for range queue {
	}
}
