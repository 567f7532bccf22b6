package pop3_test

// A tiny SOCKS5 proxy (RFC 1928: no authentication, CONNECT only) on 127.0.0.1 for the
// tests and the examples: it records every address it is asked to connect to and connects
// to redirect(address) instead, always a local server, so that a test can "reach"
// pop.example.org without ever leaving the machine.

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

type socks5Proxy struct {
	ln       net.Listener
	redirect func(target string) string
	wg       sync.WaitGroup

	mu      sync.Mutex
	targets []string
	conns   []net.Conn
}

// startSOCKS5 starts the proxy; Close stops it and every connection it relays.
func startSOCKS5(redirect func(target string) string) (*socks5Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &socks5Proxy{ln: ln, redirect: redirect}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.track(c)
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.serve(c)
			}()
		}
	}()
	return p, nil
}

// Addr is the proxy's address.
func (p *socks5Proxy) Addr() string { return p.ln.Addr().String() }

// Targets returns the addresses clients asked the proxy to connect to, in order.
func (p *socks5Proxy) Targets() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.targets...)
}

func (p *socks5Proxy) track(c net.Conn) {
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
}

// Close stops the proxy and waits for its goroutines.
func (p *socks5Proxy) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

// serve runs one SOCKS5 session: the method negotiation, one CONNECT, then the relay.
func (p *socks5Proxy) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	target, err := socks5Handshake(c)
	if err != nil {
		return
	}
	p.mu.Lock()
	p.targets = append(p.targets, target)
	p.mu.Unlock()
	up, err := net.DialTimeout("tcp", p.redirect(target), 10*time.Second)
	if err != nil {
		c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0}) // connection refused
		return
	}
	p.track(up)
	defer up.Close()
	if _, err := c.Write([]byte{5, 0, 0, 1, 127, 0, 0, 1, 0, 0}); err != nil {
		return
	}
	c.SetDeadline(time.Time{})
	done := make(chan struct{})
	go func() {
		io.Copy(up, c)
		up.(*net.TCPConn).CloseWrite()
		close(done)
	}()
	io.Copy(c, up)
	c.(*net.TCPConn).CloseWrite()
	<-done
}

// socks5Handshake reads the greeting and the CONNECT request, and returns the target.
func socks5Handshake(c net.Conn) (string, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil || hdr[0] != 5 {
		return "", errors.New("socks5: not version 5")
	}
	methods := make([]byte, hdr[1])
	if _, err := io.ReadFull(c, methods); err != nil {
		return "", err
	}
	if _, err := c.Write([]byte{5, 0}); err != nil { // no authentication
		return "", err
	}
	var req [4]byte
	if _, err := io.ReadFull(c, req[:]); err != nil || req[0] != 5 || req[1] != 1 {
		return "", errors.New("socks5: not a CONNECT")
	}
	var host string
	switch req[3] {
	case 1, 4: // IPv4, IPv6
		ip := make(net.IP, 4)
		if req[3] == 4 {
			ip = make(net.IP, 16)
		}
		if _, err := io.ReadFull(c, ip); err != nil {
			return "", err
		}
		host = ip.String()
	case 3: // a domain name, resolved by the proxy
		var n [1]byte
		if _, err := io.ReadFull(c, n[:]); err != nil {
			return "", err
		}
		name := make([]byte, n[0])
		if _, err := io.ReadFull(c, name); err != nil {
			return "", err
		}
		host = string(name)
	default:
		return "", errors.New("socks5: unknown address type")
	}
	var port [2]byte
	if _, err := io.ReadFull(c, port[:]); err != nil {
		return "", err
	}
	return net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(port[:])))), nil
}
