package saml

import (
	"context"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/beevik/etree"
	csaml "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/federation"
)

const (
	nsProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsDSig      = "http://www.w3.org/2000/09/xmldsig#"
	nsXMLEnc    = "http://www.w3.org/2001/04/xmlenc#"
	bearer      = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
)

// Signature and digest algorithms accepted from the IdP; the SHA-1 ones only
// with allow_sha1.
var (
	strongAlgs = map[string]bool{
		dsig.RSASHA256SignatureMethod: true, dsig.RSASHA384SignatureMethod: true, dsig.RSASHA512SignatureMethod: true,
		dsig.ECDSASHA256SignatureMethod: true, dsig.ECDSASHA384SignatureMethod: true, dsig.ECDSASHA512SignatureMethod: true,
		"http://www.w3.org/2001/04/xmlenc#sha256": true, "http://www.w3.org/2001/04/xmldsig-more#sha384": true,
		"http://www.w3.org/2001/04/xmlenc#sha512": true,
	}
	sha1Algs = map[string]bool{dsig.RSASHA1SignatureMethod: true, "http://www.w3.org/2000/09/xmldsig#sha1": true}

	// Key transport: RSA-OAEP always, RSA 1.5 only with allow_rsa1_5.
	oaepAlgs  = map[string]bool{"http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p": true, "http://www.w3.org/2009/xmlenc11#rsa-oaep": true}
	rsa15Alg  = "http://www.w3.org/2001/04/xmlenc#rsa-1_5"
	blockAlgs = map[string]bool{
		"http://www.w3.org/2001/04/xmlenc#aes128-cbc": true, "http://www.w3.org/2001/04/xmlenc#aes192-cbc": true,
		"http://www.w3.org/2001/04/xmlenc#aes256-cbc": true, "http://www.w3.org/2009/xmlenc11#aes128-gcm": true,
		"http://www.w3.org/2009/xmlenc11#aes192-gcm": true, "http://www.w3.org/2009/xmlenc11#aes256-gcm": true,
	}
)

