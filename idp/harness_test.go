package idp

import (
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/password"
	"github.com/enthub/enthub/directory/sqlstore"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2026, 9, 1, 7, 45, 0, 0, time.UTC)

// fixture is a running identity provider over a fresh SQLite store with a
// small directory: a student (one persona), a teacher in two schools, a
// guest whose account expired.
type fixture struct {
	t     testing.TB
	clock *clock
	store *sqlstore.Store
	p     *Provider
	srv   *httptest.Server
	base  string
	ids   map[string]string
	// tick drives the provider's poll of the store's service
	// registrations: a send is one poll period gone by.
	tick chan time.Time
}

const testPassword = "Correct-Horse-9"

var pronotePolicy = ReleasePolicy{
	Principal: "account.login",
	Attributes: []AttributeRule{
		{Source: "person.last_name", Name: "nom"},
		{Source: "person.first_name", Name: "prenom"},
		{Source: "person.birth_date", Name: "dateNaissance", DateLayout: "02/01/2006"},
		{Source: "person.postal_code", Name: "codePostal"},
		{Source: "personas.profile", Name: "categories", Join: ";", MapStrict: true, Map: map[string]string{
			"eleve": "National_1", "parent": "National_2", "enseignant": "National_3", "documentaliste": "National_3",
			"direction": "National_4", "vie_scolaire": "National_4", "personnel": "National_4"}},
	},
}

var chamiloPolicy = ReleasePolicy{
	Principal: "person.id",
	Attributes: []AttributeRule{
		{Source: "person.first_name", Name: "given_name", Scope: "profile"},
		{Source: "person.last_name", Name: "family_name", Scope: "profile"},
		{Source: "account.login", Name: "preferred_username", Scope: "profile"},
		{Source: "person.email", Name: "email", Scope: "email"},
		{Source: "persona.uai", Name: "uai"},
	},
}

func testServices() []Service {
	return []Service{
		{ID: "pronote", Name: "Pronote", Protocol: ProtocolCAS, Release: pronotePolicy,
			CAS: CASService{ServicePatterns: []string{`^https://[0-9]{7}[A-Z]\.index-education\.net/pronote/.*$`}}},
		{ID: "grr", Name: "GRR", Protocol: ProtocolCAS, Profiles: []directory.Profile{directory.ProfileEnseignant},
			Release: ReleasePolicy{Attributes: []AttributeRule{{Source: "person.last_name", Name: "user_nom_ldap"}}},
			CAS:     CASService{ServicePatterns: []string{`^https://grr\.example\.org/.*$`}, ProxyCallbackPatterns: []string{`^https://grr\.example\.org/pgt$`}}},
		{ID: "chamilo", Name: "Chamilo", Protocol: ProtocolOIDC, Release: chamiloPolicy,
			OIDC: OIDCService{ClientID: "chamilo", ClientSecret: "chamilo-secret", RedirectURIs: []string{"https://chamilo.example.org/cb"},
				PostLogoutRedirectURIs: []string{"https://chamilo.example.org/bye"}}},
		{ID: "spa", Name: "SPA", Protocol: ProtocolOIDC, Release: ReleasePolicy{Principal: "pairwise"},
			OIDC: OIDCService{ClientID: "spa", RedirectURIs: []string{"https://spa.example.org/cb"}}},
	}
}

func newFixture(t testing.TB, mutate ...func(*Config)) *fixture {
	t.Helper()
	return newFixtureAt(t, "sqlite:"+t.TempDir()+"/db", mutate...)
}

func newFixtureAt(t testing.TB, dbURL string, mutate ...func(*Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{t: t, clock: &clock{t: t0}, ids: map[string]string{}, tick: make(chan time.Time)}
	var err error
	f.store, err = sqlstore.Open(ctx, dbURL, sqlstore.Options{Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.store.Close() })
	f.seed(ctx)
	mux := http.NewServeMux()
	f.srv = httptest.NewUnstartedServer(mux)
	f.base = "http://" + f.srv.Listener.Addr().String()
	cfg := Config{PublicURL: f.base, Services: testServices()}
	for _, m := range mutate {
		m(&cfg)
	}
	f.p, err = New(ctx, cfg, Deps{Directory: f.store, SSO: f.store, Now: f.clock.Now, Rand: rand.Reader,
		HTTPClient: &http.Client{Timeout: 2 * time.Second}, After: func(time.Duration) <-chan time.Time { return f.tick }})
	if err != nil {
		t.Fatal(err)
	}
	f.p.Routes(mux)
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("portal")) })
	f.srv.Start()
	t.Cleanup(func() { f.srv.Close(); f.p.Close() })
	return f
}

