package pop3

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
)

// UIDEntry is one line of a UIDL reply: a message and its unique-id, which identifies
// the message across sessions while message numbers last for one session only.
type UIDEntry struct {
	Number int    // the message number, valid in this session only
	UID    string // the unique-id, opaque
}

// UIDL returns the unique-id of every message not marked deleted. It sends a bare UIDL,
// never "UIDL n". Unique-ids are opaque: any run of
// octets other than spaces, tabs and control octets is accepted as it is, whatever its
// length, and two messages may share one. Whatever follows the unique-id on its line is
// ignored.
//
// A listing that names a message twice fails with ErrMalformed: one of its unique-ids
// would be another message's.
func (c *Client) UIDL() ([]UIDEntry, error) {
	if err := c.transaction(); err != nil {
		return nil, err
	}
	var uidl uidListing
	if err := c.conn.listing("UIDL", 0, uidl.add); err != nil {
		return nil, err
	}
	if n := uidl.repeated(); n > 0 {
		return nil, fmt.Errorf("pop3: UIDL lists message %d twice: %w", n, ErrMalformed)
	}
	return uidl.entries(), nil
}

// uidListing collects the entries of a UIDL listing line by line (add) and makes them
// into a []UIDEntry at the end (entries). The unique-ids are copied into a few large
// chunks, one after the other, each unique-id becoming a substring of its chunk: a listing
// costs a few allocations in all rather than one per entry, and a unique-id kept keeps its
// chunk alive, at most maxUIDChunk octets. Until entries, a line writes no pointer to the
// heap (the slices are written at an index and grown apart), so it costs the garbage
// collector nothing, not even a write barrier while it marks. The check for a message
// listed twice is made as the lines come for a listing in increasing order, as servers
// send it; only another order costs a sort (repeated).
type uidListing struct {
	lines []uidLine // lines[:n] are the listing's, the rest room to grow
	n     int
	// chunks are the chunks filled; chunk[:used] is the one being filled, never grown.
	chunks []string
	chunk  []byte
	used   int
	last   uint32 // the number of the last line
	// unordered is set once a line's number is not above the last one's.
	unordered bool
}

// uidLine is an entry of a uidListing: its message number (at most maxMessageNumber) and
// the length of its unique-id (at most a line's bound, maxMaxLineLength), which starts
// where the previous line's ends, or at the start of the next chunk when it did not fit
// in the previous one.
type uidLine struct{ number, length uint32 }

// The sizes of a uidListing's chunks: the first is minUIDChunk octets, each next one
// twice the last, up to maxUIDChunk (or a longer unique-id's length).
const (
	minUIDChunk = 4 << 10
	maxUIDChunk = 1 << 20
)

// add parses one line of the listing and records its entry.
func (u *uidListing) add(line []byte) error {
	n, uid, err := parseUIDLine(line)
	if err != nil {
		return err
	}
	if len(uid) > len(u.chunk)-u.used {
		u.nextChunk(len(uid))
	}
	u.used += copy(u.chunk[u.used:], uid)
	if u.n == len(u.lines) {
		g := grow(u.lines, 1)
		u.lines = g[:cap(g)]
	}
	u.lines[u.n] = uidLine{number: uint32(n), length: uint32(len(uid))}
	u.n++
	if uint32(n) <= u.last {
		u.unordered = true
	}
	u.last = uint32(n)
	return nil
}

// nextChunk puts the chunk being filled among the chunks filled and starts one with room
// for at least n octets.
func (u *uidListing) nextChunk(n int) {
	size := minUIDChunk
	if u.chunk != nil {
		u.chunks = append(u.chunks, u.chunkString())
		size = min(2*len(u.chunk), maxUIDChunk)
	}
	u.chunk, u.used = make([]byte, max(size, n)), 0
}

// chunkString returns the octets of the chunk being filled as a string (a copy: one per
// chunk, a few per listing).
func (u *uidListing) chunkString() string {
	return string(u.chunk[:u.used])
}

// entries returns the entries recorded, their unique-ids substrings of the chunks.
func (u *uidListing) entries() []UIDEntry {
	if u.n == 0 {
		return nil
	}
	chunks := append(u.chunks, u.chunkString())
	list := make([]UIDEntry, u.n)
	lines := u.lines[:len(list)]
	all, start := chunks[0], 0
	for i := range list {
		l := lines[i]
		end := start + int(l.length)
		if end > len(all) { // this unique-id starts the next chunk
			chunks = chunks[1:]
			all, start, end = chunks[0], 0, int(l.length)
		}
		list[i] = UIDEntry{Number: int(l.number), UID: all[start:end]}
		start = end
	}
	return list
}

// repeated returns a message number that the listing holds twice, or 0.
func (u *uidListing) repeated() int {
	if !u.unordered {
		return 0
	}
	nums := make([]uint32, u.n)
	for i, l := range u.lines[:u.n] {
		nums[i] = l.number
	}
	slices.Sort(nums)
	for i := 1; i < len(nums); i++ {
		if nums[i] == nums[i-1] {
			return int(nums[i])
		}
	}
	return 0
}

// uidField returns the unique-id at the start of b, after any blanks: the octets up to
// the next space or tab, which must be at least one and hold no control octet. It checks
// and delimits in one pass, eight octets at a time (stopOctet).
func uidField(b []byte) ([]byte, error) {
	b = skipBlanks(b)
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if m := stopOctets(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			i += bits.TrailingZeros64(m) / 8
			return uidEnd(b, i)
		}
	}
	for ; i < len(b); i++ {
		if stopOctet(b[i]) {
			return uidEnd(b, i)
		}
	}
	return uidOrMissing(b)
}

// stopOctet reports whether c cannot be part of a unique-id: a space, a tab (which end
// it) or another control octet (which makes the line malformed). Any other octet, one
// above 0x7e included, is accepted as it is.
func stopOctet(c byte) bool { return c <= ' ' || c == 0x7f }

// stopOctets is stopOctet for the eight octets of x at once, the first in its low octet:
// in its result the high bit of the octet of the first stop octet is set, and no bit below
// it. Both tests are the classic bit tricks: for an octet under 0x21, subtracting 0x21
// borrows into its high bit while its own high bit was clear; for 0x7f, the same with 0x01
// after an exclusive or with 0x7f, which makes it zero. A borrow only carries towards
// higher octets, so the lowest bit set is exact.
func stopOctets(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	below := (x - 0x21*ones) &^ x & highs
	del := x ^ 0x7f*ones
	return (below | (del-ones)&^del&highs)
}

// uidEnd returns the unique-id b[:i], ended by the stop octet b[i]: a blank ends it, any
// other is an error.
func uidEnd(b []byte, i int) ([]byte, error) {
	if c := b[i]; !isBlank(c) {
		return nil, fmt.Errorf("%w: unique-id holds the octet %#02x", ErrMalformed, c)
	}
	return uidOrMissing(b[:i])
}

// uidOrMissing returns uid, or ErrMalformed when it is empty.
func uidOrMissing(uid []byte) ([]byte, error) {
	if len(uid) == 0 {
		return nil, fmt.Errorf("%w: missing unique-id", ErrMalformed)
	}
	return uid, nil
}

// NumbersByUID groups the messages of a UIDL listing by unique-id. A server may give two
// identical messages the same unique-id; both numbers are kept, in
// listing order.
func NumbersByUID(entries []UIDEntry) map[string][]int {
	m := make(map[string][]int, len(entries))
	for _, e := range entries {
		m[e.UID] = append(m[e.UID], e.Number)
	}
	return m
}
