package pop3

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
)

// The window of a pipelined batch: the commands sent whose replies have not been read.
// A goroutine writes the commands while the caller's goroutine reads the replies, so
// neither side can wait on the other with both socket buffers full, whatever the batch
// size; the window bounds what the server is asked to hold (count and octets) and keeps
// memory bounded. A few hundred short commands keep a slow link busy.
const (
	pipelineWindowOctets   = 16 << 10
	pipelineWindowCommands = 1024
)

// RetrEach retrieves the messages nums in order and calls fn with each one's number and
// body, which is valid until fn returns; what fn leaves unread is skipped. Where the server
// lists PIPELINING, commands are sent ahead of the replies within a bounded window;
// otherwise one at a time. The results are the same either way.
//
// A negative reply for one message does not stop the batch: fn is not called for it, and
// the *Error, whose Command names the message ("RETR 7"), is joined into the returned
// error. If fn returns an error, or the connection breaks, the batch stops: the replies
// already requested are read and discarded so the connection stays usable (or it is
// marked broken), and the error is returned. If fn panics, the batch stops its writer and
// marks the connection broken before the panic goes on. Every number is checked as Retr
// checks it before anything is sent, and a broken connection is refused at once.
func (c *Client) RetrEach(nums []int, fn func(n int, msg io.Reader) error) error {
	if fn == nil {
		return fmt.Errorf("%w: nil callback", ErrInvalidArgument)
	}
	return c.each("RETR", nums, nil, fn)
}

// TopEach is RetrEach with TOP: fn gets each message's header, the blank line after it,
// and the first lines lines of its body.
func (c *Client) TopEach(nums []int, lines int, fn func(n int, msg io.Reader) error) error {
	if fn == nil {
		return fmt.Errorf("%w: nil callback", ErrInvalidArgument)
	}
	if err := checkLineCount(lines); err != nil {
		return err
	}
	return c.each("TOP", nums, []string{strconv.Itoa(lines)}, fn)
}

// DeleEach marks the messages nums deleted, pipelined where the server lists PIPELINING.
// As with Dele, nothing is removed until Quit succeeds. A negative reply for one message
// does not stop the others; the *Errors are joined into the returned error.
func (c *Client) DeleEach(nums []int) error {
	return c.each("DELE", nums, nil, nil)
}

// batchCommand is one command of a batch whose reply has not been read yet.
type batchCommand struct {
	n      int
	octets int
}

// window counts the commands of a pipelined batch in flight and makes the writer wait
// while the count or the octets are at the bound.
type window struct {
	mu                  sync.Mutex
	cond                sync.Cond
	count, octets       int
	maxCount, maxOctets int
	stopped             bool
}

func newWindow(maxCount, maxOctets int) *window {
	w := &window{maxCount: maxCount, maxOctets: maxOctets}
	w.cond.L = &w.mu
	return w
}

// acquire takes room for one command of the given octets. With wait false it reports
// whether there was room at once; with wait true it waits for room. It returns false once
// the batch is stopped.
func (w *window) acquire(octets int, wait bool) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for !w.stopped && w.count > 0 && (w.count >= w.maxCount || w.octets+octets > w.maxOctets) {
		if !wait {
			return false
		}
		w.cond.Wait()
	}
	if w.stopped {
		return false
	}
	w.count++
	w.octets += octets
	return true
}

// release frees the room of one command whose reply has been read whole.
func (w *window) release(octets int) {
	w.mu.Lock()
	w.count--
	w.octets -= octets
	w.mu.Unlock()
	w.cond.Signal()
}

// stop makes the writer send nothing more.
func (w *window) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
	w.cond.Broadcast()
}

// each runs keyword for every message of nums, with extra arguments after the number;
// fn receives the bodies of multi-line replies (nil for DELE).
func (c *Client) each(keyword string, nums []int, extra []string, fn func(int, io.Reader) error) error {
	if c.inBatch {
		return ErrBusy
	}
	args := make([]string, len(nums))
	seen := make(map[int]bool)
	cmdArgs := append([]string{""}, extra...)
	for i, n := range nums {
		num, err := c.message(n)
		if err != nil {
			return err
		}
		cmdArgs[0] = num
		if err := checkCommand(keyword, cmdArgs, false); err != nil {
			return err // the writer of a pipelined batch checks nothing itself
		}
		if fn == nil && seen[n] {
			return fmt.Errorf("%w: message %d is listed twice", ErrInvalidArgument, n)
		}
		seen[n] = true
		args[i] = num
	}
	if len(nums) == 0 {
		return nil
	}
	// The writer of a pipelined batch writes without asking the Conn: whatever keeps the
	// Conn from taking a command (a body to drain, a broken connection) is settled here.
	if err := c.conn.ready(); err != nil {
		return err
	}
	caps, err := c.Capabilities()
	if err != nil {
		return err
	}
	c.inBatch = true
	defer func() { c.inBatch = false }()
	if caps.Has("PIPELINING") {
		return c.eachPipelined(keyword, nums, args, extra, fn)
	}
	var failures []error
	for i, n := range nums {
		cmdArgs[0] = args[i]
		if err := c.conn.Cmd(keyword, cmdArgs...); err != nil {
			return errors.Join(append(failures, err)...)
		}
		failure, stop := c.batchReply(n, fn)
		if failure != nil {
			failures = append(failures, failure)
		}
		if stop != nil {
			return errors.Join(append(failures, stop)...)
		}
	}
	return errors.Join(failures...)
}

