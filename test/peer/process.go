package peer

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. Another process can take
// it before the caller binds it; the daemon starters here retry with a new port when that happens.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	return p
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Process is a daemon started for one test: its stdout and stderr go to a log file in
// t.TempDir(), it is stopped in t.Cleanup, and the tail of its logs is printed when the test failed.
type Process struct {
	Name    string
	Cmd     *exec.Cmd
	LogPath string   // stdout and stderr of the process
	Logs    []string // more log files to dump on failure (e.g. Apache's error log)

	done    chan struct{}
	waitErr error
	stop    sync.Once
}

// StartProcess starts cmd (not yet started) as a daemon in the foreground. The process gets its
// own process group and SIGTERM when the test binary dies, so no daemon outlives a crashed run.
func StartProcess(t testing.TB, name string, cmd *exec.Cmd) *Process {
	t.Helper()
	p, err := startProcess(t.TempDir(), name, cmd)
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("%s", p.Tail(60))
		}
	})
	return p
}

func startProcess(logDir, name string, cmd *exec.Cmd) (*Process, error) {
	f, err := os.CreateTemp(logDir, sanitize(name)+"-*.log")
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "$ %s\n", strings.Join(cmd.Args, " "))
	cmd.Stdout, cmd.Stderr = f, f
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	p := &Process{Name: name, Cmd: cmd, LogPath: f.Name(), done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// Exited reports whether the process has ended, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.waitErr
	default:
		return false, nil
	}
}

// Done is closed when the process has ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// Stop sends SIGTERM to the process group, waits up to 15 s, then SIGKILLs it. It is idempotent.
func (p *Process) Stop() {
	p.stop.Do(func() {
		pgid := p.Cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.done
		}
		// A daemon that forked children into its group (Apache) may leave some behind.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	})
}

// Tail returns the last n lines of each log of the process, headed by the file name.
func (p *Process) Tail(n int) string {
	var b strings.Builder
	for _, path := range append([]string{p.LogPath}, p.Logs...) {
		fmt.Fprintf(&b, "---- %s: last %d lines of %s ----\n", p.Name, n, path)
		b.WriteString(tailFile(path, n))
	}
	if exited, err := p.Exited(); exited {
		fmt.Fprintf(&b, "---- %s exited: %v ----\n", p.Name, err)
	}
	return b.String()
}

func tailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)\n", err)
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n"))) + "\n"
}

// waitTCP waits until something accepts connections on addr, the process exits, or the timeout.
func waitTCP(p *Process, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if exited, werr := p.Exited(); exited {
			return fmt.Errorf("%s exited before listening on %s: %v", p.Name, addr, werr)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening on %s after %s", p.Name, addr, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// portTaken tells from a daemon's log whether it failed because its port was in use.
func portTaken(p *Process) bool {
	data, _ := os.ReadFile(p.LogPath)
	for _, path := range p.Logs {
		more, _ := os.ReadFile(path)
		data = append(data, more...)
	}
	s := strings.ToLower(string(data))
	return strings.Contains(s, "address already in use")
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// RepoRoot returns the folder that holds enthub's go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	rootOnce.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			rootErr = err
			return
		}
		for {
			data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
			if err == nil && bytes.Contains(data, []byte("module github.com/enthub/enthub")) {
				rootDir = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				rootErr = errors.New("no go.mod of github.com/enthub/enthub above the working directory")
				return
			}
			dir = parent
		}
	})
	if rootErr != nil {
		t.Fatalf("repo root: %v", rootErr)
	}
	return rootDir
}

// SharedFile returns the path of rel inside the project's shared/ folder: $ENTHUB_SHARED if set,
// else shared/ beside the repository (CI clones the repository with shared/ beside it). A missing
// file stops the test through Need.
func SharedFile(t testing.TB, rel string) string {
	t.Helper()
	base := os.Getenv("ENTHUB_SHARED")
	if base == "" {
		base = filepath.Join(filepath.Dir(RepoRoot(t)), "shared")
	}
	p := filepath.Join(base, filepath.FromSlash(rel))
	_, err := os.Stat(p)
	Need(t, "shared/"+rel, err == nil, fmt.Sprintf("%v (shared/ is expected beside the repository, or set ENTHUB_SHARED)", err))
	return p
}

// PublicTempDir returns a new folder that daemons running as other users (Apache's www-data
// workers, PostgreSQL's postgres) can read, removed when the test ends. t.TempDir() is not: its
// folders are 0700. The name is short (under /tmp), so a Unix socket path fits in it.
func PublicTempDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "enthub-"+prefix+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// abs resolves a path relative to the repository root.
func abs(t testing.TB, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(RepoRoot(t), p)
}
