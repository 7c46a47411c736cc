package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/guests"
	"github.com/enthub/enthub/idp/sso"
	"github.com/enthub/enthub/portal/lang"
)

//go:embed templates/principal/*.html
var principalFiles embed.FS

// Sessions gives the request's SSO session (idp.Provider does).
type Sessions interface {
	CurrentSession(r *http.Request) *sso.Session
}

// PrincipalRule says which personas open the principal's console: those
// with one of Profiles, or with one of Functions among their AAF
// functions (the SDET's DIR family: DIR, DEC, DECPR, DSES map to the
// National_DIR profile, which the import turns into "direction").
type PrincipalRule struct {
	Profiles  []directory.Profile
	Functions []string
}

// DefaultPrincipalRule opens the console to the direction profile.
var DefaultPrincipalRule = PrincipalRule{Profiles: []directory.Profile{directory.ProfileDirection}}

// Allows reports whether the persona is a principal of its structure.
func (pr PrincipalRule) Allows(p directory.Persona) bool {
	if slices.Contains(pr.Profiles, p.Profile) {
		return true
	}
	for _, f := range p.Functions {
		if slices.Contains(pr.Functions, f.Code) {
			return true
		}
	}
	return false
}

// Mailer sends a plain-text mail; SMTPMailer is the net/smtp one.
type Mailer interface {
	Send(ctx context.Context, to, subject, body string) error
}

// PrincipalOptions wire the principal's console.
type PrincipalOptions struct {
	Guests    *guests.Service
	Directory directory.Reader
	Sessions  Sessions
	// Rule says who is a principal (default DefaultPrincipalRule).
	Rule *PrincipalRule
	// Mailer sends activation links to guests with an e-mail address;
	// nil when no relay is configured: the code is then only printed.
	Mailer Mailer
	// PublicURL is enthub's public address, the base of the activation
	// link, of the console's routes and of the login page.
	PublicURL string
	// Location is the site's zone (the configuration's time_zone), which
	// guests' dates are read and shown in; default Europe/Paris, UTC when
	// the zone database is missing.
	Location *time.Location
	Now      func() time.Time
	Logger   *slog.Logger
}

// Principal is the principal's console and the guests' activation page.
type Principal struct {
	o     PrincipalOptions
	pages *Pages
	base  string // path of PublicURL
	rule  PrincipalRule
}

// NewPrincipal builds the principal's console on the layout.
func NewPrincipal(l *Layout, o PrincipalOptions) (*Principal, error) {
	if o.Guests == nil || o.Directory == nil || o.Sessions == nil {
		return nil, errors.New("console: Guests, Directory and Sessions are required")
	}
	pages, err := l.Pages(principalFiles, principalTexts, "templates/principal/*.html")
	if err != nil {
		return nil, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Location == nil {
		o.Location = DefaultLocation()
	}
	p := &Principal{o: o, pages: pages, rule: DefaultPrincipalRule}
	if o.Rule != nil {
		p.rule = *o.Rule
	}
	if u, err := url.Parse(o.PublicURL); err == nil {
		p.base = strings.TrimRight(u.Path, "/")
	}
	return p, nil
}

// Routes mounts the console (under /console/) and the activation page
// (/activation) on mux, under the path of PublicURL.
//
//	GET  /console/                      → the guest list
//	GET  /console/guests                the school's guests
//	GET  /console/guests/new            creation form
//	POST /console/guests                create: shows the printable code
//	GET  /console/guests/{id}           one guest: extend, new code, revoke
//	POST /console/guests/{id}/extend
//	POST /console/guests/{id}/code      new code: shows the printable code
//	POST /console/guests/{id}/revoke
//	GET|POST /activation                the guest sets a password (?code=)
func (p *Principal) Routes(mux *http.ServeMux) {
	b := p.base
	mux.HandleFunc("GET "+b+"/console/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, p.url("/console/guests"), http.StatusSeeOther)
	})
	mux.HandleFunc("GET "+b+"/console/guests", p.principal(p.list))
	mux.HandleFunc("GET "+b+"/console/guests/new", p.principal(p.newForm))
	mux.HandleFunc("POST "+b+"/console/guests", p.principal(p.create))
	mux.HandleFunc("GET "+b+"/console/guests/{id}", p.principal(p.show))
	mux.HandleFunc("POST "+b+"/console/guests/{id}/extend", p.principal(p.extend))
	mux.HandleFunc("POST "+b+"/console/guests/{id}/code", p.principal(p.reissue))
	mux.HandleFunc("POST "+b+"/console/guests/{id}/revoke", p.principal(p.revoke))
	mux.HandleFunc(b+"/activation", p.activation)
}

