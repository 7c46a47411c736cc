package saml

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	csaml "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/enthub/enthub/federation"
	"github.com/enthub/enthub/federation/simulate"
)

const sloURL = "https://ent.test/federation/educonnect/slo"

func withSLO(c *Config) { c.SLOURL = sloURL }

// loggedIn runs a login and returns its identity.
func (h *harness) loggedIn() federation.Identity {
	h.t.Helper()
	reqID, relay, cookies := h.start()
	id, _, err := h.post(h.build(h.valid(reqID)), relay, cookies...)
	if err != nil {
		h.t.Fatal(err)
	}
	return id
}

// idpSigned signs a Redirect-binding logout message as the IdP (or with key).
func (h *harness) idpSigned(param string, el *etree.Element, relay string, key *rsa.PrivateKey) *http.Request {
	h.t.Helper()
	if key == nil {
		key = h.k.idpKey
	}
	u, err := signedRedirect(sloURL, param, el, relay, key, dsig.RSASHA256SignatureMethod)
	if err != nil {
		h.t.Fatal(err)
	}
	return httptest.NewRequest("GET", u, nil)
}

// fromRedirect checks that loc is a Redirect-binding message signed by our
// SP key and decodes it.
func fromRedirect(t *testing.T, h *harness, loc, param string, v any) url.Values {
	t.Helper()
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := rawQuery(u.RawQuery)
	signed := param + "=" + raw[param]
	if rs, ok := raw["RelayState"]; ok {
		signed += "&RelayState=" + rs
	}
	signed += "&SigAlg=" + raw["SigAlg"]
	sum := sha256.Sum256([]byte(signed))
	q := u.Query()
	sig, _ := base64.StdEncoding.DecodeString(q.Get("Signature"))
	if err := rsa.VerifyPKCS1v15(&h.k.spKey.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		t.Fatalf("%s not signed by our SP key: %v", param, err)
	}
	b, _ := base64.StdEncoding.DecodeString(q.Get(param))
	x, err := io.ReadAll(flate.NewReader(bytes.NewReader(b)))
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(x, v); err != nil {
		t.Fatalf("%s: %v\n%s", param, err, x)
	}
	return q
}

// spLogout runs StartLogout and returns our LogoutRequest and RelayState.
func (h *harness) spLogout(t *testing.T, id federation.Identity) (csaml.LogoutRequest, string) {
	t.Helper()
	w := httptest.NewRecorder()
	if err := h.c.StartLogout(context.Background(), w, httptest.NewRequest("GET", "https://ent.test/logout", nil), id.Logout, "/au-revoir"); err != nil {
		t.Fatal(err)
	}
	loc := w.Header().Get("Location")
	if w.Code != http.StatusFound || !strings.HasPrefix(loc, h.idp.SLOURL+"?") {
		t.Fatalf("StartLogout answered %d %q", w.Code, loc)
	}
	var req csaml.LogoutRequest
	q := fromRedirect(t, h, loc, "SAMLRequest", &req)
	return req, q.Get("RelayState")
}

func (h *harness) logoutResponse(inResponseTo string, edit func(*csaml.LogoutResponse)) *etree.Element {
	r := csaml.LogoutResponse{ID: "_lr" + inResponseTo, InResponseTo: inResponseTo, Version: "2.0", IssueInstant: h.now, Destination: sloURL,
		Issuer: &csaml.Issuer{Value: h.idp.EntityID}, Status: csaml.Status{StatusCode: csaml.StatusCode{Value: csaml.StatusSuccess}}}
	if edit != nil {
		edit(&r)
	}
	return r.Element()
}

func noEnd(t *testing.T) func(context.Context, federation.Logout) error {
	return func(context.Context, federation.Logout) error {
		t.Error("end called for a refused message")
		return nil
	}
}

