package idp

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/password"
)

func TestPasswordHashRoundTrip(t *testing.T) {
	h, err := password.Hash("s3cret é", rand.Reader, password.Default)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("not a PHC argon2id string: %s", h)
	}
	if ok, err := password.VerifyArgon2id(h, "s3cret é"); !ok || err != nil {
		t.Fatalf("right password refused: %v %v", ok, err)
	}
	if ok, _ := password.VerifyArgon2id(h, "s3cret e"); ok {
		t.Fatal("wrong password accepted")
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA", "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"} {
		if ok, err := password.VerifyArgon2id(bad, "x"); ok || err == nil {
			t.Errorf("malformed hash %q: ok=%v err=%v", bad, ok, err)
		}
	}
	if ok, err := password.VerifyArgon2id(dummyHash, "x"); ok || err != nil {
		t.Fatalf("the dummy hash must be well-formed: %v", err)
	}
}

func TestLoginSetsHttpOnlyLaxCookieAndRecordsSession(t *testing.T) {
	f := newFixture(t)
	c := f.browser()
	_, page := f.get(c, f.base+"/login")
	resp, _ := f.submitLogin(c, page, "emma.martin", testPassword)
	var set string
	for _, h := range resp.Request.Response.Header.Values("Set-Cookie") {
		if strings.HasPrefix(h, "enthub_sso=") {
			set = h
		}
	}
	if !strings.Contains(set, "HttpOnly") || !strings.Contains(set, "SameSite=Lax") || strings.Contains(set, "Secure") {
		t.Fatalf("session cookie on plain http: %q", set)
	}
	ck := f.cookie(c, "enthub_sso")
	s, err := f.store.Session(context.Background(), hashToken(ck.Value), f.clock.Now())
	if err != nil {
		t.Fatalf("session not stored under the cookie's hash: %v", err)
	}
	if s.AccountID != f.ids["eleve.account"] || s.Profile != "eleve" || s.StructureID != f.ids["lycee"] || s.Upstream != "local" {
		t.Fatalf("session: %+v", s)
	}
	if !s.ExpiresAt.Equal(t0.Add(10 * time.Hour)) {
		t.Fatalf("absolute end %s, want login + 10 h", s.ExpiresAt)
	}
	if evs := f.events(EventLogin); len(evs) != 1 || evs[0].Outcome != "ok" || evs[0].AccountID != f.ids["eleve.account"] {
		t.Fatalf("login events: %+v", evs)
	}
}

func TestSessionCookieSecureWhenPublicURLIsHTTPS(t *testing.T) {
	f := newFixture(t)
	f.p.secure = true // as New sets it for an https PublicURL
	w := httptest.NewRecorder()
	f.p.setCookie(w, "enthub_sso", "v", 0)
	if h := w.Header().Get("Set-Cookie"); !strings.Contains(h, "Secure") || !strings.Contains(h, "HttpOnly") || !strings.Contains(h, "SameSite=Lax") {
		t.Fatalf("cookie under https: %q", h)
	}
	p, err := New(context.Background(), Config{PublicURL: "https://ent.example.fr"}, Deps{Directory: f.store, SSO: f.store, Now: f.clock.Now})
	if err != nil || !p.secure {
		t.Fatalf("https PublicURL: secure=%v err=%v", p != nil && p.secure, err)
	}
}

func TestLoginRotatesSessionNoFixation(t *testing.T) {
	f := newFixture(t)
	c := f.loginAs("emma.martin")
	first := f.cookie(c, "enthub_sso").Value
	// Logged in, /login goes straight on; a second login posts the form again.
	page := `name="csrf" value="` + f.p.csrfFor(f.cookie(c, csrfCookie).Value) + `"`
	f.submitLogin(c, page, "emma.martin", testPassword)
	second := f.cookie(c, "enthub_sso").Value
	if first == second {
		t.Fatal("the session cookie did not change at login")
	}
	if _, err := f.store.Session(context.Background(), hashToken(first), f.clock.Now()); err == nil {
		t.Fatal("the pre-login session survived the new login")
	}
}

