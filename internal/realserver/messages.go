package realserver

import (
	"bytes"
	"fmt"
	"strings"
)

// Message is one generated test message as stored on disk.
type Message struct {
	Name string // short label ([a-z0-9-]), also part of a stored file's name
	Data []byte // exactly as stored (LF line endings)
}

// Wire returns the octets a POP3 server delivers for a stored message (before
// dot-stuffing): every LF not already preceded by CR becomes CRLF, and a final CRLF is
// added if the message does not end in one.
func Wire(stored []byte) []byte {
	out := make([]byte, 0, len(stored)+len(stored)/32+2)
	for i, c := range stored {
		if c == '\n' && (i == 0 || stored[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	if !bytes.HasSuffix(out, []byte("\r\n")) {
		out = append(out, '\r', '\n')
	}
	return out
}

// Messages generates a deterministic set of test messages (LF line endings) covering dot
// lines, a 100 000-octet line, 8-bit UTF-8 headers and body, an empty body, a message
// without a final newline, a large message (about 2 MiB) and ordinary ~10 KB messages.
// The first message is the dot-line one; the result is the same on every call.
func Messages() []Message {
	g := &textGen{state: 0x9e3779b97f4a7c15}
	var msgs []Message
	add := func(name, subject string, extraHeaders string, body string) {
		n := len(msgs) + 1
		var b strings.Builder
		fmt.Fprintf(&b, "Return-Path: <sender@example.org>\n")
		fmt.Fprintf(&b, "Message-ID: <realserver-%d-%s@example.org>\n", n, name)
		fmt.Fprintf(&b, "Date: Tue, 14 Nov 2023 22:%02d:%02d +0000\n", n/60, n%60)
		fmt.Fprintf(&b, "From: Sender <sender@example.org>\n")
		fmt.Fprintf(&b, "To: Alice <alice@example.org>\n")
		fmt.Fprintf(&b, "Subject: %s\n", subject)
		fmt.Fprintf(&b, "X-Test-Name: %s\n", name)
		b.WriteString(extraHeaders)
		b.WriteString("\n")
		b.WriteString(body)
		msgs = append(msgs, Message{Name: name, Data: []byte(b.String())})
	}

	// 1. Dot lines in every position that matters for stuffing and termination.
	add("dots", "dot-stuffing edge cases", "",
		".\n"+ // first body line is exactly "."
			"..\n"+
			"...\n"+
			".x\n"+
			"..x\n"+
			"...leading dots\n"+
			". dot space\n"+
			".\tdot tab\n"+
			"a line with a . in it\n"+
			"\n"+
			".\n"+
			"middle\n"+
			".\n"+
			".\n"+
			"..\n"+
			"From the body: a line starting with From\n"+
			".\n") // last line is exactly "."

	// 2. One line of exactly 100 000 octets (without its line end).
	long := strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", 100000/62+1)[:100000]
	add("long-line", "a line of 100000 octets", "",
		"before\n"+long+"\n.after the long line, a dotted line\nafter\n")

	// 3. 8-bit UTF-8 in headers and body.
	add("utf8", "Grüße aus Köln, naïve café, 日本語 ✓",
		"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\nX-Ümlaut: wert mit ß\n",
		"Grüße, naïve café, 日本語, emoji ✉ 🙂\n.ß leading dot before 8-bit\nÀ la carte\n\u00a0nbsp line\n")

	// 4. Empty body: headers, the blank line, nothing else.
	add("empty-body", "empty body", "", "")

	// 5. No final newline (servers add CRLF before the terminating dot).
	add("no-final-newline", "no final newline", "",
		"first line\nsecond line\nthe last line has no newline")

	// 6. Ordinary ~10 KB messages.
	for i := 1; i <= 6; i++ {
		add(fmt.Sprintf("ordinary-%d", i), fmt.Sprintf("ordinary message %d", i), "",
			g.text(9500+137*i))
	}

	// 7. A large message of about 2 MiB.
	add("large", "about 2 MiB", "", g.text(2<<20))

	// 8. A short ordinary one last, so the large one is not at the end.
	add("short", "short", "", "Just one line.\n")
	return msgs
}

// textGen produces deterministic pseudo-random text lines (xorshift64*), independent of
// the standard library's generators.
type textGen struct{ state uint64 }

func (g *textGen) next() uint64 {
	g.state ^= g.state >> 12
	g.state ^= g.state << 25
	g.state ^= g.state >> 27
	return g.state * 0x2545f4914f6cdd1d
}

var words = strings.Fields(`alpha bravo charlie delta echo foxtrot golf hotel india juliet
kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray
yankee zulu pop3 capa stls retr dele uidl top stat list quit sasl pipelining`)

// text returns about n octets of LF-terminated lines; some lines start with ".", some
// are empty, and now and then one is long (up to ~1200 octets).
func (g *textGen) text(n int) string {
	var b strings.Builder
	for b.Len() < n {
		r := g.next()
		var lineLen int
		switch {
		case r%50 == 0:
			lineLen = 0
		case r%37 == 0:
			lineLen = 800 + int(r>>32%400)
		default:
			lineLen = 10 + int(r>>32%66)
		}
		if lineLen > 0 && r%23 == 0 {
			b.WriteString(".")
			if r%3 == 0 {
				b.WriteString(".")
			}
		}
		for l := 0; l < lineLen; {
			w := words[g.next()%uint64(len(words))]
			if l > 0 {
				b.WriteByte(' ')
				l++
			}
			b.WriteString(w)
			l += len(w)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
