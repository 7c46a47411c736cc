package saml

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"
	csaml "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/federation"
)

// Single logout, both ways (SAML profiles §4.4), HTTP-Redirect binding
// only: it is what EduConnect (Shibboleth) and entcore use, and the only
// binding whose signature covers the RelayState. An IdP's message may also
// arrive with the POST binding (then with an enveloped signature).
//
// The front-channel alternative is EduConnect's FrEduUrlRetour: a URL the
// browser is sent to, with no message and no answer (Config.Logout "url").

var _ federation.Logouter = (*Connector)(nil)

// logoutPending is what StartLogout remembers of our LogoutRequest.
// logoutStates suffixes the connector id of logout states, so that a
// login's state is never accepted at the logout endpoint, nor the reverse.
const logoutStates = "/logout"

type logoutPending struct {
	RequestID string `json:"request_id"`
	Next      string `json:"next"`
}

// StartLogout ends the person's session at the IdP. With Config.Logout
// "saml" (or "" when the IdP publishes a Redirect SingleLogoutService and
// the login gave a NameID) it sends a signed LogoutRequest, whose
// LogoutResponse comes back to HandleLogout; with "url" (or when no
// LogoutRequest can be sent) it sends the browser to lo.URL, the
// front-channel URL the IdP released (FrEduUrlRetour), adding next under
// Config.LogoutURLReturnParam when set. With nothing to send, the browser
// goes to next.
func (c *Connector) StartLogout(ctx context.Context, w http.ResponseWriter, r *http.Request, lo federation.Logout, next string) error {
	id := c.cfg.ID
	md, err := c.metadata(ctx)
	if err != nil {
		return federation.Refuse(id, federation.ReasonUnavailable, err)
	}
	canSAML := md.sloRedirect != "" && lo.NameID != "" && c.cfg.SLOURL != ""
	if c.cfg.Logout == "saml" && !canSAML {
		return fmt.Errorf("connector %s: logout: saml needs the IdP's Redirect SingleLogoutService (%q) and the NameID of the login (%q)", id, md.sloRedirect, lo.NameID)
	}
	if canSAML && c.cfg.Logout != "url" {
		var b [20]byte
		if _, err := io.ReadFull(c.deps.Rand, b[:]); err != nil {
			return err
		}
		reqID := "id-" + hex.EncodeToString(b[:])
		state, err := c.states.Begin(ctx, id+logoutStates, logoutPending{RequestID: reqID, Next: next})
		if err != nil {
			return err
		}
		req := csaml.LogoutRequest{
			ID: reqID, Version: "2.0", IssueInstant: c.deps.Now().UTC(), Destination: md.sloRedirect,
			Issuer: &csaml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: c.cfg.EntityID},
			NameID: &csaml.NameID{Format: lo.NameIDFormat, Value: lo.NameID, NameQualifier: lo.NameQualifier, SPNameQualifier: lo.SPNameQualifier},
		}
		if lo.SessionIndex != "" {
			req.SessionIndex = &csaml.SessionIndex{Value: lo.SessionIndex}
		}
		u, err := c.redirectURL(md.sloRedirect, "SAMLRequest", req.Element(), state)
		if err != nil {
			return fmt.Errorf("connector %s: LogoutRequest: %w", id, err)
		}
		http.Redirect(w, r, u, http.StatusFound)
		return nil
	}
	if lo.URL != "" {
		u, err := url.Parse(lo.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("connector %s: logout URL %q (attribute %s) is not an absolute http(s) URL", id, lo.URL, c.cfg.LogoutURLAttribute)
		}
		if p := c.cfg.LogoutURLReturnParam; p != "" && next != "" {
			q := u.Query()
			q.Set(p, next)
			u.RawQuery = q.Encode()
		}
		http.Redirect(w, r, u.String(), http.StatusFound)
		return nil
	}
	if next != "" {
		http.Redirect(w, r, next, http.StatusFound)
	}
	return nil
}

// HandleLogout answers the IdP's LogoutRequest (verified, then end, then a
// signed LogoutResponse redirected to the IdP) or checks its LogoutResponse
// to ours (against the request id kept with the state) and returns the
// next given to StartLogout. A LogoutResponse whose status is not success
// is refused with ReasonStatus, and next is returned with the refusal.
func (c *Connector) HandleLogout(ctx context.Context, w http.ResponseWriter, r *http.Request, end func(ctx context.Context, lo federation.Logout) error) (string, error) {
	id := c.cfg.ID
	md, err := c.metadata(ctx)
	if err != nil {
		return "", federation.Refuse(id, federation.ReasonUnavailable, err)
	}
	el, relay, err := c.readLogoutMessage(md, r)
	if err != nil {
		return "", err
	}
	switch el.Tag {
	case "LogoutRequest":
		return "", c.answerLogoutRequest(ctx, md, w, r, el, relay, end)
	case "LogoutResponse":
		return c.checkLogoutResponse(ctx, md, el, relay)
	}
	return "", federation.Refusef(id, federation.ReasonMalformed, "%s is not a LogoutRequest or LogoutResponse", el.Tag)
}

