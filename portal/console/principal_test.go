package console_test

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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/guests"
	"github.com/enthub/enthub/directory/password"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/idp"
	"github.com/enthub/enthub/idp/sso"
	"github.com/enthub/enthub/portal/console"
	"github.com/enthub/enthub/portal/loginui"
	"github.com/enthub/enthub/portal/mydata"
	"github.com/enthub/enthub/test/peer"
)

var t0 = time.Date(2026, 9, 7, 8, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// site is enthub's HTTP front with the identity provider (for the guests'
// login) and the console, over a store with two schools, a principal in
// each and a teacher.
type site struct {
	t       *testing.T
	store   *sqlstore.Store
	clock   *clock
	idp     *idp.Provider
	srv     *httptest.Server
	mux     *http.ServeMux
	schools map[string]string // UAI → structure id
	persons map[string]string // name → person id
	mails   *mailbox
	signIns int
}

type mailbox struct {
	mu   sync.Mutex
	sent []string
}

func (m *mailbox) Send(_ context.Context, to, subject, body string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, to+"\n"+subject+"\n"+body)
	return nil
}

func newSite(t *testing.T, dbURL string, withMail bool) *site {
	t.Helper()
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, dbURL, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	st := &site{t: t, store: s, clock: &clock{t: t0}, schools: map[string]string{}, persons: map[string]string{}}
	err = s.Update(ctx, func(tx directory.Tx) error {
		for _, uai := range []string{"0130001A", "0130002B"} {
			str := &directory.Structure{UAI: uai, Name: "Collège " + uai, Source: directory.SourceManual}
			if err := tx.PutStructure(ctx, str); err != nil {
				return err
			}
			st.schools[uai] = str.ID
		}
		for _, p := range []struct {
			name, uai string
			profile   directory.Profile
		}{
			{"principal.a", "0130001A", directory.ProfileDirection},
			{"principal.b", "0130002B", directory.ProfileDirection},
			{"teacher.a", "0130001A", directory.ProfileEnseignant},
		} {
			per := &directory.Person{FirstName: "Prénom", LastName: p.name, Source: directory.SourceManual}
			if err := tx.PutPerson(ctx, per); err != nil {
				return err
			}
			acc := &directory.Account{PersonID: per.ID, Login: p.name, Status: directory.StatusActive, Source: directory.SourceManual}
			if err := tx.PutAccount(ctx, acc); err != nil {
				return err
			}
			if err := tx.SetPersonas(ctx, per.ID, directory.SourceManual, []directory.Persona{{StructureID: st.schools[p.uai], Profile: p.profile}}); err != nil {
				return err
			}
			st.persons[p.name] = per.ID
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	st.mux = mux
	st.srv = httptest.NewServer(mux)
	t.Cleanup(st.srv.Close)
	loginPages, err := loginui.New(loginui.Options{SiteName: "ENT test"})
	if err != nil {
		t.Fatal(err)
	}
	st.idp, err = idp.New(ctx, idp.Config{PublicURL: st.srv.URL}, idp.Deps{Directory: s, SSO: s, Now: st.clock.Now, Rand: rand.Reader, Pages: loginPages})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.idp.Close() })
	st.idp.Routes(mux)
	// Where a login without a pending request lands (the launcher's place).
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "portail") })
	layout, err := console.NewLayout(console.Options{SiteName: "ENT test"})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("GET "+layout.AssetsPath(), layout.Assets())
	cheap := password.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}
	svc := &guests.Service{Store: s, Now: st.clock.Now, Argon2: &cheap}
	opts := console.PrincipalOptions{Guests: svc, Directory: s, Sessions: st.idp, PublicURL: st.srv.URL, Now: st.clock.Now, Location: time.UTC}
	if withMail {
		st.mails = &mailbox{}
		opts.Mailer = st.mails
	}
	pr, err := console.NewPrincipal(layout, opts)
	if err != nil {
		t.Fatal(err)
	}
	pr.Routes(mux)
	my, err := mydata.New(layout, mydata.Options{Directory: s, Sessions: st.idp, SiteName: "ENT test", Now: st.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	my.Routes(mux)
	return st
}

// browser is a client with its own cookies that does not follow
// redirects, so each answer is checked as it is.
type browser struct {
	t    *testing.T
	s    *site
	c    *http.Client
	csrf string // the last page's form token
}

func (s *site) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: s.t, s: s, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// signIn gives a new browser an SSO session as the named person's
// persona, as the login (upstream or local) leaves it.
func (s *site) signIn(name string) *browser {
	s.t.Helper()
	b := s.browser()
	u, _ := url.Parse(s.srv.URL)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: "enthub_sso", Value: s.session(name), Path: "/"}})
	return b
}

