package idp

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// tokenAlg returns the alg and kid of a signed token's header.
func tokenAlg(t *testing.T, raw string) (string, string) {
	t.Helper()
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatalf("token %q: %v", raw, err)
	}
	h := jws.Signatures[0].Header
	return h.Algorithm, h.KeyID
}

func TestOIDCRefreshHasNoIDTokenUnlessClientAsks(t *testing.T) {
	f := newFixture(t)
	tr := f.exchange(f.authorize(f.browser(), chamiloAuth()).Query().Get("code"))
	f.verifyIDToken(tr.IDToken) // the code exchange still gives one
	r1 := f.refresh(tr.RefreshToken)
	if r1.status != 200 || r1.AccessToken == "" || r1.RefreshToken == "" {
		t.Fatalf("refresh: %+v", r1)
	}
	if r1.IDToken != "" {
		t.Fatal("refresh response carries an ID token the client did not ask for")
	}
	if status, ui := f.userinfo(r1.AccessToken); status != 200 || ui["sub"] != f.ids["eleve"] {
		t.Fatalf("userinfo with the refreshed access token: %d %v", status, ui)
	}

	f = newFixture(t, func(c *Config) { c.Services[2].OIDC.IDTokenOnRefresh = true })
	tr = f.exchange(f.authorize(f.browser(), chamiloAuth()).Query().Get("code"))
	first := f.verifyIDToken(tr.IDToken)
	f.clock.Advance(time.Minute)
	r1 = f.refresh(tr.RefreshToken)
	if r1.IDToken == "" || r1.RefreshToken == "" {
		t.Fatalf("IDTokenOnRefresh: refresh response %+v", r1)
	}
	claims := f.verifyIDToken(r1.IDToken)
	for _, c := range []string{"iss", "sub", "aud", "auth_time", "sid", "given_name", "uai"} {
		if !jsonEqual(claims[c], first[c]) {
			t.Errorf("refreshed ID token claim %s = %v, want %v as in the first", c, claims[c], first[c])
		}
	}
	if claims["at_hash"] == nil || claims["at_hash"] == first["at_hash"] {
		t.Errorf("refreshed ID token at_hash %v must bind the new access token", claims["at_hash"])
	}
	if claims["nonce"] != nil {
		t.Errorf("refreshed ID token repeats the nonce %v", claims["nonce"])
	}
	// Rotation and reuse detection are the same with an ID token.
	if replay := f.refresh(tr.RefreshToken); replay.status != 400 || replay.AccessToken != "" || replay.IDToken != "" {
		t.Fatalf("replayed refresh token: %+v", replay)
	}
	if r := f.refresh(r1.RefreshToken); r.AccessToken != "" {
		t.Fatal("reuse must revoke the family")
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestOIDCRefreshChecksClientAndScope(t *testing.T) {
	f := newFixture(t)
	tr := f.exchange(f.authorize(f.browser(), chamiloAuth()).Query().Get("code"))
	// Another client (public: no secret to check) presents chamilo's
	// refresh token: refused, and the token is not spent.
	other := f.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}, "client_id": {"spa"}})
	if other.status != 400 || other.AccessToken != "" {
		t.Fatalf("refresh token of chamilo accepted for spa: %+v", other)
	}
	if bad := f.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}}, "chamilo", "wrong"); bad.status != 401 || bad.AccessToken != "" {
		t.Fatalf("wrong client secret: %+v", bad)
	}
	if wider := f.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}, "scope": {"openid phone"}},
		"chamilo", "chamilo-secret"); wider.status != 400 || wider.Error != "invalid_scope" {
		t.Fatalf("refresh asking a scope not granted: %+v", wider)
	}
	narrow := f.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}, "scope": {"openid"}}, "chamilo", "chamilo-secret")
	if narrow.AccessToken == "" {
		t.Fatalf("refresh by its client after the refusals: %+v", narrow)
	}
	if _, ui := f.userinfo(narrow.AccessToken); ui["email"] != nil || ui["uai"] != "0451462V" {
		t.Fatalf("narrowed refresh still releases the email scope: %v", ui)
	}
	ev := f.events(EventTokenRefused)
	if len(ev) == 0 {
		t.Fatal("refused refresh not audited")
	}
}

func TestOIDCTokenResponsesNotCached(t *testing.T) {
	f := newFixture(t)
	code := f.authorize(f.browser(), chamiloAuth()).Query().Get("code")
	for _, form := range []url.Values{
		{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {chamiloCB}},
		{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}},
	} {
		req, _ := http.NewRequest("POST", f.base+"/oidc/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("chamilo", "chamilo-secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", form.Get("grant_type"), resp.Header.Get("Cache-Control"))
		}
	}
}

func es256Chamilo(c *Config) {
	c.Services[2].OIDC.IDTokenSignedResponseAlg = "ES256"
	c.Services[2].OIDC.IDTokenOnRefresh = true
}

