package pop3_test

// Tests of dialling (issue 9): Options.Dialer, the mode each Dial function runs in, default
// ports, the cleartext exemption decided from the dialled address, the greeting errors,
// and SOCKS5 through golang.org/x/net/proxy. Every connection goes to 127.0.0.1: a name
// such as pop.example.org is only ever given to a Dialer or a proxy that leads to a local
// server.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/popwire/pop3"
	"github.com/popwire/pop3/pop3test"
	"golang.org/x/net/proxy"
)

// recordingDialer records the addresses it is asked for and connects to redirect(addr)
// instead, or fails when redirect is nil: no connection ever leaves the machine.
type recordingDialer struct {
	redirect func(addr string) string
	mu       sync.Mutex
	addrs    []string
	networks []string
}

var errTestDialer = errors.New("the test's Dialer connects nowhere")

func (d *recordingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.addrs = append(d.addrs, addr)
	d.networks = append(d.networks, network)
	d.mu.Unlock()
	if d.redirect == nil {
		return nil, errTestDialer
	}
	return new(net.Dialer).DialContext(ctx, "tcp", d.redirect(addr))
}

func (d *recordingDialer) dialled() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.addrs)
}

// The Dialers the documentation names satisfy Options.Dialer.
var (
	_ pop3.Dialer = (*net.Dialer)(nil)
	_ pop3.Dialer = (*tls.Dialer)(nil)
	_ pop3.Dialer = proxy.ContextDialer(nil)
)

// blockingDialer waits for the end of the context it is given.
type blockingDialer struct{}

