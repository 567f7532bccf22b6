package pop3_test

// The integration tests run one set of test bodies against three backends, the way
// go-imap's tests switch backends: pop3test.Mailbox (in-process, always there), a real
// Dovecot 2.3 (internal/dovecottest) and a real GNU Mailutils 3.15 pop3d
// (internal/mailutilstest), each started on 127.0.0.1 by the test itself. The real servers
// skip when they are not installed, unless POP3_TEST_DOVECOT is set, which makes that a
// failure:
//
//	POP3_TEST_DOVECOT=1 go test -race -run 'Integration' -v .
//	go test -run 'Integration.*/mailutils' -v .   # one backend
//
// Every test starts its own instance, so no two tests share a mailbox, and they run in
// parallel. Where a server does what the client must tolerate (Mailutils adds headers to
// what it serves, lists sizes that change, puts an empty line into TOP), the backend says
// so and the bodies allow exactly that; where the quirk is the point, a test asserts it.

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/popwire/pop3"
	"github.com/popwire/pop3/internal/dovecottest"
	"github.com/popwire/pop3/internal/mailutilstest"
	"github.com/popwire/pop3/internal/realserver"
	"github.com/popwire/pop3/pop3test"
)

// itTimeout bounds every wait on a backend; generous, for the race detector on a slow machine.
const itTimeout = 30 * time.Second

// backend is a kind of POP3 server the integration tests run against.
type backend interface {
	// Name names the backend in subtest names: "mailbox", "dovecot", "mailutils".
	Name() string
	// Start starts a fresh server holding msgs for alice, stopped by t's cleanup.
	Start(t *testing.T, msgs []realserver.Message) *itServer
}

// backends are the servers every integration test body runs against.
var backends = []backend{mailboxBackend{}, dovecotBackend{}, mailutilsBackend{}}

// itServer is one running backend as the test bodies see it.
type itServer struct {
	addr    string      // plain POP3
	tlsAddr string      // implicit TLS; "" when the backend has no TLS
	tls     *tls.Config // trusts the backend's certificate; nil without TLS
	alice   itAccount   // holds all the messages
	bob     *itAccount  // a non-ASCII password, the first 3 messages; nil if the backend has one user

	greeting string   // how the greeting's text starts
	caps     []string // capabilities listed before login (at least these)
	sasl     string   // the SASL mechanisms listed before login, "" for none

	// What a client must tolerate from this server, and what it can rely on.
	listSize func(stored []byte) int64 // the size a session's first listing gives a stored message
	canon    func(got []byte) []byte   // undoes what the server adds to a message it serves
	topBlank bool                      // TOP n k with k > 0 adds an empty line after the header
	uidl     func(i int) string        // the unique-id of the i-th stored message; nil if not known in advance
	// loggedIn waits until the server's log shows user logged in (with method, over TLS,
	// where the server logs that); nil for a server without a log.
	loggedIn func(t *testing.T, user, method string)
}

// itAccount is a login.
type itAccount struct{ user, pass string }

// supportsSASL reports whether the server lists the SASL mechanism before login.
func (s *itServer) supportsSASL(mech string) bool {
	for _, m := range strings.Fields(s.sasl) {
		if m == mech {
			return true
		}
	}
	return false
}

// needTLS skips a test on a backend without TLS.
func (s *itServer) needTLS(t *testing.T) {
	t.Helper()
	if s.tls == nil {
		t.Skip("this backend has no TLS")
	}
}

// wireSize is the size of a stored message served with CRLF line ends and a final CRLF.
func wireSize(stored []byte) int64 { return int64(len(realserver.Wire(stored))) }

// mailboxBackend is pop3test.Mailbox: no TLS, one user, PIPELINING.
type mailboxBackend struct{}

func (mailboxBackend) Name() string { return "mailbox" }

func (mailboxBackend) Start(t *testing.T, msgs []realserver.Message) *itServer {
	mb := &pop3test.Mailbox{User: "alice", Pass: "secret", Pipelining: true}
	for _, m := range msgs {
		mb.Messages = append(mb.Messages, m.Data)
	}
	return &itServer{
		addr:     mb.Start(t),
		alice:    itAccount{mb.User, mb.Pass},
		greeting: "pop3test ready",
		caps:     []string{"TOP", "UIDL", "USER", "RESP-CODES", "PIPELINING"},
		listSize: wireSize,
		canon:    func(got []byte) []byte { return got },
		uidl:     func(i int) string { return "uid-" + strconv.Itoa(i) },
	}
}

