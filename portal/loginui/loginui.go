// Package loginui renders the identity provider's pages — local login,
// persona chooser, information and refusal messages — in French first
// (English with ?lang=en or an English-preferring browser), accessible
// (labels, error summary announced to screen readers, focus on the first
// problem, contrast) and usable on a phone. Templates and styles are
// embedded; it implements idp.Pages and holds no protocol code.
package loginui

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/enthub/enthub/idp"
	"github.com/enthub/enthub/portal/lang"
)

//go:embed templates/*.html templates/*.css
var files embed.FS

// Options tune the pages.
type Options struct {
	// SiteName is shown in the header and titles (default "ENT").
	SiteName string
	Logger   *slog.Logger
	// News gives the messages for everyone shown now (the portal's news);
	// the chooser shows them, readable before signing in. Nil: none.
	News func(ctx context.Context) []News
}

// News is a message the chooser shows.
type News struct{ Title, Body string }

// Pages implements idp.Pages.
type Pages struct {
	opts Options
	tmpl *template.Template
	css  template.CSS
}

var _ idp.Pages = (*Pages)(nil)

// New parses the embedded templates.
func New(opts Options) (*Pages, error) {
	if opts.SiteName == "" {
		opts.SiteName = "ENT"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	css, err := files.ReadFile("templates/login.css")
	if err != nil {
		return nil, err
	}
	t, err := template.New("").Funcs(template.FuncMap{}).ParseFS(files, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("login templates: %w", err)
	}
	return &Pages{opts: opts, tmpl: t, css: template.CSS(css)}, nil
}

type page struct {
	Lang, OtherLang, OtherLangLabel, OtherLangHref string
	Site, Title                                    string
	CSS                                            template.CSS
	T                                              map[string]string
	Error                                          string
	Body                                           any
}

func (p *Pages) render(w http.ResponseWriter, r *http.Request, name string, status int, title, errText string, body any) {
	l := lang.Of(r)
	lang.Remember(w, r)
	other, label := "en", "English"
	if l == "en" {
		other, label = "fr", "Français"
	}
	q := r.URL.Query()
	q.Set("lang", other)
	pg := page{Lang: l, OtherLang: other, OtherLangLabel: label, OtherLangHref: r.URL.Path + "?" + q.Encode(),
		Site: p.opts.SiteName, Title: title, CSS: p.css, T: texts[l], Error: errText, Body: body}
	var buf bytes.Buffer
	if err := p.tmpl.ExecuteTemplate(&buf, name, pg); err != nil {
		p.opts.Logger.Error("render page", "page", name, "err", err)
		http.Error(w, "page error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// Login renders the login form.
func (p *Pages) Login(w http.ResponseWriter, r *http.Request, v idp.LoginView) {
	t := texts[lang.Of(r)]
	errText := ""
	if v.Error != "" {
		errText = t["err."+v.Error]
		if v.RetryAfter > 0 {
			errText = fmt.Sprintf(errText, waitText(lang.Of(r), v.RetryAfter))
		}
	}
	p.render(w, r, "login.html", v.Status, t["login.title"], errText, v)
}

// waitText says how long to wait, rounded up to the unit a person reads
// best: seconds under two minutes, minutes under two hours, then hours.
func waitText(l string, d time.Duration) string {
	s := int((d + time.Second - 1) / time.Second)
	switch {
	case s < 1:
		return count(l, 1, "second")
	case s < 120:
		return count(l, s, "second")
	case s < 120*60:
		return count(l, (s+59)/60, "minute")
	default:
		return count(l, (s+3599)/3600, "hour")
	}
}

type personaBody struct {
	idp.PersonaView
	Choices []personaChoice
}

type personaChoice struct {
	idp.PersonaChoice
	Label string
}

// Personas renders the persona chooser.
func (p *Pages) Personas(w http.ResponseWriter, r *http.Request, v idp.PersonaView) {
	l := lang.Of(r)
	t := texts[l]
	b := personaBody{PersonaView: v}
	for _, c := range v.Choices {
		label := t["profile."+c.Profile]
		if label == "" {
			label = c.Profile
		}
		if len(c.Children) > 0 {
			label = parentOf(t, c.Children)
		}
		b.Choices = append(b.Choices, personaChoice{PersonaChoice: c, Label: label})
	}
	errText := ""
	if v.Error != "" {
		errText = t["err."+v.Error]
	}
	p.render(w, r, "personas.html", v.Status, t["persona.title"], errText, b)
}

// parentOf is a parent persona's label: "Parent de Léa Martin et Hugo
// Martin", "Parent d'Emma Roux" (French elides "de" before a vowel).
func parentOf(t map[string]string, children []string) string {
	names := strings.Join(children[:len(children)-1], ", ")
	if names != "" {
		names += t["persona.and"]
	}
	names += children[len(children)-1]
	key := "persona.parent_of"
	// Names starting with H are left alone: whether "h" is mute cannot be
	// told from the spelling.
	if first, _ := utf8.DecodeRuneInString(names); strings.ContainsRune("AEIOUYÀÂÉÈÊËÎÏÔÙÛÜaeiouyàâéèêëîïôùûü", first) {
		key = "persona.parent_of_vowel"
	}
	return fmt.Sprintf(t[key], names)
}

type chooserBody struct {
	idp.ChooserView
	ProfileLabel string
	News         []News
}

// Chooser renders the login entry: "je suis…" (step 1), then the method
// of that profile (step 2). Plain links: it works without JavaScript.
func (p *Pages) Chooser(w http.ResponseWriter, r *http.Request, v idp.ChooserView) {
	t := texts[lang.Of(r)]
	b := chooserBody{ChooserView: v, ProfileLabel: t["chooser.profile."+v.Profile]}
	if p.opts.News != nil && v.Profile == "" {
		b.News = p.opts.News(r.Context())
	}
	b.Profiles = nil
	for _, l := range v.Profiles {
		l.Label = t["chooser.profile."+l.Code]
		if l.Label == "" {
			l.Label = l.Code
		}
		b.Profiles = append(b.Profiles, l)
	}
	errText := ""
	if v.Status == http.StatusNotFound {
		errText = t["chooser.unknown_profile"]
	}
	p.render(w, r, "chooser.html", v.Status, t["login.title"], errText, b)
}

type messageBody struct {
	idp.MessageView
	Text string
}

// NotFound is the page for an address nothing serves: the server shows it
// instead of Go's plain "404 page not found".
func (p *Pages) NotFound(w http.ResponseWriter, r *http.Request) {
	p.Message(w, r, idp.MessageView{Status: http.StatusNotFound, Code: msgNotFound, Detail: r.URL.Path})
}

// msgNotFound is the catalogue code of the page for an unknown address; it
// is the portal's own, the identity provider never asks for it.
const msgNotFound = "not_found"

// Message renders an information or refusal page.
func (p *Pages) Message(w http.ResponseWriter, r *http.Request, v idp.MessageView) {
	t := texts[lang.Of(r)]
	title := t["msg."+v.Code+".title"]
	if title == "" {
		title = t["msg.server_error.title"]
	}
	text := t["msg."+v.Code+".text"]
	if v.Code == idp.MsgNoAccount && v.Detail == "" {
		text = t["msg.no_account.text_nouai"]
	}
	p.render(w, r, "message.html", v.Status, title, "", messageBody{MessageView: v, Text: text})
}