// readLogoutMessage returns the verified message and its RelayState: a
// Redirect-binding message must carry a query-string signature by the IdP,
// a POST-binding one an enveloped signature. Unsigned logout messages are
// refused: anyone could otherwise log a person out (a LogoutRequest) or
// fake the end of our logout.
func (c *Connector) readLogoutMessage(md *idp, r *http.Request) (*etree.Element, string, error) {
	id := c.cfg.ID
	var raw []byte
	var relay string
	querySigned := false
	switch r.Method {
	case http.MethodGet:
		q, err := rawQuery(r.URL.RawQuery)
		if err != nil {
			return nil, "", federation.Refusef(id, federation.ReasonMalformed, "logout query: %v", err)
		}
		param := "SAMLRequest"
		if _, ok := q["SAMLResponse"]; ok {
			param = "SAMLResponse"
		}
		if err := c.verifyRedirect(md, q, param); err != nil {
			return nil, "", err
		}
		querySigned = true
		msg, _ := url.QueryUnescape(q[param])
		compressed, err := base64.StdEncoding.DecodeString(msg)
		if err != nil {
			return nil, "", federation.Refusef(id, federation.ReasonMalformed, "%s: not base64", param)
		}
		raw, err = io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(compressed)), 1<<20))
		if err != nil {
			return nil, "", federation.Refusef(id, federation.ReasonMalformed, "%s: not DEFLATE: %v", param, err)
		}
		relay, _ = url.QueryUnescape(q["RelayState"])
	case http.MethodPost:
		r.Body = http.MaxBytesReader(nil, r.Body, 1<<20)
		if err := r.ParseForm(); err != nil {
			return nil, "", federation.Refusef(id, federation.ReasonMalformed, "form: %v", err)
		}
		msg := r.PostForm.Get("SAMLRequest")
		if msg == "" {
			msg = r.PostForm.Get("SAMLResponse")
		}
		var err error
		if raw, err = base64.StdEncoding.DecodeString(msg); err != nil || len(raw) == 0 {
			return nil, "", federation.Refusef(id, federation.ReasonMalformed, "SAMLRequest / SAMLResponse: missing or not base64")
		}
		relay = r.PostForm.Get("RelayState")
	default:
		return nil, "", federation.Refusef(id, federation.ReasonMalformed, "logout message with method %s", r.Method)
	}
	if err := validateRoundTrip(raw); err != nil {
		return nil, "", federation.Refusef(id, federation.ReasonMalformed, "logout message: %v", err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil || doc.Root() == nil {
		return nil, "", federation.Refusef(id, federation.ReasonMalformed, "logout message: not XML")
	}
	root := doc.Root()
	if root.NamespaceURI() != nsProtocol {
		return nil, "", federation.Refusef(id, federation.ReasonMalformed, "logout message %s is not in the SAML protocol namespace", root.Tag)
	}
	if !querySigned {
		if child(root, nsDSig, "Signature") == nil {
			return nil, "", federation.Refusef(id, federation.ReasonSignature, "%s is not signed", root.Tag)
		}
		v, err := c.checkSignature(md, root)
		if err != nil {
			return nil, "", err
		}
		root = v
	}
	return root, relay, nil
}

// answerLogoutRequest handles the IdP-initiated logout.
func (c *Connector) answerLogoutRequest(ctx context.Context, md *idp, w http.ResponseWriter, r *http.Request, el *etree.Element, relay string, end func(context.Context, federation.Logout) error) error {
	id, now, skew := c.cfg.ID, c.deps.Now(), c.cfg.ClockSkew
	var req csaml.LogoutRequest
	if err := unmarshal(el, &req); err != nil {
		return federation.Refusef(id, federation.ReasonMalformed, "LogoutRequest: %v", err)
	}
	if err := c.checkLogoutMessage(md, "LogoutRequest", req.Issuer, req.Destination, req.IssueInstant); err != nil {
		return err
	}
	if req.NotOnOrAfter != nil && !now.Before(req.NotOnOrAfter.Add(skew)) {
		return federation.Refusef(id, federation.ReasonExpired, "LogoutRequest expired at %s", req.NotOnOrAfter.Format(time.RFC3339))
	}
	if req.ID == "" || req.NameID == nil || strings.TrimSpace(req.NameID.Value) == "" {
		return federation.Refusef(id, federation.ReasonMalformed, "LogoutRequest without ID or NameID")
	}
	// A LogoutRequest is used once, like an assertion: a replayed one
	// could end a session opened since.
	if err := c.deps.Store.RememberAssertion(ctx, md.entityID, "logout:"+req.ID, req.IssueInstant.Add(c.cfg.MaxAge+2*skew), now); err != nil {
		if errors.Is(err, directory.ErrReplayed) {
			return federation.Refusef(id, federation.ReasonReplayed, "LogoutRequest %s already received", req.ID)
		}
		return federation.Refuse(id, federation.ReasonUnavailable, err)
	}
	lo := federation.Logout{NameID: req.NameID.Value, NameIDFormat: req.NameID.Format, NameQualifier: req.NameID.NameQualifier, SPNameQualifier: req.NameID.SPNameQualifier}
	if req.SessionIndex != nil {
		lo.SessionIndex = strings.TrimSpace(req.SessionIndex.Value)
	}
	if err := end(ctx, lo); err != nil {
		return fmt.Errorf("connector %s: LogoutRequest %s: ending the sessions: %w", id, req.ID, err)
	}
	var b [20]byte
	if _, err := io.ReadFull(c.deps.Rand, b[:]); err != nil {
		return err
	}
	dest := md.sloResponse
	resp := csaml.LogoutResponse{
		ID: "id-" + hex.EncodeToString(b[:]), InResponseTo: req.ID, Version: "2.0", IssueInstant: now.UTC(), Destination: dest,
		Issuer: &csaml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: c.cfg.EntityID},
		Status: csaml.Status{StatusCode: csaml.StatusCode{Value: csaml.StatusSuccess}},
	}
	u, err := c.redirectURL(dest, "SAMLResponse", resp.Element(), relay)
	if err != nil {
		return fmt.Errorf("connector %s: LogoutResponse: %w", id, err)
	}
	http.Redirect(w, r, u, http.StatusFound)
	return nil
}

