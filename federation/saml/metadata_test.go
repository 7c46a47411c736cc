package saml

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestMetadataRefreshAndExpiry(t *testing.T) {
	h := newHarness(t, nil)
	now := time.Now()
	h.idp.MetadataValidUntil = now.Add(2 * time.Hour)
	h.idp.MetadataCacheDuration = 30 * time.Minute
	md, err := parseMetadata(h.idp.Metadata(), "", nil, now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !md.refreshAt.Equal(now.Add(30 * time.Minute)) {
		t.Errorf("refresh at %s, want now + cacheDuration", md.refreshAt)
	}
	h.idp.MetadataValidUntil = now.Add(-time.Minute)
	if _, err := parseMetadata(h.idp.Metadata(), "", nil, now, 24*time.Hour); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired metadata = %v", err)
	}
}

func TestUnsignedMetadataRefusedWhenSignerConfigured(t *testing.T) {
	h := newHarness(t, nil)
	if _, err := parseMetadata(h.idp.Metadata(), "", h.k.idpCert, time.Now(), time.Hour); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Errorf("unsigned metadata with metadata_signing_cert = %v", err)
	}
}

// An IdP whose metadata URL hangs when a refresh is due must not queue
// every login behind one timeout after another: the first failed refresh
// keeps the previous metadata and postpones the next attempt, so logins
// started meanwhile wait for at most one timeout, and those after it none.
func TestHungMetadataRefreshDoesNotQueueLogins(t *testing.T) {
	h := newHarness(t, nil)
	h.idp.MetadataCacheDuration = time.Minute
	var hang atomic.Bool
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hang.Load() {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.Write(h.idp.Metadata())
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	var mu sync.Mutex
	now := h.now
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	cfg := h.c.cfg
	cfg.IdPMetadata, cfg.IdPMetadataURL = nil, srv.URL
	timeout := 300 * time.Millisecond
	c, err := New(context.Background(), cfg, Deps{Store: h.store, Now: clock, Rand: rand.Reader, HTTPClient: &http.Client{Timeout: timeout}})
	if err != nil {
		t.Fatal(err)
	}
	hang.Store(true)
	mu.Lock()
	now = now.Add(2 * time.Minute) // the refresh is due
	mu.Unlock()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := httptest.NewRecorder()
			errs <- c.Start(context.Background(), w, httptest.NewRequest("GET", "https://ent.test/login/educonnect", nil), "/portal")
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("login with the previous metadata still valid: %v", err)
		}
	}
	if took := time.Since(start); took > 3*timeout {
		t.Errorf("10 logins took %v with the metadata URL hanging (timeout %v): they queued behind one refresh after another", took, timeout)
	}
	start = time.Now()
	w := httptest.NewRecorder()
	if err := c.Start(context.Background(), w, httptest.NewRequest("GET", "https://ent.test/login/educonnect", nil), "/portal"); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > timeout/2 {
		t.Errorf("a login right after the failed refresh waited %v: the refresh was tried again at once", took)
	}
}
