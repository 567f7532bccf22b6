package pop3

import (
	"bytes"
	"io"
	"net"
	"time"
)

// streamConn is a net.Conn that reads a fixed input, in pieces of at most chunk octets,
// and records what is written. It is for the unit tests of the readers; the client tests
// use real sockets.
type streamConn struct {
	in      *bytes.Reader
	chunk   int
	written bytes.Buffer
}

func newStreamConn(input string, chunk int) *streamConn {
	return &streamConn{in: bytes.NewReader([]byte(input)), chunk: chunk}
}

func (s *streamConn) Read(p []byte) (int, error) {
	if s.chunk > 0 && len(p) > s.chunk {
		p = p[:s.chunk]
	}
	return s.in.Read(p)
}

func (s *streamConn) Write(p []byte) (int, error)      { return s.written.Write(p) }
func (s *streamConn) Close() error                     { return nil }
func (s *streamConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (s *streamConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (s *streamConn) SetDeadline(time.Time) error      { return nil }
func (s *streamConn) SetReadDeadline(time.Time) error  { return nil }
func (s *streamConn) SetWriteDeadline(time.Time) error { return nil }

// readBody reads one dot-stuffed body from input with reads of the given sizes.
func readBody(input string, chunk, readSize int) (string, error) {
	c := NewConn(newStreamConn(input, chunk), nil)
	d := c.DotReader()
	var out bytes.Buffer
	buf := make([]byte, readSize)
	for {
		n, err := d.Read(buf)
		out.Write(buf[:n])
		if err == io.EOF {
			return out.String(), nil
		}
		if err != nil {
			return out.String(), err
		}
	}
}

// dotStuff is the server side of RFC 1939 section 3: it doubles a leading dot on every line
// and appends the terminating line, after a CRLF if the body does not end with one.
func dotStuff(body string) string {
	var b bytes.Buffer
	lineStart := true
	for i := 0; i < len(body); i++ {
		if lineStart && body[i] == '.' {
			b.WriteByte('.')
		}
		b.WriteByte(body[i])
		lineStart = body[i] == '\n'
	}
	if !lineStart {
		b.WriteString("\r\n")
	}
	b.WriteString(".\r\n")
	return b.String()
}
