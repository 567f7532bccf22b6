// Package realserver holds what the packages that start real POP3 servers for tests
// (internal/dovecottest, internal/mailutilstest) share: the generated test messages, a
// self-signed certificate, free ports on 127.0.0.1, and running a server process from its
// start to its stop.
package realserver

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	mathrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// EnvVar names the environment variable that makes a missing or broken real server a test
// failure instead of a skip.
const EnvVar = "POP3_TEST_DOVECOT"

const (
	startDeadline = 15 * time.Second // overall wait for the greetings
	stopDeadline  = 10 * time.Second // wait for the process to exit after a signal
	// StartAttempts is how many times a server is started with fresh ports when a port
	// picked as free was taken in the meantime.
	StartAttempts = 3
	// LogTailLines is how many lines of a server's log a failure shows.
	LogTailLines = 40
)

// Required reports whether EnvVar is set, so that a server that cannot run fails the test.
func Required() bool { return os.Getenv(EnvVar) != "" }

// Unavailable ends the test because the server named pkg cannot run: t.Fatal when EnvVar is
// set, t.Skip otherwise.
func Unavailable(t testing.TB, pkg, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("%s: %s (%s is set)", pkg, msg, EnvVar)
	}
	t.Skipf("%s: %s; set %s=1 to make this a failure", pkg, msg, EnvVar)
}

// FindBinary returns the path of the executable name, looked up in PATH and then in dirs
// (a server's sbin directory is often not in an unprivileged user's PATH), or "".
func FindBinary(name string, dirs ...string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// WriteCert writes a self-signed ECDSA P-256 certificate for 127.0.0.1 and localhost to
// dir/cert.pem and its key to dir/key.pem (mode 0600), and returns a pool trusting it.
func WriteCert(dir, org string) (*x509.CertPool, error) {
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
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{org}},
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

// handedOut holds every port FreePorts has returned in this process, so that two servers
// started at once by parallel tests are never given the same one.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// FreePorts returns n distinct ports that were free on 127.0.0.1 a moment ago and that it
// has not returned before in this process. (Another process may still take one before the
// server binds it: StartRetrying tries again then.)
//
// The ports are taken below the kernel's ephemeral range, from which the listeners of
// ":0" (pop3test servers, the latency proxies) and the local ends of outgoing connections
// get theirs: otherwise a port released here could be given to a test server of another
// test before the real server binds it, and WaitReady's probes would connect to that test
// server.
func FreePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	handedOut.Lock()
	defer handedOut.Unlock()
	low := ephemeralLow()
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries > 10000 {
			return nil, fmt.Errorf("no %d free ports below %d", n, low)
		}
		port := lowestPort + mathrand.IntN(low-lowestPort)
		if handedOut.ports[port] {
			continue
		}
		l, err := net.Listen("tcp", Addr(port))
		if err != nil {
			continue // taken
		}
		ls = append(ls, l) // held open until the end
		handedOut.ports[port] = true
		ports = append(ports, port)
	}
	return ports, nil
}

// lowestPort is the lowest port FreePorts returns: below it lie the registered ports of
// services a machine may run.
const lowestPort = 20000

// ephemeralLow returns the lowest port of the kernel's ephemeral range
// (/proc/sys/net/ipv4/ip_local_port_range on Linux; the IANA range, 49152, elsewhere or
// when the file cannot be read or leaves too few ports below it).
func ephemeralLow() int {
	const iana = 49152
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return iana
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return iana
	}
	low, err := strconv.Atoi(f[0])
	if err != nil || low < lowestPort+1000 {
		return iana
	}
	return low
}

// Addr returns "127.0.0.1:port".
func Addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// Process is a server process started by Run; it is this process's child.
type Process struct {
	cmd     *exec.Cmd
	stdio   *os.File
	exited  chan struct{} // closed once cmd.Wait has returned
	waitErr error         // cmd.Wait's result, valid after exited is closed
}

