package launcher_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/gar"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/idp"
	"github.com/enthub/enthub/idp/sso"
	"github.com/enthub/enthub/portal/console"
	"github.com/enthub/enthub/portal/launcher"
	"github.com/enthub/enthub/portal/loginui"
	"github.com/enthub/enthub/test/peer"
)

var t0 = time.Date(2026, 9, 7, 8, 0, 0, 0, time.UTC) // a Monday, 10:00 in Paris

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// registry is the service registry as the identity provider gives it,
// with a GAR profile whose only subscribing school is 0130001A. It lists
// pronote twice, as a registry holding a configured and a stored copy
// could: the launcher shows it once.
type registry struct {
	services []idp.Service
	project  gar.Project
}

func (r registry) Services() []idp.Service  { return r.services }
func (r registry) IsGAR(s idp.Service) bool { return s.ID == "gar" }
func (r registry) GARLaunchURL(uai string, p directory.Profile) (string, bool) {
	if !r.project.PersonaSubscribes(uai, p) {
		return "", false
	}
	return "/saml/idp/sso?providerId=gar", true
}

const servicesYAML = `
- id: pronote
  name: Pronote
  protocol: cas
  cas: {service_patterns: ['^https://pronote\.example/.*$']}
  tile: {icon: calendar, url: "https://pronote.example/", category: Vie scolaire}
- id: manuels
  name: Manuels du professeur
  protocol: cas
  profiles: [enseignant, documentaliste]
  cas: {service_patterns: ['^https://manuels\.example/.*$']}
  tile: {icon: book, url: "https://manuels.example/", category: Ressources}
- id: cantine
  name: Cantine du collège B
  protocol: cas
  structures: [0130002B]
  cas: {service_patterns: ['^https://cantine\.example/.*$']}
  tile: {url: "https://cantine.example/"}
- id: backend
  name: Sans tuile
  protocol: cas
  cas: {service_patterns: ['^https://backend\.example/.*$']}
- id: gar
  name: GAR
  protocol: cas
  cas: {service_patterns: ['^https://gar\.example/.*$']}
  tile: {url: "https://gar.example/"}
- id: classeur
  name: Classeur
  protocol: cas
  profiles: [enseignant]
  structures: [0130002B]
  cas: {service_patterns: ['^{{SITE}}/app/$']}
  release:
    attributes:
      - {source: persona.uai, name: uai}
  tile: {icon: folder, url: "{{SITE}}/cas/login?service={{SITE}}/app/", category: Vie scolaire}
`

type auditLog struct {
	mu     sync.Mutex
	events []directory.Event
}

func (a *auditLog) Audit(_ context.Context, e directory.Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, e)
}

func (a *auditLog) has(typ, outcome string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.ContainsFunc(a.events, func(e directory.Event) bool { return e.Type == typ && e.Outcome == outcome })
}

type site struct {
	t       *testing.T
	store   *sqlstore.Store
	clock   *clock
	idp     *idp.Provider
	srv     *httptest.Server
	audit   *auditLog
	schools map[string]string // UAI → structure id
	persons map[string]string // login → person id
	n       int
}

// newSite runs on SQLite, or on PostgreSQL under the onPostgres tests.
func newSite(t *testing.T) *site {
	t.Helper()
	return newSiteOn(t, "sqlite:"+filepath.Join(t.TempDir(), "enthub.db"))
}

func newSiteOn(t *testing.T, dbURL string) *site {
	t.Helper()
	return newSiteWith(t, dbURL, nil)
}

