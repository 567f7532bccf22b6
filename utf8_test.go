package pop3_test

// Tests of UTF-8 on real servers (issue 9, RFC 6856): the opt-in for a UTF-8 password in
// PASS, the UTF8 command on a Courier-like server, and a Login whose outcome does not depend
// on cached capabilities (WildDuck's default).

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/popwire/pop3"
	"github.com/popwire/pop3/pop3test"
)

// Mailutils, popa3d, solid-pop3d, perdition and Twisted accept a UTF-8 password in PASS
// but list neither SASL PLAIN nor UTF8 USER: refused by default, with an error that names
// the opt-in; sent with Options.AllowUTF8Password.
func TestAllowUTF8Password(t *testing.T) {
	mailutilsCaps := capaSteps("TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "EXPIRENEVER", "USER", "STLS")
	noCapa := []pop3test.Step{pop3test.Expect("CAPA"), pop3test.Reply("-ERR")} // popa3d, solid-pop3d
	// Mailutils lists PIPELINING: Login sends the CAPA of the TRANSACTION state with PASS.
	capaWithPass := map[string][]pop3test.Step{"mailutils": capaSteps("TOP", "UIDL", "PIPELINING"), "popa3d": nil}
	for name, caps := range map[string][]pop3test.Step{"mailutils": mailutilsCaps, "popa3d": noCapa} {
		t.Run(name+" default", func(t *testing.T) {
			c, srv := authDial(t, nil, authSteps(caps, pop3test.ExpectClosed())...)
			err := c.Login("alice", "pässwörd")
			if !errors.Is(err, pop3.ErrUTF8Credentials) || !strings.Contains(err.Error(), "Options.AllowUTF8Password") {
				t.Fatalf("Login: %v; want ErrUTF8Credentials naming Options.AllowUTF8Password", err)
			}
			authWait(t, c, srv)
		})
		t.Run(name+" opt-in", func(t *testing.T) {
			steps := []pop3test.Step{pop3test.ExpectRaw("USER alice\r\n"), pop3test.Reply("+OK"),
				pop3test.ExpectRaw("PASS p\xc3\xa4ssw\xc3\xb6rd\r\n"), pop3test.Reply("+OK opened mailbox for alice")}
			steps = append(append(steps, capaWithPass[name]...), pop3test.ExpectClosed())
			c, srv := authDial(t, &pop3.Options{AllowUTF8Password: true}, authSteps(caps, steps)...)
			if err := c.Login("alice", "pässwörd"); err != nil {
				t.Fatal(err)
			}
			authWait(t, c, srv)
		})
	}
	t.Run("non-ASCII user name", func(t *testing.T) {
		c, srv := authDial(t, &pop3.Options{AllowUTF8Password: true}, authSteps(mailutilsCaps, pop3test.ExpectClosed())...)
		err := c.Login("jürgen", "pässwörd")
		if !errors.Is(err, pop3.ErrUTF8Credentials) || !strings.Contains(err.Error(), "user name") {
			t.Fatalf("Login: %v; want ErrUTF8Credentials for the user name", err)
		}
		authWait(t, c, srv)
	})
	t.Run("SASL PLAIN still preferred", func(t *testing.T) {
		c, srv := authDial(t, &pop3.Options{AllowUTF8Password: true}, authSteps(
			capaSteps("USER", "SASL PLAIN"),
			pop3test.Expect("AUTH PLAIN "+b64("\x00alice\x00pässwörd")), pop3test.Reply("+OK"),
			pop3test.ExpectClosed())...)
		if err := c.Login("alice", "pässwörd"); err != nil {
			t.Fatal(err)
		}
		authWait(t, c, srv)
	})
}

// An empty password says so; a credential PRECIS refuses names the character, by position
// and code point, without showing the password.
func TestCredentialErrorsNameTheCause(t *testing.T) {
	c, srv := authDial(t, nil, pop3test.ExpectClosed())
	for _, tt := range []struct{ user, pass, want string }{
		{"alice", "", "empty password"},
		{"", "secret", "empty user name"},
		{"bob smith", "x", "the user name's character 4, U+0020, is not allowed by PRECIS UsernameCasePreserved"},
		{"\u2163", "x", "the user name's character 1, U+2163, is not allowed"},
		{"bob", "pa\u0085ss", "the password's character 3, U+0085, is not allowed by PRECIS OpaqueString"},
		{"bob", "\u200bsecret", "the password's character 1, U+200B, is not allowed"},
		{"bob", "sec\tret", "the password's character 4, U+0009, is not allowed"},
		{"bob", "sec\xffret", "the password is not valid UTF-8"},
	} {
		err := c.Login(tt.user, tt.pass)
		if !errors.Is(err, pop3.ErrInvalidArgument) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Login(%q, %q): %v; want %q", tt.user, tt.pass, err, tt.want)
		}
		if tt.pass != "" && tt.pass != "x" && strings.Contains(err.Error(), tt.pass) {
			t.Errorf("the error shows the password: %v", err)
		}
	}
	authWait(t, c, srv)
}

// courierFake plays Courier 1.0.16 on 127.0.0.1: it lists UTF8 and "UTF8 USER", and
// replaces a message whose header holds raw UTF-8 by a generated "Cannot display Unicode
// content" notice (of the same LIST size) unless the client has sent UTF8.
type courierFake struct {
	addr     string
	done     chan struct{} // closed when the session has ended
	mu       sync.Mutex
	received []string
}

