package pop3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// SyncPolicy says what Sync removes from the server. The zero value leaves every message there.
type SyncPolicy struct {
	// Delete removes messages from the server once they are stored.
	Delete bool
	// DeleteAfter, with Delete, removes only the messages first stored at least this long
	// ago; zero removes them in the session that stored them.
	DeleteAfter time.Duration
}

// keeps reports whether the policy leaves some stored messages on the server after the
// session that stored them.
func (p SyncPolicy) keeps() bool { return !p.Delete || p.DeleteAfter > 0 }

// SyncMessage is one message of a sync as the server listed it.
type SyncMessage struct {
	// Number is the message number, valid in this session only.
	Number int
	// UID is the message's unique-id; "" on a server without UIDL.
	UID string
	// Size is the size in octets the server gave in LIST.
	Size int64
}

// SyncResult counts what a sync did.
type SyncResult struct {
	// Fetched is the number of messages delivered, Deleted the number removed from the
	// server (QUIT answered +OK), Kept the number left on it.
	Fetched, Deleted, Kept int
	// Octets is the total size of the messages delivered.
	Octets int64
	// Identical counts copies that shared a unique-id with a copy already delivered and
	// held the same octets: they were not delivered again (MS-STANOPOP3 C0041).
	Identical int
	// Forgotten counts unique-ids dropped from the store because the server no longer lists
	// them.
	Forgotten int
	// ExpireZero is set when the server lists "EXPIRE 0" while the policy keeps mail on
	// it: the server may remove what was downloaded at the end of the session anyway
	// (RFC 2449 section 6.7).
	ExpireZero bool
}

// SyncRecord is what a SyncStore keeps of one unique-id.
type SyncRecord struct {
	// UID is the unique-id.
	UID string
	// Stored is when a message with this unique-id was first stored.
	Stored time.Time
	// Copies is how many messages the server listed with this unique-id when they were
	// last stored: a server may list several (MS-STANOPOP3 C0041). When it lists more
	// later, every copy is fetched again and those not already delivered are delivered.
	Copies int
	// Digests are the SHA-256 digests, in hexadecimal, of the distinct copies delivered;
	// empty for a unique-id recorded by SyncBaseline.
	Digests []string
	// Remove asks the next sync to remove the message from the server, whatever the
	// policy (Outlook's "remove from server when deleted"); see MarkForRemoval.
	Remove bool
}

// SyncState is what a SyncStore holds for one account.
type SyncState struct {
	// Account is the account the state belongs to; "" for a store never used.
	Account string
	// LastLogin is the time of the login of the last sync, for servers that ask for a
	// delay between logins (RFC 2449 LOGIN-DELAY).
	LastLogin time.Time
	// Records are the unique-ids stored and still on the server, in any order.
	Records []SyncRecord
}

// SyncChange is one atomic change to a SyncStore.
type SyncChange struct {
	// Account is the account the change belongs to; the store records it.
	Account string
	// Put adds these records, or replaces those with the same UID.
	Put []SyncRecord
	// Forget removes the records with these unique-ids.
	Forget []string
	// LastLogin, when not zero, replaces the state's LastLogin.
	LastLogin time.Time
}

// SyncStore keeps the state of Sync for one account: which unique-ids have been stored,
// and when. An app that keeps its state in its own database implements it with a table
// keyed by account and unique-id; OpenSyncFile returns the file store.
type SyncStore interface {
	// Load returns the state of account. A store that holds one account only returns the
	// state it holds, whichever account that is: Sync refuses a state whose Account is
	// another, before anything is fetched or deleted.
	Load(account string) (SyncState, error)
	// Commit applies ch whole or not at all, and returns nil only once it is durable: a
	// crash after Commit returns must not lose it.
	Commit(ch SyncChange) error
}

