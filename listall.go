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
			scan := scanListing{list: make([]ListEntry, len(uids))}
			err = c.conn.readListing(nil, 0, scan.add)
			list = scan.entries()
			return err
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
	if n := uidl.repeated(); n > 0 {
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

// scanListing collects the entries of a LIST listing line by line (add). A line writes no
// pointer to the heap (the slice is written at an index and grown apart), so it costs the
// garbage collector nothing, not even a write barrier while it marks.
type scanListing struct {
	list []ListEntry // list[:n] are the listing's, the rest room to grow
	n    int
}

// add parses one line of the listing and records its entry.
func (s *scanListing) add(line []byte) error {
	e, err := parseScanLine(line)
	if err != nil {
		return err
	}
	if s.n == len(s.list) {
		g := grow(s.list, 1)
		s.list = g[:cap(g)]
	}
	s.list[s.n] = e
	s.n++
	return nil
}

// entries returns the entries recorded.
func (s *scanListing) entries() []ListEntry { return s.list[:s.n] }

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
// whatever follows them ignored. A field of the usual form is taken by leadingNumber,
// inlined here, any other by messageNumberField or numberField: the whole rule is too large
// for Go to inline, and a call per number costs a line about a nanosecond more.
func parseScanLine(line []byte) (ListEntry, error) {
	n, rest, ok := leadingNumber(line)
	if ok && isMessageNumber(n) {
		if size, _, ok := leadingNumber(skipBlanks(rest)); ok {
			return ListEntry{Number: int(n), Size: size}, nil
		}
	}
	m, rest, err := messageNumberField(line)
	if err == nil {
		var size int64
		if size, _, err = numberField(rest); err == nil {
			return ListEntry{Number: m, Size: size}, nil
		}
	}
	return ListEntry{}, fmt.Errorf("pop3: LIST line %q: %w", line, unprefixed(err))
}

// parseUIDLine parses one line of a UIDL listing: a message number and a unique-id,
// whatever follows them ignored. The unique-id aliases line. Its message number is read
// as parseScanLine's.
func parseUIDLine(line []byte) (int, []byte, error) {
	v, rest, ok := leadingNumber(line)
	n := int(v)
	var err error
	if !ok || !isMessageNumber(v) {
		n, rest, err = messageNumberField(line)
	}
	var uid []byte
	if err == nil {
		uid, err = uidField(rest)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("pop3: UIDL line %q: %w", line, unprefixed(err))
	}
	return n, uid, nil
}
