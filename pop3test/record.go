package pop3test

import (
	"bytes"
	"strings"
)

// recorder writes the transcript of a Mailbox session. Its methods do
// nothing on a nil recorder.
type recorder struct {
	buf     bytes.Buffer
	pending []byte // sent by the server since the last client line
}

// server records octets the server sent.
func (r *recorder) server(p []byte) {
	if r != nil {
		r.pending = append(r.pending, p...)
	}
}

// client records a line the client sent, with its terminator.
func (r *recorder) client(line string) {
	if r != nil {
		r.flushServer()
		r.buf.WriteString("C: ")
		r.buf.WriteString(line)
	}
}

// note records a comment.
func (r *recorder) note(text string) {
	if r != nil {
		r.flushServer()
		r.buf.WriteString("# " + strings.ReplaceAll(text, "\n", " ") + "\n")
	}
}

// startTLS records that a TLS handshake happens here.
func (r *recorder) startTLS() {
	if r != nil {
		r.flushServer()
		r.buf.WriteString(tlsDirective + "\n")
	}
}

// flushServer writes the octets the server sent as "S: " lines.
func (r *recorder) flushServer() {
	p := r.pending
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			i = len(p) - 1
		}
		r.buf.WriteString("S: ")
		r.buf.Write(p[:i+1])
		p = p[i+1:]
	}
	r.pending = r.pending[:0]
}

// flush writes the transcript to m.Record.
func (r *recorder) flush(m *Mailbox) {
	r.flushServer()
	m.recordMu.Lock()
	defer m.recordMu.Unlock()
	m.Record.Write(r.buf.Bytes())
}
