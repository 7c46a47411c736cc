// Package interop logs in through the connectors against third-party
// upstreams that share no code with enthub: pysaml2's IdP (SAML) and panva's
// oidc-provider (OIDC), started by test/peer. A missing peer skips these
// tests with a loud reason, and fails them under CI.
package interop

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/federation"
	"github.com/enthub/enthub/federation/preset"
	"github.com/enthub/enthub/federation/saml"
	"github.com/enthub/enthub/federation/simulate"
	"github.com/enthub/enthub/test/peer"
)

const (
	spEntity = "https://ent.test/auth/saml/metadata/educonnect.xml"
	acsURL   = "https://ent.test/federation/educonnect/acs"
	sloURL   = "https://ent.test/federation/educonnect/slo"
	oid      = "urn:oid:1.3.6.1.4.1.20326.10.999.1."
)

func store(t *testing.T) *sqlstore.Store {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "e.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func deps(st *sqlstore.Store) federation.Deps {
	return federation.Deps{Store: st, Now: time.Now, Rand: rand.Reader}
}

// educonnectAgainstPySAML2 configures an EduConnect connector (the preset)
// towards a pysaml2 IdP encrypting with cipher.
func educonnectAgainstPySAML2(t *testing.T, cipher string) (*saml.Connector, *peer.PySAML2) {
	t.Helper()
	signKey, signCert, err := simulate.KeyPair("sp")
	if err != nil {
		t.Fatal(err)
	}
	encKey, encCert, err := simulate.KeyPair("sp-enc")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := preset.EduConnect(saml.Config{ID: "educonnect", EntityID: spEntity, ACSURL: acsURL, SLOURL: sloURL,
		SigningKeys:    []saml.KeyPair{{Key: signKey, Cert: signCert}},
		EncryptionKeys: []saml.KeyPair{{Key: encKey, Cert: encCert}}})
	st := store(t)
	// Our SP metadata does not depend on the IdP: a placeholder IdP gives
	// it before pysaml2, which needs it, is started.
	placeholder := cfg
	ph := &simulate.SAMLIdP{EntityID: "https://placeholder.test/idp", SSOURL: "https://placeholder.test/sso", Key: signKey, Cert: signCert}
	placeholder.IdPMetadata = ph.Metadata()
	pc, err := saml.New(context.Background(), placeholder, deps(st))
	if err != nil {
		t.Fatal(err)
	}
	spMD, err := pc.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	idp := peer.PySAML2IdP(t, peer.PySAML2Options{SPMetadata: spMD, Cipher: cipher, Users: map[string]map[string][]string{
		"lea.martin": {
			oid + "57":         {"e6759833fe1875aa"},
			oid + "7":          {"eleve2d"},
			oid + "72":         {"0131234A"},
			"FrEduCtRefId":     {"{AAF}02|x|2397001", "ECT1"},
			"urn:oid:2.5.4.4":  {"MARTIN"},
			"urn:oid:2.5.4.42": {"Léa"},
			oid + "5":          {"https://educonnect.education.gouv.fr/Logout"},
		},
	}})
	cfg.IdPMetadataURL = idp.URL + "/metadata"
	c, err := saml.New(context.Background(), cfg, deps(st))
	if err != nil {
		t.Fatalf("connector towards pysaml2: %v", err)
	}
	return c, idp
}

// samlLogin plays the browser: Start, the IdP's login form, its
// auto-posted Response, our Callback.
func samlLogin(t *testing.T, c federation.Connector) (federation.Identity, string, error) {
	t.Helper()
	w := httptest.NewRecorder()
	if err := c.Start(context.Background(), w, httptest.NewRequest("GET", "https://ent.test/login/educonnect", nil), "/portail"); err != nil {
		t.Fatal(err)
	}
	browser := peer.NewBrowser()
	loc, err := url.Parse(w.Header().Get("Location"))
	if err != nil || w.Code != http.StatusFound {
		t.Fatalf("Start answered %d %q", w.Code, w.Header().Get("Location"))
	}
	page := get(t, browser, loc)
	login, err := peer.ParseForm(loc, page)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := login.Request()
	resp, err := browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("IdP login: %s\n%s", resp.Status, body)
	}
	post, err := peer.ParseForm(login.Action, body)
	if err != nil {
		t.Fatal(err)
	}
	if post.Action.String() != acsURL || post.Method != http.MethodPost || post.Values.Get("SAMLResponse") == "" {
		t.Fatalf("IdP posts %s %s with %v", post.Method, post.Action, post.Values)
	}
	cb := httptest.NewRequest("POST", acsURL, strings.NewReader(post.Values.Encode()))
	cb.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, ck := range w.Result().Cookies() {
		cb.AddCookie(ck)
	}
	return c.Callback(context.Background(), cb)
}

func get(t *testing.T, c *http.Client, u *url.URL) []byte {
	t.Helper()
	resp, err := c.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", u, resp.Status, b)
	}
	return b
}

