package idp

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/xml"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
)

const spACS = "https://sp.example.org/saml/acs"

// testSP is a crewjam service provider, an independent implementation
// that parses and checks what the IdP sends.
func testSP(t testing.TB, sign bool) *saml.ServiceProvider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "sp"},
		NotBefore: t0.Add(-24 * time.Hour), NotAfter: t0.AddDate(20, 0, 0)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	acs, _ := url.Parse(spACS)
	md, _ := url.Parse("https://sp.example.org/saml/metadata")
	sp := &saml.ServiceProvider{Key: key, Certificate: cert, AcsURL: *acs, MetadataURL: *md, AllowIDPInitiated: true}
	if sign {
		sp.SignatureMethod = dsig.RSASHA256SignatureMethod
	}
	return sp
}

func samlService(sp *saml.ServiceProvider, mutate func(*Service)) func(*Config) {
	return func(c *Config) {
		b, _ := xml.Marshal(sp.Metadata())
		s := Service{ID: "sp", Name: "SP de test", Protocol: ProtocolSAML,
			Release: ReleasePolicy{Principal: "account.login", Attributes: []AttributeRule{
				{Source: "person.last_name", Name: "urn:oid:2.5.4.4", FriendlyName: "sn"},
				{Source: "person.first_name", Name: "urn:oid:2.5.4.42", FriendlyName: "givenName"},
				{Source: "persona.profile", Name: "profile", NameFormat: "basic"},
			}},
			SAML: SAMLService{EntityID: sp.MetadataURL.String(), MetadataXML: string(b)}}
		if mutate != nil {
			mutate(&s)
		}
		c.Services = append(c.Services, s)
	}
}

// samlFixture starts an IdP with the SP registered and points the SP at the
// IdP's metadata; crewjam's clock follows the test clock.
func samlFixture(t testing.TB, sp *saml.ServiceProvider, mutate func(*Service)) *fixture {
	return samlFixtureOn(t, sp, newFixture(t, samlService(sp, mutate)))
}

// samlFixtureOn is samlFixture on a fixture made with samlService(sp, …).
func samlFixtureOn(t testing.TB, sp *saml.ServiceProvider, f *fixture) *fixture {
	old := saml.TimeNow
	saml.TimeNow = f.clock.Now
	t.Cleanup(func() { saml.TimeNow = old })
	_, b := f.get(http.DefaultClient, f.base+"/saml/idp/metadata")
	md := &saml.EntityDescriptor{}
	if err := xml.Unmarshal([]byte(b), md); err != nil {
		t.Fatalf("IdP metadata: %v\n%s", err, b)
	}
	sp.IDPMetadata = md
	return f
}

var samlRespRE = regexp.MustCompile(`name="SAMLResponse" value="([^"]+)"`)
var relayRE = regexp.MustCompile(`name="RelayState" value="([^"]*)"`)

// samlFollow follows an SSO URL with a browser, logging in if asked, and
// returns the decoded SAMLResponse posted to the SP (or "" and the page).
func (f *fixture) samlFollow(c *http.Client, u string) (string, string, *http.Response) {
	f.t.Helper()
	resp, page := f.get(c, u)
	if strings.Contains(page, `name="password"`) {
		resp, page = f.submitLogin(c, page, "emma.martin", testPassword)
	}
	m := samlRespRE.FindStringSubmatch(page)
	if m == nil {
		return "", page, resp
	}
	raw, err := base64.StdEncoding.DecodeString(htmlUnescape(m[1]))
	if err != nil {
		f.t.Fatal(err)
	}
	relay := ""
	if r := relayRE.FindStringSubmatch(page); r != nil {
		relay = htmlUnescape(r[1])
	}
	return string(raw), relay, resp
}

func requestID(t testing.TB, u *url.URL) string {
	raw, err := inflate(u.Query().Get("SAMLRequest"))
	if err != nil {
		t.Fatal(err)
	}
	var ar saml.AuthnRequest
	xml.Unmarshal(raw, &ar)
	return ar.ID
}

func attrMap(a *saml.Assertion) map[string]string {
	m := map[string]string{}
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			var vs []string
			for _, v := range at.Values {
				vs = append(vs, v.Value)
			}
			m[at.Name] = strings.Join(vs, ",")
		}
	}
	return m
}