// verify checks a Response and returns its one assertion, read only from
// the XML that a verified signature covers. requestID is the id of our
// AuthnRequest, "" for an unsolicited response.
func (c *Connector) verify(ctx context.Context, md *idp, raw []byte, requestID string) (*csaml.Assertion, error) {
	id := c.cfg.ID
	now := c.deps.Now()
	skew := c.cfg.ClockSkew
	refuse := func(reason federation.Reason, format string, args ...any) (*csaml.Assertion, error) {
		return nil, federation.Refusef(id, reason, format, args...)
	}

	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil || doc.Root() == nil {
		return refuse(federation.ReasonMalformed, "Response: not XML")
	}
	root := doc.Root()
	// xrv refuses XML whose meaning changes on a round trip through
	// encoding/xml (the Go parser's namespace quirks behind several
	// signature-wrapping attacks). It guards what a signature covers: a
	// signed Response, or a plaintext assertion read out of this document.
	// An unsigned Response around one EncryptedAssertion (EduConnect's
	// usual form) has nothing signed in this document: what is trusted is
	// the decrypted assertion, which is validated on its own after
	// decryption. Skipping the pass over the encrypted blob here saves a
	// sixth of a login's CPU.
	if child(root, nsDSig, "Signature") != nil || len(children(root, nsAssertion, "EncryptedAssertion")) != 1 || len(children(root, nsAssertion, "Assertion")) != 0 {
		if err := validateRoundTrip(raw); err != nil {
			return refuse(federation.ReasonMalformed, "Response: %v", err)
		}
	}
	if root.Tag != "Response" || root.NamespaceURI() != nsProtocol {
		return refuse(federation.ReasonMalformed, "root element %s is not samlp:Response", root.Tag)
	}

	// 1. The Response signature, when there is one, must verify; from then
	//    on only the verified copy is read.
	responseSigned := false
	if sig := child(root, nsDSig, "Signature"); sig != nil {
		v, err := c.checkSignature(md, root)
		if err != nil {
			return nil, err
		}
		root, responseSigned = v, true
	}

	// The Response's own fields are read from a copy without its
	// assertion: the (encrypted) assertion is read below, from the
	// element verified or decrypted, and decoding it here as well cost
	// about a tenth of a login.
	head := etree.NewElement(root.Tag)
	head.Space, head.Attr = root.Space, append([]etree.Attr(nil), root.Attr...)
	for _, c := range root.ChildElements() {
		if c.NamespaceURI() != nsAssertion || (c.Tag != "Assertion" && c.Tag != "EncryptedAssertion") {
			head.AddChild(c.Copy())
		}
	}
	var resp csaml.Response
	if err := unmarshal(head, &resp); err != nil {
		return refuse(federation.ReasonMalformed, "Response: %v", err)
	}
	if resp.Issuer != nil && resp.Issuer.Value != md.entityID {
		return refuse(federation.ReasonIssuer, "Response Issuer %q is not %q", resp.Issuer.Value, md.entityID)
	}
	if resp.Destination != c.cfg.ACSURL && (responseSigned || resp.Destination != "") {
		return refuse(federation.ReasonRecipient, "Response Destination %q is not %q", resp.Destination, c.cfg.ACSURL)
	}
	if resp.Status.StatusCode.Value != csaml.StatusSuccess {
		detail := resp.Status.StatusCode.Value
		if resp.Status.StatusCode.StatusCode != nil {
			detail += " / " + resp.Status.StatusCode.StatusCode.Value
		}
		return refuse(federation.ReasonStatus, "IdP status %s", detail)
	}
	if err := c.checkRequestID(resp.InResponseTo, requestID, "Response"); err != nil {
		return nil, err
	}
	if resp.IssueInstant.IsZero() || now.Sub(resp.IssueInstant) > c.cfg.MaxAge+skew || resp.IssueInstant.Sub(now) > skew {
		return refuse(federation.ReasonExpired, "Response IssueInstant %s is outside [now-%s, now+%s]", resp.IssueInstant.Format(time.RFC3339), c.cfg.MaxAge+skew, skew)
	}

	// 2. Exactly one assertion, plain or encrypted: a second one is how
	//    several wrapping attacks smuggle an unsigned assertion past a
	//    check of the first.
	plain := children(root, nsAssertion, "Assertion")
	encrypted := children(root, nsAssertion, "EncryptedAssertion")
	if len(plain)+len(encrypted) != 1 {
		return refuse(federation.ReasonMalformed, "Response carries %d assertions, want exactly 1", len(plain)+len(encrypted))
	}
	var assertionEl *etree.Element
	if len(encrypted) == 1 {
		el, err := c.decrypt(encrypted[0])
		if err != nil {
			return nil, err
		}
		assertionEl = el
	} else {
		if c.cfg.RequireEncryption {
			return refuse(federation.ReasonDecrypt, "assertion not encrypted (require_encryption)")
		}
		assertionEl = plain[0]
	}
	if assertionEl.Tag != "Assertion" || assertionEl.NamespaceURI() != nsAssertion {
		return refuse(federation.ReasonMalformed, "encrypted content %s is not an Assertion", assertionEl.Tag)
	}

	// 3. The assertion signature: required unless the Response was signed
	//    (then checked anyway when present).
	assertionSigned := false
	if child(assertionEl, nsDSig, "Signature") != nil {
		v, err := c.checkSignature(md, assertionEl)
		if err != nil {
			return nil, err
		}
		assertionEl, assertionSigned = v, true
	}
	if !assertionSigned && (!responseSigned || c.cfg.RequireSignedAssertion) {
		return refuse(federation.ReasonSignature, "neither the Response nor the Assertion is signed (or require_signed_assertion)")
	}

	var a csaml.Assertion
	if err := unmarshal(assertionEl, &a); err != nil {
		return refuse(federation.ReasonMalformed, "Assertion: %v", err)
	}
	if err := c.checkAssertion(md, &a, requestID, now); err != nil {
		return nil, err
	}

	// 4. Replay: the id is remembered in the shared store until the
	//    assertion could no longer be accepted anyway.
	expires := a.Conditions.NotOnOrAfter
	for _, sc := range a.Subject.SubjectConfirmations {
		if sc.SubjectConfirmationData != nil && sc.SubjectConfirmationData.NotOnOrAfter.After(expires) {
			expires = sc.SubjectConfirmationData.NotOnOrAfter
		}
	}
	if err := c.deps.Store.RememberAssertion(ctx, md.entityID, a.ID, expires.Add(skew), now); err != nil {
		if errors.Is(err, directory.ErrReplayed) {
			return refuse(federation.ReasonReplayed, "assertion %s already used", a.ID)
		}
		return nil, federation.Refuse(id, federation.ReasonUnavailable, err)
	}
	return &a, nil
}

