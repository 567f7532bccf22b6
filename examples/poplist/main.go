// Command poplist lists the messages of a POP3 mailbox without downloading their bodies:
// number, size, unique-id, and the Date, From and Subject of each, read with TOP
// (pipelined where the server allows it), with RFC 2047 encoded words decoded in any
// charset. It changes nothing on the server.
//
//	go run ./examples/poplist -demo
//	POP3_PASSWORD=secret go run ./examples/poplist -addr pop.example.org -user alice
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/text/encoding/htmlindex"

	"github.com/popwire/pop3"
	"github.com/popwire/pop3/examples/internal/cli"
	"github.com/popwire/pop3/examples/internal/demo"
)

func main() {
	os.Exit(poplist(os.Args[1:], os.Stdout, os.Stderr))
}

// poplist runs the command and returns its exit status.
func poplist(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("poplist", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f cli.Flags
	f.Register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := f.Check(); err != nil {
		fmt.Fprintf(stderr, "poplist: %v\n", err)
		fs.Usage()
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	password := ""
	if f.Demo {
		addr, stopDemo, err := demo.Start()
		if err != nil {
			fmt.Fprintf(stderr, "poplist: demo server: %v\n", err)
			return 1
		}
		defer stopDemo()
		f.Addr, f.User, password, f.TLS = addr, demo.User, demo.Pass, "none"
	} else {
		p, err := cli.Password(f.User)
		if err != nil {
			fmt.Fprintf(stderr, "poplist: %v\n", err)
			return 2
		}
		password = p
	}
	if err := run(ctx, &f, password, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "poplist: %s\n", cli.Explain(err, &f))
		return 1
	}
	return 0
}

// entry is one line of the listing.
type entry struct {
	number              int
	size                int64
	uid                 string
	date, from, subject string
}

func run(ctx context.Context, f *cli.Flags, password string, stdout, stderr io.Writer) error {
	opts, err := f.Options(stderr)
	if err != nil {
		return err
	}
	c, err := f.Dial(ctx, opts)
	if err != nil {
		return err
	}
	defer c.Close()
	stopOnCancel := context.AfterFunc(ctx, func() { c.Close() })
	defer stopOnCancel()
	if err := c.Login(f.User, password); err != nil {
		return err
	}
	list, err := c.List()
	if err != nil {
		return err
	}
	uids, err := c.UIDL()
	var perr *pop3.Error
	if errors.As(err, &perr) {
		uids, err = nil, nil // no UIDL on this server: the column stays empty
	}
	if err != nil {
		return err
	}
	uidOf := make(map[int]string, len(uids))
	for _, u := range uids {
		uidOf[u.Number] = u.UID
	}
	entries := make(map[int]*entry, len(list))
	nums := make([]int, len(list))
	for i, l := range list {
		nums[i] = l.Number
		entries[l.Number] = &entry{number: l.Number, size: l.Size, uid: uidOf[l.Number]}
	}
	err = c.TopEach(nums, 0, func(n int, header io.Reader) error {
		e := entries[n]
		msg, err := mail.ReadMessage(header)
		if err != nil {
			e.subject = fmt.Sprintf("(header not readable: %v)", err)
			return nil
		}
		e.date = formatDate(msg.Header.Get("Date"))
		e.from = decode(msg.Header.Get("From"))
		e.subject = decode(msg.Header.Get("Subject"))
		return nil
	})
	if err != nil {
		return err
	}
	c.Quit()
	if len(list) == 0 {
		fmt.Fprintln(stdout, "0 messages")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tSIZE\tUNIQUE-ID\tDATE\tFROM\tSUBJECT")
	for _, l := range list {
		e := entries[l.Number]
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\n", e.number, e.size, e.uid, e.date, clip(e.from, 40), clip(e.subject, 70))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d messages\n", len(list))
	return nil
}

// decoder decodes RFC 2047 encoded words in any charset x/text knows.
var decoder = &mime.WordDecoder{CharsetReader: func(charset string, input io.Reader) (io.Reader, error) {
	enc, err := htmlindex.Get(charset)
	if err != nil {
		return nil, err
	}
	return enc.NewDecoder().Reader(input), nil
}}

// decode returns a header value with its encoded words decoded; one that does not decode
// is shown as it came.
func decode(v string) string {
	s, err := decoder.DecodeHeader(v)
	if err != nil {
		return v
	}
	return strings.Join(strings.Fields(s), " ")
}

// formatDate shortens an RFC 5322 date; one that does not parse is shown as it came.
func formatDate(v string) string {
	t, err := mail.ParseDate(v)
	if err != nil {
		return v
	}
	return t.Format(time.DateTime + " -0700")
}

// clip shortens s to n characters.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
