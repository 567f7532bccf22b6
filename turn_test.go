package pop3_test

import (
	"errors"
	"io"
	"net"
	"sort"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/popwire/pop3"
	. "github.com/popwire/pop3/pop3test"
)

// everyCall makes each call of the Client and of its Conn once and returns their errors by
// name. Quit is left out: it closes the connection (TestQuitInsideBatchCloses).
func everyCall(c *pop3.Client) map[string]error {
	conn := c.Conn()
	errs := map[string]error{}
	errs["Conn.Cmd"] = conn.Cmd("NOOP")
	_, errs["Conn.ReadResponse"] = conn.ReadResponse()
	errs["Conn.ReadListing"] = conn.ReadListing(func([]byte) error { return nil })
	_, errs["Conn.DotReader"] = io.ReadAll(conn.DotReader())
	errs["Noop"] = c.Noop()
	_, _, errs["Stat"] = c.Stat()
	_, errs["List"] = c.List()
	_, errs["UIDL"] = c.UIDL()
	_, errs["Retr"] = c.Retr(3)
	_, errs["Top"] = c.Top(3, 1)
	errs["Dele"] = c.Dele(3)
	errs["RetrEach"] = c.RetrEach([]int{3}, func(int, io.Reader) error { return nil })
	errs["TopEach"] = c.TopEach([]int{3}, 0, func(int, io.Reader) error { return nil })
	errs["DeleEach"] = c.DeleEach([]int{3})
	_, errs["Capabilities"] = c.Capabilities()
	errs["Login"] = c.Login("bob", "secret")
	errs["Auth"] = c.Auth(sasl.NewPlainClient("", "bob", "secret"))
	errs["StartTLS"] = c.StartTLS(nil)
	return errs
}

// checkAll fails the test for every call whose error does not match want.
func checkAll(t *testing.T, errs map[string]error, want error) {
	t.Helper()
	names := make([]string, 0, len(errs))
	for name := range errs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !errors.Is(errs[name], want) {
			t.Errorf("%s: %v; want %v", name, errs[name], want)
		}
	}
}

// Issue 8's proof: a call on the Conn (or the Client) from inside a RetrEach callback
// used to send NOOP in the middle of the batch, which then took the NOOP's "+OK" for the
// next message's status line (serial) or raced the batch's writer (pipelined). Now the
// batch owns the Conn: every call fails with ErrBusy before anything is sent, the bodies
// arrive intact, and the session stays in step. The script fails on any line it does not
// expect, so a NOOP sent would fail the test; run it with -race.
func TestCallsInsideBatchAreBusy(t *testing.T) {
	for name, steps := range map[string][]Step{
		"serial": script(capaSerial,
			Expect("RETR 1"), Reply("+OK", "Subject: 1", "", "one", "."),
			Expect("RETR 2"), Reply("+OK", "Subject: 2", "", "two", "."),
			Expect("STAT"), Reply("+OK 2 40")),
		"pipelined": script(capaPipelining,
			Expect("RETR 1"), Expect("RETR 2"),
			Reply("+OK", "Subject: 1", "", "one", ".", "+OK", "Subject: 2", "", "two", "."),
			Expect("STAT"), Reply("+OK 2 40")),
	} {
		t.Run(name, func(t *testing.T) {
			c, srv := login(t, nil, steps)
			got := map[int]string{}
			err := c.RetrEach([]int{1, 2}, func(n int, r io.Reader) error {
				checkAll(t, everyCall(c), pop3.ErrBusy)
				return collect(got)(n, r)
			})
			if err != nil {
				t.Fatalf("RetrEach: %v", err)
			}
			if got[1] != "Subject: 1\r\n\r\none\r\n" || got[2] != "Subject: 2\r\n\r\ntwo\r\n" {
				t.Errorf("bodies %v", got)
			}
			if n, _, err := c.Stat(); err != nil || n != 2 {
				t.Fatalf("Stat after the batch: %d, %v", n, err)
			}
			wait(t, srv)
		})
	}
}

// The same from inside DeleEach's bookkeeping is impossible (it has no callback); from a
// TopEach callback it is the same rule.
func TestCallsInsideTopEachAreBusy(t *testing.T) {
	c, srv := login(t, nil, capaSerial, Expect("TOP 1 0"), Reply("+OK", "Subject: 1", "", "."),
		Expect("NOOP"), Reply("+OK"))
	err := c.TopEach([]int{1}, 0, func(n int, r io.Reader) error {
		if err := c.Conn().Cmd("NOOP"); !errors.Is(err, pop3.ErrBusy) {
			t.Errorf("Conn.Cmd inside TopEach: %v; want ErrBusy", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
	wait(t, srv)
}

// After Close, every call fails at once with an error that says the connection is closed
// and matches net.ErrClosed, not ErrBroken; nothing is sent.
func TestCallsAfterCloseSayClosed(t *testing.T) {
	c, srv := login(t, nil, ExpectClosed())
	c.Close()
	errs := everyCall(c)
	checkAll(t, errs, net.ErrClosed)
	for name, err := range errs {
		if errors.Is(err, pop3.ErrBroken) || !strings.Contains(err.Error(), "closed") {
			t.Errorf("%s: %v; want a closed error that is not ErrBroken", name, err)
		}
	}
	wait(t, srv)
}

// Capabilities returns the caller's copy: changing it changes nothing in the Client, which
// still sends no CAPA again.
func TestCapabilitiesIsACopy(t *testing.T) {
	c, srv := dial(t, nil, greeting, Expect("CAPA"), Reply("+OK", "SASL PLAIN", "TOP", "."))
	caps, err := c.Capabilities()
	if err != nil {
		t.Fatal(err)
	}
	caps["SASL"][0] = "LOGIN"
	delete(caps, "TOP")
	again, err := c.Capabilities()
	if err != nil || !again.Has("TOP") || !again.SupportsSASL("PLAIN") || again.SupportsSASL("LOGIN") {
		t.Fatalf("Capabilities after changing the copy: %v, %v", again, err)
	}
	c.Close()
	wait(t, srv)
}

// A command sent through the Conn whose reply is unread would have its reply taken by the
// Client's next call: the Client refuses to send until it is read, and then goes on.
func TestClientWaitsForTheConnsReply(t *testing.T) {
	c, srv := login(t, nil, Expect("NOOP"), Reply("+OK noop"), Expect("STAT"), Reply("+OK 2 20"))
	if err := c.Conn().Cmd("NOOP"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Stat(); !errors.Is(err, pop3.ErrBusy) || !strings.Contains(err.Error(), "NOOP") {
		t.Fatalf("Stat with NOOP's reply unread: %v; want ErrBusy naming NOOP", err)
	}
	if resp, err := c.Conn().ReadResponse(); err != nil || resp.Text != "noop" {
		t.Fatalf("NOOP's reply: %+v, %v", resp, err)
	}
	if n, _, err := c.Stat(); err != nil || n != 2 {
		t.Fatalf("Stat: %d, %v", n, err)
	}
	wait(t, srv)
}
