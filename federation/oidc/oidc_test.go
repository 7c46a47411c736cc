package oidc

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/federation"
	"github.com/enthub/enthub/federation/simulate"
)

const (
	tenant   = "9188040d-6c67-4c5b-b112-36a304b66dad"
	redirect = "https://ent.test/federation/eduprovence/callback"
)

var (
	opKeyOnce sync.Once
	opKey     *simulate.OP
)

type harness struct {
	t   *testing.T
	op  *simulate.OP
	c   *Connector
	cli *http.Client
	// srv serves op.Handler() unless wrap is set (a provider that changes
	// its discovery document or keys).
	srv  *httptest.Server
	wrap func(w http.ResponseWriter, r *http.Request, op http.Handler)
	// later moves the connector's clock forward.
	later time.Duration
}

func newHarness(t *testing.T, edit func(*Config)) *harness {
	t.Helper()
	opKeyOnce.Do(func() {
		k, _, err := simulate.KeyPair("op")
		if err != nil {
			panic(err)
		}
		opKey = &simulate.OP{Key: k}
	})
	op := &simulate.OP{Key: opKey.Key, KeyID: "k1", ClientID: "ent-client", ClientSecret: "s3cret", TenantID: tenant,
		Users: map[string]map[string]any{
			"agent.cantine": {"oid": "00000000-0000-0000-0000-0000000000a1", "upn": "agent.cantine@eduprovence.test", "name": "Agent Cantine",
				"groups": []any{"collectivite-cuisine"}},
			"eleve.windows": {"oid": "00000000-0000-0000-0000-0000000000b2", "upn": "lea.martin@eduprovence.test", "employeeId": "2397001"},
		}}
	h := &harness{t: t, op: op, cli: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	srv := httptest.NewServer(nil)
	t.Cleanup(srv.Close)
	h.srv = srv
	op.Issuer = srv.URL + "/" + tenant + "/v2.0"
	opHandler := op.Handler()
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.wrap != nil {
			h.wrap(w, r, opHandler)
			return
		}
		opHandler.ServeHTTP(w, r)
	})
	st, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "e.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := Config{ID: "eduprovence", Issuer: op.Issuer, ClientID: "ent-client", ClientSecret: "s3cret", RedirectURL: redirect,
		SubjectClaim: "oid", TenantID: tenant, Userinfo: true}
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(context.Background(), cfg, Deps{Store: st, Now: func() time.Time { return time.Now().Add(h.later) }, Rand: rand.Reader, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	return h
}

// login runs a whole login as user and returns the callback's outcome.
func (h *harness) login(user string, edit func(cb *http.Request)) (federation.Identity, string, error) {
	h.t.Helper()
	w := httptest.NewRecorder()
	if err := h.c.Start(context.Background(), w, httptest.NewRequest("GET", "https://ent.test/login/eduprovence", nil), "/portail"); err != nil {
		h.t.Fatal(err)
	}
	auth, _ := url.Parse(w.Header().Get("Location"))
	q := auth.Query()
	if q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" {
		h.t.Fatalf("authorization request without PKCE, nonce or state: %s", auth)
	}
	q.Set("login_hint", user)
	auth.RawQuery = q.Encode()
	resp, err := h.cli.Get(auth.String())
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	cb := httptest.NewRequest("GET", resp.Header.Get("Location"), nil)
	for _, c := range w.Result().Cookies() {
		cb.AddCookie(c)
	}
	if edit != nil {
		edit(cb)
	}
	return h.c.Callback(context.Background(), cb)
}

func TestEntraLogin(t *testing.T) {
	h := newHarness(t, nil)
	id, next, err := h.login("agent.cantine", nil)
	if err != nil {
		t.Fatal(err)
	}
	if next != "/portail" || id.Subject != "00000000-0000-0000-0000-0000000000a1" || id.Issuer != h.op.Issuer || id.Get("tid") != tenant || id.Get("upn") != "agent.cantine@eduprovence.test" {
		t.Errorf("identity = %+v", id)
	}
	if got := id.Attributes["groups"]; len(got) != 1 || got[0] != "collectivite-cuisine" {
		t.Errorf("groups = %v", got)
	}
	if id.Logout.IDTokenHint == "" || !strings.HasSuffix(id.Logout.URL, "/logout") {
		t.Errorf("logout = %+v", id.Logout)
	}
}

func TestGroupsOverage(t *testing.T) {
	claimNames := func(c map[string]any) {
		delete(c, "groups")
		c["_claim_names"] = map[string]any{"groups": "src1"}
		c["_claim_sources"] = map[string]any{"src1": map[string]any{"endpoint": "https://graph.microsoft.com/v1.0/users/x/getMemberObjects"}}
	}
	hasGroups := func(c map[string]any) { delete(c, "groups"); c["hasgroups"] = true }
	for name, tc := range map[string]struct {
		mode   string
		tamper func(map[string]any)
		flag   string
		reason federation.Reason
	}{
		"_claim_names, flag (default)": {"", claimNames, "true", ""},
		"hasgroups, flag":              {"flag", hasGroups, "true", ""},
		"_claim_names, refuse":         {"refuse", claimNames, "", federation.ReasonToken},
		"hasgroups, refuse":            {"refuse", hasGroups, "", federation.ReasonToken},
		"_claim_names, ignore":         {"ignore", claimNames, "", ""},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.GroupsOverage = tc.mode })
			h.op.Tamper = tc.tamper
			id, _, err := h.login("agent.cantine", nil)
			if got := federation.ReasonOf(err); got != tc.reason || (tc.reason == "" && err != nil) {
				t.Fatalf("login = %v, want reason %q", err, tc.reason)
			}
			if err != nil {
				return
			}
			if id.Get("groups_overage") != tc.flag || len(id.Attributes["groups"]) != 0 || id.Get("hasgroups") != "" {
				t.Errorf("attributes = %v, want groups_overage %q and no groups", id.Attributes, tc.flag)
			}
		})
	}
	// Without overage, nothing is flagged and the groups are there.
	h := newHarness(t, func(c *Config) { c.GroupsOverage = "refuse" })
	id, _, err := h.login("agent.cantine", nil)
	if err != nil || id.Get("groups_overage") != "" || id.Get("groups") != "collectivite-cuisine" {
		t.Errorf("no overage: %v, %v", id.Attributes, err)
	}
}