// newSiteWith is newSiteOn with the launcher's options changed by opt.
func newSiteWith(t *testing.T, dbURL string, opt func(*launcher.Options)) *site {
	t.Helper()
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, dbURL, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	st := &site{t: t, store: s, clock: &clock{t: t0}, audit: &auditLog{}, schools: map[string]string{}, persons: map[string]string{}}
	err = s.Update(ctx, func(tx directory.Tx) error {
		for _, uai := range []string{"0130001A", "0130002B"} {
			str := &directory.Structure{UAI: uai, Name: "Collège " + uai, Source: directory.SourceManual}
			if err := tx.PutStructure(ctx, str); err != nil {
				return err
			}
			st.schools[uai] = str.ID
		}
		type pa struct {
			uai     string
			profile directory.Profile
		}
		for _, p := range []struct {
			login    string
			personas []pa
		}{
			{"eleve.a", []pa{{"0130001A", directory.ProfileEleve}}},
			{"eleve.b", []pa{{"0130002B", directory.ProfileEleve}}},
			{"prof.ab", []pa{{"0130001A", directory.ProfileEnseignant}, {"0130002B", directory.ProfileEnseignant}}},
			{"principal.a", []pa{{"0130001A", directory.ProfileDirection}}},
			{"admin.dept", []pa{{"0130001A", directory.ProfileCollectivite}}},
		} {
			per := &directory.Person{FirstName: "Prénom", LastName: p.login, Source: directory.SourceManual}
			if err := tx.PutPerson(ctx, per); err != nil {
				return err
			}
			acc := &directory.Account{PersonID: per.ID, Login: p.login, Status: directory.StatusActive, Source: directory.SourceManual}
			if err := tx.PutAccount(ctx, acc); err != nil {
				return err
			}
			var ps []directory.Persona
			for _, x := range p.personas {
				ps = append(ps, directory.Persona{StructureID: st.schools[x.uai], Profile: x.profile})
			}
			if err := tx.SetPersonas(ctx, per.ID, directory.SourceManual, ps); err != nil {
				return err
			}
			st.persons[p.login] = per.ID
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	st.srv = httptest.NewServer(mux)
	t.Cleanup(st.srv.Close)
	services, _, err := idp.ReadServices("services.yaml", []byte(strings.ReplaceAll(servicesYAML, "{{SITE}}", st.srv.URL)))
	if err != nil {
		t.Fatal(err)
	}
	reg := registry{services: append(services, services[0]),
		project: gar.Project{IDEnt: "ENT-TEST", Schools: []string{"0130001A"}, Secret: make([]byte, 32)}}
	pages, err := loginui.New(loginui.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.idp, err = idp.New(ctx, idp.Config{PublicURL: st.srv.URL, PortalURL: st.srv.URL + "/portail", Services: services,
		LoginMethods: []idp.LoginMethod{
			{ID: "educonnect", Label: "EduConnect", Profiles: []string{"eleve", "parent"}},
			{ID: "agents", Label: "Portail agents", Profiles: []string{"personnel"}},
			{ID: "eduprovence", Label: "EduProvence", Profiles: []string{"collectivite", "personnel"}},
			{ID: "local", Label: "Compte invité", Profiles: []string{"invite"}, Local: true},
		}}, idp.Deps{Directory: s, SSO: s, Now: st.clock.Now, Rand: rand.Reader, Pages: pages})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.idp.Close() })
	st.idp.Routes(mux)
	// The CAS service "classeur": it validates its ticket and shows what
	// it received.
	mux.HandleFunc("GET /app/{$}", func(w http.ResponseWriter, r *http.Request) {
		res, err := http.Get(st.srv.URL + "/cas/p3/serviceValidate?service=" + url.QueryEscape(st.srv.URL+"/app/") + "&ticket=" + url.QueryEscape(r.URL.Query().Get("ticket")))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><html lang=fr><head><title>Classeur</title></head><body><main><h1>Classeur</h1><pre id=cas>%s</pre></main></body></html>", html.EscapeString(string(b)))
	})
	layout, err := console.NewLayout(console.Options{SiteName: "ENT test"})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("GET "+layout.AssetsPath(), layout.Assets())
	lo := launcher.Options{Directory: s, Store: s, Sessions: st.idp, Registry: reg, Audit: st.audit,
		Admins: console.AdminRule{Logins: []string{"admin.dept"}}, Principal: console.DefaultPrincipalRule, Banner: "Message du département",
		PublicURL: st.srv.URL, Now: st.clock.Now}
	if opt != nil {
		opt(&lo)
	}
	l, err := launcher.New(layout, lo)
	if err != nil {
		t.Fatal(err)
	}
	l.Routes(mux)
	return st
}

type browser struct {
	t    *testing.T
	s    *site
	c    *http.Client
	csrf string
}

func (s *site) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: s.t, s: s, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// signIn gives a browser an SSO session as the login's persona in the
// school uai, as the login leaves it.
func (s *site) signIn(login, uai string) *browser {
	s.t.Helper()
	token := s.session(login, uai)
	b := s.browser()
	u, _ := url.Parse(s.srv.URL)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: "enthub_sso", Value: token, Path: "/"}})
	return b
}

