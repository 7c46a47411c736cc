package simulate

import (
	"bytes"
	"compress/flate"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"html"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Person is a simulated upstream account, offered on the simulation's
// page: click it and the simulation answers as if that person had logged
// in.
type Person struct {
	Key   string // stable, used in forms
	Label string // what the page shows ("Élève — Léa Martin, Collège Mistral")
	// NameID (SAML; default a fresh transient id) and Attributes.
	NameID     string
	Attributes []Attr
	// Claims (OIDC) of the person.
	Claims map[string]any
}

// SAMLFace serves a SIMULATED SAML identity provider over HTTP: its SSO
// endpoint (IdP.SSOURL, Redirect or POST binding) reads the AuthnRequest
// and shows People; choosing one posts a signed Response (assertion
// encrypted to EncryptTo when set) to the service provider's ACS, with the
// request's RelayState. Its SLO endpoint (IdP.SLOURL) takes part in
// single logout both ways (slo.go).
type SAMLFace struct {
	IdP *SAMLIdP
	// Title heads the page ("Simulation — EduConnect").
	Title string
	// SPEntityID, ACS: the one service provider it answers; EncryptTo its
	// encryption certificate.
	SPEntityID string
	ACS        string
	EncryptTo  *x509.Certificate
	People     []Person
	// ByID, when set, adds a form where any person is named by an
	// identifier (the load bench's thousands of generated students, too
	// many for buttons): the typed value, field "id", is given to ByID.
	ByID func(id string) (Person, bool)
	Now  func() time.Time
	// SPSLO is the service provider's single-logout URL (Redirect
	// binding), SPCert the certificate its logout messages are signed
	// with (unchecked when nil).
	SPSLO  string
	SPCert *x509.Certificate

	mu       sync.Mutex
	sessions []faceSession
	pending  map[string]string // IdP-initiated LogoutRequest id -> person
}

// Handler serves the SSO endpoint, its answer form (SSO path + "/answer")
// and the SLO endpoint.
func (f *SAMLFace) Handler() http.Handler {
	mux := http.NewServeMux()
	sso := pathOf(f.IdP.SSOURL)
	mux.HandleFunc(sso, f.sso)
	mux.HandleFunc("POST "+sso+"/answer", f.answer)
	if f.IdP.SLOURL != "" {
		mux.HandleFunc("GET "+pathOf(f.IdP.SLOURL), f.slo)
		mux.HandleFunc("POST "+pathOf(f.IdP.SLOURL)+"/start", f.startLogout)
	}
	return mux
}

func pathOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "/"
	}
	return p.Path
}

type authnRequest struct {
	ID     string `xml:"ID,attr"`
	ACS    string `xml:"AssertionConsumerServiceURL,attr"`
	Issuer string `xml:"urn:oasis:names:tc:SAML:2.0:assertion Issuer"`
}

// readAuthnRequest decodes the request of either binding.
func readAuthnRequest(r *http.Request) (authnRequest, error) {
	var req authnRequest
	raw, err := base64.StdEncoding.DecodeString(r.FormValue("SAMLRequest"))
	if err != nil || len(raw) == 0 {
		return req, fmt.Errorf("SAMLRequest: not base64")
	}
	if r.Method == http.MethodGet {
		if raw, err = io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(raw)), 1<<20)); err != nil {
			return req, fmt.Errorf("SAMLRequest: not deflated: %w", err)
		}
	}
	if err := xml.Unmarshal(raw, &req); err != nil {
		return req, fmt.Errorf("SAMLRequest: %w", err)
	}
	return req, nil
}

var pageTmpl = template.Must(template.New("p").Parse(`<!doctype html><html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:44rem;margin:1rem auto;padding:0 1rem}
.sim{background:#ffe9a8;border:3px dashed #8a5a00;padding:.75rem;font-weight:600}
ul{list-style:none;padding:0}
button{font-size:1rem;padding:.6rem 1rem;margin:.25rem 0;min-height:44px;text-align:left}
button:focus{outline:3px solid #000;outline-offset:2px}</style></head><body>
<header><p class="sim" role="note">SIMULATION — ce n'est pas le vrai service d'authentification. / This is not the real identity provider.</p></header>
<main><h1>{{.Title}}</h1><p>{{.Text}}</p>
{{if .People}}<ul>{{range .People}}<li><form method="{{if $.Get}}get{{else}}post{{end}}" action="{{$.Action}}">{{range $k, $v := $.Hidden}}<input type="hidden" name="{{$k}}" value="{{$v}}">{{end}}
<input type="hidden" name="person" value="{{.Key}}"><button type="submit">{{.Label}}</button></form></li>{{end}}</ul>{{end}}
{{if .Typed}}<form method="post" action="{{.Action}}">{{range $k, $v := .Hidden}}<input type="hidden" name="{{$k}}" value="{{$v}}">{{end}}
<label for="sim-id">Identifiant / Identifier</label> <input type="text" id="sim-id" name="id" required> <button type="submit">Se connecter / Log in</button></form>{{end}}
</main></body></html>`))