// Errors of Sync.
var (
	// ErrNoUIDL is returned by Sync, PlanSync and SyncBaseline, before anything is fetched, when the
	// server has no UIDL and the policy would leave mail on it: without unique-ids the
	// messages cannot be told apart across sessions. Fetch-and-delete (Delete with zero
	// DeleteAfter) works without UIDL.
	ErrNoUIDL = errors.New("pop3: the server has no UIDL, so mail cannot be left on it")
	// ErrForeignStore is returned by Sync, PlanSync, SyncBaseline and MarkForRemoval, before anything
	// is fetched or deleted, when the store holds the state of another account: unique-ids
	// are unique within one maildrop only.
	ErrForeignStore = errors.New("pop3: the sync store belongs to another account")
	// ErrSyncAccount is returned by Sync, PlanSync and SyncBaseline when it cannot tell which account the session is
	// logged in to: the Client was made with NewClient, or logged in with Auth, and
	// Options.Account is empty.
	ErrSyncAccount = errors.New("pop3: unknown account: set Options.Account")
)

// syncNow is the clock of Sync; tests set it.
var syncNow = time.Now

// syncCommitEvery bounds how many delivered messages Sync records in one Commit: it groups
// the records of a batch for speed, and commits them before any DELE of them is sent.
const syncCommitEvery = 256

// SyncAccount returns the name Sync gives the account of user at the server addr
// ("host:port" or "host"): "user@host", the host in lower case, with ":port" kept unless
// it is 110 or 995, so that the same maildrop reached by STLS or implicit TLS is one account.
func SyncAccount(addr, user string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = addr, ""
	}
	host = strings.ToLower(host)
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" && port != "110" && port != "995" {
		host += ":" + port
	}
	return user + "@" + host
}

// account returns the account the session is logged in to.
func (c *Client) account() (string, error) {
	if c.opts.Account != "" {
		return c.opts.Account, nil
	}
	if c.addr == "" || c.user == "" {
		return "", ErrSyncAccount
	}
	return SyncAccount(c.addr, c.user), nil
}

// SyncPlan is what a sync will do, computed from this session's listings and the store
// before anything is fetched: PlanSync returns it so that a caller can show progress, and
// Run carries it out.
type SyncPlan struct {
	// Fetch lists the messages to download, in listing order.
	Fetch []SyncMessage
	// FetchOctets is the total size of Fetch, as LIST gave it.
	FetchOctets int64
	// Delete lists the messages already stored that the policy, or MarkForRemoval, removes
	// in this session. Messages of Fetch that the policy removes once stored are not in it.
	Delete []SyncMessage
	// Keep is the number of messages already stored that stay on the server.
	Keep int
	// Forget lists the unique-ids the store holds that the server no longer lists.
	Forget []string
	// ExpireZero is set when the server lists "EXPIRE 0" while the policy keeps mail.
	ExpireZero bool
	// NoUIDL is set when the server has no UIDL: the plan fetches and deletes everything.
	NoUIDL bool

	c       *Client
	store   SyncStore
	policy  SyncPolicy
	account string
	known   map[string]*SyncRecord // the store's records by unique-id
	groups  map[string][]int       // unique-id -> indexes in Fetch, for copies sharing one
	ran     bool
	// commitEvery is syncCommitEvery, or what a test set.
	commitEvery int
}

// Sync downloads what store has not seen, hands each message to deliver (which returns nil
// only once the message is durably stored), records it in store, and then removes from the
// server what policy says. The Client must be logged in.
//
// It is PlanSync followed by Run: one UIDL and one LIST, then the messages not yet stored
// retrieved (pipelined where the server lists PIPELINING), DELE for what the policy
// removes, each once its record is committed (in the same stream as the retrievals still
// in flight, where the server pipelines), and QUIT, which ends the session. Message
// numbers come only from this session's listings; a DELE is sent only for a message whose
// unique-id this session's UIDL listed and whose record Commit has made durable. A
// unique-id is forgotten only after QUIT's positive reply or once a complete listing no
// longer shows it.
//
// If ctx ends, the connection is closed: what was delivered is recorded, nothing is
// deleted, and the error matches ctx.Err().
func (c *Client) Sync(ctx context.Context, store SyncStore, policy SyncPolicy,
	deliver func(m SyncMessage, body io.Reader) error) (SyncResult, error) {
	plan, err := c.PlanSync(ctx, store, policy)
	if err != nil {
		return SyncResult{}, err
	}
	return plan.Run(ctx, deliver)
}