// Run starts cmd with its standard output and error going to the file stdioPath (servers
// that keep inherited descriptors would hold a pipe open for ever) and its standard input
// from the null device.
func Run(cmd *exec.Cmd, stdioPath string) (*Process, error) {
	stdio, err := os.Create(stdioPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout = stdio
	cmd.Stderr = stdio
	if err := cmd.Start(); err != nil {
		stdio.Close()
		return nil, err
	}
	p := &Process{cmd: cmd, stdio: stdio, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// ErrPortTaken reports that a server's port answered with another server's greeting: a
// port picked as free was taken by someone else before the server could bind it.
var ErrPortTaken = errors.New("a port is taken by another server")

// WaitReady waits until a greeting starting with "+OK " + greeting comes on addr and, over
// TLS verified against pool, on tlsAddr, each session ended with QUIT. It fails at once if
// the process exits, and with ErrPortTaken if another greeting comes.
func (p *Process) WaitReady(addr, tlsAddr string, pool *x509.CertPool, greeting string) error {
	want := "+OK " + greeting
	deadline := time.Now().Add(startDeadline)
	var lastErr error
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("the server exited during start-up (%v)", p.waitErr)
		default:
		}
		got, err := greet(addr, nil, deadline)
		if err == nil {
			if !strings.HasPrefix(got, want) {
				return fmt.Errorf("greeting %q on %s: %w", got, addr, ErrPortTaken)
			}
			// A full greeting over implicit TLS too: it checks the certificate, and no
			// process is left half-started when a test stops the server at once.
			tlsConf := &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
			got, err = greet(tlsAddr, tlsConf, deadline)
			if err != nil {
				return fmt.Errorf("implicit TLS on %s: %w", tlsAddr, err)
			}
			if !strings.HasPrefix(got, want) {
				return fmt.Errorf("greeting %q on %s: %w", got, tlsAddr, ErrPortTaken)
			}
			return nil
		}
		lastErr = err
		if time.Now().After(deadline) {
			return fmt.Errorf("no greeting on %s within %v: %v", addr, startDeadline, lastErr)
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

// Stop sends SIGTERM to the process (and to its process group if it was started with
// Setpgid) and waits until it has exited (SIGKILL after a while), and then until every
// other process of its group has, so that nothing the server forked still holds a port
// or a mailbox. A pid file (pidFile, if not "") that names any process other than the
// child is reported and ignored rather than signalled. Stop may be called more than once.
func (p *Process) Stop(t testing.TB, name, pidFile string) {
	if p == nil || p.cmd == nil {
		return
	}
	defer func() {
		p.stdio.Close()
		p.cmd = nil
	}()
	child := p.cmd.Process.Pid
	group := p.cmd.SysProcAttr != nil && p.cmd.SysProcAttr.Setpgid
	signal := func(sig syscall.Signal) {
		if group {
			syscall.Kill(-child, sig) // the process group: its forked children too
		}
		p.cmd.Process.Signal(sig)
	}
	if pidFile != "" {
		if data, err := os.ReadFile(pidFile); err == nil {
			n, err := strconv.Atoi(strings.TrimSpace(string(data)))
			switch {
			case err != nil:
				t.Logf("%s: %s: %v; signalling pid %d", name, pidFile, err, child)
			case n != child:
				t.Logf("%s: %s names pid %d, not the server %d started; signalling %d", name, pidFile, n, child, child)
			}
		}
	}
	select {
	case <-p.exited: // already gone (a failed start)
	default:
		signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(stopDeadline):
			t.Logf("%s: pid %d still running %v after SIGTERM; killing it", name, child, stopDeadline)
			signal(syscall.SIGKILL)
			select {
			case <-p.exited:
			case <-time.After(stopDeadline):
				t.Errorf("%s: pid %d did not exit after SIGKILL", name, child)
				return
			}
		}
	}
	if group && !groupGone(child, stopDeadline) {
		t.Logf("%s: processes of group %d still running %v after SIGTERM; killing them", name, child, stopDeadline)
		syscall.Kill(-child, syscall.SIGKILL)
		if !groupGone(child, stopDeadline) {
			t.Errorf("%s: processes of group %d did not exit after SIGKILL", name, child)
		}
	}
}

// groupGone waits up to d until no process is left in the process group pgid.
func groupGone(pgid int, d time.Duration) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(10 * time.Millisecond) {
		if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// Tail returns the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// StartRetrying calls start until it succeeds, at most StartAttempts times; after a failed
// attempt it calls stop, and it tries again only when a port was taken: start returned
// ErrPortTaken or the server's log (from log) says so. It returns the last attempt's error.
func StartRetrying(t testing.TB, name string, start func() error, stop func(), log func() string) error {
	t.Helper()
	var err error
	for attempt := 1; attempt <= StartAttempts; attempt++ {
		if err = start(); err == nil {
			return nil
		}
		l := log()
		stop()
		taken := errors.Is(err, ErrPortTaken) || strings.Contains(l, "Address already in use")
		if !taken || attempt == StartAttempts {
			break
		}
		t.Logf("%s: attempt %d: a port was taken, retrying with new ports", name, attempt)
	}
	return err
}

// Nobody returns the uid and gid of the user "nobody" (65534 if it is unknown): the owner
// of the mail when a server runs as root and switches to the mail's owner.
func Nobody() (uid, gid int) {
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

// ChownTree changes the owner of root and everything below it.
func ChownTree(root string, uid, gid int) error {
	return filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// SafeName returns name with every octet outside [A-Za-z0-9-] replaced by "-", for use in
// a file name ("msg" if name is empty).
func SafeName(name string) string {
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

// Users returns the users of every instance: name -> password. alice holds all the
// messages a test gives, bob (a non-ASCII password, sent as UTF-8) the first 3 of them.
func Users() map[string]string {
	return map[string]string{
		"alice": "secret",
		"bob":   "pässwörd",
	}
}

// UserNames returns the names of Users, sorted.
func UserNames() []string {
	names := make([]string, 0, 2)
	for u := range Users() {
		names = append(names, u)
	}
	sort.Strings(names)
	return names
}

// Maildrop returns what user holds of the messages msgs a test gives.
func Maildrop(user string, msgs []Message) []Message {
	if user != "alice" && len(msgs) > 3 {
		return msgs[:3]
	}
	return msgs
}

// TempDir makes an instance's temporary directory, mode 0755: a server's unprivileged
// processes must traverse it. t's cleanup calls stop, then, if the test failed, logs the
// last lines of log(), and removes the directory.
func TempDir(t testing.TB, name string, stop func(), log func() string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", name+"-")
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() {
		stop()
		if l := log(); t.Failed() && l != "" {
			t.Logf("%s: the server's log (%s):\n%s", name, dir, Tail(l, LogTailLines))
		}
		os.RemoveAll(dir)
	})
	return dir
}

// StartFailed ends the test because the server could not start, with the last lines of
// its log.
func StartFailed(t testing.TB, name, command string, err error, log string) {
	t.Helper()
	t.Fatalf("%s: starting %s: %v\n--- last %d lines of the server's log ---\n%s",
		name, command, err, LogTailLines, Tail(log, LogTailLines))
}