func (f *fixture) seed(ctx context.Context) {
	t := f.t
	hash, err := password.Hash(testPassword, rand.Reader, password.Params{Memory: 1024, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16})
	if err != nil {
		t.Fatal(err)
	}
	past := t0.Add(-time.Hour)
	err = f.store.Update(ctx, func(tx directory.Tx) error {
		lycee := &directory.Structure{UAI: "0451462V", Name: "Lycée Jean Zay", Source: directory.SourceAAF}
		college := &directory.Structure{UAI: "0450001A", Name: "Collège Anatole France", Source: directory.SourceAAF}
		for _, s := range []*directory.Structure{lycee, college} {
			if err := tx.PutStructure(ctx, s); err != nil {
				return err
			}
		}
		f.ids["lycee"], f.ids["college"] = lycee.ID, college.ID
		people := []struct {
			key, login, last, first, birth string
			personas                       []directory.Persona
			until                          *time.Time
		}{
			{"eleve", "emma.martin", "Martin", "Emma", "2010-03-14", []directory.Persona{{StructureID: lycee.ID, Profile: directory.ProfileEleve}}, nil},
			{"prof", "paul.durand", "Durand", "Paul", "1980-11-02", []directory.Persona{
				{StructureID: lycee.ID, Profile: directory.ProfileEnseignant}, {StructureID: college.ID, Profile: directory.ProfileEnseignant}}, nil},
			{"invite", "demo.invite", "Invité", "Démo", "", []directory.Persona{{StructureID: lycee.ID, Profile: directory.ProfileInvite}}, &past},
		}
		for _, pp := range people {
			per := &directory.Person{LastName: pp.last, FirstName: pp.first, BirthDate: pp.birth, PostalCode: "45000",
				Email: pp.login + "@ac-orleans-tours.fr", INE: "123456789AB", Source: directory.SourceGuest}
			if err := tx.PutPerson(ctx, per); err != nil {
				return err
			}
			acc := &directory.Account{PersonID: per.ID, Login: pp.login, Source: directory.SourceGuest, PasswordHash: hash, ValidUntil: pp.until}
			if err := tx.PutAccount(ctx, acc); err != nil {
				return err
			}
			if err := tx.SetPersonas(ctx, per.ID, directory.SourceGuest, pp.personas); err != nil {
				return err
			}
			f.ids[pp.key] = per.ID
			f.ids[pp.key+".account"] = acc.ID
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects off the identity provider.
func (f *fixture) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	host := strings.TrimPrefix(f.base, "http://")
	return &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != host {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
var reqRE = regexp.MustCompile(`name="req" value="([^"]*)"`)

func body(t testing.TB, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// get fetches a URL (following redirects on the IdP).
func (f *fixture) get(c *http.Client, u string) (*http.Response, string) {
	f.t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp, body(f.t, resp)
}

// submitLogin posts the login form found in page.
func (f *fixture) submitLogin(c *http.Client, page, login, password string) (*http.Response, string) {
	f.t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		f.t.Fatalf("no CSRF token in page:\n%s", page)
	}
	req := ""
	if r := reqRE.FindStringSubmatch(page); r != nil {
		req = r[1]
	}
	resp, err := c.PostForm(f.base+"/login", url.Values{"csrf": {m[1]}, "req": {htmlUnescape(req)}, "login": {login}, "password": {password}})
	if err != nil {
		f.t.Fatal(err)
	}
	return resp, body(f.t, resp)
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&#43;", "+", "&amp;", "&", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">").Replace(s)
}

// loginAs logs a fresh browser in with no pending request.
func (f *fixture) loginAs(login string) *http.Client {
	f.t.Helper()
	c := f.browser()
	_, page := f.get(c, f.base+"/login")
	resp, _ := f.submitLogin(c, page, login, testPassword)
	if resp.Request.URL.Path != "/" && resp.StatusCode >= 400 {
		f.t.Fatalf("login as %s: status %d at %s", login, resp.StatusCode, resp.Request.URL)
	}
	return c
}

func (f *fixture) events(typ string) []directory.Event {
	f.t.Helper()
	f.p.FlushAudit()
	evs, err := f.store.Events(context.Background(), directory.EventFilter{Type: typ, Limit: 1000})
	if err != nil {
		f.t.Fatal(err)
	}
	return evs
}

func (f *fixture) cookie(c *http.Client, name string) *http.Cookie {
	u, _ := url.Parse(f.base)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

func newTLSServer(t testing.TB, h http.HandlerFunc) *httptest.Server {
	s := httptest.NewTLSServer(h)
	t.Cleanup(s.Close)
	return s
}
