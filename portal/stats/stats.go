// Package stats is the statistics part of the département console: the
// usage of the ENT (logins per day and per hour, distinct users, by
// profile, school, upstream and service) and its availability, as
// server-side SVG charts each followed by a table of the same figures,
// filterable by period and school, exportable as CSV and XLSX.
//
// Only the collectivité's administrators reach it (a list of logins or a
// directory group, from the configuration); every request, allowed or
// refused, is an audit event. The figures come from the store's rollups
// (package directory/usage says how they stay fast). Pages go through a
// Layout, so the console's shared frame wraps them; BasicLayout is a
// minimal accessible one. No script, no inline style: the pages work
// under a strict Content-Security-Policy and without JavaScript.
package stats

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/usage"
	"github.com/enthub/enthub/portal/console"
	"github.com/enthub/enthub/portal/lang"
)

// Store is what the pages read: the rollups and the directory (school
// names, the administrators' group memberships).
type Store interface {
	usage.Store
	usage.HealthStore
	ListStructures(ctx context.Context) ([]directory.Structure, error)
	Memberships(ctx context.Context, personID string) ([]directory.Membership, error)
	Group(ctx context.Context, id string) (directory.Group, error)
}

// Viewer is the signed-in person asking for a page.
type Viewer struct {
	AccountID, PersonID, Login string
}

// Page is what a layout wraps.
type Page struct {
	// Status is the HTTP status the layout writes (0: 200); the layout
	// writes it, after its own headers.
	Status int
	Lang   string
	Title  string
	Body   template.HTML
	// OtherLang is the link to the page in the other language.
	OtherLang, OtherLangHref, OtherLangLabel string
	SkipLabel                                string
	// User is the viewer's login, for the frame's header: the layout
	// need not read the account the guard has just read.
	User string
}

// Layout renders a page in the console's frame.
type Layout interface {
	Render(w http.ResponseWriter, r *http.Request, p Page) error
}

// Options wires the handler.
type Options struct {
	Store Store
	// Viewer returns the signed-in person, false when nobody is.
	Viewer func(r *http.Request) (Viewer, bool)
	// Admins are the collectivité's administrators, the only ones let in.
	Admins console.AdminRule
	// Audit records an event (console actions are audited).
	Audit func(ctx context.Context, e directory.Event)
	// ServiceNames labels services by id.
	ServiceNames func() map[string]string
	// LoginURL is where an anonymous visitor is sent (default /login).
	LoginURL string
	Layout   Layout
	// Location is the zone of the days counted and shown (default
	// console.DefaultLocation, as the other console pages).
	Location *time.Location
	Now      func() time.Time
	Logger   *slog.Logger
	// BasePath is where the pages are mounted (default /console/stats).
	BasePath string
}

// Handler serves the statistics pages.
type Handler struct {
	o    Options
	tmpl *template.Template
}

// New checks the options and parses the templates.
func New(o Options) (*Handler, error) {
	if o.Store == nil || o.Viewer == nil {
		return nil, errors.New("stats: Store and Viewer are required")
	}
	if o.Layout == nil {
		o.Layout = BasicLayout{}
	}
	if o.Location == nil {
		o.Location = console.DefaultLocation()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Audit == nil {
		o.Audit = func(context.Context, directory.Event) {}
	}
	if o.LoginURL == "" {
		o.LoginURL = "/login"
	}
	if o.BasePath == "" {
		o.BasePath = "/console/stats"
	}
	t, err := template.New("").Funcs(funcs).Parse(pageTemplate)
	if err != nil {
		return nil, fmt.Errorf("stats templates: %w", err)
	}
	return &Handler{o: o, tmpl: t}, nil
}

// Routes mounts the pages:
//
//	GET BASE          the statistics page (?from=&to=&school=&lang=)
//	GET BASE/export   ?format=csv|xlsx&by=day|hour|profile|school|upstream|service
func (h *Handler) Routes(mux *http.ServeMux) {
	mux.Handle("GET "+h.o.BasePath, h.guard("console.stats.view", h.page))
	mux.Handle("GET "+h.o.BasePath+"/export", h.guard("console.stats.export", h.export))
}

// Audit event types of the console's statistics.
const (
	EventView   = "console.stats.view"
	EventExport = "console.stats.export"
)

// guard lets administrators through to next, sends anonymous visitors to
// the login page and refuses the others; each outcome is audited.
func (h *Handler) guard(event string, next func(w http.ResponseWriter, r *http.Request, v Viewer) (map[string]string, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w)
		ctx := r.Context()
		v, ok := h.o.Viewer(r)
		e := directory.Event{Time: h.o.Now(), Type: event, AccountID: v.AccountID, Remote: remote(r),
			Details: map[string]string{"login": v.Login, "query": truncate(r.URL.RawQuery, 200)}}
		if !ok {
			e.Outcome, e.Reason = "refused", "not signed in"
			h.o.Audit(ctx, e)
			http.Redirect(w, r, h.o.LoginURL, http.StatusSeeOther)
			return
		}
		allowed, err := h.allowed(ctx, v)
		if err != nil {
			h.o.Logger.Error("console authorisation", "login", v.Login, "err", err)
			http.Error(w, "service indisponible / service unavailable", http.StatusServiceUnavailable)
			return
		}
		if !allowed {
			e.Outcome, e.Reason = "refused", "not a collectivité administrator"
			h.o.Audit(ctx, e)
			h.forbidden(w, r, v)
			return
		}
		details, err := next(w, r, v)
		e.Outcome = "ok"
		if err != nil {
			e.Outcome, e.Reason = "error", truncate(err.Error(), 200)
		}
		for k, val := range details {
			e.Details[k] = val
		}
		h.o.Audit(ctx, e)
	})
}

