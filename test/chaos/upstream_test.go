package chaos

import (
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/federation"
	"github.com/enthub/enthub/federation/oidc"
	"github.com/enthub/enthub/federation/simulate"
)

// hangingOP is the simulated Entra ID whose token endpoint, once dead is
// set, accepts connections and never answers.
func hangingOP(t testing.TB) (*simulate.OP, func()) {
	t.Helper()
	key, _, err := simulate.KeyPair("op")
	if err != nil {
		t.Fatal(err)
	}
	op := &simulate.OP{Key: key, KeyID: "k1", ClientID: "ent", ClientSecret: "s", TenantID: "t1"}
	release := make(chan struct{})
	var once sync.Once
	var dead bool
	var mu sync.Mutex
	srv := httptest.NewServer(nil)
	op.Issuer = srv.URL + "/t1/v2.0"
	h := op.Handler()
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		d := dead
		mu.Unlock()
		if d && strings.HasSuffix(r.URL.Path, "/token") {
			// Read the request first: the server notices a client that
			// gave up only once the body is consumed, and the test counts
			// the client's goroutines, not this server's.
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		h.ServeHTTP(w, r)
	})
	t.Cleanup(srv.Close)
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	return op, func() { mu.Lock(); dead = true; mu.Unlock() }
}

// A dead upstream (its token endpoint hangs): every callback gives up at
// the client's timeout with a clear "unavailable" refusal naming the
// endpoint, concurrent logins do not pile goroutines up, and the count
// comes back to where it was once they gave up.
func TestDeadUpstreamTimesOutWithoutPileUp(t *testing.T) {
	op, kill := hangingOP(t)
	st, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "f.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// The connector's own default client (30 s) in the long version; a
	// 2 s one in the short version, the behaviour being the same.
	var client *http.Client
	timeout := 30 * time.Second
	if !long() {
		timeout = 2 * time.Second
		client = &http.Client{Timeout: timeout}
	}
	c, err := oidc.New(context.Background(), oidc.Config{ID: "eduprovence", Issuer: op.Issuer, ClientID: "ent", ClientSecret: "s",
		RedirectURL: "https://ent.test/federation/eduprovence/callback", SubjectClaim: "oid", TenantID: "t1"},
		oidc.Deps{Store: st, Now: time.Now, Rand: rand.Reader, HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	kill()
	runtime.GC()
	base := runtime.NumGoroutine()
	const logins = 100
	var wg sync.WaitGroup
	var mu sync.Mutex
	var slowest time.Duration
	reasons := map[federation.Reason]int{}
	var sample error
	for range logins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := httptest.NewRecorder()
			if err := c.Start(context.Background(), w, httptest.NewRequest("GET", "https://ent.test/login/eduprovence", nil), "/"); err != nil {
				t.Error(err)
				return
			}
			loc, _ := url.Parse(w.Header().Get("Location"))
			cb := httptest.NewRequest("GET", "https://ent.test/federation/eduprovence/callback?code=x&state="+url.QueryEscape(loc.Query().Get("state")), nil)
			for _, ck := range w.Result().Cookies() {
				cb.AddCookie(ck)
			}
			start := time.Now()
			_, _, err := c.Callback(context.Background(), cb)
			took := time.Since(start)
			mu.Lock()
			defer mu.Unlock()
			slowest = max(slowest, took)
			reasons[federation.ReasonOf(err)]++
			if sample == nil {
				sample = err
			}
		}()
	}
	time.Sleep(timeout / 2)
	during := runtime.NumGoroutine() - base
	wg.Wait()
	settled := waitFor(5*time.Second, func() bool { return runtime.NumGoroutine() <= base+5 })
	after := runtime.NumGoroutine() - base
	figure(t, "%d logins against a hanging token endpoint: each refused after at most %v (client timeout %v), reasons %v; goroutines +%d while waiting, +%d after",
		logins, slowest.Round(time.Millisecond), timeout, reasons, during, after)
	if reasons[federation.ReasonUnavailable] != logins {
		t.Errorf("refusals by reason %v, want all %q; e.g. %v", reasons, federation.ReasonUnavailable, sample)
	}
	if sample != nil && !strings.Contains(sample.Error(), "/token") {
		t.Errorf("the refusal does not name the endpoint: %v", sample)
	}
	if slowest > timeout+2*time.Second {
		t.Errorf("a callback took %v, past the client timeout %v", slowest, timeout)
	}
	if during > logins*8 {
		t.Errorf("%d goroutines for %d waiting logins", during, logins)
	}
	if settled < 0 {
		var b strings.Builder
		_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
		t.Errorf("%d goroutines left over after every login gave up:\n%.3000s", after, b.String())
	}
}
