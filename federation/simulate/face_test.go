package simulate

import (
	"bytes"
	"compress/flate"
	"crypto/rsa"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	csaml "github.com/crewjam/saml"
)

func redirectRequest(t *testing.T, issuer string) string {
	t.Helper()
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	fw.Write([]byte(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="id-42" Version="2.0"><saml:Issuer>` + issuer + `</saml:Issuer></samlp:AuthnRequest>`))
	fw.Close()
	return url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(buf.Bytes())}, "RelayState": {"rs-1"}}.Encode()
}

// The simulated IdP answers only its service provider, lists its people
// on a page marked as a simulation, and posts a signed, encrypted Response
// to the ACS for the one chosen, in response to the request.
func TestSAMLFaceAnswersItsServiceProvider(t *testing.T) {
	key, cert, err := KeyPair("idp")
	if err != nil {
		t.Fatal(err)
	}
	_, encCert, err := KeyPair("sp-enc")
	if err != nil {
		t.Fatal(err)
	}
	f := &SAMLFace{IdP: &SAMLIdP{EntityID: "https://sim/md", SSOURL: "https://sim/educonnect/sso", Key: key, Cert: cert},
		Title: "Simulation — EduConnect", SPEntityID: "https://ent/sp", ACS: "https://ent/acs", EncryptTo: encCert,
		People: []Person{{Key: "k1", Label: "Élève — Léa Martin", Attributes: []Attr{{Name: "FrEduCtRefId", Values: []string{"{AAF}02|1|123"}}}}}}
	h := f.Handler()

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/educonnect/sso?"+redirectRequest(t, "https://other/sp"), nil))
	if w.Code != http.StatusBadRequest {
		t.Fatalf("another SP: %d", w.Code)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/educonnect/sso?"+redirectRequest(t, "https://ent/sp"), nil))
	page := w.Body.String()
	for _, want := range []string{"SIMULATION", "Simulation — EduConnect", "Élève — Léa Martin", `value="id-42"`, `value="rs-1"`} {
		if !strings.Contains(page, want) {
			t.Fatalf("page lacks %q:\n%s", want, page)
		}
	}
	action, fields := FormFields(page)
	fields.Set("person", "k1")
	w = httptest.NewRecorder()
	r := httptest.NewRequest("POST", action, strings.NewReader(fields.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	h.ServeHTTP(w, r)
	action, fields = FormFields(w.Body.String())
	raw, _ := base64.StdEncoding.DecodeString(fields.Get("SAMLResponse"))
	if action != "https://ent/acs" || fields.Get("RelayState") != "rs-1" || !strings.Contains(string(raw), `InResponseTo="id-42"`) ||
		!strings.Contains(string(raw), "EncryptedAssertion") || strings.Contains(string(raw), "{AAF}") {
		t.Fatalf("answer to %s (relay %q):\n%s", action, fields.Get("RelayState"), raw)
	}
}

// With ByID, the page also has a form where any person is named by an
// identifier: the typed one gets the answer (the load bench's generated
// students); an identifier ByID does not know gets none.
func TestSAMLFaceAnswersATypedIdentifier(t *testing.T) {
	key, cert, err := KeyPair("idp")
	if err != nil {
		t.Fatal(err)
	}
	f := &SAMLFace{IdP: &SAMLIdP{EntityID: "https://sim/md", SSOURL: "https://sim/educonnect/sso", Key: key, Cert: cert},
		Title: "Simulation — EduConnect", SPEntityID: "https://ent/sp", ACS: "https://ent/acs",
		ByID: func(id string) (Person, bool) {
			return Person{Key: "x", NameID: "n-" + id, Attributes: []Attr{{Name: "FrEduCtRefId", Values: []string{"{AAF}02|1|" + id}}}}, id != "nobody"
		}}
	h := f.Handler()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/educonnect/sso?"+redirectRequest(t, "https://ent/sp"), nil))
	page := w.Body.String()
	if !strings.Contains(page, `name="id"`) {
		t.Fatalf("no identifier field:\n%s", page)
	}
	action, fields := FormFields(page)
	for id, want := range map[string]int{"4242": http.StatusOK, "nobody": http.StatusBadRequest} {
		fields.Set("id", id)
		w = httptest.NewRecorder()
		r := httptest.NewRequest("POST", action, strings.NewReader(fields.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Fatalf("id %s: status %d, want %d", id, w.Code, want)
		}
		if want != http.StatusOK {
			continue
		}
		_, answer := FormFields(w.Body.String())
		raw, _ := base64.StdEncoding.DecodeString(answer.Get("SAMLResponse"))
		if !strings.Contains(string(raw), "{AAF}02|1|4242") || !strings.Contains(string(raw), `InResponseTo="id-42"`) {
			t.Fatalf("answer for 4242:\n%s", raw)
		}
	}
}

// The SLO endpoint answers only a LogoutRequest signed by its service
// provider, with a signed LogoutResponse to the SP's SLO URL.
func TestSAMLFaceSingleLogoutNeedsTheSPSignature(t *testing.T) {
	key, cert, err := KeyPair("idp")
	if err != nil {
		t.Fatal(err)
	}
	spKey, spCert, err := KeyPair("sp")
	if err != nil {
		t.Fatal(err)
	}
	evil, _, err := KeyPair("evil")
	if err != nil {
		t.Fatal(err)
	}
	f := &SAMLFace{IdP: &SAMLIdP{EntityID: "https://sim/md", SSOURL: "https://sim/educonnect/sso", SLOURL: "https://sim/educonnect/slo", Key: key, Cert: cert},
		SPEntityID: "https://ent/sp", SPSLO: "https://ent/slo", SPCert: spCert}
	req := csaml.LogoutRequest{ID: "id-lo", Version: "2.0", IssueInstant: time.Now(), Destination: f.IdP.SLOURL,
		Issuer: &csaml.Issuer{Value: "https://ent/sp"}, NameID: &csaml.NameID{Value: "n-1"}}
	for name, tc := range map[string]struct {
		key  *rsa.PrivateKey
		want int
	}{"signed by the SP": {spKey, http.StatusFound}, "signed by another key": {evil, http.StatusBadRequest}} {
		t.Run(name, func(t *testing.T) {
			u, err := SignedRedirect(f.IdP.SLOURL, "SAMLRequest", req.Element(), "rs-9", tc.key)
			if err != nil {
				t.Fatal(err)
			}
			w := httptest.NewRecorder()
			f.Handler().ServeHTTP(w, httptest.NewRequest("GET", u, nil))
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
			}
			if tc.want != http.StatusFound {
				return
			}
			loc, _ := url.Parse(w.Header().Get("Location"))
			if !strings.HasPrefix(loc.String(), "https://ent/slo?") || loc.Query().Get("RelayState") != "rs-9" {
				t.Fatalf("answered to %s", loc)
			}
			if err := VerifyRedirect(loc.RawQuery, "SAMLResponse", cert); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The simulated OP's end_session_endpoint goes back only to a registered
// post_logout_redirect_uri, with the state.
func TestOPEndSessionRedirectsOnlyWhereRegistered(t *testing.T) {
	p := &OP{Issuer: "https://op/t/v2.0", ClientID: "c", PostLogoutRedirectURIs: []string{"https://ent/slo"}}
	for back, want := range map[string]string{"https://ent/slo": "https://ent/slo?state=s-1", "https://evil/slo": ""} {
		w := httptest.NewRecorder()
		p.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/t/v2.0/logout?"+url.Values{"client_id": {"c"}, "post_logout_redirect_uri": {back}, "state": {"s-1"}}.Encode(), nil))
		if got := w.Header().Get("Location"); got != want {
			t.Errorf("%s: went to %q (%d), want %q", back, got, w.Code, want)
		}
	}
}
