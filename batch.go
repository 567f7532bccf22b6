package pop3

import (
	"errors"
	"io"
	"slices"
	"strconv"
	"sync"
)

// The window of a pipelined batch: the commands in flight (sent, status line not read).
// A writer goroutine sends the commands while the owner's goroutine reads the replies, so
// neither side can wait on the other with both socket buffers full, whatever the batch
// size; the window bounds what the server is asked to hold and keeps the record of the
// commands in flight bounded. It is sized by octets, 256 KiB of commands, about 23 000
// RETRs: enough to keep a 100 ms link busy at several hundred MB/s with messages of a few
// KB, so that a batch of 20 000 costs one round trip. The count bound is what those
// octets allow for the shortest command ("DELE n"). The window refills in chunks: once it
// is full, the writer waits until a quarter of it has been answered (lowWater) and sends
// that much again at once, so that a large batch takes a few writes (and TLS records)
// per 4 KiB buffer of commands, not one per command.
const (
	pipelineWindowOctets   = 256 << 10
	pipelineWindowCommands = pipelineWindowOctets / len("DELE 1\r\n")
)

// sentCommand is one command in flight: what errors and the trace show of it, its size on
// the wire, CRLF included, and, in a batch, its index there (its tag, see batch), which
// tells the reader what the reply answers. A command of a batch's first holds only its
// batch, whose text is made when an error asks for it: a batch of 20 000 RETRs makes no
// string per command.
type sentCommand struct {
	text   string // as errors show it; for a command of b.first, see display
	b      *batch
	octets int
	tag    int
}

// display returns the command as errors show it.
func (s sentCommand) display() string {
	if s.b != nil && s.tag < len(s.b.first) {
		return s.b.display(s.tag)
	}
	return s.text
}

// followUp is a follow-up command of a batch (see batch.followed) queued and not yet
// sent, with its index in the batch.
type followUp struct {
	command
	tag int
}

// inFlight is the one record of the commands in flight, oldest first. Every command sent
// is pushed when it is buffered for the network and popped when its status line has been
// read, so the oldest one is always the command the next status line answers. During a
// pipelined batch it is also the window: the writer goroutine pushes while the owner's
// goroutine pops, and the writer waits while the window is full. Invariants: count and
// octets are those of cmds[head:]; only the writer waits for room, and only while the
// window holds at least one command, until it has drained to low water, which the pop
// that reaches it signals; only the reader waits for a command, and only while none is
// in flight and the writer may still send, so a push or the writer's end always wakes it.
// It also holds a batch's queue of follow-up commands not yet sent, which the owner fills
// and the writer empties; the writer waits for one only while it has nothing else to send
// and the queue is open, and every queueing, the queue's close and stop wake it.
type inFlight struct {
	mu   sync.Mutex
	cond sync.Cond // signalled on every push, stop and writer end, and the pop to low water
	cmds []sentCommand
	head int
	// octets is the size of the commands in flight.
	octets int
	// maxCount and maxOctets bound the window of a pipelined batch; zero outside one.
	maxCount, maxOctets int
	// stopped tells the writer to send nothing more; writing is set while it may still.
	stopped, writing bool
	// writerWaits is set while the writer waits for room for a command of wantOctets.
	writerWaits bool
	wantOctets  int
	// queue holds the follow-ups queued and not yet sent; queueOpen is set while the
	// batch's owner may queue more.
	queue     []followUp
	queueOpen bool
}

func (f *inFlight) lock() {
	f.mu.Lock()
	if f.cond.L == nil {
		f.cond.L = &f.mu
	}
}

// push records a command as sent.
func (f *inFlight) push(cmd sentCommand) {
	f.lock()
	f.cmds = append(f.cmds, cmd)
	f.octets += cmd.octets
	f.mu.Unlock()
	f.cond.Broadcast()
}

// pop forgets the oldest command, whose status line has been read, and returns it (the
// zero sentCommand when none was in flight).
func (f *inFlight) pop() sentCommand {
	f.lock()
	var cmd sentCommand
	if f.head < len(f.cmds) {
		cmd = f.cmds[f.head]
		f.octets -= f.cmds[f.head].octets
		f.cmds[f.head] = sentCommand{}
		f.head++
		if f.head == len(f.cmds) {
			f.cmds, f.head = f.cmds[:0], 0
		} else if f.head > 1024 && f.head > len(f.cmds)/2 {
			n := copy(f.cmds, f.cmds[f.head:])
			f.cmds, f.head = f.cmds[:n], 0
		}
	}
	wake := f.writerWaits && f.lowWater(f.wantOctets)
	f.mu.Unlock()
	if wake {
		f.cond.Broadcast()
	}
	return cmd
}

