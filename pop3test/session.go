package pop3test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// maxStrictLine is the longest command line, CRLF included, that a strict
// Mailbox accepts (RFC 2449 section 4); maxStrictArg is the longest argument
// (RFC 1939 section 3).
const (
	maxStrictLine = 255
	maxStrictArg  = 40
)

// handshakeTimeout bounds the TLS handshake of a Mailbox session.
const handshakeTimeout = 10 * time.Second

// defaultIdleTimeout is the Mailbox's IdleTimeout when the field is not set:
// RFC 1939 section 3's shortest autologout timer.
const defaultIdleTimeout = 10 * time.Minute

// writeChunk is the most a session writes under one write deadline: a reply
// is written in pieces of at most this size, each of which must be taken by
// the client within the idle timeout.
const writeChunk = 256 << 10

// idleLine is the last line a session sends when its client has been idle
// for the idle timeout, Dovecot's.
const idleLine = "Disconnected for inactivity."

// sessionCount numbers the sessions of all Mailboxes, for the timestamps of
// Quirks.TimestampGreeting.
var sessionCount atomic.Int64

// session is one connection to a Mailbox.
type session struct {
	m    *Mailbox
	conn net.Conn // the connection, a *tls.Conn once TLS is on
	r    *bufio.Reader
	w    *bufio.Writer
	rec  *recorder // nil unless Mailbox.Record is set
	stop <-chan struct{}

	timeout time.Duration // the idle timeout, also the bound of each written piece
	werr    error         // the first failed write; nothing more is sent or read

	tls     bool // the session runs over TLS
	utf8    bool // the client sent UTF8
	user    string
	hasUser bool
	authed  bool
	bad     int  // commands answered with -ERR, for Quirks.CloseAfterBadCommands
	cut     bool // the session must end without a further reply
	msgs    []*mailboxMessage
	deleted []bool
	order   []int // indexes of the messages marked deleted, in DELE order
}

func (m *Mailbox) serveConn(c net.Conn, implicitTLS bool, stop <-chan struct{}) {
	s := &session{m: m, conn: c, stop: stop, rec: m.newRecorder(), timeout: m.idleTimeout()}
	if implicitTLS {
		s.rec.startTLS()
		if !s.handshake() {
			return
		}
	} else {
		s.setConn(c)
	}
	defer s.end()
	greeting := m.Greeting
	if greeting == "" {
		greeting = "+OK pop3test ready"
	}
	if m.Quirks.TimestampGreeting {
		greeting += " <" + strconv.FormatInt(sessionCount.Add(1), 10) + "." +
			strconv.FormatInt(time.Now().Unix(), 10) + "@pop3test>"
	}
	if m.Quirks.LowerCaseStatus {
		greeting = lowerStatus(greeting)
	}
	s.line(greeting)
	if strings.HasPrefix(greeting, "-") {
		s.flush()
		return
	}
	for {
		line, ok := s.nextLine()
		if !ok {
			return
		}
		if m.Quirks.NoPipelining {
			s.r.Discard(s.r.Buffered())
		}
		if s.command(line) || s.cut {
			s.flush()
			return
		}
	}
}

// idleTimeout returns the IdleTimeout sessions keep, the default if unset.
func (m *Mailbox) idleTimeout() time.Duration {
	if m.IdleTimeout > 0 {
		return m.IdleTimeout
	}
	return defaultIdleTimeout
}

// setConn makes c the connection the session reads and writes.
func (s *session) setConn(c net.Conn) {
	s.conn = c
	s.r = bufio.NewReaderSize(c, MaxLineLength)
	s.w = bufio.NewWriterSize(&deadlineWriter{conn: c, timeout: s.timeout}, 64<<10)
}

// deadlineWriter writes to a connection in pieces of at most writeChunk
// octets, each under a write deadline of its own, timeout after it starts:
// a client that stops reading fails the write within timeout, however large
// the reply.
type deadlineWriter struct {
	conn    net.Conn
	timeout time.Duration
}

func (w *deadlineWriter) Write(p []byte) (n int, err error) {
	for len(p) > 0 {
		piece := p[:min(len(p), writeChunk)]
		w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
		m, err := w.conn.Write(piece)
		n += m
		if err != nil {
			return n, err
		}
		p = p[m:]
	}
	return n, nil
}

