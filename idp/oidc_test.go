package idp

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const chamiloCB = "https://chamilo.example.org/cb"

// authorize runs the authorization endpoint with a browser, logging in when
// asked, and returns the redirect to the client.
func (f *fixture) authorize(c *http.Client, params url.Values) *url.URL {
	f.t.Helper()
	resp, page := f.get(c, f.base+"/oidc/authorize?"+params.Encode())
	if strings.Contains(page, `name="password"`) {
		resp, page = f.submitLogin(c, page, "emma.martin", testPassword)
	}
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		f.t.Fatalf("authorize: status %d at %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	u, err := url.Parse(loc)
	if err != nil {
		f.t.Fatal(err)
	}
	return u
}

func chamiloAuth(extra ...string) url.Values {
	v := url.Values{"client_id": {"chamilo"}, "redirect_uri": {chamiloCB}, "response_type": {"code"},
		"scope": {"openid profile email offline_access"}, "state": {"st4te"}, "nonce": {"n0nce"}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	Error        string `json:"error"`
	status       int
}

func (f *fixture) token(form url.Values, basic ...string) tokenResponse {
	f.t.Helper()
	req, _ := http.NewRequest("POST", f.base+"/oidc/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if len(basic) == 2 {
		req.SetBasicAuth(basic[0], basic[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var tr tokenResponse
	json.Unmarshal(b, &tr)
	tr.status = resp.StatusCode
	return tr
}

func (f *fixture) exchange(code string) tokenResponse {
	return f.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {chamiloCB}}, "chamilo", "chamilo-secret")
}

func (f *fixture) refresh(rt string) tokenResponse {
	return f.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "chamilo", "chamilo-secret")
}

func (f *fixture) userinfo(at string) (int, map[string]any) {
	req, _ := http.NewRequest("GET", f.base+"/oidc/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+at)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	m := map[string]any{}
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// verifyIDToken checks the ID token's signature against the published JWKS
// and returns its claims.
func (f *fixture) verifyIDToken(raw string) map[string]any {
	f.t.Helper()
	_, keysBody := f.get(http.DefaultClient, f.base+"/oidc/keys")
	var jwks jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(keysBody), &jwks); err != nil {
		f.t.Fatal(err)
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		f.t.Fatal(err)
	}
	keys := jwks.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) > 0 && keys[0].Algorithm != jws.Signatures[0].Header.Algorithm {
		f.t.Fatalf("token signed %s with key %s published for %s", jws.Signatures[0].Header.Algorithm, keys[0].KeyID, keys[0].Algorithm)
	}
	if len(keys) == 0 {
		f.t.Fatalf("ID token key %q not in JWKS", jws.Signatures[0].Header.KeyID)
	}
	payload, err := jws.Verify(keys[0].Key)
	if err != nil {
		f.t.Fatalf("ID token signature: %v", err)
	}
	m := map[string]any{}
	json.Unmarshal(payload, &m)
	return m
}

func TestOIDCDiscoveryIssuerIsPublicURL(t *testing.T) {
	f := newFixture(t)
	_, b := f.get(http.DefaultClient, f.base+"/.well-known/openid-configuration")
	var d map[string]any
	if err := json.Unmarshal([]byte(b), &d); err != nil {
		t.Fatal(err)
	}
	if d["issuer"] != f.base || d["authorization_endpoint"] != f.base+"/oidc/authorize" || d["jwks_uri"] != f.base+"/oidc/keys" ||
		d["backchannel_logout_supported"] != true {
		t.Fatalf("discovery: %v", d)
	}
}

func TestOIDCCodeFlowIDTokenClaimsPerPolicy(t *testing.T) {
	f := newFixture(t)
	c := f.browser()
	u := f.authorize(c, chamiloAuth())
	if u.Host != "chamilo.example.org" || u.Query().Get("state") != "st4te" || u.Query().Get("code") == "" {
		t.Fatalf("redirect: %s", u)
	}
	tr := f.exchange(u.Query().Get("code"))
	if tr.IDToken == "" || tr.AccessToken == "" || tr.RefreshToken == "" {
		t.Fatalf("token response: %+v", tr)
	}
	claims := f.verifyIDToken(tr.IDToken)
	if claims["iss"] != f.base || claims["sub"] != f.ids["eleve"] || claims["nonce"] != "n0nce" || claims["given_name"] != "Emma" ||
		claims["email"] != "emma.martin@ac-orleans-tours.fr" || claims["uai"] != "0451462V" || claims["sid"] == nil {
		t.Fatalf("ID token claims: %v", claims)
	}
	for _, leak := range []string{"birthdate", "ine", "phone_number", "address"} {
		if _, ok := claims[leak]; ok {
			t.Errorf("claim %s released without being named", leak)
		}
	}
	status, ui := f.userinfo(tr.AccessToken)
	if status != 200 || ui["sub"] != f.ids["eleve"] || ui["family_name"] != "Martin" || ui["sid"] != nil {
		t.Fatalf("userinfo %d: %v", status, ui)
	}
	if len(f.events(EventCodeIssued)) != 1 || len(f.events(EventTokenIssued)) != 1 {
		t.Fatal("code and token issuance not audited")
	}
}

func TestOIDCScopeLimitsClaims(t *testing.T) {
	f := newFixture(t)
	u := f.authorize(f.browser(), chamiloAuth("scope", "openid"))
	tr := f.exchange(u.Query().Get("code"))
	claims := f.verifyIDToken(tr.IDToken)
	if claims["email"] != nil || claims["given_name"] != nil || claims["uai"] != "0451462V" {
		t.Fatalf("scope openid only: %v", claims)
	}
}

func TestOIDCCodeReuseRefusedAndRevokesTokens(t *testing.T) {
	f := newFixture(t)
	u := f.authorize(f.browser(), chamiloAuth())
	code := u.Query().Get("code")
	tr := f.exchange(code)
	if tr.AccessToken == "" {
		t.Fatalf("first exchange: %+v", tr)
	}
	again := f.exchange(code)
	if again.status != 400 || again.Error != "invalid_grant" {
		t.Fatalf("second exchange: %+v", again)
	}
	if status, _ := f.userinfo(tr.AccessToken); status == 200 {
		t.Fatal("access token still valid after the code was replayed")
	}
	if r := f.refresh(tr.RefreshToken); r.AccessToken != "" {
		t.Fatal("refresh token still valid after the code was replayed")
	}
}

func TestOIDCRefreshRotationReuseRevokesFamily(t *testing.T) {
	f := newFixture(t)
	tr := f.exchange(f.authorize(f.browser(), chamiloAuth()).Query().Get("code"))
	r1 := f.refresh(tr.RefreshToken)
	if r1.AccessToken == "" || r1.RefreshToken == "" || r1.RefreshToken == tr.RefreshToken {
		t.Fatalf("refresh: %+v", r1)
	}
	r2 := f.refresh(r1.RefreshToken)
	if r2.AccessToken == "" {
		t.Fatalf("second refresh: %+v", r2)
	}
	if replay := f.refresh(tr.RefreshToken); replay.AccessToken != "" || replay.status != 400 {
		t.Fatalf("replayed refresh token: %+v", replay)
	}
	if r := f.refresh(r2.RefreshToken); r.AccessToken != "" {
		t.Fatal("reuse must revoke the whole family, including the latest refresh token")
	}
	if status, _ := f.userinfo(r2.AccessToken); status == 200 {
		t.Fatal("access token of a revoked family still valid")
	}
}

func TestOIDCUnregisteredRedirectURIRefused(t *testing.T) {
	f := newFixture(t)
	c := f.loginAs("emma.martin")
	for _, ru := range []string{"https://chamilo.example.org/cb/../evil", "https://evil.example.com/cb", "https://chamilo.example.org/cb?x=1"} {
		resp, _ := f.get(c, f.base+"/oidc/authorize?"+chamiloAuth("redirect_uri", ru).Encode())
		if loc := resp.Header.Get("Location"); strings.HasPrefix(loc, ru) || strings.Contains(loc, "evil") {
			t.Fatalf("redirect_uri %q followed: %d %s", ru, resp.StatusCode, loc)
		}
	}
	tr := f.token(url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "redirect_uri": {chamiloCB}}, "chamilo", "wrong")
	if tr.AccessToken != "" {
		t.Fatal("wrong client secret accepted")
	}
}

func TestOIDCPublicClientRequiresPKCE(t *testing.T) {
	f := newFixture(t)
	c := f.loginAs("emma.martin")
	base := url.Values{"client_id": {"spa"}, "redirect_uri": {"https://spa.example.org/cb"}, "response_type": {"code"}, "scope": {"openid"}, "state": {"s"}}
	u := f.authorize(c, base)
	if u.Query().Get("error") != "invalid_request" {
		t.Fatalf("public client without PKCE: %s", u)
	}
	verifier := "a-very-long-code-verifier-of-at-least-43-characters-xyz"
	sum := sha256.Sum256([]byte(verifier))
	withPKCE := url.Values{}
	for k, v := range base {
		withPKCE[k] = v
	}
	withPKCE.Set("code_challenge", base64.RawURLEncoding.EncodeToString(sum[:]))
	withPKCE.Set("code_challenge_method", "S256")
	u = f.authorize(c, withPKCE)
	code := u.Query().Get("code")
	if bad := f.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://spa.example.org/cb"}, "client_id": {"spa"}, "code_verifier": {"wrong" + verifier}}); bad.AccessToken != "" {
		t.Fatal("wrong code_verifier accepted")
	}
	u = f.authorize(c, withPKCE)
	tr := f.token(url.Values{"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")}, "redirect_uri": {"https://spa.example.org/cb"}, "client_id": {"spa"}, "code_verifier": {verifier}})
	if tr.IDToken == "" {
		t.Fatalf("PKCE exchange: %+v", tr)
	}
	claims := f.verifyIDToken(tr.IDToken)
	if sub, _ := claims["sub"].(string); sub == "" || sub == f.ids["eleve"] || sub == "emma.martin" {
		t.Fatalf("pairwise subject expected, got %q", sub)
	}
}

