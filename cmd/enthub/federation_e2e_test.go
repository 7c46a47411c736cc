package main

import (
	"context"
	"errors"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/enthub/enthub/aaf"
	"github.com/enthub/enthub/config"
	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/federation/simulate"
	"github.com/enthub/enthub/idp/demorp"
	"github.com/enthub/enthub/test/peer"
)

// fedWorld is an enthub with the simulated upstreams, on a small generated
// directory: what `enthub demo` runs, started in the test process.
type fedWorld struct {
	base  string
	store *sqlstore.Store
	cast  simulate.Cast
	ups   *simulate.Upstreams
}

func startFedWorld(t testing.TB, db string, mutate ...func(*config.Config)) *fedWorld {
	t.Helper()
	return startFedWorldWith(t, db, nil, mutate...)
}

// moreUpstreams adds connectors beside the simulations' (third-party
// upstreams), knowing enthub's public URL and the demo cast.
type moreUpstreams func(ctx context.Context, public string, w *fedWorld) ([]config.Connector, error)

func startFedWorldWith(t testing.TB, db string, more moreUpstreams, mutate ...func(*config.Config)) *fedWorld {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	store, err := sqlstore.Open(ctx, db, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cfg := config.Default()
	cfg.DB, cfg.HTTP.Listen, cfg.LDAP.Enabled = db, "127.0.0.1:0", false
	for _, m := range mutate {
		m(&cfg)
	}
	out := filepath.Join(t.TempDir(), "aaf")
	if _, err := aaf.Generate(ctx, aaf.GenerateOptions{Out: out, Students: 600, Schools: 3, Seed: 2026}); err != nil {
		t.Fatal(err)
	}
	if _, err := aaf.Import(ctx, store, []string{out}, importOptions(cfg)); err != nil {
		t.Fatal(err)
	}
	if err := demorp.SeedGuest(ctx, store, time.Now()); err != nil {
		t.Fatal(err)
	}
	w := &fedWorld{store: store}
	ready := make(chan string, 1)
	st := &stack{demo: true,
		publicURL: func(addr string) string { return "http://" + addr },
		onReady:   func(addr string) { ready <- addr },
		upstreams: func(ctx context.Context, public string) ([]config.Connector, error) {
			if err := simulate.SeedAgent(ctx, store); err != nil {
				return nil, err
			}
			if err := simulate.SeedPrincipalParent(ctx, store); err != nil {
				return nil, err
			}
			if w.cast, err = simulate.FindCast(ctx, store); err != nil {
				return nil, err
			}
			sim := httptest.NewUnstartedServer(nil)
			w.ups, err = simulate.NewUpstreams("http://"+sim.Listener.Addr().String(), public, t.TempDir(), w.cast)
			if err != nil {
				return nil, err
			}
			sim.Config.Handler = w.ups.Handler()
			sim.Start()
			t.Cleanup(sim.Close)
			if more == nil {
				return w.ups.Connectors, nil
			}
			extra, err := more(ctx, public, w)
			return append(slices.Clone(w.ups.Connectors), extra...), err
		}}
	a := &app{stdout: io.Discard, stderr: io.Discard}
	done := make(chan error, 1)
	go func() { done <- a.runServices(ctx, cfg, slog.New(slog.DiscardHandler), store, st) }()
	select {
	case addr := <-ready:
		w.base = "http://" + addr
	case err := <-done:
		t.Fatalf("enthub did not start: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("enthub did not start within 60s")
	}
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return w
}

// browser is a cookie-keeping client that follows redirects and submits
// the forms a person would.
type browser struct {
	t    *testing.T
	c    *http.Client
	url  string // of the last page
	body string
	code int
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(r *http.Request, via []*http.Request) error {
		// Each hop in the log: a failed journey shows where it went.
		t.Logf("redirect %d: %s %s", len(via), r.Method, r.URL)
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}}}
}

func (b *browser) do(req *http.Request) *browser {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	b.url, b.body, b.code = resp.Request.URL.String(), string(raw), resp.StatusCode
	return b
}