// dovecotBackend is a real Dovecot (internal/dovecottest).
type dovecotBackend struct{}

func (dovecotBackend) Name() string { return "dovecot" }

func (dovecotBackend) Start(t *testing.T, msgs []realserver.Message) *itServer {
	srv := dovecottest.Start(t, msgs)
	return &itServer{
		addr:     srv.Addr,
		tlsAddr:  srv.TLSAddr,
		tls:      &tls.Config{RootCAs: srv.RootCAs},
		alice:    itAccount{"alice", srv.Users["alice"]},
		bob:      &itAccount{"bob", srv.Users["bob"]},
		greeting: "Dovecot",
		caps:     []string{"TOP", "UIDL", "USER", "STLS", "PIPELINING", "RESP-CODES", "AUTH-RESP-CODE"},
		sasl:     "PLAIN LOGIN",
		// Dovecot does not count the CRLF it adds after a last line without one.
		listSize: func(stored []byte) int64 {
			n := wireSize(stored)
			if !bytes.HasSuffix(stored, []byte("\n")) {
				n -= 2
			}
			return n
		},
		canon: func(got []byte) []byte { return got },
		uidl:  dovecottest.UIDL,
		loggedIn: func(t *testing.T, user, method string) {
			t.Helper()
			waitLog(t, srv.Log, `Login: user=<`+regexp.QuoteMeta(user)+`>, method=`+method+`, [^\n]*, TLS, session=`)
		},
	}
}

// mailutilsBackend is a real GNU Mailutils pop3d (internal/mailutilstest).
type mailutilsBackend struct{}

func (mailutilsBackend) Name() string { return "mailutils" }

func (mailutilsBackend) Start(t *testing.T, msgs []realserver.Message) *itServer {
	srv := mailutilstest.Start(t, msgs)
	alice, bob := mailutilstest.Login("alice"), mailutilstest.Login("bob")
	return &itServer{
		addr:     srv.Addr,
		tlsAddr:  srv.TLSAddr,
		tls:      &tls.Config{RootCAs: srv.RootCAs},
		alice:    itAccount{alice, srv.Users[alice]},
		bob:      &itAccount{bob, srv.Users[bob]},
		greeting: "POP3 Ready <", // an APOP-style timestamp, APOP not offered
		caps:     []string{"TOP", "UIDL", "USER", "STLS", "PIPELINING", "RESP-CODES", "AUTH-RESP-CODE", "EXPIRENEVER"},
		listSize: wireSize,
		canon:    mailutilsCanon,
		topBlank: true,
		loggedIn: func(t *testing.T, user, _ string) {
			t.Helper()
			name, _, _ := strings.Cut(user, "@")
			waitLog(t, srv.Log, "user `"+regexp.QuoteMeta(name)+"' logged in with mailbox")
		},
	}
}

// mailutilsAdded are the header fields Mailutils adds to every message it serves once it
// has computed (X-UIDL) or stored (the others) them in the mbox.
var mailutilsAdded = []string{"X-UIDL:", "X-IMAPbase:", "X-UID:", "Status:"}

// mailutilsCanon removes the header fields Mailutils adds, and the empty line it puts
// into an empty body once it has rewritten the mbox.
func mailutilsCanon(got []byte) []byte {
	head, body, ok := bytes.Cut(got, []byte("\r\n\r\n"))
	if !ok {
		return got
	}
	var out []byte
	for _, line := range bytes.SplitAfter(append(head, '\r', '\n'), []byte("\r\n")) {
		added := false
		for _, f := range mailutilsAdded {
			if bytes.HasPrefix(line, []byte(f)) {
				added = true
			}
		}
		if !added {
			out = append(out, line...)
		}
	}
	out = append(out, '\r', '\n')
	if string(body) == "\r\n" {
		body = nil
	}
	return append(out, body...)
}

// waitLog waits until the server's log matches re.
func waitLog(t *testing.T, log func() string, re string) {
	t.Helper()
	rx := regexp.MustCompile(re)
	for deadline := time.Now().Add(5 * time.Second); !rx.MatchString(log()); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("the server's log does not match %q:\n%s", re, log())
			return
		}
	}
}

