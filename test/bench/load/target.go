package load

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/crewjam/saml"
)

// The relying parties of the bench. Their addresses are never contacted:
// the virtual user stops when enthub sends it there and validates what it
// carries, as the relying party's back end would.
const (
	CASService   = "http://cas.bench.invalid/app/"
	OIDCClientID = "bench-oidc"
	OIDCSecret   = "bench-oidc-secret"
	OIDCRedirect = "http://oidc.bench.invalid/cb"
	SAMLEntityID = "http://saml.bench.invalid/metadata"
	SAMLACS      = "http://saml.bench.invalid/acs"
)

// Target is the enthub under load and the relying parties registered in
// it (see ServicesYAML).
type Target struct {
	URL      string // enthub's public URL, http://127.0.0.1:PORT
	Password string // every bench account's password
	// VerifySAML checks each SAML response as the SP would (signature,
	// audience, destination, InResponseTo, validity) rather than only its
	// status and subject: client CPU taken from the server on a shared
	// machine, so off in the full bench and on in the short test.
	VerifySAML bool
	// LoginField is the name of the login form's user field ("login",
	// enthub's; LemonLDAP::NG's is "user").
	LoginField string

	host                       string
	sp                         *saml.ServiceProvider
	authorize, token, userinfo string
	samlSSO                    string
}

// NewCASTarget is a target used for CAS only (CASJourney): any CAS
// server with /cas/login and /cas/serviceValidate under baseURL.
func NewCASTarget(baseURL, password string) (*Target, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("URL %q: not an absolute URL", baseURL)
	}
	return &Target{URL: strings.TrimSuffix(baseURL, "/"), Password: password, host: u.Host}, nil
}

// NewTarget reads enthub's OIDC discovery and SAML metadata.
func NewTarget(ctx context.Context, baseURL, password string) (*Target, error) {
	t, err := NewCASTarget(baseURL, password)
	if err != nil {
		return nil, err
	}
	if t.sp, err = NewSAMLSP(); err != nil {
		return nil, err
	}
	c := &http.Client{Timeout: 30 * time.Second}
	var disc struct {
		Authorization string `json:"authorization_endpoint"`
		Token         string `json:"token_endpoint"`
		Userinfo      string `json:"userinfo_endpoint"`
	}
	if err := getInto(ctx, c, t.URL+"/.well-known/openid-configuration", func(b []byte) error { return json.Unmarshal(b, &disc) }); err != nil {
		return nil, err
	}
	if disc.Authorization == "" || disc.Token == "" || disc.Userinfo == "" {
		return nil, fmt.Errorf("%s/.well-known/openid-configuration: endpoints missing: %+v", t.URL, disc)
	}
	t.authorize, t.token, t.userinfo = disc.Authorization, disc.Token, disc.Userinfo
	md := &saml.EntityDescriptor{}
	if err := getInto(ctx, c, t.URL+"/saml/idp/metadata", func(b []byte) error { return xml.Unmarshal(b, md) }); err != nil {
		return nil, err
	}
	t.sp.IDPMetadata = md
	if t.samlSSO = t.sp.GetSSOBindingLocation(saml.HTTPRedirectBinding); t.samlSSO == "" {
		return nil, fmt.Errorf("%s/saml/idp/metadata: no HTTP-Redirect SingleSignOnService", t.URL)
	}
	return t, nil
}

func getInto(ctx context.Context, c *http.Client, u string, decode func([]byte) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	buf, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	if err := decode(buf); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

// NewSAMLSP is the bench's SAML service provider, with a fresh key: its
// requests are not signed and its assertions not encrypted, so a metadata
// registered with another key (ServicesYAML's) serves as well.
func NewSAMLSP() (*saml.ServiceProvider, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "enthub bench SP"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(10, 0, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	md, _ := url.Parse(SAMLEntityID)
	acs, _ := url.Parse(SAMLACS)
	return &saml.ServiceProvider{Key: key, Certificate: cert, MetadataURL: *md, AcsURL: *acs}, nil
}

// ServicesYAML is an sso.services_file registering the bench's three
// relying parties, each releasing the login as its principal and a few
// attributes as a school application would.
func ServicesYAML() (string, error) {
	sp, err := NewSAMLSP()
	if err != nil {
		return "", err
	}
	md, err := xml.Marshal(sp.Metadata())
	if err != nil {
		return "", err
	}
	release := `
  release:
    principal: account.login
    attributes:
      - {source: person.last_name, name: nom}
      - {source: person.first_name, name: prenom}
      - {source: persona.profile, name: profil}
      - {source: persona.uai, name: uai}`
	return `# relying parties of the enthub load bench (test/bench/load)
- id: bench-cas
  name: Bench CAS
  protocol: cas` + release + `
  cas:
    service_patterns: ['^http://cas\.bench\.invalid/.*$']
- id: bench-oidc
  name: Bench OIDC
  protocol: oidc` + release + `
  oidc:
    client_id: ` + OIDCClientID + `
    client_secret: ` + OIDCSecret + `
    redirect_uris: [` + OIDCRedirect + `]
- id: bench-saml
  name: Bench SAML
  protocol: saml` + release + `
  saml:
    entity_id: ` + SAMLEntityID + `
    name_id_format: attribute
    metadata_xml: '` + strings.ReplaceAll(string(md), "'", "''") + `'
`, nil
}
