package pop3

import (
	"errors"
	"fmt"
)

// MessageInfo is one message of a ListAll listing: its number in this session, its size in
// octets as LIST gives it, and its unique-id as UIDL gives it ("" when there is none).
type MessageInfo struct {
	Number int
	Size   int64
	UID    string
}

// ListAll returns the number, size and unique-id of every message not marked deleted, in
// the order of LIST. It sends a bare UIDL and a bare LIST (MS-STANOPOP3 V0003, V0007): in
// one write, answered in one round trip, where the server lists PIPELINING; one after the
// other otherwise.
//
// Without UIDL, that is when the server lists capabilities without UIDL (then UIDL is not
// sent) or answers it with -ERR, the listing comes from LIST alone and every UID is "":
// check for that before keying anything by unique-id. A message that LIST lists and UIDL
// does not has UID ""; one that UIDL lists and LIST does not is left out. Unique-ids are
// checked and may repeat, as with UIDL.
func (c *Client) ListAll() ([]MessageInfo, error) {
	if err := c.transaction(); err != nil {
		return nil, err
	}
	caps, err := c.Capabilities()
	if err != nil {
		return nil, err
	}
	withUIDL := len(caps) == 0 || caps.Has("UIDL") // a server without CAPA may know UIDL
	pipelined := withUIDL && caps.Pipelining()
	var uids map[int]string
	if withUIDL {
		if err := c.conn.queue("UIDL"); err != nil {
			return nil, err
		}
		if pipelined {
			if err := c.conn.queue("LIST"); err != nil {
				return nil, err
			}
		}
		if err := c.conn.flush(); err != nil {
			return nil, err
		}
		if uids, err = c.uidlReply(); err != nil {
			if pipelined && c.conn.Err() == nil {
				c.listReply() // the reply to LIST is on its way: read it to stay in step
			}
			return nil, err
		}
	}
	if !pipelined {
		if err := c.conn.Cmd("LIST"); err != nil {
			return nil, err
		}
	}
	list, err := c.listReply()
	if err != nil {
		return nil, err
	}
	infos := make([]MessageInfo, len(list))
	for i, e := range list {
		infos[i] = MessageInfo{Number: e.Number, Size: e.Size, UID: uids[e.Number]}
	}
	return infos, nil
}

// uidlReply reads the reply to UIDL: the unique-id of each message, or nil with a nil error
// when the server answers -ERR.
func (c *Client) uidlReply() (map[int]string, error) {
	if _, err := c.conn.ReadResponse(); err != nil {
		var perr *Error
		if errors.As(err, &perr) {
			return nil, nil
		}
		return nil, err
	}
	entries, err := readEntries(c.conn, parseUIDLine)
	if err != nil {
		return nil, err
	}
	uids := make(map[int]string, len(entries))
	for _, e := range entries {
		uids[e.Number] = e.UID
	}
	return uids, nil
}

// listReply reads the reply to a bare LIST.
func (c *Client) listReply() ([]ListEntry, error) {
	if _, err := c.conn.ReadResponse(); err != nil {
		return nil, err
	}
	return readEntries(c.conn, parseScanLine)
}

// readEntries reads the lines of a listing after its positive status line, each parsed by
// parse.
func readEntries[T any](c *Conn, parse func(line []byte) (T, error)) ([]T, error) {
	var list []T
	err := c.ReadListing(func(line []byte) error {
		e, err := parse(line)
		if err != nil {
			return err
		}
		list = append(list, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return list, nil
}

// parseScanLine parses one line of a LIST listing (MS-STANOPOP3 C0021): a message number
// and a size in octets, whatever follows them ignored.
func parseScanLine(line []byte) (ListEntry, error) {
	num, rest := nextField(line)
	n, err := parseMessageNumber(num)
	if err != nil {
		return ListEntry{}, fmt.Errorf("pop3: LIST line %q: %w", line, err)
	}
	size, _ := nextField(rest)
	s, err := parseDecimal(size)
	if err != nil {
		return ListEntry{}, fmt.Errorf("pop3: LIST line %q: %w", line, err)
	}
	return ListEntry{Number: n, Size: s}, nil
}