// lowWater reports whether the window is empty, or has drained to three quarters of its
// bounds with room for a command of octets: where a waiting writer refills it, a quarter
// of the window at least. The caller holds mu.
func (f *inFlight) lowWater(octets int) bool {
	n := len(f.cmds) - f.head
	return n == 0 || (n <= f.maxCount*3/4 && f.octets+octets <= f.maxOctets*3/4)
}

// oldest returns the oldest command in flight, as errors show it; "" when there is none.
func (f *inFlight) oldest() string {
	f.lock()
	defer f.mu.Unlock()
	if f.head < len(f.cmds) {
		return f.cmds[f.head].display()
	}
	return ""
}

// len returns the number of commands in flight.
func (f *inFlight) len() int {
	f.lock()
	defer f.mu.Unlock()
	return len(f.cmds) - f.head
}

// openWindow starts a pipelined batch's window of expect commands; the writer may send.
// The record takes room for them at once (up to the window), rather than growing.
func (f *inFlight) openWindow(maxCount, maxOctets, expect int) {
	f.lock()
	if n := min(expect, maxCount); cap(f.cmds)-f.head < n {
		cmds := make([]sentCommand, len(f.cmds)-f.head, len(f.cmds)-f.head+n)
		copy(cmds, f.cmds[f.head:])
		f.cmds, f.head = cmds, 0
	}
	f.maxCount, f.maxOctets, f.stopped, f.writing = maxCount, maxOctets, false, true
	f.mu.Unlock()
}

// room takes room in the window for a command of the given octets. With wait false it
// reports whether there is room at once; with wait true it waits until the window has
// drained to low water, so that the writer refills it in a chunk. It returns false once
// the batch is stopped.
func (f *inFlight) room(octets int, wait bool) bool {
	f.lock()
	defer f.mu.Unlock()
	n := len(f.cmds) - f.head
	if !wait {
		return !f.stopped && (n == 0 || (n < f.maxCount && f.octets+octets <= f.maxOctets))
	}
	f.writerWaits, f.wantOctets = true, octets
	for !f.stopped && !f.lowWater(octets) {
		f.cond.Wait()
	}
	f.writerWaits, f.wantOctets = false, 0
	return !f.stopped
}

// await waits until a command is in flight and returns the batch index of the oldest; ok
// false means the writer has ended with nothing more in flight.
func (f *inFlight) await() (tag int, ok bool) {
	f.lock()
	defer f.mu.Unlock()
	for f.head == len(f.cmds) && f.writing {
		f.cond.Wait()
	}
	if f.head == len(f.cmds) {
		return -1, false
	}
	return f.cmds[f.head].tag, true
}

// openQueue starts a batch's queue of follow-ups with cmds; open says whether more may be
// queued.
func (f *inFlight) openQueue(cmds []followUp, open bool) {
	f.lock()
	f.queue, f.queueOpen = cmds, open
	f.mu.Unlock()
}

// enqueue adds follow-ups to the queue of the running batch; it reports false, and adds
// nothing, once the queue is closed or the batch stopped.
func (f *inFlight) enqueue(cmds []followUp) bool {
	f.lock()
	ok := f.queueOpen && !f.stopped
	if ok {
		f.queue = append(f.queue, cmds...)
	}
	f.mu.Unlock()
	f.cond.Broadcast()
	return ok
}

// closeQueue records that no more follow-ups will be queued.
func (f *inFlight) closeQueue() {
	f.lock()
	f.queueOpen = false
	f.mu.Unlock()
	f.cond.Broadcast()
}

// nextFollowUp takes the oldest follow-up queued. With wait, while none is queued and the
// queue is open, it waits for one. It reports false once the batch is stopped, or when
// none is queued (and, with wait, none can be any more).
func (f *inFlight) nextFollowUp(wait bool) (followUp, bool) {
	f.lock()
	defer f.mu.Unlock()
	for wait && !f.stopped && len(f.queue) == 0 && f.queueOpen {
		f.cond.Wait()
	}
	if f.stopped || len(f.queue) == 0 {
		return followUp{}, false
	}
	q := f.queue[0]
	f.queue[0] = followUp{}
	f.queue = f.queue[1:]
	return q, true
}

// stop makes the writer send nothing more.
func (f *inFlight) stop() {
	f.lock()
	f.stopped = true
	f.mu.Unlock()
	f.cond.Broadcast()
}

