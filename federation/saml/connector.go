package saml

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	csaml "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/enthub/enthub/federation"
)

// Deps are what a connector is given (see federation.Deps).
type Deps = federation.Deps

// Connector is a SAML service provider towards one IdP.
type Connector struct {
	cfg     Config
	deps    Deps
	states  federation.States
	idp     atomic.Pointer[idp]
	refresh sync.Mutex
}

var _ federation.Connector = (*Connector)(nil)

var signatureMethods = map[string]string{
	"rsa-sha256": dsig.RSASHA256SignatureMethod,
	"rsa-sha1":   dsig.RSASHA1SignatureMethod,
}

// New validates cfg and loads the IdP metadata: a connector whose metadata
// cannot be read is refused at start rather than at the first login.
func New(ctx context.Context, cfg Config, deps Deps) (*Connector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MetadataSigningCertFile != "" && cfg.MetadataSigningCert == nil {
		cert, err := loadCertPEM(cfg.MetadataSigningCertFile)
		if err != nil {
			return nil, fmt.Errorf("connector %q: metadata_signing_cert_file: %w", cfg.ID, err)
		}
		cfg.MetadataSigningCert = cert
	}
	deps = deps.WithDefaults()
	c := &Connector{cfg: cfg, deps: deps, states: federation.States{Store: deps.Store, Now: deps.Now, Rand: deps.Rand}}
	if _, err := c.metadata(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// ID is the connector's id.
func (c *Connector) ID() string { return c.cfg.ID }

// sp is the crewjam service provider used to build and sign requests and
// our metadata (never to check responses, see the package comment).
func (c *Connector) sp(md *idp) *csaml.ServiceProvider {
	acs, _ := url.Parse(c.cfg.ACSURL)
	sp := &csaml.ServiceProvider{
		EntityID:          c.cfg.EntityID,
		Key:               c.cfg.SigningKeys[0].signer(),
		Certificate:       c.cfg.SigningKeys[0].Cert,
		AcsURL:            *acs,
		SignatureMethod:   signatureMethods[c.cfg.SignatureAlgorithm],
		AuthnNameIDFormat: csaml.NameIDFormat(c.cfg.NameIDFormat),
	}
	if slo, err := url.Parse(c.cfg.SLOURL); err == nil && c.cfg.SLOURL != "" {
		sp.SloURL = *slo
		sp.LogoutBindings = []string{csaml.HTTPRedirectBinding}
	}
	if md != nil {
		sp.IDPMetadata = &csaml.EntityDescriptor{EntityID: md.entityID}
	}
	return sp
}

// pending is what Start remembers of a login.
type pending struct {
	RequestID string `json:"request_id"`
	Next      string `json:"next"`
}

// Start sends the browser to the IdP with a signed AuthnRequest.
func (c *Connector) Start(ctx context.Context, w http.ResponseWriter, r *http.Request, next string) error {
	md, err := c.metadata(ctx)
	if err != nil {
		return federation.Refuse(c.cfg.ID, federation.ReasonUnavailable, err)
	}
	var idb [20]byte
	if _, err := io.ReadFull(c.deps.Rand, idb[:]); err != nil {
		return err
	}
	reqID := "id-" + hex.EncodeToString(idb[:])
	state, err := c.states.Begin(ctx, c.cfg.ID, pending{RequestID: reqID, Next: next})
	if err != nil {
		return err
	}
	federation.Bind(w, c.cfg.ID, state, r.TLS != nil || strings.HasPrefix(c.cfg.ACSURL, "https:"))
	binding, dest := csaml.HTTPRedirectBinding, md.ssoRedirect
	if (c.cfg.Binding == "post" && md.ssoPost != "") || dest == "" {
		binding, dest = csaml.HTTPPostBinding, md.ssoPost
	}
	allowCreate := true
	format := c.cfg.NameIDFormat
	req := &csaml.AuthnRequest{
		ID: reqID, Version: "2.0", IssueInstant: c.deps.Now().UTC(),
		Destination:                 dest,
		AssertionConsumerServiceURL: c.cfg.ACSURL,
		ProtocolBinding:             csaml.HTTPPostBinding,
		Issuer:                      &csaml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: c.cfg.EntityID},
		NameIDPolicy:                &csaml.NameIDPolicy{AllowCreate: &allowCreate, Format: &format},
	}
	if c.cfg.AuthnContextClassRef != "" {
		req.RequestedAuthnContext = &csaml.RequestedAuthnContext{Comparison: "exact", AuthnContextClassRef: c.cfg.AuthnContextClassRef}
	}
	if binding == csaml.HTTPRedirectBinding {
		// Signed over SAMLRequest, RelayState and SigAlg as the Redirect
		// binding requires, by the encoder single logout uses too.
		// crewjam's AuthnRequest.Redirect built a new DEFLATE compressor
		// (level 9: about 750 KB of tables) per login, a third of a
		// brokered login's allocations; redirectURL reuses them.
		u, err := c.redirectURL(dest, "SAMLRequest", req.Element(), state)
		if err != nil {
			return fmt.Errorf("connector %s: AuthnRequest: %w", c.cfg.ID, err)
		}
		http.Redirect(w, r, u, http.StatusFound)
		return nil
	}
	sp := c.sp(md)
	if err := sp.SignAuthnRequest(req); err != nil {
		return fmt.Errorf("connector %s: sign AuthnRequest: %w", c.cfg.ID, err)
	}
	raw, err := elementBytes(req.Element())
	if err != nil {
		return err
	}
	return postForm(w, dest, map[string]string{"SAMLRequest": base64.StdEncoding.EncodeToString(raw), "RelayState": state})
}

var postTemplate = template.Must(template.New("post").Parse(`<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>Connexion…</title></head>
<body onload="document.forms[0].submit()">
<form method="post" action="{{.Action}}">
{{range $k, $v := .Fields}}<input type="hidden" name="{{$k}}" value="{{$v}}">
{{end}}<noscript><button type="submit">Continuer / Continue</button></noscript>
</form></body></html>`))

// postForm answers with a form that posts fields to action (the POST
// binding); it is also what the simulated IdP uses.
func postForm(w http.ResponseWriter, action string, fields map[string]string) error {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	return postTemplate.Execute(w, struct {
		Action string
		Fields map[string]string
	}{action, fields})
}

// PostForm writes an auto-submitted form posting fields to action.
func PostForm(w http.ResponseWriter, action string, fields map[string]string) error {
	return postForm(w, action, fields)
}

// Callback checks the IdP's Response posted to the ACS.
func (c *Connector) Callback(ctx context.Context, r *http.Request) (federation.Identity, string, error) {
	fail := func(reason federation.Reason, format string, args ...any) (federation.Identity, string, error) {
		return federation.Identity{}, "", federation.Refusef(c.cfg.ID, reason, format, args...)
	}
	if r.Method != http.MethodPost {
		return fail(federation.ReasonMalformed, "the Response must be posted (HTTP-POST binding), got %s", r.Method)
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		return fail(federation.ReasonMalformed, "form: %v", err)
	}
	raw, err := base64.StdEncoding.DecodeString(r.PostForm.Get("SAMLResponse"))
	if err != nil || len(raw) == 0 {
		return fail(federation.ReasonMalformed, "SAMLResponse: missing or not base64")
	}
	md, err := c.metadata(ctx)
	if err != nil {
		return federation.Identity{}, "", federation.Refuse(c.cfg.ID, federation.ReasonUnavailable, err)
	}
	relay := r.PostForm.Get("RelayState")
	var p pending
	solicited := false
	if relay != "" {
		err := c.states.Take(ctx, c.cfg.ID, relay, &p)
		switch {
		case err == nil:
			solicited = true
			if err := federation.CheckBinding(r, c.cfg.ID, relay, c.cfg.RequireBrowserBinding); err != nil {
				return federation.Identity{}, "", err
			}
		case federation.ReasonOf(err) != federation.ReasonState || !c.cfg.AllowIdPInitiated:
			return federation.Identity{}, "", err
		}
		// An IdP-initiated login may carry a RelayState of its own (a
		// target); it is not ours and is ignored.
	}
	if !solicited {
		p = pending{Next: c.cfg.DefaultNext}
	}
	a, err := c.verify(ctx, md, raw, p.RequestID)
	if err != nil {
		return federation.Identity{}, "", err
	}
	id, err := c.identity(md, a)
	if err != nil {
		return federation.Identity{}, "", err
	}
	return id, p.Next, nil
}

// identity turns a verified assertion into the upstream identity.
func (c *Connector) identity(md *idp, a *csaml.Assertion) (federation.Identity, error) {
	id := federation.Identity{Connector: c.cfg.ID, Issuer: md.entityID, Attributes: map[string][]string{}}
	byName := map[string]string{}
	for name, canon := range c.cfg.Attributes {
		byName[name] = canon
	}
	canonical := map[string]bool{}
	for _, canon := range c.cfg.Attributes {
		canonical[canon] = true
	}
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			key := byName[at.Name]
			switch {
			case key != "":
			case canonical[at.FriendlyName]:
				key = at.FriendlyName
			case at.FriendlyName != "":
				key = at.FriendlyName
			default:
				key = at.Name
			}
			for _, v := range at.Values {
				id.Attributes[key] = append(id.Attributes[key], strings.TrimSpace(v.Value))
			}
		}
	}
	if a.Subject != nil && a.Subject.NameID != nil {
		n := a.Subject.NameID
		id.Logout = federation.Logout{NameID: n.Value, NameIDFormat: n.Format, NameQualifier: n.NameQualifier, SPNameQualifier: n.SPNameQualifier}
		id.Subject = n.Value
	}
	if c.cfg.SubjectAttribute != "" {
		id.Subject = id.Get(c.cfg.SubjectAttribute)
	}
	if strings.TrimSpace(id.Subject) == "" {
		return federation.Identity{}, federation.Refusef(c.cfg.ID, federation.ReasonSubject, "no subject: attribute %q and NameID empty", c.cfg.SubjectAttribute)
	}
	for _, s := range a.AuthnStatements {
		id.AuthTime = s.AuthnInstant
		id.Logout.SessionIndex = s.SessionIndex
		break
	}
	if c.cfg.LogoutURLAttribute != "" {
		id.Logout.URL = id.Get(c.cfg.LogoutURLAttribute)
	}
	return id, nil
}