// checkRequestID: a solicited answer must name our request; an unsolicited
// one must name none and be allowed.
func (c *Connector) checkRequestID(got, want, what string) error {
	switch {
	case want != "" && got != want:
		return federation.Refusef(c.cfg.ID, federation.ReasonRequest, "%s InResponseTo %q is not our request %q", what, got, want)
	case want == "" && got != "":
		return federation.Refusef(c.cfg.ID, federation.ReasonState, "%s answers request %q but no login state came with it", what, got)
	case want == "" && !c.cfg.AllowIdPInitiated:
		return federation.Refusef(c.cfg.ID, federation.ReasonUnsolicited, "unsolicited %s (IdP-initiated login is not enabled)", what)
	}
	return nil
}

// checkAssertion checks issuer, subject confirmation, conditions.
func (c *Connector) checkAssertion(md *idp, a *csaml.Assertion, requestID string, now time.Time) error {
	id, skew := c.cfg.ID, c.cfg.ClockSkew
	if a.ID == "" {
		return federation.Refusef(id, federation.ReasonMalformed, "Assertion without ID")
	}
	if a.Issuer.Value != md.entityID {
		return federation.Refusef(id, federation.ReasonIssuer, "Assertion Issuer %q is not %q", a.Issuer.Value, md.entityID)
	}
	if a.Subject == nil {
		return federation.Refusef(id, federation.ReasonSubject, "Assertion without Subject")
	}
	ok := false
	var lastErr error
	for _, sc := range a.Subject.SubjectConfirmations {
		if sc.Method != bearer || sc.SubjectConfirmationData == nil {
			continue
		}
		d := sc.SubjectConfirmationData
		switch {
		case d.Recipient != c.cfg.ACSURL:
			lastErr = federation.Refusef(id, federation.ReasonRecipient, "SubjectConfirmation Recipient %q is not %q", d.Recipient, c.cfg.ACSURL)
		case d.NotOnOrAfter.IsZero() || !now.Before(d.NotOnOrAfter.Add(skew)):
			lastErr = federation.Refusef(id, federation.ReasonExpired, "SubjectConfirmation expired at %s", d.NotOnOrAfter.Format(time.RFC3339))
		case !d.NotBefore.IsZero() && now.Before(d.NotBefore.Add(-skew)):
			lastErr = federation.Refusef(id, federation.ReasonExpired, "SubjectConfirmation not valid before %s", d.NotBefore.Format(time.RFC3339))
		default:
			if err := c.checkRequestID(d.InResponseTo, requestID, "SubjectConfirmation"); err != nil {
				lastErr = err
				continue
			}
			ok = true
		}
		if ok {
			break
		}
	}
	if !ok {
		if lastErr == nil {
			lastErr = federation.Refusef(id, federation.ReasonSubject, "no bearer SubjectConfirmation")
		}
		return lastErr
	}
	cd := a.Conditions
	if cd == nil {
		return federation.Refusef(id, federation.ReasonAudience, "Assertion without Conditions (no AudienceRestriction)")
	}
	if !cd.NotBefore.IsZero() && now.Before(cd.NotBefore.Add(-skew)) {
		return federation.Refusef(id, federation.ReasonExpired, "Conditions not valid before %s", cd.NotBefore.Format(time.RFC3339))
	}
	if cd.NotOnOrAfter.IsZero() || !now.Before(cd.NotOnOrAfter.Add(skew)) {
		return federation.Refusef(id, federation.ReasonExpired, "Conditions expired at %s", cd.NotOnOrAfter.Format(time.RFC3339))
	}
	// Every AudienceRestriction must name us (they are ANDed, SAML core
	// §2.5.1.4), and a bearer assertion must have one (profiles §4.1.4.2).
	if len(cd.AudienceRestrictions) == 0 {
		return federation.Refusef(id, federation.ReasonAudience, "no AudienceRestriction")
	}
	for _, ar := range cd.AudienceRestrictions {
		if ar.Audience.Value != c.cfg.EntityID {
			return federation.Refusef(id, federation.ReasonAudience, "Audience %q is not %q", ar.Audience.Value, c.cfg.EntityID)
		}
	}
	return nil
}

