package idp

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// The defects an independent, certified relying party found (issue 10).

// RP-Initiated Logout 1.0 §3: with state, the browser still goes back to
// the registered post_logout_redirect_uri, state added.
func TestOIDCEndSessionWithStateRedirectsWithState(t *testing.T) {
	f := newFixture(t)
	for _, state := range []string{"", "xyz-42"} {
		c := f.browser()
		tr := f.exchange(f.authorize(c, chamiloAuth()).Query().Get("code"))
		q := url.Values{"id_token_hint": {tr.IDToken}, "post_logout_redirect_uri": {"https://chamilo.example.org/bye"}}
		if state != "" {
			q.Set("state", state)
		}
		resp, page := f.get(c, f.base+"/oidc/end_session?"+q.Encode())
		u, _ := url.Parse(resp.Header.Get("Location"))
		if u == nil || u.Host != "chamilo.example.org" || u.Path != "/bye" || u.Query().Get("state") != state {
			t.Fatalf("end_session with state %q: %d %q\n%s", state, resp.StatusCode, resp.Header.Get("Location"), page)
		}
		if f.cookie(c, "enthub_sso") != nil {
			t.Fatal("session cookie survived logout")
		}
	}
}

// Errors at end_session are read by a person: enthub's page, never a
// redirect to an unchecked URI nor op's JSON.
func TestOIDCEndSessionErrorsArePages(t *testing.T) {
	f := newFixture(t)
	c := f.browser()
	tr := f.exchange(f.authorize(c, chamiloAuth()).Query().Get("code"))
	for name, q := range map[string]url.Values{
		"unregistered uri": {"id_token_hint": {tr.IDToken}, "post_logout_redirect_uri": {"https://evil.example.com/"}, "state": {"s"}},
		"forged hint":      {"id_token_hint": {tr.IDToken[:len(tr.IDToken)-4] + "AAAA"}, "post_logout_redirect_uri": {"https://chamilo.example.org/bye"}},
		"unknown client":   {"client_id": {"nobody"}, "post_logout_redirect_uri": {"https://chamilo.example.org/bye"}},
	} {
		resp, page := f.get(c, f.base+"/oidc/end_session?"+q.Encode())
		if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(page, `lang="fr"`) || resp.Header.Get("Location") != "" {
			t.Errorf("%s: %d %s %q\n%s", name, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Location"), page)
		}
	}
	// The session was not ended by a refused request.
	if f.cookie(c, "enthub_sso") == nil {
		t.Fatal("a refused logout request ended the session")
	}
}

// RFC 6750 §3 and OIDC Core 5.3.3: a userinfo 401 says why, so that a
// client can tell "refresh or log in again" from a broken server; the
// endpoints that authenticate clients answer 401 with their challenge.
func TestOIDCUnauthorizedAnswersCarryChallenge(t *testing.T) {
	f := newFixture(t)
	c := f.browser()
	tr := f.exchange(f.authorize(c, chamiloAuth()).Query().Get("code"))
	userinfo := func(method, token string) *http.Response {
		var req *http.Request
		if method == "POST" {
			req, _ = http.NewRequest("POST", f.base+"/oidc/userinfo", strings.NewReader(url.Values{"access_token": {token}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req, _ = http.NewRequest("GET", f.base+"/oidc/userinfo", nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := userinfo("GET", tr.AccessToken); r.StatusCode != 200 {
		t.Fatalf("valid token: %d", r.StatusCode)
	}
	if r := userinfo("POST", tr.AccessToken); r.StatusCode != 200 {
		t.Fatalf("valid token in a form body (RFC 6750 §2.2): %d", r.StatusCode)
	}
	r := userinfo("GET", "")
	if r.StatusCode != 401 || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer ") || strings.Contains(r.Header.Get("WWW-Authenticate"), "error=") {
		t.Fatalf("no token: %d %q (want a bare Bearer challenge, RFC 6750 §3.1)", r.StatusCode, r.Header.Get("WWW-Authenticate"))
	}
	invalid := func(what string, r *http.Response) {
		t.Helper()
		if r.StatusCode != 401 || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer ") || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("%s: %d %q", what, r.StatusCode, r.Header.Get("WWW-Authenticate"))
		}
	}
	invalid("forged token", userinfo("GET", tr.AccessToken+"x"))
	invalid("garbage token", userinfo("GET", "not-a-token"))
	invalid("forged token in a form body", userinfo("POST", "x"+tr.AccessToken))
	// Revoked by the logout.
	f.get(c, f.base+"/oidc/end_session?"+url.Values{"id_token_hint": {tr.IDToken}}.Encode())
	invalid("revoked token", userinfo("GET", tr.AccessToken))
	tr2 := f.exchange(f.authorize(f.browser(), chamiloAuth()).Query().Get("code"))
	f.clock.Advance(11 * time.Minute)
	invalid("expired token", userinfo("GET", tr2.AccessToken))

	for _, ep := range []struct{ path, form string }{
		{"/oidc/token", "grant_type=refresh_token&refresh_token=x"},
		{"/oidc/introspect", "token=x"},
		{"/oidc/revoke", "token=x"},
	} {
		req, _ := http.NewRequest("POST", f.base+ep.path, strings.NewReader(ep.form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("chamilo", "wrong-secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("%s, wrong client secret: 401 without a Basic challenge", ep.path)
		}
		if resp.StatusCode == 200 {
			t.Errorf("%s, wrong client secret: 200", ep.path)
		}
	}
}

// cliService is a native client (RFC 8252): a command-line tool that
// listens on a loopback port it picks, and a phone app with its own scheme.
func cliService() Service {
	return Service{ID: "cli", Name: "Outil en ligne de commande", Protocol: ProtocolOIDC,
		OIDC: OIDCService{ClientID: "cli", ApplicationType: "native",
			RedirectURIs:           []string{"http://127.0.0.1/callback", "fr.ac-test.ent:/oauth2redirect"},
			PostLogoutRedirectURIs: []string{"http://127.0.0.1/logged-out"}}}
}

func pkce(verifier string) (string, string) {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:]), "S256"
}

func TestOIDCNativeClientLoopbackAnyPortAndPrivateUseScheme(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Services = append(c.Services, cliService()) })
	c := f.loginAs("emma.martin")
	verifier := "native-app-code-verifier-of-at-least-43-characters"
	challenge, method := pkce(verifier)
	for _, redirect := range []string{"http://127.0.0.1:53127/callback", "http://127.0.0.1:8080/callback", "fr.ac-test.ent:/oauth2redirect"} {
		q := url.Values{"client_id": {"cli"}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid profile offline_access"},
			"state": {"st"}, "code_challenge": {challenge}, "code_challenge_method": {method}}
		u := f.authorize(c, q)
		back := strings.TrimSuffix(u.String(), "?"+u.RawQuery)
		if back != redirect || u.Query().Get("code") == "" || u.Query().Get("state") != "st" {
			t.Fatalf("native redirect %s: got %s", redirect, u)
		}
		tr := f.token(url.Values{"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")}, "redirect_uri": {redirect},
			"client_id": {"cli"}, "code_verifier": {verifier}})
		if tr.IDToken == "" || tr.RefreshToken == "" {
			t.Fatalf("native token exchange for %s: %+v", redirect, tr)
		}
		if r := f.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}, "client_id": {"cli"}}); r.AccessToken == "" {
			t.Fatalf("native refresh: %+v", r)
		}
	}
	// Without PKCE: an OAuth error response to the (checked) loopback URI.
	u := f.authorize(c, url.Values{"client_id": {"cli"}, "redirect_uri": {"http://127.0.0.1:40001/callback"}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"st"}})
	if u.Host != "127.0.0.1:40001" || u.Query().Get("error") != "invalid_request" || u.Query().Get("state") != "st" {
		t.Fatalf("native client without PKCE: %s", u)
	}
	// Logout back to the loopback port the app listens on now.
	tr := f.exchange(f.authorize(c, chamiloAuth()).Query().Get("code"))
	_ = tr
	u = f.authorize(c, url.Values{"client_id": {"cli"}, "redirect_uri": {"http://127.0.0.1:40002/callback"}, "response_type": {"code"},
		"scope": {"openid"}, "code_challenge": {challenge}, "code_challenge_method": {method}})
	ntr := f.token(url.Values{"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")}, "redirect_uri": {"http://127.0.0.1:40002/callback"},
		"client_id": {"cli"}, "code_verifier": {verifier}})
	resp, _ := f.get(c, f.base+"/oidc/end_session?"+url.Values{"id_token_hint": {ntr.IDToken},
		"post_logout_redirect_uri": {"http://127.0.0.1:40002/logged-out"}, "state": {"bye"}}.Encode())
	if loc := resp.Header.Get("Location"); loc != "http://127.0.0.1:40002/logged-out?state=bye" {
		t.Fatalf("native logout: %d %q", resp.StatusCode, loc)
	}
}