// PlanSync asks the server for its listings and works out, from store and policy, what a
// sync will fetch, delete and keep, without fetching or deleting anything. The Client
// must be logged in; run the plan with its Run method, on the same Client.
func (c *Client) PlanSync(ctx context.Context, store SyncStore, policy SyncPolicy) (*SyncPlan, error) {
	if err := c.transaction(); err != nil {
		return nil, err
	}
	if store == nil {
		return nil, fmt.Errorf("%w: nil sync store", ErrInvalidArgument)
	}
	if policy.DeleteAfter < 0 {
		return nil, fmt.Errorf("%w: negative DeleteAfter %v", ErrInvalidArgument, policy.DeleteAfter)
	}
	account, err := c.account()
	if err != nil {
		return nil, err
	}
	state, err := loadState(store, account)
	if err != nil {
		return nil, err
	}
	p := &SyncPlan{c: c, store: store, policy: policy, account: account, commitEvery: syncCommitEvery,
		known: make(map[string]*SyncRecord, len(state.Records)), groups: make(map[string][]int)}
	for i := range state.Records {
		p.known[state.Records[i].UID] = &state.Records[i]
	}
	var msgs []SyncMessage
	err = withContext(ctx, c, func() error {
		var err error
		msgs, p.NoUIDL, p.ExpireZero, err = c.syncListing(policy)
		return err
	})
	if err != nil {
		return nil, err
	}
	if p.NoUIDL {
		if policy.keeps() {
			return nil, ErrNoUIDL
		}
		p.Fetch = msgs
		for _, m := range msgs {
			p.FetchOctets += m.Size
		}
		return p, nil
	}
	p.plan(msgs)
	return p, nil
}

// loadState loads the state of account and refuses another account's.
func loadState(store SyncStore, account string) (SyncState, error) {
	state, err := store.Load(account)
	if err != nil {
		return SyncState{}, fmt.Errorf("pop3: sync store: %w", unprefixed(err))
	}
	if state.Account != "" && state.Account != account {
		return SyncState{}, fmt.Errorf("%w: it holds %q, the session is %q", ErrForeignStore, state.Account, account)
	}
	return state, nil
}

// plan sorts the listed messages into fetch, delete and keep.
func (p *SyncPlan) plan(msgs []SyncMessage) {
	byUID := make(map[string][]SyncMessage, len(msgs))
	var order []string
	for _, m := range msgs {
		if _, ok := byUID[m.UID]; !ok {
			order = append(order, m.UID)
		}
		byUID[m.UID] = append(byUID[m.UID], m)
	}
	now := syncNow()
	for _, uid := range order {
		copies := byUID[uid]
		rec := p.known[uid]
		if rec == nil || len(copies) > rec.Copies {
			// New, or more copies than were stored: fetch every copy; those already
			// delivered are told apart by their digest.
			for _, m := range copies {
				p.groups[uid] = append(p.groups[uid], len(p.Fetch))
				p.Fetch = append(p.Fetch, m)
				p.FetchOctets += m.Size
			}
			continue
		}
		if rec.Remove || (p.policy.Delete && !now.Before(rec.Stored.Add(p.policy.DeleteAfter))) {
			p.Delete = append(p.Delete, copies...)
		} else {
			p.Keep += len(copies)
		}
	}
	for uid := range p.known {
		if _, ok := byUID[uid]; !ok {
			p.Forget = append(p.Forget, uid)
		}
	}
}

// syncListing returns the messages as UIDL and LIST give them (in one round trip where
// the server lists PIPELINING), and whether the server lacks UIDL or expires retrieved mail
// while the policy keeps it.
func (c *Client) syncListing(policy SyncPolicy) (msgs []SyncMessage, noUIDL, expireZero bool, err error) {
	caps, err := c.capabilities()
	if err != nil {
		return nil, false, false, err
	}
	if e, ok := caps.Expire(); ok && !e.Never && e.Days == 0 && policy.keeps() {
		expireZero = true
	}
	if len(caps) > 0 && !caps.UIDL() && policy.keeps() {
		return nil, true, expireZero, nil // not even LIST is needed
	}
	infos, withUIDL, err := c.listAll(policy.keeps())
	if err != nil {
		return nil, false, false, err
	}
	if !withUIDL && policy.keeps() {
		return nil, true, expireZero, nil
	}
	for _, m := range infos {
		if withUIDL && m.UID == "" {
			continue // not in UIDL: neither fetched nor deleted
		}
		msgs = append(msgs, SyncMessage{Number: m.Number, UID: m.UID, Size: m.Size})
	}
	return msgs, !withUIDL, expireZero, nil
}

