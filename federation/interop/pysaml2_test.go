// Package interop logs in through the connectors against third-party
// upstreams that share no code with enthub: pysaml2's IdP (SAML) and panva's
// oidc-provider (OIDC), started by test/peer. A missing peer skips these
// tests with a loud reason, and fails them under CI.
package interop

import (
	"context"
	"crypto/rand"
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
	cfg, _ := preset.EduConnect(saml.Config{ID: "educonnect", EntityID: spEntity, ACSURL: acsURL,
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