func (b *browser) get(u string) *browser {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) *browser {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var formRE = regexp.MustCompile(`(?s)<form[^>]*>.*?</form>`)
var methodRE = regexp.MustCompile(`method="(\w+)"`)

// submit sends the form of the page that contains marker (every form when
// marker is ""), with extra fields set, as the browser would: relative
// actions resolved against the page.
func (b *browser) submit(marker string, extra url.Values) *browser {
	b.t.Helper()
	for _, f := range formRE.FindAllString(b.body, -1) {
		if marker != "" && !strings.Contains(f, marker) {
			continue
		}
		action, fields := simulate.FormFields(f)
		for k, v := range extra {
			fields[k] = v
		}
		base, _ := url.Parse(b.url)
		to, _ := base.Parse(action)
		if m := methodRE.FindStringSubmatch(f); m != nil && strings.EqualFold(m[1], "get") {
			to.RawQuery = fields.Encode()
			return b.get(to.String())
		}
		return b.post(to.String(), fields)
	}
	b.t.Fatalf("no form with %q on %s (%d):\n%s", marker, b.url, b.code, b.body)
	return b
}

// follow goes to the first link whose text contains label.
func (b *browser) follow(label string) *browser {
	b.t.Helper()
	re := regexp.MustCompile(`<a[^>]*href="([^"]+)"[^>]*>([^<]*)</a>`)
	for _, m := range re.FindAllStringSubmatch(b.body, -1) {
		if strings.Contains(htmlUnescape(m[2]), label) {
			base, _ := url.Parse(b.url)
			to, _ := base.Parse(htmlUnescape(m[1]))
			return b.get(to.String())
		}
	}
	b.t.Fatalf("no link %q on %s:\n%s", label, b.url, b.body)
	return b
}

func htmlUnescape(s string) string {
	_, f := simulate.FormFields(`<input name="x" value="` + s + `">`)
	return f.Get("x")
}

// method picks the login method on the chooser's step 2; a profile with
// one method skips that step (the browser is already at the upstream).
func (b *browser) method(label string) *browser {
	b.t.Helper()
	if strings.Contains(b.body, "Comment vous connectez-vous") {
		return b.follow(label)
	}
	return b
}

// choosePersona picks, on the persona page, the choice whose label holds
// text (a UAI and a profile label).
func (b *browser) choosePersona(texts ...string) *browser {
	b.t.Helper()
	re := regexp.MustCompile(`(?s)<div class="choice">.*?value="([^"]+)".*?</div>`)
	for _, m := range re.FindAllStringSubmatch(b.body, -1) {
		ok := true
		for _, t := range texts {
			ok = ok && strings.Contains(m[0], t)
		}
		if ok {
			return b.submit(`name="persona"`, url.Values{"persona": {m[1]}})
		}
	}
	b.t.Fatalf("no persona with %q on %s:\n%s", texts, b.url, b.body)
	return b
}

// casAttr reads an attribute the demo CAS service shows.
func casAttr(body, name string) string {
	re := regexp.MustCompile(`(?s)<code>cas:` + name + `</code></th><td><code>([^<]*)</code>`)
	if m := re.FindStringSubmatch(body); m != nil {
		return htmlUnescape(strings.TrimSpace(m[1]))
	}
	return ""
}

func (b *browser) expect(want ...string) {
	b.t.Helper()
	for _, w := range want {
		if !strings.Contains(b.body, w) {
			b.t.Fatalf("%s (%d) does not show %q:\n%s", b.url, b.code, w, b.body)
		}
	}
}

// atCAS reaches the demo CAS service and checks what it received.
func (b *browser) atCAS(w *fedWorld, login, profile, uai string) {
	b.t.Helper()
	if !strings.HasPrefix(b.url, w.base+"/demo/cas/") {
		b.get(w.base + "/demo/cas/")
	}
	if got := casAttr(b.body, "user"); got != login {
		b.t.Fatalf("CAS user %q, want %q:\n%s", got, login, b.body)
	}
	if got := casAttr(b.body, "profil"); got != profile {
		b.t.Errorf("CAS profil %q, want %q", got, profile)
	}
	if got := casAttr(b.body, "uai"); got != uai {
		b.t.Errorf("CAS uai %q, want %q", got, uai)
	}
}

// childrenIn are the names (HTML-escaped, as the page writes them) of a
// parent's children who are students of the structure.
func childrenIn(t *testing.T, store *sqlstore.Store, parentID, structureID string) []string {
	t.Helper()
	ctx := context.Background()
	rels, err := store.Relations(ctx, parentID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rels {
		ps, _ := store.Personas(ctx, r.ChildID)
		for _, pa := range ps {
			if r.ParentID == parentID && pa.StructureID == structureID && pa.Profile == directory.ProfileEleve {
				child, err := store.Person(ctx, r.ChildID)
				if err != nil {
					t.Fatal(err)
				}
				names = append(names, html.EscapeString(child.FirstName+" "+child.LastName))
			}
		}
	}
	return names
}

func uaiOfProfile(m simulate.Member, p directory.Profile, skip string) string {
	for i, pa := range m.Personas {
		if pa.Profile == p && m.UAIs[i] != skip {
			return m.UAIs[i]
		}
	}
	return ""
}

func testFederatedJourneys(t *testing.T, db string) {
	w := startFedWorld(t, db)
	cas := w.base + "/demo/cas/"

	t.Run("student via EduConnect reaches CAS", func(t *testing.T) {
		b := newBrowser(t)
		b.get(cas).expect("Je suis")
		b.follow("un élève").method("EduConnect").expect("Simulation — EduConnect", "SIMULATION")
		b.submit(w.cast.Student.Person.LastName, nil).submit("", nil) // the simulation posts to enthub
		b.atCAS(w, w.cast.Student.Account.Login, "eleve", w.cast.Student.UAIs[0])
	})

	t.Run("parent of two children in two schools picks, then switches", func(t *testing.T) {
		b := newBrowser(t)
		first := uaiOfProfile(w.cast.Parent, directory.ProfileParent, "")
		second := uaiOfProfile(w.cast.Parent, directory.ProfileParent, first)
		b.get(cas).follow("un parent").method("EduConnect")
		b.submit(w.cast.Parent.Person.LastName, nil).submit("", nil)
		b.expect("Choisissez votre profil", first, second)
		for _, uai := range []string{first, second} {
			// Each choice names the child who is a student there and the
			// school with its town, not the parent's own record.
			label := regexp.MustCompile(`<label[^>]*>[^\n]*\(` + uai + `\)[^\n]*</label>`).FindString(b.body)
			st, err := w.store.StructureByUAI(context.Background(), uai)
			if err != nil {
				t.Fatal(err)
			}
			kids := childrenIn(t, w.store, w.cast.Parent.Person.ID, st.ID)
			if len(kids) == 0 || st.City == "" {
				t.Fatalf("the demo parent has no child in %s, or it has no town", uai)
			}
			for _, want := range append(kids, "<strong>Parent d", "</strong> — "+html.EscapeString(st.Name+", "+st.City)) {
				if !strings.Contains(label, want) {
					t.Errorf("the persona of %s is %q, lacks %q", uai, label, want)
				}
			}
		}
		b.choosePersona(first)
		b.atCAS(w, w.cast.Parent.Account.Login, "parent", first)
		b.get(w.base + "/login/persona").choosePersona(second)
		b.atCAS(w, w.cast.Parent.Account.Login, "parent", second)
	})

	teacher := func(method string) func(t *testing.T) {
		return func(t *testing.T) {
			b := newBrowser(t)
			first := uaiOfProfile(w.cast.Teacher, directory.ProfileEnseignant, "")
			second := uaiOfProfile(w.cast.Teacher, directory.ProfileEnseignant, first)
			b.get(cas).follow("un enseignant").method(method)
			if method == "SAML" {
				b.submit(w.cast.Teacher.Person.LastName, nil).submit("", nil)
			} else {
				b.submit(w.cast.Teacher.Person.LastName, nil)
			}
			b.choosePersona(first, "Enseignant")
			b.atCAS(w, w.cast.Teacher.Account.Login, "enseignant", first)
			b.get(w.base+"/login/persona").choosePersona(second, "Enseignant")
			b.atCAS(w, w.cast.Teacher.Account.Login, "enseignant", second)
		}
	}
	t.Run("teacher in two schools via agents portal SAML", teacher("SAML"))
	t.Run("teacher in two schools via agents portal OIDC", teacher("OIDC"))

	principal := func(method string) func(t *testing.T) {
		return func(t *testing.T) {
			pp := w.cast.PrincipalAsParent
			if pp.Account.ID == "" || pp.Account.ID == w.cast.Principal.Account.ID {
				t.Fatalf("the principal has no separate parent account: %+v", pp.Account)
			}
			b := newBrowser(t)
			b.get(cas).follow("un enseignant").method(method).expect("aussi parent")
			b.submit(w.cast.Principal.Person.LastName, nil)
			if method == "SAML" {
				b.submit("", nil)
			}
			// One login, two accounts: the agent's and the parent's.
			uai, parentUAI := uaiOfProfile(w.cast.Principal, directory.ProfileDirection, ""), uaiOfProfile(pp, directory.ProfileParent, "")
			b.expect("Choisissez votre profil", pp.Account.Login, w.cast.Principal.Account.Login)
			b.choosePersona(uai, "Direction")
			b.atCAS(w, w.cast.Principal.Account.Login, "direction", uai)
			b.get(w.base+"/login/persona").choosePersona(parentUAI, "Parent")
			b.atCAS(w, pp.Account.Login, "parent", parentUAI)
		}
	}
	t.Run("principal who is also a parent via agents portal OIDC", principal("OIDC"))
	t.Run("principal who is also a parent via agents portal SAML", principal("SAML"))

	t.Run("collectivité agent via Entra ID", func(t *testing.T) {
		b := newBrowser(t)
		b.get(cas).follow("un agent de la collectivité").expect("Simulation — EduProvence (Entra ID)")
		b.submit("Agent de la collectivité", nil)
		b.atCAS(w, simulate.AgentLogin, "collectivite", w.cast.Agent.UAIs[0])
	})

	t.Run("student via Entra ID on a school device", func(t *testing.T) {
		b := newBrowser(t)
		b.get(cas).follow("un élève").method("EduProvence").submit("poste du collège", nil)
		b.atCAS(w, w.cast.Student.Account.Login, "eleve", w.cast.Student.UAIs[0])
	})

	t.Run("headless brokered login of the benchmarks", func(t *testing.T) {
		l := simulate.BrokeredLogin{Enthub: w.base, Service: cas, Expect: w.cast.Student.Account.Login,
			Connector: simulate.EduConnectID, Person: w.cast.Student.Person.LastName}
		for i := 0; i < 3; i++ {
			if err := l.Run(context.Background()); err != nil {
				t.Fatalf("login %d: %v", i, err)
			}
		}
		l.Person = "absent de l"
		if err := l.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "status 403") {
			t.Errorf("a login that links to nobody: %v, want the ACS's 403", err)
		}
	})

	t.Run("guest by password", func(t *testing.T) {
		b := newBrowser(t)
		b.get(cas).follow("un invité").submit(`name="password"`, url.Values{"login": {demorp.GuestLogin}, "password": {demorp.GuestPassword}})
		b.atCAS(w, demorp.GuestLogin, "invite", casAttr(b.body, "uai"))
	})

	t.Run("no match: whom to contact, audited, no account created", func(t *testing.T) {
		before, _ := w.store.Stats(context.Background())
		b := newBrowser(t)
		b.get(cas).follow("un élève").method("EduConnect").submit("absent de l", nil).submit("", nil)
		if b.code != http.StatusForbidden {
			t.Errorf("status %d, want 403", b.code)
		}
		b.expect("Aucun compte ENT ne correspond", "secrétariat", w.cast.Student.UAIs[0])
		after, _ := w.store.Stats(context.Background())
		if after.Accounts != before.Accounts {
			t.Errorf("accounts %d → %d: a failed link created an account", before.Accounts, after.Accounts)
		}
		waitEvent(t, w.store, "federation.link", func(e directory.Event) bool {
			return e.Outcome == "refused" && e.Details["connector"] == simulate.EduConnectID && e.Details["uai"] == w.cast.Student.UAIs[0] &&
				strings.Contains(e.Details["rules_tried"], "educonnect-vecteur-aaf")
		})
	})

	t.Run("metrics count logins by connector", func(t *testing.T) {
		b := newBrowser(t).get(w.base + "/metrics")
		b.expect(`enthub_sso_logins_total{outcome="ok",protocol="cas",upstream="educonnect"}`,
			`enthub_sso_logins_total{outcome="ok",protocol="cas",upstream="agents-saml"}`,
			`enthub_sso_logins_total{outcome="ok",protocol="cas",upstream="eduprovence"}`,
			`enthub_sso_logins_total{outcome="refused",protocol="cas",upstream="educonnect"}`)
	})
}

// waitEvent waits for the audit event (written in batches) that ok accepts.
func waitEvent(t *testing.T, store *sqlstore.Store, typ string, ok func(directory.Event) bool) directory.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		es, err := store.Events(context.Background(), directory.EventFilter{Type: typ, Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if ok(e) {
				return e
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no %s event as expected", typ)
	return directory.Event{}
}

func TestFederatedJourneysSQLite(t *testing.T) {
	testFederatedJourneys(t, "sqlite:"+filepath.Join(t.TempDir(), "enthub.db"))
}

func TestFederatedJourneysPostgres(t *testing.T) {
	testFederatedJourneys(t, peer.Postgres(t))
}

// BenchmarkBrokeredLoginHTTP is test/bench/brokered.sh in the test
// process (for a CPU profile): complete brokered logins through the
// simulated EduConnect over loopback HTTP, on SQLite. cpu-ms/login is the
// CPU time of the whole process per login (enthub, the simulated upstream
// that signs and encrypts each assertion, and the headless browsers): it
// is what compares between commits on a machine others share, where ns/op
// (wall time) does not.
func BenchmarkBrokeredLoginHTTP(b *testing.B) {
	w := startFedWorld(b, "sqlite:"+filepath.Join(b.TempDir(), "enthub.db"))
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 4 * runtime.GOMAXPROCS(0) // each browser keeps its connections
	l := simulate.BrokeredLogin{Enthub: w.base, Service: w.base + "/demo/cas/", Expect: "cas:user",
		Connector: simulate.EduConnectID, Person: w.cast.Student.Person.LastName, Client: &http.Client{Transport: tr}}
	if err := l.Run(context.Background()); err != nil { // warm: connections, caches
		b.Fatal(err)
	}
	b.ResetTimer()
	cpu0 := processCPU(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := l.Run(context.Background()); err != nil {
				b.Error(err)
			}
		}
	})
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/login")
}

// processCPU is the CPU time (user and system) the test process has used.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
