package pop3_test

// Tests of AUTH NTLM as MS-OXPOP3 specifies it (section 4.1), against scripted Exchange-like
// servers. The test plays the server's side of MS-NLMP with its own code: it builds the
// CHALLENGE, decodes the client's NEGOTIATE and AUTHENTICATE, and checks the NTLMv2 proof
// (MS-NLMP section 3.3.2) with an MD4 written here from RFC 1320.

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"math/bits"
	"os"
	"strings"
	"testing"
	"testing/cryptotest"
	"unicode/utf16"

	"github.com/emersion/go-sasl"
	"github.com/popwire/pop3"
	"github.com/popwire/pop3/pop3test"
)

var le = binary.LittleEndian

func enc(p []byte) string { return base64.StdEncoding.EncodeToString(p) }

// md4Sum is MD4 (RFC 1320 section 3): the message padded as in MD5, then three rounds of
// sixteen steps over each 64-octet block.
func md4Sum(msg []byte) [16]byte {
	p := append([]byte(nil), msg...)
	p = append(p, 0x80)
	for len(p)%64 != 56 {
		p = append(p, 0)
	}
	p = le.AppendUint64(p, uint64(len(msg))*8)
	state := [4]uint32{0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476}
	round3 := [16]int{0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15}
	shifts := [3][4]int{{3, 7, 11, 19}, {3, 5, 9, 13}, {3, 9, 11, 15}}
	for ; len(p) > 0; p = p[64:] {
		var x [16]uint32
		for i := range x {
			x[i] = le.Uint32(p[4*i:])
		}
		v := state
		for r := 0; r < 3; r++ {
			for i := 0; i < 16; i++ {
				// The register updated cycles a, d, c, b; the other three follow it.
				j := (4 - i%4) % 4
				b, c, d := v[(j+1)%4], v[(j+2)%4], v[(j+3)%4]
				var f, k, add uint32
				switch r {
				case 0:
					f, k = b&c|^b&d, uint32(i)
				case 1:
					f, k, add = b&c|b&d|c&d, uint32(i%4*4+i/4), 0x5a827999
				case 2:
					f, k, add = b^c^d, uint32(round3[i]), 0x6ed9eba1
				}
				v[j] = bits.RotateLeft32(v[j]+f+x[k]+add, shifts[r][i%4])
			}
		}
		for i := range state {
			state[i] += v[i]
		}
	}
	var sum [16]byte
	for i, w := range state {
		le.PutUint32(sum[4*i:], w)
	}
	return sum
}

func utf16le(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = le.AppendUint16(b, u)
	}
	return b
}

func hmacMD5(key []byte, data ...[]byte) []byte {
	m := hmac.New(md5.New, key)
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(nil)
}

// ntowfv2 is MS-NLMP section 3.3.2: HMAC-MD5(MD4(UNICODE(password)),
// UNICODE(Uppercase(user) + domain)).
func ntowfv2(password, user, domain string) []byte {
	h := md4Sum(utf16le(password))
	return hmacMD5(h[:], utf16le(strings.ToUpper(user)+domain))
}

