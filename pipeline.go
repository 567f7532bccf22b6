package pop3

import (
	"errors"
	"fmt"
	"io"
	"strconv"
)

// The window of a pipelined batch: the commands sent whose replies have not been read.
// Its octets stay far below what the socket buffers hold, so the client's writes never
// block while the server waits for the client to read (no deadlock, whatever the batch
// size), and a few hundred short commands still fit, enough to keep a slow link busy.
const (
	pipelineWindowOctets   = 4 << 10
	pipelineWindowCommands = 512
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
// marked broken), and the error is returned. Every number is checked as Retr checks it
// before anything is sent.
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
	if lines < 0 {
		return fmt.Errorf("%w: TOP line count %d is negative", ErrInvalidArgument, lines)
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

// each runs keyword for every message of nums, with extra arguments after the number;
// fn receives the bodies of multi-line replies (nil for DELE).
func (c *Client) each(keyword string, nums []int, extra []string, fn func(int, io.Reader) error) error {
	args := make([]string, len(nums))
	for i, n := range nums {
		num, err := c.message(n)
		if err != nil {
			return err
		}
		args[i] = num
	}
	if len(nums) == 0 {
		return nil
	}
	caps, err := c.Capabilities()
	if err != nil {
		return err
	}
	windowOctets, windowCommands := 1, 1
	if caps.Has("PIPELINING") {
		windowOctets, windowCommands = pipelineWindowOctets, pipelineWindowCommands
	}

	var (
		inFlight       = make([]batchCommand, 0, min(len(nums), windowCommands))
		inFlightOctets int
		next           int
		failures       []error
		cmdArgs        = make([]string, 1+len(extra))
	)
	copy(cmdArgs[1:], extra)
	extraOctets := len(keyword) + 2
	for _, a := range extra {
		extraOctets += 1 + len(a)
	}
	// send fills the window once it is half empty, and sends the lot in one write.
	send := func() error {
		if len(inFlight) > 0 && 2*inFlightOctets > windowOctets {
			return nil
		}
		queued := false
		for next < len(nums) && len(inFlight) < windowCommands {
			octets := extraOctets + 1 + len(args[next])
			if len(inFlight) > 0 && inFlightOctets+octets > windowOctets {
				break
			}
			cmdArgs[0] = args[next]
			if err := c.conn.queue(keyword, cmdArgs...); err != nil {
				return err
			}
			inFlight = append(inFlight, batchCommand{n: nums[next], octets: octets})
			inFlightOctets += octets
			next++
			queued = true
		}
		if !queued {
			return nil
		}
		return c.conn.flush()
	}
	// drain reads and discards the replies still in flight after the batch stopped.
	drain := func() error {
		for range inFlight {
			if _, err := c.conn.ReadResponse(); err != nil {
				var perr *Error
				if errors.As(err, &perr) {
					continue
				}
				return err
			}
			if fn != nil {
				if err := c.conn.DotReader().Close(); err != nil {
					return err
				}
			}
		}
		inFlight = inFlight[:0]
		return nil
	}

	for next < len(nums) || len(inFlight) > 0 {
		if err := send(); err != nil {
			return errors.Join(append(failures, err)...)
		}
		cmd := inFlight[0]
		inFlight = inFlight[1:]
		inFlightOctets -= cmd.octets
		if _, err := c.conn.ReadResponse(); err != nil {
			var perr *Error
			if errors.As(err, &perr) {
				failures = append(failures, err)
				continue
			}
			return errors.Join(append(failures, err)...)
		}
		if fn == nil {
			c.deleted[cmd.n] = true
			continue
		}
		body := c.conn.DotReader()
		ferr := fn(cmd.n, body)
		if err := body.Close(); err != nil {
			return errors.Join(append(failures, ferr, err)...)
		}
		if ferr != nil {
			return errors.Join(append(failures, ferr, drain())...)
		}
	}
	return errors.Join(failures...)
}
