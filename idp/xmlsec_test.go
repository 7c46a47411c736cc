package idp

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enthub/enthub/test/peer"
)

// TestSAMLAssertionSignatureVerifiesWithXmlsec1 checks the signature
// enthub puts on assertions with an independent implementation (xmlsec1,
// libxml2 + OpenSSL), and that it refuses a modified copy.
func TestSAMLAssertionSignatureVerifiesWithXmlsec1(t *testing.T) {
	xmlsec := peer.RequireBinary(t, "xmlsec1")
	sp := testSP(t, false)
	f := samlFixture(t, sp, nil)
	u, _ := sp.MakeRedirectAuthenticationRequest("")
	resp, _, _ := f.samlFollow(f.browser(), u.String())
	if resp == "" {
		t.Fatal("no response")
	}
	dir := t.TempDir()
	cert := filepath.Join(dir, "idp.crt")
	os.WriteFile(cert, f.p.CertificatePEM(), 0o644)
	good := filepath.Join(dir, "good.xml")
	bad := filepath.Join(dir, "bad.xml")
	os.WriteFile(good, []byte(resp), 0o644)
	os.WriteFile(bad, []byte(strings.Replace(resp, ">Emma<", ">Emmy<", 1)), 0o644)
	verify := func(path string) ([]byte, error) {
		return exec.Command(xmlsec, "--verify", "--pubkey-cert-pem", cert,
			"--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion", path).CombinedOutput()
	}
	if out, err := verify(good); err != nil {
		t.Fatalf("xmlsec1 refuses enthub's signature: %v\n%s", err, out)
	}
	if out, err := verify(bad); err == nil {
		t.Fatalf("xmlsec1 accepts a modified assertion:\n%s", out)
	}
}

func TestSAMLEncryptedAssertionWhenConfigured(t *testing.T) {
	sp := testSP(t, false)
	f := samlFixture(t, sp, func(s *Service) { s.SAML.EncryptAssertions = true })
	u, _ := sp.MakeRedirectAuthenticationRequest("")
	resp, _, _ := f.samlFollow(f.browser(), u.String())
	if !strings.Contains(resp, "EncryptedAssertion") || strings.Contains(resp, ">Martin<") {
		t.Fatal("assertion not encrypted to the SP")
	}
	a, err := sp.ParseXMLResponse([]byte(resp), []string{requestID(t, u)}, *mustURL(spACS))
	if err != nil {
		t.Fatalf("SP cannot decrypt: %v", err)
	}
	if attrMap(a)["urn:oid:2.5.4.4"] != "Martin" {
		t.Fatalf("decrypted attributes: %v", attrMap(a))
	}
	// Without the option, no encryption even though the SP has a key.
	sp2 := testSP(t, false)
	f2 := samlFixture(t, sp2, nil)
	u, _ = sp2.MakeRedirectAuthenticationRequest("")
	if resp, _, _ := f2.samlFollow(f2.browser(), u.String()); strings.Contains(resp, "EncryptedAssertion") {
		t.Fatal("assertion encrypted without EncryptAssertions")
	}
}