// handshake runs the server side of a TLS handshake on the connection and
// reports whether it succeeded; the session goes on over TLS.
func (s *session) handshake() bool {
	tc := tls.Server(s.conn, s.m.serverTLSConfig())
	tc.SetDeadline(time.Now().Add(handshakeTimeout))
	if err := tc.Handshake(); err != nil {
		s.rec.note("TLS handshake failed: " + err.Error())
		return false
	}
	tc.SetDeadline(time.Time{})
	s.tls = true
	s.setConn(tc)
	return true
}

// nextLine reads the client's next line. When no whole line is buffered, it
// first sends the replies buffered (so a pipelined batch of commands is
// answered with as few writes as possible) and then waits for the line for
// at most the idle timeout.
func (s *session) nextLine() (string, bool) {
	if buf, _ := s.r.Peek(s.r.Buffered()); bytes.IndexByte(buf, '\n') < 0 {
		if !s.flush() {
			return "", false
		}
		// Both deadlines: a read of a TLS connection may have to write.
		s.conn.SetDeadline(time.Now().Add(s.timeout))
	}
	return s.readLine()
}

// readLine reads one command line, with its terminator. A line longer than
// MaxLineLength is answered and ends the session, and so does a wait longer
// than the deadline set by nextLine: the session says so, as a server's
// autologout does (RFC 1939 section 3).
func (s *session) readLine() (string, bool) {
	b, err := s.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		s.rec.note("the client sent a line longer than " + strconv.Itoa(MaxLineLength) + " octets")
		s.err("line too long")
		s.flush()
		return "", false
	}
	if isTimeout(err) {
		s.rec.note("autologout: the client sent no command for " + s.timeout.String())
		s.status("-ERR", idleLine)
		s.flush()
		return "", false
	}
	if err != nil {
		return "", false
	}
	line := string(b)
	s.rec.client(line)
	return line, true
}

// end releases the maildrop lock the session holds, if any.
func (s *session) end() {
	if s.authed {
		s.authed = false
		s.m.unlock()
	}
}

// write sends p as it is, buffered until the next flush or until the buffer
// is full. Once a write has failed, nothing more is sent.
func (s *session) write(p []byte) {
	if s.werr != nil {
		return
	}
	if _, err := s.w.Write(p); err != nil {
		s.writeFailed(err)
		return
	}
	s.rec.server(p)
}

// flush sends what is buffered and reports whether every write so far
// succeeded.
func (s *session) flush() bool {
	if s.werr == nil {
		if err := s.w.Flush(); err != nil {
			s.writeFailed(err)
		}
	}
	return s.werr == nil
}

// writeFailed ends the session after a failed write: a client that took no
// piece of a reply within the idle timeout, or a connection gone. The
// commands still buffered are not executed, as on a server whose write
// blocked until it gave up.
func (s *session) writeFailed(err error) {
	s.werr = err
	s.cut = true
	if isTimeout(err) {
		s.rec.note("writing a reply timed out: the client took no piece of it within " + s.timeout.String())
	}
}

// line sends l and a line terminator: CRLF, or LF with Quirks.BareLF.
func (s *session) line(l string) {
	if s.m.Quirks.BareLF {
		s.write([]byte(l + "\n"))
	} else {
		s.write([]byte(l + "\r\n"))
	}
}

// ok sends a positive status line with text.
func (s *session) ok(text string) {
	s.status("+OK", text)
}

// err sends a negative status line with text. With
// Quirks.CloseAfterBadCommands, the negative reply that reaches the limit is
// not sent: the session ends instead.
func (s *session) err(text string) {
	if n := s.m.Quirks.CloseAfterBadCommands; n > 0 {
		s.bad++
		if s.bad >= n {
			s.rec.note("closing after " + strconv.Itoa(n) + " bad commands")
			s.cut = true
			return
		}
	}
	s.status("-ERR", text)
}

func (s *session) status(indicator, text string) {
	if s.m.Quirks.LowerCaseStatus {
		indicator = strings.ToLower(indicator)
	}
	if text == "" {
		s.line(indicator)
	} else {
		s.line(indicator + " " + text)
	}
}

// lowerStatus lower-cases the status indicator at the start of l.
func lowerStatus(l string) string {
	for _, ind := range []string{"+OK", "-ERR"} {
		if strings.HasPrefix(l, ind) {
			return strings.ToLower(ind) + l[len(ind):]
		}
	}
	return l
}

