// Package dovecottest starts a private Dovecot POP3 server for integration tests.
//
// Start writes a self-contained configuration (nothing from /etc/dovecot is read), a
// passwd-file with a few users, a self-signed certificate made with crypto/x509, and one
// Maildir per user, then runs "dovecot -F -c DIR/dovecot.conf" as a child process. The
// instance listens on 127.0.0.1 only: Server.Addr speaks plain POP3 (STLS offered) and
// Server.TLSAddr speaks implicit TLS.
//
// Dovecot must run as root (it drops privileges itself; the mail is owned by "nobody").
// Without the dovecot binary, or when not running as root, Start skips the test unless
// the environment variable POP3_TEST_DOVECOT is set and non-empty, in which case it fails
// the test instead.
//
// The facts this package relies on are recorded in /work/shared/real-servers.md.
package dovecottest

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// EnvVar names the environment variable that makes a missing or broken Dovecot a test
// failure instead of a skip.
const EnvVar = "POP3_TEST_DOVECOT"

// UIDValidity is the fixed UIDVALIDITY written into every Maildir's dovecot-uidlist.
// With pop3_uidl_format = %08Xu%08Xv the POP3 UID of the i-th stored message (1-based)
// is therefore always UIDL(i); Dovecot prints %X in lower case. Dovecot prints %X in lower case.
const UIDValidity = 0x6553f100

// UIDL returns the POP3 unique-id Dovecot reports for the i-th stored message (1-based).
func UIDL(i int) string { return fmt.Sprintf("%08x%08x", i, UIDValidity) }

const (
	startDeadline = 15 * time.Second // overall wait for a greeting
	stopDeadline  = 10 * time.Second // wait for the master to exit after SIGTERM
	startAttempts = 3                // fresh ports per attempt when a port is taken
	logTailLines  = 40
)

// Server is a private Dovecot instance listening on 127.0.0.1.
type Server struct {
	Addr    string         // plain POP3 (STLS offered), "127.0.0.1:port"
	TLSAddr string         // implicit TLS POP3
	RootCAs *x509.CertPool // trusts the instance's self-signed certificate (SAN IP:127.0.0.1, DNS:localhost)
	Dir     string         // the temporary directory
	Users   map[string]string

	cmd     *exec.Cmd
	exited  chan struct{} // closed once cmd.Wait has returned
	waitErr error         // cmd.Wait's result, valid after exited is closed
	stdio   *os.File
}

// Message is one generated message as stored on disk.
type Message struct {
	Name string // short label ([a-z0-9-]), also part of the Maildir file name
	Data []byte // exactly as stored (LF line endings)
}

// Users of every instance: user -> password.
func defaultUsers() map[string]string {
	return map[string]string{
		"alice": "secret",
		"bob":   "pässwörd", // non-ASCII, sent as UTF-8
	}
}

// Start starts Dovecot with a fresh temporary configuration and a Maildir per user holding
// msgs (for alice; bob gets a copy of the first 3). It skips the test (t.Skip) when the
// dovecot binary is absent (or the test does not run as root) and POP3_TEST_DOVECOT is
// unset or empty; with POP3_TEST_DOVECOT set, absence or any start failure is t.Fatal.
// Cleanup stops the instance (by the pid in base_dir/master.pid, waiting until the process
// is gone) and removes the directory.
func Start(t testing.TB, msgs []Message) *Server {
	t.Helper()
	required := os.Getenv(EnvVar) != ""
	unavailable := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if required {
			t.Fatalf("dovecottest: %s (%s is set)", msg, EnvVar)
		}
		t.Skipf("dovecottest: %s; set %s=1 to make this a failure", msg, EnvVar)
	}
	bin := findDovecot()
	if bin == "" {
		unavailable("dovecot binary not found (PATH, /usr/sbin, /usr/local/sbin)")
	}
	if os.Geteuid() != 0 {
		unavailable("dovecot needs root to run a test instance (euid %d)", os.Geteuid())
	}

	dir, err := os.MkdirTemp("/tmp", "dovecottest-")
	if err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	s := &Server{Dir: dir, Users: defaultUsers()}
	t.Cleanup(func() {
		running := s.cmd != nil
		s.stop(t)
		if running && t.Failed() {
			t.Logf("dovecottest: Dovecot log (%s):\n%s", dir, tail(s.Log(), logTailLines))
		}
		os.RemoveAll(dir)
	})
	if err := s.prepare(msgs); err != nil {
		t.Fatalf("dovecottest: preparing %s: %v", dir, err)
	}

	var lastErr error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		lastErr = s.start(bin)
		if lastErr == nil {
			return s
		}
		log := s.Log()
		s.stop(t)
		if !strings.Contains(log, "Address already in use") || attempt == startAttempts {
			break
		}
		t.Logf("dovecottest: attempt %d: a port was taken, retrying with new ports", attempt)
	}
	t.Fatalf("dovecottest: starting %s -F -c %s: %v\n--- last %d lines of Dovecot's log ---\n%s",
		bin, filepath.Join(dir, "dovecot.conf"), lastErr, logTailLines, tail(s.Log(), logTailLines))
	return nil
}