// checkLogoutResponse checks the IdP's answer to our LogoutRequest.
func (c *Connector) checkLogoutResponse(ctx context.Context, md *idp, el *etree.Element, relay string) (string, error) {
	id := c.cfg.ID
	var p logoutPending
	if err := c.states.Take(ctx, id+logoutStates, relay, &p); err != nil {
		return "", err
	}
	var resp csaml.LogoutResponse
	if err := unmarshal(el, &resp); err != nil {
		return "", federation.Refusef(id, federation.ReasonMalformed, "LogoutResponse: %v", err)
	}
	if err := c.checkLogoutMessage(md, "LogoutResponse", resp.Issuer, resp.Destination, resp.IssueInstant); err != nil {
		return "", err
	}
	if resp.InResponseTo != p.RequestID {
		return "", federation.Refusef(id, federation.ReasonRequest, "LogoutResponse InResponseTo %q is not our LogoutRequest %q", resp.InResponseTo, p.RequestID)
	}
	if st := resp.Status.StatusCode.Value; st != csaml.StatusSuccess {
		return p.Next, federation.Refusef(id, federation.ReasonStatus, "IdP logout status %s", st)
	}
	return p.Next, nil
}

// checkLogoutMessage checks what both logout messages carry: the issuer,
// the destination (our SLO URL: a message meant for another SP is not
// replayed at ours), and the issue instant.
func (c *Connector) checkLogoutMessage(md *idp, what string, issuer *csaml.Issuer, dest string, issued time.Time) error {
	id, now, skew := c.cfg.ID, c.deps.Now(), c.cfg.ClockSkew
	if issuer == nil || issuer.Value != md.entityID {
		got := ""
		if issuer != nil {
			got = issuer.Value
		}
		return federation.Refusef(id, federation.ReasonIssuer, "%s Issuer %q is not %q", what, got, md.entityID)
	}
	if c.cfg.SLOURL == "" || dest != c.cfg.SLOURL {
		return federation.Refusef(id, federation.ReasonRecipient, "%s Destination %q is not our slo_url %q", what, dest, c.cfg.SLOURL)
	}
	if issued.IsZero() || now.Sub(issued) > c.cfg.MaxAge+skew || issued.Sub(now) > skew {
		return federation.Refusef(id, federation.ReasonExpired, "%s IssueInstant %s is outside [now-%s, now+%s]", what, issued.Format(time.RFC3339), c.cfg.MaxAge+skew, skew)
	}
	return nil
}