func TestOIDCForgedAndExpiredTokensRefused(t *testing.T) {
	f := newFixture(t)
	tr := f.exchange(f.authorize(f.browser(), chamiloAuth()).Query().Get("code"))
	if status, _ := f.userinfo(tr.AccessToken + "x"); status == 200 {
		t.Fatal("forged access token accepted")
	}
	f.clock.Advance(11 * time.Minute)
	if status, _ := f.userinfo(tr.AccessToken); status == 200 {
		t.Fatal("expired access token accepted")
	}
	u := f.authorize(f.loginAs("emma.martin"), chamiloAuth())
	f.clock.Advance(2 * time.Minute)
	if r := f.exchange(u.Query().Get("code")); r.AccessToken != "" {
		t.Fatal("expired code accepted")
	}
}

func TestOIDCLogoutEndsSessionAndBackchannel(t *testing.T) {
	got := make(chan string, 2)
	rp := newTLSServer(t, func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		got <- r.PostFormValue("logout_token")
	})
	f := newFixture(t, func(c *Config) {
		c.Services[2].OIDC.BackChannelLogoutURI = rp.URL + "/bcl"
	})
	f.p.deps.HTTPClient = rp.Client()
	c := f.browser()
	tr := f.exchange(f.authorize(c, chamiloAuth()).Query().Get("code"))
	claims := f.verifyIDToken(tr.IDToken)
	resp, _ := f.get(c, f.base+"/oidc/end_session?"+url.Values{"id_token_hint": {tr.IDToken}, "post_logout_redirect_uri": {"https://chamilo.example.org/bye"}, "client_id": {"chamilo"}}.Encode())
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "https://chamilo.example.org/bye") {
		t.Fatalf("end_session: %d %s", resp.StatusCode, loc)
	}
	if f.cookie(c, "enthub_sso") != nil {
		t.Fatal("session cookie survived logout")
	}
	select {
	case lt := <-got:
		m := f.verifyIDToken(lt)
		if m["sid"] != claims["sid"] || m["aud"] != "chamilo" || m["events"] == nil {
			t.Fatalf("logout token: %v", m)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no back-channel logout")
	}
	if status, _ := f.userinfo(tr.AccessToken); status == 200 {
		t.Fatal("access token survived logout")
	}
	// An unregistered post-logout URI is not followed.
	c2 := f.browser()
	tr = f.exchange(f.authorize(c2, chamiloAuth()).Query().Get("code"))
	resp, _ = f.get(c2, f.base+"/oidc/end_session?"+url.Values{"id_token_hint": {tr.IDToken}, "post_logout_redirect_uri": {"https://evil.example.com/"}, "client_id": {"chamilo"}}.Encode())
	if strings.Contains(resp.Header.Get("Location"), "evil") || resp.Request.URL.Host == "evil.example.com" {
		t.Fatalf("unregistered post_logout_redirect_uri followed: %s", resp.Header.Get("Location"))
	}
}

