package pop3_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/popwire/pop3"
	"golang.org/x/net/proxy"
)

// ListAll gives each message's number, size and unique-id in one round trip where the
// server lists PIPELINING.
func ExampleClient_ListAll() {
	addr, stop := serveExample("Subject: a\r\n\r\nA\r\n", "Subject: b\r\n\r\nBB\r\n")
	defer stop()
	c, err := pop3.Dial(addr, nil) // on the Internet: pop3.DialTLS("host", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("user", "pass"); err != nil {
		log.Fatal(err)
	}
	msgs, err := c.ListAll()
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range msgs {
		if m.UID == "" {
			log.Fatal("the server gives no unique-ids: UIDL is missing")
		}
		fmt.Printf("%d %s %d octets\n", m.Number, m.UID, m.Size)
	}
	// Output:
	// 1 uid-1 17 octets
	// 2 uid-2 18 octets
}

// Any call can be cancelled with a context: context.AfterFunc closes the Client when the
// context ends, which aborts the call in progress with an error matching net.ErrClosed.
// The Client cannot be used afterwards; nothing marked deleted is removed.
func Example_cancel() {
	addr, stop := serveSilent() // greets, then never answers
	defer stop()
	c, err := pop3.Dial(addr, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	stopCancel := context.AfterFunc(ctx, func() { c.Close() })
	defer stopCancel()

	_, err = c.Capabilities() // or Login, Retr, RetrEach, ...
	if errors.Is(err, net.ErrClosed) && ctx.Err() != nil {
		fmt.Println("cancelled:", ctx.Err())
	}
	// Output: cancelled: context deadline exceeded
}

// Options.Dialer puts a SOCKS5 proxy, from golang.org/x/net/proxy, below the session; TLS
// and STLS run over it as over TCP, the certificate checked against the dialled host.
// The cleartext policy looks at the address dialled, not at the proxy: a password goes in
// cleartext only to a loopback address, as here.
func ExampleOptions_socks5() {
	addr, stop := serveExample("Subject: a\r\n\r\nA\r\n")
	defer stop()
	socks, err := startSOCKS5(func(string) string { return addr }) // a local SOCKS5 proxy
	if err != nil {
		log.Fatal(err)
	}
	defer socks.Close()

	d, err := proxy.SOCKS5("tcp", socks.Addr(), nil, proxy.Direct)
	if err != nil {
		log.Fatal(err)
	}
	opts := &pop3.Options{Dialer: d.(proxy.ContextDialer)}
	c, err := pop3.Dial(addr, opts) // on the Internet: pop3.DialTLS("pop.example.org", opts)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("user", "pass"); err != nil {
		log.Fatal(err)
	}
	n, size, err := c.Stat()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, "message,", size, "octets, through", len(socks.Targets()), "proxied connection")
	// Output: 1 message, 17 octets, through 1 proxied connection
}

// serveSilent starts a server on 127.0.0.1 that greets each client and then reads
// without ever answering; stop closes it.
func serveSilent() (addr string, stop func()) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprint(c, "+OK ready\r\n")
			go func() {
				defer c.Close()
				s := bufio.NewScanner(c)
				for s.Scan() {
				}
			}()
		}
	}()
	return l.Addr().String(), func() { l.Close(); <-done }
}
