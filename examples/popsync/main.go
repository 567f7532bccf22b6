// Command popsync copies a POP3 mailbox into a Maildir, leaving the mail on the server
// unless told to remove it, the way Outlook's "leave a copy of messages on the server"
// does. It remembers per account which messages it has stored, in a state file in the
// Maildir directory, so each message is fetched once; several accounts may share one
// Maildir. A kill at any moment loses nothing and stores nothing twice: a message is on
// disk (fsynced) before it is recorded, and recorded before it is deleted from the server.
//
//	go run ./examples/popsync -demo
//	POP3_PASSWORD=secret go run ./examples/popsync -addr pop.example.org -user alice
//	go run ./examples/popsync -addr pop.example.org -user alice -delete-after 720h
//
// -delete-after 0s deletes every message right after it is stored; without the flag
// everything stays on the server. The password comes from $POP3_PASSWORD, or a prompt
// when standard input is a terminal.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/popwire/pop3"
	"github.com/popwire/pop3/examples/internal/cli"
	"github.com/popwire/pop3/examples/internal/demo"
)

func main() {
	os.Exit(popsync(os.Args[1:], os.Stdout, os.Stderr))
}

// config is what the command line asks for.
type config struct {
	cli.Flags
	maildir     string
	deleteAfter *time.Duration // nil: keep everything on the server
	password    string
	account     string // the account's name in the state; "" means pop3.SyncAccount
	progress    bool   // write progress to stderr
}

// popsync runs the command and returns its exit status.
func popsync(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("popsync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	cfg.Register(fs)
	fs.StringVar(&cfg.maildir, "maildir", "Maildir", "the Maildir `DIR` to deliver into (created if missing)")
	fs.Func("delete-after", "remove messages from the server this `DURATION` after they were stored (0s: at once); absent: keep them", func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return fmt.Errorf("want a duration such as 0s, 72h or 720h")
		}
		cfg.deleteAfter = &d
		return nil
	})
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage:\n  popsync -demo\n  popsync -addr HOST[:PORT] -user NAME [flags]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := cfg.Check(); err != nil {
		fmt.Fprintf(stderr, "popsync: %v\n", err)
		fs.Usage()
		return 2
	}
	if f, ok := stderr.(*os.File); ok && cli.IsTerminal(f) {
		cfg.progress = true
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if cfg.Demo {
		addr, stopDemo, err := demo.Start()
		if err != nil {
			fmt.Fprintf(stderr, "popsync: demo server: %v\n", err)
			return 1
		}
		defer stopDemo()
		cfg.Addr, cfg.User, cfg.password, cfg.TLS = addr, demo.User, demo.Pass, "none"
		cfg.account = demo.Account // the port changes every run; the mailbox does not
	} else {
		p, err := cli.Password(cfg.User)
		if err != nil {
			fmt.Fprintf(stderr, "popsync: %v\n", err)
			return 2
		}
		cfg.password = p
	}

	res, err := run(ctx, &cfg, stderr)
	switch {
	case err != nil && ctx.Err() != nil:
		fmt.Fprintf(stderr, "popsync: interrupted: %d messages (%d octets) stored in %s; nothing that was not stored was deleted\n",
			res.Fetched, res.Octets, cfg.maildir)
		return 130
	case err != nil:
		fmt.Fprintf(stderr, "popsync: %s\n", cli.Explain(err, &cfg.Flags))
		return 1
	}
	fmt.Fprintf(stdout, "fetched %d messages (%d octets) into %s, deleted %d from the server, kept %d there\n",
		res.Fetched, res.Octets, cfg.maildir, res.Deleted, res.Kept)
	if cfg.Demo {
		again := "Run it again: it fetches nothing new, since the state file in the Maildir remembers."
		if res.Fetched == 0 {
			again = "Nothing was new: the state file in the Maildir remembers what was stored."
		}
		fmt.Fprintf(stdout, "That was an in-process demo server. %s\n"+
			"For a real mailbox: POP3_PASSWORD=... popsync -addr pop.example.org -user NAME -maildir %s\n", again, cfg.maildir)
	}
	return 0
}

// run syncs the account into the Maildir.
func run(ctx context.Context, cfg *config, stderr io.Writer) (pop3.SyncResult, error) {
	opts, err := cfg.Options(stderr)
	if err != nil {
		return pop3.SyncResult{}, err
	}
	addr := cfg.Address()
	account := cfg.account
	if account == "" {
		account = pop3.SyncAccount(addr, cfg.User)
	}
	opts.Account = account
	md, err := openMaildir(cfg.maildir, account)
	if err != nil {
		return pop3.SyncResult{}, err
	}
	defer md.close()
	file, err := pop3.OpenSyncFile(md.statePath())
	if err != nil {
		return pop3.SyncResult{}, err
	}
	store := durableStore{file, md}
	c, err := cfg.Dial(ctx, opts)
	if err != nil {
		return pop3.SyncResult{}, err
	}
	defer c.Close() // without a clean QUIT the server removes nothing
	if err := c.Login(cfg.User, cfg.password); err != nil {
		var perr *pop3.Error
		if errors.As(err, &perr) && perr.HasCode("LOGIN-DELAY") {
			if st, lerr := store.Load(account); lerr == nil && !st.LastLogin.IsZero() {
				return pop3.SyncResult{}, fmt.Errorf("%w (last login %s)", err, st.LastLogin.Format(time.RFC3339))
			}
		}
		return pop3.SyncResult{}, err
	}
	var policy pop3.SyncPolicy
	if cfg.deleteAfter != nil {
		policy = pop3.SyncPolicy{Delete: true, DeleteAfter: *cfg.deleteAfter}
	}
	plan, err := c.PlanSync(ctx, store, policy)
	if err != nil {
		return pop3.SyncResult{}, err
	}
	if plan.ExpireZero {
		fmt.Fprintf(stderr, "popsync: warning: the server lists EXPIRE 0: it may remove messages once they are downloaded, whatever -delete-after says\n")
	}
	p := &progress{w: stderr, on: cfg.progress, total: len(plan.Fetch), octets: plan.FetchOctets, start: time.Now()}
	p.show()
	res, err := plan.Run(ctx, func(m pop3.SyncMessage, body io.Reader) error {
		if err := md.deliver(m, body); err != nil {
			return err
		}
		p.done(m.Size)
		return nil
	})
	p.end()
	return res, err
}

// progress writes "12/200 messages, 1.2/8.0 MB, 3.4 MB/s" to a terminal.
type progress struct {
	w              io.Writer
	on             bool
	total, n       int
	octets, got    int64
	start, updated time.Time
}

func (p *progress) done(size int64) {
	p.n++
	p.got += size
	if time.Since(p.updated) > 100*time.Millisecond || p.n == p.total {
		p.show()
	}
}

func (p *progress) show() {
	if !p.on {
		return
	}
	p.updated = time.Now()
	rate := float64(p.got) / 1e6 / max(time.Since(p.start).Seconds(), 1e-3)
	fmt.Fprintf(p.w, "\r%d/%d messages, %.1f/%.1f MB, %.1f MB/s ", p.n, p.total, float64(p.got)/1e6, float64(p.octets)/1e6, rate)
}

func (p *progress) end() {
	if p.on {
		fmt.Fprintln(p.w)
	}
}