// Log returns Dovecot's log (log_path) followed by whatever the master wrote to its
// standard output and error, for diagnostics.
func (s *Server) Log() string {
	var b strings.Builder
	if data, err := os.ReadFile(filepath.Join(s.Dir, "dovecot.log")); err == nil {
		b.Write(data)
	}
	if data, err := os.ReadFile(filepath.Join(s.Dir, "stdio.log")); err == nil && len(data) > 0 {
		b.WriteString("--- dovecot stdout/stderr ---\n")
		b.Write(data)
	}
	return b.String()
}

func findDovecot() string {
	if p, err := exec.LookPath("dovecot"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/dovecot", "/usr/local/sbin/dovecot"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// prepare writes everything but the configuration, which depends on the ports.
func (s *Server) prepare(msgs []Message) error {
	// Dovecot's unprivileged processes (dovecot, dovenull, nobody) must traverse the dir.
	if err := os.Chmod(s.Dir, 0o755); err != nil {
		return err
	}
	for _, d := range []string{"run", "state", "home"} {
		if err := os.Mkdir(filepath.Join(s.Dir, d), 0o755); err != nil {
			return err
		}
	}
	pool, err := writeCert(s.Dir)
	if err != nil {
		return fmt.Errorf("certificate: %w", err)
	}
	s.RootCAs = pool

	uid, gid := lookupNobody()
	users := make([]string, 0, len(s.Users))
	for u := range s.Users {
		users = append(users, u)
	}
	sort.Strings(users)
	var passwd strings.Builder
	for _, u := range users {
		home := filepath.Join(s.Dir, "home", u)
		// passwd-file: user:{SCHEME}password:uid:gid:gecos:home
		fmt.Fprintf(&passwd, "%s:{PLAIN}%s:%d:%d::%s\n", u, s.Users[u], uid, gid, home)
		mine := msgs
		if u != "alice" && len(mine) > 3 {
			mine = mine[:3]
		}
		if err := writeMaildir(filepath.Join(home, "Maildir"), mine); err != nil {
			return fmt.Errorf("maildir for %s: %w", u, err)
		}
		if err := chownTree(home, uid, gid); err != nil {
			return err
		}
	}
	// Read by the auth process, which runs as the dovecot user.
	return os.WriteFile(filepath.Join(s.Dir, "passwd"), []byte(passwd.String()), 0o644)
}

func lookupNobody() (uid, gid int) {
	uid, gid = 65534, 65534
	if u, err := user.Lookup("nobody"); err == nil {
		if n, err := strconv.Atoi(u.Uid); err == nil {
			uid = n
		}
		if n, err := strconv.Atoi(u.Gid); err == nil {
			gid = n
		}
	}
	return uid, gid
}

func chownTree(root string, uid, gid int) error {
	return filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// writeMaildir writes msgs into dir/cur and a dovecot-uidlist giving message i the UID i
// under the fixed UIDValidity, so UIDLs are the same on every run.
func writeMaildir(dir string, msgs []Message) error {
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return err
		}
	}
	var uidlist strings.Builder
	fmt.Fprintf(&uidlist, "3 V%d N%d G%s\n", UIDValidity, len(msgs)+1, strings.Repeat("0", 31)+"1")
	for i, m := range msgs {
		base := fmt.Sprintf("%d.M%dP%d.dovecottest-%s", 1700000000+i, i+1, i+1, safeName(m.Name))
		if err := os.WriteFile(filepath.Join(dir, "cur", base+":2,"), m.Data, 0o600); err != nil {
			return err
		}
		fmt.Fprintf(&uidlist, "%d :%s\n", i+1, base)
	}
	return os.WriteFile(filepath.Join(dir, "dovecot-uidlist"), []byte(uidlist.String()), 0o600)
}

func safeName(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			b[i] = '-'
		}
	}
	if len(b) == 0 {
		return "msg"
	}
	return string(b)
}