func (p *Principal) url(path string) string { return p.base + path }

// who is the signed-in principal of a request.
type who struct {
	sess  *sso.Session
	actor guests.Actor
	name  string
	csrf  string
}

// principal checks, on every request, that the session's persona is a
// principal of its school; the handler then acts for that school only.
func (p *Principal) principal(h func(http.ResponseWriter, *http.Request, who)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := p.o.Sessions.CurrentSession(r)
		if sess == nil {
			http.Redirect(w, r, p.url("/login"), http.StatusSeeOther)
			return
		}
		ctx := r.Context()
		var persona *directory.Persona
		if sess.PersonaID != "" {
			pas, err := p.o.Directory.Personas(ctx, sess.PersonID)
			if err != nil {
				p.o.Logger.Error("console: personas", "person", sess.PersonID, "err", err)
				http.Error(w, "directory unavailable", http.StatusServiceUnavailable)
				return
			}
			for i := range pas {
				if pas[i].ID == sess.PersonaID {
					persona = &pas[i]
				}
			}
		}
		if persona == nil || !p.rule.Allows(*persona) {
			p.deny(ctx, r, sess)
			p.pages.Render(w, r, "message.html", Page{Status: http.StatusForbidden, TitleKey: "forbidden.title",
				Data: message{TextKey: "forbidden.text", Link: p.url("/login/persona"), LinkKey: "forbidden.switch"}})
			return
		}
		name := ""
		if per, err := p.o.Directory.Person(ctx, sess.PersonID); err == nil {
			name = strings.TrimSpace(per.FirstName + " " + per.LastName)
		}
		u := who{sess: sess, name: name, csrf: SessionCSRF(sess.ID),
			actor: guests.Actor{ID: sess.AccountID, StructureID: persona.StructureID, Remote: remoteIP(r)}}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil || !CheckSessionCSRF(r, sess.ID) {
				p.audit(ctx, directory.Event{Type: "console.csrf", AccountID: sess.AccountID, StructureID: persona.StructureID,
					Outcome: "refused", Reason: "csrf token missing or wrong", Remote: remoteIP(r), Details: map[string]string{"path": r.URL.Path}})
				p.pages.Render(w, r, "message.html", Page{Status: http.StatusForbidden, TitleKey: "console.errors.title",
					Errors: []FieldError{{Key: "err.csrf"}}, Nav: p.nav(""), User: name,
					Data: message{Link: p.url("/console/guests"), LinkKey: "guest.back"}})
				return
			}
		}
		h(w, r, u)
	}
}

// deny audits a refused visit of the console.
func (p *Principal) deny(ctx context.Context, r *http.Request, sess *sso.Session) {
	p.audit(ctx, directory.Event{Type: "console.denied", AccountID: sess.AccountID, StructureID: sess.StructureID,
		Profile: directory.Profile(sess.Profile), Outcome: "refused", Reason: "not a principal", Remote: remoteIP(r),
		Details: map[string]string{"path": r.URL.Path}})
}

func (p *Principal) audit(ctx context.Context, e directory.Event) {
	e.Time = p.o.Now().UTC()
	err := p.o.Guests.Store.Update(ctx, func(tx directory.Tx) error { return tx.AppendEvents(ctx, e) })
	if err != nil {
		p.o.Logger.Error("console: audit event not recorded", "type", e.Type, "err", err)
	}
}