func TestLoginWithoutCSRFTokenRefused(t *testing.T) {
	f := newFixture(t)
	c := f.browser()
	f.get(c, f.base+"/login") // sets the CSRF cookie
	resp, err := c.PostForm(f.base+"/login", url.Values{"login": {"emma.martin"}, "password": {testPassword}})
	if err != nil {
		t.Fatal(err)
	}
	body(t, resp)
	if resp.StatusCode != http.StatusForbidden || f.cookie(c, "enthub_sso") != nil {
		t.Fatalf("login without CSRF token: status %d, session cookie %v", resp.StatusCode, f.cookie(c, "enthub_sso"))
	}
	// A token from another browser's cookie is refused too.
	other := f.browser()
	_, page := f.get(other, f.base+"/login")
	token := csrfRE.FindStringSubmatch(page)[1]
	resp, _ = c.PostForm(f.base+"/login", url.Values{"csrf": {token}, "login": {"emma.martin"}, "password": {testPassword}})
	body(t, resp)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("login with another browser's CSRF token: status %d", resp.StatusCode)
	}
}

func TestLoginWrongPasswordSaysNothingAboutLogin(t *testing.T) {
	f := newFixture(t)
	c := f.browser()
	_, page := f.get(c, f.base+"/login")
	r1, b1 := f.submitLogin(c, page, "emma.martin", "wrong")
	_, page = f.get(c, f.base+"/login")
	r2, b2 := f.submitLogin(c, page, "nobody.here", "wrong")
	if r1.StatusCode != 401 || r2.StatusCode != 401 || !strings.Contains(b1, LoginErrBadCredentials) || !strings.Contains(b2, LoginErrBadCredentials) {
		t.Fatalf("statuses %d %d", r1.StatusCode, r2.StatusCode)
	}
	evs := f.events(EventLogin)
	if len(evs) != 2 || evs[0].Outcome != "refused" || evs[1].Outcome != "refused" {
		t.Fatalf("refused logins not audited: %+v", evs)
	}
}

func TestLoginExpiredGuestRefused(t *testing.T) {
	f := newFixture(t)
	c := f.browser()
	_, page := f.get(c, f.base+"/login")
	resp, _ := f.submitLogin(c, page, "demo.invite", testPassword)
	if resp.StatusCode != 401 || f.cookie(c, "enthub_sso") != nil {
		t.Fatalf("expired guest: status %d", resp.StatusCode)
	}
	if evs := f.events(EventLogin); len(evs) != 1 || evs[0].Reason != "account expired" {
		t.Fatalf("audit: %+v", evs)
	}
}

func TestLoginRateLimitBackoffThenLockout(t *testing.T) {
	f := newFixture(t)
	c := f.browser()
	try := func(pw string) int {
		_, page := f.get(c, f.base+"/login")
		resp, _ := f.submitLogin(c, page, "emma.martin", pw)
		return resp.StatusCode
	}
	for i := 0; i < 3; i++ { // FreeAttempts
		if s := try("wrong"); s != 401 {
			t.Fatalf("failure %d: status %d", i+1, s)
		}
	}
	if s := try(testPassword); s != http.StatusTooManyRequests {
		t.Fatalf("right password during backoff: status %d, want 429 (not even checked)", s)
	}
	f.clock.Advance(2 * time.Second)
	if s := try("wrong"); s != 401 {
		t.Fatalf("after the 1 s backoff: status %d", s)
	}
	if s := try("wrong"); s != 429 {
		t.Fatalf("backoff must double: status %d", s)
	}
	for i := 0; i < 6; i++ {
		f.clock.Advance(5 * time.Minute)
		try("wrong")
	}
	f.clock.Advance(5 * time.Minute)
	if s := try(testPassword); s != 429 {
		t.Fatalf("after 10 failures the login is locked: status %d", s)
	}
	locked := false
	for _, e := range f.events(EventLogin) {
		locked = locked || e.Reason == "locked"
	}
	if !locked {
		t.Fatal("lockout not audited")
	}
	f.clock.Advance(16 * time.Minute)
	if s := try(testPassword); s >= 400 {
		t.Fatalf("after the lockout: status %d", s)
	}
	if th, _ := f.store.LoginThrottle(context.Background(), "login:emma.martin"); th.Failures != 0 {
		t.Fatalf("a successful login clears the login's count: %+v", th)
	}
}

func TestLoginRateLimitPerIP(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Throttle = ThrottleConfig{IPFactor: 2, FreeAttempts: 3} })
	c := f.browser()
	for i := 0; i < 6; i++ { // 3 × 2 failures spread over many logins
		_, page := f.get(c, f.base+"/login")
		f.submitLogin(c, page, "unknown"+string(rune('a'+i)), "x")
	}
	_, page := f.get(c, f.base+"/login")
	resp, _ := f.submitLogin(c, page, "paul.durand", testPassword)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("address with 6 failures on other logins: status %d", resp.StatusCode)
	}
}

