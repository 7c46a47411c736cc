package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/test/peer"
)

// served is an `enthub serve` running in the test process.
type served struct {
	base   string // http://127.0.0.1:PORT
	stderr *syncBuffer
	stop   func() int // cancels and returns the exit code
}

// serveEnv is the environment of a serve on loopback ports chosen by the
// kernel, without LDAP unless the test adds it.
func serveEnv(db string, extra ...string) []string {
	return append([]string{"ENTHUB_DB=" + db, "ENTHUB_HTTP_LISTEN=127.0.0.1:0", "ENTHUB_LDAP_ENABLED=false",
		"ENTHUB_LOG_LEVEL=debug"}, extra...)
}

var startedRE = regexp.MustCompile(`msg="enthub started".* http=(127\.0\.0\.1:\d+)`)

// startServe runs serve with env and waits until it listens; when it
// exits first, the test fails with its log.
func startServe(t *testing.T, env []string, within time.Duration) *served {
	t.Helper()
	s, code, log := tryServe(t, env, within)
	if s == nil {
		t.Fatalf("serve exited %d before listening: %s", code, log)
	}
	return s
}

// tryServe is startServe for a serve that may exit: it returns nil, the
// exit code and the log then.
func tryServe(t *testing.T, env []string, within time.Duration) (*served, int, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	errb := &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve"}, strings.NewReader(""), &out, errb, env) }()
	deadline := time.After(within)
	for {
		if m := startedRE.FindStringSubmatch(errb.String()); m != nil {
			s := &served{base: "http://" + m[1], stderr: errb}
			stopped := false
			code := 0
			s.stop = func() int {
				if !stopped {
					stopped = true
					cancel()
					select {
					case code = <-done:
					case <-time.After(20 * time.Second):
						t.Fatalf("serve did not stop: %s", errb.String())
					}
				}
				return code
			}
			t.Cleanup(func() { s.stop() })
			return s, 0, ""
		}
		select {
		case code := <-done:
			cancel()
			return nil, code, errb.String()
		case <-deadline:
			cancel()
			t.Fatalf("serve did not start within %s: %s", within, errb.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// proxy forwards connections on addr to target, from when it is called:
// a database that comes up late, as seen from enthub.
func proxy(t *testing.T, addr, target string) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Errorf("proxy on %s: %v", addr, err) // may run on a timer's goroutine: no Fatal
		return
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				u, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer u.Close()
				go io.Copy(u, c)
				io.Copy(c, u)
			}()
		}
	}()
}

// serve started before PostgreSQL waits for it, with a logged backoff,
// instead of exiting: the boot order of a machine does not matter. Past
// db_connect_timeout it gives up with the reason.
func TestServeWaitsForPostgresStartingLate(t *testing.T) {
	pg := peer.Postgres(t)
	if code, _, errs := enthub(t, nil, "db", "migrate", "--db", pg); code != 0 {
		t.Fatalf("db migrate = %d %s", code, errs)
	}
	u, err := url.Parse(pg)
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	late := freeAddr(t)
	u.Host = late
	time.AfterFunc(1500*time.Millisecond, func() { proxy(t, late, target) })
	start := time.Now()
	s := startServe(t, serveEnv(u.String(), "ENTHUB_DB_CONNECT_TIMEOUT=30s"), 40*time.Second)
	log := s.stderr.String()
	if took := time.Since(start); took < 1500*time.Millisecond {
		t.Errorf("serve started in %s, before the database was up", took)
	}
	if n := strings.Count(log, `msg="database not reachable yet, retrying"`); n < 2 || !strings.Contains(log, `msg="database reachable"`) ||
		!strings.Contains(log, "retry_in=250ms") || !strings.Contains(log, "retry_in=500ms") {
		t.Errorf("the wait is not logged as a backoff (%d retries):\n%s", n, log)
	}
	resp, err := http.Get(s.base + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz after the late start: %v %v", resp, err)
	}
	resp.Body.Close()
	if code := s.stop(); code != 0 {
		t.Errorf("serve exited %d", code)
	}

	// Nothing ever comes: serve gives up after the timeout, exit 1.
	u.Host = freeAddr(t)
	start = time.Now()
	s, code, log := tryServe(t, serveEnv(u.String(), "ENTHUB_DB_CONNECT_TIMEOUT=1s"), 20*time.Second)
	if s != nil || code != 1 || !strings.Contains(log, "gave up after") || !strings.Contains(log, u.Host) {
		t.Errorf("serve without a database = %v, %d:\n%s", s != nil, code, log)
	}
	if took := time.Since(start); took < time.Second || took > 5*time.Second {
		t.Errorf("serve gave up after %s, want about db_connect_timeout (1s)", took)
	}
	// 0 fails at once.
	s, code, log = tryServe(t, serveEnv(u.String(), "ENTHUB_DB_CONNECT_TIMEOUT=0s"), 20*time.Second)
	if s != nil || code != 1 || strings.Contains(log, "retrying") || !strings.Contains(log, "connect to") {
		t.Errorf("serve with db_connect_timeout 0 = %v, %d:\n%s", s != nil, code, log)
	}
}