// batchReply reads the reply to one command of a batch and hands its body to fn. A
// negative reply is a failure, and the batch goes on; stop is the error that ends the
// batch: fn's, or what broke the connection (then Conn.Err is set).
func (c *Client) batchReply(n int, fn func(int, io.Reader) error) (failure, stop error) {
	if _, err := c.conn.ReadResponse(); err != nil {
		var perr *Error
		if errors.As(err, &perr) {
			return err, nil
		}
		return nil, err
	}
	if fn == nil {
		c.deleted[n] = true
		return nil, nil
	}
	body := c.conn.DotReader()
	ferr := fn(n, body)
	if err := body.Close(); err != nil {
		if ferr == nil || errors.Is(ferr, ErrBroken) {
			return nil, err
		}
		return nil, errors.Join(ferr, err)
	}
	return nil, ferr
}

// eachPipelined runs a batch with a writer goroutine that keeps up to a window of commands
// ahead of the replies, which this goroutine reads.
func (c *Client) eachPipelined(keyword string, nums []int, args, extra []string, fn func(int, io.Reader) error) error {
	win := newWindow(pipelineWindowCommands, pipelineWindowOctets)
	sent := make(chan batchCommand, pipelineWindowCommands)
	var writeErr error
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		defer close(sent)
		writeErr = c.writeBatch(win, sent, keyword, nums, args, extra)
		if writeErr != nil {
			c.conn.Close() // unblocks the reader: the connection is lost
		}
	}()
	// finish stops the writer, waits for it, and returns the batch's outcome.
	finished := false
	finish := func(errs ...error) error {
		finished = true
		win.stop()
		<-writerDone
		if writeErr != nil {
			errs = append(errs, c.conn.fail(writeErr))
		}
		return errors.Join(errs...)
	}
	defer func() {
		if !finished {
			// fn panicked, with commands in flight whose replies nobody will read: the
			// connection is out of step. Stop the writer before the panic goes on.
			c.conn.fail(errors.New("pop3: a batch callback panicked"))
			c.conn.Close()
			finish()
		}
	}()
	var failures []error
	for cmd := range sent {
		failure, stop := c.batchReply(cmd.n, fn)
		if failure != nil {
			failures = append(failures, failure)
		}
		if stop != nil {
			if c.conn.Err() != nil {
				c.conn.Close() // the connection is broken: unblock the writer too
				return finish(append(failures, stop)...)
			}
			// fn failed: send nothing more, and read the replies already asked for.
			win.stop()
			return finish(append(failures, stop, c.drainBatch(sent, fn != nil))...)
		}
		win.release(cmd.octets)
	}
	return finish(failures...)
}

// writeBatch is the writer of a batch: it sends the commands, each once the window has
// room, flushing whenever it would otherwise wait, and announces each on sent. After a
// stop it flushes what it has buffered, whose replies the reader then discards.
func (c *Client) writeBatch(win *window, sent chan<- batchCommand, keyword string, nums []int, args, extra []string) error {
	cmdArgs := make([]string, 1+len(extra))
	copy(cmdArgs[1:], extra)
	octets := len(keyword) + 2
	for _, a := range extra {
		octets += 1 + len(a)
	}
	for i, n := range nums {
		cmd := batchCommand{n: n, octets: octets + 1 + len(args[i])}
		if !win.acquire(cmd.octets, false) {
			if err := c.conn.w.Flush(); err != nil {
				return err
			}
			if !win.acquire(cmd.octets, true) {
				return nil // stopped; everything written is flushed
			}
		}
		cmdArgs[0] = args[i]
		c.conn.writeCommand(keyword, cmdArgs)
		sent <- cmd
	}
	return c.conn.w.Flush()
}

// drainBatch reads and discards the replies to the commands of a stopped batch.
func (c *Client) drainBatch(sent <-chan batchCommand, multiLine bool) error {
	for range sent {
		if _, err := c.conn.ReadResponse(); err != nil {
			var perr *Error
			if errors.As(err, &perr) {
				continue
			}
			return err
		}
		if multiLine {
			if err := c.conn.DotReader().Close(); err != nil {
				return err
			}
		}
	}
	return nil
}