// session creates an SSO session for the named person and returns its
// cookie value.
func (s *site) session(name string) string {
	s.t.Helper()
	ctx := context.Background()
	pid := s.persons[name]
	acc, err := s.store.AccountByPerson(ctx, pid)
	if err != nil {
		s.t.Fatal(err)
	}
	pas, _ := s.store.Personas(ctx, pid)
	s.signIns++
	token := fmt.Sprintf("%s-session-token-%d-0123456789abcdef", name, s.signIns)
	h := sha256.Sum256([]byte(token))
	now := s.clock.Now()
	err = s.store.CreateSession(ctx, sso.Session{ID: hex.EncodeToString(h[:]), AccountID: acc.ID, PersonID: pid, PersonaID: pas[0].ID,
		StructureID: pas[0].StructureID, Profile: string(pas[0].Profile), Upstream: "test", AuthTime: now, CreatedAt: now, LastSeen: now,
		ExpiresAt: now.Add(8 * time.Hour)})
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
	return res.StatusCode, string(body), res.Header
}

func (b *browser) get(path string) (int, string, http.Header) {
	req, _ := http.NewRequest(http.MethodGet, b.s.srv.URL+path, nil)
	return b.do(req)
}

// post sends the form with the last page's token (unless the form has one).
func (b *browser) post(path string, form url.Values) (int, string, http.Header) {
	if _, ok := form["csrf"]; !ok && b.csrf != "" {
		form.Set("csrf", b.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, b.s.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var (
	codeRE  = regexp.MustCompile(`id="activation-code">([A-Z0-9-]+)<`)
	guestRE = regexp.MustCompile(`href="/console/guests/([0-9a-f-]{36})"`)
)

func newGuestForm() url.Values {
	return url.Values{"first_name": {"Léa"}, "last_name": {"Dupré"}, "email": {"lea.dupre@example.org"},
		"role": {"responsable de stage"}, "from": {"2026-09-07"}, "until": {"2026-10-16"}}
}

// createGuest creates a guest from the console and returns its id and code.
func (b *browser) createGuest(form url.Values) (string, string) {
	b.t.Helper()
	if st, _, _ := b.get("/console/guests/new"); st != http.StatusOK {
		b.t.Fatalf("creation form: %d", st)
	}
	st, body, _ := b.post("/console/guests", form)
	if st != http.StatusOK {
		b.t.Fatalf("create guest: %d\n%s", st, body)
	}
	code := codeRE.FindStringSubmatch(body)
	id := guestRE.FindStringSubmatch(body)
	if code == nil || id == nil {
		b.t.Fatalf("no code or guest link on the sheet:\n%s", body)
	}
	return id[1], code[1]
}

// guestLogin logs in on the identity provider's local login form.
func (s *site) guestLogin(login, pw string) int {
	st, _ := s.guestLoginIn(login, pw)
	return st
}

// guestLoginIn is guestLogin that also gives the browser, signed in when
// the login succeeded.
func (s *site) guestLoginIn(login, pw string) (int, *browser) {
	b := s.browser()
	if st, _, _ := b.get("/login"); st != http.StatusOK {
		s.t.Fatalf("login form: %d", st)
	}
	st, _, _ := b.post("/login", url.Values{"login": {login}, "password": {pw}})
	return st, b
}

func (s *site) events(typ string) []directory.Event {
	s.idp.FlushAudit()
	es, err := s.store.Events(context.Background(), directory.EventFilter{Type: typ, Limit: 100})
	if err != nil {
		s.t.Fatal(err)
	}
	return es
}

// loginRefused reports whether a login was refused for reason.
func (s *site) loginRefused(reason string) bool {
	for _, e := range s.events("login") {
		if e.Outcome == "refused" && e.Reason == reason {
			return true
		}
	}
	return false
}

func dbs(t *testing.T) map[string]func(*testing.T) string {
	return map[string]func(*testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "enthub.db") },
		"postgres": func(t *testing.T) string { return peer.Postgres(t) },
	}
}

// TestGuestJourney: a principal creates a guest, the guest activates the
// account and logs in, the principal extends then revokes it, and the
// guest is refused.
func TestGuestJourney(t *testing.T) {
	for name, db := range dbs(t) {
		t.Run(name, func(t *testing.T) {
			s := newSite(t, db(t), false)
			pa := s.signIn("principal.a")
			st, body, h := pa.get("/console/guests")
			if st != http.StatusOK || !strings.Contains(body, "Collège 0130001A") || !strings.Contains(body, "Aucun compte invité") {
				t.Fatalf("guest list: %d\n%s", st, body)
			}
			if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
				h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" {
				t.Errorf("security headers: %v", h)
			}
			id, code := pa.createGuest(newGuestForm())
			if _, body, _ := pa.get("/console/guests"); !strings.Contains(body, "lea.dupre") || !strings.Contains(body, "en attente d&#39;activation") {
				t.Errorf("the list does not show the pending guest:\n%s", body)
			}

			// The guest follows the link, sets a password, logs in.
			g := s.browser()
			st, body, _ = g.get("/activation?code=" + url.QueryEscape(code))
			if st != http.StatusOK || !strings.Contains(body, `value="`+code+`"`) {
				t.Fatalf("activation form: %d\n%s", st, body)
			}
			pw := "mon mot de passe de stage"
			st, body, _ = g.post("/activation", url.Values{"code": {code}, "password": {pw}, "confirm": {pw}})
			if st != http.StatusOK || !strings.Contains(body, "lea.dupre") {
				t.Fatalf("activation: %d\n%s", st, body)
			}
			// The link is single-use.
			g.get("/activation")
			st, body, _ = g.post("/activation", url.Values{"code": {code}, "password": {"un autre mot de passe"}, "confirm": {"un autre mot de passe"}})
			if st != http.StatusBadRequest || !strings.Contains(body, "a déjà servi") || !strings.Contains(body, `aria-describedby="code-hint code-error"`) {
				t.Errorf("reused code: %d\n%s", st, body)
			}
			st, signedIn := s.guestLoginIn("lea.dupre", pw)
			if st != http.StatusSeeOther {
				t.Fatalf("guest login after activation: %d, want 303", st)
			}
			if st, _, _ := signedIn.get("/login"); st != http.StatusSeeOther {
				t.Fatalf("the signed-in guest is asked to log in again: %d", st)
			}

			// Extend, then revoke.
			pa.get("/console/guests/" + id)
			st, _, h = pa.post("/console/guests/"+id+"/extend", url.Values{"until": {"2026-11-30"}})
			if st != http.StatusSeeOther {
				t.Fatalf("extend: %d", st)
			}
			st, body, _ = pa.get(h.Get("Location"))
			if st != http.StatusOK || !strings.Contains(body, "prolongé") || !strings.Contains(body, "30/11/2026") {
				t.Errorf("after extension: %d\n%s", st, body)
			}
			st, _, _ = pa.post("/console/guests/"+id+"/revoke", url.Values{})
			if st != http.StatusSeeOther {
				t.Fatalf("revoke: %d", st)
			}
			if _, body, _ := pa.get("/console/guests?done=revoked"); !strings.Contains(body, "révoqué") {
				t.Errorf("list after revocation:\n%s", body)
			}
			if st := s.guestLogin("lea.dupre", pw); st != http.StatusUnauthorized {
				t.Errorf("revoked guest login: %d, want 401", st)
			}
			// The session the guest had is over too.
			if st, _, _ := signedIn.get("/login"); st != http.StatusOK {
				t.Errorf("the revoked guest's session still holds: GET /login = %d, want the form", st)
			}
			for _, typ := range []string{guests.EventCreate, guests.EventActivate, guests.EventExtend, guests.EventRevoke} {
				ok := false
				for _, e := range s.events(typ) {
					ok = ok || e.Outcome == "ok" && e.AccountID == id
				}
				if !ok {
					t.Errorf("no %s event for the guest", typ)
				}
			}
			if !s.loginRefused("account disabled") {
				t.Errorf("the revoked guest's refused login is not audited")
			}
		})
	}
}

