// Package simulate holds SIMULATED upstreams — a SAML identity provider
// that behaves like EduConnect (signed, encrypted assertions, FrEduCtRefId
// vectors) and an OpenID provider that behaves like Entra ID — for the
// tests and the demo. They sign and encrypt for real, with their own keys;
// they are not EduConnect or Entra ID and must never be configured as such
// in production.
package simulate

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"math/big"
	"time"

	"github.com/beevik/etree"
	csaml "github.com/crewjam/saml"
	"github.com/crewjam/saml/xmlenc"
	dsig "github.com/russellhaering/goxmldsig"
)

// KeyPair makes an RSA-2048 key and a self-signed certificate for name.
func KeyPair(name string) (*rsa.PrivateKey, *x509.Certificate, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return key, cert, err
}

// SAMLIdP is a simulated SAML identity provider.
type SAMLIdP struct {
	EntityID string
	SSOURL   string // its SSO endpoint (Redirect and POST)
	SLOURL   string
	Key      *rsa.PrivateKey
	Cert     *x509.Certificate
	// MetadataValidUntil and MetadataCacheDuration go into Metadata.
	MetadataValidUntil    time.Time
	MetadataCacheDuration time.Duration
}

// Metadata is the IdP's metadata.
func (p *SAMLIdP) Metadata() []byte {
	ed := csaml.EntityDescriptor{EntityID: p.EntityID, ValidUntil: p.MetadataValidUntil, CacheDuration: p.MetadataCacheDuration}
	ed.IDPSSODescriptors = []csaml.IDPSSODescriptor{{
		SSODescriptor: csaml.SSODescriptor{
			RoleDescriptor: csaml.RoleDescriptor{
				ProtocolSupportEnumeration: "urn:oasis:names:tc:SAML:2.0:protocol",
				KeyDescriptors: []csaml.KeyDescriptor{{Use: "signing", KeyInfo: csaml.KeyInfo{X509Data: csaml.X509Data{
					X509Certificates: []csaml.X509Certificate{{Data: base64.StdEncoding.EncodeToString(p.Cert.Raw)}}}}}},
			},
		},
		SingleSignOnServices: []csaml.Endpoint{
			{Binding: csaml.HTTPRedirectBinding, Location: p.SSOURL},
			{Binding: csaml.HTTPPostBinding, Location: p.SSOURL},
		},
	}}
	if p.SLOURL != "" {
		ed.IDPSSODescriptors[0].SingleLogoutServices = []csaml.Endpoint{{Binding: csaml.HTTPRedirectBinding, Location: p.SLOURL}}
	}
	b, _ := xml.MarshalIndent(ed, "", "  ")
	return b
}

// Attr is one attribute of an assertion.
type Attr struct {
	Name, FriendlyName string
	Values             []string
}

// Response describes one Response to build. Zero values give a valid,
// signed (assertion) response for RequestID.
type Response struct {
	RequestID   string // InResponseTo ("" = unsolicited)
	ACS         string // Destination and Recipient
	Audience    string // our SP entityID
	NameID      string
	Attributes  []Attr
	Now         time.Time
	AssertionID string // default: random
	ResponseID  string
	SessionIdx  string
	// Validity of the assertion (default 5 minutes).
	Lifetime time.Duration

	SignResponse  bool
	NoSignAssert  bool   // do not sign the assertion
	SignAlgorithm string // default RSA-SHA256
	Digest        string // default SHA-256
	// SignWith signs with another key than the IdP's (an attacker's).
	SignWith *rsa.PrivateKey
	SignCert *x509.Certificate

	// EncryptTo encrypts the (signed) assertion to this certificate.
	EncryptTo   *x509.Certificate
	RSA15       bool               // RSA PKCS#1 v1.5 key transport instead of OAEP
	BlockCipher xmlenc.BlockCipher // default AES-256-CBC

	// EditAssertion and EditResponse change the elements after signing (an
	// attacker's tampering); EditAssertionBeforeSign before it.
	EditAssertionBeforeSign func(a *etree.Element)
	EditAssertion           func(a *etree.Element)
	EditResponse            func(r *etree.Element)
}

