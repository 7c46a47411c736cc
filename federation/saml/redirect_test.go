package saml

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"io"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	csaml "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
)

// TestAuthnRequestRedirectSigned: what an IdP checks on the Redirect
// binding (SAML bindings §3.4.4.1) holds for every login, the second and
// third too (their DEFLATE compressor is a reused one): the query signature
// over "SAMLRequest=…&RelayState=…&SigAlg=…", as sent, verifies with our
// signing certificate, and SAMLRequest inflates to this login's request.
func TestAuthnRequestRedirectSigned(t *testing.T) {
	h := newHarness(t, nil)
	seen := map[string]bool{}
	for i := range 3 {
		w := httptest.NewRecorder()
		if err := h.c.Start(context.Background(), w, httptest.NewRequest("GET", "https://ent.test/login/educonnect", nil), "/portal"); err != nil {
			t.Fatal(err)
		}
		loc := w.Header().Get("Location")
		dest, query, _ := strings.Cut(loc, "?")
		if dest != h.idp.SSOURL {
			t.Fatalf("login %d: sent to %q, want the IdP's Redirect SSO %q", i, dest, h.idp.SSOURL)
		}
		signed, sig64, ok := strings.Cut(query, "&Signature=")
		if !ok || !strings.HasPrefix(signed, "SAMLRequest=") || !strings.Contains(signed, "&RelayState=") {
			t.Fatalf("login %d: query %q is not SAMLRequest, RelayState, SigAlg, Signature", i, query)
		}
		q, err := url.ParseQuery(query)
		if err != nil {
			t.Fatal(err)
		}
		if q.Get("SigAlg") != dsig.RSASHA256SignatureMethod {
			t.Errorf("login %d: SigAlg %q", i, q.Get("SigAlg"))
		}
		sig, err := base64.StdEncoding.DecodeString(q.Get("Signature"))
		if err != nil || sig64 == "" {
			t.Fatalf("login %d: Signature %q: %v", i, q.Get("Signature"), err)
		}
		sum := sha256.Sum256([]byte(signed))
		if err := rsa.VerifyPKCS1v15(h.k.spCert.PublicKey.(*rsa.PublicKey), crypto.SHA256, sum[:], sig); err != nil {
			t.Fatalf("login %d: the query signature does not verify with our signing certificate: %v", i, err)
		}
		raw, _ := base64.StdEncoding.DecodeString(q.Get("SAMLRequest"))
		xmlb, err := io.ReadAll(flate.NewReader(bytes.NewReader(raw)))
		if err != nil {
			t.Fatalf("login %d: SAMLRequest does not inflate: %v", i, err)
		}
		var req csaml.AuthnRequest
		if err := xml.Unmarshal(xmlb, &req); err != nil {
			t.Fatalf("login %d: AuthnRequest: %v\n%s", i, err, xmlb)
		}
		if req.ID == "" || seen[req.ID] || req.Destination != h.idp.SSOURL || req.AssertionConsumerServiceURL != acsURL || req.Issuer == nil || req.Issuer.Value != spEntity {
			t.Fatalf("login %d: AuthnRequest %s", i, xmlb)
		}
		seen[req.ID] = true
	}
}
