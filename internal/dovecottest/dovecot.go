// Package dovecottest starts a private Dovecot POP3 server for integration tests.
//
// Start writes a self-contained configuration (nothing from /etc/dovecot is read), a
// passwd-file with a few users, a self-signed certificate, and one Maildir per user, then
// runs "dovecot -F -c DIR/dovecot.conf" as a child process. The instance listens on
// 127.0.0.1 only: Server.Addr speaks plain POP3 (STLS offered) and Server.TLSAddr speaks
// implicit TLS.
//
// Any user can start an instance. Run as root, Dovecot drops privileges itself (its own
// users for its services, the mail owned by "nobody"); run as anyone else, every service
// runs as that user (default_internal_user, default_login_user, no chroot) and the mail is
// that user's. Without the dovecot binary Start skips the test unless the environment
// variable POP3_TEST_DOVECOT is set and non-empty, in which case it fails the test instead.
package dovecottest

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/popwire/pop3/internal/realserver"
)

// EnvVar names the environment variable that makes a missing or broken Dovecot a test
// failure instead of a skip.
const EnvVar = realserver.EnvVar

// UIDValidity is the fixed UIDVALIDITY written into every Maildir's dovecot-uidlist.
// With pop3_uidl_format = %08Xu%08Xv the POP3 UID of the i-th stored message (1-based)
// is therefore always UIDL(i); Dovecot prints %X in lower case.
const UIDValidity = 0x6553f100

// UIDL returns the POP3 unique-id Dovecot reports for the i-th stored message (1-based).
func UIDL(i int) string { return fmt.Sprintf("%08x%08x", i, UIDValidity) }

// Message is one generated test message as stored on disk (the type all real-server test
// packages share).
type Message = realserver.Message

// Messages returns the deterministic test messages of realserver.Messages.
func Messages() []Message { return realserver.Messages() }

// Wire returns the octets a POP3 server delivers for a stored message (before
// dot-stuffing), as realserver.Wire.
func Wire(stored []byte) []byte { return realserver.Wire(stored) }

// Server is a private Dovecot instance listening on 127.0.0.1.
type Server struct {
	Addr    string            // plain POP3 (STLS offered), "127.0.0.1:port"
	TLSAddr string            // implicit TLS POP3
	RootCAs *x509.CertPool    // trusts the instance's self-signed certificate (SAN IP:127.0.0.1, DNS:localhost)
	Dir     string            // the temporary directory
	Users   map[string]string // login -> password

	proc *realserver.Process
}

// Start starts Dovecot with a fresh temporary configuration and a Maildir per user holding
// msgs (for alice; bob gets a copy of the first 3). It skips the test (t.Skip) when the
// dovecot binary is absent and POP3_TEST_DOVECOT is unset or empty; with
// POP3_TEST_DOVECOT set, absence or any start failure is t.Fatal. Cleanup stops the
// instance (SIGTERM to the master, waiting until it is gone) and removes the directory.
func Start(t testing.TB, msgs []Message) *Server {
	t.Helper()
	if testing.Short() && !realserver.Required() {
		t.Skipf("%s: -short runs no real server; set %s=1 to run it anyway", "dovecottest", realserver.EnvVar)
	}
	bin := realserver.FindBinary("dovecot", "/usr/sbin", "/usr/local/sbin")
	if bin == "" {
		realserver.Unavailable(t, "dovecottest", "dovecot binary not found (PATH, /usr/sbin, /usr/local/sbin)")
	}
	own, err := currentUser()
	if err != nil {
		realserver.Unavailable(t, "dovecottest", "%v", err)
	}

	s := &Server{Users: realserver.Users()}
	s.Dir = realserver.TempDir(t, "dovecottest", func() { s.stop(t) }, s.Log)
	if err := s.prepare(msgs, own); err != nil {
		t.Fatalf("dovecottest: preparing %s: %v", s.Dir, err)
	}
	err = realserver.StartRetrying(t, "dovecottest", func() error { return s.start(bin, own) },
		func() { s.stop(t) }, s.Log)
	if err != nil {
		realserver.StartFailed(t, "dovecottest", bin+" -F -c "+filepath.Join(s.Dir, "dovecot.conf"), err, s.Log())
	}
	return s
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

// account is who Dovecot's services run as and who owns the mail: nil when running as root
// (Dovecot's own users for the services, "nobody" for the mail).
type account struct {
	name, group string
	uid, gid    int
}

func currentUser() (*account, error) {
	if os.Geteuid() == 0 {
		return nil, nil
	}
	u, err := user.LookupId(strconv.Itoa(os.Geteuid()))
	if err != nil {
		return nil, fmt.Errorf("the current user (uid %d) has no name: %v", os.Geteuid(), err)
	}
	g, err := user.LookupGroupId(strconv.Itoa(os.Getegid()))
	if err != nil {
		return nil, fmt.Errorf("the current group (gid %d) has no name: %v", os.Getegid(), err)
	}
	return &account{name: u.Username, group: g.Name, uid: os.Geteuid(), gid: os.Getegid()}, nil
}

// prepare writes everything but the configuration, which depends on the ports.
func (s *Server) prepare(msgs []realserver.Message, own *account) error {
	for _, d := range []string{"run", "state", "home"} {
		if err := os.Mkdir(filepath.Join(s.Dir, d), 0o755); err != nil {
			return err
		}
	}
	pool, err := realserver.WriteCert(s.Dir, "popwire dovecottest")
	if err != nil {
		return fmt.Errorf("certificate: %w", err)
	}
	s.RootCAs = pool

	uid, gid := realserver.Nobody()
	if own != nil {
		uid, gid = own.uid, own.gid
	}
	var passwd strings.Builder
	for _, u := range realserver.UserNames() {
		home := filepath.Join(s.Dir, "home", u)
		// passwd-file: user:{SCHEME}password:uid:gid:gecos:home
		fmt.Fprintf(&passwd, "%s:{PLAIN}%s:%d:%d::%s\n", u, s.Users[u], uid, gid, home)
		if err := writeMaildir(filepath.Join(home, "Maildir"), realserver.Maildrop(u, msgs)); err != nil {
			return fmt.Errorf("maildir for %s: %w", u, err)
		}
		if own == nil {
			if err := realserver.ChownTree(home, uid, gid); err != nil {
				return err
			}
		}
	}
	// Read by the auth process, which runs as the dovecot user.
	return os.WriteFile(filepath.Join(s.Dir, "passwd"), []byte(passwd.String()), 0o644)
}

// writeMaildir writes msgs into dir/cur and a dovecot-uidlist giving message i the UID i
// under the fixed UIDValidity, so UIDLs are the same on every run.
func writeMaildir(dir string, msgs []realserver.Message) error {
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return err
		}
	}
	var uidlist strings.Builder
	fmt.Fprintf(&uidlist, "3 V%d N%d G%s\n", UIDValidity, len(msgs)+1, strings.Repeat("0", 31)+"1")
	for i, m := range msgs {
		base := fmt.Sprintf("%d.M%dP%d.dovecottest-%s", 1700000000+i, i+1, i+1, realserver.SafeName(m.Name))
		if err := os.WriteFile(filepath.Join(dir, "cur", base+":2,"), m.Data, 0o600); err != nil {
			return err
		}
		fmt.Fprintf(&uidlist, "%d :%s\n", i+1, base)
	}
	return os.WriteFile(filepath.Join(dir, "dovecot-uidlist"), []byte(uidlist.String()), 0o600)
}