// session creates an SSO session and returns its cookie's value.
func (s *site) session(login, uai string) string {
	s.t.Helper()
	ctx := context.Background()
	pid := s.persons[login]
	acc, err := s.store.AccountByPerson(ctx, pid)
	if err != nil {
		s.t.Fatal(err)
	}
	pas, _ := s.store.Personas(ctx, pid)
	i := slices.IndexFunc(pas, func(p directory.Persona) bool { return p.StructureID == s.schools[uai] })
	if i < 0 {
		s.t.Fatalf("%s has no persona in %s", login, uai)
	}
	s.n++
	token := fmt.Sprintf("%s-session-token-%d-0123456789abcdef", login, s.n)
	h := sha256.Sum256([]byte(token))
	now := s.clock.Now()
	err = s.store.CreateSession(ctx, sso.Session{ID: hex.EncodeToString(h[:]), AccountID: acc.ID, PersonID: pid, PersonaID: pas[i].ID,
		StructureID: pas[i].StructureID, Profile: string(pas[i].Profile), Upstream: "educonnect", AuthTime: now, CreatedAt: now,
		LastSeen: now, ExpiresAt: now.Add(24 * time.Hour * 30)})
	if err != nil {
		s.t.Fatal(err)
	}
	return token
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) do(req *http.Request) (int, string, http.Header) {
	b.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if m := csrfRE.FindSubmatch(body); m != nil {
		b.csrf = html.UnescapeString(string(m[1]))
	}
	return res.StatusCode, html.UnescapeString(string(body)), res.Header
}

