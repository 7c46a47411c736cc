package simulate

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/beevik/etree"
	csaml "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
)

// Single logout of the simulated SAML IdP, HTTP-Redirect binding both ways
// (what EduConnect's Shibboleth does):
//   - the SP's signed LogoutRequest ends the simulated session and is
//     answered with a signed LogoutResponse (InResponseTo its ID) sent to
//     the SP's SLO URL, with its RelayState, so the browser goes back to
//     the SP;
//   - the SLO page lists the simulated sessions and starts an IdP-initiated
//     logout of one: a signed LogoutRequest to the SP's SLO URL, whose
//     LogoutResponse comes back here.

// faceSession is a login the simulated IdP answered.
type faceSession struct {
	Person, NameID, SessionIndex string
}

// remember records the session of a Response just built.
func (f *SAMLFace) remember(s faceSession) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sessions = append(f.sessions, s)
	if len(f.sessions) > 1000 { // the benchmark logs in many times
		f.sessions = f.sessions[len(f.sessions)-1000:]
	}
}

func (f *SAMLFace) slo(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case q.Get("SAMLRequest") != "":
		f.answerLogoutRequest(w, r)
	case q.Get("SAMLResponse") != "":
		f.logoutAnswered(w, r)
	default:
		f.sloPage(w)
	}
}

// sloPage offers to log out, from the IdP, each person logged in.
func (f *SAMLFace) sloPage(w http.ResponseWriter) {
	f.mu.Lock()
	seen := map[string]bool{}
	var people []Person
	for i := len(f.sessions) - 1; i >= 0; i-- {
		s := f.sessions[i]
		if seen[s.Person] {
			continue
		}
		seen[s.Person] = true
		for _, p := range f.People {
			if p.Key == s.Person {
				people = append(people, Person{Key: p.Key, Label: "Déconnecter partout : " + p.Label})
			}
		}
	}
	f.mu.Unlock()
	text := "Aucune session de simulation ouverte. / No simulated session."
	if len(people) > 0 {
		text = "Déconnexion initiée par le fournisseur d'identité : la simulation envoie une LogoutRequest signée à l'ENT, " +
			"qui ferme les sessions ouvertes avec ce compte. / IdP-initiated logout: a signed LogoutRequest is sent to the ENT."
	}
	page(w, http.StatusOK, f.Title, text, &pageData{Action: pathOf(f.IdP.SLOURL) + "/start", People: people})
}

// startLogout sends the IdP-initiated LogoutRequest of the person's last
// session.
func (f *SAMLFace) startLogout(w http.ResponseWriter, r *http.Request) {
	who := r.PostFormValue("person")
	f.mu.Lock()
	var s *faceSession
	for i := len(f.sessions) - 1; i >= 0; i-- {
		if f.sessions[i].Person == who {
			c := f.sessions[i]
			s = &c
			f.sessions = append(f.sessions[:i], f.sessions[i+1:]...)
			break
		}
	}
	f.mu.Unlock()
	if s == nil || f.SPSLO == "" {
		page(w, http.StatusBadRequest, f.Title, "Aucune session de simulation pour ce compte. / No session for this account.", nil)
		return
	}
	id := randomID()
	req := csaml.LogoutRequest{ID: id, Version: "2.0", IssueInstant: f.now().UTC(), Destination: f.SPSLO,
		Issuer: &csaml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: f.IdP.EntityID},
		NameID: &csaml.NameID{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:transient", Value: s.NameID,
			NameQualifier: f.IdP.EntityID, SPNameQualifier: f.SPEntityID},
		SessionIndex: &csaml.SessionIndex{Value: s.SessionIndex}}
	f.mu.Lock()
	if f.pending == nil {
		f.pending = map[string]string{}
	}
	f.pending[id] = s.Person
	f.mu.Unlock()
	u, err := SignedRedirect(f.SPSLO, "SAMLRequest", req.Element(), "", f.IdP.Key)
	if err != nil {
		page(w, http.StatusInternalServerError, f.Title, err.Error(), nil)
		return
	}
	http.Redirect(w, r, u, http.StatusFound)
}

// answerLogoutRequest ends the simulated session the SP names and sends
// the browser back to the SP with a signed LogoutResponse.
func (f *SAMLFace) answerLogoutRequest(w http.ResponseWriter, r *http.Request) {
	raw, err := f.readRedirect(r, "SAMLRequest")
	if err != nil {
		page(w, http.StatusBadRequest, f.Title, err.Error(), nil)
		return
	}
	var req csaml.LogoutRequest
	if err := xml.Unmarshal(raw, &req); err != nil || req.ID == "" || req.NameID == nil {
		page(w, http.StatusBadRequest, f.Title, fmt.Sprintf("LogoutRequest illisible : %v", err), nil)
		return
	}
	if req.Issuer == nil || req.Issuer.Value != f.SPEntityID {
		page(w, http.StatusBadRequest, f.Title, fmt.Sprintf("LogoutRequest d'un fournisseur de service inconnu (attendu %q).", f.SPEntityID), nil)
		return
	}
	f.mu.Lock()
	for i := 0; i < len(f.sessions); i++ {
		s := f.sessions[i]
		if s.NameID == req.NameID.Value && (req.SessionIndex == nil || req.SessionIndex.Value == s.SessionIndex) {
			f.sessions = append(f.sessions[:i], f.sessions[i+1:]...)
			i--
		}
	}
	f.mu.Unlock()
	resp := csaml.LogoutResponse{ID: randomID(), InResponseTo: req.ID, Version: "2.0", IssueInstant: f.now().UTC(), Destination: f.SPSLO,
		Issuer: &csaml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: f.IdP.EntityID},
		Status: csaml.Status{StatusCode: csaml.StatusCode{Value: csaml.StatusSuccess}}}
	u, err := SignedRedirect(f.SPSLO, "SAMLResponse", resp.Element(), r.URL.Query().Get("RelayState"), f.IdP.Key)
	if err != nil {
		page(w, http.StatusInternalServerError, f.Title, err.Error(), nil)
		return
	}
	http.Redirect(w, r, u, http.StatusFound)
}