func remoteIP(r *http.Request) string {
	if i := strings.LastIndexByte(r.RemoteAddr, ':'); i > 0 {
		return strings.Trim(r.RemoteAddr[:i], "[]")
	}
	return r.RemoteAddr
}

func (p *Principal) nav(current string) []NavItem {
	items := []NavItem{
		{Href: p.url("/console/guests"), Key: "nav.guests"},
		{Href: p.url("/console/guests/new"), Key: "nav.new"},
		{Href: p.url("/mydata"), Key: "nav.mydata"},
	}
	for i := range items {
		items[i].Current = items[i].Key == current
	}
	return items
}

// message is the data of message.html.
type message struct {
	TextKey string
	Arg     string
	Link    string
	LinkKey string
}

// row is a guest as the pages show it, dates written for the reader.
type row struct {
	guests.Guest
	Name, From, Until, State, Href string
	// UntilValue is the last valid day, as a date input's value.
	UntilValue string
}

func (p *Principal) row(r *http.Request, g guests.Guest) row {
	last := g.ValidUntil.In(p.o.Location).Add(-time.Nanosecond)
	return row{Guest: g, Name: strings.TrimSpace(g.FirstName + " " + g.LastName),
		From: p.date(r, g.ValidFrom), Until: p.date(r, last), State: g.State(p.o.Now()),
		Href: p.url("/console/guests/" + url.PathEscape(g.AccountID)), UntilValue: last.Format(time.DateOnly)}
}

// date writes a day as the page's language reads it.
func (p *Principal) date(r *http.Request, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(p.o.Location)
	if lang.Of(r) == "en" {
		return t.Format(time.DateOnly)
	}
	return t.Format("02/01/2006")
}

// parseDay reads a date field (YYYY-MM-DD from a date input, or
// DD/MM/YYYY typed by hand) as the start of that day; end gives the start
// of the next day, so that an end date is included.
func (p *Principal) parseDay(v string, end bool) (time.Time, string) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, "required"
	}
	for _, layout := range []string{time.DateOnly, "02/01/2006", "2/1/2006"} {
		if t, err := time.ParseInLocation(layout, v, p.o.Location); err == nil {
			if end {
				t = t.AddDate(0, 0, 1)
			}
			return t, ""
		}
	}
	return time.Time{}, "bad_date"
}

// fieldErrors turns a service's refused fields (guests', spaces') into the
// page's, each keyed "err.<field>.<code>" in the page's catalogue; ok is
// false for an error that refuses no field.
func fieldErrors(err error) ([]FieldError, bool) {
	var fe directory.FieldErrors
	if !errors.As(err, &fe) {
		return nil, false
	}
	out := make([]FieldError, 0, len(fe))
	for _, e := range fe {
		out = append(out, FieldError{Field: e.Field, Key: "err." + e.Field + "." + e.Code})
	}
	return out, true
}

type listData struct {
	School string
	Rows   []row
	New    string
}

func (p *Principal) schoolName(ctx context.Context, id string) string {
	st, err := p.o.Directory.Structure(ctx, id)
	if err != nil {
		return id
	}
	if st.UAI != "" {
		return st.Name + " (" + st.UAI + ")"
	}
	return st.Name
}

func (p *Principal) list(w http.ResponseWriter, r *http.Request, u who) {
	gs, err := p.o.Guests.List(r.Context(), u.actor)
	if err != nil {
		p.fail(w, r, u, "list guests", err)
		return
	}
	d := listData{School: p.schoolName(r.Context(), u.actor.StructureID), New: p.url("/console/guests/new")}
	for _, g := range gs {
		d.Rows = append(d.Rows, p.row(r, g))
	}
	notice := ""
	switch r.URL.Query().Get("done") {
	case "revoked":
		notice = "notice.revoked"
	}
	p.pages.Render(w, r, "guests.html", Page{TitleKey: "guests.title", Nav: p.nav("nav.guests"), User: u.name, CSRF: u.csrf, NoticeKey: notice, Data: d})
}