// writeCert writes a self-signed ECDSA P-256 certificate for 127.0.0.1 and localhost to
// dir/cert.pem and dir/key.pem and returns a pool trusting it.
func writeCert(dir string) (*x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"popwire dovecottest"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o600); err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool, nil
}

// pickPorts is freePorts; a test replaces it to exercise the retry on a taken port.
var pickPorts = freePorts

// freePorts returns n distinct ports that were free on 127.0.0.1 a moment ago.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func (s *Server) writeConfig(plain, tls int) error {
	var nonce [6]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return err
	}
	d := s.Dir
	conf := fmt.Sprintf(`# Generated by internal/dovecottest; self-contained, nothing from /etc/dovecot.
instance_name = dovecottest-%[2]s
base_dir = %[1]s/run
state_dir = %[1]s/state
protocols = pop3
listen = 127.0.0.1
log_path = %[1]s/dovecot.log
info_log_path = %[1]s/dovecot.log
debug_log_path = %[1]s/dovecot.log
auth_verbose = yes

ssl = yes
ssl_cert = <%[1]s/cert.pem
ssl_key = <%[1]s/key.pem
ssl_min_protocol = TLSv1.2

disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = 1

passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/passwd
}
userdb {
  driver = passwd-file
  args = username_format=%%u %[1]s/passwd
}

mail_location = maildir:~/Maildir
pop3_uidl_format = %%08Xu%%08Xv

# No stats service clients: a process started while the instance shuts down would
# otherwise wait 5 s for the stats-writer socket.
stats_writer_socket_path =

# No authentication penalty: after a failed login anvil would otherwise delay every
# later login from 127.0.0.1 by 2, 4, 8 and up to 15 s. Dovecot's documented switch is an
# unusable anvil-auth-penalty socket.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}

service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = %[3]d
  }
  inet_listener pop3s {
    address = 127.0.0.1
    port = %[4]d
    ssl = yes
  }
}
`, d, hex.EncodeToString(nonce[:]), plain, tls)
	return os.WriteFile(filepath.Join(d, "dovecot.conf"), []byte(conf), 0o644)
}

// start runs one attempt: new ports, new config, run the master in the foreground as a
// child and wait for a greeting on the plain port.
func (s *Server) start(bin string) error {
	ports, err := pickPorts(2)
	if err != nil {
		return fmt.Errorf("picking ports: %w", err)
	}
	if err := s.writeConfig(ports[0], ports[1]); err != nil {
		return err
	}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	s.TLSAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
	// Fresh logs and no pid file left by an earlier attempt.
	os.Remove(filepath.Join(s.Dir, "dovecot.log"))
	os.Remove(filepath.Join(s.Dir, "run", "master.pid"))
	stdio, err := os.Create(filepath.Join(s.Dir, "stdio.log"))
	if err != nil {
		return err
	}
	// The master keeps inherited descriptors: give it a file, never a pipe.
	cmd := exec.Command(bin, "-F", "-c", filepath.Join(s.Dir, "dovecot.conf"))
	cmd.Dir = s.Dir
	cmd.Stdout = stdio
	cmd.Stderr = stdio
	if err := cmd.Start(); err != nil {
		stdio.Close()
		return err
	}
	s.cmd, s.stdio = cmd, stdio
	s.exited = make(chan struct{})
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	return s.waitReady(time.Now().Add(startDeadline))
}

