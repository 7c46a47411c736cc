package saml

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	csaml "github.com/crewjam/saml"
	"github.com/crewjam/saml/xmlenc"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/federation"
	"github.com/enthub/enthub/federation/simulate"
)

type keys struct {
	idpKey, spKey, encKey, evilKey     *rsa.PrivateKey
	idpCert, spCert, encCert, evilCert *x509.Certificate
}

var (
	keysOnce sync.Once
	testKeys keys
)

func getKeys(t testing.TB) keys {
	keysOnce.Do(func() {
		var err error
		k := &testKeys
		for _, p := range []struct {
			key  **rsa.PrivateKey
			cert **x509.Certificate
			name string
		}{{&k.idpKey, &k.idpCert, "idp"}, {&k.spKey, &k.spCert, "sp"}, {&k.encKey, &k.encCert, "sp-enc"}, {&k.evilKey, &k.evilCert, "evil"}} {
			if *p.key, *p.cert, err = simulate.KeyPair(p.name); err != nil {
				panic(err)
			}
		}
	})
	return testKeys
}

const (
	spEntity = "https://ent.test/auth/saml/metadata/educonnect.xml"
	acsURL   = "https://ent.test/federation/educonnect/acs"
	ectRefID = "urn:oid:1.3.6.1.4.1.20326.10.999.1.71"
	ectID    = "urn:oid:1.3.6.1.4.1.20326.10.999.1.57"
)

type harness struct {
	t     testing.TB
	now   time.Time
	idp   *simulate.SAMLIdP
	c     *Connector
	store *sqlstore.Store
	db    string
	k     keys
}

func newHarness(t testing.TB, edit func(*Config)) *harness {
	t.Helper()
	k := getKeys(t)
	h := &harness{t: t, now: time.Now().UTC().Truncate(time.Second), k: k}
	h.idp = &simulate.SAMLIdP{EntityID: "https://educonnect.simulation/idp", SSOURL: "https://educonnect.simulation/idp/profile/SAML2/Redirect/SSO",
		SLOURL: "https://educonnect.simulation/idp/profile/SAML2/Redirect/SLO", Key: k.idpKey, Cert: k.idpCert}
	h.db = "sqlite:" + filepath.Join(t.TempDir(), "e.db")
	st, err := sqlstore.Open(context.Background(), h.db, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h.store = st
	cfg := Config{
		ID: "educonnect", EntityID: spEntity, ACSURL: acsURL, IdPMetadata: h.idp.Metadata(),
		SigningKeys:      []KeyPair{{Key: k.spKey, Cert: k.spCert}},
		EncryptionKeys:   []KeyPair{{Key: k.encKey, Cert: k.encCert}},
		SubjectAttribute: "FrEduCtId",
		Attributes:       map[string]string{ectRefID: "FrEduCtRefId", ectID: "FrEduCtId"},
	}
	if edit != nil {
		edit(&cfg)
	}
	h.c = h.newConnector(cfg, st)
	return h
}

func (h *harness) newConnector(cfg Config, st *sqlstore.Store) *Connector {
	c, err := New(context.Background(), cfg, Deps{Store: st, Now: func() time.Time { return h.now }, Rand: rand.Reader})
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// start runs Start and returns the AuthnRequest id and the RelayState.
func (h *harness) start() (reqID, relay string, cookies []*http.Cookie) {
	h.t.Helper()
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "https://ent.test/login/educonnect", nil)
	if err := h.c.Start(context.Background(), w, r, "/portal"); err != nil {
		h.t.Fatal(err)
	}
	loc, err := url.Parse(w.Header().Get("Location"))
	if err != nil || w.Code != http.StatusFound {
		h.t.Fatalf("Start answered %d %q", w.Code, w.Header().Get("Location"))
	}
	raw, _ := base64.StdEncoding.DecodeString(loc.Query().Get("SAMLRequest"))
	xmlb, _ := io.ReadAll(flate.NewReader(bytes.NewReader(raw)))
	var req csaml.AuthnRequest
	if err := xml.Unmarshal(xmlb, &req); err != nil {
		h.t.Fatalf("AuthnRequest: %v\n%s", err, xmlb)
	}
	return req.ID, loc.Query().Get("RelayState"), w.Result().Cookies()
}

// valid is a response EduConnect would send for reqID: assertion signed
// and encrypted to our encryption key.
func (h *harness) valid(reqID string) simulate.Response {
	return simulate.Response{
		RequestID: reqID, ACS: acsURL, Audience: spEntity, NameID: "AAdzZWNyZXQx", Now: h.now,
		EncryptTo: h.k.encCert,
		Attributes: []simulate.Attr{
			{Name: ectID, FriendlyName: "FrEduCtId", Values: []string{"e6759833fe1875"}},
			{Name: ectRefID, Values: []string{"{AAF}02|x|2397001", "ECT1"}},
			{Name: "urn:oid:1.3.6.1.4.1.20326.10.999.1.72", FriendlyName: "FrEduCtEleveUAI", Values: []string{"0131234A"}},
		},
	}
}

func (h *harness) post(resp []byte, relay string, cookies ...*http.Cookie) (federation.Identity, string, error) {
	form := url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString(resp)}, "RelayState": {relay}}
	r := httptest.NewRequest("POST", acsURL, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return h.c.Callback(context.Background(), r)
}

