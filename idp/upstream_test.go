package idp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// upstreamLogin mounts a stand-in for the federation broker: GET
// /test/upstream?ref=… completes an upstream login of the given accounts.
func (f *fixture) upstreamLogin(accounts ...string) {
	mux := f.srv.Config.Handler.(*http.ServeMux)
	mux.HandleFunc("/test/upstream", func(w http.ResponseWriter, r *http.Request) {
		ref := r.URL.Query().Get("ref")
		f.p.CompleteUpstreamLogin(w, r, UpstreamLogin{Upstream: "educonnect", Accounts: accounts, Ref: "educonnect|" + ref,
			Logout: []byte(`{"session_index":"` + ref + `"}`), Request: r.URL.Query().Get("req"), Details: map[string]string{"rule": "test"}})
	})
}

var personaRE = regexp.MustCompile(`(?s)name="persona" value="([^"]+)"[^>]*>(.*?)</label>`)

// pickPersona posts the persona page's choice whose label holds all texts.
func (f *fixture) pickPersona(c *http.Client, page string, texts ...string) (*http.Response, string) {
	f.t.Helper()
	for _, m := range personaRE.FindAllStringSubmatch(page, -1) {
		ok := true
		for _, t := range texts {
			ok = ok && strings.Contains(m[2], t)
		}
		if !ok {
			continue
		}
		csrf := csrfRE.FindStringSubmatch(page)
		req := reqRE.FindStringSubmatch(page)
		resp, err := c.PostForm(f.base+"/login/persona", url.Values{"csrf": {csrf[1]}, "req": {htmlUnescape(req[1])}, "persona": {m[1]}})
		if err != nil {
			f.t.Fatal(err)
		}
		return resp, body(f.t, resp)
	}
	f.t.Fatalf("no persona %q in:\n%s", texts, page)
	return nil, ""
}