// ntProofStr is MS-NLMP section 3.3.2: HMAC-MD5(NTOWFv2, serverChallenge || temp).
func ntProofStr(password, user, domain string, serverChallenge, temp []byte) []byte {
	return hmacMD5(ntowfv2(password, user, domain), serverChallenge, temp)
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The test's own cryptography against RFC 1320 appendix A.5 and MS-NLMP section 4.2.4.
func TestNTLMTestCrypto(t *testing.T) {
	for in, want := range map[string]string{
		"":                           "31d6cfe0d16ae931b73c59d7e0c089c0",
		"a":                          "bde52cb31de33e46245e05fbdbd6fb24",
		"abc":                        "a448017aaf21d8525fc10ae87aa6729d",
		"message digest":             "d9130a8164549fe818874806e1c7014b",
		"abcdefghijklmnopqrstuvwxyz": "d79e1c308aa5bbcdeea8ed63df412da9",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789": "043f8582f241db351ce627e153e7f0e4",
		strings.Repeat("1234567890", 8):                                  "e33b4ddc9c38f2199c3e7b164fcc0536",
	} {
		if got := md4Sum([]byte(in)); hex.EncodeToString(got[:]) != want {
			t.Errorf("MD4(%q) = %x; want %s", in, got, want)
		}
	}
	if got := ntowfv2("Password", "User", "Domain"); hex.EncodeToString(got) != "0c868a403bfd7a93a3001ef22ef02e3f" {
		t.Errorf("NTOWFv2 = %x", got)
	}
	// MS-NLMP 4.2.4.2.2: time 0, client challenge aa..., the AV pairs of 4.2.4.
	temp := unhex(t, "0101000000000000 0000000000000000 aaaaaaaaaaaaaaaa 00000000"+
		"02000c0044006f006d00610069006e00 01000c00530065007200760065007200 00000000 00000000")
	got := ntProofStr("Password", "User", "Domain", unhex(t, "0123456789abcdef"), temp)
	if hex.EncodeToString(got) != "68cd0ab851e51c96aabc927bebef6a1c" {
		t.Errorf("NTProofStr = %x", got)
	}
}

// Negotiate flags of MS-NLMP section 2.2.2.5.
const (
	flagUnicode       = 0x00000001
	flagOEM           = 0x00000002
	flagRequestTarget = 0x00000004
	flagLMKey         = 0x00000080
	flagNTLM          = 0x00000200
	flagOEMDomain     = 0x00001000
	flagOEMWorkst     = 0x00002000
	flagAlwaysSign    = 0x00008000
	flagTargetDomain  = 0x00010000
	flagESS           = 0x00080000
	flagTargetInfo    = 0x00800000
	flagVersion       = 0x02000000
	flag128           = 0x20000000
	flagKeyExch       = 0x40000000
	flag56            = 0x80000000
)

// exchangeFlags are those of an Exchange 2016 CHALLENGE to a client that asked for neither
// signing nor key exchange.
const exchangeFlags = flagUnicode | flagRequestTarget | flagNTLM | flagAlwaysSign | flagTargetDomain |
	flagESS | flagTargetInfo | flagVersion | flag128 | flag56

var (
	serverChallenge = []byte{0x4e, 0x7a, 0x31, 0x09, 0xc2, 0x55, 0x8f, 0xe0}
	// challengeTime is the FILETIME of 2026-12-01 08:00 UTC, sent as MsvAvTimestamp.
	challengeTime = le.AppendUint64(nil, 134090784000000000)
)

// avPair is an AV_PAIR of MS-NLMP section 2.2.2.1.
func avPair(id uint16, value []byte) []byte {
	b := le.AppendUint16(nil, id)
	b = le.AppendUint16(b, uint16(len(value)))
	return append(b, value...)
}

// exchangeTargetInfo is the target information of a domain-joined Exchange server.
func exchangeTargetInfo() []byte {
	var b []byte
	b = append(b, avPair(2, utf16le("CONTOSO"))...)
	b = append(b, avPair(1, utf16le("EXCH01"))...)
	b = append(b, avPair(4, utf16le("contoso.com"))...)
	b = append(b, avPair(3, utf16le("exch01.contoso.com"))...)
	b = append(b, avPair(5, utf16le("contoso.com"))...)
	b = append(b, avPair(7, challengeTime)...)
	return append(b, avPair(0, nil)...)
}

// challengeMsg builds a CHALLENGE message (MS-NLMP section 2.2.1.2) with a Version of
// Windows Server 2019, the target name CONTOSO and targetInfo.
func challengeMsg(flags uint32, targetInfo []byte) []byte {
	name := utf16le("CONTOSO")
	const fixed = 56
	b := make([]byte, fixed)
	copy(b, "NTLMSSP\x00")
	le.PutUint32(b[8:], 2)
	putField(b[12:], len(name), fixed)
	le.PutUint32(b[20:], flags)
	copy(b[24:32], serverChallenge)
	putField(b[40:], len(targetInfo), fixed+len(name))
	b[48], b[49] = 10, 0
	le.PutUint16(b[50:], 17763)
	b[55] = 15
	return append(append(b, name...), targetInfo...)
}

// putField writes the length, maximum length and offset of a payload field.
func putField(b []byte, n, offset int) {
	le.PutUint16(b, uint16(n))
	le.PutUint16(b[2:], uint16(n))
	le.PutUint32(b[4:], uint32(offset))
}

// field reads the payload field described at off, failing the test if it lies outside msg.
func field(t *testing.T, msg []byte, off int) []byte {
	t.Helper()
	n, start := int(le.Uint16(msg[off:])), int(le.Uint32(msg[off+4:]))
	if start > len(msg) || n > len(msg)-start {
		t.Fatalf("field at %d: %d octets at %d, beyond the %d of the message", off, n, start, len(msg))
	}
	return msg[start : start+n]
}

func fromUTF16(t *testing.T, b []byte) string {
	t.Helper()
	if len(b)%2 != 0 {
		t.Fatalf("odd UTF-16 length %d", len(b))
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = le.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// checkNegotiate decodes a NEGOTIATE message (MS-NLMP section 2.2.1.1): signature, type 1,
// the flags of an NTLMv2 client with UNICODE, and no client domain or workstation.
func checkNegotiate(t *testing.T, line string) {
	t.Helper()
	msg, err := base64.StdEncoding.DecodeString(line)
	if err != nil {
		t.Fatalf("NEGOTIATE %q: %v", line, err)
	}
	if len(msg) < 32 || string(msg[:8]) != "NTLMSSP\x00" || le.Uint32(msg[8:]) != 1 {
		t.Fatalf("NEGOTIATE %x: not an NTLM message of type 1", msg)
	}
	flags := le.Uint32(msg[12:])
	if want := uint32(flagUnicode | flagNTLM | flagESS); flags&want != want {
		t.Errorf("NEGOTIATE flags %#08x lack UNICODE, NTLM or EXTENDED_SESSIONSECURITY", flags)
	}
	if bad := uint32(flagLMKey | flagKeyExch | flagOEMDomain | flagOEMWorkst); flags&bad != 0 {
		t.Errorf("NEGOTIATE flags %#08x ask for LM, key exchange, or name the client machine", flags&bad)
	}
	if d, w := field(t, msg, 16), field(t, msg, 24); len(d) != 0 || len(w) != 0 {
		t.Errorf("NEGOTIATE names domain %q, workstation %q; want neither", d, w)
	}
}

// authenticateMsg is what the server reads in an AUTHENTICATE message.
type authenticateMsg struct {
	flags                     uint32
	lm, nt                    []byte
	domain, user, workstation string
	sessionKey                []byte
}

// parseAuthenticate decodes an AUTHENTICATE message (MS-NLMP section 2.2.1.3).
func parseAuthenticate(t *testing.T, line string) authenticateMsg {
	t.Helper()
	msg, err := base64.StdEncoding.DecodeString(line)
	if err != nil {
		t.Fatalf("AUTHENTICATE %q: %v", line, err)
	}
	if len(msg) < 64 || string(msg[:8]) != "NTLMSSP\x00" || le.Uint32(msg[8:]) != 3 {
		t.Fatalf("AUTHENTICATE %x: not an NTLM message of type 3", msg)
	}
	return authenticateMsg{
		lm:          field(t, msg, 12),
		nt:          field(t, msg, 20),
		domain:      fromUTF16(t, field(t, msg, 28)),
		user:        fromUTF16(t, field(t, msg, 36)),
		workstation: fromUTF16(t, field(t, msg, 44)),
		sessionKey:  field(t, msg, 52),
		flags:       le.Uint32(msg[60:]),
	}
}

// verifyNTLMv2 does what the domain controller does with an AUTHENTICATE (MS-NLMP section
// 3.3.2): from password and the user and domain the message names, it computes the
// NTProofStr over the server challenge and the client's temp, and reports whether it is
// the client's. It also checks the shape of temp: the NTLMv2 client challenge structure
// (MS-NLMP section 2.2.2.7) carrying the server's timestamp and target information.
func verifyNTLMv2(t *testing.T, a authenticateMsg, password string, targetInfo []byte) bool {
	t.Helper()
	if len(a.nt) < 16+28+4 {
		t.Fatalf("NtChallengeResponse of %d octets: not NTLMv2", len(a.nt))
	}
	proof, temp := a.nt[:16], a.nt[16:]
	if temp[0] != 1 || temp[1] != 1 || !bytes.Equal(temp[2:8], make([]byte, 6)) {
		t.Errorf("temp starts %x; want RespType 1, HiRespType 1, six zeros", temp[:8])
	}
	if !bytes.Equal(temp[8:16], challengeTime) {
		t.Errorf("temp carries the time %x; want the server's MsvAvTimestamp %x", temp[8:16], challengeTime)
	}
	if bytes.Equal(temp[16:24], make([]byte, 8)) {
		t.Error("the client challenge is zero")
	}
	if !bytes.Contains(temp[28:], targetInfo[:len(targetInfo)-4]) {
		t.Error("temp does not carry the server's target information")
	}
	if len(a.lm) != 0 && !bytes.Equal(a.lm, make([]byte, 24)) {
		t.Errorf("an LM response %x beside the NTLMv2 response (MS-NLMP 3.1.5.1.2: none with MsvAvTimestamp)", a.lm)
	}
	return hmac.Equal(proof, ntProofStr(password, a.user, a.domain, serverChallenge, temp))
}

// prepareNTLM makes the mechanism's NEGOTIATE and AUTHENTICATE for challenge ahead of the
// session, under a fixed random source, so that the script can expect their exact lines;
// runNTLM resets the source before the session, which then draws the same client challenge.
func prepareNTLM(t *testing.T, mech sasl.Client, challenge []byte) (negotiate, authenticate string) {
	t.Helper()
	cryptotest.SetGlobalRandom(t, 7)
	if name, ir, err := mech.Start(); err != nil || name != "NTLM" || ir != nil {
		t.Fatalf("Start: %q, %q, %v; want NTLM and no initial response", name, ir, err)
	}
	neg, err := mech.Next([]byte{})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := mech.Next(challenge)
	if err != nil {
		t.Fatal(err)
	}
	return enc(neg), enc(auth)
}

// ntlmLogin is the exchange of MS-OXPOP3 section 4.1 as a script: AUTH NTLM, the
// server's first reply, mech's exact NEGOTIATE, the CHALLENGE, mech's exact AUTHENTICATE,
// and the server's final reply.
func ntlmLogin(t *testing.T, mech sasl.Client, challenge []byte, first, final string) []pop3test.Step {
	t.Helper()
	neg, auth := prepareNTLM(t, mech, challenge)
	return []pop3test.Step{
		pop3test.Expect("AUTH NTLM"), pop3test.Reply(first),
		pop3test.Expect(neg), pop3test.Reply("+ " + enc(challenge)),
		pop3test.Expect(auth), pop3test.Reply(final),
	}
}

// ntlmCancelled is the exchange up to mech's NEGOTIATE, answered with reply, which the
// client must cancel with "*".
func ntlmCancelled(t *testing.T, mech sasl.Client, reply string) []pop3test.Step {
	t.Helper()
	neg, _ := prepareNTLM(t, mech, challengeMsg(exchangeFlags, exchangeTargetInfo()))
	return []pop3test.Step{
		pop3test.Expect("AUTH NTLM"), pop3test.Reply("+ "),
		pop3test.Expect(neg), pop3test.Reply(reply),
		pop3test.Expect("*"), pop3test.Reply("-ERR Authentication cancelled"),
	}
}

// runNTLM runs Auth with mech under the random source prepareNTLM used.
func runNTLM(t *testing.T, c *pop3.Client, mech sasl.Client) error {
	t.Helper()
	cryptotest.SetGlobalRandom(t, 7)
	return c.Auth(mech)
}

var exchangeCapa = capaSteps("TOP", "UIDL", "SASL PLAIN NTLM GSSAPI XOAUTH2", "USER")

// MS-OXPOP3 section 4.1, the exact lines: AUTH NTLM with no initial response, "+ ", the
// NEGOTIATE, the CHALLENGE, the AUTHENTICATE, "+OK"; then TRANSACTION (C0008). The
// AUTHENTICATE names the user and domain of each form of user name, and the server's own
// NTLMv2 computation accepts it for the right password only.
func TestNTLMExchange(t *testing.T) {
	for _, tc := range []struct {
		name, domain, username, password string
		wantDomain, wantUser             string
	}{
		{"DOMAIN backslash user", "", `CONTOSO\alice`, "Summer2026!", "CONTOSO", "alice"},
		{"UPN sent as is", "", "alice@contoso.com", "Summer2026!", "", "alice@contoso.com"},
		{"domain argument", "CONTOSO", "alice", "Summer2026!", "CONTOSO", "alice"},
		{"domain argument and the same in the name", "contoso", `CONTOSO\alice`, "pw", "CONTOSO", "alice"},
		{"domain argument and UPN", "CONTOSO", "alice@contoso.com", "pw", "CONTOSO", "alice@contoso.com"},
		{"no domain", "", "alice", "pw", "", "alice"},
		{"non-ASCII", "KÖLN", "jürgen", "pässwört €", "KÖLN", "jürgen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			targetInfo := exchangeTargetInfo()
			challenge := challengeMsg(exchangeFlags, targetInfo)
			mech := pop3.NewNTLMClient(tc.domain, tc.username, tc.password)
			c, srv := authDial(t, nil, authSteps(
				exchangeCapa,
				ntlmLogin(t, mech, challenge, "+ ", "+OK User successfully logged on."),
				pop3test.Expect("STAT"), pop3test.Reply("+OK 2 320"),
				pop3test.ExpectClosed(),
			)...)
			if err := runNTLM(t, c, mech); err != nil {
				t.Fatal(err)
			}
			if n, _, err := c.Stat(); err != nil || n != 2 {
				t.Fatalf("Stat: %d, %v", n, err)
			}
			authWait(t, c, srv)

			got := srv.Received()
			if len(got) != 5 {
				t.Fatalf("received %q", got)
			}
			checkNegotiate(t, strings.TrimSuffix(got[2], "\r\n"))
			a := parseAuthenticate(t, strings.TrimSuffix(got[3], "\r\n"))
			if a.domain != tc.wantDomain || a.user != tc.wantUser || a.workstation != "" {
				t.Errorf("AUTHENTICATE names domain %q, user %q, workstation %q; want %q, %q, none",
					a.domain, a.user, a.workstation, tc.wantDomain, tc.wantUser)
			}
			if a.flags&flagUnicode == 0 || a.flags&(flagLMKey|flagKeyExch) != 0 || len(a.sessionKey) != 0 {
				t.Errorf("AUTHENTICATE flags %#08x, session key %x", a.flags, a.sessionKey)
			}
			if !verifyNTLMv2(t, a, tc.password, targetInfo) {
				t.Error("the server's NTLMv2 computation rejects the right password")
			}
			if verifyNTLMv2(t, a, tc.password+"x", targetInfo) {
				t.Error("the server's NTLMv2 computation accepts a wrong password")
			}
			other := a
			other.user = "mallory"
			if verifyNTLMv2(t, other, tc.password, targetInfo) {
				t.Error("the proof holds for another user")
			}
		})
	}
}

// MS-OXPOP3 section 3.1.1.2: "+" (bare, or with a space) offers NTLM; Exchange 2003's
// "+OK" and Exchange 5.5's "+ OK" before the NEGOTIATE mean the same, never a finished
// login: the NEGOTIATE follows, and the login is the AUTHENTICATE's "+OK".
func TestNTLMFirstReply(t *testing.T) {
	for _, first := range []string{"+", "+ ", "+OK", "+ OK", "+OK NTLM supported"} {
		t.Run(first, func(t *testing.T) {
			mech := pop3.NewNTLMClient("", `CONTOSO\alice`, "pw")
			c, srv := authDial(t, nil, authSteps(
				exchangeCapa,
				ntlmLogin(t, mech, challengeMsg(exchangeFlags, exchangeTargetInfo()), first, "+OK"),
				pop3test.ExpectClosed(),
			)...)
			if err := runNTLM(t, c, mech); err != nil {
				t.Fatal(err)
			}
			authWait(t, c, srv)
		})
	}
}

// Only the first reply is read the Exchange 2003 way: "+ OK" in place of the CHALLENGE is
// not base64 and is cancelled (RFC 5034 section 4).
func TestNTLMOKAfterNegotiate(t *testing.T) {
	mech := pop3.NewNTLMClient("", `CONTOSO\alice`, "pw")
	c, srv := authDial(t, nil, authSteps(exchangeCapa, ntlmCancelled(t, mech, "+ OK"), pop3test.ExpectClosed())...)
	if err := runNTLM(t, c, mech); !errors.Is(err, pop3.ErrMalformed) {
		t.Fatalf("Auth: %v; want ErrMalformed", err)
	}
	authWait(t, c, srv)
}

// MS-OXPOP3 section 3.1.1.2, C0010: "-ERR" to AUTH NTLM means the server does not offer
// it; the error says so, nothing more is sent, and another login may follow.
func TestNTLMNotOffered(t *testing.T) {
	c, srv := authDial(t, nil, authSteps(
		capaSteps("USER", "SASL PLAIN"),
		pop3test.Expect("AUTH NTLM"), pop3test.Reply("-ERR Unrecognized authentication type"),
		pop3test.Expect("USER alice"), pop3test.Reply("+OK"),
		pop3test.Expect("PASS pw"), pop3test.Reply("+OK"),
		pop3test.ExpectClosed(),
	)...)
	err := c.Auth(pop3.NewNTLMClient("CONTOSO", "alice", "pw"))
	var perr *pop3.Error
	if !errors.As(err, &perr) || !strings.Contains(perr.Text, "the server does not offer NTLM") ||
		!strings.Contains(err.Error(), "Unrecognized authentication type") {
		t.Fatalf("Auth: %v; want the -ERR saying the server does not offer NTLM", err)
	}
	if err := c.Login("alice", "pw"); err != nil {
		t.Fatal(err)
	}
	authWait(t, c, srv)
}

// MS-OXPOP3 section 4.1: "-ERR" after the AUTHENTICATE is a failed logon, an *Error whose
// text tells the two causes a client cannot tell apart: wrong credentials, or a server
// that requires channel binding (MS-NLMP cannot say so in the CHALLENGE). The session
// stays in AUTHORIZATION, and the same client may try again.
func TestNTLMLogonRefused(t *testing.T) {
	mech := pop3.NewNTLMClient("CONTOSO", "alice", "wrong")
	attempt := ntlmLogin(t, mech, challengeMsg(exchangeFlags, exchangeTargetInfo()), "+ ",
		"-ERR Logon failure: unknown user name or bad password.")
	c, srv := authDial(t, nil, authSteps(exchangeCapa, attempt, attempt, pop3test.ExpectClosed())...)
	for i := 1; i <= 2; i++ {
		err := runNTLM(t, c, mech)
		var perr *pop3.Error
		if !errors.As(err, &perr) || !strings.Contains(perr.Text, "Logon failure") ||
			!strings.Contains(perr.Text, "wrong credentials") || !strings.Contains(perr.Text, "channel binding") {
			t.Fatalf("attempt %d: %v; want the -ERR with the NTLM note", i, err)
		}
		if _, _, err := c.Stat(); !errors.Is(err, pop3.ErrNotAuthenticated) {
			t.Fatalf("Stat after a refused logon: %v", err)
		}
	}
	authWait(t, c, srv)
}

// "-ERR" to the NEGOTIATE says which step was refused.
func TestNTLMNegotiateRefused(t *testing.T) {
	mech := pop3.NewNTLMClient("CONTOSO", "alice", "pw")
	neg, _ := prepareNTLM(t, mech, challengeMsg(exchangeFlags, exchangeTargetInfo()))
	c, srv := authDial(t, nil, authSteps(
		exchangeCapa,
		pop3test.Expect("AUTH NTLM"), pop3test.Reply("+ "),
		pop3test.Expect(neg), pop3test.Reply("-ERR Protocol error"),
		pop3test.ExpectClosed(),
	)...)
	var perr *pop3.Error
	if err := runNTLM(t, c, mech); !errors.As(err, &perr) || !strings.Contains(perr.Text, "refused the NTLM NEGOTIATE") {
		t.Fatalf("Auth: %v", err)
	}
	authWait(t, c, srv)
}

// A continuation after the AUTHENTICATE is not NTLM: cancelled with "*".
func TestNTLMChallengeAfterAuthenticate(t *testing.T) {
	challenge := challengeMsg(exchangeFlags, exchangeTargetInfo())
	mech := pop3.NewNTLMClient("CONTOSO", "alice", "pw")
	c, srv := authDial(t, nil, authSteps(
		exchangeCapa,
		ntlmLogin(t, mech, challenge, "+ ", "+ "+enc(challenge)),
		pop3test.Expect("*"), pop3test.Reply("-ERR cancelled"),
		pop3test.ExpectClosed(),
	)...)
	if err := runNTLM(t, c, mech); !errors.Is(err, sasl.ErrUnexpectedServerChallenge) {
		t.Fatalf("Auth: %v; want ErrUnexpectedServerChallenge", err)
	}
	authWait(t, c, srv)
}

// withFlags returns a copy of a CHALLENGE with other negotiate flags.
func withFlags(msg []byte, flags uint32) []byte {
	b := append([]byte(nil), msg...)
	le.PutUint32(b[20:], flags)
	return b
}

// hostileChallenges are CHALLENGE messages a hostile or broken server might send, each
// with what the error must say; none may make the client panic.
func hostileChallenges() []struct {
	name, want string
	msg        []byte
} {
	good := challengeMsg(exchangeFlags, exchangeTargetInfo())
	patch := func(off int, v uint32) []byte {
		b := append([]byte(nil), good...)
		le.PutUint32(b[off:], v)
		return b
	}
	patch16 := func(off int, v uint16) []byte {
		b := append([]byte(nil), good...)
		le.PutUint16(b[off:], v)
		return b
	}
	noEOL := challengeMsg(exchangeFlags, exchangeTargetInfo()[:len(exchangeTargetInfo())-4])
	cutPair := challengeMsg(exchangeFlags, append(avPair(2, utf16le("CONTOSO")), 7, 0, 8, 0, 1, 2))
	hugePair := challengeMsg(exchangeFlags, append(avPair(2, utf16le("CONTOSO")), 1, 0, 0xff, 0xff, 1, 2))
	oddPair := challengeMsg(exchangeFlags, []byte{2, 0, 1})
	return []struct {
		name, want string
		msg        []byte
	}{
		{"empty", "truncated", nil},
		{"signature only", "truncated", good[:8]},
		{"truncated header", "truncated", good[:47]},
		{"truncated payload", "beyond", good[:70]},
		{"wrong signature", "signature", append([]byte("NTLMSSQ\x00"), good[8:]...)},
		{"type 1", "type 1", patch(8, 1)},
		{"type 3", "type 3", patch(8, 3)},
		{"type 0xffffffff", "type 4294967295", patch(8, 0xffffffff)},
		{"target name beyond the message", "beyond", patch16(12, 0xffff)},
		{"target name offset huge", "beyond", patch(16, 0xfffffff0)},
		{"target info beyond the message", "beyond", patch16(40, 0xffff)},
		{"target info offset overflowing", "beyond", patch(44, 0xffffffff)},
		{"target info without MsvAvEOL", "EOF", noEOL},
		{"AV pair cut short", "", cutPair},
		{"AV pair length huge", "", hugePair},
		{"AV pair header cut", "", oddPair},
	}
}

// MS-NLMP section 2.2.1.2: a truncated, oversized or mistyped CHALLENGE is refused with
// ErrMalformed and the exchange cancelled with "*"; the client never panics and the
// connection stays usable.
func TestNTLMHostileChallenge(t *testing.T) {
	for _, tc := range hostileChallenges() {
		t.Run(tc.name, func(t *testing.T) {
			mech := pop3.NewNTLMClient("CONTOSO", "alice", "pw")
			reply := "+ " + enc(tc.msg)
			if len(tc.msg) == 0 {
				reply = "+ ="
			}
			c, srv := authDial(t, nil, authSteps(
				exchangeCapa,
				ntlmCancelled(t, mech, reply),
				pop3test.Expect("USER alice"), pop3test.Reply("+OK"),
				pop3test.Expect("PASS pw"), pop3test.Reply("+OK"),
				pop3test.ExpectClosed(),
			)...)
			err := runNTLM(t, c, mech)
			var perr *pop3.Error
			if !errors.Is(err, pop3.ErrMalformed) || !errors.As(err, &perr) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Auth: %v; want ErrMalformed saying %q, and the server's *Error", err, tc.want)
			}
			if err := c.Login("alice", "pw"); err != nil {
				t.Fatal(err)
			}
			authWait(t, c, srv)
		})
	}
}

// A CHALLENGE line over Options.MaxLineLength fails with ErrLineTooLong, having read no
// more than the bound; a large but bounded one (30 KB of target information) is answered.
func TestNTLMHugeChallenge(t *testing.T) {
	t.Run("over the line bound", func(t *testing.T) {
		mech := pop3.NewNTLMClient("CONTOSO", "alice", "pw")
		neg, _ := prepareNTLM(t, mech, challengeMsg(exchangeFlags, exchangeTargetInfo()))
		c, srv := authDial(t, nil, authSteps(
			exchangeCapa,
			pop3test.Expect("AUTH NTLM"), pop3test.Reply("+ "),
			pop3test.Expect(neg), pop3test.Reply("+ "+strings.Repeat("TlRM", 4<<10)),
			pop3test.ExpectClosed(),
		)...)
		if err := runNTLM(t, c, mech); !errors.Is(err, pop3.ErrLineTooLong) {
			t.Fatalf("Auth: %v; want ErrLineTooLong", err)
		}
		authWait(t, c, srv)
	})
	t.Run("large target information", func(t *testing.T) {
		var ti []byte
		for len(ti) < 30000 {
			ti = append(ti, avPair(9, utf16le(strings.Repeat("pop/exch01.contoso.com ", 20)))...)
		}
		ti = append(ti, avPair(7, challengeTime)...)
		ti = append(ti, avPair(0, nil)...)
		mech := pop3.NewNTLMClient("CONTOSO", "alice", "pw")
		c, srv := authDial(t, &pop3.Options{MaxLineLength: 64 << 10}, authSteps(
			exchangeCapa, ntlmLogin(t, mech, challengeMsg(exchangeFlags, ti), "+ ", "+OK"), pop3test.ExpectClosed(),
		)...)
		if err := runNTLM(t, c, mech); err != nil {
			t.Fatal(err)
		}
		authWait(t, c, srv)
		if a := parseAuthenticate(t, strings.TrimSuffix(srv.Received()[3], "\r\n")); !verifyNTLMv2(t, a, "pw", ti) {
			t.Error("the proof does not verify")
		}
	})
}

// NTLMv2 only (MS-NLMP section 3.1.5.1.2): a CHALLENGE asking for LM or key exchange, or
// lacking UNICODE, is refused with an error naming the flag, and the exchange cancelled.
func TestNTLMv2Only(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags uint32
		want  string
	}{
		{"LM key", exchangeFlags | flagLMKey, "NTLMSSP_NEGOTIATE_LM_KEY"},
		{"key exchange", exchangeFlags | flagKeyExch, "NTLMSSP_NEGOTIATE_KEY_EXCH"},
		{"OEM, no UNICODE", exchangeFlags&^flagUnicode | flagOEM, "NTLMSSP_NEGOTIATE_UNICODE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mech := pop3.NewNTLMClient("CONTOSO", "alice", "pw")
			challenge := withFlags(challengeMsg(exchangeFlags, exchangeTargetInfo()), tc.flags)
			c, srv := authDial(t, nil, authSteps(
				exchangeCapa, ntlmCancelled(t, mech, "+ "+enc(challenge)), pop3test.ExpectClosed(),
			)...)
			err := runNTLM(t, c, mech)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "NTLMv2 only") {
				t.Fatalf("Auth: %v; want an error naming %s", err, tc.want)
			}
			authWait(t, c, srv)
		})
	}
}