func TestSessionIdleTimeoutEndsSession(t *testing.T) {
	f := newFixture(t)
	c := f.loginAs("emma.martin")
	f.clock.Advance(90 * time.Minute)
	if f.p.currentSession(reqWithCookies(f, c)) == nil {
		t.Fatal("session ended before the idle timeout")
	}
	f.clock.Advance(119 * time.Minute) // activity 90 min ago was recorded
	if f.p.currentSession(reqWithCookies(f, c)) == nil {
		t.Fatal("activity did not extend the idle timeout")
	}
	f.clock.Advance(121 * time.Minute)
	if f.p.currentSession(reqWithCookies(f, c)) != nil {
		t.Fatal("session alive after 2 h idle")
	}
}

func TestSessionAbsoluteTimeoutEndsSession(t *testing.T) {
	f := newFixture(t)
	c := f.loginAs("emma.martin")
	for i := 0; i < 10; i++ {
		f.clock.Advance(59 * time.Minute)
		if i < 9 && f.p.currentSession(reqWithCookies(f, c)) == nil {
			t.Fatalf("session ended after %d min of activity", (i+1)*59)
		}
	}
	f.clock.Advance(11 * time.Minute)
	if f.p.currentSession(reqWithCookies(f, c)) != nil {
		t.Fatal("session alive 10 h after login")
	}
}

func reqWithCookies(f *fixture, c *http.Client) *http.Request {
	r := httptest.NewRequest("GET", f.base+"/", nil)
	u, _ := url.Parse(f.base)
	for _, ck := range c.Jar.Cookies(u) {
		r.AddCookie(ck)
	}
	return r
}

func TestPersonaChoiceRecordedForMultiSchoolTeacher(t *testing.T) {
	f := newFixture(t)
	c := f.browser()
	_, page := f.get(c, f.base+"/login")
	resp, page := f.submitLogin(c, page, "paul.durand", testPassword)
	if resp.Request.URL.Path != "/login/persona" || !strings.Contains(page, "Collège Anatole France") || !strings.Contains(page, "Lycée Jean Zay") {
		t.Fatalf("teacher in two schools not asked to choose: %s\n%s", resp.Request.URL, page)
	}
	personas, _ := f.store.Personas(context.Background(), f.ids["prof"])
	var college string
	for _, pa := range personas {
		if pa.StructureID == f.ids["college"] {
			college = pa.ID
		}
	}
	token := csrfRE.FindStringSubmatch(page)[1]
	if r, _ := c.PostForm(f.base+"/login/persona", url.Values{"persona": {personas[0].ID + "x"}, "csrf": {token}}); r.StatusCode != 400 {
		t.Fatalf("someone else's persona: status %d", r.StatusCode)
	}
	resp, _ = c.PostForm(f.base+"/login/persona", url.Values{"persona": {college}, "csrf": {token}})
	body(t, resp)
	s := f.p.currentSession(reqWithCookies(f, c))
	if s.PersonaID != college || s.StructureID != f.ids["college"] || s.Profile != "enseignant" {
		t.Fatalf("persona not recorded: %+v", s)
	}
	if evs := f.events(EventPersona); len(evs) != 1 || evs[0].StructureID != f.ids["college"] {
		t.Fatalf("persona event: %+v", evs)
	}
}