// withContext runs fn with the connection closed if ctx ends first; the error then
// matches ctx.Err().
func withContext(ctx context.Context, c *Client, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pop3: sync: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	err := fn()
	if !stop() {
		if err == nil {
			return fmt.Errorf("pop3: sync: %w", ctx.Err())
		}
		return fmt.Errorf("pop3: sync: %w: %w", ctx.Err(), unprefixed(err))
	}
	return err
}

// syncRun is the state of one Run.
type syncRun struct {
	p       *SyncPlan
	deliver func(SyncMessage, io.Reader) error
	res     SyncResult
	pending map[string]*SyncRecord // records delivered but not committed yet
	dirty   int
	meta    *SyncChange    // the account, login and vanished unique-ids, until first committed
	stored  []int          // message numbers delivered in this session, to delete once committed
	ready   []int          // message numbers committed and to delete, DELE not queued yet
	digests map[string]int // "uid\x00digest" of copies handled in this session -> count
	// committed holds the unique-ids committed in this session: their records count the
	// copies handled so far, where a record from before counts them anew.
	committed map[string]bool
	// commitFailed is set once a Commit failed: the session then ends without QUIT.
	commitFailed bool

	// The follow-ups of the fetch batch: follow holds the message number of each DELE
	// queued, in queue order, and 0 for QUIT; answered the replies read, by queue index.
	follow   []int
	answered map[int]error
}

// Run carries out the plan: it retrieves the messages of Fetch and hands each to deliver,
// records them in the store, marks with DELE what the policy removes, and ends the
// session with QUIT. See Sync. A plan runs once.
//
// Where the server lists PIPELINING, the session takes the fewest round trips: the DELEs
// of messages stored before this session go ahead of the RETRs, the DELEs of each group of
// messages go into the same stream as the RETRs still in flight once Commit has recorded
// the group, and the last DELEs go in the same write as QUIT, whose reply Run awaits. A
// negative reply to one DELE leaves that message on the server (its unique-id stays
// recorded) and does not stop the others. If a Commit fails, Run sends no more DELE and
// closes the connection without QUIT, so that nothing is removed in this session.
func (p *SyncPlan) Run(ctx context.Context, deliver func(m SyncMessage, body io.Reader) error) (SyncResult, error) {
	if deliver == nil {
		return SyncResult{}, fmt.Errorf("%w: nil deliver function", ErrInvalidArgument)
	}
	if p.ran {
		return SyncResult{}, fmt.Errorf("%w: the sync plan has already run", ErrInvalidArgument)
	}
	p.ran = true
	r := &syncRun{p: p, deliver: deliver, pending: make(map[string]*SyncRecord), digests: make(map[string]int),
		committed: make(map[string]bool), answered: make(map[int]error)}
	r.res.ExpireZero = p.ExpireZero
	c := p.c

	// The first commit also binds the store to the account, records the login and forgets
	// what has vanished.
	r.meta = &SyncChange{Account: p.account, Forget: p.Forget, LastLogin: c.loginTime}

	listed := len(p.Delete) + p.Keep + len(p.Fetch)
	r.res.Kept = listed
	fetchErr := withContext(ctx, c, r.fetch)
	quitErr, quitSent := r.quitReply()
	if quitSent && quitErr == nil {
		c.Close() // QUIT's +OK: the server has removed what was marked deleted
		return r.res, r.forget(fetchErr)
	}
	if err := r.commit(); err != nil || r.commitFailed {
		// Whatever could be recorded is; nothing is removed without a clean QUIT.
		c.Close()
		return r.res, joinErrors(fetchErr, err)
	}
	if fetchErr != nil && (ctx.Err() != nil || c.conn.Err() != nil) {
		// Whatever was delivered is recorded; the connection is gone, nothing is deleted.
		c.Close()
		if len(r.follow) > 0 {
			fetchErr = notRemoved(fetchErr)
		}
		return r.res, fetchErr
	}
	if quitSent {
		c.Close()
		if quitErr != nil && errors.Is(fetchErr, quitErr) {
			return r.res, notRemoved(fetchErr) // the batch's error holds QUIT's already
		}
		return r.res, errors.Join(fetchErr, notRemoved(quitErr))
	}
	// The batch stopped early (deliver failed), or sent no DELE: a message the server
	// refused, or deliver failed on, stays on the server; what was stored and recorded is
	// removed, one command after another.
	dele := r.ready
	for j, n := range r.follow {
		if _, ok := r.answered[j]; !ok && n != 0 {
			dele = append(dele, n)
		}
	}
	if len(dele) > 0 {
		err := withContext(ctx, c, func() error { return c.DeleEach(dele) })
		for _, n := range dele {
			j := len(r.follow)
			r.follow = append(r.follow, n)
			if c.deleted[n] {
				r.answered[j] = nil
			} else {
				r.answered[j] = errors.New("not deleted")
			}
		}
		if err != nil && c.conn.Err() != nil {
			c.Close()
			return r.res, errors.Join(fetchErr, notRemoved(err))
		}
		fetchErr = joinErrors(fetchErr, err)
	}
	if len(c.deleted) == 0 {
		c.Quit() // nothing is marked deleted: the outcome of QUIT changes nothing
		return r.res, fetchErr
	}
	if err := withContext(ctx, c, c.Quit); err != nil {
		return r.res, errors.Join(fetchErr, notRemoved(err))
	}
	return r.res, r.forget(fetchErr)
}