func (blockingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// Options.Timeout and the context bound a Dialer's dial.
func TestDialerBounded(t *testing.T) {
	_, err := pop3.Dial("pop.example.org", &pop3.Options{Dialer: blockingDialer{}, Timeout: 50 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Dial with Timeout: %v; want context.DeadlineExceeded", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = pop3.DialContext(ctx, "pop.example.org", &pop3.Options{Dialer: blockingDialer{}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("DialContext with a cancelled context: %v; want context.Canceled", err)
	}
}

// to redirects every address to addr.
func to(addr string) func(string) string { return func(string) string { return addr } }

// Every Dial function uses Options.Dialer, with network "tcp" and the address as given, or
// with the default port of its mode: 110 for plain and STLS, 995 for implicit TLS.
func TestDialerAndDefaultPorts(t *testing.T) {
	dialTLS := func(addr string, opts *pop3.Options) (*pop3.Client, error) { return pop3.DialTLS(addr, opts) }
	dialContext := func(security pop3.Security) func(string, *pop3.Options) (*pop3.Client, error) {
		return func(addr string, opts *pop3.Options) (*pop3.Client, error) {
			opts.Security = security
			return pop3.DialContext(context.Background(), addr, opts)
		}
	}
	for _, tt := range []struct {
		name string
		dial func(string, *pop3.Options) (*pop3.Client, error)
		addr string
		want string
	}{
		{"Dial", pop3.Dial, "pop.example.org", "pop.example.org:110"},
		{"Dial with a port", pop3.Dial, "pop.example.org:1110", "pop.example.org:1110"},
		{"Dial empty port", pop3.Dial, "pop.example.org:", "pop.example.org:110"},
		{"DialTLS", dialTLS, "pop.example.org", "pop.example.org:995"},
		{"DialTLS IPv6", dialTLS, "::1", "[::1]:995"},
		{"DialTLS IPv6 brackets", dialTLS, "[::1]", "[::1]:995"},
		{"DialStartTLS", pop3.DialStartTLS, "pop.example.org", "pop.example.org:110"},
		{"DialContext default", dialContext(pop3.SecurityDefault), "pop.example.org", "pop.example.org:995"},
		{"DialContext implicit TLS", dialContext(pop3.SecurityImplicitTLS), "pop.example.org", "pop.example.org:995"},
		{"DialContext plain", dialContext(pop3.SecurityPlain), "pop.example.org", "pop.example.org:110"},
		{"DialContext STLS", dialContext(pop3.SecuritySTLS), "pop.example.org", "pop.example.org:110"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := new(recordingDialer)
			_, err := tt.dial(tt.addr, &pop3.Options{Dialer: d})
			if !errors.Is(err, errTestDialer) {
				t.Fatalf("err = %v; want the Dialer's error", err)
			}
			if got := d.dialled(); !slices.Equal(got, []string{tt.want}) || d.networks[0] != "tcp" {
				t.Errorf("dialled %q over %q; want %q over tcp", got, d.networks, tt.want)
			}
		})
	}
	for _, addr := range []string{"", ":110", "a:b:c", "[pop.example.org"} {
		d := new(recordingDialer)
		if _, err := pop3.Dial(addr, &pop3.Options{Dialer: d}); err == nil || errors.Is(err, errTestDialer) {
			t.Errorf("Dial(%q) = %v; want an address error", addr, err)
		}
		if got := d.dialled(); len(got) != 0 {
			t.Errorf("Dial(%q) dialled %q", addr, got)
		}
	}
}

// Dial, DialTLS and DialStartTLS refuse an Options.Security that contradicts their own mode
// before dialling; the same mode, or SecurityDefault, is accepted.
func TestDialRefusesContradictingSecurity(t *testing.T) {
	fns := map[pop3.Security]func(string, *pop3.Options) (*pop3.Client, error){
		pop3.SecurityPlain:       pop3.Dial,
		pop3.SecurityImplicitTLS: pop3.DialTLS,
		pop3.SecuritySTLS:        pop3.DialStartTLS,
	}
	names := map[pop3.Security]string{pop3.SecurityPlain: "Dial", pop3.SecurityImplicitTLS: "DialTLS", pop3.SecuritySTLS: "DialStartTLS"}
	for own, fn := range fns {
		for _, asked := range []pop3.Security{pop3.SecurityDefault, pop3.SecurityPlain, pop3.SecurityImplicitTLS, pop3.SecuritySTLS, pop3.Security(9)} {
			d := new(recordingDialer)
			_, err := fn("pop.example.org", &pop3.Options{Dialer: d, Security: asked})
			if asked == pop3.SecurityDefault || asked == own {
				if !errors.Is(err, errTestDialer) {
					t.Errorf("%s with Security %v: %v; want a dial", names[own], asked, err)
				}
				continue
			}
			if !errors.Is(err, pop3.ErrInvalidArgument) || len(d.dialled()) != 0 {
				t.Errorf("%s with Security %v: %v, dialled %q; want ErrInvalidArgument before dialling", names[own], asked, err, d.dialled())
			}
			if asked != pop3.Security(9) && !strings.Contains(err.Error(), names[asked]) {
				t.Errorf("%s with Security %v: %q does not name %s", names[own], asked, err, names[asked])
			}
		}
	}
	if _, err := pop3.DialContext(context.Background(), "pop.example.org", &pop3.Options{Security: -1}); !errors.Is(err, pop3.ErrInvalidArgument) {
		t.Errorf("DialContext with Security -1: %v", err)
	}
}

// serveOnce starts a server on 127.0.0.1 that runs serve on its first connection, within
// a 10-second deadline, and returns its address.
func serveOnce(t *testing.T, serve func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		serve(c)
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

// greeter starts a server that sends greeting, then reads and discards whatever comes until
// the client closes.
func greeter(t *testing.T, greeting string) string {
	return serveOnce(t, func(c net.Conn) {
		io.WriteString(c, greeting)
		io.Copy(io.Discard, c)
	})
}

// DialContext without a Security runs implicit TLS: the greeting comes over TLS.
func TestDialContextDefaultsToImplicitTLS(t *testing.T) {
	srv := pop3test.NewServer(t, pop3test.StartTLS(), pop3test.Reply("+OK ready over TLS"),
		pop3test.Expect("QUIT"), pop3test.Reply("+OK bye"))
	addr := srv.Addr()
	c, err := pop3.DialContext(context.Background(), addr, &pop3.Options{TLSConfig: &tls.Config{RootCAs: pop3test.CertPool()}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.Conn().NetConn().(*tls.Conn); !ok || c.Greeting() != "ready over TLS" {
		t.Errorf("NetConn %T, greeting %q; want TLS", c.Conn().NetConn(), c.Greeting())
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	wait(t, srv) // Quit does not wait for the reply: nothing is marked deleted

	// Against a plain server the default fails in the handshake, and says what is likely.
	_, err = pop3.DialContext(context.Background(), greeter(t, "+OK plain server ready\r\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "is this a plain POP3 port? use Dial or DialStartTLS") {
		t.Errorf("DialContext to a plain port: %v", err)
	}
}

// C0002, C0007: a greeting that does not come within the Timeout names the address and the
// likely cause; it still matches os.ErrDeadlineExceeded and ErrBroken.
func TestGreetingTimeoutHint(t *testing.T) {
	srv := pop3test.NewServer(t, pop3test.Stall(time.Minute))
	_, err := pop3.Dial(srv.Addr(), &pop3.Options{Timeout: 100 * time.Millisecond})
	want := "pop3: no greeting within 100ms from " + srv.Addr() + ": is this an implicit-TLS port? use DialTLS"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Dial: %v\nwant %s...", err, want)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.Is(err, pop3.ErrBroken) {
		t.Errorf("Dial: %v; want os.ErrDeadlineExceeded and ErrBroken", err)
	}
	if got := srv.Received(); len(got) != 0 {
		t.Errorf("sent before the greeting: %q", got)
	}
}

// A server that is not POP3 (here SMTP) is told apart from a POP3 "-ERR" greeting.
func TestGreetingNotPOP3(t *testing.T) {
	for _, line := range []string{"220 mx.example.org ESMTP Postfix", "* OK IMAP4rev1 ready", ""} {
		srv := pop3test.NewServer(t, pop3test.Reply(line), pop3test.ExpectClosed())
		_, err := pop3.Dial(srv.Addr(), nil)
		var perr *pop3.Error
		if errors.As(err, &perr) || !errors.Is(err, pop3.ErrMalformed) {
			t.Fatalf("greeting %q: %v; want ErrMalformed, not an *Error", line, err)
		}
		want := "not a POP3 server: " + srv.Addr() + " greeted with \"" + line + "\""
		if !strings.Contains(err.Error(), want) {
			t.Errorf("greeting %q: %q lacks %q", line, err, want)
		}
		if err := srv.Wait(); err != nil {
			t.Error(err)
		}
	}
}

// RFC 8314 section 5.2: the cleartext exemption follows the address the caller dialled,
// never the socket's peer. Through a Dialer (a proxy, say) whose socket is on 127.0.0.1, a
// remote name gets no exemption; a loopback name does; NewClient gets none at all.
func TestCleartextExemptionFromDialledAddress(t *testing.T) {
	loginOK := func(t *testing.T) *pop3test.Server {
		return pop3test.NewServer(t, pop3test.Reply("+OK ready"),
			pop3test.Expect("CAPA"), pop3test.Reply("-ERR"),
			pop3test.Expect("USER alice"), pop3test.Reply("+OK"),
			pop3test.Expect("PASS secret"), pop3test.Reply("+OK"))
	}
	refused := func(t *testing.T) *pop3test.Server {
		return pop3test.NewServer(t, pop3test.Reply("+OK ready"), pop3test.ExpectClosed())
	}
	for _, tt := range []struct {
		addr string
		ok   bool
	}{
		{"pop.example.org:110", false},
		{"192.0.2.1:110", false},
		{"127.0.0.1:110", true},
		{"127.1.2.3:110", true},
		{"[::1]:110", true},
		{"localhost:110", true},
		{"LocalHost.:110", true},
	} {
		t.Run(tt.addr, func(t *testing.T) {
			var srv *pop3test.Server
			if tt.ok {
				srv = loginOK(t)
			} else {
				srv = refused(t)
			}
			c, err := pop3.Dial(tt.addr, &pop3.Options{Dialer: &recordingDialer{redirect: to(srv.Addr())}})
			if err != nil {
				t.Fatal(err)
			}
			err = c.Login("alice", "secret")
			if tt.ok && err != nil {
				t.Errorf("Login: %v", err)
			}
			if !tt.ok && (!errors.Is(err, pop3.ErrInsecureAuth) || !strings.Contains(err.Error(), strings.Split(tt.addr, ":")[0])) {
				t.Errorf("Login: %v; want ErrInsecureAuth naming the host", err)
			}
			c.Close()
			if err := srv.Wait(); err != nil {
				t.Error(err)
			}
		})
	}
	// NewClient over a socket to 127.0.0.1 does not know where it leads: refused, unless
	// AllowInsecureAuth.
	for _, allow := range []bool{false, true} {
		var srv *pop3test.Server
		if allow {
			srv = loginOK(t)
		} else {
			srv = refused(t)
		}
		nc, err := net.Dial("tcp", srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		c, err := pop3.NewClient(nc, &pop3.Options{AllowInsecureAuth: allow})
		if err != nil {
			t.Fatal(err)
		}
		err = c.Login("alice", "secret")
		if allow && err != nil {
			t.Errorf("NewClient with AllowInsecureAuth: Login: %v", err)
		}
		if !allow && (!errors.Is(err, pop3.ErrInsecureAuth) || !strings.Contains(err.Error(), "NewClient")) {
			t.Errorf("NewClient: Login: %v; want ErrInsecureAuth naming NewClient", err)
		}
		c.Close()
		if err := srv.Wait(); err != nil {
			t.Error(err)
		}
	}
}

// newSOCKS5 starts the test's SOCKS5 proxy and returns an Options.Dialer through it from
// golang.org/x/net/proxy.
func newSOCKS5(t *testing.T, redirect func(string) string) (*socks5Proxy, pop3.Dialer) {
	t.Helper()
	p, err := startSOCKS5(redirect)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	d, err := proxy.SOCKS5("tcp", p.Addr(), nil, proxy.Direct)
	if err != nil {
		t.Fatal(err)
	}
	return p, d.(proxy.ContextDialer)
}

// Through a SOCKS5 proxy on 127.0.0.1, a plain session to a remote name refuses to send
// the password (the proxy forwards it anywhere); the proxy is asked for the name itself.
func TestSOCKS5CleartextRefused(t *testing.T) {
	srv := pop3test.NewServer(t, pop3test.Reply("+OK ready"), pop3test.ExpectClosed())
	p, d := newSOCKS5(t, to(srv.Addr()))
	c, err := pop3.Dial("pop.example.org", &pop3.Options{Dialer: d})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login("alice", "secret"); !errors.Is(err, pop3.ErrInsecureAuth) {
		t.Errorf("Login through the proxy: %v; want ErrInsecureAuth", err)
	}
	if peer := c.Conn().NetConn().RemoteAddr().String(); peer != p.Addr() {
		t.Errorf("the socket's peer is %s, want the proxy %s", peer, p.Addr())
	}
	c.Close()
	if err := srv.Wait(); err != nil {
		t.Error(err)
	}
	if got := p.Targets(); !slices.Equal(got, []string{"pop.example.org:110"}) {
		t.Errorf("the proxy was asked for %q", got)
	}
}

// Through a SOCKS5 proxy, DialTLS and DialStartTLS keep the library's TLS handling: the
// certificate is verified against the dialled host, and the login goes over TLS.
func TestSOCKS5TLS(t *testing.T) {
	session := []pop3test.Step{
		pop3test.Expect("CAPA"), pop3test.Reply("+OK", "USER", "."),
		pop3test.Expect("USER alice"), pop3test.Reply("+OK"),
		pop3test.Expect("PASS secret"), pop3test.Reply("+OK"),
		pop3test.Expect("QUIT"), pop3test.Reply("+OK"),
	}
	for _, tt := range []struct {
		name, addr, target string
		dial               func(string, *pop3.Options) (*pop3.Client, error)
		implicit           bool
	}{
		{"DialTLS", "localhost", "localhost:995", pop3.DialTLS, true},
		{"DialStartTLS", "localhost:110", "localhost:110", pop3.DialStartTLS, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var steps []pop3test.Step
			if tt.implicit {
				steps = append(steps, pop3test.StartTLS(), pop3test.Reply("+OK ready"))
			} else {
				steps = append(steps, pop3test.Reply("+OK ready"), pop3test.Expect("STLS"), pop3test.Reply("+OK begin TLS"), pop3test.StartTLS())
			}
			// After STLS, the CAPA is StartTLS's; Login uses it.
			srv := pop3test.NewServer(t, append(steps, session...)...)
			p, d := newSOCKS5(t, to(srv.Addr()))
			c, err := tt.dial(tt.addr, &pop3.Options{Dialer: d, TLSConfig: &tls.Config{RootCAs: pop3test.CertPool()}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Login("alice", "secret"); err != nil {
				t.Fatal(err)
			}
			if err := c.Quit(); err != nil {
				t.Fatal(err)
			}
			wait(t, srv) // Quit does not wait for the reply: nothing is marked deleted
			if got := p.Targets(); !slices.Equal(got, []string{tt.target}) {
				t.Errorf("the proxy was asked for %q", got)
			}
		})
	}
	t.Run("wrong host", func(t *testing.T) {
		srv := pop3test.NewServer(t, pop3test.ExpectTLSFailure(nil))
		_, d := newSOCKS5(t, to(srv.Addr()))
		// The certificate is for 127.0.0.1 and localhost, not for the dialled name.
		_, err := pop3.DialTLS("pop.example.org", &pop3.Options{Dialer: d, TLSConfig: &tls.Config{RootCAs: pop3test.CertPool()}})
		var herr x509.HostnameError
		if !errors.As(err, &herr) {
			t.Errorf("DialTLS: %v; want a hostname error", err)
		}
	})
}