func (p *Principal) fail(w http.ResponseWriter, r *http.Request, u who, what string, err error) {
	p.o.Logger.Error("console: "+what, "structure", u.actor.StructureID, "err", err)
	http.Error(w, "service unavailable", http.StatusServiceUnavailable)
}

// form is the creation form's values, kept when it is shown again.
type form struct {
	FirstName, LastName, Email, Role, From, Until string
	Action                                        string
}

func (p *Principal) newForm(w http.ResponseWriter, r *http.Request, u who) {
	today := p.o.Now().In(p.o.Location)
	f := form{From: today.Format(time.DateOnly), Action: p.url("/console/guests")}
	p.pages.Render(w, r, "new.html", Page{TitleKey: "new.title", Nav: p.nav("nav.new"), User: u.name, CSRF: u.csrf, Data: f})
}

func (p *Principal) create(w http.ResponseWriter, r *http.Request, u who) {
	f := form{FirstName: r.PostFormValue("first_name"), LastName: r.PostFormValue("last_name"), Email: r.PostFormValue("email"),
		Role: r.PostFormValue("role"), From: r.PostFormValue("from"), Until: r.PostFormValue("until"), Action: p.url("/console/guests")}
	n := guests.NewGuest{FirstName: f.FirstName, LastName: f.LastName, Email: f.Email, Role: f.Role}
	var dateErrs []FieldError
	var code string
	if n.From, code = p.parseDay(f.From, false); code == "bad_date" {
		dateErrs = append(dateErrs, FieldError{Field: "from", Key: "err.from.bad_date"})
	}
	if n.Until, code = p.parseDay(f.Until, true); code == "bad_date" {
		dateErrs = append(dateErrs, FieldError{Field: "until", Key: "err.until.bad_date"})
	}
	iss, err := p.o.Guests.Create(r.Context(), u.actor, n)
	if fe, ok := fieldErrors(err); ok || len(dateErrs) > 0 {
		errs := mergeErrors(fe, dateErrs)
		p.pages.Render(w, r, "new.html", Page{Status: http.StatusBadRequest, TitleKey: "new.title", Nav: p.nav("nav.new"),
			User: u.name, CSRF: u.csrf, Errors: errs, Data: f})
		return
	}
	if err != nil {
		p.fail(w, r, u, "create guest", err)
		return
	}
	p.sheet(w, r, u, iss)
}

// mergeErrors keeps one error per field, the date parser's first (a date
// that does not parse is not "required"), in form order.
func mergeErrors(svc, dates []FieldError) []FieldError {
	order := []string{"first_name", "last_name", "email", "role", "from", "until"}
	byField := map[string]FieldError{}
	for _, e := range append(dates, svc...) {
		if _, ok := byField[e.Field]; !ok {
			byField[e.Field] = e
		}
	}
	var out []FieldError
	for _, f := range order {
		if e, ok := byField[f]; ok {
			out = append(out, e)
		}
	}
	return out
}

type sheetData struct {
	row
	Code, CodeUntil, Link, Activation string
	Mailed, MailFailed                bool
	Back                              string
}

// sheet shows the printable activation code, and mails the link when a
// relay is configured and the guest has an address.
func (p *Principal) sheet(w http.ResponseWriter, r *http.Request, u who, iss guests.Issued) {
	rw := p.row(r, iss.Guest)
	act := strings.TrimRight(p.o.PublicURL, "/") + "/activation"
	d := sheetData{row: rw, Code: iss.Code, CodeUntil: p.date(r, iss.ExpiresAt) + " " + iss.ExpiresAt.In(p.o.Location).Format("15:04"),
		Activation: act, Link: act + "?code=" + url.QueryEscape(iss.Code), Back: p.url("/console/guests")}
	if p.o.Mailer != nil && iss.Guest.Email != "" {
		body := fmt.Sprintf(p.pages.Text(r, "mail.body"), rw.Name, iss.Guest.Login, iss.Code, d.CodeUntil, d.Link)
		if err := p.o.Mailer.Send(r.Context(), iss.Guest.Email, p.pages.Text(r, "mail.subject"), body); err != nil {
			p.o.Logger.Warn("console: activation mail not sent", "guest", iss.Guest.Login, "err", err)
			d.MailFailed = true
		} else {
			d.Mailed = true
		}
	}
	title := fmt.Sprintf(p.pages.Text(r, "sheet.title"), rw.Name)
	p.pages.Render(w, r, "sheet.html", Page{Title: title, Nav: p.nav(""), User: u.name, Data: d})
}