const (
	courierMessage = "From: Sender <sender@example.org>\r\nSubject: Grüße, ✓\r\n\r\nSmørrebrød\r\n"
	courierNotice  = "From: Mail Delivery Subsystem <postmaster>\r\nSubject: Cannot display Unicode content\r\n\r\n"
)

func startCourierFake(t *testing.T) *courierFake {
	t.Helper()
	f := &courierFake{done: make(chan struct{})}
	f.addr = serveOnce(t, f.serve)
	return f
}

func (f *courierFake) serve(c net.Conn) {
	defer close(f.done)
	r := bufio.NewReader(c)
	send := func(lines ...string) { io.WriteString(c, strings.Join(lines, "\r\n")+"\r\n") }
	send("+OK Hello there.")
	utf8Mode := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSuffix(line, "\r\n")
		f.mu.Lock()
		f.received = append(f.received, line)
		f.mu.Unlock()
		switch cmd, _, _ := strings.Cut(line, " "); strings.ToUpper(cmd) {
		case "CAPA":
			send("+OK Here's what I can do:", "SASL PLAIN LOGIN", "STLS", "TOP", "USER", "LOGIN-DELAY 10",
				"PIPELINING", "UIDL", "UTF8 USER", "IMPLEMENTATION Courier Mail Server", ".")
		case "UTF8":
			utf8Mode = true
			send("+OK UTF8 enabled")
		case "USER":
			send("+OK Password required.")
		case "PASS":
			send("+OK logged in.")
		case "RETR":
			msg := courierMessage
			if !utf8Mode {
				msg = courierNotice
			}
			send("+OK " + "octets follow.")
			io.WriteString(c, msg+".\r\n")
		case "QUIT":
			send("+OK Bye-bye.")
			return
		default:
			send("-ERR Invalid command.")
		}
	}
}

func (f *courierFake) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.received...)
}

// RFC 6856 section 3.1: where CAPA lists UTF8, Login sends it before the credentials, so
// that Courier serves the real message; Options.DisableUTF8 turns it off, and Courier then
// serves its notice.
func TestUTF8CommandCourier(t *testing.T) {
	for _, tt := range []struct {
		name     string
		opts     *pop3.Options
		want     string
		commands string
	}{
		{"default", nil, courierMessage, "CAPA|UTF8|USER alice|PASS secret|CAPA|RETR 1|QUIT"},
		{"DisableUTF8", &pop3.Options{DisableUTF8: true}, courierNotice, "CAPA|USER alice|PASS secret|CAPA|RETR 1|QUIT"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := startCourierFake(t)
			c, err := pop3.Dial(f.addr, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Login("alice", "secret"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Capabilities(); err != nil {
				t.Fatal(err)
			}
			var got string
			err = c.RetrEach([]int{1}, func(n int, msg io.Reader) error {
				b, err := io.ReadAll(msg)
				got = string(b)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("message 1 = %q, want %q", got, tt.want)
			}
			if err := c.Quit(); err != nil {
				t.Fatal(err)
			}
			<-f.done // Quit does not wait for the reply: nothing is marked deleted
			if got := strings.Join(f.commands(), "|"); got != tt.commands {
				t.Errorf("sent %s\nwant %s", got, tt.commands)
			}
		})
	}
	t.Run("Auth", func(t *testing.T) { // AUTH sends UTF8 first too
		c, srv := authDial(t, nil, authSteps(
			capaSteps("SASL PLAIN", "UTF8"),
			pop3test.Expect("UTF8"), pop3test.Reply("+OK UTF8 enabled"),
			pop3test.Expect("AUTH PLAIN "+b64("\x00alice\x00secret")), pop3test.Reply("+OK"),
			pop3test.ExpectClosed())...)
		if err := c.Auth(sasl.NewPlainClient("", "alice", "secret")); err != nil {
			t.Fatal(err)
		}
		authWait(t, c, srv)
	})
}

// WildDuck's default lists neither USER nor SASL before STLS. Login fails the same way,
// before sending any credential, whether or not Capabilities was called first, and says
// that STLS may be needed.
func TestLoginIndependentOfCachedCapabilities(t *testing.T) {
	wildduck := capaSteps("TOP", "UIDL", "RESP-CODES", "PIPELINING", "STLS", "IMPLEMENTATION WildDuck-v1.46.15")
	var errs []string
	for _, cached := range []bool{false, true} {
		c, srv := authDial(t, nil, authSteps(wildduck, pop3test.ExpectClosed())...)
		if cached {
			if _, err := c.Capabilities(); err != nil {
				t.Fatal(err)
			}
		}
		err := c.Login("alice", "secret")
		if !errors.Is(err, pop3.ErrNoAuthMechanism) || !strings.Contains(err.Error(), "STLS") {
			t.Errorf("cached %v: Login: %v; want ErrNoAuthMechanism naming STLS", cached, err)
		}
		if err != nil {
			errs = append(errs, err.Error())
		}
		authWait(t, c, srv)
	}
	if len(errs) == 2 && errs[0] != errs[1] {
		t.Errorf("the errors differ:\n%s\n%s", errs[0], errs[1])
	}
}
