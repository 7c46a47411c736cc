package idp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const pronoteURL = "https://0451462V.index-education.net/pronote/eleve.html"

// casLogin runs /cas/login for service with a browser (logging in if the
// login form shows) and returns the ticket given to the service.
func (f *fixture) casTicket(c *http.Client, service, extra string) string {
	f.t.Helper()
	resp, page := f.get(c, f.base+"/cas/login?service="+url.QueryEscape(service)+extra)
	if resp.StatusCode == 200 && strings.Contains(page, `name="password"`) {
		resp, page = f.submitLogin(c, page, "emma.martin", testPassword)
	}
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, service) {
		f.t.Fatalf("CAS login for %s: status %d, location %q\n%s", service, resp.StatusCode, loc, page)
	}
	u, _ := url.Parse(loc)
	return u.Query().Get("ticket")
}

type casResponse struct {
	Success *struct {
		User       string `xml:"user"`
		Attributes struct {
			Any []struct {
				XMLName xml.Name
				Value   string `xml:",chardata"`
			} `xml:",any"`
		} `xml:"attributes"`
		PGT string `xml:"proxyGrantingTicket"`
	} `xml:"authenticationSuccess"`
	Failure *struct {
		Code string `xml:"code,attr"`
		Msg  string `xml:",chardata"`
	} `xml:"authenticationFailure"`
}

func (f *fixture) validate(path, service, ticket, extra string) casResponse {
	f.t.Helper()
	resp, err := http.Get(f.base + path + "?service=" + url.QueryEscape(service) + "&ticket=" + url.QueryEscape(ticket) + extra)
	if err != nil {
		f.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var cr casResponse
	if err := xml.Unmarshal(b, &cr); err != nil {
		f.t.Fatalf("CAS response is not XML: %v\n%s", err, b)
	}
	return cr
}

func attrs(cr casResponse) map[string]string {
	m := map[string]string{}
	for _, a := range cr.Success.Attributes.Any {
		m[a.XMLName.Local] = a.Value
	}
	return m
}

func TestCASLoginParksRequestAndResumesWithTicket(t *testing.T) {
	f := newFixture(t)
	c := f.browser()
	resp, page := f.get(c, f.base+"/cas/login?service="+url.QueryEscape(pronoteURL))
	if resp.Request.URL.Path != "/login" || resp.Request.URL.Query().Get("req") == "" {
		t.Fatalf("no session: want the login page with a parked request, got %s", resp.Request.URL)
	}
	resp, _ = f.submitLogin(c, page, "emma.martin", testPassword)
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, pronoteURL+"?ticket=ST-") {
		t.Fatalf("after login: %d %s", resp.StatusCode, loc)
	}
	// Second service, no second login.
	if tk := f.casTicket(c, pronoteURL, ""); !strings.HasPrefix(tk, "ST-") {
		t.Fatalf("SSO: %q", tk)
	}
	if evs := f.events(EventLogin); len(evs) != 1 {
		t.Fatalf("%d logins for two services", len(evs))
	}
}

func TestCASServiceValidateReleasesPronoteAttributes(t *testing.T) {
	f := newFixture(t)
	c := f.browser()
	for _, path := range []string{"/cas/serviceValidate", "/cas/p3/serviceValidate", "/cas/proxyValidate", "/cas/p3/proxyValidate"} {
		tk := f.casTicket(c, pronoteURL, "")
		cr := f.validate(path, pronoteURL, tk, "")
		if cr.Success == nil {
			t.Fatalf("%s: %+v", path, cr.Failure)
		}
		want := map[string]string{"nom": "Martin", "prenom": "Emma", "dateNaissance": "14/03/2010", "codePostal": "45000", "categories": "National_1"}
		got := attrs(cr)
		if cr.Success.User != "emma.martin" || len(got) != len(want) {
			t.Fatalf("%s: user %q attributes %v", path, cr.Success.User, got)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q", path, k, got[k], v)
			}
		}
	}
	if n := len(f.events(EventTicketIssued)); n != 4 {
		t.Fatalf("%d ticket.issued events", n)
	}
}

func TestCASNoAttributeReleasedThatPolicyDoesNotName(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Services[0].Release = ReleasePolicy{Attributes: []AttributeRule{{Source: "person.first_name", Name: "prenom"}}}
	})
	c := f.browser()
	cr := f.validate("/cas/p3/serviceValidate", pronoteURL, f.casTicket(c, pronoteURL, ""), "")
	got := attrs(cr)
	if len(got) != 1 || got["prenom"] != "Emma" {
		t.Fatalf("policy names only prenom; released %v", got)
	}
}