func (s *Server) waitReady(deadline time.Time) error {
	var lastErr error
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("dovecot exited during start-up (%v)", s.waitErr)
		default:
		}
		greeting, err := greet(s.Addr, nil, deadline)
		if err == nil {
			if !strings.HasPrefix(greeting, "+OK") {
				return fmt.Errorf("unexpected greeting %q on %s", greeting, s.Addr)
			}
			// A full greeting over implicit TLS too: it checks the certificate, and no
			// login process is left half-started when a test stops the server at once.
			tlsConf := &tls.Config{RootCAs: s.RootCAs, ServerName: "localhost", MinVersion: tls.VersionTLS12}
			greeting, err = greet(s.TLSAddr, tlsConf, deadline)
			if err != nil {
				return fmt.Errorf("implicit TLS on %s: %w", s.TLSAddr, err)
			}
			if !strings.HasPrefix(greeting, "+OK") {
				return fmt.Errorf("unexpected greeting %q on %s", greeting, s.TLSAddr)
			}
			return nil
		}
		lastErr = err
		if time.Now().After(deadline) {
			return fmt.Errorf("no greeting on %s within %v: %v", s.Addr, startDeadline, lastErr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// greet connects once (over TLS when tlsConf is set), reads the greeting line, says QUIT
// and waits for the answer, so the server side is finished with the connection.
func greet(addr string, tlsConf *tls.Config, deadline time.Time) (string, error) {
	d := min(time.Until(deadline), 2*time.Second)
	if d <= 0 {
		return "", errors.New("deadline passed")
	}
	c, err := net.DialTimeout("tcp", addr, d)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(d))
	if tlsConf != nil {
		c = tls.Client(c, tlsConf)
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("reading greeting: %w", err)
	}
	if _, err := c.Write([]byte("QUIT\r\n")); err != nil {
		return "", fmt.Errorf("sending QUIT: %w", err)
	}
	if _, err := r.ReadString('\n'); err != nil {
		return "", fmt.Errorf("reading QUIT reply: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// stop ends the master by the pid in base_dir/master.pid and waits until it has exited.
// With -F the master is this process's child, so the pid in the file is the child's; a
// pid file that names any other process is ignored rather than signalled.
func (s *Server) stop(t testing.TB) {
	if s.cmd == nil {
		return
	}
	defer func() {
		s.stdio.Close()
		s.cmd = nil
	}()
	select {
	case <-s.exited:
		return // already gone (a failed start)
	default:
	}
	child := s.cmd.Process.Pid
	pidFile := filepath.Join(s.Dir, "run", "master.pid")
	pid := child
	if data, err := os.ReadFile(pidFile); err == nil {
		n, err := strconv.Atoi(strings.TrimSpace(string(data)))
		switch {
		case err != nil:
			t.Logf("dovecottest: %s: %v; signalling pid %d", pidFile, err, child)
		case n != child:
			t.Logf("dovecottest: %s names pid %d, not the master %d started; signalling %d", pidFile, n, child, child)
		default:
			pid = n
		}
	}
	if p, err := os.FindProcess(pid); err == nil {
		p.Signal(syscall.SIGTERM) // the master stops its services, then exits
	}
	select {
	case <-s.exited:
		return
	case <-time.After(stopDeadline):
	}
	t.Logf("dovecottest: master (pid %d) still running %v after SIGTERM; killing it", pid, stopDeadline)
	s.cmd.Process.Kill()
	select {
	case <-s.exited:
	case <-time.After(stopDeadline):
		t.Errorf("dovecottest: master (pid %d) did not exit after SIGKILL", pid)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Wire returns the octets a POP3 server delivers for a stored message (before
// dot-stuffing): every LF not already preceded by CR becomes CRLF, and a final CRLF is
// added if the message does not end in one.
func Wire(stored []byte) []byte {
	out := make([]byte, 0, len(stored)+len(stored)/32+2)
	for i, c := range stored {
		if c == '\n' && (i == 0 || stored[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	if !bytes.HasSuffix(out, []byte("\r\n")) {
		out = append(out, '\r', '\n')
	}
	return out
}

// Messages generates a deterministic set of test messages (LF line endings) covering dot
// lines, a 100 000-octet line, 8-bit UTF-8 headers and body, an empty body, a message
// without a final newline, a large message (about 2 MiB) and ordinary ~10 KB messages.
// The first message is the dot-line one; the result is the same on every call.
func Messages() []Message {
	g := &textGen{state: 0x9e3779b97f4a7c15}
	var msgs []Message
	add := func(name, subject string, extraHeaders string, body string) {
		n := len(msgs) + 1
		var b strings.Builder
		fmt.Fprintf(&b, "Return-Path: <sender@example.org>\n")
		fmt.Fprintf(&b, "Message-ID: <dovecottest-%d-%s@example.org>\n", n, name)
		fmt.Fprintf(&b, "Date: Tue, 14 Nov 2023 22:%02d:%02d +0000\n", n/60, n%60)
		fmt.Fprintf(&b, "From: Sender <sender@example.org>\n")
		fmt.Fprintf(&b, "To: Alice <alice@example.org>\n")
		fmt.Fprintf(&b, "Subject: %s\n", subject)
		fmt.Fprintf(&b, "X-Dovecottest-Name: %s\n", name)
		b.WriteString(extraHeaders)
		b.WriteString("\n")
		b.WriteString(body)
		msgs = append(msgs, Message{Name: name, Data: []byte(b.String())})
	}

	// 1. Dot lines in every position that matters for stuffing and termination.
	add("dots", "dot-stuffing edge cases", "",
		".\n"+ // first body line is exactly "."
			"..\n"+
			"...\n"+
			".x\n"+
			"..x\n"+
			"...leading dots\n"+
			". dot space\n"+
			".\tdot tab\n"+
			"a line with a . in it\n"+
			"\n"+
			".\n"+
			"middle\n"+
			".\n"+
			".\n"+
			"..\n"+
			"From the body: a line starting with From\n"+
			".\n") // last line is exactly "."

	// 2. One line of exactly 100 000 octets (without its line end).
	long := strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", 100000/62+1)[:100000]
	add("long-line", "a line of 100000 octets", "",
		"before\n"+long+"\n.after the long line, a dotted line\nafter\n")

	// 3. 8-bit UTF-8 in headers and body.
	add("utf8", "Grüße aus Köln, naïve café, 日本語 ✓",
		"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\nX-Ümlaut: wert mit ß\n",
		"Grüße, naïve café, 日本語, emoji ✉ 🙂\n.ß leading dot before 8-bit\nÀ la carte\n\u00a0nbsp line\n")

	// 4. Empty body: headers, the blank line, nothing else.
	add("empty-body", "empty body", "", "")

	// 5. No final newline (Dovecot adds CRLF before the terminating dot).
	add("no-final-newline", "no final newline", "",
		"first line\nsecond line\nthe last line has no newline")

	// 6. Ordinary ~10 KB messages.
	for i := 1; i <= 6; i++ {
		add(fmt.Sprintf("ordinary-%d", i), fmt.Sprintf("ordinary message %d", i), "",
			g.text(9500+137*i))
	}

	// 7. A large message of about 2 MiB.
	add("large", "about 2 MiB", "", g.text(2<<20))

	// 8. A short ordinary one last, so the large one is not at the end.
	add("short", "short", "", "Just one line.\n")
	return msgs
}

// textGen produces deterministic pseudo-random text lines (xorshift64*), independent of
// the standard library's generators.
type textGen struct{ state uint64 }

func (g *textGen) next() uint64 {
	g.state ^= g.state >> 12
	g.state ^= g.state << 25
	g.state ^= g.state >> 27
	return g.state * 0x2545f4914f6cdd1d
}

var words = strings.Fields(`alpha bravo charlie delta echo foxtrot golf hotel india juliet
kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray
yankee zulu pop3 capa stls retr dele uidl top stat list quit sasl pipelining`)

// text returns about n octets of LF-terminated lines; some lines start with ".", some
// are empty, and now and then one is long (up to ~1200 octets).
func (g *textGen) text(n int) string {
	var b strings.Builder
	for b.Len() < n {
		r := g.next()
		var lineLen int
		switch {
		case r%50 == 0:
			lineLen = 0
		case r%37 == 0:
			lineLen = 800 + int(r>>32%400)
		default:
			lineLen = 10 + int(r>>32%66)
		}
		if lineLen > 0 && r%23 == 0 {
			b.WriteString(".")
			if r%3 == 0 {
				b.WriteString(".")
			}
		}
		for l := 0; l < lineLen; {
			w := words[g.next()%uint64(len(words))]
			if l > 0 {
				b.WriteByte(' ')
				l++
			}
			b.WriteString(w)
			l += len(w)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
