package pop3_test

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/popwire/pop3"
	"github.com/popwire/pop3/pop3test"
)

// Server personalities, replayed from the transcripts in testdata/*.txt. Every transcript
// plays the same client session, so one test drives them all:
//
//	greeting, CAPA, USER alice, PASS secret, CAPA (again, after the login), STAT, LIST,
//	UIDL, RETR 1, TOP 1 0, RETR 2, DELE 1, QUIT
//
// The transcripts check every octet the Client sends (C0003, C0004: one space between the
// fields, CRLF at the end; C0015, C0012/C0030: STAT and QUIT without arguments; V0003,
// V0007: bare LIST and UIDL; V0006, V0008: never RSET or APOP, even when the greeting
// carries an APOP timestamp). This test checks what the Client makes of the replies, and
// compares message bodies octet for octet, so a wrong unstuffing or line-ending change fails.
//
// MS-STANOPOP3 items covered, by personality:
//   - V0001 (any case of "+OK"/"-ERR"): lowercase.txt ("+ok", "-err", lower-case tags and
//     response code).
//   - C0004, C0017, C0021, C0038 (runs of spaces and tabs between fields, text after the
//     numbers and after the unique-id): tabs.txt; C0017's trailing text also in zimbra.txt,
//     C0021's in gmail.txt and dovecot.txt status lines.
//   - C0005 (bare LF instead of CRLF): barelf.txt, in status lines, listings and bodies.
//   - V0002, C0023 (dot-unstuffing, CRLF kept): message bodies in every transcript, with
//     "..", "...", "..text" and a stuffed "." just before the terminating line.
//   - C0039 (opaque unique-ids): the long Mailutils ids, Exchange's base64 ids with "+",
//     "/" and "=".
//   - C0026 (a deleted message cannot be named again): after DELE 1, Retr(1) fails locally.
//   - C0031 (negative replies leave the session usable): RETR 2 fails in dovecot.txt and
//     lowercase.txt, and the session goes on with DELE and QUIT.
//   - C0034 (TOP n 0 is the header and the blank line): TOP 1 0 everywhere.

// personaCaps is a capability list as the Client should parse it: the upper-cased tags and
// their arguments, nil for none.
type personaCaps map[string][]string

// personality is what the Client must make of one transcript.
type personality struct {
	greeting    string
	capsBefore  personaCaps // the whole CAPA list before the login
	capsAfter   personaCaps // the whole CAPA list after the login
	count       int         // STAT
	size        int64       // STAT
	list        []pop3.ListEntry
	uids        []pop3.UIDEntry
	retr1, top1 string      // exact bodies, dot-stuffing removed
	retr2       string      // the body of message 2 when RETR 2 succeeds
	retr2Err    *pop3.Error // the negative reply to RETR 2, if any
}

// The two messages served by every personality, dot-stuffing removed, with CRLF endings.
// Message 1 holds UTF-8, raw Latin-1 octets and lines that begin with dots.
const (
	personaHeader1 = "Return-Path: <sender@example.org>\r\n" +
		"Message-ID: <testbed-1-2-1000@example.org>\r\n" +
		"Date: Tue, 14 Nov 2023 22:13:01 +0000\r\n" +
		"From: Sender <sender@example.org>\r\n" +
		"To: Alice <alice@example.org>\r\n" +
		"Subject: testbed message 1 of 2 (Grüße, ✓)\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: 8bit\r\n"
	personaText1 = "Message 1: edge cases follow.\r\n" +
		".\r\n" +
		"..\r\n" +
		".leading dot line\r\n" +
		"..two leading dots\r\n" +
		". dot space\r\n" +
		".\tdot tab\r\n" +
		"From the body: a line starting with From\r\n" +
		"UTF-8: Grüße, naïve café, 日本語, emoji ✉\r\n" +
		"Latin-1 raw bytes: caf\xe9 \xe0\xe8\xec\xf2\xf9 \x80\x81\xfe\xff end\r\n" +
		"a line ending in a dot.\r\n" +
		"\r\n" +
		".\r\n" +
		"-- end of message 1 --\r\n"
	personaHeader2 = "Return-Path: <bob@example.org>\r\n" +
		"Message-ID: <testbed-2-2-300@example.org>\r\n" +
		"From: Bob <bob@example.org>\r\n" +
		"To: Alice <alice@example.org>\r\n" +
		"Subject: Smørrebrød\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n"
	personaText2 = ".hidden line\r\n" +
		"..\r\n" +
		"Smørrebrød für alle.\r\n" +
		".\r\n"

	// Mailutils adds these headers to what it serves.
	personaMailutilsUID1 = "9bf4a064de562136517d8bf070ee17d2.1795627128.1"
	personaMailutilsUID2 = "851668f3210219f141f7bb39d49362eb.1795627128.2"
	personaMailutils1    = "X-UIDL: " + personaMailutilsUID1 + "\r\n" +
		"X-IMAPbase: 1795627128                   3\r\n" +
		"X-UID: 1\r\n" +
		"Status: O\r\n"
	personaMailutils2 = "X-UIDL: " + personaMailutilsUID2 + "\r\n" +
		"X-UID: 2\r\n" +
		"Status: O\r\n"
)