func (b *browser) get(path string) (int, string, http.Header) {
	req, _ := http.NewRequest(http.MethodGet, b.s.srv.URL+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) (int, string, http.Header) {
	if _, ok := form["csrf"]; !ok && b.csrf != "" {
		form.Set("csrf", b.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, b.s.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var tileRE = regexp.MustCompile(`data-service="([^"]+)"`)

func tiles(body string) []string {
	var out []string
	for _, m := range tileRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestVisitorWithoutSessionGoesToTheChooser(t *testing.T) {
	s := newSite(t)
	code, _, h := s.browser().get("/portail")
	if code != http.StatusSeeOther || h.Get("Location") != "/login" {
		t.Errorf("GET /portail without session: %d → %q", code, h.Get("Location"))
	}
}

// Each persona sees the tiles of the services it may use, each once,
// grouped by category; the médiacentre only in a subscribing school with
// a profile the GAR knows; the switch only with several personas.
func TestTilesPerPersona(t *testing.T) { testTilesPerPersona(t, newSite(t)) }

func TestTilesPerPersonaPostgres(t *testing.T) {
	testTilesPerPersona(t, newSiteOn(t, peer.Postgres(t)))
}

func testTilesPerPersona(t *testing.T, s *site) {
	for _, c := range []struct {
		login, uai string
		want       []string
		switcher   bool
	}{
		{"eleve.a", "0130001A", []string{"pronote", "gar"}, false},
		{"eleve.b", "0130002B", []string{"pronote", "cantine"}, false},
		{"prof.ab", "0130001A", []string{"manuels", "pronote", "gar"}, true},
		{"prof.ab", "0130002B", []string{"manuels", "classeur", "pronote", "cantine"}, true},
		{"admin.dept", "0130001A", []string{"pronote"}, false}, // collectivité staff: unknown to the GAR
	} {
		b := s.signIn(c.login, c.uai)
		code, body, h := b.get("/portail")
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", c.login, code, body)
		}
		if got := tiles(body); !slices.Equal(got, c.want) {
			t.Errorf("%s in %s: tiles %v, want %v (Ressources, Vie scolaire, then the others)", c.login, c.uai, got, c.want)
		}
		if strings.Contains(body, "/login/persona") != c.switcher {
			t.Errorf("%s: persona switch shown = %v", c.login, !c.switcher)
		}
		for _, want := range []string{"Collège " + c.uai, `href="/logout"`, `href="/mydata"`, "Message du département"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: page lacks %s", c.login, want)
			}
		}
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || strings.Contains(body, "style=") {
			t.Errorf("%s: CSP %q or inline style", c.login, csp)
		}
	}
	// The principal's links: guests and news, not branding.
	_, body, _ := s.signIn("principal.a", "0130001A").get("/portail")
	if !strings.Contains(body, `href="/console/guests"`) || !strings.Contains(body, `href="/portail/news"`) || strings.Contains(body, `href="/portail/branding"`) {
		t.Errorf("principal's links wrong:\n%s", body)
	}
	_, body, _ = s.signIn("eleve.a", "0130001A").get("/portail")
	if strings.Contains(body, "/console/guests") || strings.Contains(body, "/portail/news") {
		t.Error("a student is offered the editors")
	}
}

// The launcher remembers the sign-in method on the device for the chooser.
func TestLauncherRemembersMethod(t *testing.T) {
	s := newSite(t)
	_, _, h := s.signIn("eleve.a", "0130001A").get("/portail")
	if c := h.Get("Set-Cookie"); !strings.Contains(c, "enthub_method=educonnect") || !strings.Contains(c, "Path=/login") || !strings.Contains(c, "HttpOnly") {
		t.Errorf("Set-Cookie %q", c)
	}
}

func newsTitles(body string) []string {
	i := strings.Index(body, `id="news-title"`)
	if i < 0 {
		return nil
	}
	j := strings.Index(body[i:], "</section>")
	var out []string
	for _, m := range regexp.MustCompile(`<h3>([^<]+)</h3>`).FindAllStringSubmatch(body[i:i+j], -1) {
		out = append(out, m[1])
	}
	return out
}

// News are shown from their first day to their last included, to the
// school and profile they target.
func TestNewsWindows(t *testing.T) { testNewsWindows(t, newSite(t)) }

func TestNewsWindowsPostgres(t *testing.T) { testNewsWindows(t, newSiteOn(t, peer.Postgres(t))) }

func testNewsWindows(t *testing.T, s *site) {
	admin := s.signIn("admin.dept", "0130001A")
	admin.get("/portail/news")
	for _, f := range []url.Values{
		{"title": {"Rentrée"}, "start": {"2026-09-07"}, "end": {"2026-09-08"}},
		{"title": {"Réunion B"}, "start": {"2026-09-07"}, "end": {"2026-09-30"}, "school": {s.schools["0130002B"]}},
		{"title": {"Profs seulement"}, "start": {"2026-09-07"}, "end": {"2026-09-30"}, "profile": {"enseignant"}},
		{"title": {"Plus tard"}, "start": {"2026-09-09"}, "end": {"2026-09-30"}},
	} {
		if code, body, _ := admin.post("/portail/news", f); code != http.StatusOK || !strings.Contains(body, "Le message est publié.") {
			t.Fatalf("publish %v: %d\n%s", f, code, body)
		}
	}
	principal := s.signIn("principal.a", "0130001A")
	principal.get("/portail/news")
	// The principal's message goes to their school, whatever the form says.
	principal.post("/portail/news", url.Values{"title": {"Sortie 6e"}, "start": {"2026-09-07"}, "end": {"2026-09-07"},
		"profile": {"eleve"}, "school": {s.schools["0130002B"]}})
	if !s.audit.has("portal.news.create", "success") {
		t.Error("publication not audited")
	}
	for _, c := range []struct {
		at         time.Time
		login, uai string
		want       []string
	}{
		{t0, "eleve.a", "0130001A", []string{"Rentrée", "Sortie 6e"}},
		{t0, "eleve.b", "0130002B", []string{"Rentrée", "Réunion B"}},
		{t0, "prof.ab", "0130001A", []string{"Rentrée", "Profs seulement"}},
		{t0.Add(24 * time.Hour), "eleve.a", "0130001A", []string{"Rentrée"}},                        // Sortie 6e was for the 7th only
		{t0.Add(48 * time.Hour), "eleve.a", "0130001A", []string{"Plus tard"}},                      // Rentrée ended on the 8th
		{time.Date(2026, 9, 8, 21, 59, 0, 0, time.UTC), "eleve.a", "0130001A", []string{"Rentrée"}}, // 23:59 in Paris
		{time.Date(2026, 9, 8, 22, 0, 0, 0, time.UTC), "eleve.a", "0130001A", []string{"Plus tard"}},
	} {
		s.clock.Set(c.at)
		_, body, _ := s.signIn(c.login, c.uai).get("/portail")
		if got := newsTitles(body); !slices.Equal(got, c.want) {
			t.Errorf("%s at %s: news %v, want %v", c.login, c.at, got, c.want)
		}
	}
	s.clock.Set(t0)
	ns, err := launcher.PublicNews(context.Background(), s.store, t0)
	if err != nil || len(ns) != 1 || ns[0].Title != "Rentrée" {
		t.Errorf("news for everyone on the chooser: %+v, %v", ns, err)
	}
}

// Bad news input is refused with the field named, storing nothing.
func TestNewsRefusesBadInput(t *testing.T) {
	s := newSite(t)
	admin := s.signIn("admin.dept", "0130001A")
	admin.get("/portail/news")
	for _, c := range []struct {
		form  url.Values
		field string
	}{
		{url.Values{"title": {""}, "start": {"2026-09-07"}, "end": {"2026-09-08"}}, "title"},
		{url.Values{"title": {"x"}, "start": {"07/09/2026"}, "end": {"2026-09-08"}}, "start"},
		{url.Values{"title": {"x"}, "start": {"2026-09-09"}, "end": {"2026-09-08"}}, "end"},
		{url.Values{"title": {"x"}, "start": {"2026-09-07"}, "end": {"2026-09-08"}, "profile": {"pirate"}}, "profile"},
		{url.Values{"title": {"x"}, "start": {"2026-09-07"}, "end": {"2026-09-08"}, "school": {"nope"}}, "school"},
	} {
		code, body, _ := admin.post("/portail/news", c.form)
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, `href="#`+c.field+`"`) || !strings.Contains(body, `id="`+c.field+`-error"`) {
			t.Errorf("%v: %d, error not tied to %s", c.form, code, c.field)
		}
	}
	if ns, _ := s.store.NewsList(context.Background(), "", time.Time{}); len(ns) != 0 {
		t.Errorf("stored %+v", ns)
	}
}

// Who may edit: administrators everything, principals their school's
// news only, nobody else; every refusal and every form without its token
// is refused and audited.
func TestEditAuthorisationAndCSRF(t *testing.T) { testEditAuthorisation(t, newSite(t)) }

func TestEditAuthorisationAndCSRFPostgres(t *testing.T) {
	testEditAuthorisation(t, newSiteOn(t, peer.Postgres(t)))
}

func testEditAuthorisation(t *testing.T, s *site) {
	student := s.signIn("eleve.a", "0130001A")
	for _, p := range []string{"/portail/news", "/portail/branding"} {
		if code, _, _ := student.get(p); code != http.StatusForbidden {
			t.Errorf("student GET %s: %d", p, code)
		}
	}
	if code, _, _ := student.post("/portail/news", url.Values{"title": {"x"}, "start": {"2026-09-07"}, "end": {"2026-09-08"}}); code != http.StatusForbidden {
		t.Errorf("student POST news: %d", code)
	}
	if !s.audit.has("portal.edit", "refused") {
		t.Error("refusal not audited")
	}
	principal := s.signIn("principal.a", "0130001A")
	if code, _, _ := principal.get("/portail/branding"); code != http.StatusForbidden {
		t.Errorf("principal GET branding: %d", code)
	}
	// No token, or another session's token: refused, nothing stored.
	admin := s.signIn("admin.dept", "0130001A")
	admin.get("/portail/news")
	form := url.Values{"title": {"x"}, "start": {"2026-09-07"}, "end": {"2026-09-08"}}
	if code, _, _ := principal.post("/portail/news", url.Values{"csrf": {""}, "title": {"x"}, "start": {"2026-09-07"}, "end": {"2026-09-08"}}); code != http.StatusForbidden {
		t.Errorf("no token: %d", code)
	}
	form.Set("csrf", admin.csrf)
	if code, _, _ := principal.post("/portail/news", form); code != http.StatusForbidden {
		t.Errorf("another session's token: %d", code)
	}
	if !s.audit.has("portal.csrf", "refused") {
		t.Error("CSRF refusal not audited")
	}
	if ns, _ := s.store.NewsList(context.Background(), "", time.Time{}); len(ns) != 0 {
		t.Fatalf("stored %+v", ns)
	}
	// The administrator's message for every school is out of the
	// principal's reach; the principal's own is not.
	admin.post("/portail/news", url.Values{"title": {"Pour tous"}, "start": {"2026-09-07"}, "end": {"2026-09-08"}})
	principal.get("/portail/news")
	principal.post("/portail/news", url.Values{"title": {"Le mien"}, "start": {"2026-09-07"}, "end": {"2026-09-08"}})
	ns, _ := s.store.NewsList(context.Background(), "", time.Time{})
	if len(ns) != 2 {
		t.Fatalf("news %+v", ns)
	}
	for _, n := range ns {
		code, _, _ := principal.post("/portail/news/"+n.ID+"/delete", url.Values{})
		want := http.StatusOK
		if n.StructureID == "" {
			want = http.StatusNotFound
		}
		if code != want {
			t.Errorf("principal deletes %q: %d, want %d", n.Title, code, want)
		}
	}
	if ns, _ := s.store.NewsList(context.Background(), "", time.Time{}); len(ns) != 1 || ns[0].Title != "Pour tous" {
		t.Errorf("after deletes: %+v", ns)
	}
}

// Branding values are checked: a refused value names its field and
// stores nothing; accepted ones reach the school's stylesheet, which the
// school's launcher links.
func TestBranding(t *testing.T) {
	s := newSite(t)
	admin := s.signIn("admin.dept", "0130001A")
	admin.get("/portail/branding?uai=0130001A")
	good := url.Values{"uai": {"0130001A"}, "banner": {"Bienvenue au collège A"}, "logo_url": {"/static/logo-a.svg"},
		"banner_url": {"/static/bandeau.jpg"}, "primary": {"#00466E"}, "accent": {"#8a1538"}, "ink": {"#161616"}}
	for _, c := range []struct{ field, value string }{
		{"primary", "red"},
		{"primary", "#fff"},
		{"accent", "#ffff00"}, // 1.07:1 on white
		{"ink", "#000000;}body{display:none"},
		{"logo_url", "https://tracker.example/pixel.gif"},
		{"logo_url", "javascript:alert(1)"},
		{"banner_url", "/static/a b.jpg"},
		{"banner_url", `/x");background:url("https://evil`},
		{"uai", "../etc"},
	} {
		f := url.Values{}
		for k, v := range good {
			f[k] = v
		}
		f.Set(c.field, c.value)
		code, body, _ := admin.post("/portail/branding", f)
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="`+c.field+`-error"`) {
			t.Errorf("%s=%q: %d, no error on the field", c.field, c.value, code)
		}
	}
	if _, err := s.store.Branding(context.Background(), "0130001A"); err == nil {
		t.Fatal("a refused branding was stored")
	}
	if code, body, _ := admin.post("/portail/branding", good); code != http.StatusOK || !strings.Contains(body, "La personnalisation est enregistrée.") {
		t.Fatalf("good branding: %d\n%s", code, body)
	}
	if !s.audit.has("portal.branding", "success") {
		t.Error("branding not audited")
	}
	code, css, h := s.browser().get("/portal/brand/0130001A.css")
	if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/css") {
		t.Fatalf("stylesheet: %d %s", code, h.Get("Content-Type"))
	}
	for _, want := range []string{"--brand-primary:#00466e;", "--brand-accent:#8a1538;", "--brand-ink:#161616;", `--brand-banner:url("/static/bandeau.jpg");`} {
		if !strings.Contains(css, want) {
			t.Errorf("stylesheet lacks %s:\n%s", want, css)
		}
	}
	if code, _, _ := s.browser().get("/portal/brand/..%2Fetc.css"); code != http.StatusNotFound {
		t.Errorf("bad UAI stylesheet: %d", code)
	}
	_, body, _ := s.signIn("eleve.a", "0130001A").get("/portail")
	for _, want := range []string{`href="/portal/brand/0130001A.css"`, `src="/static/logo-a.svg"`, "Bienvenue au collège A"} {
		if !strings.Contains(body, want) {
			t.Errorf("school A's launcher lacks %s", want)
		}
	}
	if _, body, _ := s.signIn("eleve.b", "0130002B").get("/portail"); strings.Contains(body, "0130001A.css") || strings.Contains(body, "Bienvenue au collège A") {
		t.Error("school B shows school A's branding")
	}
}

// Every icon a service may name is embedded.
func TestEveryTileIconIsEmbedded(t *testing.T) {
	s := newSite(t)
	for _, name := range append(slices.Clone(idp.TileIcons), "mediacentre") {
		code, body, h := s.browser().get("/portail/assets/icons/" + name + ".svg")
		if code != http.StatusOK || !strings.Contains(body, "<svg") || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("icon %s: %d", name, code)
		}
	}
}