// fields joins the fields of a STAT reply or a LIST or UIDL line with a
// space, or a tab with Quirks.Tabs.
func (s *session) fields(f ...string) string {
	if s.m.Quirks.Tabs {
		return strings.Join(f, "\t")
	}
	return strings.Join(f, " ")
}

// endBlock sends the terminator of a multi-line reply.
func (s *session) endBlock() {
	s.line(".")
}

// body sends the lines of a message, dot-stuffed and with CRLF endings, then
// the terminator, changing the line endings as the quirks say.
func (s *session) body(stuffed []byte) {
	switch {
	case s.m.Quirks.BareLF:
		s.write(bytes.ReplaceAll(stuffed, crlf, []byte("\n")))
	case s.m.Quirks.CRCRLF:
		s.write(bytes.ReplaceAll(stuffed, crlf, []byte("\r\r\n")))
	default:
		s.write(stuffed)
	}
	s.endBlock()
}

// capabilities returns the CAPA list for the session's state.
func (s *session) capabilities() []string {
	m := s.m
	var caps []string
	if !m.Quirks.NoTOP {
		caps = append(caps, "TOP")
	}
	if !m.Quirks.NoUIDL {
		caps = append(caps, "UIDL")
	}
	if !s.authed {
		caps = append(caps, "USER")
	}
	caps = append(caps, "RESP-CODES", "AUTH-RESP-CODE")
	if m.Pipelining && !m.Quirks.NoPipelining && (s.authed || !m.Quirks.PipeliningAfterLogin) {
		caps = append(caps, "PIPELINING")
	}
	if m.LoginDelay > 0 {
		secs := (m.LoginDelay + time.Second - 1) / time.Second
		caps = append(caps, "LOGIN-DELAY "+strconv.FormatInt(int64(secs), 10))
	}
	if m.Expire != "" {
		caps = append(caps, "EXPIRE "+m.Expire)
	}
	if !s.authed {
		if m.STLS && !s.tls {
			caps = append(caps, "STLS")
		}
		if len(m.SASL) > 0 {
			caps = append(caps, "SASL "+strings.Join(m.SASL, " "))
		}
	}
	if m.UTF8 {
		caps = append(caps, "UTF8 USER")
	}
	return caps
}

// command executes one command line and reports whether the session ends.
func (s *session) command(line string) (quit bool) {
	raw := line
	line = strings.TrimSuffix(line, "\n")
	bareLF := !strings.HasSuffix(line, "\r")
	line = strings.TrimSuffix(line, "\r")
	name, arg, _ := strings.Cut(line, " ")
	name = strings.ToUpper(name)
	args := strings.Fields(arg)

	if s.m.Strict {
		if msg := s.strictCheck(raw, name, arg, args, bareLF); msg != "" {
			s.err(msg)
			return false
		}
	}

	switch name {
	case "CAPA":
		if s.m.Quirks.NoCAPA {
			break
		}
		s.ok("capability list follows")
		for _, c := range s.capabilities() {
			s.line(c)
		}
		s.endBlock()
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
		s.ok("pop3test signing off")
		return true
	case "USER", "PASS", "AUTH", "STLS", "UTF8":
		if name == "STLS" && !s.m.STLS || name == "UTF8" && !s.m.UTF8 || name == "AUTH" && len(s.m.SASL) == 0 {
			break
		}
		if s.authed {
			s.err("already authenticated")
			return false
		}
		switch name {
		case "USER":
			s.userCmd(arg, args)
		case "PASS":
			s.passCmd(arg)
		case "AUTH":
			s.auth(args)
		case "STLS":
			s.stls()
		case "UTF8":
			s.utf8 = true
			s.ok("UTF8 enabled")
		}
		return false
	case "TOP", "UIDL":
		if name == "TOP" && s.m.Quirks.NoTOP || name == "UIDL" && s.m.Quirks.NoUIDL {
			break
		}
		fallthrough
	case "STAT", "LIST", "RETR", "DELE", "NOOP", "RSET":
		if !s.authed {
			s.err("not authenticated")
			return false
		}
		s.transaction(name, args)
		return false
	}
	s.err("unknown command")
	return false
}