func TestRefusesBadIDTokens(t *testing.T) {
	for name, tc := range map[string]struct {
		reason federation.Reason
		tamper func(c map[string]any)
		mode   string
		cfg    func(*Config)
	}{
		"wrong aud":                        {federation.ReasonAudience, func(c map[string]any) { c["aud"] = "other-client" }, "", nil},
		"wrong iss":                        {federation.ReasonIssuer, func(c map[string]any) { c["iss"] = "https://login.evil.test/v2.0" }, "", nil},
		"wrong nonce":                      {federation.ReasonNonce, func(c map[string]any) { c["nonce"] = "replayed-nonce" }, "", nil},
		"expired":                          {federation.ReasonExpired, func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }, "", nil},
		"wrong tid":                        {federation.ReasonTenant, func(c map[string]any) { c["tid"] = "72f988bf-86f1-41af-91ab-2d7cd011db47" }, "", nil},
		"alg none":                         {federation.ReasonSignature, nil, "none", nil},
		"HS256 signed with the public key": {federation.ReasonSignature, nil, "hs256-public", nil},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, tc.cfg)
			h.op.Tamper, h.op.SignMode = tc.tamper, tc.mode
			id, _, err := h.login("agent.cantine", nil)
			if err == nil {
				t.Fatalf("accepted: %+v", id)
			}
			if got := federation.ReasonOf(err); got != tc.reason {
				t.Errorf("refused with %q (%v), want %q", got, err, tc.reason)
			}
		})
	}
}

func TestRefusesTamperedState(t *testing.T) {
	h := newHarness(t, nil)
	_, _, err := h.login("agent.cantine", func(cb *http.Request) {
		q := cb.URL.Query()
		q.Set("state", q.Get("state")+"x")
		cb.URL.RawQuery = q.Encode()
	})
	if federation.ReasonOf(err) != federation.ReasonState {
		t.Errorf("tampered state = %v", err)
	}
}

func TestRefusesCallbackWithoutBrowserBinding(t *testing.T) {
	h := newHarness(t, nil)
	_, _, err := h.login("agent.cantine", func(cb *http.Request) { cb.Header.Del("Cookie") })
	if federation.ReasonOf(err) != federation.ReasonState {
		t.Errorf("callback in another browser = %v", err)
	}
}

func TestConfigErrorsNameFields(t *testing.T) {
	c := Config{ID: "x", Issuer: "login.microsoftonline.com", Algorithms: []string{"HS256"}, Scopes: []string{"profile"},
		TokenAuthMethod: "private_key_jwt"}
	err := c.Validate()
	for _, want := range []string{"issuer", "redirect_url", "client_id", "algorithms", "scopes", "token_auth_method"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to name %s", err, want)
		}
	}
}

// A provider whose token endpoint never answers: the callback gives up
// after the HTTP client's timeout with "unavailable" (the upstream cannot
// be reached), not a token refusal, and leaves no goroutine behind.
func TestDeadTokenEndpointIsUnavailable(t *testing.T) {
	h := newHarness(t, nil)
	release := make(chan struct{})
	op := h.op.Handler()
	var tokenCalls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/token") {
			tokenCalls.Add(1)
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		op.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	// The same provider, reached through the hanging server.
	h.op.Issuer = srv.URL + "/" + tenant + "/v2.0"
	st, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "e.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	timeout := 300 * time.Millisecond
	h.c, err = New(context.Background(), Config{ID: "eduprovence", Issuer: h.op.Issuer, ClientID: "ent-client", ClientSecret: "s3cret",
		RedirectURL: redirect, SubjectClaim: "oid", TenantID: tenant}, Deps{Store: st, Now: time.Now, Rand: rand.Reader, HTTPClient: &http.Client{Timeout: timeout}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, _, err = h.login("agent.cantine", nil)
	if took := time.Since(start); took > 3*timeout {
		t.Errorf("the callback took %v with a %v client timeout", took, timeout)
	}
	if federation.ReasonOf(err) != federation.ReasonUnavailable {
		t.Errorf("dead token endpoint: %v (reason %q), want reason unavailable", err, federation.ReasonOf(err))
	}
	// oauth2's probe of the client authentication style would post the
	// code again after the timeout: two timeouts for the user.
	if n := tokenCalls.Load(); n != 1 {
		t.Errorf("the token endpoint was called %d times for one login", n)
	}
}