func (h *harness) build(o simulate.Response) []byte {
	h.t.Helper()
	b, err := h.idp.Build(o)
	if err != nil {
		h.t.Fatal(err)
	}
	return b
}

func TestSignedEncryptedLogin(t *testing.T) {
	h := newHarness(t, nil)
	reqID, relay, cookies := h.start()
	id, next, err := h.post(h.build(h.valid(reqID)), relay, cookies...)
	if err != nil {
		t.Fatal(err)
	}
	if next != "/portal" || id.Subject != "e6759833fe1875" || id.Issuer != h.idp.EntityID || id.Connector != "educonnect" {
		t.Errorf("identity = %+v, next %q", id, next)
	}
	if got := id.Attributes["FrEduCtRefId"]; len(got) != 2 || got[0] != "{AAF}02|x|2397001" {
		t.Errorf("FrEduCtRefId (by Name) = %v", got)
	}
	if id.Get("FrEduCtEleveUAI") != "0131234A" {
		t.Errorf("FrEduCtEleveUAI (by FriendlyName) = %q", id.Get("FrEduCtEleveUAI"))
	}
	if id.Logout.NameID != "AAdzZWNyZXQx" || id.Logout.SessionIndex == "" || id.AuthTime.IsZero() {
		t.Errorf("logout data = %+v, auth time %v", id.Logout, id.AuthTime)
	}
}