// strictCheck returns why a strict Mailbox refuses a command line, or "".
func (s *session) strictCheck(raw, name, arg string, args []string, bareLF bool) string {
	switch {
	case bareLF:
		return "command line must end in CRLF"
	case len(raw) > maxStrictLine:
		return "command line longer than " + strconv.Itoa(maxStrictLine) + " octets"
	}
	credentials := name == "USER" || name == "PASS"
	for i := 0; i < len(arg); i++ {
		if c := arg[i]; c < ' ' || c == 0x7f || c >= 0x80 && !credentials {
			return "argument holds the octet 0x" + strconv.FormatInt(int64(c), 16)
		}
	}
	if credentials {
		if !isASCII(arg) && !s.m.UTF8 {
			return "[AUTH] non-ASCII credentials need UTF8 USER"
		}
		if !utf8.ValidString(arg) {
			return "[AUTH] credentials are not UTF-8"
		}
		if name == "PASS" {
			return "" // a password may hold spaces
		}
	}
	if arg != strings.Join(args, " ") {
		return "arguments must be separated by single spaces"
	}
	for _, a := range args {
		if len(a) > maxStrictArg && name != "AUTH" {
			return "argument longer than " + strconv.Itoa(maxStrictArg) + " octets"
		}
	}
	maxArgs := map[string]int{"CAPA": 0, "QUIT": 0, "STAT": 0, "NOOP": 0, "RSET": 0, "STLS": 0, "UTF8": 0,
		"USER": 1, "LIST": 1, "UIDL": 1, "RETR": 1, "DELE": 1, "TOP": 2, "AUTH": 2}
	if n, ok := maxArgs[name]; ok && len(args) > n {
		return "too many arguments"
	}
	switch name {
	case "LIST", "UIDL", "RETR", "DELE", "TOP":
		for i, a := range args {
			if !isDecimal(a) || a[0] == '0' && (i == 0 || a != "0") {
				return "invalid number " + a
			}
		}
	case "STLS":
		if s.utf8 {
			return "STLS after UTF8"
		}
	}
	return ""
}

