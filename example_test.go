package pop3_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strings"

	"github.com/popwire/pop3"
	"github.com/popwire/pop3/pop3test"
)

// serveExample starts an in-memory server on 127.0.0.1 holding msgs; stop closes it.
func serveExample(msgs ...string) (addr string, stop func()) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	mb := &pop3test.Mailbox{Pipelining: true}
	for _, m := range msgs {
		mb.Messages = append(mb.Messages, []byte(m))
	}
	done := make(chan struct{})
	go func() { mb.Serve(l); close(done) }()
	return l.Addr().String(), func() { l.Close(); <-done }
}

// Fetch every message, then delete them all with a clean QUIT.
func Example() {
	addr, stop := serveExample(
		"Subject: first\r\n\r\n.leading dot\r\n",
		"Subject: second\r\n\r\nHello\r\n",
	)
	defer stop()

	c, err := pop3.Dial(addr, nil) // on the Internet: pop3.DialTLS("host:995", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("user", "pass"); err != nil {
		log.Fatal(err)
	}
	uids, err := c.UIDL()
	if err != nil {
		log.Fatal(err)
	}
	for _, u := range uids {
		msg, err := c.Retr(u.Number)
		if err != nil {
			log.Fatal(err)
		}
		body, err := io.ReadAll(msg)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %q\n", u.UID, body)
		if err := c.Dele(u.Number); err != nil {
			log.Fatal(err)
		}
	}
	if err := c.Quit(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// uid-1: "Subject: first\r\n\r\n.leading dot\r\n"
	// uid-2: "Subject: second\r\n\r\nHello\r\n"
}

// RetrEach pipelines the RETR commands when the server lists PIPELINING.
func ExampleClient_RetrEach() {
	addr, stop := serveExample("Subject: a\r\n\r\nA\r\n", "Subject: b\r\n\r\nB\r\n", "Subject: c\r\n\r\nC\r\n")
	defer stop()
	c, err := pop3.Dial(addr, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close() // no Quit: nothing is deleted
	if err := c.Login("user", "pass"); err != nil {
		log.Fatal(err)
	}
	err = c.RetrEach([]int{1, 2, 3}, func(n int, msg io.Reader) error {
		body, err := io.ReadAll(msg) // or io.Copy to a file
		fmt.Printf("message %d: %q\n", n, body)
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// message 1: "Subject: a\r\n\r\nA\r\n"
	// message 2: "Subject: b\r\n\r\nB\r\n"
	// message 3: "Subject: c\r\n\r\nC\r\n"
}

// A negative reply is an *Error whose Code tells what went wrong.
func ExampleError() {
	addr, stop := serveExample()
	defer stop()
	c, err := pop3.Dial(addr, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	err = c.Login("user", "wrong")
	var perr *pop3.Error
	if errors.As(err, &perr) {
		switch {
		case perr.HasCode("AUTH"):
			fmt.Println("bad credentials")
		case perr.Temporary(): // IN-USE, LOGIN-DELAY, SYS/TEMP
			fmt.Println("try again later")
		default:
			fmt.Println("refused:", perr.Command)
		}
	}
	// Output: bad credentials
}

// Conn sends commands the Client does not, such as LIST with an argument.
func ExampleConn() {
	addr, stop := serveExample("Subject: x\r\n\r\nbody\r\n")
	defer stop()
	c, err := pop3.Dial(addr, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("user", "pass"); err != nil {
		log.Fatal(err)
	}
	conn := c.Conn()
	if err := conn.Cmd("LIST", "1"); err != nil {
		log.Fatal(err)
	}
	resp, err := conn.ReadResponse()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.Fields(resp.Text)[1], "octets")
	// Output: 20 octets
}
