package idp

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // SAML legacy SPs sign requests with RSA-SHA1; only checked when they do
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/idp/sso"
)

// samlFront is the SAML2 identity provider, on crewjam/saml: enthub
// parses and checks requests itself (signatures, replay, ACS) and builds
// the assertion from the release policy; crewjam signs (RSA-SHA256,
// exclusive C14N), encrypts when asked and writes the POST form.
type samlFront struct {
	p      *Provider
	logger *slog.Logger
	// The IdP's endpoints, parsed once.
	metadataURL, ssoURL, sloURL url.URL
}

// samlSP is a service provider's metadata: full (for signature checks)
// and as handed to crewjam (key descriptors only when encrypting).
type samlSP struct {
	svc      *Service
	raw      []byte // the metadata as read, kept for when a new fetch fails
	full     *saml.EntityDescriptor
	forIdP   *saml.EntityDescriptor
	certs    []*x509.Certificate // signing certificates
	signsReq bool
}

const (
	nameIDTransient  = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
	nameIDPersistent = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	nameIDUnspec     = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
	maxIssueDelay    = 90 * time.Second
	maxRelayState    = 1024
)

func newSAMLFront(ctx context.Context, p *Provider) (*samlFront, error) {
	f := &samlFront{p: p, logger: p.log}
	for dst, path := range map[*url.URL]string{&f.metadataURL: "/saml/idp/metadata", &f.ssoURL: "/saml/idp/sso", &f.sloURL: "/saml/idp/slo"} {
		u, err := url.Parse(p.url(path))
		if err != nil {
			return nil, fmt.Errorf("idp: SAML endpoint: %w", err)
		}
		*dst = *u
	}
	return f, nil
}

// readMetadata reads a service provider's metadata from where its
// registration says.
func (f *samlFront) readMetadata(ctx context.Context, svc *Service) ([]byte, error) {
	m := svc.SAML
	raw := []byte(m.MetadataXML)
	switch {
	case m.MetadataFile != "":
		b, err := os.ReadFile(m.MetadataFile)
		if err != nil {
			return nil, fmt.Errorf("SAML.MetadataFile: %w", err)
		}
		raw = b
	case m.MetadataURL != "":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.MetadataURL, nil)
		if err != nil {
			return nil, fmt.Errorf("SAML.MetadataURL %q: %w", m.MetadataURL, err)
		}
		resp, err := f.p.deps.HTTPClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("SAML.MetadataURL %q: %w", m.MetadataURL, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("SAML.MetadataURL %q: status %d", m.MetadataURL, resp.StatusCode)
		}
		if raw, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20)); err != nil {
			return nil, fmt.Errorf("SAML.MetadataURL %q: %w", m.MetadataURL, err)
		}
	}
	return raw, nil
}

// parseSP checks a service provider's metadata against its registration.
func (f *samlFront) parseSP(svc *Service, raw []byte) (*samlSP, error) {
	m := svc.SAML
	ed := &saml.EntityDescriptor{}
	if err := xml.Unmarshal(raw, ed); err != nil {
		return nil, fmt.Errorf("SP metadata: %w", err)
	}
	if ed.EntityID != m.EntityID {
		return nil, fmt.Errorf("SP metadata is for %q, not SAML.EntityID %q", ed.EntityID, m.EntityID)
	}
	if len(ed.SPSSODescriptors) == 0 {
		return nil, errors.New("SP metadata has no SPSSODescriptor")
	}
	sp := &samlSP{svc: svc, raw: raw, full: ed, signsReq: m.RequireSignedRequests}
	cp := *ed
	cp.SPSSODescriptors = nil
	for _, d := range ed.SPSSODescriptors {
		if d.AuthnRequestsSigned != nil && *d.AuthnRequestsSigned {
			sp.signsReq = true
		}
		for _, kd := range d.KeyDescriptors {
			for _, c := range kd.KeyInfo.X509Data.X509Certificates {
				der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(c.Data), ""))
				if err != nil {
					return nil, fmt.Errorf("SP certificate: %w", err)
				}
				cert, err := x509.ParseCertificate(der)
				if err != nil {
					return nil, fmt.Errorf("SP certificate: %w", err)
				}
				if kd.Use == "" || kd.Use == "signing" {
					sp.certs = append(sp.certs, cert)
				}
			}
		}
		if !m.EncryptAssertions {
			d.KeyDescriptors = nil
		}
		cp.SPSSODescriptors = append(cp.SPSSODescriptors, d)
	}
	if sp.signsReq && len(sp.certs) == 0 {
		return nil, errors.New("SP wants signed requests but its metadata has no signing certificate")
	}
	sp.forIdP = &cp
	return sp, nil
}