// Build returns the Response XML.
func (p *SAMLIdP) Build(o Response) ([]byte, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	now := o.Now.UTC().Truncate(time.Millisecond)
	if o.Lifetime == 0 {
		o.Lifetime = 5 * time.Minute
	}
	if o.AssertionID == "" {
		o.AssertionID = randomID()
	}
	if o.ResponseID == "" {
		o.ResponseID = randomID()
	}
	if o.SessionIdx == "" {
		o.SessionIdx = randomID()
	}
	a := csaml.Assertion{
		ID: o.AssertionID, IssueInstant: now, Version: "2.0",
		Issuer: csaml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: p.EntityID},
		Subject: &csaml.Subject{
			NameID: &csaml.NameID{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:transient", Value: o.NameID, NameQualifier: p.EntityID, SPNameQualifier: o.Audience},
			SubjectConfirmations: []csaml.SubjectConfirmation{{Method: "urn:oasis:names:tc:SAML:2.0:cm:bearer",
				SubjectConfirmationData: &csaml.SubjectConfirmationData{InResponseTo: o.RequestID, NotOnOrAfter: now.Add(o.Lifetime), Recipient: o.ACS}}},
		},
		Conditions: &csaml.Conditions{NotBefore: now.Add(-30 * time.Second), NotOnOrAfter: now.Add(o.Lifetime),
			AudienceRestrictions: []csaml.AudienceRestriction{{Audience: csaml.Audience{Value: o.Audience}}}},
		AuthnStatements: []csaml.AuthnStatement{{AuthnInstant: now, SessionIndex: o.SessionIdx,
			AuthnContext: csaml.AuthnContext{AuthnContextClassRef: &csaml.AuthnContextClassRef{Value: "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"}}}},
	}
	var st csaml.AttributeStatement
	for _, at := range o.Attributes {
		x := csaml.Attribute{Name: at.Name, FriendlyName: at.FriendlyName, NameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"}
		for _, v := range at.Values {
			x.Values = append(x.Values, csaml.AttributeValue{Type: "xs:string", Value: v})
		}
		st.Attributes = append(st.Attributes, x)
	}
	if len(st.Attributes) > 0 {
		a.AttributeStatements = []csaml.AttributeStatement{st}
	}
	aEl := a.Element()
	if o.EditAssertionBeforeSign != nil {
		o.EditAssertionBeforeSign(aEl)
	}
	var err error
	if !o.NoSignAssert {
		if aEl, err = p.sign(aEl, o); err != nil {
			return nil, err
		}
	}
	if o.EditAssertion != nil {
		o.EditAssertion(aEl)
	}
	resp := csaml.Response{ID: o.ResponseID, InResponseTo: o.RequestID, Version: "2.0", IssueInstant: now, Destination: o.ACS,
		Issuer: &csaml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: p.EntityID},
		Status: csaml.Status{StatusCode: csaml.StatusCode{Value: csaml.StatusSuccess}}}
	rEl := resp.Element()
	if o.EncryptTo != nil {
		enc, err := encrypt(aEl, o)
		if err != nil {
			return nil, err
		}
		rEl.AddChild(enc)
	} else {
		rEl.AddChild(aEl)
	}
	if o.SignResponse {
		if rEl, err = p.sign(rEl, o); err != nil {
			return nil, err
		}
	}
	if o.EditResponse != nil {
		o.EditResponse(rEl)
	}
	doc := etree.NewDocument()
	doc.SetRoot(rEl)
	return doc.WriteToBytes()
}

// sign adds an enveloped signature to el, placed after its Issuer as the
// schema wants.
func (p *SAMLIdP) sign(el *etree.Element, o Response) (*etree.Element, error) {
	key, cert := p.Key, p.Cert
	if o.SignWith != nil {
		key, cert = o.SignWith, o.SignCert
	}
	ctx := dsig.NewDefaultSigningContext(dsig.TLSCertKeyStore(tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key}))
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if o.SignAlgorithm != "" {
		if err := ctx.SetSignatureMethod(o.SignAlgorithm); err != nil {
			return nil, err
		}
	}
	if o.Digest == "sha1" {
		ctx.Hash = crypto.SHA1
	}
	sig, err := ctx.ConstructSignature(el, true)
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", el.Tag, err)
	}
	signed := el.Copy()
	signed.InsertChildAt(1, sig) // after Issuer
	return signed, nil
}

func encrypt(aEl *etree.Element, o Response) (*etree.Element, error) {
	doc := etree.NewDocument()
	doc.SetRoot(aEl.Copy())
	plain, err := doc.WriteToBytes()
	if err != nil {
		return nil, err
	}
	e := xmlenc.OAEP()
	if o.RSA15 {
		e = xmlenc.PKCS1v15()
	}
	e.BlockCipher = xmlenc.AES256CBC
	if o.BlockCipher != nil {
		e.BlockCipher = o.BlockCipher
	}
	data, err := e.Encrypt(o.EncryptTo, plain, nil)
	if err != nil {
		return nil, fmt.Errorf("encrypt assertion: %w", err)
	}
	data.CreateAttr("Type", "http://www.w3.org/2001/04/xmlenc#Element")
	ea := etree.NewElement("saml:EncryptedAssertion")
	ea.CreateAttr("xmlns:saml", "urn:oasis:names:tc:SAML:2.0:assertion")
	ea.AddChild(data)
	return ea, nil
}

func randomID() string {
	var b [20]byte
	rand.Read(b[:])
	return fmt.Sprintf("_%x", b)
}
