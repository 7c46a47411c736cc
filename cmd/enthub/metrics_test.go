package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/aaf"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/idp/demorp"
	goldap "github.com/go-ldap/ldap/v3"
)

// series reads the value of one exposition line, such as
// `enthub_sso_sessions` or `x_total{a="b"}`; -1 when absent.
func series(t *testing.T, body, name string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// login posts the portal's login form as a browser would.
func login(t *testing.T, c *http.Client, base, user, pw string) int {
	t.Helper()
	_, page := get(t, c, base+"/login")
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the login page: %s", page)
	}
	resp, err := c.PostForm(base+"/login", url.Values{"csrf": {m[1]}, "login": {user}, "password": {pw}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// What an operator alerts on is on /metrics after real actions: logins
// and failures by upstream and protocol, live sessions, the last AAF
// import, LDAP operations; served on http.metrics_listen, off the public
// listener. The log and `enthub audit` name the accounts by login.
func TestOperatorMetricsLogsAndAudit(t *testing.T) {
	ctx := context.Background()
	db := migratedDB(t)
	delivery := filepath.Join(t.TempDir(), "aaf")
	if _, err := aaf.Generate(ctx, aaf.GenerateOptions{Out: delivery, Students: 40, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	beforeImport := time.Now()
	if code, out, errs := enthub(t, nil, "aaf", "import", delivery, "--db", db); code != 0 {
		t.Fatalf("aaf import = %d %s %s", code, out, errs)
	}
	store, err := sqlstore.Open(ctx, db, sqlstore.Options{Existing: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := demorp.SeedGuest(ctx, store, time.Now()); err != nil {
		t.Fatal(err)
	}
	guest, err := store.AccountByLogin(ctx, demorp.GuestLogin)
	store.Close()
	if err != nil {
		t.Fatal(err)
	}

	metricsAddr, ldapAddr := freeAddr(t), freeAddr(t)
	s := startServe(t, []string{"ENTHUB_DB=" + db, "ENTHUB_HTTP_LISTEN=127.0.0.1:0", "ENTHUB_LDAP_LISTEN=" + ldapAddr,
		"ENTHUB_HTTP_METRICS_LISTEN=" + metricsAddr}, 30*time.Second)
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i := range 3 {
		if code := login(t, browser, s.base, demorp.GuestLogin, "wrong"); code != http.StatusUnauthorized {
			t.Fatalf("wrong password %d = %d", i+1, code)
		}
	}
	if code := login(t, browser, s.base, demorp.GuestLogin, demorp.GuestPassword); code != http.StatusTooManyRequests {
		t.Fatalf("fourth attempt at once = %d, want 429", code)
	}
	time.Sleep(1100 * time.Millisecond) // the first backoff
	if code := login(t, browser, s.base, demorp.GuestLogin, demorp.GuestPassword); code != http.StatusSeeOther {
		t.Fatalf("login after the backoff = %d", code)
	}

	conn, err := goldap.DialURL("ldap://" + ldapAddr)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Bind("cn=nobody,dc=enthub", "x"); err == nil {
		t.Fatal("a bind with a wrong password passed")
	}
	if _, err := conn.Search(goldap.NewSearchRequest("", goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"namingContexts"}, nil)); err != nil {
		t.Fatalf("rootDSE: %v", err)
	}
	conn.Close()

	if code, _ := get(t, http.DefaultClient, s.base+"/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics on the public listener = %d, want 404 when http.metrics_listen is set", code)
	}
	var body string
	want := map[string]float64{
		`enthub_sso_logins_total{outcome="refused",protocol="portal",upstream="local"}`: 4,
		`enthub_sso_logins_total{outcome="ok",protocol="portal",upstream="local"}`:      1,
		`enthub_sso_sessions`: 1,
		`enthub_ldap_operation_duration_seconds_count{op="bind"}`:   1,
		`enthub_ldap_operation_duration_seconds_count{op="search"}`: 1,
		`enthub_ldap_bind_failures_total`:                           1,
	}
	// LDAP answers before it counts: give the observer a moment.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var code int
		code, body = get(t, http.DefaultClient, "http://"+metricsAddr+"/metrics")
		if code != 200 {
			t.Fatalf("metrics listener = %d", code)
		}
		ok := true
		for name, v := range want {
			ok = ok && series(t, body, name) == v
		}
		if ok || time.Now().After(deadline) {
			break
		}
	}
	for name, v := range want {
		if got := series(t, body, name); got != v {
			t.Errorf("%s = %v, want %v", name, got, v)
		}
	}
	last := series(t, body, "enthub_aaf_last_import_timestamp_seconds")
	if last < float64(beforeImport.Add(-time.Second).Unix()) || last > float64(time.Now().Unix()) {
		t.Errorf("enthub_aaf_last_import_timestamp_seconds = %v, want the import's time (%d)", last, beforeImport.Unix())
	}
	if code := s.stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}

	// The log names the account by login: the throttled attempt, the login.
	var throttled, ok bool
	for _, line := range strings.Split(s.stderr.String(), "\n") {
		if !strings.Contains(line, "msg=login ") || !strings.Contains(line, "login="+demorp.GuestLogin) {
			continue
		}
		throttled = throttled || strings.Contains(line, "reason=throttled")
		ok = ok || strings.Contains(line, "outcome=ok") && strings.Contains(line, "account="+guest.ID)
	}
	if !throttled || !ok {
		t.Errorf("log lines of the throttled attempt (%v) or the login (%v) lack the login:\n%s", throttled, ok, s.stderr.String())
	}

	// enthub audit reads the same without SQL.
	code, out, errs := enthub(t, nil, "audit", "--account", demorp.GuestLogin, "--json", "--db", db)
	var events []auditEvent
	if code != 0 || json.Unmarshal([]byte(out), &events) != nil {
		t.Fatalf("audit --json = %d %q %q", code, out, errs)
	}
	var reasons []string
	for _, e := range events {
		if e.Type == "login" {
			reasons = append(reasons, e.Outcome+":"+e.Reason)
		}
		if e.Login != demorp.GuestLogin || e.AccountID != guest.ID {
			t.Errorf("audit event %+v: want login %s, account %s", e, demorp.GuestLogin, guest.ID)
		}
	}
	// The throttled attempt names no account (none was looked up): the
	// account filter leaves it out, the login filter of the text keeps it.
	if got := strings.Join(reasons, ","); got != "refused:wrong password,refused:wrong password,refused:wrong password,ok:" {
		t.Errorf("audit of %s = %s", demorp.GuestLogin, got)
	}
	code, out, _ = enthub(t, nil, "audit", "--since", "1h", "--type", "login", "--db", db)
	if code != 0 || strings.Count(out, "login="+demorp.GuestLogin) != 5 || !strings.Contains(out, `reason=throttled`) {
		t.Errorf("audit --since 1h --type login = %d\n%s", code, out)
	}
	if code, out, _ := enthub(t, nil, "audit", "--since", "2h", "--limit", "1", "--db", db); code != 0 || strings.Count(out, "\n") != 1 {
		t.Errorf("audit --limit 1 = %d %q", code, out)
	}
	if code, out, _ := enthub(t, nil, "audit", "--since", time.Now().Add(time.Hour).Format("2006-01-02T15:04:05Z07:00"), "--db", db); code != 0 || out != "" {
		t.Errorf("audit since the future = %d %q", code, out)
	}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--since", "yesterday"}, 2, `--since: "yesterday": want a duration such as 24h or 7d`},
		{[]string{"--account", "nobody"}, 1, `no account with login or id "nobody"`},
		{[]string{"--limit", "0"}, 2, "--limit 0"},
	} {
		if code, _, errs := enthub(t, nil, append([]string{"audit", "--db", db}, tc.args...)...); code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("audit %v = %d %q, want %d %q", tc.args, code, errs, tc.code, tc.msg)
		}
	}
}