// notRemoved is the error of a session that ended without QUIT's +OK after DELEs.
func notRemoved(err error) error {
	return fmt.Errorf("pop3: sync: the server may not have removed the messages marked deleted: %w", unprefixed(err))
}

// fetch is the session's one batch: the RETRs of the plan and, when the policy or a mark
// removes mail, the DELEs and QUIT as follow-ups (see Run).
func (r *syncRun) fetch() error {
	p, c := r.p, r.p.c
	nums := make([]int, len(p.Fetch))
	for i, m := range p.Fetch {
		nums[i] = m.Number
	}
	b, err := c.newBatch("RETR", nums, nil, func(int, io.Reader) error { return nil })
	if err != nil {
		return err
	}
	b.handle = func(i int, body io.Reader) error {
		if err := r.handle(p.Fetch[i], body); err != nil {
			return err
		}
		if r.dirty < p.commitEvery || i == len(p.Fetch)-1 {
			return nil // the last group is committed by then (or after the batch), its DELEs sent with QUIT
		}
		if err := r.commit(); err != nil {
			return err
		}
		return r.queueDeletions(b, false)
	}
	if len(p.Delete) > 0 || (p.policy.Delete && p.policy.DeleteAfter == 0) {
		for _, m := range p.Delete {
			b.follow = append(b.follow, deleCommand(m.Number))
			r.follow = append(r.follow, m.Number)
		}
		b.followed = func(j int, err error) {
			r.answered[j] = err
			if n := r.follow[j]; n != 0 && err == nil {
				c.deleted[n] = true
			}
		}
		b.then = func() error {
			if err := r.commit(); err != nil {
				return err
			}
			return r.queueDeletions(b, true)
		}
	} else if len(p.Fetch) == 0 {
		return nil
	}
	return c.conn.runBatch(b)
}

// deleCommand is the DELE of message n.
func deleCommand(n int) command { return command{keyword: "DELE", args: []string{strconv.Itoa(n)}} }

// queueDeletions queues the DELEs of the messages committed since the last call in the
// fetch batch b; with last, QUIT after them, if anything is marked deleted.
func (r *syncRun) queueDeletions(b *batch, last bool) error {
	if b.followed == nil {
		return nil
	}
	var cmds []command
	for _, n := range r.ready {
		cmds = append(cmds, deleCommand(n))
		r.follow = append(r.follow, n)
	}
	r.ready = r.ready[:0]
	if last && len(r.follow) > 0 {
		cmds = append(cmds, command{keyword: "QUIT"})
		r.follow = append(r.follow, 0)
	}
	if len(cmds) == 0 {
		return nil
	}
	return r.p.c.conn.queueFollowUps(b, cmds...)
}