// logoutAnswered is the SP's LogoutResponse to an IdP-initiated logout.
func (f *SAMLFace) logoutAnswered(w http.ResponseWriter, r *http.Request) {
	raw, err := f.readRedirect(r, "SAMLResponse")
	if err != nil {
		page(w, http.StatusBadRequest, f.Title, err.Error(), nil)
		return
	}
	var resp csaml.LogoutResponse
	if err := xml.Unmarshal(raw, &resp); err != nil {
		page(w, http.StatusBadRequest, f.Title, "LogoutResponse illisible : "+err.Error(), nil)
		return
	}
	f.mu.Lock()
	_, ours := f.pending[resp.InResponseTo]
	delete(f.pending, resp.InResponseTo)
	f.mu.Unlock()
	if !ours {
		page(w, http.StatusBadRequest, f.Title, fmt.Sprintf("LogoutResponse à une demande inconnue %q.", resp.InResponseTo), nil)
		return
	}
	if resp.Status.StatusCode.Value != csaml.StatusSuccess {
		page(w, http.StatusOK, f.Title, "L'ENT a répondu : "+resp.Status.StatusCode.Value, nil)
		return
	}
	page(w, http.StatusOK, f.Title, "Déconnexion terminée : l'ENT a fermé les sessions de ce compte. / Logged out of the ENT.", nil)
}

// readRedirect decodes a Redirect-binding message, checking its query
// signature against SPCert when set.
func (f *SAMLFace) readRedirect(r *http.Request, param string) ([]byte, error) {
	if f.SPCert != nil {
		if err := VerifyRedirect(r.URL.RawQuery, param, f.SPCert); err != nil {
			return nil, err
		}
	}
	compressed, err := base64.StdEncoding.DecodeString(r.URL.Query().Get(param))
	if err != nil {
		return nil, fmt.Errorf("%s: not base64", param)
	}
	raw, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(compressed)), 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: not DEFLATE: %w", param, err)
	}
	return raw, nil
}

func (f *SAMLFace) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// SignedRedirect encodes el for the HTTP-Redirect binding (DEFLATE,
// base64) to dest, its query signed with RSA-SHA256 by key (bindings
// §3.4.4.1).
func SignedRedirect(dest, param string, el *etree.Element, relay string, key *rsa.PrivateKey) (string, error) {
	doc := etree.NewDocument()
	doc.SetRoot(el)
	raw, err := doc.WriteToBytes()
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	fw.Write(raw)
	if err := fw.Close(); err != nil {
		return "", err
	}
	q := param + "=" + url.QueryEscape(base64.StdEncoding.EncodeToString(buf.Bytes()))
	if relay != "" {
		q += "&RelayState=" + url.QueryEscape(relay)
	}
	q += "&SigAlg=" + url.QueryEscape(dsig.RSASHA256SignatureMethod)
	sum := sha256.Sum256([]byte(q))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
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

// VerifyRedirect checks the RSA-SHA256 query signature of a Redirect
// binding message, on the parameters as sent.
func VerifyRedirect(rawQuery, param string, cert *x509.Certificate) error {
	q := map[string]string{}
	for _, part := range strings.Split(rawQuery, "&") {
		k, v, _ := strings.Cut(part, "=")
		q[k] = v
	}
	if alg, _ := url.QueryUnescape(q["SigAlg"]); alg != dsig.RSASHA256SignatureMethod {
		return fmt.Errorf("%s: SigAlg %q, want RSA-SHA256", param, alg)
	}
	signed := param + "=" + q[param]
	if rs, ok := q["RelayState"]; ok {
		signed += "&RelayState=" + rs
	}
	signed += "&SigAlg=" + q["SigAlg"]
	sb, _ := url.QueryUnescape(q["Signature"])
	sig, err := base64.StdEncoding.DecodeString(sb)
	if err != nil {
		return fmt.Errorf("%s: Signature is not base64", param)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("%s: the SP's certificate is not RSA", param)
	}
	sum := sha256.Sum256([]byte(signed))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return fmt.Errorf("%s: the query signature does not verify with the SP's certificate", param)
	}
	return nil
}