// redirectURL encodes el for the HTTP-Redirect binding (DEFLATE, base64)
// and signs the query string with our first signing key (bindings §3.4.4.1:
// the signature covers SAMLRequest|SAMLResponse, RelayState, SigAlg in
// that order, as they appear URL-encoded).
func (c *Connector) redirectURL(dest, param string, el *etree.Element, relay string) (string, error) {
	return signedRedirect(dest, param, el, relay, c.cfg.SigningKeys[0].Key, signatureMethods[c.cfg.SignatureAlgorithm])
}

// deflaters holds DEFLATE compressors for reuse: each owns some 650 KB of
// tables that flate.NewWriter allocates and Reset only clears, and every
// SP-initiated login encodes one AuthnRequest. A pool is state without
// meaning (any writer, once Reset, writes the same bytes).
var deflaters = sync.Pool{New: func() any {
	fw, _ := flate.NewWriter(nil, flate.DefaultCompression) // the level is valid: no error
	return fw
}}

func signedRedirect(dest, param string, el *etree.Element, relay string, key *rsa.PrivateKey, sigAlg string) (string, error) {
	doc := etree.NewDocument()
	doc.SetRoot(el)
	var buf bytes.Buffer
	fw := deflaters.Get().(*flate.Writer)
	defer deflaters.Put(fw)
	fw.Reset(&buf)
	if _, err := doc.WriteTo(fw); err != nil {
		return "", err
	}
	if err := fw.Close(); err != nil {
		return "", err
	}
	q := param + "=" + url.QueryEscape(base64.StdEncoding.EncodeToString(buf.Bytes()))
	if relay != "" {
		q += "&RelayState=" + url.QueryEscape(relay)
	}
	q += "&SigAlg=" + url.QueryEscape(sigAlg)
	h, hf, err := redirectHash(sigAlg, true)
	if err != nil {
		return "", err
	}
	h.Write([]byte(q))
	sig, err := rsa.SignPKCS1v15(nil, key, hf, h.Sum(nil))
	if err != nil {
		return "", err
	}
	q += "&Signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig))
	sep := "?"
	if strings.Contains(dest, "?") {
		sep = "&"
	}
	return dest + sep + q, nil
}

// redirectHash is the hash of a Redirect-binding SigAlg (RSA only: the
// IdPs we meet sign with RSA).
func redirectHash(sigAlg string, allowSHA1 bool) (hash.Hash, crypto.Hash, error) {
	switch sigAlg {
	case dsig.RSASHA256SignatureMethod:
		return sha256.New(), crypto.SHA256, nil
	case dsig.RSASHA512SignatureMethod:
		return sha512.New(), crypto.SHA512, nil
	case dsig.RSASHA1SignatureMethod:
		if allowSHA1 {
			return sha1.New(), crypto.SHA1, nil
		}
	}
	return nil, 0, fmt.Errorf("SigAlg %q not allowed", sigAlg)
}

// verifyRedirect checks the query-string signature of a Redirect-binding
// message against the IdP's metadata certificates, on the parameters as
// they were encoded by the IdP (re-encoding them could change the bytes).
func (c *Connector) verifyRedirect(md *idp, q map[string]string, param string) error {
	id := c.cfg.ID
	if q[param] == "" {
		return federation.Refusef(id, federation.ReasonMalformed, "no SAMLRequest or SAMLResponse in the query")
	}
	if q["Signature"] == "" || q["SigAlg"] == "" {
		return federation.Refusef(id, federation.ReasonSignature, "%s is not signed (no Signature/SigAlg in the query)", param)
	}
	sigAlg, _ := url.QueryUnescape(q["SigAlg"])
	signed := param + "=" + q[param]
	if rs, ok := q["RelayState"]; ok {
		signed += "&RelayState=" + rs
	}
	signed += "&SigAlg=" + q["SigAlg"]
	h, hf, err := redirectHash(sigAlg, c.cfg.AllowSHA1)
	if err != nil {
		return federation.Refusef(id, federation.ReasonAlgorithm, "%s: %v", param, err)
	}
	h.Write([]byte(signed))
	digest := h.Sum(nil)
	sb, _ := url.QueryUnescape(q["Signature"])
	sig, err := base64.StdEncoding.DecodeString(sb)
	if err != nil {
		return federation.Refusef(id, federation.ReasonSignature, "%s: Signature is not base64", param)
	}
	for _, cert := range md.certs {
		if pub, ok := cert.PublicKey.(*rsa.PublicKey); ok && rsa.VerifyPKCS1v15(pub, hf, digest, sig) == nil {
			return nil
		}
	}
	return federation.Refusef(id, federation.ReasonSignature, "%s: query signature does not verify with the IdP's certificates", param)
}

// rawQuery splits a query string keeping each value as sent (still
// URL-encoded); a repeated parameter is refused.
func rawQuery(q string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.Split(q, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("parameter %s repeated", k)
		}
		out[k] = v
	}
	return out, nil
}
