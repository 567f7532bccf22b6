// Command poplist lists the messages of a POP3 mailbox: number, size, unique-id, and the
// Date, From and Subject of each, read with TOP so that no body is downloaded. It changes
// nothing on the server.
//
//	POP3_PASSWORD=secret poplist -addr pop.example.org:995 -user alice
package main

import (
	"flag"
	"fmt"
	"log"
	"net/mail"
	"os"
	"time"

	"github.com/popwire/pop3"
)

func main() {
	addr := flag.String("addr", "", "server host:port (995 with -tls, 110 without)")
	user := flag.String("user", "", "user name; the password is read from $POP3_PASSWORD")
	useTLS := flag.Bool("tls", true, "connect with implicit TLS")
	timeout := flag.Duration("timeout", time.Minute, "bound on every wait on the server")
	flag.Parse()
	if *addr == "" || *user == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*addr, *user, os.Getenv("POP3_PASSWORD"), *useTLS, *timeout); err != nil {
		log.Fatal(err)
	}
}

func run(addr, user, password string, useTLS bool, timeout time.Duration) error {
	dial := pop3.Dial
	if useTLS {
		dial = pop3.DialTLS
	}
	c, err := dial(addr, &pop3.Options{Timeout: timeout})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Login(user, password); err != nil {
		return err
	}
	list, err := c.List()
	if err != nil {
		return err
	}
	uids, err := c.UIDL()
	if err != nil {
		return err
	}
	uidOf := make(map[int]string, len(uids))
	for _, u := range uids {
		uidOf[u.Number] = u.UID
	}
	for _, m := range list {
		head, err := c.Top(m.Number, 0)
		if err != nil {
			return err
		}
		msg, err := mail.ReadMessage(head)
		head.Close()
		var date, from, subject string
		if err == nil {
			date, from, subject = msg.Header.Get("Date"), msg.Header.Get("From"), msg.Header.Get("Subject")
		}
		fmt.Printf("%5d %9d %-24s %-31s %-30s %s\n", m.Number, m.Size, uidOf[m.Number], date, from, subject)
	}
	return c.Quit()
}
