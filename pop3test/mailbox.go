package pop3test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"strconv"
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
// answers, so a client may log in again as soon as it has read that answer;
// a login that finds the maildrop locked waits up to a quarter of a second
// for the lock to be released (a client that closed its previous session
// without QUIT may log in again before the server has seen the close).
// Set NoLock to allow concurrent sessions.
//
// A session ends when the client sends QUIT or closes the connection, when
// the Mailbox is closed, and, as on a real server, when the client leaves it
// waiting for a command, or stops reading its replies, for IdleTimeout (10
// minutes by default). Only QUIT commits deletions.
//
// Mailbox supports CAPA, USER, PASS, STAT, LIST, UIDL, RETR, TOP, DELE, NOOP,
// RSET and QUIT, and STLS, AUTH and UTF8 when the fields STLS, SASL and UTF8
// ask for them; it answers pipelined commands. The unique-id of a message
// is taken from UIDs, by default "uid-<n>", with n its 1-based index in
// Messages. Its CAPA lists TOP, UIDL, USER (before login), RESP-CODES,
// AUTH-RESP-CODE and what the fields add.
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

	// IdleTimeout is the longest a session waits for the client's next
	// command, RFC 1939's autologout timer (section 3); zero or less means
	// 10 minutes, the shortest the RFC allows. The wait starts once the
	// session has sent its answers to every command it received, and the
	// whole next command line (or response during AUTH) must arrive within
	// it. When IdleTimeout passes, the session sends "-ERR Disconnected for inactivity." (as
	// Dovecot does) and closes the connection without entering the UPDATE
	// state: the deletions the client marked are not committed, and the
	// maildrop lock is released.
	//
	// IdleTimeout bounds writes too: replies are written in pieces of at
	// most 256 KiB, and a piece the client has not taken within IdleTimeout
	// (a client that stopped reading a large RETR reply, say) ends the
	// session in the same way, without UPDATE and releasing the lock, but
	// with nothing more sent: the commands the client sent after the one
	// being answered are not executed. The final "-ERR" line is written
	// under the same bound. The TLS handshake has its own bound of 10
	// seconds.
	IdleTimeout time.Duration

	// Expire, when not empty, makes CAPA list "EXPIRE <Expire>", such as
	// "EXPIRE 0", "EXPIRE NEVER" or "EXPIRE 30" (RFC 2449 section 6.7). It
	// changes nothing else: messages expire only through [Mailbox.Remove].
	Expire string

	// STLS makes CAPA list STLS and the server accept the STLS command
	// (RFC 2595 section 4) before login. For implicit TLS, use
	// [Mailbox.StartTLS] or [Mailbox.ServeTLS] instead.
	STLS bool

	// TLS is the server's TLS configuration for STLS and implicit TLS. If
	// nil or without certificates, the configuration presents
	// [Certificate] and requires TLS 1.2 or later.
	TLS *tls.Config

	// SASL lists the SASL mechanisms the server offers with AUTH (RFC 5034),
	// among "PLAIN", "LOGIN" and "XOAUTH2"; CAPA lists them as
	// "SASL <mechanisms>" before login. They accept the credentials of User
	// and Pass; XOAUTH2 accepts User with the access token Token. Initial
	// responses and the two-step form both work, and "*" cancels.
	SASL []string

	// Token is the OAuth 2.0 access token XOAUTH2 accepts; empty means
	// "token". A wrong one is refused as Gmail does: a challenge holding a
	// JSON error, then "-ERR [AUTH]" after the client's empty response.
	Token string

	// UTF8 makes CAPA list "UTF8 USER" and the server accept the UTF8
	// command (RFC 6856). User and Pass are compared octet for octet, so give
	// them in the form the client sends (PRECIS-prepared, NFC).
	UTF8 bool

	// Strict makes the server refuse, with "-ERR", what RFC 1939 and RFC
	// 2449 do not allow even though real servers accept it: a command line
	// over 255 octets or ending in a bare LF, an argument over 40 octets,
	// extra arguments, message numbers with a sign or leading zeros
	// ("LIST 01"), runs of spaces between arguments, octets outside
	// printable ASCII (but UTF-8 credentials when UTF8 is set), STLS after
	// UTF8, and, when UTF8 is set, RETR or TOP of a message holding non-ASCII
	// octets before the client sent UTF8 ("-ERR [UTF8]"). Use it to test a
	// client's own strictness.
	Strict bool

	// Record makes the Mailbox keep the transcript of every session, for
	// [Mailbox.Transcripts]: a record of real exchanges to replay with a
	// script [Server].
	Record bool

	// Quirks switches on behaviours of real servers that a client must
	// survive; the zero value is a well-behaved server.
	Quirks Quirks

	// Greeting is the greeting line, without CRLF; the default is
	// "+OK pop3test ready". A greeting starting with "-" is followed by
	// closing the connection.
	Greeting string

	mu          sync.Mutex
	inited      bool
	live        []*mailboxMessage // messages not deleted by a committed session
	deleted     []*mailboxMessage // messages deleted by committed sessions, in order
	used        map[string]bool   // every unique-id ever held
	added       int               // how many messages were ever held, to number fresh unique-ids
	locked      bool              // a session holds the maildrop
	unlocked    chan struct{}     // closed and replaced when the lock is released
	lastLogin   time.Time         // of the previous successful login
	transcripts []*recorder       // of every session, when Record is set
	tlsOnce     sync.Once
	tlsConfig   *tls.Config // from TLS, made on first use
}