func TestOIDCUnknownClientRefusedWithPage(t *testing.T) {
	f := newFixture(t)
	resp, page := f.get(f.browser(), f.base+"/oidc/authorize?"+chamiloAuth("client_id", "nobody").Encode())
	if resp.StatusCode != 400 || !strings.Contains(page, MsgUnknownService) {
		t.Fatalf("unknown client: %d\n%s", resp.StatusCode, page)
	}
	resp, page = f.get(f.browser(), f.base+"/oidc/authorize?"+chamiloAuth("redirect_uri", "https://evil.example.com/cb").Encode())
	if resp.StatusCode != 400 || !strings.Contains(page, "redirect_uri") {
		t.Fatalf("unregistered redirect: %d\n%s", resp.StatusCode, page)
	}
}

func TestOIDCPromptNoneWithoutSessionReturnsLoginRequired(t *testing.T) {
	f := newFixture(t)
	resp, _ := f.get(f.browser(), f.base+"/oidc/authorize?"+chamiloAuth("prompt", "none").Encode())
	u, _ := url.Parse(resp.Header.Get("Location"))
	if u == nil || u.Host != "chamilo.example.org" || u.Query().Get("error") != "login_required" || u.Query().Get("state") != "st4te" {
		t.Fatalf("prompt=none without session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	c := f.loginAs("emma.martin")
	if u := f.authorize(c, chamiloAuth("prompt", "none")); u.Query().Get("code") == "" {
		t.Fatalf("prompt=none with a session: %s", u)
	}
}

func TestOIDCPromptLoginAsksPasswordAgain(t *testing.T) {
	f := newFixture(t)
	c := f.loginAs("emma.martin")
	_, page := f.get(c, f.base+"/oidc/authorize?"+chamiloAuth("prompt", "login").Encode())
	if !strings.Contains(page, `name="password"`) {
		t.Fatal("prompt=login with a session did not ask for the password")
	}
}