func TestSPInitiatedLogout(t *testing.T) {
	h := newHarness(t, withSLO)
	id := h.loggedIn()
	req, relay := h.spLogout(t, id)
	if req.NameID == nil || req.NameID.Value != "AAdzZWNyZXQx" || req.SessionIndex == nil || req.SessionIndex.Value != id.Logout.SessionIndex ||
		req.Issuer.Value != spEntity || req.Destination != h.idp.SLOURL {
		t.Fatalf("LogoutRequest = %+v", req)
	}
	next, err := h.c.HandleLogout(context.Background(), httptest.NewRecorder(), h.idpSigned("SAMLResponse", h.logoutResponse(req.ID, nil), relay, nil), noEnd(t))
	if err != nil || next != "/au-revoir" {
		t.Fatalf("HandleLogout(LogoutResponse) = %q, %v", next, err)
	}
}

func TestRefusesBadLogoutResponse(t *testing.T) {
	for name, tc := range map[string]struct {
		reason federation.Reason
		build  func(h *harness, reqID, relay string) *http.Request
	}{
		"replayed state": {federation.ReasonState, func(h *harness, reqID, relay string) *http.Request {
			r := h.idpSigned("SAMLResponse", h.logoutResponse(reqID, nil), relay, nil)
			if _, err := h.c.HandleLogout(context.Background(), httptest.NewRecorder(), r, nil); err != nil {
				h.t.Fatal(err)
			}
			return h.idpSigned("SAMLResponse", h.logoutResponse(reqID, nil), relay, nil)
		}},
		"unknown state": {federation.ReasonState, func(h *harness, reqID, relay string) *http.Request {
			return h.idpSigned("SAMLResponse", h.logoutResponse(reqID, nil), relay+"x", nil)
		}},
		"another request": {federation.ReasonRequest, func(h *harness, reqID, relay string) *http.Request {
			return h.idpSigned("SAMLResponse", h.logoutResponse("id-other", nil), relay, nil)
		}},
		"signed by another key": {federation.ReasonSignature, func(h *harness, reqID, relay string) *http.Request {
			return h.idpSigned("SAMLResponse", h.logoutResponse(reqID, nil), relay, h.k.evilKey)
		}},
		"tampered RelayState": {federation.ReasonSignature, func(h *harness, reqID, relay string) *http.Request {
			r := h.idpSigned("SAMLResponse", h.logoutResponse(reqID, nil), relay, nil)
			// Another last character (a random state may end in "A").
			last := "A"
			if strings.HasSuffix(relay, last) {
				last = "B"
			}
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "RelayState="+relay, "RelayState="+relay[:len(relay)-1]+last, 1)
			return r
		}},
		"unsigned": {federation.ReasonSignature, func(h *harness, reqID, relay string) *http.Request {
			r := h.idpSigned("SAMLResponse", h.logoutResponse(reqID, nil), relay, nil)
			r.URL.RawQuery = r.URL.RawQuery[:strings.Index(r.URL.RawQuery, "&SigAlg=")]
			return r
		}},
		"wrong issuer": {federation.ReasonIssuer, func(h *harness, reqID, relay string) *http.Request {
			return h.idpSigned("SAMLResponse", h.logoutResponse(reqID, func(r *csaml.LogoutResponse) { r.Issuer.Value = "https://evil.test/idp" }), relay, nil)
		}},
		"failed upstream": {federation.ReasonStatus, func(h *harness, reqID, relay string) *http.Request {
			return h.idpSigned("SAMLResponse", h.logoutResponse(reqID, func(r *csaml.LogoutResponse) { r.Status.StatusCode.Value = csaml.StatusResponder }), relay, nil)
		}},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withSLO)
			req, relay := h.spLogout(t, h.loggedIn())
			_, err := h.c.HandleLogout(context.Background(), httptest.NewRecorder(), tc.build(h, req.ID, relay), noEnd(t))
			if got := federation.ReasonOf(err); got != tc.reason {
				t.Errorf("refused with %q (%v), want %q", got, err, tc.reason)
			}
		})
	}
}

