package pop3test

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Mailbox is an in-memory POP3 server holding Messages. It serves any number
// of connections, each a separate session, and is safe for concurrent
// sessions.
//
// Each session that logs in sees the messages remaining at that moment,
// numbered from 1: its view is a snapshot, which [Mailbox.Add] and
// [Mailbox.Remove] do not change. Deletions are committed when a session in
// the TRANSACTION state ends with QUIT; later sessions see the remaining
// messages renumbered.
//
// By default a successful login locks the maildrop until its session ends
// (RFC 1939 section 8): a second login meanwhile is refused with
// "-ERR [IN-USE]". A session that ends with QUIT releases the lock before it
// answers, so a client may log in again as soon as it has read that answer.
// Set NoLock to allow concurrent sessions.
//
// Mailbox supports CAPA, USER, PASS, STAT, LIST, UIDL, RETR, TOP, DELE, NOOP,
// RSET and QUIT, and answers pipelined commands. The unique-id of a message
// is taken from UIDs, by default "uid-<n>", with n its 1-based index in
// Messages.
//
// The exported fields must be set before the first session starts and not
// changed afterwards; the methods may be called at any time, also while
// sessions run. A Mailbox must not be copied after first use.
type Mailbox struct {
	// Messages holds the octets of each message. Messages should use CRLF
	// line endings; a bare LF is served as CRLF, and a message that does not
	// end in CRLF is served with one added. Sizes reported by STAT, LIST and
	// RETR are those of the message as served (with these changes), before
	// dot-stuffing.
	Messages [][]byte

	// UIDs holds the unique-id of each message: UIDs[i] is that of
	// Messages[i], and a missing or empty entry means "uid-<i+1>". Unique-ids
	// are served verbatim, so duplicates (MS-STANOPOP3 C0041), long ones and
	// malformed ones can all be tested.
	UIDs []string

	// User and Pass are the credentials accepted by USER and PASS; an
	// empty User means "user" and an empty Pass means "pass".
	User, Pass string

	// Pipelining makes CAPA list PIPELINING.
	Pipelining bool

	// NoLock lets sessions log in while another one holds the maildrop.
	// By default a successful login locks the maildrop until its session
	// ends, and another login meanwhile gets "-ERR [IN-USE] ..." (RFC 1939
	// section 8, RFC 2449 section 8.1.1).
	NoLock bool

	// LoginDelay, when positive, makes CAPA list "LOGIN-DELAY <seconds>"
	// (rounded up) and refuses with "-ERR [LOGIN-DELAY] ..." a login that
	// comes sooner than LoginDelay after the previous successful login to
	// the Mailbox (RFC 2449 sections 6.8 and 8.1.2).
	LoginDelay time.Duration

	// Expire, when not empty, makes CAPA list "EXPIRE <Expire>", such as
	// "EXPIRE 0", "EXPIRE NEVER" or "EXPIRE 30" (RFC 2449 section 6.7). It
	// changes nothing else: messages expire only through [Mailbox.Remove].
	Expire string

	// Quirks switches on behaviours of real servers that a client must
	// survive; the zero value is a well-behaved server.
	Quirks Quirks

	// Greeting is the greeting line, without CRLF; the default is
	// "+OK pop3test ready". A greeting starting with "-" is followed by
	// closing the connection.
	Greeting string

	mu        sync.Mutex
	inited    bool
	live      []*mailboxMessage // messages not deleted by a committed session
	deleted   []*mailboxMessage // messages deleted by committed sessions, in order
	used      map[string]bool   // every unique-id ever held
	added     int               // how many messages were ever held
	locked    bool              // a session holds the maildrop
	unlocked  chan struct{}     // closed and replaced when the lock is released
	lastLogin time.Time         // of the previous successful login
	now       func() time.Time  // the clock; time.Now unless a test sets it
}

// Quirks are behaviours of real servers that a Mailbox can imitate, each
// switched on by its field. The zero value is a well-behaved server.
type Quirks struct {
	// NoUIDL leaves UIDL out of CAPA and answers UIDL with "-ERR", like a
	// server without the optional command.
	NoUIDL bool
}

// Message is a message of a [Mailbox] with its unique-id.
type Message struct {
	// UID is the unique-id the message is listed with by UIDL.
	UID string
	// Data holds the octets of the message as given to the Mailbox, before
	// any change made for serving it.
	Data []byte
}