func TestCASTicketReuseRefused(t *testing.T) {
	f := newFixture(t)
	tk := f.casTicket(f.browser(), pronoteURL, "")
	if cr := f.validate("/cas/serviceValidate", pronoteURL, tk, ""); cr.Success == nil {
		t.Fatal("first validation failed")
	}
	cr := f.validate("/cas/serviceValidate", pronoteURL, tk, "")
	if cr.Failure == nil || cr.Failure.Code != "INVALID_TICKET" {
		t.Fatalf("second validation: %+v", cr)
	}
	if len(f.events(EventTicketRefused)) != 1 {
		t.Fatal("refused validation not audited")
	}
}

func TestCASConcurrentValidationOnlyOneSucceeds(t *testing.T) {
	f := newFixture(t)
	tk := f.casTicket(f.browser(), pronoteURL, "")
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if cr := f.validate("/cas/serviceValidate", pronoteURL, tk, ""); cr.Success != nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("%d validations of one ticket succeeded", ok)
	}
}

func TestCASTicketForAnotherServiceRefused(t *testing.T) {
	f := newFixture(t)
	tk := f.casTicket(f.browser(), pronoteURL, "")
	other := "https://0450001A.index-education.net/pronote/eleve.html"
	cr := f.validate("/cas/serviceValidate", other, tk, "")
	if cr.Failure == nil || cr.Failure.Code != "INVALID_SERVICE" {
		t.Fatalf("ticket presented for another service: %+v", cr)
	}
	if cr := f.validate("/cas/serviceValidate", pronoteURL, tk, ""); cr.Success != nil {
		t.Fatal("a ticket presented for the wrong service must be invalidated")
	}
}

func TestCASTicketExpiredRefused(t *testing.T) {
	f := newFixture(t)
	tk := f.casTicket(f.browser(), pronoteURL, "")
	f.clock.Advance(61 * time.Second)
	if cr := f.validate("/cas/serviceValidate", pronoteURL, tk, ""); cr.Failure == nil || cr.Failure.Code != "INVALID_TICKET" {
		t.Fatalf("expired ticket: %+v", cr)
	}
}

func TestCASForgedTicketRefused(t *testing.T) {
	f := newFixture(t)
	for _, tk := range []string{"ST-forged", "PT-forged", "garbage", ""} {
		cr := f.validate("/cas/serviceValidate", pronoteURL, tk, "")
		if cr.Failure == nil {
			t.Fatalf("ticket %q accepted", tk)
		}
	}
}

func TestCASUnregisteredServiceRefused(t *testing.T) {
	f := newFixture(t)
	c := f.loginAs("emma.martin")
	for _, s := range []string{"https://evil.example.com/", "https://0451462V.index-education.net.evil.com/pronote/", "javascript:alert(1)"} {
		resp, page := f.get(c, f.base+"/cas/login?service="+url.QueryEscape(s))
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, MsgUnknownService) {
			t.Fatalf("unregistered service %q: status %d", s, resp.StatusCode)
		}
	}
	// Logout never redirects to an unregistered URL either.
	resp, _ := f.get(c, f.base+"/cas/logout?service="+url.QueryEscape("https://evil.example.com/"))
	if resp.StatusCode != 200 || resp.Request.URL.Host != strings.TrimPrefix(f.base, "http://") {
		t.Fatalf("logout redirect to an unregistered URL: %d %s", resp.StatusCode, resp.Request.URL)
	}
}

func TestCASRenewRequiresFreshLogin(t *testing.T) {
	f := newFixture(t)
	c := f.loginAs("emma.martin")
	resp, page := f.get(c, f.base+"/cas/login?renew=true&service="+url.QueryEscape(pronoteURL))
	if !strings.Contains(page, `name="password"`) {
		t.Fatalf("renew with a session must ask for the password again: %s", resp.Request.URL)
	}
	tkOld := f.casTicket(c, pronoteURL, "") // SSO ticket, not renewed
	if cr := f.validate("/cas/serviceValidate", pronoteURL, tkOld, "&renew=true"); cr.Failure == nil || cr.Failure.Code != "INVALID_TICKET_SPEC" {
		t.Fatalf("SSO ticket validated with renew=true: %+v", cr)
	}
	resp, _ = f.submitLogin(c, page, "emma.martin", testPassword)
	u, _ := url.Parse(resp.Header.Get("Location"))
	if cr := f.validate("/cas/serviceValidate", pronoteURL, u.Query().Get("ticket"), "&renew=true"); cr.Success == nil {
		t.Fatalf("renewed ticket refused: %+v", cr.Failure)
	}
}