func TestSAMLMetadataPublishesSigningKeyAndEndpoints(t *testing.T) {
	sp := testSP(t, false)
	f := samlFixture(t, sp, nil)
	md := sp.IDPMetadata
	if md.EntityID != f.base+"/saml/idp/metadata" || len(md.IDPSSODescriptors) != 1 {
		t.Fatalf("metadata: %+v", md)
	}
	d := md.IDPSSODescriptors[0]
	if len(d.KeyDescriptors) == 0 || len(d.SingleSignOnServices) < 2 || len(d.SingleLogoutServices) == 0 {
		t.Fatalf("IdP descriptor: %+v", d)
	}
}

func TestSAMLSPInitiatedRedirectLoginSignedResponse(t *testing.T) {
	sp := testSP(t, false)
	f := samlFixture(t, sp, nil)
	u, err := sp.MakeRedirectAuthenticationRequest("relay-123")
	if err != nil {
		t.Fatal(err)
	}
	resp, relay, r := f.samlFollow(f.browser(), u.String())
	if resp == "" {
		t.Fatalf("no SAMLResponse: %d %s", r.StatusCode, relay)
	}
	if relay != "relay-123" {
		t.Fatalf("RelayState %q", relay)
	}
	if !strings.Contains(resp, `SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"`) {
		t.Fatal("assertion not signed with RSA-SHA256")
	}
	a, err := sp.ParseXMLResponse([]byte(resp), []string{requestID(t, u)}, *mustURL(spACS))
	if err != nil {
		t.Fatalf("SP refused the response: %v", err)
	}
	if a.Subject.NameID.Format != nameIDTransient || a.Subject.NameID.Value == "" {
		t.Fatalf("NameID: %+v", a.Subject.NameID)
	}
	got := attrMap(a)
	if len(got) != 3 || got["urn:oid:2.5.4.4"] != "Martin" || got["urn:oid:2.5.4.42"] != "Emma" || got["profile"] != "eleve" {
		t.Fatalf("attributes: %v", got)
	}
	if len(f.events(EventAssertion)) != 1 {
		t.Fatal("assertion not audited")
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestSAMLPOSTBindingSignedRequest(t *testing.T) {
	sp := testSP(t, true)
	f := samlFixture(t, sp, nil)
	c := f.loginAs("emma.martin")
	req, err := sp.MakeAuthenticationRequest(f.base+"/saml/idp/sso", saml.HTTPPostBinding, saml.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := xmlBytes(req)
	resp, err := c.PostForm(f.base+"/saml/idp/sso", url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(doc)}, "RelayState": {"r"}})
	if err != nil {
		t.Fatal(err)
	}
	page := body(t, resp)
	if !samlRespRE.MatchString(page) {
		t.Fatalf("signed POST request refused: %d %s", resp.StatusCode, page)
	}
	// The same request with its signature cut off is refused (the SP signs).
	req2, _ := sp.MakeAuthenticationRequest(f.base+"/saml/idp/sso", saml.HTTPPostBinding, saml.HTTPPostBinding)
	req2.Signature = nil
	doc2, _ := xmlBytes(req2)
	resp, _ = c.PostForm(f.base+"/saml/idp/sso", url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(doc2)}})
	if page := body(t, resp); resp.StatusCode != 400 || samlRespRE.MatchString(page) {
		t.Fatalf("unsigned POST request from a signing SP: %d", resp.StatusCode)
	}
}

func xmlBytes(req *saml.AuthnRequest) ([]byte, error) {
	doc := etree.NewDocument()
	doc.SetRoot(req.Element())
	return doc.WriteToBytes()
}

func TestSAMLUnsignedOrForgedRequestRefusedWhenSPSigns(t *testing.T) {
	sp := testSP(t, true)
	f := samlFixture(t, sp, nil)
	c := f.loginAs("emma.martin")
	u, err := sp.MakeRedirectAuthenticationRequest("")
	if err != nil {
		t.Fatal(err)
	}
	if resp, _, _ := f.samlFollow(c, u.String()); resp == "" {
		t.Fatal("correctly signed redirect request refused")
	}
	u, _ = sp.MakeRedirectAuthenticationRequest("")
	q := u.Query()
	q.Del("Signature")
	q.Del("SigAlg")
	unsigned := *u
	unsigned.RawQuery = q.Encode()
	if resp, _, r := f.samlFollow(c, unsigned.String()); resp != "" || r.StatusCode != 400 {
		t.Fatalf("unsigned request accepted: %d", r.StatusCode)
	}
	u, _ = sp.MakeRedirectAuthenticationRequest("")
	forged := strings.Replace(u.String(), "RelayState=", "RelayState=x", 1)
	if !strings.Contains(forged, "RelayState=x") {
		q := u.Query()
		q.Set("RelayState", "tampered")
		u.RawQuery = q.Encode()
		forged = u.String()
	}
	if resp, _, r := f.samlFollow(c, forged); resp != "" || r.StatusCode != 400 {
		t.Fatalf("tampered request accepted: %d", r.StatusCode)
	}
	if len(f.events(EventSAMLRefused)) < 2 {
		t.Fatal("refusals not audited")
	}
}