// GetServiceProvider implements saml.ServiceProviderProvider.
func (f *samlFront) GetServiceProvider(_ *http.Request, id string) (*saml.EntityDescriptor, error) {
	if sp := f.p.reg().sps[id]; sp != nil {
		return sp.forIdP, nil
	}
	return nil, os.ErrNotExist
}

// identityProvider is crewjam's IdP with the signing key in use now.
func (f *samlFront) identityProvider(svc *Service) *saml.IdentityProvider {
	k := f.p.keys.active()
	alg := dsig.RSASHA256SignatureMethod
	if svc != nil && svc.SAML.SignatureAlgorithm == "rsa-sha1" {
		alg = dsig.RSASHA1SignatureMethod
	}
	d := 48 * time.Hour
	return &saml.IdentityProvider{Key: k.Private, Signer: k.Private, Certificate: k.Cert,
		Logger: slog.NewLogLogger(f.logger.Handler(), slog.LevelWarn), MetadataURL: f.metadataURL, SSOURL: f.ssoURL, LogoutURL: f.sloURL,
		ServiceProviderProvider: f, SignatureMethod: alg, ValidDuration: &d}
}

func (f *samlFront) routes(mux *http.ServeMux) {
	b := f.p.basePath + "/saml/idp"
	mux.HandleFunc(b+"/metadata", f.metadata)
	mux.HandleFunc(b+"/sso", f.sso)
	mux.HandleFunc(b+"/slo", f.slo)
}