func TestLogoutNeedsCSRFAndEndsSession(t *testing.T) {
	f := newFixture(t)
	c := f.loginAs("emma.martin")
	resp, err := c.PostForm(f.base+"/logout", url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	body(t, resp)
	if resp.StatusCode != 403 || f.p.currentSession(reqWithCookies(f, c)) == nil {
		t.Fatalf("logout without CSRF: %d", resp.StatusCode)
	}
	_, page := f.get(c, f.base+"/logout")
	token := csrfRE.FindStringSubmatch(page)[1]
	resp, _ = c.PostForm(f.base+"/logout", url.Values{"csrf": {token}})
	body(t, resp)
	if f.cookie(c, "enthub_sso") != nil || len(f.events(EventLogout)) != 1 {
		t.Fatal("logout did not end the session")
	}
}

func TestConfigValidateNamesBadField(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{PublicURL: "ent.example.fr"}, "PublicURL"},
		{Config{PublicURL: "https://e", SessionIdle: 11 * time.Hour}, "SessionIdle"},
		{Config{PublicURL: "https://e", KeySecret: "short"}, "KeySecret"},
		{Config{PublicURL: "https://e", Services: []Service{{ID: "x", Protocol: ProtocolCAS, CAS: CASService{ServicePatterns: []string{"https://x/"}}}}}, "anchored"},
		{Config{PublicURL: "https://e", Services: []Service{{ID: "x", Protocol: ProtocolCAS, CAS: CASService{ServicePatterns: []string{"^https://x/$"}},
			Release: ReleasePolicy{Attributes: []AttributeRule{{Source: "person.password", Name: "pw"}}}}}}, `release.attributes[0].source: "person.password": unknown source; valid sources: account.id, account.login,`},
		{Config{PublicURL: "https://e", Services: []Service{{ID: "x", Protocol: ProtocolOIDC, OIDC: OIDCService{ClientID: "c"}}}}, "oidc.redirect_uris: at least one is required"},
		{Config{PublicURL: "https://e", Services: []Service{{ID: "x", Protocol: ProtocolSAML, SAML: SAMLService{EntityID: "e"}}}}, "saml: exactly one of metadata_xml, metadata_file, metadata_url"},
		{Config{PublicURL: "https://e", Services: []Service{{ID: "x", Protocol: "ldap"}}}, `protocol: "ldap": want cas, oidc or saml`},
		{Config{PublicURL: "https://e", Services: []Service{{ID: "x", Protocol: ProtocolCAS, Profiles: []directory.Profile{"eleves"}, CAS: CASService{ServicePatterns: []string{"^a$"}}}}}, `profiles[0]: "eleves": unknown profile (want eleve, parent,`},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want an error naming %q", tc.cfg.PublicURL, err, tc.want)
		}
	}
	if err := (Config{PublicURL: "https://ent.example.fr", Services: testServices()}).Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
}

func TestPendingRequestExpiredRefused(t *testing.T) {
	f := newFixture(t)
	c := f.browser()
	resp, page := f.get(c, f.base+"/cas/login?service="+url.QueryEscape("https://0451462V.index-education.net/pronote/"))
	req := resp.Request.URL.Query().Get("req")
	if req == "" {
		t.Fatal("no parked request")
	}
	f.clock.Advance(31 * time.Minute)
	resp, body := f.submitLogin(c, page, "emma.martin", testPassword)
	if resp.StatusCode != 400 || !strings.Contains(body, MsgRequestExpired) {
		t.Fatalf("login for an expired request: %d", resp.StatusCode)
	}
	resp, _ = f.get(c, f.base+"/cas/login?resume="+url.QueryEscape(req))
	if resp.StatusCode != 400 {
		t.Fatalf("resume of an expired request: %d", resp.StatusCode)
	}
}

func TestAuditRecordsEveryStep(t *testing.T) {
	f := newFixture(t)
	c := f.browser()
	_, page := f.get(c, f.base+"/login")
	f.submitLogin(c, page, "emma.martin", "wrong")
	_, page = f.get(c, f.base+"/login")
	f.submitLogin(c, page, "emma.martin", testPassword)
	resp, _ := f.get(c, f.base+"/cas/login?service="+url.QueryEscape("https://0451462V.index-education.net/pronote/x"))
	tk, _ := url.Parse(resp.Header.Get("Location"))
	http.Get(f.base + "/cas/serviceValidate?service=" + url.QueryEscape("https://0451462V.index-education.net/pronote/x") + "&ticket=" + tk.Query().Get("ticket"))
	http.Get(f.base + "/cas/serviceValidate?service=" + url.QueryEscape("https://0451462V.index-education.net/pronote/x") + "&ticket=" + tk.Query().Get("ticket"))
	f.get(c, f.base+"/cas/login?service="+url.QueryEscape("https://evil.example.com/"))
	f.get(c, f.base+"/cas/logout")
	want := map[string]string{EventLogin: "refused", EventPersona: "ok", EventTicketIssued: "ok", "cas.ticket.validated": "ok",
		EventTicketRefused: "refused", EventServiceRefused: "refused", EventLogout: "ok"}
	for typ, outcome := range want {
		found := false
		for _, e := range f.events(typ) {
			found = found || e.Outcome == outcome
			if e.Time.IsZero() || (e.Outcome == "ok" && e.AccountID == "") {
				t.Errorf("event %s lacks time or account: %+v", typ, e)
			}
		}
		if !found {
			t.Errorf("no %s event with outcome %s", typ, outcome)
		}
	}
}