// writerDone records that the writer has ended and closes the window.
func (f *inFlight) writerDone() {
	f.lock()
	f.writing = false
	f.maxCount, f.maxOctets = 0, 0
	f.mu.Unlock()
	f.cond.Broadcast()
}

// release drops the record's storage once nothing is in flight, so that an idle Conn does
// not keep the room a wide window took (a small one is kept for the next commands).
func (f *inFlight) release() {
	f.lock()
	if f.head == len(f.cmds) && cap(f.cmds) > 256 {
		f.cmds, f.head = nil, 0
	}
	f.mu.Unlock()
}

// batch is a run of commands of one form, "keyword first[i] extra...", one for each
// message number of first (at least 1), the Conn facility behind RetrEach, TopEach and
// DeleEach; and, for Sync, single-line follow-up commands that its callbacks queue while
// it runs (the DELEs of what has been stored, then QUIT), sent in the same stream as the
// commands of first.
// Each command has an index in the batch, its tag: i for first[i], len(first)+j for the
// follow-up queued j-th. The writer sends the follow-ups queued before the commands of
// first not yet sent; the replies come back in the order sent, and the reader learns from
// the record in flight which command each one answers.
type batch struct {
	keyword string
	first   []int
	extra   []string
	// multiLine is set when a positive reply carries a body (RETR, TOP).
	multiLine bool
	// pipelined sends the commands ahead of the replies, for a server that lists
	// PIPELINING; otherwise each waits for the reply to the one before.
	pipelined bool
	// handle is called for each positive reply with the index of its command and, for a
	// multi-line reply, its body, lent until handle returns (nil otherwise). An error it
	// returns stops the batch.
	handle func(i int, body io.Reader) error

	// followed, when set, lets the batch run follow-ups: follow holds the first ones,
	// sent before anything else, and handle and then may queue more with queueFollowUps
	// until then returns, or the batch stops. followed is called with the queue index j
	// of each follow-up whose reply is read, and the *Error of a negative one (which is
	// also joined into the result, and does not stop the batch), also while the replies
	// of a stopped batch are discarded; a follow-up never sent gets no call.
	followed func(j int, err error)
	follow   []command
	// then, when set, is called once the replies to every command of first have been
	// read (at once when first is empty), unless the batch stopped: the last moment to
	// queue follow-ups. An error it returns stops the batch.
	then func() error
	// queued counts the follow-ups queued so far; the owner's goroutine alone uses it.
	queued int
}

// queueFollowUps queues single-line follow-up commands in the running batch b, from its
// handle or then, to be sent after those queued before and ahead of the commands of first
// not yet sent; in one call, so that they go in one write. Each command is checked first.
// It fails once b no longer takes follow-ups (then has returned, or b stopped).
func (c *Conn) queueFollowUps(b *batch, cmds ...command) error {
	qs := make([]followUp, len(cmds))
	for k, cmd := range cmds {
		if err := checkCommand(cmd.keyword, cmd.args, false); err != nil {
			return err
		}
		qs[k] = followUp{command: cmd, tag: len(b.first) + b.queued + k}
	}
	if !c.flight.enqueue(qs) {
		return errors.New("pop3: internal error: follow-up queued after the batch's end")
	}
	b.queued += len(qs)
	return nil
}

// thenDone calls b.then, if any, and closes b's queue of follow-ups.
func (c *Conn) thenDone(b *batch) error {
	var err error
	if b.then != nil {
		err = b.then()
	}
	c.flight.closeQueue()
	return err
}