// metadata serves the IdP metadata, with every published key (the next
// one is there a full overlap before it signs).
func (f *samlFront) metadata(w http.ResponseWriter, _ *http.Request) {
	idp := f.identityProvider(nil)
	md := idp.Metadata()
	active := f.p.keys.active()
	d := &md.IDPSSODescriptors[0]
	for _, k := range f.p.keys.published() {
		if k.ID == active.ID {
			continue
		}
		d.KeyDescriptors = append(d.KeyDescriptors, saml.KeyDescriptor{Use: "signing", KeyInfo: saml.KeyInfo{
			X509Data: saml.X509Data{X509Certificates: []saml.X509Certificate{{Data: base64.StdEncoding.EncodeToString(k.Cert.Raw)}}}}})
	}
	d.SingleLogoutServices = []saml.Endpoint{
		{Binding: saml.HTTPRedirectBinding, Location: f.p.url("/saml/idp/slo")},
		{Binding: saml.HTTPPostBinding, Location: f.p.url("/saml/idp/slo")},
	}
	buf, err := xml.MarshalIndent(md, "", "  ")
	if err != nil {
		http.Error(w, "metadata", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	_, _ = w.Write(buf)
}

type samlPending struct {
	Request     []byte    `json:"request,omitempty"` // the AuthnRequest XML (SP-initiated)
	RelayState  string    `json:"relay_state,omitempty"`
	ReceivedAt  time.Time `json:"received_at"`
	IdPInitated bool      `json:"idp_initiated,omitempty"`
}

func (f *samlFront) refuse(w http.ResponseWriter, r *http.Request, svcID, reason string) {
	f.p.audit(r.Context(), directory.Event{Type: EventSAMLRefused, Service: svcID, Outcome: "refused", Reason: reason, Remote: remoteIP(r)})
	f.p.message(w, r, MessageView{Status: http.StatusBadRequest, Code: MsgBadRequest, Detail: reason})
}

func (f *samlFront) sso(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case q.Get("resume") != "":
		f.resume(w, r, q.Get("resume"))
	case r.Method == http.MethodGet && q.Get("SAMLRequest") == "" && (q.Get("providerId") != "" || q.Get("SPEntityID") != ""):
		f.idpInitiated(w, r)
	default:
		f.spInitiated(w, r)
	}
}

func (f *samlFront) spInitiated(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	now := f.p.now()
	req, err := saml.NewIdpAuthnRequest(f.identityProvider(nil), r)
	if err != nil {
		f.refuse(w, r, "", "unreadable SAML request: "+err.Error())
		return
	}
	req.Now = now
	if err := xml.Unmarshal(req.RequestBuffer, &req.Request); err != nil {
		f.refuse(w, r, "", "unreadable AuthnRequest: "+err.Error())
		return
	}
	var issuer string
	if req.Request.Issuer != nil {
		issuer = req.Request.Issuer.Value
	}
	sp := f.p.reg().sps[issuer]
	if sp == nil {
		f.refuse(w, r, "", "unregistered SAML service provider "+truncate(issuer, 200))
		return
	}
	svc := sp.svc
	req.IDP = f.identityProvider(svc)
	if err := f.checkSignature(r, req, sp); err != nil {
		f.refuse(w, r, svc.ID, err.Error())
		return
	}
	if err := req.Validate(); err != nil {
		f.refuse(w, r, svc.ID, "AuthnRequest refused: "+err.Error())
		return
	}
	if req.Request.IssueInstant.After(now.Add(maxIssueDelay)) {
		f.refuse(w, r, svc.ID, "AuthnRequest issued in the future")
		return
	}
	if req.Request.ID == "" {
		f.refuse(w, r, svc.ID, "AuthnRequest has no ID")
		return
	}
	if len(req.RelayState) > maxRelayState {
		f.refuse(w, r, svc.ID, "RelayState too long")
		return
	}
	if err := f.p.deps.SSO.RememberMessageID(ctx, issuer, req.Request.ID, now.Add(2*maxIssueDelay+time.Minute), now); err != nil {
		reason := "AuthnRequest replayed: " + req.Request.ID
		if !errors.Is(err, sso.ErrReused) {
			reason = "message id store: " + err.Error()
		}
		f.refuse(w, r, svc.ID, reason)
		return
	}
	force := req.Request.ForceAuthn != nil && *req.Request.ForceAuthn
	if sess := f.p.currentSession(r); sess != nil && !force && f.p.personaSettled(r, sess) {
		f.issue(w, r, sess, sp, req)
		return
	}
	if req.Request.IsPassive != nil && *req.Request.IsPassive {
		f.refuse(w, r, svc.ID, "passive authentication requested and no session")
		return
	}
	id, err := f.p.park(ctx, "saml", svc, force, samlPending{Request: req.RequestBuffer, RelayState: req.RelayState, ReceivedAt: now})
	if err != nil {
		f.p.message(w, r, MessageView{Status: http.StatusServiceUnavailable, Code: MsgServerError})
		return
	}
	http.Redirect(w, r, f.p.loginURL(id), http.StatusSeeOther)
}

// checkSignature verifies the AuthnRequest's signature: always when there
// is one, and its absence is refused when the SP signs its requests.
func (f *samlFront) checkSignature(r *http.Request, req *saml.IdpAuthnRequest, sp *samlSP) error {
	buf, err := f.checkMessageSignature(r, req.RequestBuffer, sp, "SAMLRequest")
	if err != nil {
		return fmt.Errorf("AuthnRequest: %w", err)
	}
	req.RequestBuffer = buf
	return nil
}

// checkMessageSignature checks a request from an SP: the query signature
// of the HTTP-Redirect binding, else an enveloped XML signature; an
// unsigned message is refused when the SP signs its requests. It returns
// the message to use: with an XML signature, only what it covers.
func (f *samlFront) checkMessageSignature(r *http.Request, raw []byte, sp *samlSP, param string) ([]byte, error) {
	if r.Method == http.MethodGet && r.URL.Query().Get("Signature") != "" {
		return raw, verifyRedirectSignature(r.URL.RawQuery, param, sp.certs)
	}
	// No element can be named Signature without those bytes (names take no
	// character references): an unsigned message needs no parse here.
	if !bytes.Contains(raw, []byte("Signature")) {
		if sp.signsReq {
			return nil, errors.New("unsigned message from an SP that signs its requests")
		}
		return raw, nil
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		return nil, fmt.Errorf("XML: %w", err)
	}
	if doc.Root() == nil || doc.Root().FindElement("./Signature") == nil {
		if sp.signsReq {
			return nil, errors.New("unsigned message from an SP that signs its requests")
		}
		return raw, nil
	}
	if len(sp.certs) == 0 {
		return nil, errors.New("signed message but no SP signing certificate is known")
	}
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: sp.certs})
	vc.Clock = dsig.NewFakeClockAt(f.p.now())
	validated, err := vc.Validate(doc.Root())
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	vdoc := etree.NewDocument()
	vdoc.SetRoot(validated)
	return vdoc.WriteToBytes()
}

// verifyRedirectSignature checks an HTTP-Redirect binding signature over
// the raw query parameters, as sent (SAML bindings §3.4.4.1).
func verifyRedirectSignature(rawQuery, msgParam string, certs []*x509.Certificate) error {
	raw := map[string]string{}
	for _, part := range strings.Split(rawQuery, "&") {
		k, v, _ := strings.Cut(part, "=")
		if _, dup := raw[k]; dup {
			return fmt.Errorf("parameter %s repeated", k)
		}
		raw[k] = v
	}
	signed := msgParam + "=" + raw[msgParam]
	if v, ok := raw["RelayState"]; ok {
		signed += "&RelayState=" + v
	}
	signed += "&SigAlg=" + raw["SigAlg"]
	alg, _ := url.QueryUnescape(raw["SigAlg"])
	sigRaw, _ := url.QueryUnescape(raw["Signature"])
	sig, err := base64.StdEncoding.DecodeString(sigRaw)
	if err != nil {
		return errors.New("redirect signature is not base64")
	}
	var h crypto.Hash
	var digest []byte
	switch alg {
	case dsig.RSASHA256SignatureMethod:
		s := sha256.Sum256([]byte(signed))
		h, digest = crypto.SHA256, s[:]
	case dsig.RSASHA1SignatureMethod:
		s := sha1.Sum([]byte(signed)) //nolint:gosec // legacy SPs
		h, digest = crypto.SHA1, s[:]
	default:
		return fmt.Errorf("signature algorithm %q not accepted", alg)
	}
	for _, c := range certs {
		if pub, ok := c.PublicKey.(*rsa.PublicKey); ok && rsa.VerifyPKCS1v15(pub, h, digest, sig) == nil {
			return nil
		}
	}
	return errors.New("redirect signature does not verify with the SP's certificates")
}

