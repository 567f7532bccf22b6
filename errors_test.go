package pop3_test

import (
	"crypto/tls"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/popwire/pop3"
	. "github.com/popwire/pop3/pop3test"
)

// provoke is a call that should return a sentinel, against a server made for it.
type provoke func(t *testing.T) error

// sentinelCases lists, for each sentinel of errors.go, the calls its comment names (its
// doc links), each against a server that provokes it.
func sentinelCases() map[string]map[string]provoke {
	fresh := func(t *testing.T, steps ...Step) *pop3.Client { // greeted, not logged in
		c, _ := dial(t, &pop3.Options{MaxLineLength: 100, MaxListingEntries: 1}, append([]Step{greeting}, steps...)...)
		return c
	}
	in := func(t *testing.T, steps ...any) *pop3.Client { // logged in
		c, _ := login(t, &pop3.Options{MaxLineLength: 100, MaxListingEntries: 1}, steps...)
		return c
	}
	deleted := func(t *testing.T) *pop3.Client { // message 1 marked deleted
		c := in(t, Expect("DELE 1"), Reply("+OK"))
		if err := c.Dele(1); err != nil {
			t.Fatal(err)
		}
		return c
	}
	cut := func(t *testing.T) *pop3.Client { // broken by a cut in a reply
		c := in(t, Expect("NOOP"), Send("+O"), Cut())
		if err := c.Noop(); !errors.Is(err, pop3.ErrBroken) {
			t.Fatalf("Noop on a cut: %v", err)
		}
		return c
	}
	long := "+OK " + strings.Repeat("x", 200)
	nop := func(int, io.Reader) error { return nil }
	overCAPA := Send("+OK\r\n" + strings.Repeat("X-CAPABILITY-LINE\r\n", 1000) + ".\r\n")
	pipeClient := func(t *testing.T) *pop3.Client { // over a connection that is not loopback
		client, server := net.Pipe()
		go func() { server.Write([]byte("+OK ready\r\n")) }()
		c, err := pop3.NewClient(client, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(); server.Close() })
		return c
	}
	stlsInjection := []Step{Expect("STLS"), Send("+OK begin TLS\r\n+OK injected\r\n")}
	bodyStep := []Step{Expect("RETR 1"), Reply("+OK", "line one", "line two", ".")}
	skipped := func(t *testing.T, r io.ReadCloser, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		r.Read(make([]byte, 3))
		r.Close()
		_, err = r.Read(make([]byte, 3))
		return err
	}
	busy := func(t *testing.T, call func(c *pop3.Client) error) error {
		c, _ := login(t, nil, capaSerial, Expect("RETR 1"), Reply("+OK", "a", "."))
		var inner error
		if err := c.RetrEach([]int{1}, func(int, io.Reader) error { inner = call(c); return nil }); err != nil {
			t.Fatal(err)
		}
		return inner
	}
	return map[string]map[string]provoke{
		"ErrInvalidArgument": {
			"Conn.Cmd":        func(t *testing.T) error { return fresh(t).Conn().Cmd("NOOP", "x\r\nDELE 1") },
			"Client.Retr":     func(t *testing.T) error { _, err := in(t).Retr(0); return err },
			"Client.Top":      func(t *testing.T) error { _, err := in(t).Top(1, -1); return err },
			"Client.Dele":     func(t *testing.T) error { return in(t).Dele(0) },
			"Client.RetrEach": func(t *testing.T) error { return in(t).RetrEach([]int{0}, nop) },
			"Client.TopEach":  func(t *testing.T) error { return in(t).TopEach([]int{1}, -1, nop) },
			"Client.DeleEach": func(t *testing.T) error { return in(t).DeleEach([]int{1, 1}) },
			"Client.Login":    func(t *testing.T) error { return fresh(t).Login("alice", "") },
			"Client.Auth":     func(t *testing.T) error { return fresh(t).Auth(nil) },
		},
		"ErrDeleted": {
			"Client.Retr":     func(t *testing.T) error { _, err := deleted(t).Retr(1); return err },
			"Client.Top":      func(t *testing.T) error { _, err := deleted(t).Top(1, 0); return err },
			"Client.Dele":     func(t *testing.T) error { return deleted(t).Dele(1) },
			"Client.RetrEach": func(t *testing.T) error { return deleted(t).RetrEach([]int{1}, nop) },
			"Client.TopEach":  func(t *testing.T) error { return deleted(t).TopEach([]int{1}, 0, nop) },
			"Client.DeleEach": func(t *testing.T) error { return deleted(t).DeleEach([]int{1}) },
		},
		"ErrLineTooLong": {
			"Conn.ReadResponse": func(t *testing.T) error {
				c := fresh(t, Expect("NOOP"), Reply(long))
				c.Conn().Cmd("NOOP")
				_, err := c.Conn().ReadResponse()
				return err
			},
			"Conn.ReadListing": func(t *testing.T) error {
				c := fresh(t, Expect("CAPA"), Reply("+OK", long[4:], "."))
				c.Conn().Cmd("CAPA")
				c.Conn().ReadResponse()
				return c.Conn().ReadListing(func([]byte) error { return nil })
			},
			"Client.Stat": func(t *testing.T) error { _, _, err := in(t, Expect("STAT"), Reply(long)).Stat(); return err },
			"Client.List": func(t *testing.T) error {
				_, err := in(t, Expect("LIST"), Reply("+OK", "1 "+long[4:], ".")).List()
				return err
			},
		},
		"ErrMalformed": {
			"Client.Stat": func(t *testing.T) error { _, _, err := in(t, Expect("STAT"), Reply("+OK two 3")).Stat(); return err },
			"Client.List": func(t *testing.T) error { _, err := in(t, Expect("LIST"), Reply("+OK", "x 1", ".")).List(); return err },
			"Client.UIDL": func(t *testing.T) error { _, err := in(t, Expect("UIDL"), Reply("+OK", "1", ".")).UIDL(); return err },
			"Client.Auth": func(t *testing.T) error {
				c := fresh(t, Expect("CAPA"), Reply("+OK", "SASL PLAIN", "."),
					Expect("AUTH PLAIN AGFsaWNlAHNlY3JldA=="), Reply("+ !!"), Expect("*"), Reply("-ERR cancelled"))
				return c.Auth(sasl.NewPlainClient("", "alice", "secret"))
			},
		},
		"ErrReplyTooLarge": {
			"Client.List": func(t *testing.T) error {
				_, err := in(t, Expect("LIST"), Reply("+OK", "1 1", "2 2", ".")).List()
				return err
			},
			"Client.UIDL": func(t *testing.T) error {
				_, err := in(t, Expect("UIDL"), Reply("+OK", "1 a", "2 b", ".")).UIDL()
				return err
			},
			"Conn.ReadListing": func(t *testing.T) error {
				c := fresh(t, Expect("LIST"), Reply("+OK", "1 1", "2 2", "."))
				c.Conn().Cmd("LIST")
				c.Conn().ReadResponse()
				return c.Conn().ReadListing(func([]byte) error { return nil })
			},
			"Client.Capabilities": func(t *testing.T) error {
				c, _ := dial(t, nil, greeting, Expect("CAPA"), overCAPA)
				_, err := c.Capabilities()
				return err
			},
		},
		"ErrBroken": {
			"Client": func(t *testing.T) error { _, _, err := cut(t).Stat(); return err },
			"Conn":   func(t *testing.T) error { return cut(t).Conn().Cmd("NOOP") },
		},
		"ErrBodySkipped": {
			"Client.Retr": func(t *testing.T) error { c := in(t, bodyStep); r, err := c.Retr(1); return skipped(t, r, err) },
			"Client.Top": func(t *testing.T) error {
				c := in(t, Expect("TOP 1 0"), Reply("+OK", "line one", "line two", "."))
				r, err := c.Top(1, 0)
				return skipped(t, r, err)
			},
			"Conn.DotReader": func(t *testing.T) error {
				c := in(t, bodyStep)
				if err := c.Conn().Cmd("RETR", "1"); err != nil {
					t.Fatal(err)
				}
				_, err := c.Conn().ReadResponse()
				return skipped(t, c.Conn().DotReader(), err)
			},
		},
		"ErrBusy": {
			"Client": func(t *testing.T) error { return busy(t, func(c *pop3.Client) error { return c.Noop() }) },
			"Conn":   func(t *testing.T) error { return busy(t, func(c *pop3.Client) error { return c.Conn().Cmd("NOOP") }) },
		},
		"ErrNotAuthenticated": {
			"Client.Stat":     func(t *testing.T) error { _, _, err := fresh(t).Stat(); return err },
			"Client.List":     func(t *testing.T) error { _, err := fresh(t).List(); return err },
			"Client.UIDL":     func(t *testing.T) error { _, err := fresh(t).UIDL(); return err },
			"Client.Retr":     func(t *testing.T) error { _, err := fresh(t).Retr(1); return err },
			"Client.Top":      func(t *testing.T) error { _, err := fresh(t).Top(1, 0); return err },
			"Client.Dele":     func(t *testing.T) error { return fresh(t).Dele(1) },
			"Client.Noop":     func(t *testing.T) error { return fresh(t).Noop() },
			"Client.RetrEach": func(t *testing.T) error { return fresh(t).RetrEach([]int{1}, nop) },
			"Client.TopEach":  func(t *testing.T) error { return fresh(t).TopEach([]int{1}, 0, nop) },
			"Client.DeleEach": func(t *testing.T) error { return fresh(t).DeleEach([]int{1}) },
		},
		"ErrAuthenticated": {
			"Client.Login":    func(t *testing.T) error { return in(t).Login("alice", "secret") },
			"Client.Auth":     func(t *testing.T) error { return in(t).Auth(sasl.NewPlainClient("", "alice", "secret")) },
			"Client.StartTLS": func(t *testing.T) error { return in(t).StartTLS(nil) },
		},
		"ErrNoAuthMechanism": {
			"Client.Login": func(t *testing.T) error {
				c := fresh(t, Expect("CAPA"), Reply("+OK", "TOP", "."))
				if _, err := c.Capabilities(); err != nil {
					t.Fatal(err)
				}
				return c.Login("alice", "secret")
			},
		},
		"ErrInsecureAuth": {
			"Client.Login": func(t *testing.T) error { return pipeClient(t).Login("alice", "secret") },
			"Client.Auth":  func(t *testing.T) error { return pipeClient(t).Auth(sasl.NewPlainClient("", "alice", "secret")) },
		},
		"ErrPlaintextInjection": {
			"Client.StartTLS": func(t *testing.T) error {
				return fresh(t, stlsInjection...).StartTLS(&tls.Config{InsecureSkipVerify: true})
			},
			"DialStartTLS": func(t *testing.T) error {
				srv := NewServer(t, append([]Step{greeting}, stlsInjection...)...)
				_, err := pop3.DialStartTLS(srv.Addr(), &pop3.Options{Timeout: 10 * time.Second})
				return err
			},
		},
		"ErrUTF8Credentials": {
			"Client.Login": func(t *testing.T) error {
				return fresh(t, Expect("CAPA"), Reply("+OK", "USER", ".")).Login("älice", "secret")
			},
		},
	}
}

