package simulate

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
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
		!strings.Contains(string(raw), "EncryptedAssertion") || strings.Contains(string(raw), "123") {
		t.Fatalf("answer to %s (relay %q):\n%s", action, fields.Get("RelayState"), raw)
	}
}
