package idp

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
)

// makeAssertionEl must give exactly what crewjam's MakeAssertionEl gives
// (same bytes, same signature), without building the assertion twice.
func TestSAMLAssertionSignedAsCrewjamSignsIt(t *testing.T) {
	f := newFixture(t)
	for _, alg := range []string{"", "rsa-sha1"} {
		svc := &Service{SAML: SAMLService{SignatureAlgorithm: alg}}
		mk := func() *saml.IdpAuthnRequest {
			now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			return &saml.IdpAuthnRequest{IDP: f.p.saml.identityProvider(svc), SPSSODescriptor: &saml.SPSSODescriptor{},
				ACSEndpoint: &saml.IndexedEndpoint{Location: spACS},
				Assertion: &saml.Assertion{ID: "_a1", IssueInstant: now, Version: "2.0",
					Issuer:  saml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: f.base + "/saml/idp/metadata"},
					Subject: &saml.Subject{NameID: &saml.NameID{Format: nameIDTransient, Value: "_n1"}},
					AttributeStatements: []saml.AttributeStatement{{Attributes: []saml.Attribute{{Name: "urn:oid:2.5.4.4",
						NameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
						Values:     []saml.AttributeValue{{Type: "xs:string", Value: `Martin & "fils" <é>`}}}}}}}}
		}
		want, got := mk(), mk()
		if err := want.MakeAssertionEl(); err != nil {
			t.Fatal(err)
		}
		if err := makeAssertionEl(got); err != nil {
			t.Fatal(err)
		}
		if w, g := xmlString(t, want.AssertionEl), xmlString(t, got.AssertionEl); w != g {
			t.Fatalf("%s: assertion differs from crewjam's:\n%s\n%s", alg, w, g)
		}
	}
}

func xmlString(t *testing.T, el *etree.Element) string {
	t.Helper()
	d := etree.NewDocument()
	d.SetRoot(el.Copy())
	s, err := d.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSAMLOneSignaturePerLoginByDefault(t *testing.T) {
	sp := testSP(t, false)
	f := samlFixture(t, sp, nil)
	u, _ := sp.MakeRedirectAuthenticationRequest("")
	resp, _, _ := f.samlFollow(f.browser(), u.String())
	doc := etree.NewDocument()
	if err := doc.ReadFromString(resp); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(resp, "<ds:SignatureValue>"); n != 1 || doc.Root().FindElement("./Signature") != nil ||
		doc.Root().FindElement("./Assertion/Signature") == nil {
		t.Fatalf("%d signatures; want the assertion signed, the response not:\n%s", n, resp)
	}
	if _, err := sp.ParseXMLResponse([]byte(resp), []string{requestID(t, u)}, *mustURL(spACS)); err != nil {
		t.Fatalf("SP refused: %v", err)
	}
}

func TestSAMLPostFormEscapesRelayState(t *testing.T) {
	sp := testSP(t, false)
	f := samlFixture(t, sp, nil)
	relay := `"><script>alert('x')</script>`
	u, _ := sp.MakeRedirectAuthenticationRequest(relay)
	resp, page := f.get(f.loginAs("emma.martin"), u.String())
	if resp.StatusCode != http.StatusOK || strings.Contains(page, "<script>alert") {
		t.Fatalf("RelayState not escaped in the form: %d\n%s", resp.StatusCode, page)
	}
	if resp.Header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("form headers: %v", resp.Header)
	}
	if m := relayRE.FindStringSubmatch(page); m == nil || htmlUnescape(m[1]) != relay {
		t.Fatalf("RelayState in the form: %v", m)
	}
	if !strings.Contains(page, `action="`+spACS+`"`) {
		t.Fatalf("form action: %s", page)
	}
}

// crewjam refuses such metadata already; the form writer does not rely
// on it (html/template, which it replaces, filtered such URLs).
func TestSAMLNoFormToANonHTTPConsumer(t *testing.T) {
	for _, acs := range []string{"javascript:alert(1)//", "data:text/html,x", ""} {
		req := &saml.IdpAuthnRequest{ACSEndpoint: &saml.IndexedEndpoint{Location: acs}, ResponseEl: etree.NewElement("samlp:Response")}
		w := httptest.NewRecorder()
		if err := writePostForm(w, req, "SP"); err == nil || w.Body.Len() > 0 {
			t.Fatalf("form written to %q: %s", acs, w.Body)
		}
	}
}