func TestSAMLReplayedRequestRefused(t *testing.T) {
	sp := testSP(t, false)
	f := samlFixture(t, sp, nil)
	c := f.loginAs("emma.martin")
	u, _ := sp.MakeRedirectAuthenticationRequest("")
	if resp, _, _ := f.samlFollow(c, u.String()); resp == "" {
		t.Fatal("first request refused")
	}
	if resp, _, r := f.samlFollow(c, u.String()); resp != "" || r.StatusCode != 400 {
		t.Fatalf("replayed request accepted: %d", r.StatusCode)
	}
}

func TestSAMLExpiredRequestRefused(t *testing.T) {
	sp := testSP(t, false)
	f := samlFixture(t, sp, nil)
	c := f.loginAs("emma.martin")
	u, _ := sp.MakeRedirectAuthenticationRequest("")
	f.clock.Advance(2 * time.Minute)
	if resp, _, r := f.samlFollow(c, u.String()); resp != "" || r.StatusCode != 400 {
		t.Fatalf("request issued 2 min ago accepted: %d", r.StatusCode)
	}
}

func TestSAMLACSNotInMetadataRefused(t *testing.T) {
	sp := testSP(t, false)
	f := samlFixture(t, sp, nil)
	c := f.loginAs("emma.martin")
	sp.AcsURL = *mustURL("https://evil.example.com/acs")
	u, _ := sp.MakeRedirectAuthenticationRequest("")
	if resp, _, r := f.samlFollow(c, u.String()); resp != "" || r.StatusCode != 400 {
		t.Fatalf("ACS outside the SP metadata accepted: %d", r.StatusCode)
	}
}

func TestSAMLUnknownSPRefused(t *testing.T) {
	sp := testSP(t, false)
	f := samlFixture(t, sp, nil)
	other := testSP(t, false)
	other.EntityID = "https://unknown.example.org/sp"
	other.IDPMetadata = sp.IDPMetadata
	u, _ := other.MakeRedirectAuthenticationRequest("")
	if resp, _, r := f.samlFollow(f.loginAs("emma.martin"), u.String()); resp != "" || r.StatusCode != 400 {
		t.Fatalf("unknown SP served: %d", r.StatusCode)
	}
}

func TestSAMLIdPInitiatedUnregisteredRelayStateRefused(t *testing.T) {
	sp := testSP(t, false)
	f := samlFixture(t, sp, func(s *Service) {
		s.SAML.IdPInitiated = true
		s.SAML.RelayStates = []string{`^https://sp\.example\.org/app/.*$`}
		s.Release = ReleasePolicy{Attributes: []AttributeRule{
			{Source: "const:ENT-45-TEST", Name: "idEnt", NameFormat: "basic"},
			{Source: "person.id", Name: "GARPersonIdentifiant", NameFormat: "basic"},
		}}
	})
	c := f.browser()
	entity := url.QueryEscape(sp.MetadataURL.String())
	resp, _, r := f.samlFollow(c, f.base+"/saml/idp/sso?providerId="+entity+"&RelayState="+url.QueryEscape("https://evil.example.com/"))
	if resp != "" || r.StatusCode != 400 {
		t.Fatalf("unregistered RelayState accepted: %d", r.StatusCode)
	}
	resp, relay, r := f.samlFollow(c, f.base+"/saml/idp/sso?providerId="+entity+"&RelayState="+url.QueryEscape("https://sp.example.org/app/ressources"))
	if resp == "" {
		t.Fatalf("IdP-initiated login: %d", r.StatusCode)
	}
	a, err := sp.ParseXMLResponse([]byte(resp), nil, *mustURL(spACS))
	if err != nil {
		t.Fatalf("SP refused the unsolicited response: %v", err)
	}
	got := attrMap(a)
	if relay != "https://sp.example.org/app/ressources" || got["idEnt"] != "ENT-45-TEST" || got["GARPersonIdentifiant"] != f.ids["eleve"] || len(got) != 2 {
		t.Fatalf("GAR-style assertion: relay %q attributes %v", relay, got)
	}
}