// TestOtherSchoolForgedForms: the principal of school B, with a valid
// session and token of its own, forges the forms of school A's guest.
func TestOtherSchoolForgedForms(t *testing.T) {
	for name, db := range dbs(t) {
		t.Run(name, func(t *testing.T) {
			s := newSite(t, db(t), false)
			pa := s.signIn("principal.a")
			id, _ := pa.createGuest(newGuestForm())
			pb := s.signIn("principal.b")
			if _, body, _ := pb.get("/console/guests"); strings.Contains(body, "lea.dupre") || strings.Contains(body, id) {
				t.Errorf("school B lists school A's guest:\n%s", body)
			}
			if st, _, _ := pb.get("/console/guests/" + id); st != http.StatusNotFound {
				t.Errorf("school B opens A's guest: %d, want 404", st)
			}
			pb.get("/console/guests/new") // a page with a form: B's own token
			for _, action := range []string{"extend", "revoke", "code"} {
				st, body, _ := pb.post("/console/guests/"+id+"/"+action, url.Values{"until": {"2027-06-30"}})
				if st != http.StatusNotFound || strings.Contains(body, "activation-code") {
					t.Errorf("school B %s on A's guest: %d, want 404\n%s", action, st, body)
				}
			}
			acc, _ := s.store.Account(context.Background(), id)
			if acc.Status != directory.StatusActive || !acc.ValidUntil.Equal(time.Date(2026, 10, 17, 0, 0, 0, 0, time.UTC)) {
				t.Errorf("school B changed A's guest: %+v", acc)
			}
			refused := 0
			for _, typ := range []string{guests.EventExtend, guests.EventRevoke, guests.EventReissue} {
				for _, e := range s.events(typ) {
					if e.Outcome == "refused" && e.AccountID == id {
						refused++
					}
				}
			}
			if refused != 3 {
				t.Errorf("%d refused actions audited, want 3", refused)
			}
		})
	}
}

