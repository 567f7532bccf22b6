package pop3_test

// Tests of AUTH (RFC 5034), XOAUTH2, UTF-8 credentials (RFC 6856, RFC 8265) and the
// cleartext policy (RFC 8314 section 5.2), against scripted servers.

import (
	"bufio"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/popwire/pop3"
	"github.com/popwire/pop3/pop3test"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// authDial connects to a scripted server that greets first; steps follow the greeting.
func authDial(t *testing.T, opts *pop3.Options, steps ...pop3test.Step) (*pop3.Client, *pop3test.Server) {
	t.Helper()
	srv := pop3test.NewServer(t, append([]pop3test.Step{pop3test.Reply("+OK ready")}, steps...)...)
	c, err := pop3.Dial(srv.Addr(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, srv
}

// authWait closes the client and checks the script.
func authWait(t *testing.T, c *pop3.Client, srv *pop3test.Server) {
	t.Helper()
	c.Close()
	if err := srv.Wait(); err != nil {
		t.Fatal(err)
	}
}

// capa is a CAPA exchange whose reply lists caps.
func capaSteps(caps ...string) []pop3test.Step {
	return []pop3test.Step{pop3test.Expect("CAPA"), pop3test.Reply(append(append([]string{"+OK"}, caps...), ".")...)}
}

func authSteps(parts ...any) []pop3test.Step {
	var out []pop3test.Step
	for _, p := range parts {
		switch p := p.(type) {
		case pop3test.Step:
			out = append(out, p)
		case []pop3test.Step:
			out = append(out, p...)
		}
	}
	return out
}

// RFC 5034 section 4: with "SASL" listed, the initial response goes on the AUTH line;
// "+OK" ends the exchange; the capabilities are asked again after login (RFC 2449
// section 5: Gmail lists PIPELINING only then).
func TestAuthPlainInitialResponse(t *testing.T) {
	c, srv := authDial(t, nil, authSteps(
		capaSteps("USER", "SASL PLAIN XOAUTH2"),
		pop3test.Expect("AUTH PLAIN "+b64("\x00alice\x00secret")), pop3test.Reply("+OK Welcome."),
		capaSteps("PIPELINING", "UIDL"),
		pop3test.Expect("STAT"), pop3test.Reply("+OK 0 0"),
		pop3test.ExpectClosed(),
	)...)
	if err := c.Auth(sasl.NewPlainClient("", "alice", "secret")); err != nil {
		t.Fatal(err)
	}
	caps, err := c.Capabilities()
	if err != nil || !caps.Pipelining() {
		t.Fatalf("capabilities after AUTH: %v, %v", caps, err)
	}
	if _, _, err := c.Stat(); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(sasl.NewPlainClient("", "alice", "secret")); !errors.Is(err, pop3.ErrAuthenticated) {
		t.Errorf("second Auth: %v", err)
	}
	authWait(t, c, srv)
}

// RFC 5034 section 4: without a SASL capability (here CAPA is unknown) no initial
// response: AUTH, the empty challenge "+ ", then the response on its own line.
func TestAuthPlainWithoutInitialResponse(t *testing.T) {
	c, srv := authDial(t, nil,
		pop3test.Expect("CAPA"), pop3test.Reply("-ERR what?"),
		pop3test.Expect("AUTH PLAIN"), pop3test.Reply("+ "),
		pop3test.Expect(b64("\x00alice\x00secret")), pop3test.Reply("+OK"),
		pop3test.ExpectClosed(),
	)
	if err := c.Auth(sasl.NewPlainClient("", "alice", "secret")); err != nil {
		t.Fatal(err)
	}
	authWait(t, c, srv)
}

// RFC 5034 section 4: LOGIN, with the user name as initial response where SASL is listed,
// and in full two-step form where it is not.
func TestAuthLogin(t *testing.T) {
	t.Run("initial response", func(t *testing.T) {
		c, srv := authDial(t, nil, authSteps(
			capaSteps("SASL PLAIN LOGIN"),
			pop3test.Expect("AUTH LOGIN "+b64("alice")), pop3test.Reply("+ "+b64("Password:")),
			pop3test.Expect(b64("secret")), pop3test.Reply("+OK Logged in."),
			pop3test.ExpectClosed(),
		)...)
		if err := c.Auth(sasl.NewLoginClient("alice", "secret")); err != nil {
			t.Fatal(err)
		}
		authWait(t, c, srv)
	})
	t.Run("two steps", func(t *testing.T) {
		c, srv := authDial(t, nil, authSteps(
			capaSteps("USER"),
			pop3test.Expect("AUTH LOGIN"), pop3test.Reply("+ "+b64("Username:")),
			pop3test.Expect(b64("alice")), pop3test.Reply("+ "+b64("Password:")),
			pop3test.Expect(b64("secret")), pop3test.Reply("+OK Logged in."),
			pop3test.ExpectClosed(),
		)...)
		if err := c.Auth(sasl.NewLoginClient("alice", "secret")); err != nil {
			t.Fatal(err)
		}
		authWait(t, c, srv)
	})
}

// RFC 5034 section 4, RFC 7628: OAUTHBEARER with its initial response; a failure
// challenge makes go-sasl's client fail, so the exchange is cancelled with "*" and the
// error carries both the mechanism's status and the server's *Error.
func TestAuthOAuthBearer(t *testing.T) {
	opts := &sasl.OAuthBearerOptions{Username: "alice@example.com", Token: "ya29.token"}
	ir := "n,a=alice@example.com,\x01auth=Bearer ya29.token\x01\x01"
	t.Run("success", func(t *testing.T) {
		c, srv := authDial(t, nil, authSteps(
			capaSteps("SASL OAUTHBEARER XOAUTH2"),
			pop3test.Expect("AUTH OAUTHBEARER "+b64(ir)), pop3test.Reply("+OK"),
			pop3test.ExpectClosed(),
		)...)
		if err := c.Auth(sasl.NewOAuthBearerClient(opts)); err != nil {
			t.Fatal(err)
		}
		authWait(t, c, srv)
	})
	t.Run("failure cancelled", func(t *testing.T) {
		c, srv := authDial(t, nil, authSteps(
			capaSteps("SASL OAUTHBEARER"),
			pop3test.Expect("AUTH OAUTHBEARER "+b64(ir)),
			pop3test.Reply("+ "+b64(`{"status":"invalid_token","scope":"mail"}`)),
			pop3test.Expect("*"), pop3test.Reply("-ERR [AUTH] cancelled"),
			pop3test.ExpectClosed(),
		)...)
		err := c.Auth(sasl.NewOAuthBearerClient(opts))
		var oerr *sasl.OAuthBearerError
		var perr *pop3.Error
		if !errors.As(err, &oerr) || oerr.Status != "invalid_token" || !errors.As(err, &perr) || perr.Code != "AUTH" {
			t.Fatalf("Auth: %v; want the OAUTHBEARER status and the server's -ERR", err)
		}
		authWait(t, c, srv)
	})
}

// longToken makes an XOAUTH2 response far over the 255 octets of an AUTH line, as real
// access tokens are.
var longToken = strings.Repeat("EwBwA8l6BAAU", 30)

func xoauth2Response(user, token string) string {
	return b64("user=" + user + "\x01auth=Bearer " + token + "\x01\x01")
}

// RFC 5034 section 4 (255 octets), digest section 0 rule 10: XOAUTH2 in two steps, the
// response after the continuation; a bare "+" (Exchange) and "+ " (Gmail) are both
// continuations, not success.
func TestXOAuth2TwoSteps(t *testing.T) {
	for name, cont := range map[string]string{"Exchange bare plus": "+", "Gmail plus space": "+ "} {
		t.Run(name, func(t *testing.T) {
			c, srv := authDial(t, nil, authSteps(
				capaSteps("USER", "SASL PLAIN XOAUTH2"),
				pop3test.Expect("AUTH XOAUTH2"), pop3test.Reply(cont),
				pop3test.Expect(xoauth2Response("alice@contoso.com", longToken)),
				pop3test.Reply("+OK User successfully authenticated."),
				pop3test.Expect("STAT"), pop3test.Reply("+OK 2 20"),
				pop3test.ExpectClosed(),
			)...)
			if err := c.Auth(pop3.NewXOAuth2Client("alice@contoso.com", longToken)); err != nil {
				t.Fatal(err)
			}
			if n, _, err := c.Stat(); err != nil || n != 2 {
				t.Fatalf("Stat: %d, %v", n, err)
			}
			authWait(t, c, srv)
		})
	}
}

// A short XOAUTH2 token fits in the initial response, the exact format of the mechanism.
func TestXOAuth2InitialResponse(t *testing.T) {
	c, srv := authDial(t, nil, authSteps(
		capaSteps("SASL XOAUTH2"),
		pop3test.Expect("AUTH XOAUTH2 "+b64("user=bob@example.com\x01auth=Bearer abc\x01\x01")),
		pop3test.Reply("+OK"),
		pop3test.ExpectClosed(),
	)...)
	if err := c.Auth(pop3.NewXOAuth2Client("bob@example.com", "abc")); err != nil {
		t.Fatal(err)
	}
	authWait(t, c, srv)
}

// Gmail's XOAUTH2 failure: a challenge holding a JSON error, answered with an empty line;
// the *Error returned carries the decoded status. The session stays in AUTHORIZATION
// (RFC 5034 section 4: a failed AUTH changes no state), so USER/PASS may follow.
func TestXOAuth2Failure(t *testing.T) {
	failure := `{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}`
	c, srv := authDial(t, nil, authSteps(
		capaSteps("USER", "SASL PLAIN XOAUTH2"),
		pop3test.Expect("AUTH XOAUTH2"), pop3test.Reply("+ "),
		pop3test.Expect(xoauth2Response("alice@gmail.com", longToken)),
		pop3test.Reply("+ "+b64(failure)),
		pop3test.Expect(""),
		pop3test.Reply("-ERR [AUTH] Invalid credentials."),
		pop3test.Expect("USER alice"), pop3test.Reply("+OK"),
		pop3test.Expect("PASS secret"), pop3test.Reply("+OK"),
		pop3test.ExpectClosed(),
	)...)
	err := c.Auth(pop3.NewXOAuth2Client("alice@gmail.com", longToken))
	var perr *pop3.Error
	if !errors.As(err, &perr) {
		t.Fatalf("Auth: %v; want an *Error", err)
	}
	if perr.Code != "AUTH" || !strings.Contains(perr.Text, "status 401") || !strings.Contains(perr.Text, "Invalid credentials.") {
		t.Errorf("*Error %+v; want code AUTH and status 401 in the text", perr)
	}
	if err := c.Login("alice", "secret"); err != nil {
		t.Fatal(err)
	}
	authWait(t, c, srv)
}

// RFC 5034 section 4: a challenge that is not valid base64 is cancelled with "*"; the
// server's -ERR is wrapped with ErrMalformed.
func TestAuthCancelOnInvalidChallenge(t *testing.T) {
	c, srv := authDial(t, nil, authSteps(
		capaSteps("USER"),
		pop3test.Expect("AUTH LOGIN"), pop3test.Reply("+ "+b64("Username:")),
		pop3test.Expect(b64("alice")), pop3test.Reply("+ UGFzc3dvcmQ6=x"),
		pop3test.Expect("*"), pop3test.Reply("-ERR Authentication cancelled"),
		pop3test.ExpectClosed(),
	)...)
	err := c.Auth(sasl.NewLoginClient("alice", "secret"))
	var perr *pop3.Error
	if !errors.Is(err, pop3.ErrMalformed) || !errors.As(err, &perr) || errors.Is(err, pop3.ErrBroken) {
		t.Fatalf("Auth: %v; want ErrMalformed and the server's *Error, the connection usable", err)
	}
	authWait(t, c, srv)
}

// RFC 5034 section 4: the first challenge of the two-step form is decoded too; one that is
// not base64 is cancelled with "*", and the credentials held back for it are never sent.
func TestAuthTwoStepFirstChallengeChecked(t *testing.T) {
	c, srv := authDial(t, nil, authSteps(
		capaSteps("USER"), // no SASL: the initial response waits for the first continuation
		pop3test.Expect("AUTH PLAIN"), pop3test.Reply("+ !!not-base64!!"),
		pop3test.Expect("*"), pop3test.Reply("-ERR Authentication cancelled"),
		pop3test.ExpectClosed(),
	)...)
	err := c.Auth(sasl.NewPlainClient("", "alice", "secret"))
	if !errors.Is(err, pop3.ErrMalformed) {
		t.Fatalf("Auth: %v; want ErrMalformed", err)
	}
	authWait(t, c, srv)
}

// A first continuation spelled "+ =" (an empty challenge in the client's spelling) is
// accepted: the initial response held back for it follows.
func TestAuthTwoStepEqualsChallenge(t *testing.T) {
	c, srv := authDial(t, nil, authSteps(
		capaSteps("USER"),
		pop3test.Expect("AUTH PLAIN"), pop3test.Reply("+ ="),
		pop3test.Expect(b64("\x00alice\x00secret")), pop3test.Reply("+OK"),
		pop3test.ExpectClosed(),
	)...)
	if err := c.Auth(sasl.NewPlainClient("", "alice", "secret")); err != nil {
		t.Fatal(err)
	}
	authWait(t, c, srv)
}

// RFC 5034 section 4: an octet outside the base64 alphabet makes a challenge undecodable,
// a CR inside it included (encoding/base64 would skip it and decode "Password:").
func TestAuthChallengeWithCR(t *testing.T) {
	c, srv := authDial(t, nil, authSteps(
		capaSteps("SASL LOGIN"),
		pop3test.Expect("AUTH LOGIN "+b64("alice")), pop3test.Send("+ UGFz\rc3dvcmQ6\r\n"),
		pop3test.Expect("*"), pop3test.Reply("-ERR Authentication cancelled"),
		pop3test.ExpectClosed(),
	)...)
	err := c.Auth(sasl.NewLoginClient("alice", "secret"))
	if !errors.Is(err, pop3.ErrMalformed) {
		t.Fatalf("Auth: %v; want ErrMalformed", err)
	}
	authWait(t, c, srv)
}

// A failed AUTH leaves the session in AUTHORIZATION (RFC 5034 section 4), and the same
// XOAUTH2 client may try again: the second failure is answered and reported like the first.
func TestXOAuth2ClientReused(t *testing.T) {
	failure := b64(`{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}`)
	attempt := []pop3test.Step{
		pop3test.Expect("AUTH XOAUTH2 " + b64("user=bob\x01auth=Bearer abc\x01\x01")), pop3test.Reply("+ " + failure),
		pop3test.Expect(""), pop3test.Reply("-ERR [AUTH] Invalid credentials."),
	}
	c, srv := authDial(t, nil, authSteps(capaSteps("SASL XOAUTH2"), attempt, attempt, pop3test.ExpectClosed())...)
	mech := pop3.NewXOAuth2Client("bob", "abc")
	for i := 1; i <= 2; i++ {
		err := c.Auth(mech)
		var perr *pop3.Error
		if !errors.As(err, &perr) || perr.Code != "AUTH" || !strings.Contains(perr.Text, "XOAUTH2 status 401") {
			t.Fatalf("attempt %d: %v; want the -ERR with the XOAUTH2 status", i, err)
		}
	}
	authWait(t, c, srv)
}

// RFC 5034 section 4: "AUTH mech ir" over 255 octets goes in two steps: at the boundary
// (253 and 257 octets) and for a 300-octet initial response.
func TestAuthInitialResponseLength(t *testing.T) {
	for _, tc := range []struct {
		name     string
		password string
		twoStep  bool
	}{
		{"253-octet line", strings.Repeat("p", 173), false},
		{"257-octet line", strings.Repeat("p", 176), true},
		{"300-octet response", strings.Repeat("p", 293), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ir := b64("\x00alice\x00" + tc.password)
			var exchange []pop3test.Step
			if tc.twoStep {
				exchange = []pop3test.Step{pop3test.Expect("AUTH PLAIN"), pop3test.Reply("+ "), pop3test.Expect(ir)}
			} else {
				exchange = []pop3test.Step{pop3test.Expect("AUTH PLAIN " + ir)}
			}
			c, srv := authDial(t, nil, authSteps(capaSteps("SASL PLAIN"), exchange, pop3test.Reply("+OK"), pop3test.ExpectClosed())...)
			if err := c.Auth(sasl.NewPlainClient("", "alice", tc.password)); err != nil {
				t.Fatal(err)
			}
			authWait(t, c, srv)
		})
	}
}

// RFC 5034 section 4: an empty initial response is sent as "=".
func TestAuthEmptyInitialResponse(t *testing.T) {
	c, srv := authDial(t, nil, authSteps(
		capaSteps("SASL EXTERNAL"),
		pop3test.Expect("AUTH EXTERNAL ="), pop3test.Reply("+OK"),
		pop3test.ExpectClosed(),
	)...)
	if err := c.Auth(sasl.NewExternalClient("")); err != nil {
		t.Fatal(err)
	}
	authWait(t, c, srv)
}

// RFC 5034 section 4, RFC 3206: a negative reply is an *Error with its code; the state
// is unchanged, so TRANSACTION commands are still refused.
func TestAuthRefused(t *testing.T) {
	c, srv := authDial(t, nil, authSteps(
		capaSteps("SASL PLAIN"),
		pop3test.Expect("AUTH PLAIN "+b64("\x00alice\x00wrong")),
		pop3test.Reply("-ERR [AUTH] Authentication failed."),
		pop3test.ExpectClosed(),
	)...)
	err := c.Auth(sasl.NewPlainClient("", "alice", "wrong"))
	var perr *pop3.Error
	if !errors.As(err, &perr) || perr.Code != "AUTH" || perr.Command != "AUTH PLAIN ***" {
		t.Fatalf("Auth: %v (%#v)", err, perr)
	}
	if strings.Contains(err.Error(), b64("\x00alice\x00wrong")) {
		t.Errorf("the error shows the response: %v", err)
	}
	if _, _, err := c.Stat(); !errors.Is(err, pop3.ErrNotAuthenticated) {
		t.Errorf("Stat after a failed AUTH: %v", err)
	}
	authWait(t, c, srv)
}

// RFC 6856 section 2, RFC 8265: UTF-8 credentials, prepared with PRECIS, go as AUTH PLAIN
// when offered, else as USER/PASS under "UTF8 USER", else not at all; ASCII credentials
// keep USER/PASS.
func TestUTF8Credentials(t *testing.T) {
	t.Run("AUTH PLAIN", func(t *testing.T) {
		c, srv := authDial(t, nil, authSteps(
			capaSteps("USER", "SASL PLAIN LOGIN"),
			pop3test.Expect("AUTH PLAIN "+b64("\x00bob\x00pässwörd")), pop3test.Reply("+OK Logged in."),
			pop3test.ExpectClosed(),
		)...)
		if err := c.Login("bob", "pässwörd"); err != nil {
			t.Fatal(err)
		}
		authWait(t, c, srv)
	})
	t.Run("UTF8 USER", func(t *testing.T) {
		c, srv := authDial(t, nil, authSteps(
			capaSteps("USER", "UTF8 USER", "SASL LOGIN"),
			pop3test.Expect("UTF8"), pop3test.Reply("+OK UTF8 enabled"), // RFC 6856 section 3.1
			pop3test.Expect("USER jürgen"), pop3test.Reply("+OK"),
			pop3test.Expect("PASS pässwörd"), pop3test.Reply("+OK"),
			pop3test.ExpectClosed(),
		)...)
		if err := c.Login("jürgen", "pässwörd"); err != nil {
			t.Fatal(err)
		}
		authWait(t, c, srv)
	})
	t.Run("NFC", func(t *testing.T) { // OpaqueString normalises to NFC
		c, srv := authDial(t, nil, authSteps(
			capaSteps("UTF8 USER"),
			pop3test.Expect("UTF8"), pop3test.Reply("-ERR not now"), // refused: the login goes on
			pop3test.Expect("USER bob"), pop3test.Reply("+OK"),
			pop3test.Expect("PASS pässwörd"), pop3test.Reply("+OK"),
			pop3test.ExpectClosed(),
		)...)
		if err := c.Login("bob", "pa\u0308sswo\u0308rd"); err != nil {
			t.Fatal(err)
		}
		authWait(t, c, srv)
	})
	t.Run("neither", func(t *testing.T) {
		c, srv := authDial(t, nil, authSteps(
			capaSteps("USER", "UTF8", "SASL LOGIN"),
			pop3test.ExpectClosed(),
		)...)
		err := c.Login("bob", "pässwörd")
		if !errors.Is(err, pop3.ErrUTF8Credentials) || !errors.Is(err, pop3.ErrInvalidArgument) {
			t.Fatalf("Login: %v; want ErrUTF8Credentials", err)
		}
		authWait(t, c, srv)
	})
	t.Run("ASCII keeps USER/PASS", func(t *testing.T) {
		c, srv := authDial(t, nil, authSteps(
			capaSteps("USER", "SASL PLAIN"),
			pop3test.Expect("USER alice"), pop3test.Reply("+OK"),
			pop3test.Expect("PASS a b"), pop3test.Reply("+OK"),
			pop3test.ExpectClosed(),
		)...)
		if _, err := c.Capabilities(); err != nil {
			t.Fatal(err)
		}
		if err := c.Login("alice", "a b"); err != nil {
			t.Fatal(err)
		}
		authWait(t, c, srv)
	})
	t.Run("PRECIS refusal", func(t *testing.T) {
		c, srv := authDial(t, nil, pop3test.ExpectClosed())
		for _, cred := range [][2]string{
			{"bob smith", "x"},        // a space in a user name
			{"\u2163", "x"},           // ROMAN NUMERAL FOUR: a compatibility character
			{"bob", "p\u0085ss"},      // a C1 control
			{"bob", "\u200bpässwörd"}, // ZERO WIDTH SPACE: a default-ignorable character
			{"bob", ""},
		} {
			if err := c.Login(cred[0], cred[1]); !errors.Is(err, pop3.ErrInvalidArgument) {
				t.Errorf("Login(%q, %q): %v; want ErrInvalidArgument", cred[0], cred[1], err)
			} else if cred[1] != "x" && cred[1] != "" && strings.Contains(err.Error(), cred[1]) {
				t.Errorf("the error shows the password: %v", err)
			}
		}
		authWait(t, c, srv)
	})
}

// pipeServer serves a greeting over a net.Pipe and records every octet the client sends.
func pipeServer(t *testing.T, opts *pop3.Options, replies string) (*pop3.Client, func() string) {
	t.Helper()
	client, server := net.Pipe()
	got := make(chan string, 1)
	go func() {
		defer server.Close()
		io.WriteString(server, "+OK ready\r\n")
		r := bufio.NewReader(server)
		var all strings.Builder
		for _, reply := range strings.SplitAfter(replies, "\r\n") {
			if reply == "" {
				break
			}
			line, err := r.ReadString('\n')
			all.WriteString(line)
			if err != nil {
				got <- all.String()
				return
			}
			io.WriteString(server, reply)
		}
		rest, _ := io.ReadAll(r)
		all.Write(rest)
		got <- all.String()
	}()
	c, err := pop3.NewClient(client, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c, func() string {
		c.Close()
		select {
		case s := <-got:
			return s
		case <-time.After(10 * time.Second):
			t.Fatal("the pipe server did not finish")
			return ""
		}
	}
}

// RFC 8314 section 5.2, RFC 2595 section 2.3, digest section 6.2: over a connection that is
// neither TLS nor loopback (net.Pipe), Login and the mechanisms that send a password or
// token refuse before any octet is sent, unless AllowInsecureAuth.
func TestCleartextRefused(t *testing.T) {
	c, sent := pipeServer(t, nil, "")
	for name, call := range map[string]func() error{
		"Login":       func() error { return c.Login("alice", "secret") },
		"Login UTF-8": func() error { return c.Login("bob", "pässwörd") },
		"PLAIN":       func() error { return c.Auth(sasl.NewPlainClient("", "alice", "secret")) },
		"LOGIN":       func() error { return c.Auth(sasl.NewLoginClient("alice", "secret")) },
		"XOAUTH2":     func() error { return c.Auth(pop3.NewXOAuth2Client("alice", "token")) },
		"OAUTHBEARER": func() error {
			return c.Auth(sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: "alice", Token: "t"}))
		},
	} {
		if err := call(); !errors.Is(err, pop3.ErrInsecureAuth) {
			t.Errorf("%s: %v; want ErrInsecureAuth", name, err)
		}
	}
	if got := sent(); got != "" {
		t.Errorf("sent %q; want nothing", got)
	}

	c, sent = pipeServer(t, &pop3.Options{AllowInsecureAuth: true}, "-ERR\r\n+OK\r\n+OK\r\n")
	if err := c.Login("alice", "secret"); err != nil {
		t.Fatal(err)
	}
	if got := sent(); got != "CAPA\r\nUSER alice\r\nPASS secret\r\n" {
		t.Errorf("with AllowInsecureAuth, sent %q", got)
	}
}

// Close from another goroutine unblocks Auth waiting for a continuation.
func TestCloseUnblocksAuth(t *testing.T) {
	c, _ := authDial(t, &pop3.Options{Timeout: time.Minute}, authSteps(
		capaSteps("SASL XOAUTH2"),
		pop3test.Expect("AUTH XOAUTH2"),
		pop3test.Stall(time.Minute),
	)...)
	go func() {
		time.Sleep(100 * time.Millisecond)
		c.Close()
	}()
	start := time.Now()
	if err := c.Auth(pop3.NewXOAuth2Client("alice", longToken)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Auth: %v; want net.ErrClosed", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v to unblock Auth", d)
	}
}

