package pop3

import (
	"bytes"
	"io"
	"time"
)

// DotReader reads the body of a multi-line reply (RETR, TOP) while it streams in. It
// yields the octets exactly as the server sent them, CRLF kept, with only the
// dot-stuffing removed: a line that is "." alone ends the body, and one leading dot is
// dropped from any other line that begins with "." (RFC 1939 section 3).
// It holds no line in memory, so a line of any length streams through.
//
// If the connection ends or times out before the terminating line, Read returns an error
// that matches io.ErrUnexpectedEOF or the timeout, never io.EOF, and the Conn is broken.
type DotReader struct {
	c         *Conn
	command   sentCommand // the command whose reply this is
	lineStart bool        // the next octet begins a line
	err       error       // io.EOF after the terminating line, or what broke the connection
	// skipBy, once Close skips the rest of the body, is when the skipping must be done: a
	// body that never ends must not keep the next call waiting for ever.
	skipBy time.Time
}

// indexLineStartDot returns the index of the first "\n" in b that is followed by ".",
// or -1. It looks for the dots, which are rarer than line ends in mail (base64 has none),
// so that scanning costs no work per line.
func indexLineStartDot(b []byte) int {
	for i := 1; i < len(b); {
		j := bytes.IndexByte(b[i:], '.')
		if j < 0 {
			break
		}
		i += j
		if b[i-1] == '\n' {
			return i - 1
		}
		i++
	}
	return -1
}

// span returns the next run of body octets that can be passed on as they are, at most max
// long, aliasing the Conn's buffer; the caller consumes what it used with consume. With wait
// false it returns what is buffered without touching the network, possibly nothing. At the
// terminating line it returns io.EOF.
func (d *DotReader) span(max int, wait bool) ([]byte, error) {
	r := d.c.r
	for {
		if d.err == nil && d.c.state.Load() >= connBroken {
			d.err = d.c.final() // broken or closed meanwhile: what follows is not this body
		}
		if d.err != nil {
			return nil, d.err
		}
		buf, _ := r.Peek(r.Buffered())
		if d.lineStart && len(buf) > 0 && buf[0] == '.' {
			switch {
			case len(buf) >= 2 && buf[1] == '\n':
				return nil, d.end(2)
			case len(buf) >= 3 && buf[1] == '\r' && buf[2] == '\n':
				return nil, d.end(3)
			case len(buf) >= 3 || (len(buf) == 2 && buf[1] != '\r'):
				r.Discard(1) // the stuffing dot
				d.lineStart = false
				continue
			}
			// "." or ".\r": the next octet decides.
		} else if len(buf) > 0 {
			if len(buf) > max {
				buf = buf[:max]
			}
			if i := indexLineStartDot(buf); i >= 0 {
				buf = buf[:i+1]
			}
			return buf, nil
		}
		if !wait {
			return nil, nil
		}
		// A wait for the body has a deadline; skipping the rest has one in all.
		err := d.c.armBodyRead(d.skipBy)
		if err == nil {
			_, err = r.Peek(len(buf) + 1)
		}
		if err != nil {
			d.err = d.c.fail(d.command.display(), err)
			return nil, d.err
		}
	}
}

// consume takes b, a prefix of the last span, out of the buffer.
func (d *DotReader) consume(b []byte) {
	if len(b) > 0 {
		d.c.r.Discard(len(b))
		d.lineStart = b[len(b)-1] == '\n'
	}
}

// end consumes the terminating line of n octets and returns the borrowed Conn.
func (d *DotReader) end(n int) error {
	d.c.r.Discard(n)
	d.c.r.release()
	d.err = io.EOF
	if d.c.body == d {
		d.c.body = nil
		d.c.state.CompareAndSwap(connBody, connIdle) // a batch keeps its state
	}
	return io.EOF
}

// Read reads body octets into p. It waits on the network only when nothing is buffered.
func (d *DotReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, d.err
	}
	n := 0
	for n < len(p) {
		b, err := d.span(len(p)-n, n == 0)
		if err != nil {
			if err == io.EOF && n > 0 {
				return n, nil
			}
			return n, err
		}
		if len(b) == 0 {
			break
		}
		n += copy(p[n:], b)
		d.consume(b)
	}
	return n, nil
}

// WriteTo writes the rest of the body to w straight from the connection's buffer, so
// io.Copy moves large spans without an intermediate copy. It returns a nil error at the
// end of the body.
func (d *DotReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		b, err := d.span(readBufferSize, true)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
		n, werr := w.Write(b)
		total += int64(n)
		d.consume(b[:n])
		if werr != nil {
			return total, werr
		}
		if n < len(b) {
			return total, io.ErrShortWrite
		}
	}
}

// Close reads and discards the rest of the body, so the connection can take the next
// command, within one Timeout in all: a body that does not end by then breaks the
// connection. It returns nil when the rest was read to the end of the body, and the error
// that broke the connection otherwise. After Close, Read returns io.EOF if the body had been
// read to its end, and ErrBodySkipped if Close (or the next command) discarded some of it,
// so that a message cut short never looks whole.
func (d *DotReader) Close() error {
	if d.err == io.EOF || d.err == ErrBodySkipped {
		return nil
	}
	skipped := false
	d.skipBy = time.Now().Add(d.c.timeout)
	for {
		b, err := d.span(readBufferSize, true)
		if err == io.EOF {
			if skipped {
				d.err = ErrBodySkipped
			}
			return nil
		}
		if err != nil {
			return err
		}
		d.consume(b)
		skipped = true
	}
}