func (f *samlFront) idpInitiated(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	entity := q.Get("providerId")
	if entity == "" {
		entity = q.Get("SPEntityID")
	}
	relay := q.Get("RelayState")
	if relay == "" {
		relay = q.Get("TARGET")
	}
	sp := f.p.reg().sps[entity]
	if sp == nil {
		f.refuse(w, r, "", "unregistered SAML service provider "+truncate(entity, 200))
		return
	}
	svc := sp.svc
	if !svc.SAML.IdPInitiated {
		f.refuse(w, r, svc.ID, "IdP-initiated login is not enabled for this service")
		return
	}
	if relay == "" {
		relay = svc.SAML.DefaultRelayState
	} else if !matchAny(svc.SAML.relayPatterns, relay) {
		f.refuse(w, r, svc.ID, "RelayState not registered: "+truncate(relay, 200))
		return
	}
	if sess := f.p.currentSession(r); sess != nil && f.p.personaSettled(r, sess) {
		f.issue(w, r, sess, sp, &saml.IdpAuthnRequest{IDP: f.identityProvider(svc), HTTPRequest: r, RelayState: relay, Now: f.p.now()})
		return
	}
	id, err := f.p.park(ctx, "saml", svc, false, samlPending{RelayState: relay, ReceivedAt: f.p.now(), IdPInitated: true})
	if err != nil {
		f.p.message(w, r, MessageView{Status: http.StatusServiceUnavailable, Code: MsgServerError})
		return
	}
	http.Redirect(w, r, f.p.loginURL(id), http.StatusSeeOther)
}

func (f *samlFront) resume(w http.ResponseWriter, r *http.Request, id string) {
	pend, pd, sess, err := f.p.resumed(r, "saml", id)
	if err != nil {
		f.p.requestLost(w, r, err)
		return
	}
	// One assertion per request, as casAnswer: the loser of a race for
	// the parked request is told it already served.
	if err := f.p.deps.SSO.DeletePending(r.Context(), pend.ID); err != nil {
		f.p.requestLost(w, r, err)
		return
	}
	var sp samlPending
	if err := json.Unmarshal(pd.Data, &sp); err != nil {
		f.p.message(w, r, MessageView{Status: http.StatusBadRequest, Code: MsgRequestExpired})
		return
	}
	reg := f.p.reg()
	svc := reg.byID[pend.ServiceID]
	if svc == nil || reg.sps[svc.SAML.EntityID] == nil {
		f.p.message(w, r, MessageView{Status: http.StatusBadRequest, Code: MsgUnknownService})
		return
	}
	spd := reg.sps[svc.SAML.EntityID]
	req := &saml.IdpAuthnRequest{IDP: f.identityProvider(svc), HTTPRequest: r, RelayState: sp.RelayState, Now: sp.ReceivedAt}
	if !sp.IdPInitated {
		req.RequestBuffer = sp.Request
		if err := req.Validate(); err != nil {
			f.refuse(w, r, svc.ID, "AuthnRequest refused: "+err.Error())
			return
		}
	}
	req.Now = f.p.now()
	f.issue(w, r, sess, spd, req)
}