func TestCSRFRequired(t *testing.T) {
	s := newSite(t, "sqlite:"+filepath.Join(t.TempDir(), "enthub.db"), false)
	pa := s.signIn("principal.a")
	id, code := pa.createGuest(newGuestForm())
	pb := s.signIn("principal.b")
	pb.get("/console/guests/new")
	if pb.csrf == "" {
		t.Fatal("no token on B's form")
	}
	tests := []struct {
		name, path, token string
	}{
		{"create without token", "/console/guests", ""},
		{"create with another session's token", "/console/guests", pb.csrf},
		{"revoke without token", "/console/guests/" + id + "/revoke", ""},
		{"revoke with a made-up token", "/console/guests/" + id + "/revoke", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{"extend with another session's token", "/console/guests/" + id + "/extend", pb.csrf},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newGuestForm()
			f.Set("csrf", tt.token)
			f.Set("until", "2027-01-31")
			st, body, _ := pa.post(tt.path, f)
			if st != http.StatusForbidden || !strings.Contains(body, "Le formulaire a expiré") {
				t.Errorf("%d, want 403\n%s", st, body)
			}
		})
	}
	if _, body, _ := pa.get("/console/guests"); strings.Count(body, "lea.dupre") != 1 || strings.Contains(body, "révoqué") {
		t.Errorf("a form without its token changed something:\n%s", body)
	}
	if n := len(s.events("console.csrf")); n != len(tests) {
		t.Errorf("%d CSRF refusals audited, want %d", n, len(tests))
	}
	// The activation form, which has no session, checks its own token.
	g := s.browser()
	st, _, _ := g.post("/activation", url.Values{"code": {code}, "password": {"un mot de passe long"}, "confirm": {"un mot de passe long"}, "csrf": {"forged"}})
	if st != http.StatusForbidden {
		t.Errorf("activation without the CSRF cookie: %d, want 403", st)
	}
	g.get("/activation")
	if st, _, _ := g.post("/activation", url.Values{"code": {code}, "password": {"un mot de passe long"}, "confirm": {"un mot de passe long"}}); st != http.StatusOK {
		t.Errorf("the code was burnt by the refused attempt: %d", st)
	}
}

func TestOnlyPrincipals(t *testing.T) {
	s := newSite(t, "sqlite:"+filepath.Join(t.TempDir(), "enthub.db"), false)
	st, _, h := s.browser().get("/console/guests")
	if st != http.StatusSeeOther || h.Get("Location") != "/login" {
		t.Errorf("without a session: %d to %q, want 303 to /login", st, h.Get("Location"))
	}
	teacher := s.signIn("teacher.a")
	for _, path := range []string{"/console/guests", "/console/guests/new"} {
		if st, body, _ := teacher.get(path); st != http.StatusForbidden || !strings.Contains(body, "réservée à la direction") {
			t.Errorf("teacher GET %s: %d, want 403", path, st)
		}
	}
	if st, _, _ := teacher.post("/console/guests", newGuestForm()); st != http.StatusForbidden {
		t.Errorf("teacher creates a guest: %d, want 403", st)
	}
	if n := len(s.events("console.denied")); n != 3 {
		t.Errorf("%d refusals audited, want 3", n)
	}
}

