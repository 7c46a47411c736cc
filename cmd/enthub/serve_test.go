package main

import (
	"context"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
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
		t.Fatalf("proxy on %s: %v", addr, err)
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