func TestEduConnectLoginThroughPySAML2(t *testing.T) {
	for _, cipher := range []string{"aes256-cbc", "aes128-gcm", "aes256-gcm"} {
		t.Run(cipher, func(t *testing.T) {
			c, idp := educonnectAgainstPySAML2(t, cipher)
			id, next, err := samlLogin(t, c)
			if err != nil {
				t.Fatalf("login through pysaml2: %v", err)
			}
			if next != "/portail" || id.Issuer != idp.EntityID || id.Subject != "e6759833fe1875aa" {
				t.Errorf("identity = %+v, next %q", id, next)
			}
			for name, want := range map[string]string{"FrEduCtPersonAffiliation": "eleve2d", "FrEduCtEleveUAI": "0131234A", "sn": "MARTIN", "givenName": "Léa"} {
				if got := id.Get(name); got != want {
					t.Errorf("%s = %q, want %q (attributes %v)", name, got, want, id.Attributes)
				}
			}
			if got := id.Attributes["FrEduCtRefId"]; len(got) != 2 || got[0] != "{AAF}02|x|2397001" {
				t.Errorf("FrEduCtRefId = %v", got)
			}
			if id.Logout.NameID == "" || id.Logout.URL != "https://educonnect.education.gouv.fr/Logout" {
				t.Errorf("logout = %+v", id.Logout)
			}
		})
	}
}

// redirectTo follows one redirect of the browser and returns where it
// leads.
func redirectTo(t *testing.T, b *http.Client, u string) *url.URL {
	t.Helper()
	resp, err := b.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("GET %s: %s, want a redirect\n%s", u, resp.Status, body)
	}
	next, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return next
}

type pyEvent struct {
	Event        string   `json:"event"`
	NameID       string   `json:"name_id"`
	SessionIndex []string `json:"session_index"`
	InResponseTo string   `json:"in_response_to"`
	Status       string   `json:"status"`
	Signed       bool     `json:"signed"`
}

func pyEvents(t *testing.T, idp *peer.PySAML2, kind string) []pyEvent {
	t.Helper()
	u, _ := url.Parse(idp.URL + "/events")
	var all, out []pyEvent
	if err := json.Unmarshal(get(t, peer.NewBrowser(), u), &all); err != nil {
		t.Fatal(err)
	}
	for _, e := range all {
		if e.Event == kind {
			out = append(out, e)
		}
	}
	return out
}

func TestSingleLogoutWithPySAML2(t *testing.T) {
	c, idp := educonnectAgainstPySAML2(t, "aes256-cbc")
	b := peer.NewBrowser()

	// SP-initiated: our signed LogoutRequest, pysaml2's signed
	// LogoutResponse back to our SLO endpoint.
	id, _, err := samlLogin(t, c)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	if err := c.StartLogout(context.Background(), w, httptest.NewRequest("GET", "https://ent.test/logout", nil), id.Logout, "/au-revoir"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(w.Header().Get("Location"), idp.URL+"/slo?") {
		t.Fatalf("StartLogout went to %q", w.Header().Get("Location"))
	}
	back := redirectTo(t, b, w.Header().Get("Location"))
	if !strings.HasPrefix(back.String(), sloURL+"?") {
		t.Fatalf("pysaml2 answered to %s", back)
	}
	next, err := c.HandleLogout(context.Background(), httptest.NewRecorder(), httptest.NewRequest("GET", back.String(), nil), nil)
	if err != nil || next != "/au-revoir" {
		t.Fatalf("pysaml2's LogoutResponse: %q, %v", next, err)
	}
	if ev := pyEvents(t, idp, "logout_request"); len(ev) != 1 || ev[0].NameID != id.Logout.NameID || len(ev[0].SessionIndex) != 1 || ev[0].SessionIndex[0] != id.Logout.SessionIndex {
		t.Errorf("pysaml2 received %+v, want NameID %q and session %q", ev, id.Logout.NameID, id.Logout.SessionIndex)
	}

	// IdP-initiated: pysaml2's signed LogoutRequest ends our session; our
	// signed LogoutResponse is accepted by pysaml2.
	id, _, err = samlLogin(t, c)
	if err != nil {
		t.Fatal(err)
	}
	in := redirectTo(t, b, idp.URL+"/logout?user=lea.martin")
	if !strings.HasPrefix(in.String(), sloURL+"?") {
		t.Fatalf("pysaml2's LogoutRequest went to %s", in)
	}
	var ended []federation.Logout
	w = httptest.NewRecorder()
	_, err = c.HandleLogout(context.Background(), w, httptest.NewRequest("GET", in.String(), nil), func(_ context.Context, lo federation.Logout) error {
		ended = append(ended, lo)
		return nil
	})
	if err != nil || len(ended) != 1 || ended[0].NameID != id.Logout.NameID {
		t.Fatalf("pysaml2's LogoutRequest: ended %+v, %v (want NameID %q)", ended, err, id.Logout.NameID)
	}
	if !strings.HasPrefix(w.Header().Get("Location"), idp.URL+"/slo?") {
		t.Fatalf("our LogoutResponse went to %q", w.Header().Get("Location"))
	}
	u, _ := url.Parse(w.Header().Get("Location"))
	get(t, b, u)
	if ev := pyEvents(t, idp, "logout_response"); len(ev) != 1 || !ev[0].Signed || ev[0].Status != "urn:oasis:names:tc:SAML:2.0:status:Success" {
		t.Errorf("pysaml2 read our LogoutResponse as %+v", ev)
	}

	// The same LogoutRequest again is a replay.
	_, err = c.HandleLogout(context.Background(), httptest.NewRecorder(), httptest.NewRequest("GET", in.String(), nil), func(context.Context, federation.Logout) error {
		t.Error("a replayed LogoutRequest ended a session")
		return nil
	})
	if federation.ReasonOf(err) != federation.ReasonReplayed {
		t.Errorf("replayed LogoutRequest = %v", err)
	}
}