// personaMessages returns RETR 1, TOP 1 0 and RETR 2 as the Client should return them for
// servers that add extra1 and extra2 to the headers.
func personaMessages(extra1, extra2 string) (retr1, top1, retr2 string) {
	top1 = personaHeader1 + extra1 + "\r\n"
	return top1 + personaText1, top1, personaHeader2 + extra2 + "\r\n" + personaText2
}

// personaLF turns CRLF into LF, for the bare-LF server.
func personaLF(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

// personalityTable builds the expected results of every transcript in testdata.
func personalityTable() map[string]personality {
	retr1, top1, retr2 := personaMessages("", "")
	muRetr1, muTop1, muRetr2 := personaMessages(personaMailutils1, personaMailutils2)
	lfRetr1, lfTop1, lfRetr2 := personaLF(retr1), personaLF(top1), personaLF(retr2)

	// list and uids build the listings of the two messages.
	list := func(r1, r2 string) []pop3.ListEntry {
		return []pop3.ListEntry{{Number: 1, Size: int64(len(r1))}, {Number: 2, Size: int64(len(r2))}}
	}
	uids := func(u1, u2 string) []pop3.UIDEntry {
		return []pop3.UIDEntry{{Number: 1, UID: u1}, {Number: 2, UID: u2}}
	}
	total := func(r1, r2 string) int64 { return int64(len(r1) + len(r2)) }

	return map[string]personality{
		"dovecot": {
			greeting: "Dovecot (Debian) ready.",
			capsBefore: personaCaps{"CAPA": nil, "TOP": nil, "UIDL": nil, "RESP-CODES": nil, "PIPELINING": nil,
				"AUTH-RESP-CODE": nil, "STLS": nil, "USER": nil, "SASL": {"PLAIN", "LOGIN"}},
			capsAfter: personaCaps{"CAPA": nil, "TOP": nil, "UIDL": nil, "RESP-CODES": nil, "PIPELINING": nil,
				"AUTH-RESP-CODE": nil},
			count: 2, size: total(retr1, retr2),
			list:  list(retr1, retr2),
			uids:  uids("000000016553f100", "000000026553f100"),
			retr1: retr1, top1: top1,
			retr2Err: &pop3.Error{Command: "RETR 2", Text: "Message 2 expunged."},
		},
		"mailutils": {
			greeting: "POP3 Ready <20626.1795627131@vm>",
			capsBefore: personaCaps{"TOP": nil, "UIDL": nil, "RESP-CODES": nil, "PIPELINING": nil,
				"AUTH-RESP-CODE": nil, "EXPIRENEVER": nil, "USER": nil, "STLS": nil},
			capsAfter: personaCaps{"TOP": nil, "UIDL": nil, "RESP-CODES": nil, "PIPELINING": nil,
				"AUTH-RESP-CODE": nil, "EXPIRENEVER": nil, "USER": nil, "STLS": nil,
				"IMPLEMENTATION": {"GNU", "Mailutils", "3.15"}},
			count: 2, size: total(muRetr1, muRetr2),
			list:  list(muRetr1, muRetr2),
			uids:  uids(personaMailutilsUID1, personaMailutilsUID2),
			retr1: muRetr1, top1: muTop1, retr2: muRetr2,
		},
		"exchange": {
			greeting:   "The Microsoft Exchange POP3 service is ready.",
			capsBefore: personaCaps{"TOP": nil, "UIDL": nil, "SASL": {"PLAIN", "NTLM", "GSSAPI", "XOAUTH2"}, "USER": nil},
			capsAfter:  personaCaps{"TOP": nil, "UIDL": nil},
			count:      2, size: total(retr1, retr2),
			list: list(retr1, retr2),
			uids: uids("AAQkADU5ZjhhMGI4LTk1NzItNDI2Zi1hZjQ1LTc4ZmE+Rb7/AAA=",
				"AAQkADU5ZjhhMGI4LTk1NzItNDI2Zi1hZjQ1LTc4ZmE+Rb7/AAE="),
			retr1: retr1, top1: top1, retr2: retr2,
		},
		"gmail": {
			greeting: "Gpop ready for requests from 1.2.3.4 x1mb12345678abcd.42",
			capsBefore: personaCaps{"USER": nil, "RESP-CODES": nil, "EXPIRE": {"0"}, "LOGIN-DELAY": {"300"},
				"TOP": nil, "UIDL": nil, "X-GOOGLE-RICO": nil, "SASL": {"PLAIN", "XOAUTH2", "OAUTHBEARER"}},
			// PIPELINING only after the login: the Client must not reuse the first answer.
			capsAfter: personaCaps{"USER": nil, "RESP-CODES": nil, "EXPIRE": {"0"}, "LOGIN-DELAY": {"300"},
				"TOP": nil, "UIDL": nil, "X-GOOGLE-RICO": nil, "PIPELINING": nil},
			count: 2, size: total(retr1, retr2),
			list:  list(retr1, retr2),
			uids:  uids("GmailId18bcd6e1f2a3b4c5", "GmailId18bcd6e1f2a3b4c6"),
			retr1: retr1, top1: top1, retr2: retr2,
		},
		"zimbra": {
			greeting: "mail.example.com Zimbra POP3 server ready",
			capsBefore: personaCaps{"TOP": nil, "USER": nil, "UIDL": nil, "EXPIRE": {"31", "USER"},
				"SASL": {"PLAIN"}, "IMPLEMENTATION": {"ZimbraInc"}, "STLS": nil},
			capsAfter: personaCaps{"TOP": nil, "USER": nil, "UIDL": nil, "EXPIRE": {"31"},
				"IMPLEMENTATION": {"ZimbraInc"}},
			count: 2, size: total(retr1, retr2), // C0017: "octets in maildrop" ignored
			list:  list(retr1, retr2),
			uids:  uids("264.7b2e5c9f1a0d4e3b8c6a", "265.0c1d2e3f4a5b6c7d8e9f"),
			retr1: retr1, top1: top1, retr2: retr2,
		},
		"lowercase": { // V0001
			greeting: "pop3 server ready",
			// Tags are upper-cased; arguments are kept as sent.
			capsBefore: personaCaps{"TOP": nil, "UIDL": nil, "USER": nil, "RESP-CODES": nil, "SASL": {"plain", "login"}},
			capsAfter:  personaCaps{"TOP": nil, "UIDL": nil, "RESP-CODES": nil, "PIPELINING": nil},
			count:      2, size: total(retr1, retr2),
			list:  list(retr1, retr2),
			uids:  uids("a1b2c3d4e5f60718", "a1b2c3d4e5f60719"),
			retr1: retr1, top1: top1,
			// "-err [sys/temp] ...": negative, with the code upper-cased.
			retr2Err: &pop3.Error{Command: "RETR 2", Code: "SYS/TEMP", Text: "message 2 is temporarily unavailable"},
		},
		"tabs": { // C0004, C0017, C0021, C0038
			greeting:   "POP3  server\tready",
			capsBefore: personaCaps{"TOP": nil, "UIDL": nil, "SASL": {"PLAIN", "LOGIN"}, "LOGIN-DELAY": {"60"}, "USER": nil},
			capsAfter:  personaCaps{"TOP": nil, "UIDL": nil, "PIPELINING": nil, "LOGIN-DELAY": {"60"}},
			count:      2, size: total(retr1, retr2),
			list:  list(retr1, retr2),
			uids:  uids("uid-0001+a/b=", "uid-0002"),
			retr1: retr1, top1: top1, retr2: retr2,
		},
		"barelf": { // C0005: LF everywhere, and in the bodies too
			greeting:   "bare-LF server ready",
			capsBefore: personaCaps{"TOP": nil, "UIDL": nil, "USER": nil},
			capsAfter:  personaCaps{"TOP": nil, "UIDL": nil, "PIPELINING": nil},
			count:      2, size: total(lfRetr1, lfRetr2),
			list:  list(lfRetr1, lfRetr2),
			uids:  uids("lf-0001", "lf-0002"),
			retr1: lfRetr1, top1: lfTop1, retr2: lfRetr2,
		},
	}
}

func TestPersonalities(t *testing.T) {
	table := personalityTable()
	replayTranscripts(t, "testdata", slices.Collect(maps.Keys(table)), func(t *testing.T, name string, srv *pop3test.Server) {
		replayPersonality(t, table[name], srv)
	})
}

// replayTranscripts runs replay, in parallel subtests, on a scripted server playing each
// transcript dir/NAME.txt, and checks that the transcripts are exactly those of names.
func replayTranscripts(t *testing.T, dir string, names []string, replay func(t *testing.T, name string, srv *pop3test.Server)) {
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]bool)
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txt")
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if !slices.Contains(names, name) {
				t.Fatalf("%s has no entry in the table of expected results", file)
			}
			steps, err := pop3test.LoadTranscript(file)
			if err != nil {
				t.Fatal(err)
			}
			replay(t, name, pop3test.NewServer(t, steps...))
		})
	}
	for _, name := range names {
		if !seen[name] {
			t.Errorf("the table has %q, but %s is missing", name, filepath.Join(dir, name+".txt"))
		}
	}
}