// issue builds, signs and posts the response.
func (f *samlFront) issue(w http.ResponseWriter, r *http.Request, sess *sso.Session, sp *samlSP, req *saml.IdpAuthnRequest) {
	ctx := r.Context()
	svc := sp.svc
	if !f.p.authorize(w, r, sess, svc) || !f.p.garAllowed(w, r, sess, svc) {
		return
	}
	if req.ServiceProviderMetadata == nil {
		req.ServiceProviderMetadata = sp.forIdP
		for i, d := range sp.forIdP.SPSSODescriptors {
			for j, acs := range d.AssertionConsumerServices {
				if acs.Binding == saml.HTTPPostBinding && req.ACSEndpoint == nil {
					req.SPSSODescriptor = &sp.forIdP.SPSSODescriptors[i]
					req.ACSEndpoint = &sp.forIdP.SPSSODescriptors[i].AssertionConsumerServices[j]
				}
			}
		}
		if req.ACSEndpoint == nil {
			f.refuse(w, r, svc.ID, "SP metadata has no HTTP-POST assertion consumer service")
			return
		}
	}
	if req.ACSEndpoint.Binding != saml.HTTPPostBinding {
		f.refuse(w, r, svc.ID, "only the HTTP-POST binding is supported for responses")
		return
	}
	sub, err := f.p.loadSubject(ctx, *sess, svc.Release.needs())
	if err != nil {
		f.p.log.Error("SAML subject", "err", err)
		f.p.message(w, r, MessageView{Status: http.StatusServiceUnavailable, Code: MsgServerError})
		return
	}
	nameID, format := f.nameID(svc, sub)
	if nameID == "" {
		f.refuse(w, r, svc.ID, "the release policy gives no NameID for this user")
		return
	}
	index := "_" + f.p.randomToken(16)
	req.Assertion = f.assertion(req, svc, sub, nameID, format, index)
	if err := makeAssertionEl(req); err != nil {
		f.p.log.Error("sign SAML assertion", "err", err)
		f.p.message(w, r, MessageView{Status: http.StatusInternalServerError, Code: MsgServerError})
		return
	}
	if svc.SAML.SignResponse {
		err = req.MakeResponse() // signs the Response too
	} else {
		f.wrapResponse(req)
	}
	if err != nil {
		f.p.log.Error("sign SAML response", "err", err)
		f.p.message(w, r, MessageView{Status: http.StatusInternalServerError, Code: MsgServerError})
		return
	}
	if err := f.p.deps.SSO.AddSessionService(ctx, sso.SessionService{SessionID: sess.ID, ServiceID: svc.ID, Protocol: string(ProtocolSAML),
		Ref: nameID + "|" + index, At: f.p.now().UTC()}); err != nil {
		f.p.log.Error("record service reached", "err", err)
	}
	e := f.p.sessionEvent(r, EventAssertion, sess, svc.ID, "ok", "")
	e.Details = map[string]string{"in_response_to": req.Request.ID, "nameid_format": format}
	f.p.audit(ctx, e)
	if err := writePostForm(w, req, svc.Name); err != nil {
		f.p.log.Error("write SAML response", "err", err)
		f.p.message(w, r, MessageView{Status: http.StatusInternalServerError, Code: MsgServerError})
	}
}

// makeAssertionEl signs the assertion (enveloped XML signature, exclusive
// C14N) into req.AssertionEl. It is crewjam's MakeAssertionEl, which
// builds the assertion's element (and canonicalises it) a second time
// only to put the signature after the Issuer; here the signature is
// inserted there. The enveloped-signature transform leaves the signature
// out of what it signs, so where it sits changes nothing signed; the
// xmlsec1 test checks the result independently. Assertions encrypted to
// the SP go through crewjam.
func makeAssertionEl(req *saml.IdpAuthnRequest) error {
	if req.SPSSODescriptor == nil || len(req.SPSSODescriptor.KeyDescriptors) > 0 {
		return req.MakeAssertionEl() // encrypts (loadSP keeps key descriptors only for that)
	}
	sc, err := dsig.NewSigningContext(req.IDP.Signer, [][]byte{req.IDP.Certificate.Raw})
	if err != nil {
		return err
	}
	sc.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := sc.SetSignatureMethod(req.IDP.SignatureMethod); err != nil {
		return err
	}
	el := req.Assertion.Element()
	sig, err := sc.ConstructSignature(el, true)
	if err != nil {
		return err
	}
	el.InsertChildAt(1, sig) // after saml:Issuer, as the schema orders them
	req.Assertion.Signature = sig
	req.AssertionEl = el
	return nil
}

// The auto-post page's script and style, allowed by their hash in the
// page's Content-Security-Policy: no other script or style can run there.
const (
	postFormScript = `document.getElementById("saml").submit();`
	postFormStyle  = `body{font:1.125rem/1.5 system-ui,sans-serif;margin:2rem auto;max-width:36rem;padding:0 1rem;color:#1a1a1a}` +
		`button{font:inherit;padding:.5rem 1.25rem;border:2px solid #000091;background:#000091;color:#fff;border-radius:.25rem;cursor:pointer}` +
		`button:focus{outline:3px solid #ffbf47;outline-offset:2px}`
)

// postFormCSP is the auto-post page's policy: the login pages' one, with
// the page's own script and style by hash. It has no form-action: the
// form goes to the SP's consumer, which often redirects to yet another
// host (the GAR's does), and browsers apply form-action to redirects too.
var postFormCSP = "default-src 'none'; script-src " + cspHash(postFormScript) + "; style-src " + cspHash(postFormStyle) +
	"; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'"

func cspHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(h[:]) + "'"
}