type guestData struct {
	row
	Extend, Code, Revoke, Back string
	UntilInput                 string // the extend form's value
}

// guest loads a guest of the principal's school for a page; another
// school's guest, or an unknown id, gives the same 404.
func (p *Principal) guest(w http.ResponseWriter, r *http.Request, u who) (guests.Guest, bool) {
	id := r.PathValue("id")
	gs, err := p.o.Guests.List(r.Context(), u.actor)
	if err != nil {
		p.fail(w, r, u, "list guests", err)
		return guests.Guest{}, false
	}
	for _, g := range gs {
		if g.AccountID == id {
			return g, true
		}
	}
	p.notFound(w, r, u)
	return guests.Guest{}, false
}

func (p *Principal) notFound(w http.ResponseWriter, r *http.Request, u who) {
	p.pages.Render(w, r, "message.html", Page{Status: http.StatusNotFound, TitleKey: "notfound.title", Nav: p.nav(""), User: u.name,
		Data: message{TextKey: "notfound.text", Link: p.url("/console/guests"), LinkKey: "guest.back"}})
}

func (p *Principal) showGuest(w http.ResponseWriter, r *http.Request, u who, g guests.Guest, status int, errs []FieldError, notice, until string) {
	rw := p.row(r, g)
	if until == "" {
		until = rw.UntilValue
	}
	d := guestData{row: rw, Extend: rw.Href + "/extend", Code: rw.Href + "/code", Revoke: rw.Href + "/revoke",
		Back: p.url("/console/guests"), UntilInput: until}
	title := fmt.Sprintf(p.pages.Text(r, "guest.title"), rw.Name)
	p.pages.Render(w, r, "guest.html", Page{Status: status, Title: title, Nav: p.nav(""), User: u.name, CSRF: u.csrf,
		Errors: errs, NoticeKey: notice, Data: d})
}

func (p *Principal) show(w http.ResponseWriter, r *http.Request, u who) {
	g, ok := p.guest(w, r, u)
	if !ok {
		return
	}
	notice := ""
	if r.URL.Query().Get("done") == "extended" {
		notice = "notice.extended"
	}
	p.showGuest(w, r, u, g, http.StatusOK, nil, notice, "")
}

// refusal answers a refused action: 404 for a guest out of reach, the
// guest's page with the reason otherwise.
func (p *Principal) refusal(w http.ResponseWriter, r *http.Request, u who, err error) {
	switch {
	case errors.Is(err, guests.ErrNotFound):
		p.notFound(w, r, u)
	case errors.Is(err, guests.ErrRevoked), errors.Is(err, guests.ErrGuestExpired):
		g, ok := p.guest(w, r, u)
		if !ok {
			return
		}
		key := "err.guest_revoked"
		if errors.Is(err, guests.ErrGuestExpired) {
			key = "err.guest_expired"
		}
		p.showGuest(w, r, u, g, http.StatusConflict, []FieldError{{Key: key}}, "", "")
	default:
		p.fail(w, r, u, "guest action", err)
	}
}