func (h *harness) logoutRequest(edit func(*csaml.LogoutRequest)) *etree.Element {
	r := csaml.LogoutRequest{ID: "_idplr1", Version: "2.0", IssueInstant: h.now, Destination: sloURL,
		Issuer:       &csaml.Issuer{Value: h.idp.EntityID},
		NameID:       &csaml.NameID{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:transient", Value: "AAdzZWNyZXQx"},
		SessionIndex: &csaml.SessionIndex{Value: "_session1"}}
	if edit != nil {
		edit(&r)
	}
	return r.Element()
}

func TestIdPInitiatedLogout(t *testing.T) {
	h := newHarness(t, withSLO)
	var ended []federation.Logout
	end := func(_ context.Context, lo federation.Logout) error { ended = append(ended, lo); return nil }
	w := httptest.NewRecorder()
	next, err := h.c.HandleLogout(context.Background(), w, h.idpSigned("SAMLRequest", h.logoutRequest(nil), "idp-relay", nil), end)
	if err != nil || next != "" {
		t.Fatalf("HandleLogout(LogoutRequest) = %q, %v", next, err)
	}
	if len(ended) != 1 || ended[0].NameID != "AAdzZWNyZXQx" || ended[0].SessionIndex != "_session1" {
		t.Fatalf("end called with %+v", ended)
	}
	if w.Code != http.StatusFound || !strings.HasPrefix(w.Header().Get("Location"), h.idp.SLOURL+"?") {
		t.Fatalf("answer %d %q", w.Code, w.Header().Get("Location"))
	}
	var resp csaml.LogoutResponse
	q := fromRedirect(t, h, w.Header().Get("Location"), "SAMLResponse", &resp)
	if resp.InResponseTo != "_idplr1" || resp.Status.StatusCode.Value != csaml.StatusSuccess || q.Get("RelayState") != "idp-relay" || resp.Issuer.Value != spEntity {
		t.Errorf("LogoutResponse = %+v, RelayState %q", resp, q.Get("RelayState"))
	}
}

func TestIdPInitiatedLogoutEndFailureAnswersNothing(t *testing.T) {
	h := newHarness(t, withSLO)
	w := httptest.NewRecorder()
	_, err := h.c.HandleLogout(context.Background(), w, h.idpSigned("SAMLRequest", h.logoutRequest(nil), "", nil),
		func(context.Context, federation.Logout) error { return errors.New("store down") })
	if err == nil || w.Header().Get("Location") != "" {
		t.Errorf("end failed: err %v, answered %q", err, w.Header().Get("Location"))
	}
}

func TestRefusesBadIdPLogoutRequest(t *testing.T) {
	for name, tc := range map[string]struct {
		reason federation.Reason
		build  func(h *harness) *http.Request
	}{
		"unsigned (Redirect)": {federation.ReasonSignature, func(h *harness) *http.Request {
			r := h.idpSigned("SAMLRequest", h.logoutRequest(nil), "", nil)
			r.URL.RawQuery = r.URL.RawQuery[:strings.Index(r.URL.RawQuery, "&SigAlg=")]
			return r
		}},
		"unsigned (POST)": {federation.ReasonSignature, func(h *harness) *http.Request {
			doc := etree.NewDocument()
			doc.SetRoot(h.logoutRequest(nil))
			b, _ := doc.WriteToBytes()
			r := httptest.NewRequest("POST", sloURL, strings.NewReader(url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(b)}}.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}},
		"signed by another key": {federation.ReasonSignature, func(h *harness) *http.Request {
			return h.idpSigned("SAMLRequest", h.logoutRequest(nil), "", h.k.evilKey)
		}},
		"SHA-1 signature": {federation.ReasonAlgorithm, func(h *harness) *http.Request {
			u, _ := signedRedirect(sloURL, "SAMLRequest", h.logoutRequest(nil), "", h.k.idpKey, dsig.RSASHA1SignatureMethod)
			return httptest.NewRequest("GET", u, nil)
		}},
		"wrong issuer": {federation.ReasonIssuer, func(h *harness) *http.Request {
			return h.idpSigned("SAMLRequest", h.logoutRequest(func(r *csaml.LogoutRequest) { r.Issuer.Value = "https://other.test/idp" }), "", nil)
		}},
		"wrong destination": {federation.ReasonRecipient, func(h *harness) *http.Request {
			return h.idpSigned("SAMLRequest", h.logoutRequest(func(r *csaml.LogoutRequest) { r.Destination = "https://other-sp.test/slo" }), "", nil)
		}},
		"expired NotOnOrAfter": {federation.ReasonExpired, func(h *harness) *http.Request {
			past := h.now.Add(-10 * time.Minute)
			return h.idpSigned("SAMLRequest", h.logoutRequest(func(r *csaml.LogoutRequest) { r.NotOnOrAfter = &past }), "", nil)
		}},
		"old IssueInstant": {federation.ReasonExpired, func(h *harness) *http.Request {
			return h.idpSigned("SAMLRequest", h.logoutRequest(func(r *csaml.LogoutRequest) { r.IssueInstant = h.now.Add(-time.Hour) }), "", nil)
		}},
		"replayed": {federation.ReasonReplayed, func(h *harness) *http.Request {
			if _, err := h.c.HandleLogout(context.Background(), httptest.NewRecorder(), h.idpSigned("SAMLRequest", h.logoutRequest(nil), "", nil),
				func(context.Context, federation.Logout) error { return nil }); err != nil {
				h.t.Fatal(err)
			}
			return h.idpSigned("SAMLRequest", h.logoutRequest(nil), "", nil)
		}},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withSLO)
			w := httptest.NewRecorder()
			_, err := h.c.HandleLogout(context.Background(), w, tc.build(h), noEnd(t))
			if got := federation.ReasonOf(err); got != tc.reason {
				t.Errorf("refused with %q (%v), want %q", got, err, tc.reason)
			}
			if w.Header().Get("Location") != "" {
				t.Errorf("a refused LogoutRequest was answered: %s", w.Header().Get("Location"))
			}
		})
	}
}

