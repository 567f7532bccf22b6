package pop3_test

// GNU Mailutils' quirks, asserted where they are the point: the integration bodies of
// integration_session_test.go tolerate them, these tests show that the client reads each
// one as it should against the real server.

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/popwire/pop3"
	"github.com/popwire/pop3/internal/realserver"
)

// TestMailutilsGreetingAndCapabilities: the greeting carries an APOP timestamp although
// APOP is not offered, and the client logs in with USER/PASS, never APOP; the one-word
// EXPIRENEVER reads as EXPIRE NEVER; after login CAPA lists IMPLEMENTATION and still STLS
// and USER.
func TestMailutilsGreetingAndCapabilities(t *testing.T) {
	t.Parallel()
	srv := mailutilsBackend{}.Start(t, realserver.Messages()[:3])
	var trace syncBuffer
	c, err := pop3.Dial(srv.addr, &pop3.Options{Timeout: itTimeout, DebugWriter: &trace})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !regexp.MustCompile(`^POP3 Ready <\d+\.\d+@[^>]+>$`).MatchString(c.Greeting()) {
		t.Errorf("Greeting() = %q, want Mailutils' APOP-style timestamp", c.Greeting())
	}
	caps, err := c.Capabilities()
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := caps.Expire(); !ok || p != (pop3.ExpirePolicy{Never: true}) {
		t.Errorf("Expire() = %+v, %v; want Never from EXPIRENEVER (%v)", p, ok, caps)
	}
	if caps.Has("APOP") || len(caps.SASLMechanisms()) != 0 {
		t.Errorf("capabilities %v: Mailutils offers no APOP and no SASL here", caps)
	}
	if err := c.Login(srv.alice.user, srv.alice.pass); err != nil {
		t.Fatal(err)
	}
	after, err := c.Capabilities()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(after.Args("IMPLEMENTATION"), " "); !strings.HasPrefix(got, "GNU Mailutils") {
		t.Errorf("IMPLEMENTATION after login %q, want GNU Mailutils", got)
	}
	if !after.STLS() || !after.Has("USER") {
		t.Errorf("capabilities after login %v: Mailutils still lists STLS and USER", after)
	}
	itCheckSession(t, c, 3)
	got := trace.String()
	if strings.Contains(got, "C: APOP") || !strings.Contains(got, "C: USER "+srv.alice.user+"\r\n") || !strings.Contains(got, "C: PASS ***\r\n") {
		t.Errorf("trace:\n%s", got)
	}
}

// TestMailutilsAddedHeaders: what Mailutils serves is the stored message with header fields
// added, X-UIDL carrying the message's UIDL (at once), X-UID and Status (once a session
// has stored them); the client delivers them as the server sent them.
func TestMailutilsAddedHeaders(t *testing.T) {
	t.Parallel()
	msgs := realserver.Messages()
	srv := mailutilsBackend{}.Start(t, msgs)
	for session := 1; session <= 2; session++ {
		c, _ := itLogin(t, srv)
		uids, err := c.UIDL()
		if err != nil {
			t.Fatal(err)
		}
		rc, err := c.Retr(3)
		got := itRead(t, "Retr(3)", rc, err)
		head, _, _ := bytes.Cut(got, []byte("\r\n\r\n"))
		want := []string{"X-UIDL: " + uids[2].UID}
		if session == 2 {
			want = append(want, "X-UID: 3", "Status: O")
		}
		for _, w := range want {
			if !bytes.Contains(head, []byte("\r\n"+w)) {
				t.Errorf("session %d: Retr(3) header lacks %q:\n%s", session, w, head)
			}
		}
		itMessage(t, srv, fmt.Sprintf("session %d: Retr(3) without the added fields", session), got, msgs[2].Data)
		if err := c.Quit(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMailutilsTopExtraLine: Mailutils answers TOP n k (k > 0) with an empty line more
// after the header than the message has. The client passes the server's octets through
// unchanged; it neither removes the line nor counts it against k.
func TestMailutilsTopExtraLine(t *testing.T) {
	t.Parallel()
	msgs := realserver.Messages()
	srv := mailutilsBackend{}.Start(t, msgs)
	c, _ := itLogin(t, srv)
	for _, k := range []int{0, 1, 3} {
		rc, err := c.Top(1, k)
		got := srv.canon(itRead(t, fmt.Sprintf("Top(1, %d)", k), rc, err))
		stored := msgs[0].Data
		i := bytes.Index(stored, []byte("\n\n"))
		lines := bytes.SplitAfter(stored[i+2:], []byte("\n"))[:k]
		want := append([]byte(nil), stored[:i+2]...)
		if k > 0 {
			want = append(want, '\n')
		}
		want = append(want, bytes.Join(lines, nil)...)
		itCompare(t, fmt.Sprintf("Top(1, %d)", k), got, realserver.Wire(want))
	}
	itCheckSession(t, c, len(msgs))
}

// TestMailutilsSizesChange: the sizes Mailutils lists change within a session once UIDL
// has made it compute the X-UIDL field it adds to every message it serves; a message is
// still read to its terminating dot, whatever size was listed, and arrives whole.
func TestMailutilsSizesChange(t *testing.T) {
	t.Parallel()
	msgs := realserver.Messages()
	srv := mailutilsBackend{}.Start(t, msgs)
	c, _ := itLogin(t, srv)
	before, err := c.List()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UIDL(); err != nil {
		t.Fatal(err)
	}
	var got []byte
	err = c.RetrEach([]int{1}, func(_ int, r io.Reader) error {
		got, err = io.ReadAll(r)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	after, err := c.List()
	if err != nil {
		t.Fatal(err)
	}
	if before[0].Size == after[0].Size {
		t.Errorf("LIST gives message 1 the size %d before and after UIDL and RETR; Mailutils changes it", before[0].Size)
	}
	if int64(len(got)) == before[0].Size {
		t.Errorf("RETR 1 delivered %d octets, the size listed before it; Mailutils adds header fields", len(got))
	}
	itMessage(t, srv, "Retr(1)", got, msgs[0].Data)
	itCheckSession(t, c, len(msgs))
}
