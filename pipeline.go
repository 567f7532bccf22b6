package pop3

import (
	"fmt"
	"io"
	"strconv"
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

// each runs keyword for every message of nums, with extra arguments after the number;
// fn receives the bodies of multi-line replies (nil for DELE). The Client checks the
// numbers and keeps the deleted set; the Conn's batch does the rest.
func (c *Client) each(keyword string, nums []int, extra []string, fn func(int, io.Reader) error) error {
	if len(nums) == 0 {
		return nil
	}
	b, err := c.newBatch(keyword, nums, extra, fn)
	if err != nil {
		return err
	}
	return c.conn.runBatch(b)
}

// newBatch makes the batch of each: it checks the numbers and asks the capabilities
// (pipelined or not); with fn nil, a positive reply marks its message deleted.
func (c *Client) newBatch(keyword string, nums []int, extra []string, fn func(int, io.Reader) error) (*batch, error) {
	first := make([]int, len(nums))
	var seen map[int]bool // DELE's: a message is marked deleted once
	if fn == nil {
		seen = make(map[int]bool, len(nums))
	}
	for i, n := range nums {
		if err := c.checkMessage(n); err != nil {
			return nil, err
		}
		if fn == nil {
			if seen[n] {
				return nil, fmt.Errorf("%w: message %d is listed twice", ErrInvalidArgument, n)
			}
			seen[n] = true
		}
		first[i] = n
	}
	if err := c.conn.guard(); err != nil { // a broken Conn asks no CAPA
		return nil, err
	}
	caps, err := c.capabilities()
	if err != nil {
		return nil, err
	}
	b := &batch{keyword: keyword, first: first, extra: extra, multiLine: fn != nil, pipelined: caps.Pipelining()}
	if fn != nil {
		b.handle = func(i int, body io.Reader) error { return fn(nums[i], body) }
	} else {
		b.handle = func(i int, _ io.Reader) error {
			c.deleted[nums[i]] = true
			return nil
		}
	}
	return b, nil
}