// mailboxMessage is one message of a Mailbox, prepared for serving on first
// use.
type mailboxMessage struct {
	uid string
	raw []byte

	once    sync.Once
	data    []byte // raw with CRLF line endings, ending in CRLF unless empty
	stuffed []byte // data dot-stuffed
}

func (msg *mailboxMessage) prepare() {
	msg.once.Do(func() {
		data := toCRLF(msg.raw)
		if len(data) > 0 && !bytes.HasSuffix(data, crlf) {
			data = append(data[:len(data):len(data)], crlf...)
		}
		msg.data = data
		msg.stuffed = dotStuff(nil, msg.data)
	})
}

// size returns the size in octets of the message as served, before
// dot-stuffing.
func (msg *mailboxMessage) size() int {
	msg.prepare()
	return len(msg.data)
}

// toCRLF returns p with every bare LF replaced by CRLF; it returns p itself
// if there is none.
func toCRLF(p []byte) []byte {
	bare := -1
	for i := 0; ; {
		j := bytes.IndexByte(p[i:], '\n')
		if j < 0 {
			break
		}
		i += j
		if i == 0 || p[i-1] != '\r' {
			bare = i
			break
		}
		i++
	}
	if bare < 0 {
		return p
	}
	out := make([]byte, 0, len(p)+len(p)/32+16)
	out = append(out, p[:bare]...)
	p = p[bare:]
	for len(p) > 0 {
		j := bytes.IndexByte(p, '\n')
		if j < 0 {
			out = append(out, p...)
			break
		}
		out = append(out, p[:j]...)
		if j == 0 || p[j-1] != '\r' {
			if len(out) == 0 || out[len(out)-1] != '\r' {
				out = append(out, '\r')
			}
		}
		out = append(out, '\n')
		p = p[j+1:]
	}
	return out
}

var (
	lfDot = []byte("\n.")
	crlf  = []byte("\r\n")
	dot   = []byte(".\r\n")
)

// dotStuff returns p dot-stuffed (a "." added before every line that starts
// with ".") and ending in CRLF unless p is empty, appended to dst. If dst is
// nil and p needs no change, p itself is returned.
func dotStuff(dst, p []byte) []byte {
	if len(p) == 0 {
		return dst
	}
	extra := bytes.Count(p, lfDot)
	if p[0] == '.' {
		extra++
	}
	needCRLF := !bytes.HasSuffix(p, crlf)
	if dst == nil && extra == 0 && !needCRLF {
		return p
	}
	if dst == nil {
		dst = make([]byte, 0, len(p)+extra+2)
	}
	if p[0] == '.' {
		dst = append(dst, '.')
	}
	for {
		i := bytes.Index(p, lfDot)
		if i < 0 {
			break
		}
		dst = append(dst, p[:i+2]...)
		dst = append(dst, '.')
		p = p[i+2:]
	}
	dst = append(dst, p...)
	if needCRLF {
		dst = append(dst, crlf...)
	}
	return dst
}

// Start starts serving on a new listener on 127.0.0.1 with a free port and
// returns its address. A cleanup registered with t closes the listener and
// every session and waits for them to end.
func (m *Mailbox) Start(t testing.TB) (addr string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pop3test: %v", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- m.Serve(l) }()
	t.Cleanup(func() {
		l.Close()
		if err := <-errc; err != nil {
			t.Errorf("pop3test: mailbox: %v", err)
		}
	})
	return l.Addr().String()
}

// Serve accepts connections on l and serves a session on each. When l is
// closed, Serve closes the connections of all sessions still running, waits
// for them to end and returns nil. It returns any other error from accepting
// a connection in the same way.
func (m *Mailbox) Serve(l net.Listener) error {
	var (
		mu    sync.Mutex
		conns = make(map[net.Conn]struct{})
		wg    sync.WaitGroup
	)
	defer func() {
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}()
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.serveConn(c)
			c.Close()
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
		}()
	}
}

// Remaining returns the number of messages left after all committed
// deletions.
func (m *Mailbox) Remaining() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.initLocked()
	return len(m.live)
}

// Add adds a message at the end of the maildrop, as new mail arriving:
// sessions that log in afterwards see it, sessions already logged in do not.
// An empty uid is replaced by a fresh "uid-<n>" that no message of the
// Mailbox has had before. Add keeps a copy of data.
func (m *Mailbox) Add(uid string, data []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.initLocked()
	m.addLocked(uid, bytes.Clone(data))
}

