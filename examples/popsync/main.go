// Command popsync copies new messages from a POP3 mailbox into a directory, one file per
// message named after its unique-id, and remembers what it has copied there, so that mail
// left on the server is fetched once. Copies that share a unique-id (a server may give two
// identical messages the same one) are stored in files of their own. With -delete it
// removes from the server the messages it has safely stored: they are marked with DELE and
// removed only by a clean QUIT.
//
//	POP3_PASSWORD=secret popsync -addr pop.example.org:995 -user alice -dir ./mail
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/popwire/pop3"
)

func main() {
	addr := flag.String("addr", "", "server host:port (995 with -tls, 110 without)")
	user := flag.String("user", "", "user name; the password is read from $POP3_PASSWORD")
	dir := flag.String("dir", "mail", "directory for the messages")
	useTLS := flag.Bool("tls", true, "connect with implicit TLS")
	del := flag.Bool("delete", false, "delete the messages from the server once stored")
	timeout := flag.Duration("timeout", time.Minute, "bound on every wait on the server")
	flag.Parse()
	if *addr == "" || *user == "" {
		flag.Usage()
		os.Exit(2)
	}
	n, err := run(*addr, *user, os.Getenv("POP3_PASSWORD"), *dir, *useTLS, *del, *timeout)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d new messages stored in %s\n", n, *dir)
}

// fileName maps a unique-id, which may hold any printable octet, to a safe file name;
// occurrence counts the messages listed before with the same unique-id, so that each has
// its own file.
func fileName(uid string, occurrence int) string {
	sum := sha256.Sum256([]byte(uid))
	name := hex.EncodeToString(sum[:16])
	if occurrence > 0 {
		name += fmt.Sprintf("-%d", occurrence)
	}
	return name + ".eml"
}

func run(addr, user, password, dir string, useTLS, del bool, timeout time.Duration) (int, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, err
	}
	dial := pop3.Dial
	if useTLS {
		dial = pop3.DialTLS
	}
	c, err := dial(addr, &pop3.Options{Timeout: timeout})
	if err != nil {
		return 0, err
	}
	defer c.Close() // without a successful Quit, the server deletes nothing
	if err := c.Login(user, password); err != nil {
		return 0, err
	}
	uids, err := c.UIDL()
	if err != nil {
		return 0, err
	}
	// Message numbers last one session: the plan is made from this session's UIDL.
	var fetch, stored []int
	nameOf := make(map[int]string, len(uids))
	copies := make(map[string]int, len(uids))
	for _, u := range uids {
		nameOf[u.Number] = filepath.Join(dir, fileName(u.UID, copies[u.UID]))
		copies[u.UID]++
		if _, err := os.Stat(nameOf[u.Number]); err == nil {
			stored = append(stored, u.Number)
		} else {
			fetch = append(fetch, u.Number)
		}
	}
	err = c.RetrEach(fetch, func(n int, msg io.Reader) error {
		tmp, err := os.CreateTemp(dir, ".incoming-*")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		if _, err := io.Copy(tmp, msg); err != nil {
			tmp.Close()
			return err
		}
		if err := tmp.Sync(); err != nil {
			tmp.Close()
			return err
		}
		if err := tmp.Close(); err != nil {
			return err
		}
		if err := os.Rename(tmp.Name(), nameOf[n]); err != nil {
			return err
		}
		stored = append(stored, n)
		return nil
	})
	if err != nil {
		return 0, err
	}
	if del {
		if err := c.DeleEach(stored); err != nil {
			return len(fetch), err
		}
	}
	return len(fetch), c.Quit()
}
