package e2etest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/enthub/enthub/idp"
	"github.com/enthub/enthub/test/peer"
)

// certifiedRPServices are the clients the certified relying party plays:
// a web application (confidential, pairwise subjects off) and a desktop
// app (native, RFC 8252).
func certifiedRPServices() []idp.Service {
	return []idp.Service{
		{ID: "rp", Name: "Application web", Protocol: idp.ProtocolOIDC,
			Release: idp.ReleasePolicy{Attributes: []idp.AttributeRule{
				{Source: "person.first_name", Name: "given_name", Scope: "profile"},
				{Source: "person.last_name", Name: "family_name", Scope: "profile"},
				{Source: "person.email", Name: "email", Scope: "email"},
				{Source: "persona.uai", Name: "uai"}}},
			OIDC: idp.OIDCService{ClientID: "rp", ClientSecret: "rp-secret", RedirectURIs: []string{"https://rp.example.org/cb"},
				PostLogoutRedirectURIs: []string{"https://rp.example.org/bye"}}},
		{ID: "desktop", Name: "Application de bureau", Protocol: idp.ProtocolOIDC,
			Release: idp.ReleasePolicy{Principal: "pairwise", Attributes: []idp.AttributeRule{{Source: "person.first_name", Name: "given_name", Scope: "profile"}}},
			OIDC:    idp.OIDCService{ClientID: "desktop", ApplicationType: "native", RedirectURIs: []string{"http://127.0.0.1/callback"}}},
	}
}

// TestOpenIDClientCertifiedRelyingParty runs panva's openid-client
// (OpenID Certified) against enthub: discovery, code flow with PKCE, ID
// token validation (signature included), userinfo, refresh rotation with
// replay refused, RP-initiated logout with state, and the RFC 6750
// challenge once the tokens are revoked.
func TestOpenIDClientCertifiedRelyingParty(t *testing.T) {
	rp := peer.OpenIDClient(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := startHub(t, ln, certifiedRPServices())
	b := newBrowser(t)
	hubHost := strings.TrimPrefix(h.url, "http://")
	b.c.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if req.URL.Host != hubHost {
			return http.ErrUseLastResponse // the RP's own pages do not exist here
		}
		return nil
	}
	client := map[string]string{"issuer": h.url, "client_id": "rp", "client_secret": "rp-secret"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range client {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}

	var start struct {
		URL, Verifier, State, Nonce string
		Metadata                    map[string]any
	}
	rp.Step(t, "web-start", with(map[string]string{"redirect_uri": "https://rp.example.org/cb", "scope": "openid profile email offline_access"}), &start)
	if !strings.HasPrefix(start.URL, h.url+"/oidc/authorize?") || start.Metadata["issuer"] != h.url {
		t.Fatalf("discovery and authorization URL: %+v", start)
	}
	resp, page := b.visit(start.URL)
	callback := resp.Header.Get("Location")
	if !strings.HasPrefix(callback, "https://rp.example.org/cb?") {
		t.Fatalf("no callback to the RP: %d %q\n%s", resp.StatusCode, callback, page)
	}

	var fin struct {
		Claims, Userinfo map[string]any
		AccessToken      string `json:"access_token"`
		Refreshed        bool
		Rotated          bool
		Replay           map[string]any
		EndSessionURL    string `json:"end_session_url"`
	}
	rp.Step(t, "web-finish", with(map[string]string{"callback": callback, "verifier": start.Verifier, "state": start.State, "nonce": start.Nonce,
		"post_logout_redirect_uri": "https://rp.example.org/bye", "logout_state": "au-revoir-42"}), &fin)
	if fin.Claims["iss"] != h.url || fmt.Sprint(fin.Claims["aud"]) != "[rp]" || fin.Claims["given_name"] != "Emma" || fin.Claims["uai"] != "0451462V" {
		t.Errorf("ID token claims: %v", fin.Claims)
	}
	if fin.Userinfo["sub"] != fin.Claims["sub"] || fin.Userinfo["email"] != "emma.martin@example.org" {
		t.Errorf("userinfo: %v", fin.Userinfo)
	}
	if !fin.Refreshed || !fin.Rotated {
		t.Errorf("refresh: refreshed %v, rotated %v", fin.Refreshed, fin.Rotated)
	}
	if fin.Replay["accepted"] == true || fin.Replay["error"] != "invalid_grant" {
		t.Errorf("replayed refresh token: %v", fin.Replay)
	}

	// RP-initiated logout with state: back to the registered URI, state kept.
	resp, page = b.visit(fin.EndSessionURL)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc == nil || loc.Host != "rp.example.org" || loc.Path != "/bye" || loc.Query().Get("state") != "au-revoir-42" {
		t.Fatalf("end_session: %d %q\n%s", resp.StatusCode, resp.Header.Get("Location"), page)
	}

	// The logout revoked the tokens: the library reads why from WWW-Authenticate.
	var ui struct{ Error map[string]any }
	rp.Step(t, "userinfo", with(map[string]string{"access_token": fin.AccessToken, "sub": fin.Claims["sub"].(string)}), &ui)
	challenges, _ := json.Marshal(ui.Error["challenges"])
	if ui.Error == nil || ui.Error["name"] != "WWWAuthenticateChallengeError" || !strings.Contains(string(challenges), "invalid_token") {
		t.Fatalf("userinfo with a revoked token: %v", ui.Error)
	}
}

// TestOpenIDClientNativeLoopbackApp is a desktop app as RFC 8252 has it:
// openid-client listens on a port the system picks, registered only as
// http://127.0.0.1/callback, and uses PKCE as a public client.
func TestOpenIDClientNativeLoopbackApp(t *testing.T) {
	rp := peer.OpenIDClient(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := startHub(t, ln, certifiedRPServices())
	run := rp.Start(t, "native", map[string]string{"issuer": h.url, "client_id": "desktop", "scope": "openid profile offline_access", "path": "/callback"})
	var start struct {
		URL         string
		RedirectURI string `json:"redirect_uri"`
	}
	run.Next(t, &start)
	resp, page := newBrowser(t).visit(start.URL)
	if resp.StatusCode != 200 || !strings.Contains(page, "Connexion réussie") || !strings.HasPrefix(resp.Request.URL.String(), start.RedirectURI) {
		t.Fatalf("browser did not come back to the app at %s: %d %s\n%s", start.RedirectURI, resp.StatusCode, resp.Request.URL, page)
	}
	var done struct {
		Claims, Userinfo map[string]any
		Refresh          bool
	}
	run.Next(t, &done)
	if fmt.Sprint(done.Claims["aud"]) != "[desktop]" || done.Claims["given_name"] != "Emma" || done.Userinfo["sub"] != done.Claims["sub"] || !done.Refresh {
		t.Fatalf("native app: %+v", done)
	}
}
