package pop3

import (
	"errors"
	"io"
	"sync"
)

// The Conn's read and write buffers are lent from pools only while they hold data, so an
// idle session holds neither: ten thousand logged-in sessions waiting for their next poll
// cost a few KiB each, not the 64 KiB read buffer that a reply needs while it streams in.

const writeBufferSize = 4 << 10

var (
	readBuffers  = sync.Pool{New: func() any { b := make([]byte, readBufferSize); return &b }}
	writeBuffers = sync.Pool{New: func() any { b := make([]byte, writeBufferSize); return &b }}
)

// errBufferFull is what readBuffer.fill returns when the buffer holds size octets unread.
var errBufferFull = errors.New("pop3: read buffer full")

// readBuffer is the Conn's read buffer over src (traceReader). It takes its buffer from
// readBuffers when it first reads and gives it back at release, which the Conn calls
// where a reply has been read and nothing aliases the buffer any more (after a status
// line, a listing, the end of a body), if it then holds nothing unread. A buffer of
// another size than readBufferSize (a MaxLineLength over 64 KiB) is kept, not pooled.
// Its exported methods are those of bufio.Reader that the body reader uses, with the
// same meaning; readLine scans the buffer itself.
type readBuffer struct {
	src  io.Reader
	size int
	buf  []byte  // nil while lent back
	pool *[]byte // what readBuffers gave, to give back without an allocation
	r, w int     // buf[r:w] is unread
	err  error   // the error of the last read that returned octets, for the next fill
}

// acquire takes a buffer unless one is held.
func (b *readBuffer) acquire() {
	if b.buf != nil {
		return
	}
	if b.size == readBufferSize {
		b.pool = readBuffers.Get().(*[]byte)
		b.buf = *b.pool
	} else {
		b.buf = make([]byte, b.size)
	}
}

// release gives the buffer back if it holds nothing unread. No slice of it returned
// before may be used afterwards.
func (b *readBuffer) release() {
	if b.r < b.w || b.buf == nil || b.size != readBufferSize {
		return
	}
	readBuffers.Put(b.pool)
	b.buf, b.pool, b.r, b.w = nil, nil, 0, 0
}

// Reset discards what is buffered and reads src from now on.
func (b *readBuffer) Reset(src io.Reader) {
	b.r, b.w, b.err = 0, 0, nil
	b.release()
	b.src = src
}

// Buffered returns the number of octets that can be read without touching src.
func (b *readBuffer) Buffered() int { return b.w - b.r }

// buffered returns the unread octets, valid until the next fill, Discard or release.
func (b *readBuffer) buffered() []byte { return b.buf[b.r:b.w] }

// fill reads from src once, after moving the unread octets to the front of the buffer;
// it returns errBufferFull when there is no room.
func (b *readBuffer) fill() error {
	if b.err != nil {
		err := b.err
		b.err = nil
		return err
	}
	b.acquire()
	if b.r > 0 {
		b.w = copy(b.buf, b.buf[b.r:b.w])
		b.r = 0
	}
	if b.w == len(b.buf) {
		return errBufferFull
	}
	for range 100 { // as bufio.Reader: a reader that keeps returning nothing is broken
		n, err := b.src.Read(b.buf[b.w:])
		b.w += n
		if n > 0 {
			b.err = err
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// Peek returns the next n unread octets, reading src until they are there; with fewer, it
// returns what there is and the error that stopped the reading.
func (b *readBuffer) Peek(n int) ([]byte, error) {
	for b.w-b.r < n {
		if err := b.fill(); err != nil {
			if b.buf == nil {
				return nil, err
			}
			return b.buffered(), err
		}
	}
	if b.buf == nil {
		return nil, nil
	}
	return b.buf[b.r : b.r+n], nil
}

// Discard skips the next n buffered octets (n is at most Buffered).
func (b *readBuffer) Discard(n int) (int, error) {
	b.r += n
	return n, nil
}

// writeBuffer is the Conn's write buffer over dst (deadlineWriter), lent from writeBuffers
// between the first octet written and the Flush that sends it. Like a bufio.Writer, it
// writes to dst when full and keeps the first write error, which every later Flush
// returns.
type writeBuffer struct {
	dst  io.Writer
	buf  []byte  // nil while lent back; the octets not sent yet
	pool *[]byte // what writeBuffers gave
	err  error
}

// WriteString buffers s.
func (b *writeBuffer) WriteString(s string) { bufferOctets(b, s) }

// Write buffers p.
func (b *writeBuffer) Write(p []byte) { bufferOctets(b, p) }

// bufferOctets is WriteString and Write.
func bufferOctets[T string | []byte](b *writeBuffer, s T) {
	for len(s) > 0 && b.err == nil {
		b.acquire()
		if len(b.buf) == cap(b.buf) {
			b.send()
			continue
		}
		n := copy(b.buf[len(b.buf):cap(b.buf)], s)
		b.buf = b.buf[:len(b.buf)+n]
		s = s[n:]
	}
}

// write buffers c.
func (b *writeBuffer) write(c byte) {
	if b.err != nil {
		return
	}
	b.acquire()
	if len(b.buf) == cap(b.buf) {
		b.send()
	}
	b.buf = append(b.buf, c)
}

// acquire takes a buffer unless one is held.
func (b *writeBuffer) acquire() {
	if b.buf == nil {
		b.pool = writeBuffers.Get().(*[]byte)
		b.buf = (*b.pool)[:0]
	}
}

// send writes what is buffered to dst, keeping the buffer.
func (b *writeBuffer) send() {
	if len(b.buf) == 0 || b.err != nil {
		return
	}
	n, err := b.dst.Write(b.buf)
	if err == nil && n < len(b.buf) {
		err = io.ErrShortWrite
	}
	b.err = err
	b.buf = b.buf[:0]
}

// Flush writes what is buffered to dst and gives the buffer back.
func (b *writeBuffer) Flush() error {
	b.send()
	if b.buf != nil {
		writeBuffers.Put(b.pool)
		b.buf, b.pool = nil, nil
	}
	return b.err
}
