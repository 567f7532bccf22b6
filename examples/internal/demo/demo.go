// Package demo serves the sample messages of the examples' -demo mode from an in-process
// pop3test.Mailbox on 127.0.0.1.
package demo

import (
	"embed"
	"net"
	"path"
	"sort"

	"github.com/popwire/pop3/pop3test"
)

// The samples: multilingual headers, lines that begin with dots, long lines, an attachment.
//
//go:embed testdata/*.eml
var samples embed.FS

// User and Pass are the demo server's credentials.
const (
	User = "demo"
	Pass = "demo"
	// Account names the demo mailbox in popsync's state, whatever port it is served on.
	Account = "demo@popsync-demo"
)

// Messages returns the sample messages in name order, as stored (LF line endings).
func Messages() [][]byte {
	names, err := samples.ReadDir("testdata")
	if err != nil {
		panic(err) // embedded at build time
	}
	sort.Slice(names, func(i, j int) bool { return names[i].Name() < names[j].Name() })
	var out [][]byte
	for _, e := range names {
		data, err := samples.ReadFile(path.Join("testdata", e.Name()))
		if err != nil {
			panic(err)
		}
		out = append(out, data)
	}
	return out
}

// Start serves the samples on a free port of 127.0.0.1, with PIPELINING, as User and Pass.
// The unique-ids are the same every run, so a second run finds nothing new. stop closes the
// server and waits for its sessions.
func Start() (addr string, stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	mb := &pop3test.Mailbox{Messages: Messages(), User: User, Pass: Pass, Pipelining: true}
	done := make(chan struct{})
	go func() { mb.Serve(l); close(done) }()
	return l.Addr().String(), func() { l.Close(); <-done }, nil
}