// writePostForm writes the HTTP-POST binding page that takes the response
// to the SP's assertion consumer service: French, submitted by its script
// at once, with a visible button for a browser without JavaScript, and
// the security headers of the login pages. It writes the base64 response
// itself rather than through html/template, which would scan a large
// value that needs no escaping.
func writePostForm(w http.ResponseWriter, req *saml.IdpAuthnRequest, serviceName string) error {
	acs := req.ACSEndpoint.Location
	if u, err := url.Parse(acs); err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("assertion consumer service %q is not an http(s) URL", acs)
	}
	doc := etree.NewDocument()
	doc.SetRoot(req.ResponseEl)
	xmlBuf, err := doc.WriteToBytes()
	if err != nil {
		return err
	}
	if serviceName == "" {
		serviceName = "l'application"
	}
	var b bytes.Buffer
	b.Grow(base64.StdEncoding.EncodedLen(len(xmlBuf)) + 2048)
	b.WriteString(`<!doctype html><html lang="fr"><head><meta charset="utf-8">` +
		`<meta name="viewport" content="width=device-width, initial-scale=1"><title>Connexion en cours</title><style>`)
	b.WriteString(postFormStyle)
	b.WriteString(`</style></head><body><main><form method="post" action="`)
	b.WriteString(html.EscapeString(acs))
	b.WriteString(`" id="saml"><input type="hidden" name="SAMLResponse" value="`)
	enc := base64.NewEncoder(base64.StdEncoding, &b)
	enc.Write(xmlBuf)
	enc.Close()
	b.WriteString(`"><input type="hidden" name="RelayState" value="`)
	b.WriteString(html.EscapeString(req.RelayState))
	b.WriteString(`"><h1>Connexion à `)
	b.WriteString(html.EscapeString(serviceName))
	b.WriteString(`</h1><p>Vous êtes identifié. Votre navigateur vous transmet à l'application.</p>` +
		`<noscript><p>JavaScript est désactivé : appuyez sur « Continuer » pour terminer la connexion.</p>` +
		`<p lang="en">JavaScript is off: press “Continuer” (continue) to finish logging in.</p></noscript>` +
		`<button type="submit">Continuer</button></form></main><script>`)
	b.WriteString(postFormScript)
	b.WriteString(`</script></body></html>`)
	noStore(w)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", postFormCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	_, err = w.Write(b.Bytes())
	return err
}

// wrapResponse puts the signed (possibly encrypted) assertion in an
// unsigned Response: what SAML requires and what the GAR and Shibboleth
// SPs check; one RSA signature per login instead of two.
func (f *samlFront) wrapResponse(req *saml.IdpAuthnRequest) {
	resp := &saml.Response{
		Destination: req.ACSEndpoint.Location, ID: "_" + f.p.randomToken(20), InResponseTo: req.Request.ID,
		IssueInstant: f.p.now().UTC(), Version: "2.0",
		Issuer: &saml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: req.IDP.MetadataURL.String()},
		Status: saml.Status{StatusCode: saml.StatusCode{Value: saml.StatusSuccess}},
	}
	el := resp.Element()
	el.AddChild(req.AssertionEl)
	req.ResponseEl = el
}

// nameID chooses the subject identifier the SP receives.
func (f *samlFront) nameID(svc *Service, sub *Subject) (string, string) {
	switch svc.SAML.NameIDFormat {
	case "persistent":
		return f.p.pairwise("saml:"+svc.ID, sub.Person.ID), nameIDPersistent
	case "attribute":
		return f.p.principal(svc, sub), nameIDUnspec
	}
	return "_" + f.p.randomToken(20), nameIDTransient
}

func (f *samlFront) assertion(req *saml.IdpAuthnRequest, svc *Service, sub *Subject, nameID, format, index string) *saml.Assertion {
	now := f.p.now().UTC()
	entity := req.IDP.MetadataURL.String() // the EntityID of the IdP's metadata
	var attrs []saml.Attribute
	for _, a := range svc.Release.release(sub, nil) {
		nf := "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
		switch a.Rule.NameFormat {
		case "basic":
			nf = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
		case "unspecified":
			nf = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"
		case "":
			if !strings.HasPrefix(a.Rule.Name, "urn:") {
				nf = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
			}
		}
		at := saml.Attribute{Name: a.Rule.Name, FriendlyName: a.Rule.FriendlyName, NameFormat: nf}
		for _, v := range a.Values {
			at.Values = append(at.Values, saml.AttributeValue{Type: "xs:string", Value: v})
		}
		attrs = append(attrs, at)
	}
	as := &saml.Assertion{
		ID: "_" + f.p.randomToken(20), IssueInstant: now, Version: "2.0",
		Issuer: saml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: entity},
		Subject: &saml.Subject{
			NameID: &saml.NameID{Format: format, NameQualifier: entity, SPNameQualifier: svc.SAML.EntityID, Value: nameID},
			SubjectConfirmations: []saml.SubjectConfirmation{{Method: "urn:oasis:names:tc:SAML:2.0:cm:bearer",
				SubjectConfirmationData: &saml.SubjectConfirmationData{InResponseTo: req.Request.ID,
					NotOnOrAfter: now.Add(f.p.cfg.AssertionTTL), Recipient: req.ACSEndpoint.Location}}},
		},
		Conditions: &saml.Conditions{NotBefore: now.Add(-30 * time.Second), NotOnOrAfter: now.Add(f.p.cfg.AssertionTTL),
			AudienceRestrictions: []saml.AudienceRestriction{{Audience: saml.Audience{Value: svc.SAML.EntityID}}}},
		AuthnStatements: []saml.AuthnStatement{{AuthnInstant: sub.AuthTime.UTC(), SessionIndex: index,
			AuthnContext: saml.AuthnContext{AuthnContextClassRef: &saml.AuthnContextClassRef{
				Value: "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"}}}},
	}
	if len(attrs) > 0 {
		as.AttributeStatements = []saml.AttributeStatement{{Attributes: attrs}}
	}
	return as
}