// isDecimal reports whether a is a non-empty run of digits.
func isDecimal(a string) bool {
	for i := 0; i < len(a); i++ {
		if a[i] < '0' || a[i] > '9' {
			return false
		}
	}
	return a != ""
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// userCmd answers USER.
func (s *session) userCmd(arg string, args []string) {
	if len(args) == 0 {
		s.err("missing user name")
		return
	}
	s.user, s.hasUser = arg, true
	s.ok("send PASS")
}

// passCmd answers PASS.
func (s *session) passCmd(pass string) {
	if !s.hasUser {
		s.err("send USER first")
		return
	}
	s.hasUser = false
	user, want := s.m.credentials()
	if s.user != user || pass != want {
		s.loginFailed("[AUTH] invalid user name or password")
		return
	}
	s.login()
}

// loginFailed answers a failed login, after Quirks.FailedLoginDelay.
func (s *session) loginFailed(text string) {
	if d := s.m.Quirks.FailedLoginDelay; d > 0 {
		if !s.flush() {
			return
		}
		timer := time.NewTimer(d)
		select {
		case <-timer.C:
		case <-s.stop:
			timer.Stop()
		}
	}
	s.err(text)
}

// login enters the TRANSACTION state, if the maildrop lock and LoginDelay
// allow it.
func (s *session) login() {
	msgs, err := s.m.login()
	if err != nil {
		s.err(err.Error())
		return
	}
	s.authed = true
	s.msgs = msgs
	s.deleted = make([]bool, len(s.msgs))
	n, size := s.stat()
	s.ok("maildrop has " + strconv.Itoa(n) + " messages (" + strconv.Itoa(size) + " octets)")
}

// stls answers STLS and runs the handshake (RFC 2595 section 4). Octets the
// client sent after STLS, before the handshake, are discarded.
func (s *session) stls() {
	if s.tls {
		s.err("TLS is already active")
		return
	}
	s.ok("begin TLS negotiation")
	if !s.flush() {
		return
	}
	if n := s.r.Buffered(); n > 0 {
		s.r.Discard(n)
		s.rec.note("discarded " + strconv.Itoa(n) + " octets sent after STLS")
	}
	s.rec.startTLS()
	s.user, s.hasUser = "", false
	if !s.handshake() {
		s.cut = true
	}
}

// transaction answers a command of the TRANSACTION state.
func (s *session) transaction(name string, args []string) {
	switch name {
	case "STAT":
		n, size := s.stat()
		s.line(s.statusPrefix("+OK") + s.fields("", strconv.Itoa(n), strconv.Itoa(size)))
	case "LIST", "UIDL":
		s.listing(name, args)
	case "RETR":
		msg, _, ok := s.message(args)
		if !ok || !s.utf8Allowed(msg) {
			return
		}
		s.ok(strconv.Itoa(msg.size()) + " octets")
		if s.m.Quirks.AddHeaders {
			s.body(dotStuff(nil, addHeaders(msg)))
		} else {
			s.body(msg.stuffed)
		}
	case "TOP":
		s.top(args)
	case "DELE":
		_, i, ok := s.message(args)
		if !ok {
			return
		}
		s.deleted[i] = true
		s.order = append(s.order, i)
		s.ok("message " + strconv.Itoa(i+1) + " deleted")
	case "NOOP":
		s.ok("")
	case "RSET":
		clear(s.deleted)
		s.order = s.order[:0]
		n, size := s.stat()
		s.ok("maildrop has " + strconv.Itoa(n) + " messages (" + strconv.Itoa(size) + " octets)")
	}
}

// statusPrefix returns a status indicator as the quirks spell it.
func (s *session) statusPrefix(indicator string) string {
	if s.m.Quirks.LowerCaseStatus {
		return strings.ToLower(indicator)
	}
	return indicator
}

// utf8Allowed reports whether msg may be sent. A strict Mailbox with UTF8
// refuses, with [UTF8], to send a message holding non-ASCII octets before
// the client has sent UTF8 (RFC 6856 section 2.1).
func (s *session) utf8Allowed(msg *mailboxMessage) bool {
	if !s.m.Strict || !s.m.UTF8 || s.utf8 || isASCII(string(msg.raw)) {
		return true
	}
	s.err("[UTF8] the message holds UTF-8; send UTF8 first")
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
		s.err("missing message number")
		return nil, 0, false
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 || args[0][0] == '+' {
		s.err("invalid message number")
		return nil, 0, false
	}
	if n > len(s.msgs) {
		s.err("no such message")
		return nil, 0, false
	}
	if s.deleted[n-1] {
		s.err("message " + args[0] + " already deleted")
		return nil, 0, false
	}
	return s.msgs[n-1], n - 1, true
}

// listing answers LIST and UIDL.
func (s *session) listing(name string, args []string) {
	entry := func(i int, msg *mailboxMessage) string {
		if name == "LIST" {
			return s.fields(strconv.Itoa(i+1), strconv.Itoa(msg.size()))
		}
		return s.fields(strconv.Itoa(i+1), msg.uid)
	}
	if len(args) > 0 {
		msg, i, ok := s.message(args)
		if ok {
			s.line(s.statusPrefix("+OK") + s.fields("", entry(i, msg)))
		}
		return
	}
	n, size := s.stat()
	switch {
	case s.m.Quirks.ChattyListings && name == "LIST":
		s.ok("scan listing follows: " + strconv.Itoa(n) + " messages, " + strconv.Itoa(size) + " octets, 1 to " + strconv.Itoa(len(s.msgs)))
	case s.m.Quirks.ChattyListings:
		s.ok(strconv.Itoa(n) + " unique-ids follow, 1 per message")
	case name == "LIST":
		s.ok(strconv.Itoa(n) + " messages (" + strconv.Itoa(size) + " octets)")
	default:
		s.ok("unique-id listing follows")
	}
	for i, msg := range s.msgs {
		if !s.deleted[i] {
			s.line(entry(i, msg))
		}
	}
	s.endBlock()
}

// headerEnd returns the index just past the blank line that ends the header
// of data, or len(data) if there is none; blank tells which.
func headerEnd(data []byte) (end int, blank bool) {
	if bytes.HasPrefix(data, crlf) {
		return 2, true
	}
	if i := bytes.Index(data, []byte("\r\n\r\n")); i >= 0 {
		return i + 4, true
	}
	return len(data), false
}

// addHeaders returns the message with the X-UIDL: and Status: header
// fields GNU Mailutils adds, at the end of its header.
func addHeaders(msg *mailboxMessage) []byte {
	msg.prepare()
	data := msg.data
	at, blank := headerEnd(data)
	if blank {
		at -= 2 // before the blank line
	}
	extra := "X-UIDL: " + msg.uid + "\r\nStatus: O\r\n"
	out := make([]byte, 0, len(data)+len(extra))
	out = append(out, data[:at]...)
	out = append(out, extra...)
	return append(out, data[at:]...)
}

// top answers TOP: the header, the blank line and the first lines of the
// body.
func (s *session) top(args []string) {
	if len(args) < 2 {
		s.err("usage: TOP msg lines")
		return
	}
	msg, _, ok := s.message(args)
	if !ok {
		return
	}
	k, err := strconv.Atoi(args[1])
	if err != nil || k < 0 || args[1][0] == '+' {
		s.err("invalid number of lines")
		return
	}
	if !s.utf8Allowed(msg) {
		return
	}
	msg.prepare()
	data := msg.data
	if s.m.Quirks.AddHeaders {
		data = addHeaders(msg)
	}
	hdr, _ := headerEnd(data)
	end := hdr
	for n := k; n > 0 && end < len(data); n-- {
		i := bytes.IndexByte(data[end:], '\n')
		if i < 0 {
			end = len(data)
			break
		}
		end += i + 1
	}
	s.ok("top of message follows")
	switch {
	case s.m.Quirks.TopExtraBlankLine && k > 0:
		part := append(append(append([]byte(nil), data[:hdr]...), crlf...), data[hdr:end]...)
		s.body(dotStuff(nil, part))
	case end == len(data) && !s.m.Quirks.AddHeaders:
		s.body(msg.stuffed)
	default:
		s.body(dotStuff(nil, data[:end]))
	}
}

// auth answers AUTH (RFC 5034): PLAIN, LOGIN and XOAUTH2, with an initial
// response or without.
func (s *session) auth(args []string) {
	if len(args) == 0 {
		s.err("missing SASL mechanism")
		return
	}
	mech := strings.ToUpper(args[0])
	offered := false
	for _, m := range s.m.SASL {
		offered = offered || strings.EqualFold(m, mech)
	}
	if !offered {
		s.err("unsupported SASL mechanism")
		return
	}
	var initial *string
	if len(args) > 1 {
		initial = &args[1]
	}
	// next returns the client's next response, decoded: the initial response
	// first if there is one, else the answer to a challenge.
	next := func(challenge string) ([]byte, bool) {
		var resp string
		if initial != nil {
			resp, initial = *initial, nil
		} else {
			if challenge == "" {
				s.line("+ ")
			} else {
				s.line("+ " + base64.StdEncoding.EncodeToString([]byte(challenge)))
			}
			if !s.flush() {
				return nil, false
			}
			line, ok := s.nextLine()
			if !ok {
				s.cut = true
				return nil, false
			}
			resp = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		}
		if resp == "*" {
			s.err("AUTH cancelled")
			return nil, false
		}
		if resp == "=" || resp == "" {
			return []byte{}, true
		}
		data, err := base64.StdEncoding.Strict().DecodeString(resp)
		if err != nil {
			s.err("invalid base64 in SASL response")
			return nil, false
		}
		return data, true
	}
	user, pass := s.m.credentials()
	switch mech {
	case "PLAIN":
		resp, ok := next("")
		if !ok {
			return
		}
		parts := strings.Split(string(resp), "\x00")
		if len(parts) != 3 || (parts[0] != "" && parts[0] != parts[1]) || parts[1] != user || parts[2] != pass {
			s.loginFailed("[AUTH] authentication failed")
			return
		}
	case "LOGIN":
		name, ok := next("Username:")
		if !ok {
			return
		}
		password, ok := next("Password:")
		if !ok {
			return
		}
		if string(name) != user || string(password) != pass {
			s.loginFailed("[AUTH] authentication failed")
			return
		}
	case "XOAUTH2":
		resp, ok := next("")
		if !ok {
			return
		}
		if string(resp) != "user="+user+"\x01auth=Bearer "+s.m.token()+"\x01\x01" {
			// The failure comes as a challenge holding a JSON error, which the
			// client answers with an empty response.
			if _, ok := next(`{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}`); !ok {
				return
			}
			s.loginFailed("[AUTH] invalid credentials")
			return
		}
	default:
		s.err("unsupported SASL mechanism")
		return
	}
	s.login()
}