// Metadata is our SP metadata for this connector: every signing and
// encryption certificate, so that the IdP trusts a new key before it is
// used.
func (c *Connector) Metadata() ([]byte, error) {
	sp := c.sp(c.idp.Load())
	sp.MetadataValidDuration = 7 * 24 * time.Hour
	ed := sp.Metadata()
	ed.ValidUntil = c.deps.Now().Add(sp.MetadataValidDuration).UTC()
	sso := &ed.SPSSODescriptors[0]
	sso.ValidUntil = &ed.ValidUntil
	// Only the POST binding: we never resolve artifacts.
	sso.AssertionConsumerServices = sso.AssertionConsumerServices[:1]
	var kds []csaml.KeyDescriptor
	for _, k := range c.cfg.SigningKeys {
		kds = append(kds, keyDescriptor("signing", k, nil))
	}
	for _, k := range c.cfg.EncryptionKeys {
		kds = append(kds, keyDescriptor("encryption", k, []csaml.EncryptionMethod{
			{Algorithm: "http://www.w3.org/2009/xmlenc11#aes256-gcm"},
			{Algorithm: "http://www.w3.org/2009/xmlenc11#aes128-gcm"},
			{Algorithm: "http://www.w3.org/2001/04/xmlenc#aes256-cbc"},
			{Algorithm: "http://www.w3.org/2001/04/xmlenc#aes128-cbc"},
			{Algorithm: "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"},
		}))
	}
	sso.KeyDescriptors = kds
	yes := true
	sso.WantAssertionsSigned = &yes
	sso.AuthnRequestsSigned = &yes
	return xml.MarshalIndent(ed, "", "  ")
}

func keyDescriptor(use string, k KeyPair, methods []csaml.EncryptionMethod) csaml.KeyDescriptor {
	return csaml.KeyDescriptor{Use: use, EncryptionMethods: methods, KeyInfo: csaml.KeyInfo{X509Data: csaml.X509Data{
		X509Certificates: []csaml.X509Certificate{{Data: base64.StdEncoding.EncodeToString(k.Cert.Raw)}}}}}
}

// MetadataHandler serves Metadata.
func (c *Connector) MetadataHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := c.Metadata()
		if err != nil {
			http.Error(w, "metadata", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/samlmetadata+xml")
		w.Write(b)
	})
}