func TestAcceptedVariants(t *testing.T) {
	for name, edit := range map[string]func(*simulate.Response){
		"signed response, unsigned assertion": func(o *simulate.Response) { o.SignResponse, o.NoSignAssert = true, true },
		"both signed, plaintext":              func(o *simulate.Response) { o.SignResponse, o.EncryptTo = true, nil },
		"AES-128-CBC":                         func(o *simulate.Response) { o.BlockCipher = xmlenc.AES128CBC },
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, nil)
			reqID, relay, _ := h.start()
			o := h.valid(reqID)
			edit(&o)
			if _, _, err := h.post(h.build(o), relay); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// refusal runs one attack case: the response is built from a valid one by
// edit, and must be refused with reason.
func refusal(t *testing.T, reason federation.Reason, cfg func(*Config), edit func(h *harness, o *simulate.Response)) {
	t.Helper()
	h := newHarness(t, cfg)
	reqID, relay, _ := h.start()
	o := h.valid(reqID)
	edit(h, &o)
	id, _, err := h.post(h.build(o), relay)
	if err == nil {
		t.Fatalf("accepted: %+v", id)
	}
	if got := federation.ReasonOf(err); got != reason {
		t.Fatalf("refused with %q (%v), want %q", got, err, reason)
	}
}

func TestRefusesAssertionSignedByAnotherKey(t *testing.T) {
	refusal(t, federation.ReasonSignature, nil, func(h *harness, o *simulate.Response) { o.SignWith, o.SignCert = h.k.evilKey, h.k.evilCert })
}

func TestRefusesUnsignedResponseAndAssertion(t *testing.T) {
	refusal(t, federation.ReasonSignature, nil, func(h *harness, o *simulate.Response) { o.NoSignAssert = true })
}

func TestRefusesExpiredAssertion(t *testing.T) {
	refusal(t, federation.ReasonExpired, nil, func(h *harness, o *simulate.Response) {
		o.Now = h.now.Add(-8 * time.Minute) // issued 8 min ago, valid 5 min, skew 3 min
	})
}

func TestRefusesNotYetValid(t *testing.T) {
	refusal(t, federation.ReasonExpired, nil, func(h *harness, o *simulate.Response) { o.Now = h.now.Add(5 * time.Minute) })
}

func TestClockSkewIsConfigurable(t *testing.T) {
	// 4 minutes late: refused with the default 3 min skew, accepted with 6.
	late := func(h *harness, o *simulate.Response) { o.Now, o.Lifetime = h.now.Add(-6*time.Minute), 2*time.Minute }
	refusal(t, federation.ReasonExpired, nil, late)
	h := newHarness(t, func(c *Config) { c.ClockSkew = 6 * time.Minute })
	reqID, relay, _ := h.start()
	o := h.valid(reqID)
	late(h, &o)
	if _, _, err := h.post(h.build(o), relay); err != nil {
		t.Fatalf("with clock_skew 6m: %v", err)
	}
}

func TestRefusesWrongAudience(t *testing.T) {
	refusal(t, federation.ReasonAudience, nil, func(h *harness, o *simulate.Response) { o.Audience = "https://other-ent.test/sp" })
}

func TestRefusesWrongRecipient(t *testing.T) {
	refusal(t, federation.ReasonRecipient, nil, func(h *harness, o *simulate.Response) { o.ACS = "https://other-ent.test/acs" })
}

func TestRefusesInResponseToOfAnotherRequest(t *testing.T) {
	refusal(t, federation.ReasonRequest, nil, func(h *harness, o *simulate.Response) {
		other, _, _ := h.start() // a request this browser did not make
		o.RequestID = other
	})
}

func TestRefusesWrongIssuer(t *testing.T) {
	refusal(t, federation.ReasonIssuer, nil, func(h *harness, o *simulate.Response) {
		o.EditAssertionBeforeSign = func(a *etree.Element) { a.FindElement("./Issuer").SetText("https://evil.test/idp") }
	})
}

func TestRefusesRSA15UnlessAllowed(t *testing.T) {
	refusal(t, federation.ReasonAlgorithm, nil, func(h *harness, o *simulate.Response) { o.RSA15 = true })
	h := newHarness(t, func(c *Config) { c.AllowRSA15 = true })
	reqID, relay, _ := h.start()
	o := h.valid(reqID)
	o.RSA15 = true
	if _, _, err := h.post(h.build(o), relay); err != nil {
		t.Fatalf("RSA 1.5 with allow_rsa1_5: %v", err)
	}
}

func TestRefusesSHA1UnlessAllowed(t *testing.T) {
	sha1 := func(h *harness, o *simulate.Response) {
		o.SignAlgorithm, o.Digest = dsig.RSASHA1SignatureMethod, "sha1"
	}
	refusal(t, federation.ReasonAlgorithm, nil, sha1)
	h := newHarness(t, func(c *Config) { c.AllowSHA1 = true })
	reqID, relay, _ := h.start()
	o := h.valid(reqID)
	sha1(h, &o)
	if _, _, err := h.post(h.build(o), relay); err != nil {
		t.Fatalf("SHA-1 with allow_sha1: %v", err)
	}
}

func TestRefusesPlaintextWhenEncryptionRequired(t *testing.T) {
	refusal(t, federation.ReasonDecrypt, func(c *Config) { c.RequireEncryption = true }, func(h *harness, o *simulate.Response) { o.EncryptTo = nil })
}

func TestRefusesAssertionEncryptedToAnotherKey(t *testing.T) {
	refusal(t, federation.ReasonDecrypt, nil, func(h *harness, o *simulate.Response) { o.EncryptTo = h.k.evilCert })
}

func TestRefusesReplayedAssertion(t *testing.T) {
	h := newHarness(t, nil)
	reqID, relay, _ := h.start()
	resp := h.build(h.valid(reqID))
	if _, _, err := h.post(resp, relay); err != nil {
		t.Fatal(err)
	}
	// Same response again: its state is used up.
	if _, _, err := h.post(resp, relay); federation.ReasonOf(err) != federation.ReasonState {
		t.Errorf("replay with the same RelayState = %v, want a state refusal", err)
	}
}

func TestRefusesReplayOnSecondInstance(t *testing.T) {
	// IdP-initiated, so the replay is not stopped by the one-time state but
	// by the assertion-id cache shared through the store.
	cfg := func(c *Config) { c.AllowIdPInitiated, c.DefaultNext = true, "/portal" }
	h := newHarness(t, cfg)
	o := h.valid("")
	resp := h.build(o)
	if _, _, err := h.post(resp, ""); err != nil {
		t.Fatal(err)
	}
	second, err := sqlstore.Open(context.Background(), h.db, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	other := &harness{t: t, now: h.now, idp: h.idp, k: h.k}
	other.c = other.newConnector(h.c.cfg, second)
	if _, _, err := other.post(resp, ""); federation.ReasonOf(err) != federation.ReasonReplayed {
		t.Errorf("replay on a second instance = %v, want replayed", err)
	}
}

func TestRefusesUnsolicitedWhereDisabled(t *testing.T) {
	h := newHarness(t, nil)
	_, _, err := h.post(h.build(h.valid("")), "")
	if federation.ReasonOf(err) != federation.ReasonUnsolicited {
		t.Errorf("unsolicited = %v, want unsolicited", err)
	}
}

func TestUnsolicitedWhereEnabled(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.AllowIdPInitiated, c.DefaultNext = true, "/portal" })
	id, next, err := h.post(h.build(h.valid("")), "https://target.example/")
	if err != nil || next != "/portal" || id.Subject == "" {
		t.Fatalf("unsolicited where enabled = %+v, %q, %v", id, next, err)
	}
	// Even where enabled, a response naming a request we have no state
	// for is refused.
	if _, _, err := h.post(h.build(h.valid("id-forged")), ""); err == nil {
		t.Error("unsolicited response with an InResponseTo accepted")
	}
}

