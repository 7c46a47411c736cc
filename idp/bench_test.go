package idp

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/test/peer"
)

// benchFixture is a fixture on SQLite, or on PostgreSQL when
// ENTHUB_BENCH_PG=1.
func benchFixture(b *testing.B, mutate ...func(*Config)) *fixture {
	if os.Getenv("ENTHUB_BENCH_PG") == "1" {
		u := peer.Postgres(b)
		mutate = append(mutate, func(*Config) {})
		return newFixtureAt(b, u, mutate...)
	}
	return newFixture(b, mutate...)
}

// startClock notes the wall clock and the CPU time the process used so
// far; rate reports, from there, operations per second and the CPU time
// per operation (all goroutines, the audit writer's and the database's
// included), which a busy machine changes much less than the rate.
func startClock() benchClock {
	return benchClock{wall: time.Now(), cpu: cpuTime()}
}

type benchClock struct {
	wall time.Time
	cpu  time.Duration
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func rate(b *testing.B, start benchClock) {
	b.ReportMetric(float64(b.N)/time.Since(start.wall).Seconds(), "ops/s")
	b.ReportMetric(float64((cpuTime()-start.cpu).Microseconds())/float64(b.N), "cpu-µs/op")
}

// BenchmarkCASServiceValidate measures /cas/serviceValidate server-side
// (ticket consumed, attributes rendered, audit event written), two
// goroutines per core. The tickets are issued beforehand as /cas/login
// issues them (with what the validation releases); BenchmarkCASLogin
// measures that side.
func BenchmarkCASServiceValidate(b *testing.B) {
	f := benchFixture(b)
	c := f.loginAs("emma.martin")
	sess := f.p.currentSession(reqWithCookies(f, c))
	ctx := context.Background()
	svc := f.p.reg().byID["pronote"]
	tickets := make([]string, b.N)
	for i := range tickets {
		sess.ExpiresAt = f.clock.Now().Add(time.Hour) // outlive the run: the fixture's clock stands still
		t, err := f.p.issueServiceTicket(ctx, sess, svc, pronoteURL, false)
		if err != nil {
			b.Fatal(err)
		}
		tickets[i] = t.ID
	}
	h := f.p.casValidate(false, false)
	var next atomic.Int64
	var failed atomic.Int64
	b.SetParallelism(2)
	b.ResetTimer()
	start := startClock()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			r := httptest.NewRequest("GET", "/cas/serviceValidate?service="+url.QueryEscape(pronoteURL)+"&ticket="+tickets[i], nil)
			w := httptest.NewRecorder()
			h(w, r)
			if !strings.Contains(w.Body.String(), "<cas:nom>Martin</cas:nom>") {
				failed.Add(1)
			}
		}
	})
	rate(b, start)
	if failed.Load() > 0 {
		b.Fatalf("%d validations failed", failed.Load())
	}
}

// BenchmarkCASLogin measures /cas/login with an SSO session: session
// read, access checked, subject loaded and released into the ticket,
// ticket and reached service stored, redirect with the ticket.
func BenchmarkCASLogin(b *testing.B) {
	f := benchFixture(b)
	c := f.loginAs("emma.martin")
	cookies := reqWithCookies(f, c).Cookies()
	u := "/cas/login?service=" + url.QueryEscape(pronoteURL)
	var failed atomic.Int64
	b.SetParallelism(2)
	b.ResetTimer()
	start := startClock()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest("GET", u, nil)
			for _, ck := range cookies {
				r.AddCookie(ck)
			}
			w := httptest.NewRecorder()
			f.p.casLogin(w, r)
			if w.Code != http.StatusSeeOther || !strings.Contains(w.Header().Get("Location"), "ticket=ST-") {
				failed.Add(1)
			}
		}
	})
	rate(b, start)
	if failed.Load() > 0 {
		b.Fatalf("%d logins failed", failed.Load())
	}
}

// BenchmarkOIDCRefresh measures refresh_token grants through the token
// endpoint (client authenticated, token looked up, rotated with a new
// access token in one transaction, audit event), one rotation chain per
// goroutine, for a client registered with the defaults: the response has
// no ID token (OIDC Core 12.2; see OIDCService.IDTokenOnRefresh).
func BenchmarkOIDCRefresh(b *testing.B) { benchRefresh(b, "") }

// BenchmarkOIDCRefreshWithIDToken is the same for a client that asked for
// an ID token on every refresh (the subject loaded, claims released, the
// token signed), RS256 and ES256.
func BenchmarkOIDCRefreshWithIDToken(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256"} {
		b.Run(alg, func(b *testing.B) { benchRefresh(b, alg) })
	}
}