func TestFrontChannelLogoutURL(t *testing.T) {
	const retour = "https://educonnect.simulation/Shibboleth.sso/Logout?x=1"
	h := newHarness(t, func(c *Config) {
		withSLO(c)
		c.Logout, c.LogoutURLAttribute, c.LogoutURLReturnParam = "url", "FrEduUrlRetour", "return"
	})
	reqID, relay, cookies := h.start()
	o := h.valid(reqID)
	o.Attributes = append(o.Attributes, simulate.Attr{Name: "urn:oid:1.3.6.1.4.1.20326.10.999.1.5", FriendlyName: "FrEduUrlRetour", Values: []string{retour}})
	id, _, err := h.post(h.build(o), relay, cookies...)
	if err != nil {
		t.Fatal(err)
	}
	if id.Logout.URL != retour {
		t.Fatalf("Logout.URL = %q", id.Logout.URL)
	}
	w := httptest.NewRecorder()
	if err := h.c.StartLogout(context.Background(), w, httptest.NewRequest("GET", "https://ent.test/logout", nil), id.Logout, "https://ent.test/au-revoir"); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(w.Header().Get("Location"))
	if !strings.HasPrefix(u.String(), "https://educonnect.simulation/Shibboleth.sso/Logout?") || u.Query().Get("return") != "https://ent.test/au-revoir" || u.Query().Get("x") != "1" || u.Query().Get("SAMLRequest") != "" {
		t.Errorf("front-channel logout went to %s", u)
	}
	// A URL that is not http(s) (from a tampered or odd attribute) is
	// never a redirect target.
	id.Logout.URL = "javascript:alert(1)"
	w = httptest.NewRecorder()
	if err := h.c.StartLogout(context.Background(), w, httptest.NewRequest("GET", "https://ent.test/logout", nil), id.Logout, "/"); err == nil || w.Header().Get("Location") != "" {
		t.Errorf("javascript: logout URL: err %v, Location %q", err, w.Header().Get("Location"))
	}
}

func TestLogoutConfigErrors(t *testing.T) {
	c := Config{ID: "x", Logout: "soap"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "logout") {
		t.Errorf("Validate() = %v, want it to name logout", err)
	}
	c = Config{ID: "x", Logout: "url"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "logout_url_attribute") {
		t.Errorf("Validate() = %v, want it to name logout_url_attribute", err)
	}
}