type pageData struct {
	Get, Typed          bool
	Title, Text, Action string
	Hidden              map[string]string
	People              []Person
}

func page(w http.ResponseWriter, status int, title, text string, d *pageData) {
	if d == nil {
		d = &pageData{}
	}
	d.Title, d.Text = title, text
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, d)
}

func (f *SAMLFace) sso(w http.ResponseWriter, r *http.Request) {
	req, err := readAuthnRequest(r)
	if err != nil {
		page(w, http.StatusBadRequest, f.Title, "Demande SAML illisible : "+err.Error(), nil)
		return
	}
	if req.Issuer != f.SPEntityID {
		page(w, http.StatusBadRequest, f.Title, fmt.Sprintf("Fournisseur de service inconnu : %q (attendu %q).", req.Issuer, f.SPEntityID), nil)
		return
	}
	page(w, http.StatusOK, f.Title, "Choisissez le compte de démonstration avec lequel vous connecter :", &pageData{
		Action: pathOf(f.IdP.SSOURL) + "/answer", People: f.People, Typed: f.ByID != nil,
		Hidden: map[string]string{"request_id": req.ID, "relay_state": r.FormValue("RelayState")},
	})
}

func (f *SAMLFace) answer(w http.ResponseWriter, r *http.Request) {
	var who *Person
	for i := range f.People {
		if f.People[i].Key == r.PostFormValue("person") {
			who = &f.People[i]
		}
	}
	if who == nil && f.ByID != nil && r.PostFormValue("person") == "" {
		if p, ok := f.ByID(r.PostFormValue("id")); ok {
			who = &p
		}
	}
	if who == nil {
		page(w, http.StatusBadRequest, f.Title, "Compte de démonstration inconnu.", nil)
		return
	}
	now := f.now()
	nameID := who.NameID
	if nameID == "" {
		nameID = randomID()
	}
	sess := faceSession{Person: who.Key, NameID: nameID, SessionIndex: randomID()}
	resp, err := f.IdP.Build(Response{RequestID: r.PostFormValue("request_id"), ACS: f.ACS, Audience: f.SPEntityID,
		NameID: nameID, SessionIdx: sess.SessionIndex, Attributes: who.Attributes, Now: now, EncryptTo: f.EncryptTo})
	if err != nil {
		page(w, http.StatusInternalServerError, f.Title, err.Error(), nil)
		return
	}
	f.remember(sess)
	AutoPost(w, f.ACS, map[string]string{"SAMLResponse": base64.StdEncoding.EncodeToString(resp), "RelayState": r.PostFormValue("relay_state")})
}

var postTmpl = template.Must(template.New("post").Parse(`<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>SIMULATION — envoi</title></head>
<body onload="document.forms[0].submit()"><form method="post" action="{{.Action}}">{{range $k, $v := .Fields}}<input type="hidden" name="{{$k}}" value="{{$v}}">{{end}}
<noscript><p>SIMULATION : JavaScript est désactivé, envoyez la réponse vous-même.</p></noscript><button type="submit">Continuer / Continue</button></form></body></html>`))

// AutoPost answers with a form posting fields to action (the SAML POST
// binding), submitted by the browser at once, or by its button without
// JavaScript.
func AutoPost(w http.ResponseWriter, action string, fields map[string]string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = postTmpl.Execute(w, struct {
		Action string
		Fields map[string]string
	}{action, fields})
}

// FormFields reads the hidden fields of the first form of an HTML page
// and its action: a test's browser "submitting" an auto-posted form.
func FormFields(doc string) (action string, fields url.Values) {
	fields = url.Values{}
	if i := strings.Index(doc, `action="`); i >= 0 {
		rest := doc[i+len(`action="`):]
		action = html.UnescapeString(rest[:strings.Index(rest, `"`)])
	}
	for _, part := range strings.Split(doc, "<input ")[1:] {
		name, value := attrOf(part, "name"), attrOf(part, "value")
		if name != "" {
			fields.Set(name, value)
		}
	}
	return action, fields
}

func attrOf(tag, name string) string {
	i := strings.Index(tag, name+`="`)
	if i < 0 {
		return ""
	}
	rest := tag[i+len(name)+2:]
	return html.UnescapeString(rest[:strings.Index(rest, `"`)])
}