func TestSAMLPersistentNameIDIsPairwiseAndStable(t *testing.T) {
	sp := testSP(t, false)
	f := samlFixture(t, sp, func(s *Service) { s.SAML.NameIDFormat = "persistent" })
	var ids []string
	for i := 0; i < 2; i++ {
		u, _ := sp.MakeRedirectAuthenticationRequest("")
		resp, _, _ := f.samlFollow(f.browser(), u.String())
		a, err := sp.ParseXMLResponse([]byte(resp), []string{requestID(t, u)}, *mustURL(spACS))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.Subject.NameID.Value)
		if a.Subject.NameID.Format != nameIDPersistent {
			t.Fatalf("format %s", a.Subject.NameID.Format)
		}
	}
	if ids[0] != ids[1] || ids[0] == f.ids["eleve"] || strings.Contains(ids[0], "emma") {
		t.Fatalf("persistent NameIDs %v", ids)
	}
	if f.p.pairwise("saml:other", f.ids["eleve"]) == ids[0] {
		t.Fatal("pairwise id not specific to the SP")
	}
}

func TestSAMLForceAuthnAsksPasswordAgain(t *testing.T) {
	sp := testSP(t, false)
	f := samlFixture(t, sp, nil)
	c := f.loginAs("emma.martin")
	req, _ := sp.MakeAuthenticationRequest(f.base+"/saml/idp/sso", saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	yes := true
	req.ForceAuthn = &yes
	u, _ := req.Redirect("", sp)
	_, page := f.get(c, u.String())
	if !strings.Contains(page, `name="password"`) {
		t.Fatal("ForceAuthn with a session did not ask for the password")
	}
}

func TestSAMLSingleLogoutFromSP(t *testing.T) {
	sp := testSP(t, true)
	sp.SloURL = *mustURL("https://sp.example.org/saml/slo")
	sp.LogoutBindings = []string{saml.HTTPRedirectBinding}
	f := samlFixture(t, sp, nil)
	c := f.loginAs("emma.martin")
	u, err := sp.MakeRedirectLogoutRequest("someone", "")
	if err != nil {
		t.Fatal(err)
	}
	resp, page := f.get(c, u.String())
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, "https://sp.example.org/saml/slo?SAMLResponse=") || !strings.Contains(loc, "Signature=") {
		t.Fatalf("SLO: %d %s %s", resp.StatusCode, loc, page)
	}
	if err := sp.ValidateLogoutResponseRedirect(mustURL(loc).Query().Get("SAMLResponse")); err != nil {
		t.Logf("crewjam's SP check of the LogoutResponse: %v", err)
	}
	if f.cookie(c, "enthub_sso") != nil {
		t.Fatal("session survived SAML SLO")
	}
}

func TestSAMLSignResponseAndSHA1AreOptIn(t *testing.T) {
	sp := testSP(t, false)
	f := samlFixture(t, sp, func(s *Service) {
		s.SAML.SignResponse = true
		s.SAML.SignatureAlgorithm = "rsa-sha1"
	})
	u, _ := sp.MakeRedirectAuthenticationRequest("")
	resp, _, _ := f.samlFollow(f.browser(), u.String())
	if n := strings.Count(resp, "<ds:SignatureValue>"); n != 2 || !strings.Contains(resp, "rsa-sha1") {
		t.Fatalf("%d signatures, want response and assertion signed with RSA-SHA1", n)
	}
	if _, err := sp.ParseXMLResponse([]byte(resp), []string{requestID(t, u)}, *mustURL(spACS)); err != nil {
		t.Fatalf("SP refused: %v", err)
	}
}

func TestSAMLTamperedAssertionFailsSignature(t *testing.T) {
	sp := testSP(t, false)
	f := samlFixture(t, sp, nil)
	u, _ := sp.MakeRedirectAuthenticationRequest("")
	resp, _, _ := f.samlFollow(f.browser(), u.String())
	forged := strings.Replace(resp, ">Martin<", ">Dupont<", 1)
	if forged == resp {
		t.Fatal("attribute not found")
	}
	if _, err := sp.ParseXMLResponse([]byte(forged), []string{requestID(t, u)}, *mustURL(spACS)); err == nil {
		t.Fatal("a tampered assertion verified: the signature does not cover the attributes")
	}
}