// Credentials the mechanism cannot send fail with ErrInvalidArgument before anything is
// sent, not even CAPA.
func TestNTLMBadCredentials(t *testing.T) {
	c, srv := authDial(t, nil, pop3test.ExpectClosed())
	for _, cred := range [][3]string{
		{"FABRIKAM", `CONTOSO\alice`, "pw"}, // two domains
		{"", "", "pw"},
		{"", `CONTOSO\`, "pw"},
		{`CON\TOSO`, "alice", "pw"},
		{"", "ali\r\nce", "pw"},
		{"CONTOSO\x00", "alice", "pw"},
		{"", "alice", "p\xffw"},
		{"", strings.Repeat("a", 1025), "pw"},
	} {
		if err := c.Auth(pop3.NewNTLMClient(cred[0], cred[1], cred[2])); !errors.Is(err, pop3.ErrInvalidArgument) {
			t.Errorf("NewNTLMClient(%q, %q, %q): %v; want ErrInvalidArgument", cred[0], cred[1], cred[2], err)
		}
	}
	authWait(t, c, srv)
}

// C0009: Login never chooses NTLM, even when it is the only mechanism on offer.
func TestLoginDoesNotChooseNTLM(t *testing.T) {
	c, srv := authDial(t, nil, authSteps(capaSteps("SASL NTLM GSSAPI"), pop3test.ExpectClosed())...)
	if _, err := c.Capabilities(); err != nil {
		t.Fatal(err)
	}
	if err := c.Login("alice", "pw"); !errors.Is(err, pop3.ErrNoAuthMechanism) {
		t.Fatalf("Login: %v; want ErrNoAuthMechanism", err)
	}
	if err := c.Login("jürgen", "pässwört"); !errors.Is(err, pop3.ErrNoAuthMechanism) {
		t.Fatalf("Login: %v; want ErrNoAuthMechanism", err)
	}
	authWait(t, c, srv)
}

// RFC 8314 section 5.2: NTLM's answer is a password equivalent, so over a connection that
// is neither TLS nor loopback (net.Pipe) Auth refuses before any octet is sent, unless
// AllowInsecureAuth.
func TestNTLMCleartextRefused(t *testing.T) {
	c, sent := pipeServer(t, nil, "")
	if err := c.Auth(pop3.NewNTLMClient("CONTOSO", "alice", "pw")); !errors.Is(err, pop3.ErrInsecureAuth) {
		t.Errorf("Auth: %v; want ErrInsecureAuth", err)
	}
	if got := sent(); got != "" {
		t.Errorf("sent %q; want nothing", got)
	}

	c, sent = pipeServer(t, &pop3.Options{AllowInsecureAuth: true}, "-ERR\r\n-ERR no\r\n")
	var perr *pop3.Error
	if err := c.Auth(pop3.NewNTLMClient("CONTOSO", "alice", "pw")); !errors.As(err, &perr) {
		t.Errorf("Auth: %v; want the server's -ERR", err)
	}
	if got := sent(); got != "CAPA\r\nAUTH NTLM\r\n" {
		t.Errorf("with AllowInsecureAuth, sent %q", got)
	}
}

// Digest section 6.6: the trace shows "AUTH NTLM" and "***" for the NEGOTIATE and the
// AUTHENTICATE, the only client lines besides CAPA; neither message, nor the password,
// appears. The server's CHALLENGE is traced as it came: it holds the server's nonce and
// names, no secret of the user.
func TestNTLMTraceRedacted(t *testing.T) {
	targetInfo := exchangeTargetInfo()
	challenge := challengeMsg(exchangeFlags, targetInfo)
	const password = "Summer2026!"
	mech := pop3.NewNTLMClient("CONTOSO", "alice", password)
	var trace syncBuffer
	c, srv := authDial(t, &pop3.Options{DebugWriter: &trace},
		authSteps(exchangeCapa, ntlmLogin(t, mech, challenge, "+ ", "+OK"), pop3test.ExpectClosed())...)
	if err := runNTLM(t, c, mech); err != nil {
		t.Fatal(err)
	}
	authWait(t, c, srv)
	got := trace.String()
	want := "C: AUTH NTLM\r\nS: + \r\nC: ***\r\nS: + " + enc(challenge) + "\r\nC: ***\r\nS: +OK\r\n"
	if !strings.HasSuffix(got, want) {
		t.Errorf("trace:\n%s\nwant it to end:\n%s", got, want)
	}
	var client []string
	for _, line := range strings.SplitAfter(got, "\r\n") {
		if strings.HasPrefix(line, "C: ") {
			client = append(client, line)
		}
	}
	if strings.Join(client, "") != "C: CAPA\r\nC: AUTH NTLM\r\nC: ***\r\nC: ***\r\n" {
		t.Errorf("the client's lines in the trace: %q; want CAPA, AUTH NTLM and two ***", client)
	}
	for _, blob := range srv.Received()[2:4] {
		if strings.Contains(got, strings.TrimSuffix(blob, "\r\n")) {
			t.Errorf("the trace shows a client message %q", blob)
		}
	}
	if strings.Contains(got, password) || strings.Contains(got, b64(password)) {
		t.Errorf("the trace shows the password:\n%s", got)
	}
}

// FuzzNTLMChallenge: whatever CHALLENGE a server sends, the mechanism never panics; what
// it answers is an AUTHENTICATE message (MS-NLMP section 2.2.1.3) no larger than the
// challenge's target information allows.
func FuzzNTLMChallenge(f *testing.F) {
	f.Add(challengeMsg(exchangeFlags, exchangeTargetInfo()))
	f.Add(challengeMsg(exchangeFlags, nil))
	f.Add(challengeMsg(exchangeFlags|flagKeyExch, exchangeTargetInfo()))
	for _, tc := range hostileChallenges() {
		f.Add(tc.msg)
	}
	f.Fuzz(func(t *testing.T, challenge []byte) {
		mech := pop3.NewNTLMClient("CONTOSO", "alice", "pw")
		if _, _, err := mech.Start(); err != nil {
			t.Fatal(err)
		}
		if _, err := mech.Next(nil); err != nil {
			t.Fatal(err)
		}
		resp, err := mech.Next(challenge)
		if err != nil {
			return
		}
		if len(resp) < 64 || string(resp[:8]) != "NTLMSSP\x00" || le.Uint32(resp[8:]) != 3 {
			t.Fatalf("answer %x is not an AUTHENTICATE", resp)
		}
		if len(resp) > 64+16+28+4+len(challenge)+64 {
			t.Fatalf("answer of %d octets to a challenge of %d", len(resp), len(challenge))
		}
	})
}

// Logging in to on-premises Exchange with Windows credentials.
func ExampleNewNTLMClient() {
	c, err := pop3.DialTLS("mail.contoso.com:995", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(pop3.NewNTLMClient("CONTOSO", "alice", os.Getenv("POP3_PASSWORD"))); err != nil {
		log.Fatal(err) // a *pop3.Error: wrong credentials, or NTLM not offered
	}
	n, _, err := c.Stat()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, "messages")
}
