package pop3

import (
	"fmt"
	"slices"
)

// UIDEntry is one line of a UIDL reply: a message and its unique-id, which identifies
// the message across sessions while message numbers last for one session only.
type UIDEntry struct {
	Number int
	UID    string
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
	var list []UIDEntry
	if err := c.conn.listing("UIDL", 0, collect(parseUIDLine, &list)); err != nil {
		return nil, err
	}
	if n := repeatedNumber(list); n > 0 {
		return nil, fmt.Errorf("pop3: UIDL lists message %d twice: %w", n, ErrMalformed)
	}
	return list, nil
}

// repeatedNumber returns a message number that entries hold twice, or 0.
func repeatedNumber(entries []UIDEntry) int {
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

// checkUID accepts any non-empty unique-id without control octets.
func checkUID(uid []byte) error {
	if len(uid) == 0 {
		return fmt.Errorf("%w: missing unique-id", ErrMalformed)
	}
	for _, c := range uid {
		if c < ' ' || c == 0x7f {
			return fmt.Errorf("%w: unique-id holds the octet %#02x", ErrMalformed, c)
		}
	}
	return nil
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