// replayPersonality plays the fixed session against srv and checks every result.
func replayPersonality(t *testing.T, p personality, srv *pop3test.Server) {
	c, err := pop3.Dial(srv.Addr(), nil)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	if got := c.Greeting(); got != p.greeting {
		t.Errorf("Greeting() = %q, want %q", got, p.greeting)
	}

	caps, err := c.Capabilities()
	if err != nil {
		t.Fatalf("Capabilities before login: %v", err)
	}
	checkPersonaCaps(t, "before login", caps, p.capsBefore)

	if err := c.Login("alice", "secret"); err != nil { // C0044: USER, then PASS
		t.Fatalf("Login: %v", err)
	}
	caps, err = c.Capabilities() // a new state: CAPA is asked again
	if err != nil {
		t.Fatalf("Capabilities after login: %v", err)
	}
	checkPersonaCaps(t, "after login", caps, p.capsAfter)
	if again, err := c.Capabilities(); err != nil || len(again) != len(caps) { // cached: no third CAPA
		t.Errorf("third Capabilities() = %v, %v", again, err)
	}

	count, size, err := c.Stat() // C0017
	if err != nil || count != p.count || size != p.size {
		t.Errorf("Stat() = %d, %d, %v; want %d, %d", count, size, err, p.count, p.size)
	}

	list, err := c.List() // C0020, C0021
	if err != nil || !slices.Equal(list, p.list) {
		t.Errorf("List() = %v, %v; want %v", list, err, p.list)
	}

	uids, err := c.UIDL() // C0037, C0038, C0039
	if err != nil || !slices.Equal(uids, p.uids) {
		t.Errorf("UIDL() = %v, %v; want %v", uids, err, p.uids)
	}

	// V0002, C0022, C0023: RETR through Read with a large buffer.
	r, err := c.Retr(1)
	if err != nil {
		t.Fatalf("Retr(1): %v", err)
	}
	body, err := io.ReadAll(r)
	checkPersonaBody(t, "RETR 1", body, err, r, p.retr1)

	// C0032, C0034: TOP through io.Copy, which takes the DotReader's WriteTo path.
	r, err = c.Top(1, 0)
	if err != nil {
		t.Fatalf("Top(1, 0): %v", err)
	}
	var buf bytes.Buffer
	_, err = io.Copy(&buf, r)
	checkPersonaBody(t, "TOP 1 0", buf.Bytes(), err, r, p.top1)

	// RETR 2 either succeeds, read one octet at a time, or fails with a negative reply
	// that leaves the session usable (C0031).
	r, err = c.Retr(2)
	if p.retr2Err != nil {
		var perr *pop3.Error
		if !errors.As(err, &perr) {
			t.Fatalf("Retr(2) = %v, %v; want %v", r, err, p.retr2Err)
		}
		if *perr != *p.retr2Err {
			t.Errorf("Retr(2) error = %#v, want %#v", *perr, *p.retr2Err)
		}
		if perr.Temporary() != (p.retr2Err.Code == "SYS/TEMP") {
			t.Errorf("Retr(2) error %v: Temporary() = %v", perr, perr.Temporary())
		}
	} else {
		if err != nil {
			t.Fatalf("Retr(2): %v", err)
		}
		body, err := io.ReadAll(iotest.OneByteReader(r))
		checkPersonaBody(t, "RETR 2", body, err, r, p.retr2)
	}

	// The transcripts report exact sizes: LIST agrees with what RETR delivered.
	if len(list) == 2 && (list[0].Size != int64(len(p.retr1)) || p.retr2Err == nil && list[1].Size != int64(len(p.retr2))) {
		t.Errorf("LIST sizes %v differ from the body lengths %d, %d", list, len(p.retr1), len(p.retr2))
	}

	if err := c.Dele(1); err != nil { // C0024
		t.Fatalf("Dele(1): %v", err)
	}
	if _, err := c.Retr(1); !errors.Is(err, pop3.ErrDeleted) { // C0026, refused locally
		t.Errorf("Retr(1) after Dele(1) = %v, want ErrDeleted", err)
	}
	if err := c.Quit(); err != nil { // C0030
		t.Fatalf("Quit: %v", err)
	}
	if err := srv.Wait(); err != nil {
		t.Fatalf("server: %v", err)
	}
}

