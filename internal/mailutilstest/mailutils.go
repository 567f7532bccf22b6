// Package mailutilstest starts a private GNU Mailutils pop3d for integration tests.
//
// Start writes a self-contained configuration (pop3d is run with --config-file, so nothing
// from /etc/mailutils.conf is read), a virtual-domain password file with a few users, a
// self-signed certificate, and one mbox maildrop per user, then runs pop3d in the
// foreground as a child process. The instance listens on 127.0.0.1 only: Server.Addr
// speaks plain POP3 (STLS offered) and Server.TLSAddr speaks implicit TLS. Logins are
// "user@localhost" (Login).
//
// Any user can start an instance. pop3d insists on switching to the group "mail" when it
// starts, which only root may do; run as anyone else, Start runs it in a new user
// namespace where the caller's uid is root and the caller's gid is the group mail, so it
// gets no privilege outside, and the mail belongs to the caller. Run as root, pop3d runs
// as it is, and the mail belongs to "nobody". Without the pop3d binary (or without user
// namespaces for a user other than root) Start skips the test unless the environment
// variable POP3_TEST_DOVECOT is set and non-empty, in which case it fails the test instead.
//
// What a client sees from Mailutils 3.15 is not what it sees from Dovecot: an APOP-style
// timestamp in the greeting, EXPIRENEVER (sic) in CAPA, no SASL, a bare "+OK" to LIST,
// "X-UIDL", "X-IMAPbase", "X-UID" and "Status" headers added to every message once a
// session has written them to the mbox, an extra empty line after the header in TOP n k
// with k > 0, and sizes that change when those headers are written.
package mailutilstest

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/popwire/pop3/internal/realserver"
)

// Domain is the virtual domain of every user: the login of user u is u + "@" + Domain.
const Domain = "localhost"

// Login returns the login name of user (user@localhost).
func Login(user string) string { return user + "@" + Domain }

// Server is a private pop3d instance listening on 127.0.0.1.
type Server struct {
	Addr    string            // plain POP3 (STLS offered), "127.0.0.1:port"
	TLSAddr string            // implicit TLS POP3
	RootCAs *x509.CertPool    // trusts the instance's self-signed certificate (SAN IP:127.0.0.1, DNS:localhost)
	Dir     string            // the temporary directory
	Users   map[string]string // login -> password

	proc *realserver.Process
}

// hashes holds the SHA-512 crypt(3) form of each password a user may have (made with
// "openssl passwd -6 -salt SALT PASSWORD"): pop3d's "generic" authentication compares
// crypt(password, stored) with the stored value.
var hashes = map[string]string{
	"secret":   "$6$popwire1$6nzrCok3iGQ/qmyE6dlGAbb9hLoikhQ.0XYYmvNz9/50GDkxG/O1nGShtdck7Vj93rVTlrJ65lWCUdLeFzM4I0",
	"pässwörd": "$6$popwire2$N/pN0GUY7hpwrdj00bFBf4YJL7fq8euKwx.SwzsRG9zZcgtMqoxq6wu5AZkfVAeHU.fkjSlp1/zT4lOaZApfx1",
}

// Start starts pop3d with a fresh temporary configuration and an mbox per user holding
// msgs (for alice; bob gets a copy of the first 3). It skips the test (t.Skip) when pop3d
// cannot run here and POP3_TEST_DOVECOT is unset or empty; with POP3_TEST_DOVECOT set,
// that or any start failure is t.Fatal. Cleanup stops the instance (SIGTERM, waiting until
// it is gone) and removes the directory.
func Start(t testing.TB, msgs []realserver.Message) *Server {
	t.Helper()
	if testing.Short() && !realserver.Required() {
		t.Skipf("%s: -short runs no real server; set %s=1 to run it anyway", "mailutilstest", realserver.EnvVar)
	}
	bin := realserver.FindBinary("pop3d", "/usr/sbin", "/usr/local/sbin")
	if bin == "" {
		realserver.Unavailable(t, "mailutilstest", "pop3d binary not found (PATH, /usr/sbin, /usr/local/sbin)")
	}
	// The mail's owner as pop3d sees it, and how to run it.
	uid, gid := realserver.Nobody()
	var ns *syscall.SysProcAttr
	if os.Geteuid() != 0 {
		mail := mailGID()
		uid, gid = 0, mail
		ns = &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: mail, HostID: os.Getegid(), Size: 1}},
		}
		if err := probeUserNS(ns); err != nil {
			realserver.Unavailable(t, "mailutilstest", "pop3d needs root or a user namespace (euid %d): %v", os.Geteuid(), err)
		}
	}

	s := &Server{}
	s.Dir = realserver.TempDir(t, "mailutilstest", func() { s.stop(t) }, s.Log)
	if err := s.prepare(msgs, uid, gid, ns == nil); err != nil {
		t.Fatalf("mailutilstest: preparing %s: %v", s.Dir, err)
	}
	err := realserver.StartRetrying(t, "mailutilstest", func() error { return s.start(bin, ns) },
		func() { s.stop(t) }, s.Log)
	if err != nil {
		realserver.StartFailed(t, "mailutilstest", bin+" --config-file="+s.confFile(), err, s.Log())
	}
	return s
}

// Log returns what pop3d wrote to its standard output and error (it logs there, not to
// syslog), for diagnostics.
func (s *Server) Log() string {
	data, _ := os.ReadFile(filepath.Join(s.Dir, "stdio.log"))
	return string(data)
}

// mailGID returns the gid of the group "mail" (8 on Debian if it is unknown).
func mailGID() int {
	if g, err := user.LookupGroup("mail"); err == nil {
		if n, err := strconv.Atoi(g.Gid); err == nil {
			return n
		}
	}
	return 8
}

