package idp

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// serve runs one request through the fixture's routes and fails on a 5xx:
// outside input may be refused, never crash a front or be blamed on the
// server.
func (f *fixture) serve(t *testing.T, r *http.Request) {
	t.Helper()
	w := httptest.NewRecorder()
	done := make(chan struct{})
	go func() { defer close(done); f.srv.Config.Handler.ServeHTTP(w, r) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s %s: no answer after 5 s", r.Method, r.URL)
	}
	if w.Code >= 500 {
		t.Fatalf("%s %s: status %d\n%.500s", r.Method, r.URL, w.Code, w.Body.String())
	}
}

var casPaths = []string{"/cas/login", "/cas/logout", "/cas/validate", "/cas/serviceValidate", "/cas/proxyValidate",
	"/cas/p3/serviceValidate", "/cas/p3/proxyValidate", "/cas/proxy"}

// The CAS endpoints' parameters, as a relying party or a browser sends them.
func FuzzCASParameters(f *testing.F) {
	fx := newFixture(f)
	f.Add(uint8(0), pronoteURL, "", "", "renew=true&gateway=1")
	f.Add(uint8(3), pronoteURL, "ST-1-abc", "https://grr.example.org/pgt", "")
	f.Add(uint8(5), "https://grr.example.org/x", "PT-1", "", "format=JSON")
	f.Add(uint8(7), "", "", "", "pgt=PGT-1&targetService=https%3A%2F%2Fgrr.example.org%2F")
	f.Add(uint8(1), "%zz", "\x00", "", "service=%")
	f.Fuzz(func(t *testing.T, path uint8, service, ticket, pgtURL, raw string) {
		q := url.Values{}
		for k, v := range map[string]string{"service": service, "ticket": ticket, "pgtUrl": pgtURL} {
			if v != "" {
				q.Set(k, v)
			}
		}
		r := httptest.NewRequest("GET", "http://ent.test"+casPaths[int(path)%len(casPaths)], nil)
		r.URL.RawQuery = q.Encode()
		if raw != "" {
			r.URL.RawQuery += "&" + raw
		}
		fx.serve(t, r)
	})
}

// The OIDC authorization request and token request parameters.
func FuzzOIDCParameters(f *testing.F) {
	fx := newFixture(f)
	f.Add(false, "chamilo", "https://chamilo.example.org/cb", "code", "openid profile", "S256", "", "")
	f.Add(false, "spa", "https://spa.example.org/cb", "code id_token", "openid", "plain", "none", "max_age=-1&request=x")
	f.Add(true, "chamilo", "https://chamilo.example.org/cb", "authorization_code", "", "", "code-1", "")
	f.Add(true, "chamilo", "", "refresh_token", "openid", "", "", "refresh_token=x")
	f.Add(true, "spa", "https://spa.example.org/cb", "urn:ietf:params:oauth:grant-type:device_code", "", "", "", "%")
	f.Fuzz(func(t *testing.T, token bool, clientID, redirect, kind, scope, method, value, raw string) {
		if !token {
			q := url.Values{"client_id": {clientID}, "redirect_uri": {redirect}, "response_type": {kind}, "scope": {scope},
				"code_challenge_method": {method}, "code_challenge": {value}, "prompt": {value}, "state": {value}, "nonce": {value}}
			r := httptest.NewRequest("GET", "http://ent.test/oidc/authorize", nil)
			r.URL.RawQuery = q.Encode() + "&" + raw
			fx.serve(t, r)
			return
		}
		form := url.Values{"grant_type": {kind}, "code": {value}, "redirect_uri": {redirect}, "client_id": {clientID},
			"code_verifier": {value}, "scope": {scope}}
		r := httptest.NewRequest("POST", "http://ent.test/oidc/token", strings.NewReader(form.Encode()+"&"+raw))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(clientID, method)
		fx.serve(t, r)
	})
}

const fuzzAuthnRequest = `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="id-1" Version="2.0" IssueInstant="2026-01-01T00:00:00Z" Destination="http://ent.test/saml/idp/sso" AssertionConsumerServiceURL="https://sp.example.org/acs" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"><saml:Issuer>https://sp.example.org</saml:Issuer><samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient" AllowCreate="true"/></samlp:AuthnRequest>`

const fuzzLogoutRequest = `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="id-2" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>https://sp.example.org</saml:Issuer><saml:NameID>x</saml:NameID><samlp:SessionIndex>s</samlp:SessionIndex></samlp:LogoutRequest>`

// The SAML messages a service provider sends: AuthnRequest and
// LogoutRequest/LogoutResponse, over the redirect binding (deflated) and
// the POST binding.
func FuzzSAMLRequest(f *testing.F) {
	fx := newFixture(f)
	f.Add([]byte(fuzzAuthnRequest), uint8(0), "relay")
	f.Add([]byte(fuzzAuthnRequest), uint8(1), "")
	f.Add([]byte(fuzzLogoutRequest), uint8(2), "r")
	f.Add([]byte(fuzzLogoutRequest), uint8(3), "")
	f.Add([]byte("<!DOCTYPE x [<!ENTITY a \"aaaa\">]><x>&a;&a;</x>"), uint8(0), "")
	f.Fuzz(func(t *testing.T, msg []byte, how uint8, relay string) {
		endpoint := "/saml/idp/sso"
		if how&2 != 0 {
			endpoint = "/saml/idp/slo"
		}
		var r *http.Request
		if how&1 == 0 { // redirect binding: deflate, base64, query
			var b bytes.Buffer
			w, _ := flate.NewWriter(&b, flate.BestSpeed)
			w.Write(msg)
			w.Close()
			q := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(b.Bytes())}, "RelayState": {relay}}
			r = httptest.NewRequest("GET", "http://ent.test"+endpoint+"?"+q.Encode(), nil)
		} else {
			form := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(msg)}, "RelayState": {relay}}
			r = httptest.NewRequest("POST", "http://ent.test"+endpoint, strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		fx.serve(t, r)
	})
}