func TestPersonaFormWithoutCSRFTokenRefused(t *testing.T) {
	f := newFixture(t)
	c := f.browser()
	_, page := f.get(c, f.base+"/login")
	f.submitLogin(c, page, "paul.durand", testPassword)
	personas, _ := f.store.Personas(context.Background(), f.ids["prof"])
	resp, err := c.PostForm(f.base+"/login/persona", url.Values{"persona": {personas[0].ID}})
	if err != nil {
		t.Fatal(err)
	}
	body(t, resp)
	if resp.StatusCode != http.StatusForbidden || f.p.currentSession(reqWithCookies(f, c)).PersonaID != "" {
		t.Fatalf("persona chosen without CSRF token: %d", resp.StatusCode)
	}
}

// A burst of logins runs no more password checks at once than there are
// cores: each argon2id check holds 19 MiB and a core, so the burst queues
// rather than slowing every check down together (the bound itself is
// tested in directory/password). Every login still succeeds.
func TestPasswordChecksBoundedByCores(t *testing.T) {
	f := newFixture(t)
	if got, cores := f.p.passwords.Concurrency(), runtime.GOMAXPROCS(0); got != cores {
		t.Fatalf("%d password checks may run at once, want %d (the cores)", got, cores)
	}
	const logins = 12
	clients, pages := make([]*http.Client, logins), make([]string, logins)
	for i := range clients {
		clients[i] = f.browser()
		_, pages[i] = f.get(clients[i], f.base+"/login")
	}
	var wg sync.WaitGroup
	codes := make([]int, logins)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := f.submitLogin(clients[i], pages[i], "emma.martin", testPassword)
			codes[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Errorf("login %d: status %d", i, c)
		}
	}
}

// A parked request that cannot be read because the store is down is the
// server's fault: 503, not "request expired" (400), which would send the
// user back to an application that cannot help. An unknown request is
// still 400.
func TestParkedRequestWithStoreDownIs503(t *testing.T) {
	f := newFixture(t)
	c := f.browser()
	resp, _ := f.get(c, f.base+"/cas/login?service="+url.QueryEscape(pronoteURL))
	if resp.Request.URL.Query().Get("req") == "" {
		t.Fatalf("no parked request: %s", resp.Request.URL)
	}
	if resp, _ := f.get(c, f.base+"/login?req=unknown"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("unknown request: status %d, want 400", resp.StatusCode)
	}
	f.store.Close() // the store fails every call from now on
	if resp, page := f.get(c, resp.Request.URL.String()); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("parked request with the store down: status %d, want 503\n%s", resp.StatusCode, page)
	}
	if resp, _ := f.get(c, f.base+"/cas/login?resume=x"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("CAS resume with the store down: status %d, want 503", resp.StatusCode)
	}
}

// The session store failing between the login form and the front's resume
// (PostgreSQL going down then) is the server's fault too: 503, not the
// "request expired" of a request completed by another browser.
func TestResumeWithSessionStoreDownIs503(t *testing.T) {
	f := newFixture(t)
	c := f.browser()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, _ := f.get(c, f.base+"/cas/login?service="+url.QueryEscape(pronoteURL))
	_, page := f.get(c, resp.Header.Get("Location"))
	resp, _ = f.submitLogin(c, page, "emma.martin", testPassword)
	resume := resp.Header.Get("Location")
	if !strings.Contains(resume, "resume=") {
		t.Fatalf("after the login form: %d %q, want the resume URL", resp.StatusCode, resume)
	}
	if _, err := f.store.DB().Exec(`ALTER TABLE sso_sessions RENAME TO sso_sessions_gone`); err != nil {
		t.Fatal(err)
	}
	if resp, page := f.get(c, resume); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("resume with the session store failing: status %d, want 503\n%.300s", resp.StatusCode, page)
	}
}