func TestOIDCES256IDTokenVerifiesAgainstJWKS(t *testing.T) {
	f := newFixture(t, es256Chamilo)
	tr := f.exchange(f.authorize(f.browser(), chamiloAuth()).Query().Get("code"))
	alg, kid := tokenAlg(t, tr.IDToken)
	if alg != "ES256" || kid != "ec-initial" {
		t.Fatalf("chamilo registered ES256, ID token is %s by %s", alg, kid)
	}
	claims := f.verifyIDToken(tr.IDToken) // against the JWKS, with the key's published alg
	if claims["sub"] != f.ids["eleve"] || claims["nonce"] != "n0nce" || claims["at_hash"] == nil {
		t.Fatalf("ES256 ID token claims: %v", claims)
	}
	r1 := f.refresh(tr.RefreshToken)
	if alg, _ := tokenAlg(t, r1.IDToken); alg != "ES256" {
		t.Fatalf("refreshed ID token: %s", alg)
	}
	f.verifyIDToken(r1.IDToken)

	// Other clients keep RS256, and the JWKS publishes both keys.
	verifier := "a-very-long-code-verifier-of-at-least-43-characters-xyz"
	u := f.authorize(f.browser(), url.Values{"client_id": {"spa"}, "redirect_uri": {"https://spa.example.org/cb"}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"s"}, "code_challenge": {pkceS256(verifier)}, "code_challenge_method": {"S256"}})
	spa := f.token(url.Values{"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")}, "redirect_uri": {"https://spa.example.org/cb"},
		"client_id": {"spa"}, "code_verifier": {verifier}})
	if alg, kid := tokenAlg(t, spa.IDToken); alg != "RS256" || kid != "rsa-initial" {
		t.Fatalf("spa's ID token: %s by %s", alg, kid)
	}
	if ids := f.jwksKIDs(); !slices.Contains(ids, "rsa-initial") || !slices.Contains(ids, "ec-initial") {
		t.Fatalf("JWKS: %v", ids)
	}
	_, b := f.get(http.DefaultClient, f.base+"/.well-known/openid-configuration")
	var d struct {
		Algs []string `json:"id_token_signing_alg_values_supported"`
	}
	json.Unmarshal([]byte(b), &d)
	if !slices.Contains(d.Algs, "RS256") || !slices.Contains(d.Algs, "ES256") {
		t.Fatalf("discovery id_token_signing_alg_values_supported: %v", d.Algs)
	}
}

func TestOIDCNoECKeyUnlessAClientAsks(t *testing.T) {
	f := newFixture(t)
	if ids := f.jwksKIDs(); len(ids) != 1 || ids[0] != "rsa-initial" {
		t.Fatalf("JWKS without ES256 clients: %v", ids)
	}
	keys, _ := f.store.Keys(context.Background())
	for _, k := range keys {
		if k.Kind == "ec" {
			t.Fatalf("EC key %s made with no client asking", k.ID)
		}
	}
	bad := Config{PublicURL: f.base, Services: testServices()}
	bad.Services[2].OIDC.IDTokenSignedResponseAlg = "HS256"
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), `oidc.id_token_signed_response_alg: "HS256": want RS256 or ES256`) {
		t.Fatalf("HS256 accepted: %v", err)
	}
}

func TestOIDCES256LogoutTokenAndEndSessionHint(t *testing.T) {
	got := make(chan string, 1)
	rp := newTLSServer(t, func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		got <- r.PostFormValue("logout_token")
	})
	f := newFixture(t, es256Chamilo, func(c *Config) { c.Services[2].OIDC.BackChannelLogoutURI = rp.URL + "/bcl" })
	f.p.deps.HTTPClient = rp.Client()
	c := f.browser()
	tr := f.exchange(f.authorize(c, chamiloAuth()).Query().Get("code"))
	resp, _ := f.get(c, f.base+"/oidc/end_session?"+url.Values{"id_token_hint": {tr.IDToken}, "post_logout_redirect_uri": {"https://chamilo.example.org/bye"}, "client_id": {"chamilo"}}.Encode())
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "https://chamilo.example.org/bye") {
		t.Fatalf("end_session with an ES256 id_token_hint: %d %s", resp.StatusCode, loc)
	}
	select {
	case lt := <-got:
		if alg, _ := tokenAlg(t, lt); alg != "ES256" {
			t.Fatalf("logout token signed %s, the client registered ES256", alg)
		}
		if m := f.verifyIDToken(lt); m["aud"] != "chamilo" || m["events"] == nil {
			t.Fatalf("logout token: %v", m)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no back-channel logout")
	}
}

func TestKeyRotationRotatesECKeysToo(t *testing.T) {
	f := newFixture(t, es256Chamilo)
	info, err := RotateKeys(context.Background(), f.store, f.clock.Now, KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	newEC := "ec-" + strings.TrimPrefix(info.ID, "rsa-")
	f.clock.Advance(2 * time.Minute)
	if ids := f.jwksKIDs(); len(ids) != 4 || !slices.Contains(ids, newEC) {
		t.Fatalf("after rotation the JWKS publishes %v, want old and new of both kinds", ids)
	}
	kid := func() string {
		tr := f.exchange(f.authorize(f.browser(), chamiloAuth()).Query().Get("code"))
		f.verifyIDToken(tr.IDToken)
		_, kid := tokenAlg(t, tr.IDToken)
		return kid
	}
	if k := kid(); k != "ec-initial" {
		t.Fatalf("the new EC key signs before its overlap: %s", k)
	}
	f.clock.Advance(24 * time.Hour)
	if k := kid(); k != newEC {
		t.Fatalf("after the overlap %s must sign, got %s", newEC, k)
	}
	f.clock.Advance(24 * time.Hour)
	if ids := f.jwksKIDs(); len(ids) != 2 || !slices.Contains(ids, newEC) || !slices.Contains(ids, info.ID) {
		t.Fatalf("after two overlaps only the new keys are published: %v", ids)
	}
}

func pkceS256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
