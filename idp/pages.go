package idp

import (
	"fmt"
	"html/template"
	"net/http"
	"time"
)

// Pages renders the pages the identity provider shows. The portal
// implements it (portal/loginui, templates embedded, French first); the
// identity provider only decides what is shown.
type Pages interface {
	Login(w http.ResponseWriter, r *http.Request, v LoginView)
	Personas(w http.ResponseWriter, r *http.Request, v PersonaView)
	Message(w http.ResponseWriter, r *http.Request, v MessageView)
	// Chooser is the login entry: the profile (step 1), then the method
	// when the profile has several (step 2).
	Chooser(w http.ResponseWriter, r *http.Request, v ChooserView)
}

// ChooserView is the login chooser. Profile empty: step 1, Profiles
// listed; else step 2, Methods of that profile listed.
type ChooserView struct {
	Status   int
	Request  string
	Service  string
	Profile  string
	Profiles []ChooserLink
	Methods  []ChooserLink
	Back     string // step 2: back to step 1
}

// ChooserLink is one choice of the chooser: a profile code or a method
// (label given) and where it leads.
type ChooserLink struct {
	Code  string
	Label string
	URL   string
	Last  bool // the choice remembered on this device, listed first
}

// The chooser's memory on the device: first-party cookies scoped to
// /login, holding a profile code and a connector id, never who the person
// is. The chooser sets the profile one; the portal's launcher sets the
// method one from the session's upstream.
const (
	ChooserProfileCookie = "enthub_profile"
	ChooserMethodCookie  = "enthub_method"
)

// Login error codes (LoginView.Error).
const (
	LoginErrBadCredentials = "bad_credentials" // wrong login or password (never says which)
	LoginErrThrottled      = "throttled"       // too many failures: wait RetryAfter
	LoginErrLocked         = "locked"          // locked for RetryAfter
	LoginErrCSRF           = "csrf"            // the form expired or came from elsewhere
	LoginErrRequired       = "required"        // login or password empty
)

// LoginView is the local login form.
type LoginView struct {
	Status     int    // HTTP status to answer with
	Action     string // where the form posts
	CSRF       string // hidden field "csrf"
	Request    string // hidden field "req": the parked request, if any
	Login      string // prefilled login
	Error      string // one of LoginErr*, or empty
	RetryAfter time.Duration
	Service    string // name of the service that asked, if any
}

// PersonaView is the persona (school and profile) chooser.
type PersonaView struct {
	Action   string
	CSRF     string
	Request  string
	Service  string
	Choices  []PersonaChoice
	Status   int
	Error    string
	Username string
}

// PersonaChoice is one persona the user may act as.
type PersonaChoice struct {
	ID            string
	Profile       string // profile code: eleve, parent, enseignant…
	StructureName string
	City          string // the structure's town, to tell two Collèges Jean Moulin apart
	UAI           string
	Current       bool
	// Children are, for a parent persona, the names of the parent's
	// children who are students of that structure.
	Children []string
	// Account names the account the persona belongs to when the login
	// linked several (a principal who is also a parent): its login.
	Account string
}

// Message codes (MessageView.Code).
const (
	MsgUnknownService   = "unknown_service"   // Detail: the service URL, entity ID or client ID
	MsgServiceForbidden = "service_forbidden" // the persona may not use the service; Detail: its name
	MsgBadRequest       = "bad_request"       // Detail: what is wrong
	MsgRequestExpired   = "request_expired"   // the parked request is gone: start again from the application
	MsgLogoutConfirm    = "logout_confirm"    // Action and CSRF set: a form to confirm
	MsgLoggedOut        = "logged_out"
	MsgAccountDisabled  = "account_disabled"
	MsgServerError      = "server_error"
	// MsgNoAccount: the upstream login matched no account; Detail is the
	// school's UAI when the upstream said it (whom to contact).
	MsgNoAccount = "no_account"
	// MsgUpstreamRefused: the upstream's answer was refused (forged,
	// expired, replayed…); Detail is the refusal reason code.
	MsgUpstreamRefused = "upstream_refused"
	// MsgGARNotSubscribed: the persona's school does not subscribe to the
	// GAR, or its profile has no access; Detail: the school's name and UAI.
	MsgGARNotSubscribed = "gar_not_subscribed"
)

// MessageView is an information or refusal page.
type MessageView struct {
	Status    int
	Code      string
	Detail    string
	Action    string // a form to post, for confirmations
	CSRF      string
	Link      string // a link to follow
	LinkLabel string
}

// plainPages is the fallback when no Pages is given (tests, tools): bare
// but correct HTML, no styling.
type plainPages struct{}

var plainTmpl = template.Must(template.New("p").Parse(`<!doctype html><html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{.Title}}</title></head><body><main>
<h1>{{.Title}}</h1>{{if .Text}}<p role="alert">{{.Text}}</p>{{end}}
{{if .Form}}<form method="post" action="{{.Form}}"><input type="hidden" name="csrf" value="{{.CSRF}}"><input type="hidden" name="req" value="{{.Req}}">
{{if .Login}}<label for="login">Identifiant</label> <input id="login" name="login" autocomplete="username" value="{{.LoginValue}}">
<label for="password">Mot de passe</label> <input id="password" name="password" type="password" autocomplete="current-password">{{end}}
{{range .Choices}}<label><input type="radio" name="persona" value="{{.ID}}"{{if .Current}} checked{{end}}> {{.Profile}} — {{.StructureName}}{{if .Account}} ({{.Account}}){{end}}</label>{{end}}
<button type="submit">Valider</button></form>{{end}}
{{if .Link}}<p><a href="{{.Link}}">{{.Link}}</a></p>{{end}}</main></body></html>`))

type plainData struct {
	Title, Text, Form, CSRF, Req, LoginValue, Link string
	Login                                          bool
	Choices                                        []PersonaChoice
}

func (plainPages) render(w http.ResponseWriter, status int, d plainData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_ = plainTmpl.Execute(w, d)
}

func (pp plainPages) Login(w http.ResponseWriter, _ *http.Request, v LoginView) {
	text := v.Error
	if v.RetryAfter > 0 {
		text = fmt.Sprintf("%s (%d s)", v.Error, int(v.RetryAfter.Seconds()))
	}
	pp.render(w, v.Status, plainData{Title: "Connexion", Text: text, Form: v.Action, CSRF: v.CSRF, Req: v.Request, Login: true, LoginValue: v.Login})
}

func (pp plainPages) Personas(w http.ResponseWriter, _ *http.Request, v PersonaView) {
	pp.render(w, v.Status, plainData{Title: "Choix du profil", Text: v.Error, Form: v.Action, CSRF: v.CSRF, Req: v.Request, Choices: v.Choices})
}

func (pp plainPages) Message(w http.ResponseWriter, _ *http.Request, v MessageView) {
	pp.render(w, v.Status, plainData{Title: v.Code, Text: v.Detail, Form: v.Action, CSRF: v.CSRF, Link: v.Link})
}

func (pp plainPages) Chooser(w http.ResponseWriter, _ *http.Request, v ChooserView) {
	d := plainData{Title: "Connexion"}
	for _, l := range append(v.Profiles, v.Methods...) {
		d.Text += l.Code + " " + l.Label + " " + l.URL + " "
	}
	pp.render(w, v.Status, d)
}