// What cannot go back to the client is shown to the person, on enthub's
// French page; never op's English plain text.
func TestOIDCAuthorizeErrorsShownToPersonArePages(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Services = append(c.Services, cliService()) })
	c := f.loginAs("emma.martin")
	challenge, method := pkce("native-app-code-verifier-of-at-least-43-characters")
	for name, q := range map[string]url.Values{
		"native, other path":        {"client_id": {"cli"}, "redirect_uri": {"http://127.0.0.1:5000/other"}, "response_type": {"code"}, "scope": {"openid"}, "code_challenge": {challenge}, "code_challenge_method": {method}},
		"native, other host":        {"client_id": {"cli"}, "redirect_uri": {"http://10.0.0.1:5000/callback"}, "response_type": {"code"}, "scope": {"openid"}},
		"native, localhost":         {"client_id": {"cli"}, "redirect_uri": {"http://localhost:5000/callback"}, "response_type": {"code"}, "scope": {"openid"}},
		"web, no redirect_uri":      {"client_id": {"chamilo"}, "response_type": {"code"}, "scope": {"openid"}},
		"web, http for https":       {"client_id": {"spa"}, "redirect_uri": {"http://spa.example.org/cb"}, "response_type": {"code"}, "scope": {"openid"}},
		"no client_id":              {"redirect_uri": {chamiloCB}, "response_type": {"code"}, "scope": {"openid"}},
		"request object, no client": {"request": {"eyJhbGciOiJub25lIn0.e30."}},
		// op cannot read it, so cannot trust its redirect_uri: its plain
		// text becomes our page.
		"unreadable max_age": {"client_id": {"chamilo"}, "redirect_uri": {chamiloCB}, "response_type": {"code"}, "scope": {"openid"}, "max_age": {"soon"}},
	} {
		resp, page := f.get(c, f.base+"/oidc/authorize?"+q.Encode())
		if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(page, `lang="fr"`) || resp.Header.Get("Location") != "" {
			t.Errorf("%s: %d %s %q\n%s", name, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Location"), page)
		}
	}
}

