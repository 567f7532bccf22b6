package pop3

import (
	"bytes"
	"io"
	"sync"
)

// tracer writes the protocol transcript to Options.DebugWriter, in the transcript format
// of package pop3test: every line the client sends as "C: " and the line, every line the
// server sends as "S: " and the line, both with their line endings (the client's CRLF, the
// server's as received), and notes as "# " lines. Secrets never reach it: the Conn hands
// it commands as displayCommand shows them ("PASS ***", "AUTH PLAIN ***") and each client
// response of an AUTH exchange as "***".
//
// The server's side is traced as it is read from the network, above TLS, so message bodies
// appear too. Errors of the DebugWriter are ignored: the transcript never stops a session.
// All methods do nothing on a nil *tracer, and they may be called from several goroutines.
type tracer struct {
	mu sync.Mutex
	w  io.Writer
	// midLine is true when the last server octets traced did not end a line.
	midLine bool
	buf     bytes.Buffer
}

// newTracer returns a tracer writing to w, or nil when w is nil.
func newTracer(w io.Writer) *tracer {
	if w == nil {
		return nil
	}
	return &tracer{w: w}
}

// client traces one line sent by the client, given without its CRLF.
func (t *tracer) client(line string) { t.line("C: ", line) }

// note traces a remark about the session, such as the end of a TLS handshake.
func (t *tracer) note(text string) { t.line("# ", text) }

func (t *tracer) line(prefix, text string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Reset()
	if t.midLine {
		// A client line while a server line is incomplete: end that one here.
		t.buf.WriteString("\r\n")
		t.midLine = false
	}
	t.buf.WriteString(prefix)
	t.buf.WriteString(text)
	t.buf.WriteString("\r\n")
	t.w.Write(t.buf.Bytes())
}

// server traces octets read from the server, starting "S: " at the beginning of each line.
func (t *tracer) server(p []byte) {
	if t == nil || len(p) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Reset()
	for len(p) > 0 {
		if !t.midLine {
			t.buf.WriteString("S: ")
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			t.buf.Write(p)
			t.midLine = true
			break
		}
		t.buf.Write(p[:i+1])
		t.midLine = false
		p = p[i+1:]
	}
	t.w.Write(t.buf.Bytes())
}