// checkSignature verifies el's enveloped signature with the IdP's
// certificates and returns the verified copy of el.
func (c *Connector) checkSignature(md *idp, el *etree.Element) (*etree.Element, error) {
	id := c.cfg.ID
	sig := child(el, nsDSig, "Signature")
	for _, e := range sig.FindElements(".//*[@Algorithm]") {
		if e.Tag != "SignatureMethod" && e.Tag != "DigestMethod" {
			continue
		}
		alg := e.SelectAttrValue("Algorithm", "")
		if !strongAlgs[alg] && !(c.cfg.AllowSHA1 && sha1Algs[alg]) {
			return nil, federation.Refusef(id, federation.ReasonAlgorithm, "%s signature: algorithm %s not allowed", el.Tag, alg)
		}
	}
	// Verify against the metadata's certificates only: a certificate in
	// KeyInfo is used to pick one of them, never trusted by itself.
	del, err := detach(el)
	if err != nil {
		return nil, federation.Refusef(id, federation.ReasonMalformed, "%s: %v", el.Tag, err)
	}
	// goxmldsig would take a certificate from KeyInfo (and then check it
	// is one of the roots); without KeyInfo it uses the single root. del
	// is our own copy, and Validate copies what it is given, so one
	// removal serves every certificate.
	if kd := del.FindElement("./Signature/KeyInfo"); kd != nil {
		kd.Parent().RemoveChild(kd)
	}
	var lastErr error
	for _, cert := range md.certs {
		vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
		vc.IdAttribute = "ID"
		// Metadata certificates are trust anchors, often long expired
		// self-signed ones; their dates are not a validity window.
		vc.Clock = dsig.NewFakeClockAt(cert.NotBefore.Add(time.Second))
		v, err := vc.Validate(del)
		if err == nil {
			return v, nil
		}
		lastErr = err
	}
	return nil, federation.Refusef(id, federation.ReasonSignature, "%s signature: %v", el.Tag, lastErr)
}

// decrypt opens an EncryptedAssertion with one of our encryption keys.
func (c *Connector) decrypt(el *etree.Element) (*etree.Element, error) {
	id := c.cfg.ID
	data := el.FindElement("./EncryptedData")
	if data == nil {
		return nil, federation.Refusef(id, federation.ReasonMalformed, "EncryptedAssertion without EncryptedData")
	}
	if alg := data.FindElement("./EncryptionMethod"); alg == nil || !blockAlgs[alg.SelectAttrValue("Algorithm", "")] {
		return nil, federation.Refusef(id, federation.ReasonAlgorithm, "EncryptedData: block cipher %q not allowed", attr(alg, "Algorithm"))
	}
	// The EncryptedKey is either inside EncryptedData's KeyInfo or beside
	// EncryptedData (Shibboleth's default).
	keyEl := el.FindElement("./EncryptedKey")
	if keyEl == nil {
		keyEl = data.FindElement("./KeyInfo/EncryptedKey")
	}
	if keyEl == nil {
		return nil, federation.Refusef(id, federation.ReasonMalformed, "EncryptedAssertion without EncryptedKey")
	}
	kt := attr(keyEl.FindElement("./EncryptionMethod"), "Algorithm")
	if !oaepAlgs[kt] && !(kt == rsa15Alg && c.cfg.AllowRSA15) {
		return nil, federation.Refusef(id, federation.ReasonAlgorithm, "EncryptedKey: key transport %q not allowed", kt)
	}
	if len(c.cfg.EncryptionKeys) == 0 {
		return nil, federation.Refusef(id, federation.ReasonDecrypt, "encrypted assertion but no encryption_keys configured")
	}
	size := blockKeySize[attr(data.FindElement("./EncryptionMethod"), "Algorithm")].size
	var lastErr error
	for _, k := range c.cfg.EncryptionKeys {
		key, err := decryptKey(k.Key, keyEl, size)
		if err != nil {
			lastErr = err
			continue
		}
		plain, err := decryptData(key, data)
		if err != nil {
			lastErr = err
			continue
		}
		doc, err := parseValidated(plain)
		if err != nil {
			return nil, federation.Refusef(id, federation.ReasonMalformed, "decrypted assertion: %v", err)
		}
		if doc.Root() == nil {
			return nil, federation.Refusef(id, federation.ReasonMalformed, "decrypted assertion is not XML")
		}
		// The decrypted assertion is parsed on its own: re-declare the
		// namespaces it may have taken from the Response.
		return doc.Root(), nil
	}
	return nil, federation.Refusef(id, federation.ReasonDecrypt, "EncryptedAssertion: %v", lastErr)
}