// runBatch runs b while the Conn is in the batch state, so that every other entry,
// including those of b.handle, fails with ErrBusy. Every command is checked before
// anything is sent. A negative reply does not stop the batch: its *Error is joined into
// the result, and handle is not called. An error from handle or then, or a body that
// cannot be read to its end, stops it: nothing more is sent, and the replies already
// asked for are read and discarded, so the Conn stays usable, unless it broke. If handle
// panics, the Conn is broken and the writer stopped before the panic goes on.
func (c *Conn) runBatch(b *batch) error {
	if err := c.exchange(); err != nil {
		return err
	}
	if len(b.first) > 0 {
		// The numbers are digits; the longest one makes the longest command.
		if err := checkCommand(b.keyword, b.args(slices.Max(b.first)), false); err != nil {
			return err
		}
	}
	follow := make([]followUp, len(b.follow))
	for j, cmd := range b.follow {
		if err := checkCommand(cmd.keyword, cmd.args, false); err != nil {
			return err
		}
		follow[j] = followUp{command: cmd, tag: len(b.first) + j}
	}
	if len(b.first) == 0 && len(b.follow) == 0 && b.then == nil {
		return nil
	}
	if err := c.setState(connIdle, connBatch); err != nil {
		return err
	}
	defer c.setState(connBatch, connIdle) // fails, harmlessly, once broken or closed
	defer func() {
		// Keep nothing of the batch once it returns: the last command answered keeps only
		// its text, not the batch (its numbers, its callback and what that holds).
		c.bodies = nil
		c.answered = sentCommand{text: c.answered.display()}
	}()
	b.queued = len(follow)
	c.flight.openQueue(follow, b.followed != nil)
	defer c.flight.openQueue(nil, false)
	var failures []error
	if len(b.first) == 0 {
		if err := c.thenDone(b); err != nil {
			return err
		}
	}
	if b.pipelined {
		return c.runPipelined(b)
	}
	next := 0 // the next command of first to send
	for {
		q, ok := c.nextCommand(b, &next)
		if !ok {
			return joinErrors(failures...)
		}
		if err := c.checkInStep(q.keyword); err != nil {
			return joinErrors(append(failures, err)...)
		}
		c.writeNext(b, q)
		if err := c.flush(); err != nil {
			return joinErrors(append(failures, err)...)
		}
		failure, stop := c.batchReply(b, q.tag, b.handle)
		if failure != nil {
			failures = append(failures, failure)
		}
		if stop == nil && q.tag == len(b.first)-1 {
			stop = c.thenDone(b)
		}
		if stop != nil {
			return joinErrors(append(failures, stop)...)
		}
	}
}

// batchReply reads the reply to the command of a batch whose index is tag and hands it to
// handle, or to followed for a follow-up. A negative reply is a failure, and the batch
// goes on; stop is the error that ends the batch: handle's, or what broke the Conn.
func (c *Conn) batchReply(b *batch, tag int, handle func(int, io.Reader) error) (failure, stop error) {
	if tag >= len(b.first) {
		err := c.readPositive()
		if err != nil && !isNegative(err) {
			return nil, err
		}
		b.followed(tag-len(b.first), err)
		return err, nil
	}
	if err := c.readPositive(); err != nil {
		if isNegative(err) {
			return err, nil
		}
		return nil, err
	}
	if !b.multiLine {
		return nil, handle(tag, nil)
	}
	body, err := c.lend(connBatch, connBatch)
	if err != nil {
		return nil, err
	}
	herr := handle(tag, body)
	cerr := body.Close()
	c.body = nil
	switch {
	case cerr == nil:
		return nil, herr
	case herr == nil || errors.Is(herr, ErrBroken):
		return nil, cerr
	}
	return nil, joinErrors(herr, cerr)
}

// discard is the handle of a stopped batch's remaining replies.
func discard(int, io.Reader) error { return nil }

// runPipelined runs b with a writer goroutine that keeps up to a window of commands ahead
// of the replies, which this goroutine reads.
func (c *Conn) runPipelined(b *batch) error {
	if err := c.checkInStep(b.keyword); err != nil {
		return err
	}
	c.flight.openWindow(pipelineWindowCommands, pipelineWindowOctets, len(b.first)+len(b.follow))
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		defer c.flight.writerDone()
		c.writeBatch(b)
	}()
	finished := false
	// finish stops the writer and waits for it; after it, this goroutine alone uses the
	// Conn again.
	finish := func() {
		finished = true
		c.flight.stop()
		<-writerDone
	}
	defer c.flight.release()
	defer func() {
		if !finished {
			// A callback panicked (handle or then, or followed while the replies of a
			// stopped batch were discarded), with commands in flight whose replies nobody
			// will read: the Conn is out of step. Stop the writer before the panic goes on.
			c.abort(c.answered.display(), errors.New("a batch callback panicked"))
			finish()
		}
	}()
	var failures []error
	for {
		tag, ok := c.flight.await()
		if !ok {
			break
		}
		failure, stop := c.batchReply(b, tag, b.handle)
		if failure != nil {
			failures = append(failures, failure)
		}
		if stop == nil && tag == len(b.first)-1 {
			stop = c.thenDone(b)
		}
		if stop == nil {
			continue
		}
		if c.state.Load() >= connBroken {
			c.abort(c.answered.display(), stop) // unblock the writer too; the Conn is already broken
			finish()
			return joinErrors(append(failures, stop)...)
		}
		// handle failed: send nothing more, and read the replies already asked for. The
		// writer may be blocked in a write the server takes only once its replies are
		// read, so they are read while it ends, as in the loop above: it flushes what it
		// has buffered and stops, and await reports false once all is answered.
		c.flight.stop()
		for {
			tag, ok := c.flight.await()
			if !ok {
				break
			}
			failure, derr := c.batchReply(b, tag, discard)
			if failure != nil && tag >= len(b.first) { // a follow-up's, still told to followed
				failures = append(failures, failure)
			}
			if derr != nil {
				c.abort(c.answered.display(), derr) // unblock the writer; the Conn is broken
				finish()
				return joinErrors(append(failures, stop, derr)...)
			}
		}
		finish()
		if c.state.Load() >= connBroken {
			// The writer's last write failed after the last reply it had asked for.
			return joinErrors(append(failures, stop, c.final())...)
		}
		return joinErrors(append(failures, stop)...)
	}
	finish()
	if c.state.Load() >= connBroken {
		failures = append(failures, c.final()) // the writer failed after the last reply
	}
	return joinErrors(failures...)
}

