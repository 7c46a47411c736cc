// Package saml is the SAML 2.0 service-provider connector: EduConnect and the
// academic agents portal are SAML identity providers, each configured as
// one Connector.
//
// It uses github.com/crewjam/saml for the message types, the AuthnRequest
// and the XML encryption, and github.com/russellhaering/goxmldsig for
// signatures, but checks a Response itself rather than through
// crewjam's ServiceProvider.ParseResponse, because in v0.5.1 that function:
//   - reads the clock and the skew from package globals (saml.TimeNow,
//     MaxClockSkew, MaxIssueDelay), so neither can be injected or set per
//     connector;
//   - verifies a signature and then reads the element it was given, not the
//     one goxmldsig returns as verified;
//   - accepts several assertions and returns the first valid one;
//   - with AllowIDPInitiated set, skips InResponseTo entirely, also for a
//     response that names a request;
//   - decrypts with RSA 1.5 key transport and accepts SHA-1 signatures
//     unconditionally, and has no replay cache.
//
// Here, only the element goxmldsig verified is read; a Response carries
// exactly one assertion; every check has a refusal reason (see Connector
// .verify) and a test.
package saml

import (
	"crypto"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Config is one SAML upstream. Field names are the YAML keys.
type Config struct {
	// ID names the connector (unique; it appears in URLs and audit events).
	ID string `yaml:"id"`
	// EntityID is our SP entityID towards this IdP (EduConnect registers
	// ENTs under the URL of their metadata or a urn:fi:ent:… name).
	EntityID string `yaml:"entity_id"`
	// ACSURL is where the IdP posts its Response (our callback).
	ACSURL string `yaml:"acs_url"`
	// SLOURL is our single-logout endpoint, published in our metadata.
	SLOURL string `yaml:"slo_url"`

	// IdPMetadataFile or IdPMetadataURL gives the IdP's metadata (one of
	// them); IdPMetadata is the same already in memory (tests, demo).
	IdPMetadataFile string `yaml:"idp_metadata_file"`
	IdPMetadataURL  string `yaml:"idp_metadata_url"`
	IdPMetadata     []byte `yaml:"-"`
	// IdPEntityID picks the IdP in an aggregate (EntitiesDescriptor).
	IdPEntityID string `yaml:"idp_entity_id"`
	// MetadataSigningCertFile, when set, makes a signature on the metadata
	// mandatory and checked against this certificate (PEM).
	MetadataSigningCertFile string            `yaml:"metadata_signing_cert_file"`
	MetadataSigningCert     *x509.Certificate `yaml:"-"`
	// MetadataRefresh bounds how long fetched metadata is used before being
	// fetched again, whatever its cacheDuration says (default 24h).
	MetadataRefresh time.Duration `yaml:"metadata_refresh"`

	// SigningKeys sign our AuthnRequests (the first one) and are all
	// published in our metadata, so that a new key can be published before
	// it is used (rotation with overlap).
	SigningKeys []KeyPair `yaml:"signing_keys"`
	// EncryptionKeys are published for the IdP to encrypt assertions to;
	// all are tried to decrypt, so a retired key keeps working during the
	// overlap.
	EncryptionKeys []KeyPair `yaml:"encryption_keys"`

	// Binding sends the AuthnRequest with "redirect" (default) or "post".
	Binding string `yaml:"binding"`
	// SignatureAlgorithm signs our requests: "rsa-sha256" (default) or
	// "rsa-sha1" for an IdP that needs it.
	SignatureAlgorithm string `yaml:"signature_algorithm"`
	// AllowSHA1 accepts SHA-1 signatures and digests from the IdP. Off by
	// default: SHA-1 collisions are practical.
	AllowSHA1 bool `yaml:"allow_sha1"`
	// AllowRSA15 accepts RSA PKCS#1 v1.5 key transport in encrypted
	// assertions. Off by default: it is open to Bleichenbacher-style
	// padding-oracle attacks.
	AllowRSA15 bool `yaml:"allow_rsa1_5"`
	// RequireEncryption refuses plaintext assertions.
	RequireEncryption bool `yaml:"require_encryption"`
	// RequireSignedAssertion refuses a Response whose assertion itself is
	// not signed (a signed Response is otherwise enough).
	RequireSignedAssertion bool `yaml:"require_signed_assertion"`

	// ClockSkew is the tolerance on every time check (default 3 minutes).
	ClockSkew time.Duration `yaml:"clock_skew"`
	// MaxAge refuses a Response issued longer ago (default 10 minutes, as
	// pass Culture does for EduConnect).
	MaxAge time.Duration `yaml:"max_age"`
	// AllowIdPInitiated accepts unsolicited responses (no AuthnRequest),
	// which then go to DefaultNext.
	AllowIdPInitiated bool   `yaml:"allow_idp_initiated"`
	DefaultNext       string `yaml:"default_next"`

	// SubjectAttribute is the attribute used as the identity's subject
	// instead of the NameID (EduConnect's NameID is transient; FrEduCtId is
	// its stable opaque id).
	SubjectAttribute string `yaml:"subject_attribute"`
	// Attributes maps attribute Names (OIDs) to the names the linking rules
	// use. An attribute not listed is known by its FriendlyName, else its
	// Name; a listed one is found by Name or by FriendlyName.
	Attributes map[string]string `yaml:"attributes"`
	// NameIDFormat requested (default transient).
	NameIDFormat string `yaml:"name_id_format"`
	// AuthnContextClassRef requested, exact, when set.
	AuthnContextClassRef string `yaml:"authn_context_class_ref"`
	// LogoutURLAttribute is an attribute carrying a front-channel logout
	// URL (EduConnect's FrEduUrlRetour).
	LogoutURLAttribute string `yaml:"logout_url_attribute"`
	// Logout chooses how StartLogout ends the session at the IdP: "saml"
	// (a signed LogoutRequest to the IdP's Redirect SingleLogoutService),
	// "url" (the browser is sent to the front-channel URL of
	// LogoutURLAttribute, EduConnect's FrEduUrlRetour, with no answer), or
	// "" (default): saml when the IdP publishes an SLO endpoint, else url.
	// recia-cas reports that the académies' portals do not all handle
	// LogoutRequest well: "url" is for them.
	Logout string `yaml:"logout"`
	// LogoutURLReturnParam, when set, adds where to come back to the
	// front-channel logout URL under this query parameter (Shibboleth's
	// Logout handler takes "return"; it must be allowed by the IdP).
	LogoutURLReturnParam string `yaml:"logout_url_return_param"`
	// RequireBrowserBinding refuses a callback without the cookie set by
	// Start (needs HTTPS: the POST binding is a cross-site POST).
	RequireBrowserBinding bool `yaml:"require_browser_binding"`
}

// KeyPair is a private key and its certificate, from PEM files or in memory.
type KeyPair struct {
	KeyFile  string            `yaml:"key_file"`
	CertFile string            `yaml:"cert_file"`
	Key      *rsa.PrivateKey   `yaml:"-"`
	Cert     *x509.Certificate `yaml:"-"`
}

func (k *KeyPair) load() error {
	if k.Key != nil && k.Cert != nil {
		return nil
	}
	pair, err := tls.LoadX509KeyPair(k.CertFile, k.KeyFile)
	if err != nil {
		return fmt.Errorf("key_file %q / cert_file %q: %w", k.KeyFile, k.CertFile, err)
	}
	rk, ok := pair.PrivateKey.(*rsa.PrivateKey)
	if !ok {
		return fmt.Errorf("key_file %q: not an RSA key (XML encryption and the IdPs need RSA)", k.KeyFile)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return fmt.Errorf("cert_file %q: %w", k.CertFile, err)
	}
	k.Key, k.Cert = rk, cert
	return nil
}

func (k KeyPair) signer() crypto.Signer { return k.Key }

func (c *Config) defaults() {
	if c.Binding == "" {
		c.Binding = "redirect"
	}
	if c.SignatureAlgorithm == "" {
		c.SignatureAlgorithm = "rsa-sha256"
	}
	if c.ClockSkew == 0 {
		c.ClockSkew = 3 * time.Minute
	}
	if c.MaxAge == 0 {
		c.MaxAge = 10 * time.Minute
	}
	if c.MetadataRefresh == 0 {
		c.MetadataRefresh = 24 * time.Hour
	}
	if c.NameIDFormat == "" {
		c.NameIDFormat = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
	}
}

// Validate checks the configuration, each problem naming its field.
func (c *Config) Validate() error {
	c.defaults()
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("connector %q: %s: %s", c.ID, field, fmt.Sprintf(format, args...)))
	}
	if c.ID == "" {
		bad("id", "missing")
	}
	if c.EntityID == "" {
		bad("entity_id", "missing")
	}
	for field, v := range map[string]string{"acs_url": c.ACSURL, "slo_url": c.SLOURL, "idp_metadata_url": c.IdPMetadataURL} {
		if v == "" {
			if field == "acs_url" {
				bad(field, "missing")
			}
			continue
		}
		if u, err := url.Parse(v); err != nil || !u.IsAbs() || u.Host == "" {
			bad(field, "%q is not an absolute URL", v)
		}
	}
	n := 0
	for _, set := range []bool{c.IdPMetadataFile != "", c.IdPMetadataURL != "", len(c.IdPMetadata) > 0} {
		if set {
			n++
		}
	}
	if n != 1 {
		bad("idp_metadata_file", "exactly one of idp_metadata_file and idp_metadata_url is needed (%d given)", n)
	}
	if len(c.SigningKeys) == 0 {
		bad("signing_keys", "at least one key is needed (requests are signed)")
	}
	for i := range c.SigningKeys {
		if err := c.SigningKeys[i].load(); err != nil {
			bad(fmt.Sprintf("signing_keys[%d]", i), "%v", err)
		}
	}
	for i := range c.EncryptionKeys {
		if err := c.EncryptionKeys[i].load(); err != nil {
			bad(fmt.Sprintf("encryption_keys[%d]", i), "%v", err)
		}
	}
	if c.RequireEncryption && len(c.EncryptionKeys) == 0 {
		bad("require_encryption", "needs encryption_keys")
	}
	if c.Binding != "redirect" && c.Binding != "post" {
		bad("binding", "%q is not redirect or post", c.Binding)
	}
	if c.Logout != "" && c.Logout != "saml" && c.Logout != "url" {
		bad("logout", "%q is not saml or url", c.Logout)
	}
	if c.Logout == "url" && c.LogoutURLAttribute == "" {
		bad("logout", "url needs logout_url_attribute (the attribute carrying the URL)")
	}
	if _, ok := signatureMethods[c.SignatureAlgorithm]; !ok {
		bad("signature_algorithm", "%q is not rsa-sha256 or rsa-sha1", c.SignatureAlgorithm)
	}
	if c.SignatureAlgorithm == "rsa-sha1" && !c.AllowSHA1 {
		bad("signature_algorithm", "rsa-sha1 needs allow_sha1: true")
	}
	if c.ClockSkew < 0 || c.ClockSkew > 15*time.Minute {
		bad("clock_skew", "%s is outside 0–15m", c.ClockSkew)
	}
	if c.MaxAge < 0 {
		bad("max_age", "%s is negative", c.MaxAge)
	}
	if c.AllowIdPInitiated && c.DefaultNext == "" {
		bad("default_next", "needed with allow_idp_initiated (where an unsolicited login lands)")
	}
	return errors.Join(errs...)
}