// pickPorts is realserver.FreePorts; a test replaces it to exercise the retry on a taken port.
var pickPorts = realserver.FreePorts

func (s *Server) writeConfig(plain, tls int, own *account) error {
	var nonce [6]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return err
	}
	d := s.Dir
	// Run as root, Dovecot's defaults hold: its services run as the users dovecot and
	// dovenull, the login processes and anvil chrooted. Anyone else runs every service as
	// themselves, and no service can chroot.
	noChroot, unprivileged := "", ""
	if own != nil {
		noChroot = "\n  chroot ="
		unprivileged = fmt.Sprintf(`
# Not root: every service runs as the user who started the instance.
default_internal_user = %s
default_internal_group = %s
default_login_user = %s
`, own.name, own.group, own.name)
	}
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
service anvil {%[5]s
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}

service pop3-login {%[5]s
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
%[6]s`, d, hex.EncodeToString(nonce[:]), plain, tls, noChroot, unprivileged)
	return os.WriteFile(filepath.Join(d, "dovecot.conf"), []byte(conf), 0o644)
}

// start runs one attempt: new ports, new config, run the master in the foreground as a
// child and wait for a greeting on the plain port.

// start runs one attempt: new ports, new config, run the master in the foreground as a
// child and wait for a greeting on both ports.
func (s *Server) start(bin string, own *account) error {
	ports, err := pickPorts(2)
	if err != nil {
		return fmt.Errorf("picking ports: %w", err)
	}
	if err := s.writeConfig(ports[0], ports[1], own); err != nil {
		return err
	}
	s.Addr, s.TLSAddr = realserver.Addr(ports[0]), realserver.Addr(ports[1])
	// Fresh logs and no pid file left by an earlier attempt.
	os.Remove(filepath.Join(s.Dir, "dovecot.log"))
	os.Remove(s.pidFile())
	cmd := exec.Command(bin, "-F", "-c", filepath.Join(s.Dir, "dovecot.conf"))
	cmd.Dir = s.Dir
	// The master keeps inherited descriptors: Run gives it a file, never a pipe.
	s.proc, err = realserver.Run(cmd, filepath.Join(s.Dir, "stdio.log"))
	if err != nil {
		return err
	}
	return s.proc.WaitReady(s.Addr, s.TLSAddr, s.RootCAs, "Dovecot")
}

func (s *Server) pidFile() string { return filepath.Join(s.Dir, "run", "master.pid") }

// stop ends the master (the child started with -F; base_dir/master.pid names it) and
// waits until it has exited.
func (s *Server) stop(t testing.TB) {
	s.proc.Stop(t, "dovecottest", s.pidFile())
	s.proc = nil
}