func attr(el *etree.Element, name string) string {
	if el == nil {
		return ""
	}
	return el.SelectAttrValue(name, "")
}

func child(el *etree.Element, ns, tag string) *etree.Element {
	for _, c := range el.ChildElements() {
		if c.Tag == tag && c.NamespaceURI() == ns {
			return c
		}
	}
	return nil
}

func children(el *etree.Element, ns, tag string) []*etree.Element {
	var out []*etree.Element
	for _, c := range el.ChildElements() {
		if c.Tag == tag && c.NamespaceURI() == ns {
			out = append(out, c)
		}
	}
	return out
}

// unmarshal decodes el through encoding/xml. A NameID or attribute value
// split by a comment is read whole (encoding/xml concatenates character
// data around comments), which is what the signature covered. The decoder
// reads el's tokens from the tree itself: serialising el only for
// encoding/xml to lex it again was a round trip (and a tenth of a
// login's XML cost) through which the values could only change.
func unmarshal(el *etree.Element, v any) error {
	el, err := detach(el)
	if err != nil {
		return err
	}
	var toks treeTokens
	toks.add(el)
	if err := xml.NewTokenDecoder(&toks).Decode(v); err != nil {
		return fmt.Errorf("%s: %w", el.Tag, err)
	}
	return nil
}

// treeTokens hands an element's tree to encoding/xml as the raw tokens
// its serialisation would lex to (names with their prefixes, namespace
// declarations as attributes); the decoder resolves the prefixes.
type treeTokens []xml.Token

func (t *treeTokens) add(el *etree.Element) {
	start := xml.StartElement{Name: xml.Name{Space: el.Space, Local: el.Tag}, Attr: make([]xml.Attr, len(el.Attr))}
	for i, a := range el.Attr {
		start.Attr[i] = xml.Attr{Name: xml.Name{Space: a.Space, Local: a.Key}, Value: a.Value}
	}
	*t = append(*t, start)
	for _, c := range el.Child {
		switch c := c.(type) {
		case *etree.Element:
			t.add(c)
		case *etree.CharData:
			*t = append(*t, xml.CharData(c.Data))
		case *etree.Comment:
			*t = append(*t, xml.Comment(c.Data))
		case *etree.ProcInst:
			*t = append(*t, xml.ProcInst{Target: c.Target, Inst: []byte(c.Inst)})
		case *etree.Directive:
			*t = append(*t, xml.Directive(c.Data))
		}
	}
	*t = append(*t, xml.EndElement{Name: start.Name})
}

// Token implements xml.TokenReader.
func (t *treeTokens) Token() (xml.Token, error) {
	if len(*t) == 0 {
		return nil, io.EOF
	}
	tok := (*t)[0]
	*t = (*t)[1:]
	return tok, nil
}

// detach returns a copy of el that declares every namespace it uses, as
// when it is read out of its parent (an Assertion inside a Response).
func detach(el *etree.Element) (*etree.Element, error) {
	ctx, err := etreeutils.NSBuildParentContext(el)
	if err != nil {
		return nil, err
	}
	ctx, err = ctx.SubContext(el)
	if err != nil {
		return nil, err
	}
	return etreeutils.NSDetatch(ctx, el)
}