// An upstream login that linked two accounts (a principal who is also a
// parent) offers the personas of both; switching persona later needs no
// new login, moves the session to the other account, logs out what the old
// persona reached, and the next ticket carries the new persona.
func TestUpstreamLoginOffersEveryCandidateAndSwitchLogsOutOldPersona(t *testing.T) {
	slo := make(chan string, 4)
	sp := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		slo <- r.PostFormValue("logoutRequest")
	}))
	defer sp.Close()
	f := newFixture(t, func(c *Config) {
		c.Services = append(c.Services, Service{ID: "slo", Name: "SLO app", Protocol: ProtocolCAS, Release: pronotePolicy,
			CAS: CASService{ServicePatterns: []string{"^" + strings.ReplaceAll(sp.URL, ".", `\.`) + "/.*$"}, SingleLogout: true}})
	})
	f.p.deps.HTTPClient = sp.Client()
	f.upstreamLogin(f.ids["eleve.account"], f.ids["prof.account"])
	c := f.browser()
	resp, page := f.get(c, f.base+"/test/upstream?ref=idx-1")
	if resp.Request.URL.Path != "/login/persona" || !strings.Contains(page, "emma.martin") || !strings.Contains(page, "paul.durand") || strings.Count(page, `name="persona"`) != 3 {
		t.Fatalf("persona page of two candidate accounts: %s\n%s", resp.Request.URL, page)
	}
	f.pickPersona(c, page, "emma.martin")
	tk := f.casTicket(c, sp.URL+"/app", "")
	if cr := f.validate("/cas/serviceValidate", sp.URL+"/app", tk, ""); cr.Success == nil || cr.Success.User != "emma.martin" {
		t.Fatalf("first ticket: %+v", cr)
	}
	_, page = f.get(c, f.base+"/login/persona")
	resp, _ = f.pickPersona(c, page, "paul.durand", "Collège Anatole France")
	if resp.Request.URL.Path != "/" {
		t.Fatalf("after the switch: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	select {
	case lr := <-slo:
		if !strings.Contains(lr, tk) {
			t.Fatalf("logoutRequest of the old persona: %s", lr)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the service reached as the old persona was not logged out")
	}
	tk = f.casTicket(c, pronoteURL, "")
	cr := f.validate("/cas/serviceValidate", pronoteURL, tk, "")
	if cr.Success == nil || cr.Success.User != "paul.durand" {
		t.Fatalf("ticket after the switch: %+v", cr)
	}
	evs := f.events(EventPersonaSwitch)
	if len(evs) != 1 || evs[0].Details["from_account"] != f.ids["eleve.account"] || evs[0].AccountID != f.ids["prof.account"] || evs[0].Details["services"] != "1" {
		t.Fatalf("switch events: %+v", evs)
	}
	logins := f.events(EventLogin)
	if len(logins) != 1 || logins[0].Details["upstream"] != "educonnect" || logins[0].Details["rule"] != "test" || logins[0].Details["candidates"] != "2" {
		t.Fatalf("login events: %+v", logins)
	}
}

// A parked relying-party request resumes after an upstream login as after
// the password form.
func TestUpstreamLoginResumesParkedRequest(t *testing.T) {
	f := newFixture(t)
	f.upstreamLogin(f.ids["eleve.account"])
	c := f.browser()
	resp, _ := f.get(c, f.base+"/cas/login?service="+url.QueryEscape(pronoteURL))
	req := resp.Request.URL.Query().Get("req")
	if req == "" {
		t.Fatalf("no parked request: %s", resp.Request.URL)
	}
	resp, _ = f.get(c, f.base+"/test/upstream?ref=x&req="+url.QueryEscape(req))
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if !strings.HasPrefix(loc.String(), pronoteURL) || loc.Query().Get("ticket") == "" {
		t.Fatalf("not resumed: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// Logging out of enthub also logs out at the upstream (through the
// broker's hook, with the stored logout data); the upstream's own logout
// request ends the sessions of its session and only those.
func TestUpstreamLogoutBothWays(t *testing.T) {
	type call struct {
		upstream, logout, next string
	}
	calls := make(chan call, 2)
	f := newFixture(t, func(c *Config) {
		c.UpstreamLogout = func(w http.ResponseWriter, r *http.Request, upstream string, logout []byte, next string) bool {
			calls <- call{upstream, string(logout), next}
			http.Redirect(w, r, "https://educonnect.example/slo", http.StatusFound)
			return true
		}
	})
	f.upstreamLogin(f.ids["eleve.account"])
	a, b := f.browser(), f.browser()
	f.get(a, f.base+"/test/upstream?ref=idx-a")
	f.get(b, f.base+"/test/upstream?ref=idx-b")
	_, page := f.get(a, f.base+"/logout")
	csrf := csrfRE.FindStringSubmatch(page)
	resp, err := a.PostForm(f.base+"/logout", url.Values{"csrf": {csrf[1]}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Location") != "https://educonnect.example/slo" {
		t.Fatalf("enthub logout did not go to the upstream: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	got := <-calls
	if got.upstream != "educonnect" || got.logout != `{"session_index":"idx-a"}` || got.next != f.base+"/logout?done=1" {
		t.Fatalf("upstream logout call: %+v", got)
	}
	n, err := f.p.EndUpstreamSessions(context.Background(), "educonnect|idx-b")
	if err != nil || n != 1 {
		t.Fatalf("EndUpstreamSessions = %d, %v", n, err)
	}
	if tk := f.casTicketNoLogin(b); tk != "" {
		t.Fatal("session still alive after the upstream's logout")
	}
	if n, _ := f.p.EndUpstreamSessions(context.Background(), "educonnect|idx-b"); n != 0 {
		t.Fatalf("second upstream logout ended %d sessions", n)
	}
}

// The login entry asks the profile, then the method when the profile has
// several; a profile with one method goes straight to it; ?profile= links
// skip step 1; the parked request travels through every step.
func TestChooserProfileThenMethod(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.LoginMethods = []LoginMethod{
			{ID: "educonnect", Label: "EduConnect", Profiles: []string{"eleve", "parent"}},
			{ID: "eduprovence", Label: "EduProvence", Profiles: []string{"collectivite", "eleve"}},
			{ID: "invites", Label: "Compte invité", Profiles: []string{"invite"}, Local: true},
		}
	})
	c := f.browser()
	_, page := f.get(c, f.base+"/login")
	for _, want := range []string{"/login?profile=eleve", "/login?profile=parent", "/login?profile=collectivite", "/login?profile=invite"} {
		if !strings.Contains(page, want) {
			t.Errorf("step 1 lacks %s:\n%s", want, page)
		}
	}
	if strings.Contains(page, "profile=personnel") || strings.Contains(page, `name="password"`) {
		t.Errorf("step 1 offers a profile no method serves, or the password form:\n%s", page)
	}
	resp, _ := f.get(c, f.base+"/cas/login?service="+url.QueryEscape(pronoteURL))
	req := resp.Request.URL.Query().Get("req")
	_, page = f.get(c, f.base+"/login?profile=eleve&req="+url.QueryEscape(req))
	for _, want := range []string{"EduConnect " + f.base + "/login/educonnect?req=" + url.QueryEscape(req), "EduProvence " + f.base + "/login/eduprovence?req="} {
		if !strings.Contains(htmlUnescape(page), want) {
			t.Errorf("step 2 lacks %q:\n%s", want, page)
		}
	}
	nc := &http.Client{Jar: c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := nc.Get(f.base + "/login?profile=parent&req=" + url.QueryEscape(req))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != f.base+"/login/educonnect?req="+url.QueryEscape(req) {
		t.Errorf("one method: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, page = f.get(c, f.base+"/login?profile=invite&req="+url.QueryEscape(req))
	if !strings.Contains(page, `name="password"`) || resp.Request.URL.Query().Get("method") != "invites" {
		t.Errorf("the guests' method is the password form: %s\n%s", resp.Request.URL, page)
	}
	resp, _ = f.get(c, f.base+"/login?profile=nobody")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown profile: %d", resp.StatusCode)
	}
}

// The chooser remembers the profile on the device (a first-party cookie
// scoped to /login) and lists it first next time; the method the launcher
// remembered comes first in step 2.
func TestChooserRemembersProfileAndMethod(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.LoginMethods = []LoginMethod{
			{ID: "educonnect", Label: "EduConnect", Profiles: []string{"eleve", "parent"}},
			{ID: "eduprovence", Label: "EduProvence", Profiles: []string{"collectivite", "eleve"}},
		}
	})
	c := f.browser()
	_, page := f.get(c, f.base+"/login")
	if strings.Index(page, "profile=eleve") > strings.Index(page, "profile=collectivite") || strings.Contains(page, "\"last\"") {
		t.Fatalf("first visit: élève not first, or a choice marked:\n%s", page)
	}
	f.get(c, f.base+"/login?profile=collectivite") // its one method is not mounted here: only the cookie matters
	u, _ := url.Parse(f.base + "/login")
	var got *http.Cookie
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == ChooserProfileCookie {
			got = ck
		}
	}
	if got == nil || got.Value != "collectivite" {
		t.Fatalf("profile not remembered: %v", c.Jar.Cookies(u))
	}
	_, page = f.get(c, f.base+"/login")
	if i, j := strings.Index(page, "profile=collectivite"), strings.Index(page, "profile=eleve"); i < 0 || i > j {
		t.Errorf("remembered profile not first:\n%s", page)
	}
	c.Jar.SetCookies(u, []*http.Cookie{{Name: ChooserMethodCookie, Value: "eduprovence", Path: "/login"}})
	_, page = f.get(c, f.base+"/login?profile=eleve")
	if i, j := strings.Index(page, "/login/eduprovence"), strings.Index(page, "/login/educonnect"); i < 0 || i > j {
		t.Errorf("remembered method not first:\n%s", page)
	}
}