// writeBatch is the writer of a pipelined batch: it sends the follow-ups queued, then the
// next command of first, each once the window has room, flushing whenever it would
// otherwise wait; with nothing left to send, it waits for follow-ups while the queue is
// open. After a stop it flushes what it has buffered, whose replies the reader then
// discards. A write error breaks the Conn and closes the network connection, which ends
// the reader's wait.
func (c *Conn) writeBatch(b *batch) {
	next := 0 // the next command of first to send
	for {
		q, ok := c.nextCommand(b, &next)
		if !ok {
			// Nothing to send now: flush, and wait for a follow-up or the queue's end.
			if err := c.w.Flush(); err != nil {
				c.abort(c.flight.oldest(), err)
				return
			}
			if q, ok = c.flight.nextFollowUp(true); !ok {
				return // stopped, or nothing more to send; everything written is flushed
			}
		}
		octets := commandOctets(q.keyword, q.args)
		if q.tag < len(b.first) {
			octets = b.octets(q.tag)
		}
		if !c.flight.room(octets, false) {
			if err := c.w.Flush(); err != nil {
				c.abort(c.flight.oldest(), err)
				return
			}
			if !c.flight.room(octets, true) {
				return // stopped; everything written is flushed
			}
		}
		c.writeNext(b, q)
	}
}

// nextCommand takes the command b sends next, the one rule of both runners: the oldest
// follow-up queued, else the command of first at *next (tagged *next, which it advances,
// with b's keyword and no arguments: writeNext writes it). It reports false when neither
// is left for now.
func (c *Conn) nextCommand(b *batch, next *int) (followUp, bool) {
	if b.followed != nil {
		if q, ok := c.flight.nextFollowUp(false); ok {
			return q, true
		}
	}
	if *next == len(b.first) {
		return followUp{}, false
	}
	*next++
	return followUp{command: command{keyword: b.keyword}, tag: *next - 1}, true
}

// writeNext buffers q, a command of b taken by nextCommand or a follow-up, and records it
// in flight.
func (c *Conn) writeNext(b *batch, q followUp) {
	if q.tag < len(b.first) {
		c.writeFirst(b, q.tag)
	} else {
		c.writeTagged(q.keyword, q.args, q.tag)
	}
}

// args returns the arguments of b's command for message number n.
func (b *batch) args(n int) []string {
	return append([]string{strconv.Itoa(n)}, b.extra...)
}

// display returns the command of b.first[i] as errors show it.
func (b *batch) display(i int) string {
	return displayCommand(b.keyword, b.args(b.first[i]))
}

// octets returns the size on the wire of the command of b.first[i], CRLF included.
func (b *batch) octets(i int) int {
	return commandOctets(b.keyword, b.extra) + 1 + decimalDigits(b.first[i])
}

// decimalDigits returns the number of digits of n >= 0 in decimal.
func decimalDigits(n int) int {
	d := 1
	for ; n >= 10; n /= 10 {
		d++
	}
	return d
}

// commandOctets is the size of a command line on the wire, CRLF included.
func commandOctets(keyword string, args []string) int {
	n := len(keyword) + 2
	for _, a := range args {
		n += 1 + len(a)
	}
	return n
}

// joinErrors is errors.Join without repeats: an error already joined, or one whose text is
// the same as one already joined, is left out.
func joinErrors(errs ...error) error {
	var out []error
	seen := make(map[string]bool)
	for _, err := range errs {
		if err != nil && !seen[err.Error()] {
			seen[err.Error()] = true
			out = append(out, err)
		}
	}
	switch len(out) {
	case 0:
		return nil
	case 1:
		return out[0]
	}
	return errors.Join(out...)
}