// addLocked appends a message to the maildrop, choosing its unique-id if uid
// is empty.
func (m *Mailbox) addLocked(uid string, raw []byte) {
	m.added++
	for n := m.added; uid == ""; n++ {
		if candidate := "uid-" + strconv.Itoa(n); !m.used[candidate] {
			uid = candidate
		}
	}
	m.used[uid] = true
	m.live = append(m.live, &mailboxMessage{uid: uid, raw: raw})
}

// Remove removes every remaining message whose unique-id is uid, as a server
// that expires them would, and returns how many it removed. Sessions already
// logged in still see them. Removed messages are not listed by
// [Mailbox.Deleted].
func (m *Mailbox) Remove(uid string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.initLocked()
	live := m.live[:0:0]
	for _, msg := range m.live {
		if msg.uid != uid {
			live = append(live, msg)
		}
	}
	n := len(m.live) - len(live)
	m.live = live
	return n
}

// Contents returns the remaining messages, after all committed deletions, in
// maildrop order. Each Data is a copy of the octets as given.
func (m *Mailbox) Contents() []Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.initLocked()
	return messages(m.live)
}

// Deleted returns the messages that sessions deleted and committed with QUIT,
// in the order they were deleted (the order of the DELE commands within a
// session). Messages taken away with [Mailbox.Remove] are not included. Each
// Data is a copy of the octets as given.
func (m *Mailbox) Deleted() []Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return messages(m.deleted)
}

func messages(msgs []*mailboxMessage) []Message {
	out := make([]Message, len(msgs))
	for i, msg := range msgs {
		out[i] = Message{UID: msg.uid, Data: bytes.Clone(msg.raw)}
	}
	return out
}

func (m *Mailbox) initLocked() {
	if m.inited {
		return
	}
	m.inited = true
	m.used = make(map[string]bool)
	m.unlocked = make(chan struct{})
	if m.now == nil {
		m.now = time.Now
	}
	for i, uid := range m.UIDs {
		if i < len(m.Messages) && uid != "" {
			m.used[uid] = true
		}
	}
	for i, raw := range m.Messages {
		uid := ""
		if i < len(m.UIDs) {
			uid = m.UIDs[i]
		}
		if uid == "" {
			uid = "uid-" + strconv.Itoa(i+1)
		}
		m.added = i
		m.addLocked(uid, raw)
	}
}

// lockGrace is how long a login that finds the maildrop locked waits for it
// to be released before it is refused: a client that closed its previous
// session without QUIT and logs in again at once may otherwise get there
// before the server has seen the close.
const lockGrace = 250 * time.Millisecond

// errInUse and errLoginDelay are the reasons login refuses a session.
var (
	errInUse      = errors.New("-ERR [IN-USE] maildrop already locked by another session")
	errLoginDelay = errors.New("-ERR [LOGIN-DELAY] wait before logging in again")
)

// login locks the maildrop unless NoLock is set, checks LoginDelay and
// returns the messages the session sees.
func (m *Mailbox) login() ([]*mailboxMessage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.initLocked()
	if m.locked && !m.NoLock {
		unlocked := m.unlocked
		m.mu.Unlock()
		timer := time.NewTimer(lockGrace)
		select {
		case <-unlocked:
		case <-timer.C:
		}
		timer.Stop()
		m.mu.Lock()
		if m.locked {
			return nil, errInUse
		}
	}
	now := m.now()
	if m.LoginDelay > 0 && !m.lastLogin.IsZero() && now.Sub(m.lastLogin) < m.LoginDelay {
		return nil, errLoginDelay
	}
	m.lastLogin = now
	if !m.NoLock {
		m.locked = true
	}
	return append([]*mailboxMessage(nil), m.live...), nil
}

// unlock releases the lock taken by login.
func (m *Mailbox) unlock() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.locked {
		m.locked = false
		close(m.unlocked)
		m.unlocked = make(chan struct{})
	}
}

