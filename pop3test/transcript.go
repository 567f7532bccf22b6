package pop3test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// ParseTranscript reads a script in transcript form from r.
//
// Each line of a transcript is one of:
//
//   - "S: <bytes>": bytes the server sends;
//   - "C: <bytes>": a line the server expects from the client;
//   - "! STARTTLS": a TLS handshake, the [StartTLS] step; the lines after it
//     are exchanged over TLS;
//   - a comment, starting with "#";
//   - an empty line (or one of only spaces and tabs), which is ignored.
//
// The bytes after "S: " or "C: " are taken verbatim including the line's own
// terminator, CRLF or bare LF as found in the input, so an S: line ending in
// a bare LF sends a bare LF and a C: line ending in a bare LF expects one. A
// final S: line without any terminator sends its bytes without one; a C: line
// must end in a line feed. "S:" or "C:" directly followed by the terminator
// stands for an empty line.
//
// All S: lines between two C: lines (comments and empty lines do not
// interrupt them) become a single [Send], so they reach the client in one
// write. Each C: line becomes an [ExpectRaw].
func ParseTranscript(r io.Reader) ([]Step, error) {
	br := bufio.NewReader(r)
	var (
		steps   []Step
		pending strings.Builder
		sending bool
	)
	flush := func() {
		if sending {
			steps = append(steps, Send(pending.String()))
			pending.Reset()
			sending = false
		}
	}
	for n := 1; ; n++ {
		line, err := br.ReadString('\n')
		if err != nil && err != io.EOF {
			return nil, err
		}
		if line == "" {
			break
		}
		content := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		switch {
		case strings.Trim(content, " \t") == "":
		case strings.HasPrefix(content, "#"):
		case strings.EqualFold(strings.TrimRight(content, " \t"), tlsDirective):
			flush()
			steps = append(steps, StartTLS())
		case content == "S:" || strings.HasPrefix(content, "S: "):
			pending.WriteString(payload(line))
			sending = true
		case content == "C:" || strings.HasPrefix(content, "C: "):
			raw := payload(line)
			if !strings.HasSuffix(raw, "\n") {
				return nil, fmt.Errorf("transcript line %d: C: line %q has no line terminator", n, line)
			}
			flush()
			steps = append(steps, ExpectRaw(raw))
		default:
			return nil, fmt.Errorf(`transcript line %d: want "S: ", "C: ", "#", %q or an empty line, got %q`, n, tlsDirective, line)
		}
		if err == io.EOF {
			break
		}
	}
	flush()
	return steps, nil
}

// tlsDirective is the transcript line that stands for a TLS handshake.
const tlsDirective = "! STARTTLS"

// payload returns the bytes of an "S: " or "C: " line after its prefix,
// including the terminator.
func payload(line string) string {
	if len(line) >= 3 && line[2] == ' ' {
		return line[3:]
	}
	return line[2:]
}

// LoadTranscript reads a script in transcript form from the file at path; see
// [ParseTranscript] for the format.
func LoadTranscript(path string) ([]Step, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	steps, err := ParseTranscript(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return steps, nil
}