// forEachBackend runs body as a parallel subtest for each backend, on a fresh server
// holding msgs.
func forEachBackend(t *testing.T, msgs []realserver.Message, body func(t *testing.T, srv *itServer)) {
	t.Helper()
	t.Parallel()
	for _, b := range backends {
		t.Run(b.Name(), func(t *testing.T) {
			t.Parallel()
			body(t, b.Start(t, msgs))
		})
	}
}

// itCountingConn counts the octets the client writes, to show that a call sent nothing.
type itCountingConn struct {
	net.Conn
	written atomic.Int64
}

func (c *itCountingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}

// itDial opens a session on the plain port (C0001) through a counting connection and
// checks the greeting (C0002, C0007).
func itDial(t *testing.T, srv *itServer) (*pop3.Client, *itCountingConn) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", srv.addr, itTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", srv.addr, err)
	}
	cc := &itCountingConn{Conn: nc}
	// The servers are on 127.0.0.1, but a Client made with NewClient does not know where
	// its connection leads: Login over it needs AllowInsecureAuth.
	c, err := pop3.NewClient(cc, &pop3.Options{Timeout: itTimeout, AllowInsecureAuth: true})
	if err != nil {
		nc.Close()
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if g := c.Greeting(); !strings.HasPrefix(g, srv.greeting) {
		t.Errorf("Greeting() = %q, want it to start with %q", g, srv.greeting)
	}
	if n := cc.written.Load(); n != 0 {
		t.Errorf("%d octets written before any call", n)
	}
	return c, cc
}

// itLogin opens a session and logs in as alice (C0042, C0044, C0046). A server that
// locks the maildrop (Mailutils) may still hold the lock of a session the client has just
// closed without QUIT: it refuses the login with [IN-USE] (RFC 2449) until it has seen the
// connection end, and itLogin tries again in a new session until then.
func itLogin(t *testing.T, srv *itServer) (*pop3.Client, *itCountingConn) {
	t.Helper()
	deadline := time.Now().Add(itTimeout)
	for {
		c, cc := itDial(t, srv)
		err := c.Login(srv.alice.user, srv.alice.pass)
		if err == nil {
			return c, cc
		}
		var perr *pop3.Error
		if !errors.As(err, &perr) || perr.Code != "IN-USE" || time.Now().After(deadline) {
			t.Fatalf("Login(%s): %v", srv.alice.user, err)
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
}

// itDialTLS opens a session over implicit TLS, the certificate verified.
func itDialTLS(t *testing.T, srv *itServer, opts *pop3.Options) *pop3.Client {
	t.Helper()
	o := pop3.Options{Timeout: itTimeout, TLSConfig: srv.tls}
	if opts != nil {
		o = *opts
	}
	c, err := pop3.DialTLS(srv.tlsAddr, &o)
	if err != nil {
		t.Fatalf("DialTLS: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// itRead drains and closes a body reader.
func itRead(t *testing.T, what string, rc io.ReadCloser, err error) []byte {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("%s: reading the body: %v", what, err)
	}
	if err := rc.Close(); err != nil {
		t.Fatalf("%s: Close: %v", what, err)
	}
	return data
}

// itCompare reports where got and want first differ, with a little context.
func itCompare(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	i := realserver.FirstDiff(got, want)
	lo := max(i-20, 0)
	t.Errorf("%s: got %d octets, want %d; first difference at octet %d: got %q, want %q",
		what, len(got), len(want), i, got[lo:min(i+20, len(got))], want[lo:min(i+20, len(want))])
}

// itMessage checks a message as served against the stored one, allowing for what the
// server adds.
func itMessage(t *testing.T, srv *itServer, what string, got, stored []byte) {
	t.Helper()
	itCompare(t, what, srv.canon(got), realserver.Wire(stored))
}

// itTop is what TOP n lines delivers for a stored message: the header, the blank line
// (twice where the server adds one) and the first lines lines of the body, on the wire.
func itTop(srv *itServer, stored []byte, lines int) []byte {
	i := bytes.Index(stored, []byte("\n\n"))
	if i < 0 {
		panic("stored message without a blank line after the header")
	}
	out := append([]byte(nil), stored[:i+2]...)
	body := stored[i+2:]
	if srv.topBlank && lines > 0 && len(body) > 0 {
		out = append(out, '\n')
	}
	for k := 0; k < lines && len(body) > 0; k++ {
		j := bytes.IndexByte(body, '\n')
		if j < 0 {
			out = append(out, body...)
			break
		}
		out = append(out, body[:j+1]...)
		body = body[j+1:]
	}
	return realserver.Wire(out)
}
