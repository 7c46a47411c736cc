// Package demorp holds the demo relying parties of `enthub demo`: a CAS
// service, an OIDC client and a SAML service provider, mounted under
// /demo/ on the same server, that log in through enthub and show what
// they received — so a newcomer sees single sign-on end to end before any
// upstream login exists. It also seeds the demo guest account.
//
// Wiring (cmd/enthub demo):
//
//	d, _ := demorp.New(publicURL, nil)
//	cfg.Services = append(cfg.Services, d.Services()...)
//	p, _ := idp.New(ctx, cfg, deps)
//	p.Routes(mux); d.Routes(mux)
//	_ = demorp.SeedGuest(ctx, store, time.Now())   // demo.invite / demo
package demorp

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"html/template"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/crewjam/saml"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/enthub/enthub/idp"
)

// Demo is the three demo relying parties.
type Demo struct {
	base   string // PublicURL
	client *http.Client
	secret string // OIDC client secret, random per start
	sp     *saml.ServiceProvider

	mu    sync.Mutex
	idpMD *saml.EntityDescriptor
}

// The demo services' ids, client id and entity id.
const (
	CASServiceID  = "demo-cas"
	OIDCServiceID = "demo-oidc"
	SAMLServiceID = "demo-saml"
	OIDCClientID  = "enthub-demo"
)

// New makes the demo relying parties for an enthub reachable at publicURL
// (its own server: the relying parties call it back for validation).
func New(publicURL string, client *http.Client) (*Demo, error) {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	base := strings.TrimRight(publicURL, "/")
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: "enthub demo SP"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	acs, _ := url.Parse(base + "/demo/saml/acs")
	md, _ := url.Parse(base + "/demo/saml/metadata")
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return &Demo{base: base, client: client, secret: base64.RawURLEncoding.EncodeToString(b),
		sp: &saml.ServiceProvider{Key: key, Certificate: cert, AcsURL: *acs, MetadataURL: *md}}, nil
}

// Services returns the registrations to add to idp.Config.Services.
func (d *Demo) Services() []idp.Service {
	mdXML, _ := xml.Marshal(d.sp.Metadata())
	everything := []idp.AttributeRule{
		{Source: "person.last_name", Name: "nom"},
		{Source: "person.first_name", Name: "prenom"},
		{Source: "person.birth_date", Name: "dateNaissance", DateLayout: "02/01/2006"},
		{Source: "persona.profile", Name: "profil"},
		{Source: "persona.uai", Name: "uai"},
		{Source: "personas.profile", Name: "categories", Join: ";", MapStrict: true, Map: map[string]string{
			"eleve": "National_1", "parent": "National_2", "enseignant": "National_3", "documentaliste": "National_3",
			"direction": "National_4", "vie_scolaire": "National_4", "personnel": "National_4"}},
	}
	return []idp.Service{
		{ID: CASServiceID, Name: "Démo CAS (comme Pronote)", Protocol: idp.ProtocolCAS,
			Release: idp.ReleasePolicy{Principal: "account.login", Attributes: everything},
			Tile: idp.Tile{Label: "Vie scolaire (démo CAS)", Description: "Ce que reçoit une application CAS, comme Pronote",
				URL: d.base + "/demo/cas/", Icon: "calendar", Category: "Vie scolaire"},
			CAS: idp.CASService{ServicePatterns: []string{"^" + regexp.QuoteMeta(d.base+"/demo/cas/") + "$"}, SingleLogout: true}},
		{ID: OIDCServiceID, Name: "Démo OpenID Connect", Protocol: idp.ProtocolOIDC,
			Release: idp.ReleasePolicy{Principal: "pairwise", Attributes: []idp.AttributeRule{
				{Source: "person.first_name", Name: "given_name", Scope: "profile"},
				{Source: "person.last_name", Name: "family_name", Scope: "profile"},
				{Source: "account.login", Name: "preferred_username", Scope: "profile"},
				{Source: "person.email", Name: "email", Scope: "email"},
				{Source: "persona.profile", Name: "profile_code"},
				{Source: "persona.uai", Name: "uai"},
			}},
			Tile: idp.Tile{Label: "Messagerie (démo OIDC)", Description: "Ce que reçoit une application OpenID Connect",
				URL: d.base + "/demo/oidc/", Icon: "mail", Category: "Communication"},
			OIDC: idp.OIDCService{ClientID: OIDCClientID, ClientSecret: d.secret, RedirectURIs: []string{d.base + "/demo/oidc/callback"},
				PostLogoutRedirectURIs: []string{d.base + "/demo/"}}},
		{ID: SAMLServiceID, Name: "Démo SAML (comme le GAR)", Protocol: idp.ProtocolSAML,
			Release: idp.ReleasePolicy{Attributes: []idp.AttributeRule{
				{Source: "const:ENT-DEMO", Name: "idEnt", NameFormat: "basic"},
				{Source: "person.id", Name: "GARPersonIdentifiant", NameFormat: "basic"},
				{Source: "person.last_name", Name: "urn:oid:2.5.4.4", FriendlyName: "sn"},
				{Source: "person.first_name", Name: "urn:oid:2.5.4.42", FriendlyName: "givenName"},
			}},
			Tile: idp.Tile{Label: "Ressources (démo SAML)", Description: "Ce que reçoit un fournisseur de services SAML, comme le GAR",
				URL: d.base + "/demo/saml/", Icon: "library", Category: "Ressources"},
			SAML: idp.SAMLService{EntityID: d.sp.MetadataURL.String(), MetadataXML: string(mdXML), IdPInitiated: true,
				RelayStates: []string{"^" + regexp.QuoteMeta(d.base+"/demo/") + ".*$"}}},
	}
}