// quitReply reports whether QUIT was sent in the fetch batch and its reply read, and the
// *Error of a negative one.
func (r *syncRun) quitReply() (err error, sent bool) {
	if n := len(r.follow); n > 0 && r.follow[n-1] == 0 {
		err, sent = r.answered[n-1]
	}
	return err, sent
}

// forget counts the deletions after QUIT's +OK and drops their unique-ids from the store,
// except those of which a copy was not deleted.
func (r *syncRun) forget(fetchErr error) error {
	p := r.p
	uidOf := make(map[int]string, len(p.Fetch)+len(p.Delete))
	for _, list := range [][]SyncMessage{p.Fetch, p.Delete} {
		for _, m := range list {
			uidOf[m.Number] = m.UID
		}
	}
	forget := make(map[string]bool)
	for j, n := range r.follow {
		if err, ok := r.answered[j]; n != 0 && ok {
			if err == nil {
				r.res.Deleted++
				forget[uidOf[n]] = true
			}
		}
	}
	for j, n := range r.follow {
		if err := r.answered[j]; n != 0 && err != nil {
			delete(forget, uidOf[n])
		}
	}
	r.res.Kept -= r.res.Deleted
	if p.NoUIDL || len(forget) == 0 {
		return fetchErr
	}
	ch := SyncChange{Account: p.account}
	for uid := range forget {
		ch.Forget = append(ch.Forget, uid)
	}
	if err := p.store.Commit(ch); err != nil {
		return errors.Join(fetchErr, fmt.Errorf("pop3: sync store: %w", unprefixed(err)))
	}
	return fetchErr
}

// maxBufferedCopy bounds a copy that shares its unique-id with others: it is read whole
// before it is delivered, to be compared with the copies already delivered.
const maxBufferedCopy = 256 << 20

// handle delivers one retrieved message and records it.
func (r *syncRun) handle(m SyncMessage, body io.Reader) error {
	p := r.p
	shared := len(p.groups[m.UID]) > 1 || p.known[m.UID] != nil
	h := sha256.New()
	var digest string
	var octets int64
	if shared && !p.NoUIDL {
		// Read the copy first: an identical copy already delivered is not delivered again.
		var buf bytes.Buffer
		n, err := io.Copy(&buf, io.LimitReader(body, maxBufferedCopy+1))
		if err != nil {
			return err
		}
		if n > maxBufferedCopy {
			return fmt.Errorf("pop3: sync: message %d shares unique-id %q and is over %d octets", m.Number, m.UID, maxBufferedCopy)
		}
		h.Write(buf.Bytes())
		digest = hex.EncodeToString(h.Sum(nil))
		if r.delivered(m.UID, digest) {
			r.res.Identical++
			r.record(m, digest, false)
			return nil
		}
		if err := r.deliver(m, bytes.NewReader(buf.Bytes())); err != nil {
			return err
		}
		octets = n
	} else {
		hr := &hashingReader{r: body, h: h}
		if err := r.deliver(m, hr); err != nil {
			return err
		}
		// deliver must have stored the whole message: anything it left unread means not.
		if n, err := io.Copy(io.Discard, hr); err != nil || n > 0 {
			if err == nil {
				err = fmt.Errorf("pop3: sync: deliver returned nil for message %d but left %d octets unread", m.Number, n)
			}
			return err
		}
		digest = hex.EncodeToString(h.Sum(nil))
		octets = hr.n
	}
	r.res.Fetched++
	r.res.Octets += octets
	r.record(m, digest, true)
	return nil
}

// delivered reports whether a copy of uid with digest is already stored.
func (r *syncRun) delivered(uid, digest string) bool {
	for _, rec := range []*SyncRecord{r.pending[uid], r.p.known[uid]} {
		if rec != nil {
			for _, d := range rec.Digests {
				if d == digest {
					return true
				}
			}
		}
	}
	return false
}