// Quirks are behaviours of real servers that a Mailbox can imitate, each
// switched on by its field. The zero value is a well-behaved server.
type Quirks struct {
	// LowerCaseStatus spells the status indicators "+ok" and "-err".
	LowerCaseStatus bool

	// Tabs separates the fields of STAT replies and of LIST and UIDL lines
	// with a tab instead of a space.
	Tabs bool

	// BareLF ends every line the server sends, message lines included, in
	// LF alone instead of CRLF.
	BareLF bool

	// NoCAPA answers CAPA with "-ERR", like popa3d and solid-pop3d.
	NoCAPA bool

	// NoUIDL leaves UIDL out of CAPA and answers UIDL with "-ERR", like a
	// server without the optional command.
	NoUIDL bool

	// NoTOP leaves TOP out of CAPA and answers TOP with "-ERR".
	NoTOP bool

	// NoPipelining discards whatever the client sent after a command
	// before answering it, like a server that reads one command at a time
	// and flushes its input, and leaves PIPELINING out of CAPA even when
	// Pipelining is set: a client that pipelines anyway loses commands
	// (which of them depends on how they arrive; a batch sent in one write
	// loses all but its first).
	NoPipelining bool

	// PipeliningAfterLogin lists PIPELINING (when Pipelining is set) only
	// in the CAPA reply after login, as Gmail does.
	PipeliningAfterLogin bool

	// ChattyListings puts numbers in the text of the LIST and UIDL status
	// lines ("+OK scan listing follows: 2 messages, 320 octets, 1 to 2"),
	// which a client must not read as a listing.
	ChattyListings bool

	// TimestampGreeting ends the greeting with an APOP-style timestamp
	// such as "<12.1700000000@pop3test>", as GNU Mailutils, Cyrus and
	// solid-pop3d do; APOP itself is not offered.
	TimestampGreeting bool

	// TopExtraBlankLine sends an extra empty line after the header in
	// replies to "TOP n k" with k > 0, as GNU Mailutils does.
	TopExtraBlankLine bool

	// CRCRLF ends every message line in CR CR LF in RETR and TOP, as
	// Courier, solid-pop3d and Twisted do with messages stored with CRLF.
	// Sizes stay those of the CRLF form.
	CRCRLF bool

	// AddHeaders adds "X-UIDL: <uid>" and "Status: O" header fields at the
	// end of the header in RETR and TOP, as GNU Mailutils does. Sizes stay
	// those of the message without them.
	AddHeaders bool

	// CloseAfterBadCommands, when positive, closes the connection instead
	// of sending the negative reply that would be the session's
	// CloseAfterBadCommands-th, as solid-pop3d (5) and WildDuck (3) do.
	CloseAfterBadCommands int

	// FailedLoginDelay delays the answer to a failed PASS or AUTH, as most
	// servers do (Dovecot 2 s, Courier 7 s).
	FailedLoginDelay time.Duration
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
	return m.start(t, false)
}

// StartTLS is like [Mailbox.Start], but every session begins with a TLS
// handshake (implicit TLS, RFC 8314 section 3), as on port 995. Clients
// trust the server's certificate with [Mailbox.CertPool] or
// [Mailbox.ClientTLSConfig]; it is valid for 127.0.0.1, ::1 and localhost.
func (m *Mailbox) StartTLS(t testing.TB) (addr string) {
	t.Helper()
	return m.start(t, true)
}

func (m *Mailbox) start(t testing.TB, implicitTLS bool) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pop3test: %v", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- m.serve(l, implicitTLS) }()
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
	return m.serve(l, false)
}

// ServeTLS is like [Mailbox.Serve] with implicit TLS: every session begins
// with a TLS handshake.
func (m *Mailbox) ServeTLS(l net.Listener) error {
	return m.serve(l, true)
}

func (m *Mailbox) serve(l net.Listener, implicitTLS bool) error {
	var (
		mu    sync.Mutex
		conns = make(map[net.Conn]struct{})
		wg    sync.WaitGroup
		stop  = make(chan struct{})
	)
	defer func() {
		close(stop)
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
			m.serveConn(c, implicitTLS, stop)
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
	m.added++
	for n := m.added; uid == ""; n++ {
		if candidate := "uid-" + strconv.Itoa(n); !m.used[candidate] {
			uid = candidate
		}
	}
	m.used[uid] = true
	m.live = append(m.live, &mailboxMessage{uid: uid, raw: bytes.Clone(data)})
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
	for i, raw := range m.Messages {
		uid := "uid-" + strconv.Itoa(i+1)
		if i < len(m.UIDs) && m.UIDs[i] != "" {
			uid = m.UIDs[i]
		}
		m.used[uid] = true
		m.live = append(m.live, &mailboxMessage{uid: uid, raw: raw})
	}
	m.added = len(m.Messages)
}

// credentials returns the user name and password the Mailbox accepts.
func (m *Mailbox) credentials() (user, pass string) {
	user, pass = m.User, m.Pass
	if user == "" {
		user = "user"
	}
	if pass == "" {
		pass = "pass"
	}
	return user, pass
}

// token returns the access token XOAUTH2 accepts.
func (m *Mailbox) token() string {
	if m.Token == "" {
		return "token"
	}
	return m.Token
}

// lockGrace is how long a login that finds the maildrop locked waits for it
// to be released before it is refused: a client that closed its previous
// session without QUIT and logs in again at once may otherwise get there
// before the server has seen the close.
const lockGrace = 250 * time.Millisecond

// errInUse and errLoginDelay are the reasons login refuses a session.
var (
	errInUse      = errors.New("[IN-USE] maildrop already locked by another session")
	errLoginDelay = errors.New("[LOGIN-DELAY] wait before logging in again")
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
	now := time.Now()
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