// Routes mounts the demo pages under /demo/.
func (d *Demo) Routes(mux *http.ServeMux) {
	p := pathOf(d.base)
	mux.HandleFunc(p+"/demo/{$}", d.start)
	mux.HandleFunc(p+"/demo/cas/", d.cas)
	mux.HandleFunc(p+"/demo/oidc/", d.oidcStart)
	mux.HandleFunc(p+"/demo/oidc/callback", d.oidcCallback)
	mux.HandleFunc(p+"/demo/saml/", d.samlStart)
	mux.HandleFunc(p+"/demo/saml/acs", d.samlACS)
	mux.HandleFunc(p+"/demo/saml/metadata", func(w http.ResponseWriter, _ *http.Request) {
		b, _ := xml.MarshalIndent(d.sp.Metadata(), "", "  ")
		w.Header().Set("Content-Type", "application/samlmetadata+xml")
		w.Write(b)
	})
}

func pathOf(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	return strings.TrimRight(u.Path, "/")
}

var pageTmpl = template.Must(template.New("p").Parse(`<!doctype html><html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{.Title}} — démo enthub</title>
<style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:1rem auto;padding:0 1rem;line-height:1.5}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #929292;padding:.4rem;text-align:left;vertical-align:top}
code{word-break:break-all}a{color:#000091}</style></head><body><main>
<h1>{{.Title}}</h1>{{if .Intro}}<p>{{.Intro}}</p>{{end}}
{{if .Error}}<p role="alert"><strong>Erreur :</strong> {{.Error}}</p>{{end}}
{{if .Rows}}<table><caption>Ce que l'application a reçu d'enthub</caption><thead><tr><th scope="col">Nom</th><th scope="col">Valeur</th></tr></thead><tbody>
{{range .Rows}}<tr><th scope="row"><code>{{.K}}</code></th><td><code>{{.V}}</code></td></tr>{{end}}</tbody></table>{{end}}
{{if .Links}}<ul>{{range .Links}}<li><a href="{{.V}}">{{.K}}</a></li>{{end}}</ul>{{end}}
{{if .Raw}}<details><summary>Réponse brute</summary><pre><code>{{.Raw}}</code></pre></details>{{end}}
<p><a href="{{.Home}}">Retour aux démonstrations</a> · <a href="{{.Logout}}">Se déconnecter de l'ENT</a></p>
</main></body></html>`))

type kv struct{ K, V string }

type view struct {
	Title, Intro, Error, Raw, Home, Logout string
	Rows, Links                            []kv
}

func (d *Demo) render(w http.ResponseWriter, v view) {
	v.Home, v.Logout = d.base+"/demo/", d.base+"/logout"
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = pageTmpl.Execute(w, v)
}

func (d *Demo) start(w http.ResponseWriter, _ *http.Request) {
	var links []kv
	for _, s := range d.Services() {
		links = append(links, kv{s.Name + " — " + s.Tile.Description, s.Tile.URL})
	}
	links = append(links, kv{"Connexion GAR-style (SAML initiée par l'ENT)", d.base + "/saml/idp/sso?providerId=" + url.QueryEscape(d.sp.MetadataURL.String()) + "&RelayState=" + url.QueryEscape(d.base+"/demo/saml/")})
	d.render(w, view{Title: "Démonstration de l'authentification unique", Intro: "Compte de démonstration : demo.invite / demo. " +
		"Connectez-vous une fois, puis ouvrez les trois applications sans ressaisir de mot de passe.", Links: links})
}