func (p *Principal) extend(w http.ResponseWriter, r *http.Request, u who) {
	id := r.PathValue("id")
	v := r.PostFormValue("until")
	until, code := p.parseDay(v, true)
	var err error
	if code == "" {
		_, err = p.o.Guests.Extend(r.Context(), u.actor, id, until)
	}
	errs, isField := fieldErrors(err)
	if code != "" {
		errs, isField = []FieldError{{Field: "until", Key: "err.until." + code}}, true
	}
	if isField {
		g, ok := p.guest(w, r, u)
		if !ok {
			return
		}
		p.showGuest(w, r, u, g, http.StatusBadRequest, errs, "", v)
		return
	}
	if err != nil {
		p.refusal(w, r, u, err)
		return
	}
	http.Redirect(w, r, p.url("/console/guests/"+url.PathEscape(id)+"?done=extended"), http.StatusSeeOther)
}

func (p *Principal) revoke(w http.ResponseWriter, r *http.Request, u who) {
	if _, err := p.o.Guests.Revoke(r.Context(), u.actor, r.PathValue("id")); err != nil {
		p.refusal(w, r, u, err)
		return
	}
	http.Redirect(w, r, p.url("/console/guests?done=revoked"), http.StatusSeeOther)
}

func (p *Principal) reissue(w http.ResponseWriter, r *http.Request, u who) {
	iss, err := p.o.Guests.Reissue(r.Context(), u.actor, r.PathValue("id"))
	if err != nil {
		p.refusal(w, r, u, err)
		return
	}
	p.sheet(w, r, u, iss)
}

type activationData struct {
	Action, Code string
	Login        string
	LoginURL     string
}

// activation is the guest's page: the code (from the link or typed) and
// the password twice. It needs no session.
func (p *Principal) activation(w http.ResponseWriter, r *http.Request) {
	secure := strings.HasPrefix(p.o.PublicURL, "https:")
	d := activationData{Action: p.url("/activation"), Code: r.URL.Query().Get("code")}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		p.pages.Render(w, r, "activation.html", Page{TitleKey: "activation.title", CSRF: anonCSRF(w, r, secure), Data: d})
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	_ = r.ParseForm()
	d.Code = r.PostFormValue("code")
	page := Page{Status: http.StatusBadRequest, TitleKey: "activation.title", Data: d}
	if !checkAnonCSRF(r) {
		page.Status, page.Errors = http.StatusForbidden, []FieldError{{Key: "err.csrf"}}
		page.CSRF = anonCSRF(w, r, secure)
		p.pages.Render(w, r, "activation.html", page)
		return
	}
	g, err := p.o.Guests.Activate(r.Context(), d.Code, r.PostFormValue("password"), r.PostFormValue("confirm"), remoteIP(r))
	if err == nil {
		d := activationData{Login: g.Login, LoginURL: p.url("/login")}
		p.pages.Render(w, r, "activated.html", Page{TitleKey: "activated.title", Data: d})
		return
	}
	page.CSRF = anonCSRF(w, r, secure)
	if fe, ok := fieldErrors(err); ok {
		page.Errors = fe
	} else {
		key := ""
		switch {
		case errors.Is(err, guests.ErrCodeInvalid):
			key = "err.code_invalid"
		case errors.Is(err, guests.ErrCodeExpired):
			key = "err.code_expired"
		case errors.Is(err, guests.ErrRevoked):
			key = "err.guest_revoked"
		case errors.Is(err, guests.ErrGuestExpired):
			key = "err.guest_expired"
		default:
			p.o.Logger.Error("console: activation", "err", err)
			http.Error(w, "service unavailable", http.StatusServiceUnavailable)
			return
		}
		page.Errors = []FieldError{{Field: "code", Key: key}}
	}
	p.pages.Render(w, r, "activation.html", page)
}

// DefaultLocation is the pages' time zone when their wiring gives none:
// the site's default (config time_zone), Europe/Paris, or UTC on a
// system without the zone database. The server always passes the
// configured zone; this serves tests and embedders.
func DefaultLocation() *time.Location {
	if loc, err := time.LoadLocation("Europe/Paris"); err == nil {
		return loc
	}
	return time.UTC
}