func TestOIDCRedirectURIsCheckedAtRegistration(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*OIDCService)
		want   string // "" valid, else a fragment of the error
	}{
		{"confidential web over http", func(o *OIDCService) { o.ClientSecret, o.RedirectURIs = "s", []string{"http://127.0.0.1:8080/cb"} }, ""},
		{"public web over https", func(o *OIDCService) { o.RedirectURIs = []string{"https://app.example.org/cb"} }, ""},
		{"public web over loopback http", func(o *OIDCService) { o.RedirectURIs = []string{"http://127.0.0.1:8123/cb"} }, "oidc.redirect_uris[0]"},
		{"public web, private-use scheme", func(o *OIDCService) { o.RedirectURIs = []string{"fr.example.app:/cb"} }, "oidc.redirect_uris[0]"},
		{"native loopback v4", func(o *OIDCService) { o.ApplicationType, o.RedirectURIs = "native", []string{"http://127.0.0.1/cb"} }, ""},
		{"native loopback v6", func(o *OIDCService) { o.ApplicationType, o.RedirectURIs = "native", []string{"http://[::1]:7000/cb"} }, ""},
		{"native private-use scheme", func(o *OIDCService) { o.ApplicationType, o.RedirectURIs = "native", []string{"fr.example.app:/cb"} }, ""},
		{"native claimed https", func(o *OIDCService) {
			o.ApplicationType, o.RedirectURIs = "native", []string{"https://app.example.org/cb"}
		}, ""},
		{"native with secret", func(o *OIDCService) {
			o.ApplicationType, o.ClientSecret, o.RedirectURIs = "native", "s", []string{"http://127.0.0.1/cb"}
		}, "oidc.client_secret"},
		{"native localhost", func(o *OIDCService) { o.ApplicationType, o.RedirectURIs = "native", []string{"http://localhost/cb"} }, "oidc.redirect_uris[0]"},
		{"native non-loopback http", func(o *OIDCService) {
			o.ApplicationType, o.RedirectURIs = "native", []string{"http://app.example.org/cb"}
		}, "loopback"},
		{"native scheme without a domain", func(o *OIDCService) { o.ApplicationType, o.RedirectURIs = "native", []string{"myapp:/cb"} }, "reverse domain"},
		{"native javascript:", func(o *OIDCService) { o.ApplicationType, o.RedirectURIs = "native", []string{"javascript:alert(1)"} }, "oidc.redirect_uris[0]"},
		{"post-logout checked too", func(o *OIDCService) {
			o.RedirectURIs, o.PostLogoutRedirectURIs = []string{"https://app.example.org/cb"}, []string{"http://127.0.0.1/bye"}
		}, "oidc.post_logout_redirect_uris[0]"},
		{"unknown application type", func(o *OIDCService) {
			o.ApplicationType, o.RedirectURIs = "desktop", []string{"https://a.example.org/cb"}
		}, "oidc.application_type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Service{ID: "app", Protocol: ProtocolOIDC, OIDC: OIDCService{ClientID: "app"}}
			tc.mutate(&s.OIDC)
			err := ValidateServices([]Service{s})
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

// discoveryDoc fetches and decodes the discovery document.
func (f *fixture) discoveryDoc() map[string]any {
	f.t.Helper()
	resp, b := f.get(http.DefaultClient, f.base+"/.well-known/openid-configuration")
	if resp.StatusCode != 200 {
		f.t.Fatalf("discovery: %d", resp.StatusCode)
	}
	d := map[string]any{}
	if err := json.Unmarshal([]byte(b), &d); err != nil {
		f.t.Fatal(err)
	}
	return d
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	slices.Sort(out)
	return out
}

func TestOIDCDiscoveryDerivedFromRegistry(t *testing.T) {
	f := newFixture(t)
	d := f.discoveryDoc()
	for _, absent := range []string{"device_authorization_endpoint", "check_session_iframe", "request_object_signing_alg_values_supported"} {
		if _, ok := d[absent]; ok {
			t.Errorf("%s advertised: no client can use it", absent)
		}
	}
	want := map[string][]string{
		"grant_types_supported":                 {"authorization_code", "refresh_token"},
		"response_types_supported":              {"code"},
		"response_modes_supported":              {"query"},
		"subject_types_supported":               {"pairwise", "public"},
		"code_challenge_methods_supported":      {"S256"},
		"scopes_supported":                      {"email", "offline_access", "openid", "profile"},
		"token_endpoint_auth_methods_supported": {"client_secret_basic", "client_secret_post", "none"},
		"claims_supported": {"amr", "at_hash", "aud", "auth_time", "azp", "c_hash", "client_id", "email", "exp", "family_name", "given_name", "iat", "iss",
			"nonce", "preferred_username", "sid", "sub", "uai"},
	}
	for k, v := range want {
		if got := strs(d[k]); !slices.Equal(got, v) {
			t.Errorf("%s: got %v, want %v", k, got, v)
		}
	}

	// Another registry, another document: one public client with
	// pairwise subjects, no offline access, no profile scope.
	f2 := newFixture(t, func(c *Config) {
		c.Services = []Service{{ID: "spa", Protocol: ProtocolOIDC,
			Release: ReleasePolicy{Principal: "pairwise", Attributes: []AttributeRule{
				{Source: "person.first_name", Name: "given_name", Scope: "profile"}, {Source: "persona.uai", Name: "uai"}}},
			OIDC: OIDCService{ClientID: "spa", RedirectURIs: []string{"https://spa.example.org/cb"}, Scopes: []string{"email"}}}}
	})
	d = f2.discoveryDoc()
	if _, ok := d["introspection_endpoint"]; ok {
		t.Error("introspection advertised with no confidential client")
	}
	want = map[string][]string{
		"grant_types_supported":                 {"authorization_code"},
		"subject_types_supported":               {"pairwise"},
		"scopes_supported":                      {"email", "openid"},
		"token_endpoint_auth_methods_supported": {"none"},
	}
	for k, v := range want {
		if got := strs(d[k]); !slices.Equal(got, v) {
			t.Errorf("second registry: %s: got %v, want %v", k, got, v)
		}
	}
	if claims := strs(d["claims_supported"]); slices.Contains(claims, "given_name") || !slices.Contains(claims, "uai") {
		t.Errorf("second registry: claims %v: given_name needs the profile scope the client may not ask", claims)
	}
}

// Every grant, response type and mode, subject type, client
// authentication method, endpoint and claim the document advertises
// works for a client configured for it.
func TestOIDCDiscoveryEveryAdvertisedFeatureWorks(t *testing.T) {
	f := newFixture(t)
	d := f.discoveryDoc()
	for _, k := range []string{"authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri", "revocation_endpoint",
		"introspection_endpoint", "end_session_endpoint"} {
		ep, _ := d[k].(string)
		if !strings.HasPrefix(ep, f.base+"/") {
			t.Fatalf("%s: %q", k, ep)
		}
		resp, err := http.Get(ep)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode >= 500 {
			t.Errorf("%s %s: %d", k, ep, resp.StatusCode)
		}
	}
	seen := map[string]bool{} // claims received, ID token and userinfo

	// authorization_code + refresh_token, response_type code, response
	// mode query, client_secret_basic, public subjects, every scope.
	u := f.authorize(f.browser(), chamiloAuth("scope", strings.Join(strs(d["scopes_supported"]), " ")))
	if u.Query().Get("code") == "" {
		t.Fatalf("response mode query: %s", u)
	}
	tr := f.exchange(u.Query().Get("code"))
	idt := f.verifyIDToken(tr.IDToken)
	for k := range idt {
		seen[k] = true
	}
	_, ui := f.userinfo(tr.AccessToken)
	for k := range ui {
		seen[k] = true
	}
	if r := f.refresh(tr.RefreshToken); r.AccessToken == "" {
		t.Fatalf("refresh_token grant: %+v", r)
	}
	// client_secret_post.
	u = f.authorize(f.browser(), chamiloAuth())
	if r := f.token(url.Values{"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")}, "redirect_uri": {chamiloCB},
		"client_id": {"chamilo"}, "client_secret": {"chamilo-secret"}}); r.AccessToken == "" {
		t.Fatalf("client_secret_post: %+v", r)
	}
	// none + PKCE S256, pairwise subjects.
	verifier := "a-very-long-code-verifier-of-at-least-43-characters-xyz"
	challenge, method := pkce(verifier)
	u = f.authorize(f.loginAs("emma.martin"), url.Values{"client_id": {"spa"}, "redirect_uri": {"https://spa.example.org/cb"}, "response_type": {"code"},
		"scope": {"openid"}, "code_challenge": {challenge}, "code_challenge_method": {method}})
	spa := f.token(url.Values{"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")}, "redirect_uri": {"https://spa.example.org/cb"},
		"client_id": {"spa"}, "code_verifier": {verifier}})
	spaClaims := f.verifyIDToken(spa.IDToken)
	for k := range spaClaims {
		seen[k] = true
	}
	if spaClaims["sub"] == idt["sub"] {
		t.Error("pairwise and public subjects are the same")
	}
	if !slices.Contains(strs(d["code_challenge_methods_supported"]), method) || !slices.Contains(strs(d["subject_types_supported"]), "pairwise") {
		t.Fatal("document and test disagree")
	}
	for _, c := range strs(d["claims_supported"]) {
		if !seen[c] {
			t.Errorf("claim %s advertised but in no ID token or userinfo", c)
		}
		delete(seen, c)
	}
	for c := range seen {
		t.Errorf("claim %s received but not advertised", c)
	}

	// Introspection and revocation with each advertised method.
	post := func(path string, form url.Values, basic ...string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", f.base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if len(basic) == 2 {
			req.SetBasicAuth(basic[0], basic[1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		m := map[string]any{}
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	for _, m := range strs(d["introspection_endpoint_auth_methods_supported"]) {
		u := f.authorize(f.browser(), chamiloAuth())
		at := f.exchange(u.Query().Get("code")).AccessToken
		var status int
		var body map[string]any
		switch m {
		case "client_secret_basic":
			status, body = post("/oidc/introspect", url.Values{"token": {at}}, "chamilo", "chamilo-secret")
		case "client_secret_post":
			status, body = post("/oidc/introspect", url.Values{"token": {at}, "client_id": {"chamilo"}, "client_secret": {"chamilo-secret"}})
		default:
			t.Fatalf("introspection method %s advertised, not tested", m)
		}
		if status != 200 || body["active"] != true {
			t.Errorf("introspection with %s: %d %v", m, status, body)
		}
	}
	for _, m := range strs(d["revocation_endpoint_auth_methods_supported"]) {
		var status int
		var rt string
		switch m {
		case "client_secret_basic", "client_secret_post":
			rt = f.exchange(f.authorize(f.browser(), chamiloAuth()).Query().Get("code")).RefreshToken
			if m == "client_secret_basic" {
				status, _ = post("/oidc/revoke", url.Values{"token": {rt}}, "chamilo", "chamilo-secret")
			} else {
				status, _ = post("/oidc/revoke", url.Values{"token": {rt}, "client_id": {"chamilo"}, "client_secret": {"chamilo-secret"}})
			}
			if r := f.refresh(rt); r.AccessToken != "" {
				t.Errorf("revocation with %s: refresh token still valid", m)
			}
		case "none":
			u := f.authorize(f.loginAs("emma.martin"), url.Values{"client_id": {"spa"}, "redirect_uri": {"https://spa.example.org/cb"}, "response_type": {"code"},
				"scope": {"openid"}, "code_challenge": {challenge}, "code_challenge_method": {method}})
			at := f.token(url.Values{"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")}, "redirect_uri": {"https://spa.example.org/cb"},
				"client_id": {"spa"}, "code_verifier": {verifier}}).AccessToken
			status, _ = post("/oidc/revoke", url.Values{"token": {at}, "client_id": {"spa"}})
			if s, _ := f.userinfo(at); s == 200 {
				t.Errorf("revocation with none: access token still valid")
			}
		default:
			t.Fatalf("revocation method %s advertised, not tested", m)
		}
		if status != 200 {
			t.Errorf("revocation with %s: %d", m, status)
		}
	}
	if alg := strs(d["id_token_signing_alg_values_supported"]); !slices.Contains(alg, "RS256") {
		t.Errorf("id_token_signing_alg_values_supported: %v", alg)
	}
	if d["backchannel_logout_supported"] != true { // TestOIDCLogoutEndsSessionAndBackchannel
		t.Error("back-channel logout not advertised")
	}
}