// RFC 2449 section 6, RFC 2595, RFC 5034 section 3, RFC 6856 section 2: the typed
// capability accessors, on the lists of real servers.
func TestCapabilityAccessors(t *testing.T) {
	t.Run("Dovecot", func(t *testing.T) {
		c, srv := authDial(t, nil, authSteps(
			capaSteps("CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "STLS", "USER", "SASL PLAIN login"),
			pop3test.ExpectClosed(),
		)...)
		caps, err := c.Capabilities()
		if err != nil {
			t.Fatal(err)
		}
		if !caps.STLS() || !caps.Pipelining() || !caps.RespCodes() || !caps.AuthRespCode() || caps.UTF8() || caps.UTF8User() {
			t.Errorf("flags of %v", caps)
		}
		if got := strings.Join(caps.SASLMechanisms(), " "); got != "PLAIN LOGIN" || !caps.SupportsSASL("Login") || caps.SupportsSASL("XOAUTH2") {
			t.Errorf("SASL: %q", got)
		}
		if _, ok := caps.Expire(); ok {
			t.Error("Expire present")
		}
		if _, ok := caps.LoginDelay(); ok {
			t.Error("LoginDelay present")
		}
		authWait(t, c, srv)
	})
	t.Run("GNU Mailutils EXPIRENEVER", func(t *testing.T) {
		c, srv := authDial(t, nil, authSteps(
			capaSteps("TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "EXPIRENEVER", "USER", "STLS"),
			pop3test.ExpectClosed(),
		)...)
		caps, err := c.Capabilities()
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := caps.Expire(); !ok || !p.Never || p.PerUser {
			t.Errorf("Expire() = %+v, %v", p, ok)
		}
		authWait(t, c, srv)
	})
	for _, tc := range []struct {
		caps   pop3.Capabilities
		expire pop3.ExpirePolicy
		ok     bool
	}{
		{pop3.Capabilities{"EXPIRE": {"NEVER"}}, pop3.ExpirePolicy{Never: true}, true},
		{pop3.Capabilities{"EXPIRE": {"31", "USER"}}, pop3.ExpirePolicy{Days: 31, PerUser: true}, true},
		{pop3.Capabilities{"EXPIRE": {"0"}}, pop3.ExpirePolicy{Days: 0}, true},
		{pop3.Capabilities{"EXPIRE": {"soon"}}, pop3.ExpirePolicy{}, false},
		// A hand-built map: an argument is the number alone, as CAPA's fields are.
		{pop3.Capabilities{"EXPIRE": {"30 days"}}, pop3.ExpirePolicy{}, false},
		{pop3.Capabilities{"EXPIRE": {" 30"}}, pop3.ExpirePolicy{}, false},
		{pop3.Capabilities{"EXPIRE": {""}}, pop3.ExpirePolicy{}, false},
		{pop3.Capabilities{"EXPIRE": nil}, pop3.ExpirePolicy{}, false},
	} {
		if got, ok := tc.caps.Expire(); got != tc.expire || ok != tc.ok {
			t.Errorf("%v: Expire() = %+v, %v; want %+v, %v", tc.caps, got, ok, tc.expire, tc.ok)
		}
	}
	for _, tc := range []struct {
		caps  pop3.Capabilities
		delay pop3.LoginDelayPolicy
		ok    bool
	}{
		{pop3.Capabilities{"LOGIN-DELAY": {"900", "USER"}}, pop3.LoginDelayPolicy{Delay: 15 * time.Minute, PerUser: true}, true},
		{pop3.Capabilities{"LOGIN-DELAY": {"0"}}, pop3.LoginDelayPolicy{}, true},
		{pop3.Capabilities{"LOGIN-DELAY": {"-5"}}, pop3.LoginDelayPolicy{}, false},
		{pop3.Capabilities{"LOGIN-DELAY": {"99999999999999999999"}}, pop3.LoginDelayPolicy{}, false},
		{pop3.Capabilities{"LOGIN-DELAY": {" 900"}}, pop3.LoginDelayPolicy{}, false},
		{pop3.Capabilities{"LOGIN-DELAY": {"900\t"}}, pop3.LoginDelayPolicy{}, false},
	} {
		if got, ok := tc.caps.LoginDelay(); got != tc.delay || ok != tc.ok {
			t.Errorf("%v: LoginDelay() = %+v, %v; want %+v, %v", tc.caps, got, ok, tc.delay, tc.ok)
		}
	}
	utf8 := pop3.Capabilities{"UTF8": {"user"}}
	if !utf8.UTF8() || !utf8.UTF8User() {
		t.Errorf("UTF8 USER: %v, %v", utf8.UTF8(), utf8.UTF8User())
	}
}
