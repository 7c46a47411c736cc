package gar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SFTP delivers files to the GAR's SFTP server: key authentication, the
// server's host key pinned by a known_hosts file, retried with backoff.
type SFTP struct {
	Address string // host:port
	User    string
	Dir     string // on the server
	// Signer is the ENT's key; HostKey checks the server's (knownhosts).
	Signer  ssh.Signer
	HostKey ssh.HostKeyCallback
	// Attempts in all (default 1); the wait between them starts at Backoff
	// and doubles.
	Attempts int
	Backoff  time.Duration
	Timeout  time.Duration
	// Sleep waits between attempts (default: a timer that ctx cancels).
	Sleep  func(ctx context.Context, d time.Duration) error
	Logger *slog.Logger
}

// NewSFTP reads the private key and the known_hosts file.
func NewSFTP(address, user, keyFile, knownHostsFile, dir string) (*SFTP, error) {
	raw, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("gar.sftp.key_file: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(raw)
	if err != nil {
		return nil, fmt.Errorf("gar.sftp.key_file %s: %w (an unencrypted OpenSSH or PEM private key)", keyFile, err)
	}
	hk, err := knownhosts.New(knownHostsFile)
	if err != nil {
		return nil, fmt.Errorf("gar.sftp.known_hosts: %w", err)
	}
	return &SFTP{Address: address, User: user, Dir: dir, Signer: signer, HostKey: hk, Attempts: 1}, nil
}

// Target names the destination for the journal and the messages.
func (s *SFTP) Target() string {
	return s.User + "@" + s.Address + ":" + s.Dir
}

// ErrHostKey is wrapped by a delivery refused because the server's host
// key is not the pinned one: never retried, never accepted silently.
var ErrHostKey = errors.New("host key not pinned")

// Deliver uploads the files (in order: the archive before its .md5, so
// that the GAR never sees a checksum without its archive), each under a
// temporary name renamed when complete. It returns the attempts made.
func (s *SFTP) Deliver(ctx context.Context, files []string) (int, error) {
	attempts := max(s.Attempts, 1)
	wait := s.Backoff
	sleep := s.Sleep
	if sleep == nil {
		sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var err error
	for i := 1; ; i++ {
		err = s.deliverOnce(ctx, files)
		if err == nil || errors.Is(err, ErrHostKey) || isAuthError(err) || i == attempts {
			return i, err
		}
		log.Warn("GAR delivery failed; retrying", "target", s.Target(), "attempt", i, "of", attempts, "wait", wait, "err", err)
		if serr := sleep(ctx, wait); serr != nil {
			return i, fmt.Errorf("%w (then %v)", err, serr)
		}
		wait *= 2
	}
}

func isAuthError(err error) bool {
	return err != nil && strings.Contains(err.Error(), "unable to authenticate")
}

func (s *SFTP) deliverOnce(ctx context.Context, files []string) error {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	var presented string
	cfg := &ssh.ClientConfig{
		User: s.User,
		Auth: []ssh.AuthMethod{ssh.PublicKeys(s.Signer)},
		HostKeyCallback: func(host string, remote net.Addr, key ssh.PublicKey) error {
			if err := s.HostKey(host, remote, key); err != nil {
				presented = key.Type() + " " + ssh.FingerprintSHA256(key)
				return err
			}
			return nil
		},
		Timeout: timeout,
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", s.Address)
	if err != nil {
		return fmt.Errorf("gar delivery to %s: %w", s.Target(), err)
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	c, chans, reqs, err := ssh.NewClientConn(conn, s.Address, cfg)
	if err != nil {
		conn.Close()
		if presented != "" {
			return fmt.Errorf("gar delivery to %s: the server presented host key %s, which gar.sftp.known_hosts does not pin: delivery stopped (ask the GAR whether its key changed before editing known_hosts): %w",
				s.Target(), presented, ErrHostKey)
		}
		return fmt.Errorf("gar delivery to %s: %w", s.Target(), err)
	}
	_ = conn.SetDeadline(time.Time{})
	client := ssh.NewClient(c, chans, reqs)
	defer client.Close()
	stop := context.AfterFunc(ctx, func() { client.Close() })
	defer stop()
	sc, err := sftp.NewClient(client)
	if err != nil {
		return fmt.Errorf("gar delivery to %s: sftp: %w", s.Target(), err)
	}
	defer sc.Close()
	for _, f := range files {
		if err := s.upload(sc, f); err != nil {
			return err
		}
	}
	return nil
}

func (s *SFTP) upload(sc *sftp.Client, local string) error {
	name := filepath.Base(local)
	dst := path.Join(s.Dir, name)
	tmp := path.Join(s.Dir, "."+name+".part")
	in, err := os.Open(local)
	if err != nil {
		return fmt.Errorf("gar delivery: %w", err)
	}
	defer in.Close()
	out, err := sc.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return fmt.Errorf("gar delivery to %s: create %s: %w", s.Target(), tmp, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("gar delivery to %s: write %s: %w", s.Target(), tmp, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("gar delivery to %s: write %s: %w", s.Target(), tmp, err)
	}
	_ = sc.Remove(dst) // a previous attempt's; plain SFTP rename does not replace
	if err := sc.Rename(tmp, dst); err != nil {
		return fmt.Errorf("gar delivery to %s: rename %s: %w", s.Target(), tmp, err)
	}
	return nil
}
