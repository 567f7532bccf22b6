package pop3

import (
	"fmt"
	"slices"
)

// MessageInfo is one message of a ListAll listing: its number in this session, its size in
// octets as LIST gives it, and its unique-id as UIDL gives it ("" when there is none).
type MessageInfo struct {
	Number int    // the message number, valid in this session only
	Size   int64  // the size in octets, as LIST gives it
	UID    string // the unique-id, as UIDL gives it; "" without one
}

// ListAll returns the number, size and unique-id of every message not marked deleted, in
// the order of LIST. It sends a bare UIDL and a bare LIST: in one write, answered in one
// round trip, where the server lists PIPELINING; one after the other otherwise.
//
// Without UIDL, that is when the server lists capabilities without UIDL (then UIDL is not
// sent) or answers it with -ERR, the listing comes from LIST alone and every UID is "":
// check for that before keying anything by unique-id. A message that LIST lists and UIDL
// does not has UID ""; one that UIDL lists and LIST does not is left out. Unique-ids are
// checked and may repeat, as with UIDL.
func (c *Client) ListAll() ([]MessageInfo, error) {
	infos, _, err := c.listAll(false)
	return infos, err
}

// listAll is ListAll; withUIDL reports whether the server gave a UIDL listing. With
// needUIDL, a negative reply to a UIDL sent alone ends it before LIST is sent.
func (c *Client) listAll(needUIDL bool) (infos []MessageInfo, withUIDL bool, err error) {
	if err := c.transaction(); err != nil {
		return nil, false, err
	}
	caps, err := c.capabilities()
	if err != nil {
		return nil, false, err
	}
	withUIDL = len(caps) == 0 || caps.UIDL() // a server without CAPA may know UIDL
	var uidl uidListing
	var uids []UIDEntry
	var list []ListEntry
	if withUIDL && caps.Pipelining() {
		cmds := []command{{keyword: "UIDL"}, {keyword: "LIST"}}
		err = c.conn.pipeline(cmds, func(i int, _ Response, err error) error {
			switch {
			case i == 0 && isNegative(err):
				withUIDL = false
				return nil
			case err != nil:
				return err
			case i == 0:
				err := c.conn.readListing(nil, 0, uidl.add)
				uids = uidl.entries()
				return err
			}
			list = make([]ListEntry, 0, len(uids))
			return c.conn.readListing(nil, 0, collect(parseScanLine, &list))
		})
	} else {
		if withUIDL {
			uids, err = c.UIDL()
			if isNegative(err) {
				withUIDL, err = false, nil
				if needUIDL {
					return nil, false, nil
				}
			}
		}
		if err == nil {
			list, err = c.List()
		}
	}
	if err != nil {
		return nil, false, err
	}
	if n := repeatedNumber(uids); n > 0 {
		return nil, false, fmt.Errorf("pop3: UIDL lists message %d twice: %w", n, ErrMalformed)
	}
	uidOf := make(map[int]string, len(uids))
	for _, e := range uids {
		uidOf[e.Number] = e.UID
	}
	infos = make([]MessageInfo, len(list))
	for i, e := range list {
		infos[i] = MessageInfo{Number: e.Number, Size: e.Size, UID: uidOf[e.Number]}
	}
	return infos, withUIDL, nil
}

// collect returns a listing callback that parses each line with parse and appends the
// entry to list.
func collect[T any](parse func(line []byte) (T, error), list *[]T) func(line []byte) error {
	return func(line []byte) error {
		e, err := parse(line)
		if err != nil {
			return err
		}
		*list = append(grow(*list, 1), e)
		return nil
	}
}

// grow makes room in s for n more elements, doubling its capacity when it must grow
// (append grows a large slice by a quarter, which copies a listing of 100 000 entries
// about ten times over).
func grow[S ~[]E, E any](s S, n int) S {
	if len(s)+n <= cap(s) {
		return s
	}
	return slices.Grow(s, max(n, len(s), 256))
}

// parseScanLine parses one line of a LIST listing: a message number and a size in octets,
// whatever follows them ignored.
func parseScanLine(line []byte) (ListEntry, error) {
	num, rest := nextField(line)
	n, ok := listingNumber(num)
	if !ok || n < 1 || n > maxMessageNumber {
		m, err := parseMessageNumber(num)
		if err != nil {
			return ListEntry{}, fmt.Errorf("pop3: LIST line %q: %w", line, unprefixed(err))
		}
		n = int64(m)
	}
	size, _ := nextField(rest)
	s, ok := listingNumber(size)
	if !ok {
		var err error
		if s, err = parseDecimal(size); err != nil {
			return ListEntry{}, fmt.Errorf("pop3: LIST line %q: %w", line, unprefixed(err))
		}
	}
	return ListEntry{Number: int(n), Size: s}, nil
}

// parseUIDLine parses one line of a UIDL listing: a message number and a unique-id,
// whatever follows them ignored. The unique-id aliases line.
func parseUIDLine(line []byte) (int, []byte, error) {
	num, rest := nextField(line)
	n, ok := listingNumber(num)
	if !ok || n < 1 || n > maxMessageNumber {
		m, err := parseMessageNumber(num)
		if err != nil {
			return 0, nil, fmt.Errorf("pop3: UIDL line %q: %w", line, unprefixed(err))
		}
		n = int64(m)
	}
	uid, err := uidField(rest)
	if err != nil {
		return 0, nil, fmt.Errorf("pop3: UIDL line %q: %w", line, unprefixed(err))
	}
	return int(n), uid, nil
}

// listingNumber is the fast path of parseDecimal for the numbers of a listing: it takes a
// field of 1 to 18 ASCII digits, which cannot overflow, and reports false for anything
// else, which parseDecimal then accepts or refuses with its error.
func listingNumber(field []byte) (int64, bool) {
	if len(field) == 0 || len(field) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range field {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
