package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

type flakyStore struct{ down atomic.Bool }

func (f *flakyStore) Ping(context.Context) error {
	if f.down.Load() {
		return errors.New("database unreachable: connection refused")
	}
	return nil
}

func start(t *testing.T, s *Server) (string, context.CancelFunc, chan error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	t.Cleanup(cancel)
	return "http://" + l.Addr().String(), cancel, done
}

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestReadinessFollowsTheStoreAndRecovers(t *testing.T) {
	store := &flakyStore{}
	base, _, _ := start(t, New(Options{Store: store, Version: "test"}))
	if code, _, _ := get(t, base+"/readyz"); code != 200 {
		t.Fatalf("readyz with a healthy store = %d", code)
	}
	store.down.Store(true)
	code, body, _ := get(t, base+"/readyz")
	if code != 503 || !strings.Contains(body, "connection refused") {
		t.Fatalf("readyz with the store down = %d %q, want 503 with the reason", code, body)
	}
	if code, _, _ := get(t, base+"/healthz"); code != 200 {
		t.Errorf("healthz must stay 200 while the store is down (no crash loop), got %d", code)
	}
	store.down.Store(false)
	if code, _, _ := get(t, base+"/readyz"); code != 200 {
		t.Errorf("readyz after the store came back = %d, want 200", code)
	}
	_, metrics, _ := get(t, base+"/metrics")
	for _, want := range []string{`enthub_store_errors_total 1`, `enthub_build_info{version="test"} 1`, `enthub_http_requests_total{code="5xx",method="GET",route="GET /readyz"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestRequestIDEchoedOrMinted(t *testing.T) {
	base, _, _ := start(t, New(Options{}))
	_, _, h := get(t, base+"/healthz")
	if len(h.Get("X-Request-Id")) != 16 {
		t.Errorf("minted request id = %q", h.Get("X-Request-Id"))
	}
	req, _ := http.NewRequest("GET", base+"/healthz", nil)
	req.Header.Set("X-Request-Id", "abc-123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Request-Id") != "abc-123" {
		t.Errorf("request id not echoed: %q", resp.Header.Get("X-Request-Id"))
	}
}

func TestShutdownDrainsInFlightRequests(t *testing.T) {
	s := New(Options{ShutdownTimeout: 5 * time.Second})
	started := make(chan struct{})
	s.Mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "finished")
	})
	base, cancel, done := start(t, s)
	result := make(chan string, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			result <- "error: " + err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		result <- string(b)
	}()
	<-started
	cancel() // SIGTERM arrives while /slow runs
	if got := <-result; got != "finished" {
		t.Errorf("in-flight request got %q, want it drained to completion", got)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve returned %v after a clean drain", err)
	}
}

func TestShutdownIsBounded(t *testing.T) {
	s := New(Options{ShutdownTimeout: 200 * time.Millisecond})
	started := make(chan struct{})
	release := make(chan struct{})
	s.Mux.HandleFunc("GET /stuck", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
	})
	defer close(release)
	base, cancel, done := start(t, s)
	go http.Get(base + "/stuck")
	<-started
	cancel()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "cut after") {
			t.Errorf("Serve = %v, want an error saying requests were cut", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("shutdown not bounded")
	}
}

func TestClientAddressFromTrustedProxiesOnly(t *testing.T) {
	s := New(Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	tests := []struct {
		peer, xff, want string
	}{
		{"10.0.0.5:4000", "203.0.113.9", "203.0.113.9:0"},
		{"10.0.0.5:4000", "198.51.100.1, 203.0.113.9, 10.0.0.7", "203.0.113.9:0"}, // rightmost untrusted hop
		{"192.0.2.1:4000", "203.0.113.9", "192.0.2.1:4000"},                       // not a proxy: header ignored
		{"10.0.0.5:4000", "", "10.0.0.5:4000"},
		{"10.0.0.5:4000", "not-an-ip", "10.0.0.5:4000"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.peer
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		if got := s.clientAddr(r); got != tt.want {
			t.Errorf("peer %s XFF %q → %s, want %s", tt.peer, tt.xff, got, tt.want)
		}
	}
}

// Go's profiles are served only where the operator asked for them: on the
// metrics listener with Pprof, never on the public one, and not on the
// metrics listener without it.
func TestProfilesOnlyOnTheMetricsListenerWhenAsked(t *testing.T) {
	serveMetrics := func(s *Server) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		go s.ServeMetrics(ctx, l)
		return "http://" + l.Addr().String()
	}
	for _, tc := range []struct {
		pprof bool
		want  int
	}{{true, http.StatusOK}, {false, http.StatusNotFound}} {
		s := New(Options{SeparateMetrics: true, Pprof: tc.pprof})
		public, _, _ := start(t, s)
		metrics := serveMetrics(s)
		if code, _, _ := get(t, metrics+"/debug/pprof/heap"); code != tc.want {
			t.Errorf("pprof %v: metrics listener's /debug/pprof/heap: %d, want %d", tc.pprof, code, tc.want)
		}
		if code, body, _ := get(t, metrics+"/metrics"); code != http.StatusOK || !strings.Contains(body, "go_memstats_heap_alloc_bytes") {
			t.Errorf("pprof %v: /metrics: %d", tc.pprof, code)
		}
		if code, _, _ := get(t, public+"/debug/pprof/heap"); code != http.StatusNotFound {
			t.Errorf("pprof %v: public listener's /debug/pprof/heap: %d, want 404", tc.pprof, code)
		}
	}
}