// commit removes the messages a session deleted, in the order given, from the
// mailbox; messages already gone (by Remove) are skipped.
func (m *Mailbox) commit(deleted []*mailboxMessage) {
	if len(deleted) == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	gone := make(map[*mailboxMessage]bool, len(deleted))
	for _, msg := range deleted {
		gone[msg] = true
	}
	live := make([]*mailboxMessage, 0, len(m.live))
	present := make(map[*mailboxMessage]bool, len(deleted))
	for _, msg := range m.live {
		if gone[msg] {
			present[msg] = true
		} else {
			live = append(live, msg)
		}
	}
	m.live = live
	for _, msg := range deleted {
		if present[msg] {
			m.deleted = append(m.deleted, msg)
		}
	}
}

// session is one connection to a Mailbox.
type session struct {
	m       *Mailbox
	w       *bufio.Writer
	user    string
	hasUser bool
	authed  bool
	msgs    []*mailboxMessage
	deleted []bool
	order   []int // indexes of the messages marked deleted, in DELE order
}

func (m *Mailbox) serveConn(c net.Conn) {
	r := bufio.NewReaderSize(c, MaxLineLength)
	s := &session{m: m, w: bufio.NewWriterSize(c, 64<<10)}
	defer s.end()
	greeting := m.Greeting
	if greeting == "" {
		greeting = "+OK pop3test ready"
	}
	s.line(greeting)
	if strings.HasPrefix(greeting, "-") {
		s.w.Flush()
		return
	}
	for {
		// Answer a pipelined batch of commands with as few writes as
		// possible: flush only once no further whole command is buffered.
		if buf, _ := r.Peek(r.Buffered()); bytes.IndexByte(buf, '\n') < 0 {
			if s.w.Flush() != nil {
				return
			}
		}
		b, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			s.line("-ERR line too long")
			s.w.Flush()
			return
		}
		if err != nil {
			return
		}
		if s.command(string(b)) {
			s.w.Flush()
			return
		}
	}
}

// end releases the maildrop lock the session holds, if any.
func (s *session) end() {
	if s.authed {
		s.authed = false
		s.m.unlock()
	}
}

func (s *session) line(l string) {
	s.w.WriteString(l)
	s.w.Write(crlf)
}

// command executes one command line and reports whether the session ends.
func (s *session) command(line string) (quit bool) {
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	name, arg, _ := strings.Cut(line, " ")
	name = strings.ToUpper(name)
	args := strings.Fields(arg)

	switch name {
	case "CAPA":
		s.line("+OK capability list follows")
		s.line("TOP")
		if !s.m.Quirks.NoUIDL {
			s.line("UIDL")
		}
		s.line("USER")
		s.line("RESP-CODES")
		if s.m.Pipelining {
			s.line("PIPELINING")
		}
		if s.m.LoginDelay > 0 {
			secs := (s.m.LoginDelay + time.Second - 1) / time.Second
			s.line("LOGIN-DELAY " + strconv.FormatInt(int64(secs), 10))
		}
		if s.m.Expire != "" {
			s.line("EXPIRE " + s.m.Expire)
		}
		s.w.Write(dot)
		return false
	case "QUIT":
		if s.authed {
			deleted := make([]*mailboxMessage, len(s.order))
			for j, i := range s.order {
				deleted[j] = s.msgs[i]
			}
			s.m.commit(deleted)
			s.end()
		}
		s.line("+OK pop3test signing off")
		return true
	case "USER", "PASS":
		if s.authed {
			s.line("-ERR already authenticated")
			return false
		}
	case "UIDL":
		if s.m.Quirks.NoUIDL {
			s.line("-ERR unknown command")
			return false
		}
		fallthrough
	case "STAT", "LIST", "RETR", "TOP", "DELE", "NOOP", "RSET":
		if !s.authed {
			s.line("-ERR not authenticated")
			return false
		}
	default:
		s.line("-ERR unknown command")
		return false
	}

	switch name {
	case "USER":
		if len(args) == 0 {
			s.line("-ERR missing user name")
			return false
		}
		s.user, s.hasUser = arg, true
		s.line("+OK send PASS")
	case "PASS":
		if !s.hasUser {
			s.line("-ERR send USER first")
			return false
		}
		s.hasUser = false
		wantUser, wantPass := s.m.User, s.m.Pass
		if wantUser == "" {
			wantUser = "user"
		}
		if wantPass == "" {
			wantPass = "pass"
		}
		if s.user != wantUser || arg != wantPass {
			s.line("-ERR [AUTH] invalid user name or password")
			return false
		}
		msgs, err := s.m.login()
		if err != nil {
			s.line(err.Error())
			return false
		}
		s.authed = true
		s.msgs = msgs
		s.deleted = make([]bool, len(s.msgs))
		n, size := s.stat()
		s.line("+OK maildrop has " + strconv.Itoa(n) + " messages (" + strconv.Itoa(size) + " octets)")
	case "STAT":
		n, size := s.stat()
		s.line("+OK " + strconv.Itoa(n) + " " + strconv.Itoa(size))
	case "LIST", "UIDL":
		s.listing(name, args)
	case "RETR":
		msg, _, ok := s.message(args)
		if !ok {
			return false
		}
		s.line("+OK " + strconv.Itoa(msg.size()) + " octets")
		s.w.Write(msg.stuffed)
		s.w.Write(dot)
	case "TOP":
		s.top(args)
	case "DELE":
		_, i, ok := s.message(args)
		if !ok {
			return false
		}
		s.deleted[i] = true
		s.order = append(s.order, i)
		s.line("+OK message " + strconv.Itoa(i+1) + " deleted")
	case "NOOP":
		s.line("+OK")
	case "RSET":
		clear(s.deleted)
		s.order = s.order[:0]
		n, size := s.stat()
		s.line("+OK maildrop has " + strconv.Itoa(n) + " messages (" + strconv.Itoa(size) + " octets)")
	}
	return false
}