// allowed says whether v is a collectivité administrator.
func (h *Handler) allowed(ctx context.Context, v Viewer) (bool, error) {
	return h.o.Admins.Allows(ctx, h.o.Store, v.Login, v.PersonID)
}

func (h *Handler) forbidden(w http.ResponseWriter, r *http.Request, v Viewer) {
	l := lang.Of(r)
	c := catalogue(texts[l])
	body := template.HTML("<p>" + template.HTMLEscapeString(c.t("forbidden")) + "</p>")
	pg := h.pageFrame(r, v, l, c.t("title"), body)
	pg.Status = http.StatusForbidden
	if err := h.o.Layout.Render(w, r, pg); err != nil {
		h.o.Logger.Error("stats page", "err", err)
	}
}

func (h *Handler) pageFrame(r *http.Request, v Viewer, l, title string, body template.HTML) Page {
	other := "en"
	if l == "en" {
		other = "fr"
	}
	q := r.URL.Query()
	q.Set("lang", other)
	return Page{Lang: l, Title: title, Body: body, OtherLang: other, OtherLangHref: r.URL.Path + "?" + q.Encode(),
		OtherLangLabel: texts[l]["lang.other"], SkipLabel: texts[l]["skip"], User: v.Login}
}

// securityHeaders are the console's: nothing but its own resources, no
// framing, no referrer.
func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/html; charset=utf-8") // an export sets its own
}

func remote(r *http.Request) string {
	if i := strings.LastIndexByte(r.RemoteAddr, ':'); i > 0 {
		return strings.Trim(r.RemoteAddr[:i], "[]")
	}
	return r.RemoteAddr
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// filterForm is the filter as typed, with its problems by field.
type filterForm struct {
	From, To, School string
	Errors           map[string]string // field → message
}

// maxPeriod bounds a period: the rollups hold a few years at most.
const maxPeriod = 3 * 366 * 24 * time.Hour

// parseFilter reads from, to and school; the default is the last 30 days.
func (h *Handler) parseFilter(r *http.Request, c catalogue, schools map[string]string) (usage.Filter, filterForm) {
	q := r.URL.Query()
	today := h.o.Now().In(h.o.Location)
	form := filterForm{From: strings.TrimSpace(q.Get("from")), To: strings.TrimSpace(q.Get("to")), School: q.Get("school"), Errors: map[string]string{}}
	if form.To == "" {
		form.To = today.Format(usage.DayLayout)
	}
	if form.From == "" {
		form.From = today.AddDate(0, 0, -29).Format(usage.DayLayout)
	}
	from, err := time.Parse(usage.DayLayout, form.From)
	if err != nil {
		form.Errors["from"] = c.t("error.from")
	}
	to, err := time.Parse(usage.DayLayout, form.To)
	if err != nil || (form.Errors["from"] == "" && to.Before(from)) {
		form.Errors["to"] = c.t("error.to")
	}
	if len(form.Errors) == 0 && to.Sub(from) > maxPeriod {
		form.Errors["to"] = c.t("error.range")
	}
	if form.School != "" {
		if _, ok := schools[form.School]; !ok {
			form.Errors["school"] = c.t("error.school")
		}
	}
	return usage.Filter{From: form.From, To: form.To, Structure: form.School}, form
}

// schools maps structure ids to "Name (UAI)".
func (h *Handler) schools(ctx context.Context) (map[string]string, []directory.Structure, error) {
	list, err := h.o.Store.ListStructures(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("schools: %w", err)
	}
	slices.SortFunc(list, func(a, b directory.Structure) int { return strings.Compare(a.Name, b.Name) })
	names := make(map[string]string, len(list))
	for _, s := range list {
		names[s.ID] = structureLabel(s)
	}
	return names, list, nil
}

func structureLabel(s directory.Structure) string {
	switch {
	case s.Name != "" && s.UAI != "":
		return s.Name + " (" + s.UAI + ")"
	case s.Name != "":
		return s.Name
	case s.UAI != "":
		return s.UAI
	}
	return s.ID
}

// report builds the report of the request's filter, or the form with its
// errors.
func (h *Handler) report(r *http.Request, c catalogue) (*usage.Report, filterForm, []directory.Structure, error) {
	ctx := r.Context()
	names, list, err := h.schools(ctx)
	if err != nil {
		return nil, filterForm{}, nil, err
	}
	f, form := h.parseFilter(r, c, names)
	if len(form.Errors) > 0 {
		return nil, form, list, nil
	}
	if h.o.ServiceNames != nil {
		for k, v := range h.o.ServiceNames() {
			if _, taken := names[k]; !taken {
				names[k] = v
			}
		}
	}
	rep, err := usage.Build(ctx, h.o.Store, f, usage.Options{Location: h.o.Location, Now: h.o.Now(), Names: names})
	if err != nil {
		return nil, form, list, err
	}
	labelRows(rep, c)
	return rep, form, list, nil
}

// labelRows gives profiles, days and empty keys their labels.
func labelRows(rep *usage.Report, c catalogue) {
	for _, rows := range [][]usage.Row{rep.ByDay, rep.ByProfile, rep.BySchool, rep.ByUpstream, rep.ByService} {
		for i := range rows {
			switch {
			case rows[i].Key == "":
				rows[i].Label = c.t("none")
			case rows[i].Label != "":
			default:
				if l, ok := c["profile."+rows[i].Key]; ok {
					rows[i].Label = l
				} else {
					rows[i].Label = rows[i].Key
				}
			}
		}
	}
}