func TestCASGatewayWithoutSessionReturnsWithoutTicket(t *testing.T) {
	f := newFixture(t)
	resp, _ := f.get(f.browser(), f.base+"/cas/login?gateway=true&service="+url.QueryEscape(pronoteURL))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != pronoteURL {
		t.Fatalf("gateway: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestCASServiceForbiddenForProfile(t *testing.T) {
	f := newFixture(t)
	c := f.loginAs("emma.martin")
	resp, page := f.get(c, f.base+"/cas/login?service="+url.QueryEscape("https://grr.example.org/login"))
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, MsgServiceForbidden) {
		t.Fatalf("student on a teachers-only service: %d", resp.StatusCode)
	}
}

func TestCASResumeRefusedForAnotherBrowser(t *testing.T) {
	f := newFixture(t)
	victim := f.browser()
	resp, page := f.get(victim, f.base+"/cas/login?service="+url.QueryEscape(pronoteURL))
	req := resp.Request.URL.Query().Get("req")
	f.submitLogin(victim, page, "emma.martin", testPassword)
	attacker := f.loginAs("paul.durand")
	resp, _ = f.get(attacker, f.base+"/cas/login?resume="+url.QueryEscape(req))
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("resuming someone else's request: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestCASSingleLogoutPostsLogoutRequest(t *testing.T) {
	got := make(chan string, 4)
	sp := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		got <- r.PostFormValue("logoutRequest")
	}))
	defer sp.Close()
	f := newFixture(t, func(c *Config) {
		c.Services = append(c.Services, Service{ID: "slo", Name: "SLO app", Protocol: ProtocolCAS,
			CAS: CASService{ServicePatterns: []string{"^" + strings.ReplaceAll(sp.URL, ".", `\.`) + "/.*$"}, SingleLogout: true}})
	})
	f.p.deps.HTTPClient = sp.Client()
	c := f.browser()
	tk := f.casTicket(c, sp.URL+"/app", "")
	f.casTicket(c, pronoteURL, "") // Pronote has no SingleLogout: nothing posted there
	resp, _ := f.get(c, f.base+"/cas/logout?service="+url.QueryEscape(sp.URL+"/app"))
	if resp.Header.Get("Location") != sp.URL+"/app" {
		t.Fatalf("logout with a registered service: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	select {
	case lr := <-got:
		if !strings.Contains(lr, "<samlp:SessionIndex>"+tk+"</samlp:SessionIndex>") {
			t.Fatalf("logoutRequest: %s", lr)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no back-channel logout POST")
	}
	if cr := f.validate("/cas/serviceValidate", pronoteURL, f.casTicketNoLogin(c), ""); cr.Success != nil {
		t.Fatal("session still alive after logout")
	}
}

// casTicketNoLogin asks for a ticket and returns "" when a login is asked.
func (f *fixture) casTicketNoLogin(c *http.Client) string {
	resp, _ := f.get(c, f.base+"/cas/login?service="+url.QueryEscape(pronoteURL))
	u, _ := url.Parse(resp.Header.Get("Location"))
	if u == nil {
		return ""
	}
	return u.Query().Get("ticket")
}

// onesRand gives random bytes that are all ones but for a counter in the
// last eight of each read (so that tokens still differ): in base64url,
// mostly '_'.
type onesRand struct {
	mu sync.Mutex
	n  uint64
}

func (r *onesRand) Read(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range b {
		b[i] = 0xff
	}
	r.n++
	if len(b) >= 8 {
		binary.BigEndian.PutUint64(b[len(b)-8:], r.n)
	}
	return len(b), nil
}

// casTicketRE is what the CAS specification (§3.7) allows in a ticket.
var casTicketRE = regexp.MustCompile(`^(ST|PT|PGT|PGTIOU)-[A-Za-z0-9-]+$`)

// Every ticket (ST, PGTIOU, PGT, PT) holds only the specification's
// characters, whatever the random bytes: mod_auth_cas ignores a ticket
// with a '_' and sends the browser back to /cas/login, again and again.
func TestCASProxyTicketFlow(t *testing.T) {
	for _, rnd := range []struct {
		name string
		r    io.Reader
	}{{"crypto/rand", rand.Reader}, {"bytes of ones", &onesRand{}}} {
		t.Run(rnd.name, func(t *testing.T) { testCASProxyTicketFlow(t, rnd.r) })
	}
}

func testCASProxyTicketFlow(t *testing.T, rnd io.Reader) {
	pgts := make(chan url.Values, 1)
	cb := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { pgts <- r.URL.Query() }))
	defer cb.Close()
	re := "^" + strings.ReplaceAll(cb.URL, ".", `\.`)
	f := newFixture(t, func(c *Config) {
		c.Services[0].CAS.ProxyCallbackPatterns = []string{re + "/pgt$"}
		c.Services = append(c.Services, Service{ID: "backend", Name: "Backend", Protocol: ProtocolCAS,
			CAS: CASService{ServicePatterns: []string{`^https://backend\.example\.org/.*$`}}})
	})
	f.p.deps.HTTPClient = cb.Client()
	f.p.rand = rnd
	tk := f.casTicket(f.browser(), pronoteURL, "")
	if !casTicketRE.MatchString(tk) {
		t.Errorf("service ticket %q: characters outside A-Z a-z 0-9 -", tk)
	}
	// A pgtUrl outside the allowed patterns gets no PGT.
	cr := f.validate("/cas/serviceValidate", pronoteURL, tk, "&pgtUrl="+url.QueryEscape(cb.URL+"/other"))
	if cr.Success == nil || cr.Success.PGT != "" {
		t.Fatalf("unregistered pgtUrl: %+v", cr)
	}
	tk = f.casTicket(f.browser(), pronoteURL, "")
	cr = f.validate("/cas/serviceValidate", pronoteURL, tk, "&pgtUrl="+url.QueryEscape(cb.URL+"/pgt"))
	if cr.Success == nil || !strings.HasPrefix(cr.Success.PGT, "PGTIOU-") {
		t.Fatalf("proxy granting: %+v", cr)
	}
	q := <-pgts
	if q.Get("pgtIou") != cr.Success.PGT {
		t.Fatal("callback IOU differs")
	}
	for _, tk := range []string{q.Get("pgtIou"), q.Get("pgtId")} {
		if !casTicketRE.MatchString(tk) {
			t.Errorf("ticket %q: characters outside A-Z a-z 0-9 -", tk)
		}
	}
	resp, err := http.Get(f.base + "/cas/proxy?pgt=" + url.QueryEscape(q.Get("pgtId")) + "&targetService=" + url.QueryEscape("https://backend.example.org/api"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	var pr struct {
		Ticket string `xml:"proxySuccess>proxyTicket"`
	}
	xml.Unmarshal(b, &pr)
	if !strings.HasPrefix(pr.Ticket, "PT-") {
		t.Fatalf("proxy: %s", b)
	}
	if !casTicketRE.MatchString(pr.Ticket) {
		t.Errorf("proxy ticket %q: characters outside A-Z a-z 0-9 -", pr.Ticket)
	}
	if cr := f.validate("/cas/serviceValidate", "https://backend.example.org/api", pr.Ticket, ""); cr.Failure == nil || cr.Failure.Code != "INVALID_TICKET_SPEC" {
		t.Fatalf("PT at serviceValidate: %+v", cr)
	}
	resp, _ = http.Get(f.base + "/cas/proxy?pgt=" + url.QueryEscape(q.Get("pgtId")) + "&targetService=" + url.QueryEscape("https://backend.example.org/api"))
	b, _ = io.ReadAll(resp.Body)
	xml.Unmarshal(b, &pr)
	if cr := f.validate("/cas/p3/proxyValidate", "https://backend.example.org/api", pr.Ticket, ""); cr.Success == nil {
		t.Fatalf("PT at proxyValidate: %+v", cr.Failure)
	}
}

func TestCASAsksPersonaWhenSessionHasNone(t *testing.T) {
	f := newFixture(t)
	c := f.browser()
	_, page := f.get(c, f.base+"/login")
	resp, _ := f.submitLogin(c, page, "paul.durand", testPassword) // two schools: the chooser shows
	if resp.Request.URL.Path != "/login/persona" {
		t.Fatalf("at %s", resp.Request.URL)
	}
	// The user leaves the chooser and opens GRR directly.
	resp, page = f.get(c, f.base+"/cas/login?service="+url.QueryEscape("https://grr.example.org/login"))
	if resp.Request.URL.Path != "/login/persona" || resp.Request.URL.Query().Get("req") == "" {
		t.Fatalf("service reached without a persona: %d %s", resp.StatusCode, resp.Request.URL)
	}
	personas, _ := f.store.Personas(context.Background(), f.ids["prof"])
	token := csrfRE.FindStringSubmatch(page)[1]
	resp, err := c.PostForm(f.base+"/login/persona", url.Values{"persona": {personas[0].ID}, "csrf": {token}, "req": {resp.Request.URL.Query().Get("req")}})
	if err != nil {
		t.Fatal(err)
	}
	body(t, resp)
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "https://grr.example.org/login?ticket=ST-") {
		t.Fatalf("after choosing: %d %s", resp.StatusCode, loc)
	}
}