// stat returns the number and total size of the messages not marked as
// deleted.
func (s *session) stat() (n, size int) {
	for i, msg := range s.msgs {
		if !s.deleted[i] {
			n++
			size += msg.size()
		}
	}
	return n, size
}

// message looks up the message numbered by args[0], replying with an error
// if there is none.
func (s *session) message(args []string) (msg *mailboxMessage, index int, ok bool) {
	if len(args) == 0 {
		s.line("-ERR missing message number")
		return nil, 0, false
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 || args[0][0] == '+' {
		s.line("-ERR invalid message number")
		return nil, 0, false
	}
	if n > len(s.msgs) {
		s.line("-ERR no such message")
		return nil, 0, false
	}
	if s.deleted[n-1] {
		s.line("-ERR message " + args[0] + " already deleted")
		return nil, 0, false
	}
	return s.msgs[n-1], n - 1, true
}

// listing answers LIST and UIDL.
func (s *session) listing(name string, args []string) {
	entry := func(i int, msg *mailboxMessage) string {
		if name == "LIST" {
			return strconv.Itoa(i+1) + " " + strconv.Itoa(msg.size())
		}
		return strconv.Itoa(i+1) + " " + msg.uid
	}
	if len(args) > 0 {
		msg, i, ok := s.message(args)
		if ok {
			s.line("+OK " + entry(i, msg))
		}
		return
	}
	if name == "LIST" {
		n, size := s.stat()
		s.line("+OK " + strconv.Itoa(n) + " messages (" + strconv.Itoa(size) + " octets)")
	} else {
		s.line("+OK unique-id listing follows")
	}
	for i, msg := range s.msgs {
		if !s.deleted[i] {
			s.line(entry(i, msg))
		}
	}
	s.w.Write(dot)
}

// top answers TOP: the header, the blank line and the first lines of the
// body.
func (s *session) top(args []string) {
	if len(args) < 2 {
		s.line("-ERR usage: TOP msg lines")
		return
	}
	msg, _, ok := s.message(args)
	if !ok {
		return
	}
	k, err := strconv.Atoi(args[1])
	if err != nil || k < 0 || args[1][0] == '+' {
		s.line("-ERR invalid number of lines")
		return
	}
	msg.prepare()
	data := msg.data
	var end int
	switch {
	case bytes.HasPrefix(data, crlf):
		end = 2
	default:
		if i := bytes.Index(data, []byte("\r\n\r\n")); i >= 0 {
			end = i + 4
		} else {
			end = len(data)
		}
	}
	for ; k > 0 && end < len(data); k-- {
		i := bytes.IndexByte(data[end:], '\n')
		if i < 0 {
			end = len(data)
			break
		}
		end += i + 1
	}
	s.line("+OK top of message follows")
	if end == len(data) {
		s.w.Write(msg.stuffed)
	} else {
		s.w.Write(dotStuff(nil, data[:end]))
	}
	s.w.Write(dot)
}
