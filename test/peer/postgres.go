package peer

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
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

	_ "github.com/lib/pq" // PostgreSQL driver for the admin connection
)

// EnvPostgres names the variable test/run.sh sets to the URL of its throwaway cluster.
const EnvPostgres = "ENTHUB_TEST_POSTGRES"

// Postgres returns the URL of a fresh, empty database, dropped when the test ends. The database
// lives on the cluster named by $ENTHUB_TEST_POSTGRES (test/run.sh starts one); without it, the
// first call in a test binary starts a throwaway cluster from the Debian binaries
// (/usr/lib/postgresql/*/bin), which stops when the test binary exits. Without binaries, the
// test stops through Need.
func Postgres(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvPostgres)
	if admin == "" {
		c := ownCluster()
		if c.err != nil {
			t.Fatalf("throwaway PostgreSQL: %v", c.err)
		}
		Need(t, "PostgreSQL", c.url != "", c.skip)
		admin = c.url
	}
	db, err := adminDB(admin)
	if err != nil {
		t.Fatalf("PostgreSQL at %s: %v", redact(admin), err)
	}
	name := "enthub_t_" + randomHex(6)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("CREATE DATABASE %s on %s: %v", name, redact(admin), err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// WITH (FORCE) ends connections the test left open (PostgreSQL 13+).
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("DROP DATABASE %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s: %v", EnvPostgres, err)
	}
	u.Path = "/" + name
	return u.String()
}

var (
	adminMu  sync.Mutex
	adminDBs = map[string]*sql.DB{}
)

// adminDB returns one pooled connection per cluster, kept for the life of the test binary.
func adminDB(u string) (*sql.DB, error) {
	adminMu.Lock()
	defer adminMu.Unlock()
	if db, ok := adminDBs[u]; ok {
		return db, nil
	}
	db, err := sql.Open("postgres", u)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	adminDBs[u] = db
	return db, nil
}

func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return p.Redacted()
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// PostgresBinDir returns the newest /usr/lib/postgresql/*/bin that holds initdb, or "".
func PostgresBinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) < pgMajor(dirs[j]) })
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i]
		}
	}
	return ""
}

func pgMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

type cluster struct {
	url  string // admin URL (database postgres) when running
	skip string // why there is no cluster (peer missing)
	err  error  // the binaries are there but the cluster would not start
}

var (
	clusterOnce sync.Once
	theCluster  cluster
)

func ownCluster() cluster {
	clusterOnce.Do(func() { theCluster = startCluster() })
	return theCluster
}

// startCluster runs initdb and postgres (as the postgres user when we are root, since initdb
// refuses root) in a folder under os.TempDir(). The server gets SIGINT (fast shutdown) when the
// test binary exits, and a reaper process then removes the folder; should the reaper die too,
// the next test binary that starts a cluster removes it.
func startCluster() cluster {
	bin := PostgresBinDir()
	if bin == "" {
		return cluster{skip: "no /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql), and " + EnvPostgres + " is not set"}
	}
	removeStaleClusters()
	var cred *syscall.Credential
	var uid, gid = -1, -1
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return cluster{skip: "running as root, and there is no postgres user to run PostgreSQL as"}
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	dir, err := os.MkdirTemp("", "enthub-pg-go-")
	if err != nil {
		return cluster{err: err}
	}
	fail := func(err error) cluster {
		os.RemoveAll(dir)
		return cluster{err: err}
	}
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fail(err)
	}
	if cred != nil {
		if err := os.Chown(dir, uid, gid); err != nil {
			return fail(err)
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %v\n%s", err, out))
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return fail(err)
		}
		// fsync and synchronous_commit off: a test cluster never survives a crash.
		cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port), "-k", dir,
			"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
			"-c", "full_page_writes=off", "-c", "max_connections=200")
		// Pdeathsig is set after the credentials change in the child, so it survives the setuid.
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGINT}
		logf, err := os.Create(filepath.Join(dir, "server.log"))
		if err != nil {
			return fail(err)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			logf.Close()
			return fail(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); logf.Close(); close(exited) }()
		admin := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, err := adminDB(admin)
			if err == nil {
				startReaper(dir)
				return cluster{url: admin}
			}
			lastErr = err
			select {
			case <-exited:
				lastErr = fmt.Errorf("postgres exited: %s", tailFile(filepath.Join(dir, "server.log"), 20))
			case <-time.After(100 * time.Millisecond):
			}
			if isClosed(exited) || time.Now().After(deadline) {
				break
			}
		}
		if !isClosed(exited) {
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	return fail(lastErr)
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// startReaper starts a detached shell that waits for this test binary and then its postmaster
// to end, and removes the cluster's folder. Its output goes nowhere, so `go test` does not wait
// for it.
func startReaper(dir string) {
	script := `while kill -0 "$1" 2>/dev/null; do sleep 1; done
i=0
while [ -f "$2/data/postmaster.pid" ] && [ $i -lt 60 ]; do sleep 1; i=$((i+1)); done
rm -rf "$2"`
	cmd := exec.Command("/bin/sh", "-c", script, "reaper", strconv.Itoa(os.Getpid()), dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if cmd.Start() == nil {
		go func() { _ = cmd.Wait() }()
	}
}

// removeStaleClusters deletes the folders of clusters whose test binary and server are gone
// (the server gets SIGINT when its test binary dies, see startCluster).
func removeStaleClusters() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "enthub-pg-go-*"))
	for _, d := range dirs {
		// a folder younger than a minute may belong to a binary that has not written owner.pid yet
		if fi, err := os.Stat(d); err != nil || time.Since(fi.ModTime()) < time.Minute {
			continue
		}
		if pidAlive(filepath.Join(d, "owner.pid")) || pidAlive(filepath.Join(d, "data", "postmaster.pid")) {
			continue
		}
		os.RemoveAll(d)
	}
}

// pidAlive reads a pid from the first line of a file and reports whether that process exists.
// A file that cannot be read or parsed counts as no process.
func pidAlive(file string) bool {
	b, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return false
	}
	return syscall.Kill(pid, 0) != syscall.ESRCH
}