// record notes that message m is stored (delivered now, or found identical to a stored
// copy), to be committed with the next commit.
func (r *syncRun) record(m SyncMessage, digest string, delivered bool) {
	rec := r.pending[m.UID]
	if rec == nil {
		if old := r.p.known[m.UID]; old != nil {
			cp := *old
			cp.Digests = append([]string(nil), old.Digests...)
			if !r.committed[m.UID] {
				cp.Copies = 0 // a record from an earlier session: this listing counts anew
			}
			rec = &cp
		} else {
			rec = &SyncRecord{UID: m.UID, Stored: syncNow()}
		}
		r.pending[m.UID] = rec
	}
	rec.Copies++
	if delivered && !r.delivered(m.UID, digest) {
		rec.Digests = append(rec.Digests, digest)
	}
	r.dirty++
	if r.p.policy.Delete && r.p.policy.DeleteAfter == 0 {
		r.stored = append(r.stored, m.Number)
	}
}

// commit makes the pending records durable.
func (r *syncRun) commit() error {
	if r.dirty == 0 && r.meta == nil {
		return nil
	}
	ch := SyncChange{Account: r.p.account}
	if r.meta != nil {
		ch = *r.meta
	}
	if !r.p.NoUIDL {
		for _, rec := range r.pending {
			ch.Put = append(ch.Put, *rec)
		}
	}
	if err := r.p.store.Commit(ch); err != nil {
		r.stored = nil // nothing unrecorded may be deleted
		r.commitFailed = true
		return fmt.Errorf("pop3: sync store: %w", unprefixed(err))
	}
	if !r.commitFailed {
		r.ready = append(r.ready, r.stored...)
	}
	r.stored = r.stored[:0]
	if r.meta != nil {
		r.res.Forgotten = len(r.meta.Forget)
		r.meta = nil
	}
	for uid, rec := range r.pending {
		r.p.known[uid] = rec
		r.committed[uid] = true
	}
	clear(r.pending)
	r.dirty = 0
	return nil
}

// hashingReader hashes and counts what is read through it.
type hashingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

// SyncBaseline records every message the server lists as already stored, without
// downloading it, and ends the session with QUIT: after a migration, or to start fresh. It
// returns how many unique-ids it recorded that the store did not hold.
func (c *Client) SyncBaseline(ctx context.Context, store SyncStore) (int, error) {
	plan, err := c.PlanSync(ctx, store, SyncPolicy{})
	if err != nil {
		return 0, err
	}
	ch := SyncChange{Account: plan.account, Forget: plan.Forget, LastLogin: c.loginTime}
	now := syncNow()
	for uid, idx := range plan.groups {
		rec := SyncRecord{UID: uid, Stored: now, Copies: len(idx)}
		if old := plan.known[uid]; old != nil {
			rec.Stored, rec.Digests, rec.Remove = old.Stored, old.Digests, old.Remove
		}
		ch.Put = append(ch.Put, rec)
	}
	if err := store.Commit(ch); err != nil {
		return 0, fmt.Errorf("pop3: sync store: %w", unprefixed(err))
	}
	plan.ran = true
	c.Quit()
	return len(ch.Put), nil
}

// MarkForRemoval marks the stored unique-ids uids of account (see SyncAccount) for
// removal: the next Sync deletes them from the server if it still lists them, whatever its
// policy. A unique-id the store does not hold is ignored.
func MarkForRemoval(store SyncStore, account string, uids ...string) error {
	state, err := loadState(store, account)
	if err != nil {
		return err
	}
	want := make(map[string]bool, len(uids))
	for _, u := range uids {
		want[u] = true
	}
	ch := SyncChange{Account: account}
	for _, rec := range state.Records {
		if want[rec.UID] && !rec.Remove {
			rec.Remove = true
			ch.Put = append(ch.Put, rec)
		}
	}
	if len(ch.Put) == 0 {
		return nil
	}
	if err := store.Commit(ch); err != nil {
		return fmt.Errorf("pop3: sync store: %w", unprefixed(err))
	}
	return nil
}