// checkPersonaBody compares a body read to its end with want, octet for octet, and checks
// that Close after the end is clean.
func checkPersonaBody(t *testing.T, what string, got []byte, err error, r io.Closer, want string) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: reading the body: %v", what, err)
	}
	if string(got) != want {
		t.Errorf("%s body differs at octet %d:\n got %q\nwant %q", what, personaDiffAt(string(got), want), got, want)
	}
	if err := r.Close(); err != nil {
		t.Errorf("%s: Close after the end: %v", what, err)
	}
}

// personaDiffAt returns the index of the first octet where a and b differ.
func personaDiffAt(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// checkPersonaCaps compares a parsed CAPA list with the whole expected list: every tag
// present with exactly its arguments, and nothing more.
func checkPersonaCaps(t *testing.T, state string, got pop3.Capabilities, want personaCaps) {
	t.Helper()
	for name, args := range want {
		if !got.Has(name) {
			t.Errorf("CAPA %s: %s missing (got %s)", state, name, personaCapsString(got))
			continue
		}
		if !slices.Equal(got.Args(name), args) {
			t.Errorf("CAPA %s: Args(%s) = %q, want %q", state, name, got.Args(name), args)
		}
		if !got.Has(strings.ToLower(name)) {
			t.Errorf("CAPA %s: Has(%q) is false", state, strings.ToLower(name))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("CAPA %s: unexpected capability %q %q", state, name, got[name])
		}
	}
}

func personaCapsString(c pop3.Capabilities) string {
	names := make([]string, 0, len(c))
	for name := range c {
		names = append(names, name)
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}