// probeUserNS runs /bin/true with attr, to tell a system without user namespaces (or one
// whose seccomp policy forbids them) before any server is configured.
func probeUserNS(attr *syscall.SysProcAttr) error {
	truePath := realserver.FindBinary("true", "/bin", "/usr/bin")
	if truePath == "" {
		return errors.New("no true(1) to probe user namespaces with")
	}
	cmd := exec.Command(truePath)
	a := *attr
	cmd.SysProcAttr = &a
	return cmd.Run()
}

func (s *Server) confFile() string { return filepath.Join(s.Dir, "pop3d.conf") }
func (s *Server) pidFile() string  { return filepath.Join(s.Dir, "pop3d.pid") }

// prepare writes everything but the configuration, which depends on the ports: the
// password file gives every user uid and gid, and chown makes the mail theirs.
func (s *Server) prepare(msgs []realserver.Message, uid, gid int, chown bool) error {
	for _, d := range []string{"vpw", "home"} {
		if err := os.Mkdir(filepath.Join(s.Dir, d), 0o755); err != nil {
			return err
		}
	}
	pool, err := realserver.WriteCert(s.Dir, "popwire mailutilstest")
	if err != nil {
		return fmt.Errorf("certificate: %w", err)
	}
	s.RootCAs = pool

	s.Users = map[string]string{}
	var passwd strings.Builder
	for _, u := range realserver.UserNames() {
		pass := realserver.Users()[u]
		s.Users[Login(u)] = pass
		hash, ok := hashes[pass]
		if !ok {
			return fmt.Errorf("no crypt hash for %s's password", u)
		}
		home := filepath.Join(s.Dir, "home", u)
		if err := os.Mkdir(home, 0o755); err != nil {
			return err
		}
		// The virtual domain's passwd: user:crypt:uid:gid:gecos:home:shell
		fmt.Fprintf(&passwd, "%s:%s:%d:%d::%s:/bin/false\n", u, hash, uid, gid, home)
		if err := os.WriteFile(filepath.Join(home, "INBOX"), Mbox(realserver.Maildrop(u, msgs)), 0o600); err != nil {
			return fmt.Errorf("mbox for %s: %w", u, err)
		}
		if chown {
			if err := realserver.ChownTree(home, uid, gid); err != nil {
				return err
			}
		}
	}
	return os.WriteFile(filepath.Join(s.Dir, "vpw", Domain), []byte(passwd.String()), 0o644)
}

// Mbox returns msgs as an mbox file: each message after a "From " separator line, a line
// of its own starting with "From " quoted as ">From ", a final newline added where it is
// missing, and an empty line after each.
func Mbox(msgs []realserver.Message) []byte {
	var b bytes.Buffer
	for i, m := range msgs {
		fmt.Fprintf(&b, "From sender@example.org Tue Nov 14 22:%02d:%02d 2023\n", i/60, i%60)
		for _, line := range bytes.SplitAfter(m.Data, []byte("\n")) {
			if bytes.HasPrefix(line, []byte("From ")) {
				b.WriteByte('>')
			}
			b.Write(line)
		}
		if !bytes.HasSuffix(m.Data, []byte("\n")) {
			b.WriteByte('\n')
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// pickPorts is realserver.FreePorts; a test may replace it.
var pickPorts = realserver.FreePorts

func (s *Server) writeConfig(plain, tls int) error {
	d := s.Dir
	conf := fmt.Sprintf(`# Generated by internal/mailutilstest; self-contained, run with --config-file.
mode daemon;
foreground yes;
pidfile %[1]s/pop3d.pid;
logging {
  syslog no;
};
auth {
  authorization virtdomain;
  authentication generic;
};
virtdomain {
  passwd-dir %[1]s/vpw;
};
tls {
  ssl-certificate-file %[1]s/cert.pem;
  ssl-key-file %[1]s/key.pem;
};
tcp-wrappers {
  enable no;
};
server 127.0.0.1:%[2]d {
  tls-mode stls;
};
server 127.0.0.1:%[3]d {
  tls-mode connection;
};
`, d, plain, tls)
	return os.WriteFile(s.confFile(), []byte(conf), 0o644)
}

// start runs one attempt: new ports, new config, run pop3d in the foreground as a child
// and wait for a greeting on both ports.
func (s *Server) start(bin string, ns *syscall.SysProcAttr) error {
	ports, err := pickPorts(2)
	if err != nil {
		return fmt.Errorf("picking ports: %w", err)
	}
	if err := s.writeConfig(ports[0], ports[1]); err != nil {
		return err
	}
	s.Addr, s.TLSAddr = realserver.Addr(ports[0]), realserver.Addr(ports[1])
	os.Remove(s.pidFile())
	cmd := exec.Command(bin, "--config-file="+s.confFile())
	cmd.Dir = s.Dir
	attr := &syscall.SysProcAttr{}
	if ns != nil {
		a := *ns
		attr = &a
	}
	// Its own process group: stop ends the session processes it forked too.
	attr.Setpgid = true
	cmd.SysProcAttr = attr
	s.proc, err = realserver.Run(cmd, filepath.Join(s.Dir, "stdio.log"))
	if err != nil {
		return err
	}
	return s.proc.WaitReady(s.Addr, s.TLSAddr, s.RootCAs, "POP3 Ready")
}

// stop ends pop3d and waits until it has exited.
func (s *Server) stop(t testing.TB) {
	s.proc.Stop(t, "mailutilstest", s.pidFile())
	s.proc = nil
}