// The directory failing to look a login up (PostgreSQL down) is the
// server's fault: 503, not "wrong login or password", and no failure is
// counted against the login.
func TestLoginWithDirectoryDownIs503(t *testing.T) {
	f := newFixture(t)
	c := f.browser()
	_, page := f.get(c, f.base+"/login")
	if _, err := f.store.DB().Exec(`ALTER TABLE accounts RENAME TO accounts_gone`); err != nil {
		t.Fatal(err)
	}
	resp, body := f.submitLogin(c, page, "emma.martin", testPassword)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("login with the directory failing: status %d, want 503\n%.300s", resp.StatusCode, body)
	}
	if th, _ := f.store.LoginThrottle(context.Background(), "login:emma.martin"); th.Failures != 0 {
		t.Errorf("the outage counted as a failed login: %+v", th)
	}
}

// Whoever knows a login can keep it locked with one wrong password per
// lockout period; the browser its owner logged in from before is not
// locked by that (device cookie), while a browser without one, a forged
// cookie or another login's cookie is. The known browser's own failures
// still lock it.
func TestLockoutDoesNotLockOutTheOwnersBrowser(t *testing.T) {
	f := newFixture(t)
	try := func(c *http.Client, pw string) int {
		_, page := f.get(c, f.base+"/login")
		resp, _ := f.submitLogin(c, page, "emma.martin", pw)
		return resp.StatusCode
	}
	owner := f.browser()
	if s := try(owner, testPassword); s != http.StatusOK {
		t.Fatalf("the owner's first login: %d", s)
	}
	loginURL, _ := url.Parse(f.base + "/login")
	i := slices.IndexFunc(owner.Jar.Cookies(loginURL), func(c *http.Cookie) bool { return c.Name == deviceCookie })
	if i < 0 {
		t.Fatal("no device cookie after a login")
	}
	device := owner.Jar.Cookies(loginURL)[i]
	// The same browser, its session over: only the device cookie is left.
	known := func() *http.Client {
		c := f.browser()
		c.Jar.SetCookies(loginURL, []*http.Cookie{{Name: deviceCookie, Value: device.Value, Path: "/login"}})
		return c
	}
	paul := f.loginAs("paul.durand")
	j := slices.IndexFunc(paul.Jar.Cookies(loginURL), func(c *http.Cookie) bool { return c.Name == deviceCookie })
	other := f.browser() // a device cookie, for another login
	other.Jar.SetCookies(loginURL, []*http.Cookie{{Name: deviceCookie, Value: paul.Jar.Cookies(loginURL)[j].Value, Path: "/login"}})

	attacker := f.browser()
	for i := 0; i < 10; i++ {
		f.clock.Advance(5 * time.Minute)
		try(attacker, "guess")
	}
	f.clock.Advance(time.Minute)
	if s := try(attacker, testPassword); s != http.StatusTooManyRequests {
		t.Fatalf("the attacker's browser after 10 failures: %d, want the lockout", s)
	}
	if s := try(other, testPassword); s != http.StatusTooManyRequests {
		t.Fatalf("a device cookie of another login: %d, want the lockout", s)
	}
	forged := f.browser()
	forged.Jar.SetCookies(loginURL, []*http.Cookie{{Name: deviceCookie, Value: "ZW1tYS5tYXJ0aW4.bm9uY2U.forged", Path: "/login"}})
	if s := try(forged, testPassword); s != http.StatusTooManyRequests {
		t.Fatalf("a forged device cookie: %d, want the lockout", s)
	}
	if s := try(known(), testPassword); s != http.StatusOK {
		t.Fatalf("the owner's browser during the attacker's lockout: %d, want in", s)
	}
	if th, _ := f.store.LoginThrottle(context.Background(), "login:emma.martin"); th.Failures < 10 {
		t.Fatalf("the owner's login reset the attacker's count: %+v", th)
	}
	for range 10 {
		f.clock.Advance(5 * time.Minute)
		try(known(), "typo")
	}
	f.clock.Advance(time.Minute)
	if s := try(known(), testPassword); s != http.StatusTooManyRequests {
		t.Fatalf("the known browser after its own 10 failures: %d, want locked too", s)
	}
}

// The login of a person with one persona names its school and profile, so
// that the statistics count logins by school and profile.
func TestLoginEventNamesTheSinglePersona(t *testing.T) {
	f := newFixture(t)
	f.loginAs("emma.martin")
	evs := f.events(EventLogin)
	if len(evs) == 0 {
		t.Fatal("no login event")
	}
	e := evs[len(evs)-1]
	if e.Outcome != "ok" || e.Profile != directory.ProfileEleve || e.StructureID != f.ids["lycee"] {
		t.Fatalf("login event = %+v, want the eleve persona at the lycée", e)
	}
}