// docLinks returns, for each sentinel declared in errors.go, the doc links of its comment.
func docLinks(t *testing.T) map[string][]string {
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	link := regexp.MustCompile(`\[([A-Z][A-Za-z]*(\.[A-Z][A-Za-z]*)?)\]`)
	links := map[string][]string{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for _, name := range vs.Names {
				if !strings.HasPrefix(name.Name, "Err") || vs.Doc == nil {
					continue
				}
				var found []string
				for _, m := range link.FindAllStringSubmatch(vs.Doc.Text(), -1) {
					found = append(found, m[1])
				}
				sort.Strings(found)
				links[name.Name] = found
			}
		}
	}
	return links
}

// Each sentinel's comment lists the calls that return it, and each call listed returns
// it: the doc links of errors.go are checked against sentinelCases, both ways, and every
// case is run. Every error's text begins with "pop3: " once.
func TestSentinelsReturnedWhereDocumented(t *testing.T) {
	sentinels := map[string]error{
		"ErrInvalidArgument": pop3.ErrInvalidArgument, "ErrDeleted": pop3.ErrDeleted,
		"ErrLineTooLong": pop3.ErrLineTooLong, "ErrMalformed": pop3.ErrMalformed,
		"ErrReplyTooLarge": pop3.ErrReplyTooLarge, "ErrBroken": pop3.ErrBroken,
		"ErrBodySkipped": pop3.ErrBodySkipped, "ErrBusy": pop3.ErrBusy,
		"ErrNotAuthenticated": pop3.ErrNotAuthenticated, "ErrAuthenticated": pop3.ErrAuthenticated,
		"ErrNoAuthMechanism": pop3.ErrNoAuthMechanism, "ErrInsecureAuth": pop3.ErrInsecureAuth,
		"ErrPlaintextInjection": pop3.ErrPlaintextInjection, "ErrUTF8Credentials": pop3.ErrUTF8Credentials,
	}
	links := docLinks(t)
	cases := sentinelCases()
	if len(links) != len(sentinels) {
		t.Errorf("errors.go declares %d sentinels, the test knows %d", len(links), len(sentinels))
	}
	for name, sentinel := range sentinels {
		t.Run(name, func(t *testing.T) {
			var want []string
			for call := range cases[name] {
				want = append(want, call)
			}
			sort.Strings(want)
			if strings.Join(links[name], " ") != strings.Join(want, " ") {
				t.Errorf("its comment names %v; the test provokes it from %v", links[name], want)
			}
			for call, provoke := range cases[name] {
				t.Run(call, func(t *testing.T) {
					err := provoke(t)
					if !errors.Is(err, sentinel) {
						t.Fatalf("%v; want %v", err, sentinel)
					}
					checkPrefixOnce(t, err)
				})
			}
		})
	}
}

// checkPrefixOnce fails unless every line of err's text (a joined error has several)
// begins with "pop3: " and holds it only there.
func checkPrefixOnce(t *testing.T, err error) {
	t.Helper()
	for _, line := range strings.Split(err.Error(), "\n") {
		if !strings.HasPrefix(line, "pop3: ") || strings.Count(line, "pop3:") != 1 {
			t.Errorf("error text %q: want one \"pop3: \" at its start", line)
		}
	}
}