// --- single logout -------------------------------------------------------------------------

// slo handles a LogoutRequest from an SP (HTTP-Redirect or POST): it ends
// the SSO session (with back-channel logout of CAS and OIDC services) and
// answers the SP with a signed LogoutResponse over HTTP-Redirect.
func (f *samlFront) slo(w http.ResponseWriter, r *http.Request) {
	if r.FormValue("SAMLResponse") != "" {
		f.logoutResponse(w, r)
		return
	}
	var raw []byte
	var err error
	if r.Method == http.MethodGet {
		raw, err = inflate(r.URL.Query().Get("SAMLRequest"))
	} else {
		if err = r.ParseForm(); err == nil {
			raw, err = base64.StdEncoding.DecodeString(r.PostFormValue("SAMLRequest"))
		}
	}
	if err != nil || len(raw) == 0 {
		f.refuse(w, r, "", "unreadable LogoutRequest")
		return
	}
	var lr saml.LogoutRequest
	if err := xml.Unmarshal(raw, &lr); err != nil || lr.Issuer == nil {
		f.refuse(w, r, "", "unreadable LogoutRequest")
		return
	}
	sp := f.p.reg().sps[lr.Issuer.Value]
	if sp == nil {
		f.refuse(w, r, "", "LogoutRequest from an unregistered SP "+truncate(lr.Issuer.Value, 200))
		return
	}
	if _, err := f.checkMessageSignature(r, raw, sp, "SAMLRequest"); err != nil {
		f.refuse(w, r, sp.svc.ID, "LogoutRequest: "+err.Error())
		return
	}
	now := f.p.now()
	if err := f.p.deps.SSO.RememberMessageID(r.Context(), lr.Issuer.Value, "logout:"+lr.ID, now.Add(10*time.Minute), now); err != nil {
		f.refuse(w, r, sp.svc.ID, "LogoutRequest replayed")
		return
	}
	sess := f.p.currentSession(r)
	front := f.p.endSession(w, r, sess, sp.svc.ID)
	final := ""
	if dest := f.sloEndpoint(sp.svc.ID); dest != "" {
		u, err := f.logoutResponseURL(dest, lr.ID, r.URL.Query().Get("RelayState"))
		if err != nil {
			f.p.message(w, r, MessageView{Status: http.StatusInternalServerError, Code: MsgServerError})
			return
		}
		final = u
	}
	f.p.finishLogout(w, r, sess, front, final)
}

// sloEndpoint is the HTTP-Redirect single logout endpoint of a SAML
// service, or "".
func (f *samlFront) sloEndpoint(serviceID string) string {
	reg := f.p.reg()
	svc := reg.byID[serviceID]
	if svc == nil || svc.Protocol != ProtocolSAML || reg.sps[svc.SAML.EntityID] == nil {
		return ""
	}
	for _, d := range reg.sps[svc.SAML.EntityID].full.SPSSODescriptors {
		for _, e := range d.SingleLogoutServices {
			if e.Binding == saml.HTTPRedirectBinding {
				return e.Location
			}
		}
	}
	return ""
}

// sloChain is an IdP-initiated logout going through the SAML service
// providers one by one (front channel), then to Final.
type sloChain struct {
	Remaining []sso.SessionService `json:"remaining"`
	Final     string               `json:"final,omitempty"`
}