// benchRefresh runs refreshes for chamilo; alg, if set, makes it ask for
// an ID token on refresh, signed with alg.
func benchRefresh(b *testing.B, alg string) {
	f := benchFixture(b, func(c *Config) {
		if alg != "" {
			c.Services[2].OIDC.IDTokenOnRefresh = true
			c.Services[2].OIDC.IDTokenSignedResponseAlg = alg
		}
	})
	chains := make(chan string, 16)
	for i := 0; i < 4; i++ {
		tr := f.exchange(f.authorize(f.browser(), chamiloAuth()).Query().Get("code"))
		if tr.RefreshToken == "" {
			b.Fatalf("no refresh token: %+v", tr)
		}
		chains <- tr.RefreshToken
	}
	var failed atomic.Int64
	b.SetParallelism(2)
	b.ResetTimer()
	start := startClock()
	b.RunParallel(func(pb *testing.PB) {
		rt := <-chains
		for pb.Next() {
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
			r := httptest.NewRequest("POST", f.base+"/oidc/token", strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.SetBasicAuth("chamilo", "chamilo-secret")
			w := httptest.NewRecorder()
			f.p.oidc.op.ServeHTTP(w, r)
			var tr tokenResponse
			if w.Code != 200 || jsonUnmarshal(w.Body.Bytes(), &tr) != nil || tr.RefreshToken == "" || (tr.IDToken != "") != (alg != "") {
				failed.Add(1)
				continue
			}
			rt = tr.RefreshToken
		}
	})
	rate(b, start)
	if failed.Load() > 0 {
		b.Fatalf("%d refreshes failed", failed.Load())
	}
}

// BenchmarkSAMLSPInitiatedLogin measures a full SP-initiated login with an
// SSO session: AuthnRequest inflated, parsed and checked, replay recorded,
// session read, subject loaded, assertion built from the policy and signed
// (RSA-2048 SHA-256, exclusive C14N; the Response is not signed unless the
// SP's SignResponse says so), service recorded for logout, audit event,
// written as a POST form.
func BenchmarkSAMLSPInitiatedLogin(b *testing.B) {
	sp := testSP(b, false)
	f := samlFixtureOn(b, sp, benchFixture(b, samlService(sp, nil)))
	c := f.loginAs("emma.martin")
	cookies := reqWithCookies(f, c).Cookies()
	urls := make([]string, b.N)
	for i := range urls {
		u, err := sp.MakeRedirectAuthenticationRequest("")
		if err != nil {
			b.Fatal(err)
		}
		urls[i] = u.String()
	}
	var next, failed atomic.Int64
	b.SetParallelism(2)
	b.ResetTimer()
	start := startClock()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest("GET", urls[next.Add(1)-1], nil)
			for _, ck := range cookies {
				r.AddCookie(ck)
			}
			w := httptest.NewRecorder()
			f.p.saml.sso(w, r)
			if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "SAMLResponse") {
				failed.Add(1)
			}
		}
	})
	rate(b, start)
	if failed.Load() > 0 {
		b.Fatalf("%d logins failed", failed.Load())
	}
}

// BenchmarkRSA2048Sign is the anchor: raw RSA-2048 PKCS#1 v1.5 SHA-256
// signatures, as many goroutines as the SAML benchmark.
func BenchmarkRSA2048Sign(b *testing.B) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	sum := sha256.Sum256([]byte("enthub"))
	b.SetParallelism(2)
	b.ResetTimer()
	start := startClock()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:]); err != nil {
				b.Error(err)
			}
		}
	})
	rate(b, start)
}

// TestSessionsStorageFootprint stores 100,000 sessions and reports the
// store's size (ENTHUB_SESSIONS_FOOTPRINT=1; it takes a while).
func TestSessionsStorageFootprint(t *testing.T) {
	if os.Getenv("ENTHUB_SESSIONS_FOOTPRINT") != "1" {
		t.Skip("set ENTHUB_SESSIONS_FOOTPRINT=1 to measure 100,000 sessions")
	}
	dir := t.TempDir()
	dbURL := "sqlite:" + dir + "/db"
	if os.Getenv("ENTHUB_BENCH_PG") == "1" {
		dbURL = peer.Postgres(t)
	}
	s, err := sqlstore.Open(context.Background(), dbURL, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	now := time.Now()
	before, _ := dirSize(dir)
	start := time.Now()
	tx, err := s.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100000; i++ {
		id := hashToken(rand.Text())
		if _, err := tx.ExecContext(ctx, `INSERT INTO sso_sessions (id, account_id, person_id, persona_id, structure_id, profile, upstream, auth_time, created_at, last_seen, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, id, "2b0c7c9e-7a0e-4e55-9f3e-1f7f0f1d2c3b", "2b0c7c9e-7a0e-4e55-9f3e-1f7f0f1d2c3c",
			"2b0c7c9e-7a0e-4e55-9f3e-1f7f0f1d2c3d", "2b0c7c9e-7a0e-4e55-9f3e-1f7f0f1d2c3e", "eleve", "educonnect",
			now.UnixMicro(), now.UnixMicro(), now.UnixMicro(), now.Add(10*time.Hour).UnixMicro()); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var after int64
	if s.Dialect() == "postgres" {
		s.DB().ExecContext(ctx, `VACUUM ANALYZE sso_sessions`)
		s.DB().QueryRowContext(ctx, `SELECT pg_total_relation_size('sso_sessions')`).Scan(&after)
		before = 0
	} else {
		s.DB().ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
		after, _ = dirSize(dir)
	}
	n, _ := s.CountSessions(ctx, now)
	t.Logf("%s: %d sessions: store grew by %.1f MB (%.0f bytes/session) in %s", s.Dialect(), n, float64(after-before)/1e6, float64(after-before)/float64(n), time.Since(start))
}

func dirSize(dir string) (int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, e := range entries {
		if fi, err := e.Info(); err == nil {
			n += fi.Size()
		}
	}
	return n, nil
}
