package pop3test

import (
	"bytes"
	"strings"
	"sync"
)

// recorder keeps the transcript of a Mailbox session. Its methods do nothing
// on a nil recorder.
type recorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// server records octets the server sent; the Mailbox sends whole lines.
func (r *recorder) server(p []byte) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			i = len(p) - 1
		}
		r.buf.WriteString("S: ")
		r.buf.Write(p[:i+1])
		p = p[i+1:]
	}
}

// client records a line the client sent, with its terminator.
func (r *recorder) client(line string) {
	r.add("C: " + line)
}

// note records a comment.
func (r *recorder) note(text string) {
	r.add("# " + strings.ReplaceAll(text, "\n", " ") + "\n")
}

// startTLS records that a TLS handshake happens here.
func (r *recorder) startTLS() {
	r.add(tlsDirective + "\n")
}

func (r *recorder) add(s string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf.WriteString(s)
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}

// newRecorder returns the recorder of a new session, or nil unless the
// Mailbox records.
func (m *Mailbox) newRecorder() *recorder {
	if !m.Record {
		return nil
	}
	r := &recorder{}
	m.mu.Lock()
	m.transcripts = append(m.transcripts, r)
	m.mu.Unlock()
	return r
}

// Transcripts returns the transcript of every session so far, in the order
// they connected, when Record is set. A session's transcript holds what was
// exchanged up to now: once a client has read the reply to its QUIT, the
// transcript of its session is complete.
//
// A transcript is in the form [ParseTranscript] reads, with a "! STARTTLS"
// line where TLS starts (first for implicit TLS), so [NewServer] can replay
// it: append [Cut] to the steps to close the connection after QUIT, as the
// Mailbox does. Save one with os.WriteFile to read it with [LoadTranscript].
func (m *Mailbox) Transcripts() []string {
	m.mu.Lock()
	recs := append([]*recorder(nil), m.transcripts...)
	m.mu.Unlock()
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.String()
	}
	return out
}