// continueLogout sends the browser to the next SP with a signed
// LogoutRequest; the SP's LogoutResponse comes back to /saml/idp/slo with
// the chain's id as RelayState.
func (f *samlFront) continueLogout(w http.ResponseWriter, r *http.Request, chain sloChain) {
	for len(chain.Remaining) > 0 {
		ss := chain.Remaining[0]
		chain.Remaining = chain.Remaining[1:]
		dest := f.sloEndpoint(ss.ServiceID)
		nameID, index, _ := strings.Cut(ss.Ref, "|")
		if dest == "" || nameID == "" {
			continue
		}
		id, err := f.p.park(r.Context(), "slo", nil, false, chain)
		if err != nil {
			break
		}
		u, err := f.logoutRequestURL(dest, f.p.reg().byID[ss.ServiceID], nameID, index, id)
		if err != nil {
			f.p.log.Error("SAML LogoutRequest", "err", err)
			continue
		}
		f.p.audit(r.Context(), directory.Event{Type: EventBackchannel, Service: ss.ServiceID, Outcome: "ok", Reason: "SAML front-channel LogoutRequest"})
		http.Redirect(w, r, u, http.StatusFound)
		return
	}
	if chain.Final != "" {
		http.Redirect(w, r, chain.Final, http.StatusSeeOther)
		return
	}
	f.p.message(w, r, MessageView{Status: http.StatusOK, Code: MsgLoggedOut, Link: f.p.cfg.PortalURL})
}

// logoutRequestURL builds a signed HTTP-Redirect LogoutRequest.
func (f *samlFront) logoutRequestURL(dest string, svc *Service, nameID, index, relay string) (string, error) {
	entity := f.p.url("/saml/idp/metadata")
	format := nameIDTransient
	switch svc.SAML.NameIDFormat {
	case "persistent":
		format = nameIDPersistent
	case "attribute":
		format = nameIDUnspec
	}
	msg := `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_` +
		f.p.randomToken(20) + `" Version="2.0" IssueInstant="` + f.p.now().UTC().Format(time.RFC3339) + `" Destination="` + xmlText(dest) +
		`"><saml:Issuer>` + xmlText(entity) + `</saml:Issuer><saml:NameID Format="` + format + `" NameQualifier="` + xmlText(entity) +
		`" SPNameQualifier="` + xmlText(svc.SAML.EntityID) + `">` + xmlText(nameID) + `</saml:NameID>`
	if index != "" {
		msg += `<samlp:SessionIndex>` + xmlText(index) + `</samlp:SessionIndex>`
	}
	msg += `</samlp:LogoutRequest>`
	return f.signedRedirect(dest, "SAMLRequest", msg, relay)
}

// signedRedirect deflates msg and signs the query (RSA-SHA256), as the
// HTTP-Redirect binding says.
func (f *samlFront) signedRedirect(dest, param, msg, relay string) (string, error) {
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	_, _ = fw.Write([]byte(msg))
	_ = fw.Close()
	q := param + "=" + url.QueryEscape(base64.StdEncoding.EncodeToString(buf.Bytes()))
	if relay != "" {
		q += "&RelayState=" + url.QueryEscape(relay)
	}
	q += "&SigAlg=" + url.QueryEscape(dsig.RSASHA256SignatureMethod)
	k := f.p.keys.active()
	sum := sha256.Sum256([]byte(q))
	sig, err := rsa.SignPKCS1v15(nil, k.Private, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	sep := "?"
	if strings.Contains(dest, "?") {
		sep = "&"
	}
	return dest + sep + q + "&Signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig)), nil
}

// logoutResponse handles an SP's LogoutResponse to an IdP-initiated
// logout: the chain goes on.
func (f *samlFront) logoutResponse(w http.ResponseWriter, r *http.Request) {
	pend, err := f.p.deps.SSO.Pending(r.Context(), r.FormValue("RelayState"), f.p.now())
	if err != nil || pend.Kind != "slo" {
		f.p.message(w, r, MessageView{Status: http.StatusOK, Code: MsgLoggedOut, Link: f.p.cfg.PortalURL})
		return
	}
	_ = f.p.deps.SSO.DeletePending(r.Context(), pend.ID)
	var pd pendingData
	var chain sloChain
	_ = json.Unmarshal(pend.Payload, &pd)
	_ = json.Unmarshal(pd.Data, &chain)
	f.continueLogout(w, r, chain)
}

func (f *samlFront) logoutResponseURL(dest, inResponseTo, relay string) (string, error) {
	entity := f.p.url("/saml/idp/metadata")
	msg := `<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_` +
		f.p.randomToken(20) + `" Version="2.0" IssueInstant="` + f.p.now().UTC().Format(time.RFC3339) + `" Destination="` + xmlText(dest) +
		`" InResponseTo="` + xmlText(inResponseTo) + `"><saml:Issuer>` + xmlText(entity) +
		`</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>`
	return f.signedRedirect(dest, "SAMLResponse", msg, relay)
}

func inflate(b64 string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(raw)), 1<<20))
}

// CertificatePEM returns the IdP's signing certificate in use, PEM (for
// SPs configured by hand and for the demo page).
func (p *Provider) CertificatePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.keys.active().Cert.Raw})
}