func TestExpiredGuestRefusedAtLogin(t *testing.T) {
	s := newSite(t, "sqlite:"+filepath.Join(t.TempDir(), "enthub.db"), false)
	pa := s.signIn("principal.a")
	f := newGuestForm()
	f.Set("until", "2026-09-20")
	_, code := pa.createGuest(f)
	g := s.browser()
	g.get("/activation")
	pw := "mon mot de passe de stage"
	if st, _, _ := g.post("/activation", url.Values{"code": {code}, "password": {pw}, "confirm": {pw}}); st != http.StatusOK {
		t.Fatalf("activation: %d", st)
	}
	s.clock.Set(time.Date(2026, 9, 20, 23, 0, 0, 0, time.UTC))
	if st := s.guestLogin("lea.dupre", pw); st != http.StatusSeeOther {
		t.Fatalf("login on the last day: %d, want 303", st)
	}
	s.clock.Set(time.Date(2026, 9, 21, 0, 0, 0, 0, time.UTC))
	if st := s.guestLogin("lea.dupre", pw); st != http.StatusUnauthorized {
		t.Errorf("login after the end date: %d, want 401", st)
	}
	pa = s.signIn("principal.a")
	if _, body, _ := pa.get("/console/guests"); !strings.Contains(body, "expiré") {
		t.Errorf("the list does not show the guest expired:\n%s", body)
	}
}

func TestCreateFormErrors(t *testing.T) {
	s := newSite(t, "sqlite:"+filepath.Join(t.TempDir(), "enthub.db"), false)
	pa := s.signIn("principal.a")
	pa.get("/console/guests/new")
	f := newGuestForm()
	f.Set("email", "lea@")
	f.Set("first_name", "")
	f.Set("until", "31/02/2026")
	st, body, _ := pa.post("/console/guests", f)
	if st != http.StatusBadRequest {
		t.Fatalf("%d, want 400", st)
	}
	for _, want := range []string{
		"<title>Erreur : Créer un compte invité",
		`<a href="#first_name">Saisissez le prénom.</a>`,
		`id="email" name="email" value="lea@" autocomplete="off" aria-invalid="true" aria-describedby="email-hint email-error"`,
		`<p class="field-error" id="until-error">La date de fin n&#39;est pas une date valide.</p>`,
		`value="Dupré"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s\n%s", want, body)
		}
	}
	// English, from the catalogue.
	st, body, _ = pa.get("/console/guests/new?lang=en")
	if st != http.StatusOK || !strings.Contains(body, `<html lang="en">`) || !strings.Contains(body, "Create a guest account") {
		t.Errorf("English page: %d\n%s", st, body)
	}
	// The choice holds on the next page, which the link gives without
	// ?lang=, and back in French once chosen.
	if _, body, _ = pa.get("/console/guests"); !strings.Contains(body, `<html lang="en">`) {
		t.Errorf("the page after choosing English is not in English:\n%s", body)
	}
	pa.get("/console/guests?lang=fr")
	if _, body, _ = pa.get("/console/guests/new"); !strings.Contains(body, `<html lang="fr">`) {
		t.Errorf("the page after choosing French is not in French:\n%s", body)
	}
}

func TestActivationMailed(t *testing.T) {
	s := newSite(t, "sqlite:"+filepath.Join(t.TempDir(), "enthub.db"), true)
	pa := s.signIn("principal.a")
	_, code := pa.createGuest(newGuestForm())
	if len(s.mails.sent) != 1 || !strings.HasPrefix(s.mails.sent[0], "lea.dupre@example.org\n") || !strings.Contains(s.mails.sent[0], "/activation?code="+code) {
		t.Errorf("mails = %q", s.mails.sent)
	}
}

func TestAssets(t *testing.T) {
	s := newSite(t, "sqlite:"+filepath.Join(t.TempDir(), "enthub.db"), false)
	for _, f := range []string{"console.css", "print.css"} {
		st, body, h := s.browser().get("/console/assets/" + f)
		if st != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/css") || h.Get("X-Content-Type-Options") != "nosniff" || len(body) < 100 {
			t.Errorf("%s: %d %v", f, st, h)
		}
	}
}
