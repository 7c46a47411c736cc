package peer

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// SSHServer is a real OpenSSH sshd on loopback serving SFTP (internal-sftp) to one user — the
// one running the test — authenticated by ClientKey only.
type SSHServer struct {
	Addr string // 127.0.0.1:port
	User string
	// Dir is a folder the SFTP user can write to (an absolute path on the server, which is
	// this machine).
	Dir string
	// ClientKeyFile holds ClientKey (OpenSSH format); KnownHostsFile pins HostKey for Addr.
	ClientKey      ssh.Signer
	ClientKeyFile  string
	HostKey        ssh.PublicKey
	KnownHostsFile string
	proc           *Process
}

// SSHD starts sshd with its own configuration, host key and authorized key in a temporary
// folder: no system file is read or changed, and it runs as root or not (as a normal user, sshd
// serves that user only, without privilege separation). Its sftp subsystem is internal-sftp.
func SSHD(t testing.TB) *SSHServer {
	t.Helper()
	sshd := RequireBinary(t, "sshd")
	u, err := user.Current()
	if err != nil {
		t.Fatalf("sshd: current user: %v", err)
	}
	if os.Geteuid() == 0 {
		// Privilege separation wants its empty directory; Debian creates it at boot only.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatalf("sshd: %v", err)
		}
	}
	dir := t.TempDir()
	s := &SSHServer{User: u.Username, Dir: filepath.Join(dir, "inbox")}
	if err := os.Mkdir(s.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	hostKeyFile := filepath.Join(dir, "ssh_host_ed25519_key")
	hostSigner := writeEd25519(t, hostKeyFile)
	s.HostKey = hostSigner.PublicKey()
	s.ClientKeyFile = filepath.Join(dir, "client_key")
	s.ClientKey = writeEd25519(t, s.ClientKeyFile)
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, ssh.MarshalAuthorizedKey(s.ClientKey.PublicKey()), 0o600); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; ; attempt++ {
		port := FreePort(t)
		s.Addr = fmt.Sprintf("127.0.0.1:%d", port)
		conf := filepath.Join(dir, "sshd_config")
		body := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers %s
Subsystem sftp internal-sftp
LogLevel VERBOSE
`, port, hostKeyFile, filepath.Join(dir, "sshd.pid"), authorized, s.User)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		s.proc = StartProcess(t, "sshd", exec.Command(sshd, "-D", "-e", "-f", conf))
		err := waitTCP(s.proc, s.Addr, 20*time.Second)
		if err == nil {
			break
		}
		s.proc.Stop()
		if attempt < 3 && portTaken(s.proc) {
			continue
		}
		t.Fatalf("sshd: %v\n%s", err, s.proc.Tail(40))
	}
	s.KnownHostsFile = s.WriteKnownHosts(t, s.HostKey)
	return s
}

// Tail is the end of sshd's log, for a failure message.
func (s *SSHServer) Tail(n int) string { return s.proc.Tail(n) }

// writeEd25519 writes a new unencrypted ed25519 private key in OpenSSH format (mode 0600, as
// sshd and ssh insist) and returns its signer.
func writeEd25519(t testing.TB, path string) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer
}

// WriteKnownHosts pins key for the server's address in a new known_hosts file (a test of a
// refused host key pins another key).
func (s *SSHServer) WriteKnownHosts(t testing.TB, key ssh.PublicKey) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "known_hosts")
	line := fmt.Sprintf("[127.0.0.1]:%s %s", s.Addr[len("127.0.0.1:"):], ssh.MarshalAuthorizedKey(key))
	if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// NewKey returns a fresh ed25519 public key (one the server does not have).
func NewKey(t testing.TB) ssh.PublicKey {
	t.Helper()
	return writeEd25519(t, filepath.Join(t.TempDir(), "key")).PublicKey()
}