// --- CAS -----------------------------------------------------------------------

func (d *Demo) cas(w http.ResponseWriter, r *http.Request) {
	service := d.base + "/demo/cas/"
	if r.Method == http.MethodPost && r.FormValue("logoutRequest") != "" {
		return // single logout: nothing to end, the demo keeps no session
	}
	ticket := r.URL.Query().Get("ticket")
	if ticket == "" {
		http.Redirect(w, r, d.base+"/cas/login?service="+url.QueryEscape(service), http.StatusFound)
		return
	}
	resp, err := d.client.Get(d.base + "/cas/p3/serviceValidate?service=" + url.QueryEscape(service) + "&ticket=" + url.QueryEscape(ticket))
	if err != nil {
		d.render(w, view{Title: "Démo CAS", Error: err.Error()})
		return
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var sr struct {
		User  string `xml:"authenticationSuccess>user"`
		Attrs struct {
			Any []struct {
				XMLName xml.Name
				Value   string `xml:",chardata"`
			} `xml:",any"`
		} `xml:"authenticationSuccess>attributes"`
		Failure string `xml:"authenticationFailure"`
	}
	_ = xml.Unmarshal(raw, &sr)
	v := view{Title: "Démo CAS", Intro: "Ticket validé par /cas/p3/serviceValidate.", Raw: string(raw)}
	if sr.User == "" {
		v.Error = strings.TrimSpace(sr.Failure)
	} else {
		v.Rows = append(v.Rows, kv{"cas:user", sr.User})
		for _, a := range sr.Attrs.Any {
			v.Rows = append(v.Rows, kv{"cas:" + a.XMLName.Local, a.Value})
		}
	}
	d.render(w, v)
}

// --- OIDC ----------------------------------------------------------------------

func randomString() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (d *Demo) oidcStart(w http.ResponseWriter, r *http.Request) {
	state, verifier := randomString(), randomString()+randomString()
	sum := sha256.Sum256([]byte(verifier))
	http.SetCookie(w, &http.Cookie{Name: "demo_oidc", Value: state + "." + verifier, Path: pathOf(d.base) + "/demo/oidc/",
		HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 600, Secure: strings.HasPrefix(d.base, "https:")})
	q := url.Values{"client_id": {OIDCClientID}, "redirect_uri": {d.base + "/demo/oidc/callback"}, "response_type": {"code"},
		"scope": {"openid profile email"}, "state": {state}, "nonce": {randomString()},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	http.Redirect(w, r, d.base+"/oidc/authorize?"+q.Encode(), http.StatusFound)
}

func (d *Demo) oidcCallback(w http.ResponseWriter, r *http.Request) {
	v := view{Title: "Démo OpenID Connect"}
	c, err := r.Cookie("demo_oidc")
	state, verifier, _ := strings.Cut(func() string {
		if err != nil {
			return ""
		}
		return c.Value
	}(), ".")
	if state == "" || r.URL.Query().Get("state") != state {
		v.Error = "state absent ou différent : recommencez depuis la page de démonstration"
		d.render(w, v)
		return
	}
	if e := r.URL.Query().Get("error"); e != "" {
		v.Error = e + " : " + r.URL.Query().Get("error_description")
		d.render(w, v)
		return
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {r.URL.Query().Get("code")},
		"redirect_uri": {d.base + "/demo/oidc/callback"}, "code_verifier": {verifier}}
	req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, d.base+"/oidc/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(OIDCClientID, d.secret)
	resp, err := d.client.Do(req)
	if err != nil {
		v.Error = err.Error()
		d.render(w, v)
		return
	}
	defer resp.Body.Close()
	var tr struct {
		IDToken     string `json:"id_token"`
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tr)
	if tr.IDToken == "" {
		v.Error = tr.Error + " " + tr.Description
		d.render(w, v)
		return
	}
	claims, err := d.verify(tr.IDToken)
	if err != nil {
		v.Error = "jeton d'identité invalide : " + err.Error()
		d.render(w, v)
		return
	}
	v.Intro = "Jeton d'identité vérifié avec les clés publiées (/oidc/keys)."
	keys := make([]string, 0, len(claims))
	for k := range claims {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v.Rows = append(v.Rows, kv{"id_token." + k, claimText(k, claims[k])})
	}
	v.Raw = tr.IDToken
	d.render(w, v)
}

func (d *Demo) verify(raw string) (map[string]any, error) {
	resp, err := d.client.Get(d.base + "/oidc/keys")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var ks jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&ks); err != nil {
		return nil, err
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, err
	}
	k := ks.Key(jws.Signatures[0].Header.KeyID)
	if len(k) == 0 {
		return nil, fmt.Errorf("clé %q inconnue", jws.Signatures[0].Header.KeyID)
	}
	payload, err := jws.Verify(k[0].Key)
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	dec := json.NewDecoder(strings.NewReader(string(payload)))
	dec.UseNumber() // 1790000000, not 1.79e+09
	return m, dec.Decode(&m)
}

// timeClaims are the claims that hold a time as seconds since 1970 (RFC 7519
// and OpenID Connect Core).
var timeClaims = map[string]bool{"exp": true, "iat": true, "nbf": true, "auth_time": true, "updated_at": true}

// claimText shows a claim's value as a person reads it: a time claim as a
// date in UTC followed by its raw value, a number as written in the token.
func claimText(name string, v any) string {
	if n, ok := v.(json.Number); ok && timeClaims[name] {
		if sec, err := n.Int64(); err == nil {
			return time.Unix(sec, 0).UTC().Format("02/01/2006 15:04:05") + " UTC (" + n.String() + ")"
		}
	}
	return fmt.Sprint(v)
}

// --- SAML ----------------------------------------------------------------------

func (d *Demo) metadata() (*saml.EntityDescriptor, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.idpMD != nil {
		return d.idpMD, nil
	}
	resp, err := d.client.Get(d.base + "/saml/idp/metadata")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	md := &saml.EntityDescriptor{}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err := xml.Unmarshal(b, md); err != nil {
		return nil, err
	}
	d.idpMD = md
	return md, nil
}

func (d *Demo) spWith(md *saml.EntityDescriptor) *saml.ServiceProvider {
	sp := *d.sp
	sp.IDPMetadata = md
	sp.AllowIDPInitiated = true
	return &sp
}

func (d *Demo) samlStart(w http.ResponseWriter, r *http.Request) {
	md, err := d.metadata()
	if err != nil {
		d.render(w, view{Title: "Démo SAML", Error: err.Error()})
		return
	}
	sp := d.spWith(md)
	req, err := sp.MakeAuthenticationRequest(sp.GetSSOBindingLocation(saml.HTTPRedirectBinding), saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	if err != nil {
		d.render(w, view{Title: "Démo SAML", Error: err.Error()})
		return
	}
	u, err := req.Redirect("", sp)
	if err != nil {
		d.render(w, view{Title: "Démo SAML", Error: err.Error()})
		return
	}
	// Same site as enthub: the POST to the ACS is same-site, Lax is enough.
	http.SetCookie(w, &http.Cookie{Name: "demo_saml", Value: req.ID, Path: pathOf(d.base) + "/demo/saml/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: strings.HasPrefix(d.base, "https:"), MaxAge: 600})
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (d *Demo) samlACS(w http.ResponseWriter, r *http.Request) {
	v := view{Title: "Démo SAML"}
	md, err := d.metadata()
	if err != nil {
		v.Error = err.Error()
		d.render(w, v)
		return
	}
	sp := d.spWith(md)
	var ids []string
	if c, err := r.Cookie("demo_saml"); err == nil {
		ids = append(ids, c.Value)
	}
	if err := r.ParseForm(); err != nil {
		v.Error = err.Error()
		d.render(w, v)
		return
	}
	raw, _ := base64.StdEncoding.DecodeString(r.PostForm.Get("SAMLResponse"))
	a, err := sp.ParseXMLResponse(raw, ids, sp.AcsURL)
	if err != nil {
		v.Error = "réponse SAML refusée : " + err.Error()
		if ie, ok := err.(*saml.InvalidResponseError); ok {
			v.Error += " (" + ie.PrivateErr.Error() + ")"
		}
		d.render(w, v)
		return
	}
	v.Intro = "Assertion signée vérifiée avec le certificat de /saml/idp/metadata."
	v.Rows = append(v.Rows, kv{"NameID (" + a.Subject.NameID.Format + ")", a.Subject.NameID.Value})
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			var vals []string
			for _, x := range at.Values {
				vals = append(vals, x.Value)
			}
			name := at.Name
			if at.FriendlyName != "" {
				name += " (" + at.FriendlyName + ")"
			}
			v.Rows = append(v.Rows, kv{name, strings.Join(vals, ", ")})
		}
	}
	if rs := r.PostForm.Get("RelayState"); rs != "" {
		v.Rows = append(v.Rows, kv{"RelayState", rs})
	}
	v.Raw = string(raw)
	d.render(w, v)
}