func TestRefusesTamperedRelayState(t *testing.T) {
	h := newHarness(t, nil)
	reqID, relay, _ := h.start()
	tampered := relay[:len(relay)-2] + "AA"
	if _, _, err := h.post(h.build(h.valid(reqID)), tampered); federation.ReasonOf(err) != federation.ReasonState {
		t.Errorf("tampered RelayState = %v, want state", err)
	}
}

func TestRefusesRelayStateOfAnotherBrowser(t *testing.T) {
	h := newHarness(t, nil)
	reqID, relay, _ := h.start()
	_, _, mine := h.start()
	if _, _, err := h.post(h.build(h.valid(reqID)), relay, mine...); federation.ReasonOf(err) != federation.ReasonState {
		t.Errorf("callback with another login's binding cookie = %v, want state", err)
	}
}

// The comment trick: "admin@evil.test<!---->.attacker.test" signed; a
// parser taking the first text node reads "admin@evil.test". We read the
// whole signed value.
func TestCommentInjectedNameIDReadWhole(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.SubjectAttribute = "" })
	reqID, relay, _ := h.start()
	o := h.valid(reqID)
	o.NameID = "victim@ac-test.fr.attacker.test"
	o.EditAssertionBeforeSign = func(a *etree.Element) {
		n := a.FindElement("./Subject/NameID")
		n.SetText("victim@ac-test.fr")
		n.CreateComment("")
		n.CreateText(".attacker.test")
	}
	id, _, err := h.post(h.build(o), relay)
	if err != nil {
		t.Fatal(err)
	}
	if id.Subject != "victim@ac-test.fr.attacker.test" {
		t.Errorf("subject = %q, want the whole signed text", id.Subject)
	}
}

func TestMetadataPublishesKeys(t *testing.T) {
	h := newHarness(t, nil)
	b, err := h.c.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	var ed csaml.EntityDescriptor
	if err := xml.Unmarshal(b, &ed); err != nil {
		t.Fatal(err)
	}
	sp := ed.SPSSODescriptors[0]
	uses := map[string]int{}
	for _, k := range sp.KeyDescriptors {
		uses[k.Use]++
	}
	if ed.EntityID != spEntity || uses["signing"] != 1 || uses["encryption"] != 1 || sp.AssertionConsumerServices[0].Location != acsURL {
		t.Errorf("metadata: entity %q, keys %v, acs %v", ed.EntityID, uses, sp.AssertionConsumerServices)
	}
}

func TestConfigErrorsNameFields(t *testing.T) {
	c := Config{ID: "x", ACSURL: "not a url", Binding: "soap", SignatureAlgorithm: "rsa-sha1"}
	err := c.Validate()
	for _, want := range []string{"entity_id", "acs_url", "idp_metadata_file", "signing_keys", "binding", "allow_sha1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to name %s", err, want)
		}
	}
}
