package pop3

import (
	"fmt"
	"slices"
	"strings"
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
	list := uidl.entries()
	if n := repeatedNumber(list); n > 0 {
		return nil, fmt.Errorf("pop3: UIDL lists message %d twice: %w", n, ErrMalformed)
	}
	return list, nil
}

// uidListing collects the entries of a UIDL listing line by line (add). The unique-ids
// are gathered in one strings.Builder and become one string at the end (entries), so
// that a listing costs a few allocations in all rather than one per entry; a unique-id
// kept keeps that string alive, a few tens of octets per message of the listing. Until then
// the entries hold no pointer, so the growing slices cost the garbage collector nothing.
type uidListing struct {
	lines  []uidLine
	octets strings.Builder // the unique-ids, one after the other
}

// uidLine is an entry of a uidListing: its message number and where its unique-id ends
// in octets.
type uidLine struct{ number, end int }

// add parses one line of the listing and records its entry.
func (u *uidListing) add(line []byte) error {
	n, uid, err := parseUIDLine(line)
	if err != nil {
		return err
	}
	if u.octets.Cap()-u.octets.Len() < len(uid) {
		u.octets.Grow(max(len(uid), u.octets.Len(), 4096)) // doubling, as grow
	}
	u.octets.Write(uid)
	u.lines = append(grow(u.lines, 1), uidLine{number: n, end: u.octets.Len()})
	return nil
}

// entries returns the entries recorded, their unique-ids sharing one string.
func (u *uidListing) entries() []UIDEntry {
	if len(u.lines) == 0 {
		return nil
	}
	list := make([]UIDEntry, len(u.lines))
	all, start := u.octets.String(), 0
	for i, l := range u.lines {
		list[i] = UIDEntry{Number: l.number, UID: all[start:l.end]}
		start = l.end
	}
	return list
}

// repeatedNumber returns a message number that entries hold twice, or 0. A listing in
// increasing order, as servers send it, is checked in one pass.
func repeatedNumber(entries []UIDEntry) int {
	if slices.IsSortedFunc(entries, func(a, b UIDEntry) int { return a.Number - b.Number }) {
		for i := 1; i < len(entries); i++ {
			if entries[i].Number == entries[i-1].Number {
				return entries[i].Number
			}
		}
		return 0
	}
	nums := make([]int, len(entries))
	for i, e := range entries {
		nums[i] = e.Number
	}
	slices.Sort(nums)
	for i := 1; i < len(nums); i++ {
		if nums[i] == nums[i-1] {
			return nums[i]
		}
	}
	return 0
}

// uidField returns the unique-id at the start of b, after any blanks: the octets up to
// the next space or tab, which must be at least one and hold no control octet. It checks
// and delimits in one pass.
func uidField(b []byte) ([]byte, error) {
	b = skipBlanks(b)
	for i, c := range b {
		switch {
		case isBlank(c):
			return uidOrMissing(b[:i])
		case c < ' ' || c == 0x7f:
			return nil, fmt.Errorf("%w: unique-id holds the octet %#02x", ErrMalformed, c)
		}
	}
	return uidOrMissing(b)
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
