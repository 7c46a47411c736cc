package launcher

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/portal/console"
	"github.com/enthub/enthub/portal/lang"
)

// editor checks, on every request, that the session is an administrator
// or a principal, and on a POST the form's CSRF token; refusals are
// audited. The handler then decides what that person may touch.
func (lc *Launcher) editor(h func(http.ResponseWriter, *http.Request, *viewer)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := lc.o.Sessions.CurrentSession(r)
		if sess == nil {
			http.Redirect(w, r, lc.url("/login"), http.StatusSeeOther)
			return
		}
		v := lc.load(w, r, sess)
		if v == nil {
			return
		}
		if !v.admin && !v.principal {
			lc.audit(r, v, "portal.edit", "refused", "neither an administrator nor a principal", nil)
			lc.forbidden(w, r, v)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil || !console.CheckSessionCSRF(r, sess.ID) {
				lc.audit(r, v, "portal.csrf", "refused", "csrf token missing or wrong", map[string]string{"path": r.URL.Path})
				lc.pages.Render(w, r, "message.html", console.Page{Status: http.StatusForbidden, TitleKey: "console.errors.title",
					Errors: []console.FieldError{{Key: "err.csrf"}}, User: v.name, Nav: lc.nav(v, ""),
					Data: message{Link: lc.url("/portail"), LinkKey: "nav.launcher"}})
				return
			}
		}
		h(w, r, v)
	}
}

type message struct{ TextKey, Link, LinkKey string }

func (lc *Launcher) forbidden(w http.ResponseWriter, r *http.Request, v *viewer) {
	lc.pages.Render(w, r, "message.html", console.Page{Status: http.StatusForbidden, TitleKey: "forbidden.title", User: v.name,
		Data: message{TextKey: "forbidden.text", Link: lc.url("/portail"), LinkKey: "nav.launcher"}})
}

func (lc *Launcher) audit(r *http.Request, v *viewer, typ, outcome, reason string, details map[string]string) {
	e := directory.Event{Time: lc.o.Now().UTC(), Type: typ, AccountID: v.sess.AccountID, StructureID: v.sess.StructureID,
		Outcome: outcome, Reason: reason, Remote: remoteIP(r), Details: details}
	lc.o.Audit.Audit(r.Context(), e)
}

func remoteIP(r *http.Request) string {
	if i := strings.LastIndexByte(r.RemoteAddr, ':'); i > 0 {
		return strings.Trim(r.RemoteAddr[:i], "[]")
	}
	return r.RemoteAddr
}

func (lc *Launcher) nav(v *viewer, current string) []console.NavItem {
	items := []console.NavItem{{Href: lc.url("/portail"), Key: "nav.launcher"}, {Href: lc.url("/portail/news"), Key: "nav.news"}}
	if v.admin {
		items = append(items, console.NavItem{Href: lc.url("/portail/branding"), Key: "nav.branding"})
	}
	for i := range items {
		items[i].Current = items[i].Href == current
	}
	return items
}

// Choice is an option of a select.
type Choice struct {
	Value, Label string
	Selected     bool
}

// newsForm is the news form as typed; ID is set when it edits a message.
type newsForm struct {
	ID, Title, Body, Start, End, Profile, School string
}

type newsData struct {
	Items    []NewsItem
	Form     newsForm
	Schools  []Choice // administrators only: "" (every school) and each school
	Profiles []Choice
	Action   string
	Delete   string // path prefix of the delete forms and the edit links
	Cancel   string // when editing: back to the list and a new message
}

// schoolOf is what an editor may target: an administrator any school
// (or all), a principal their own only.
func (lc *Launcher) newsPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	today := lc.o.Now().In(lc.o.Location).Format("2006-01-02")
	lc.renderNews(w, r, v, newsForm{Start: today, End: today}, nil, "")
}

func (lc *Launcher) renderNews(w http.ResponseWriter, r *http.Request, v *viewer, f newsForm, errs []console.FieldError, notice string) {
	ctx := r.Context()
	scope := v.sess.StructureID
	if v.admin {
		scope = ""
	}
	all, err := lc.o.Store.NewsList(ctx, scope, lc.o.Now())
	if err != nil {
		lc.o.Logger.Error("launcher: news list", "err", err)
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	d := newsData{Form: f, Action: lc.url("/portail/news"), Delete: lc.url("/portail/news/")}
	if f.ID != "" {
		d.Action, d.Cancel = lc.url("/portail/news/"+f.ID), lc.url("/portail/news")
	}
	names := map[string]string{}
	if v.admin {
		schools, _ := lc.o.Directory.ListStructures(ctx)
		d.Schools = []Choice{{Value: "", Label: lc.pages.Text(r, "news.all_schools")}}
		for _, s := range schools {
			names[s.ID] = s.Name
			d.Schools = append(d.Schools, Choice{Value: s.ID, Label: s.Name, Selected: s.ID == f.School})
		}
	} else {
		names[v.school.ID] = v.school.Name
	}
	l := lang.Of(r)
	for _, n := range all {
		if !v.admin && n.StructureID != v.sess.StructureID {
			continue // a principal sees the all-schools messages, but edits only theirs
		}
		it := lc.newsItem(n, l)
		it.School = names[n.StructureID]
		d.Items = append(d.Items, it)
	}
	d.Profiles = []Choice{{Value: "", Label: lc.pages.Text(r, "news.all_profiles"), Selected: f.Profile == ""}}
	for _, p := range directory.Profiles {
		d.Profiles = append(d.Profiles, Choice{Value: string(p), Label: lc.pages.Text(r, "profile."+string(p)), Selected: string(p) == f.Profile})
	}
	status := http.StatusOK
	if len(errs) > 0 {
		status = http.StatusUnprocessableEntity
	}
	lc.pages.Render(w, r, "news.html", console.Page{Status: status, TitleKey: "news.title", Nav: lc.nav(v, lc.url("/portail/news")),
		User: v.name, CSRF: console.SessionCSRF(v.sess.ID), Errors: errs, NoticeKey: notice,
		Styles: []string{lc.url("/portail/assets/launcher.css")}, Data: d})
}

// readNewsForm reads and checks the news form: the fields as typed, to
// show them back, the message they describe (school, profile, text,
// window) and the problems by field.
func (lc *Launcher) readNewsForm(r *http.Request, v *viewer) (newsForm, directory.News, []console.FieldError) {
	f := newsForm{Title: strings.TrimSpace(r.PostFormValue("title")), Body: strings.TrimSpace(r.PostFormValue("body")),
		Start: r.PostFormValue("start"), End: r.PostFormValue("end"), Profile: r.PostFormValue("profile"), School: r.PostFormValue("school")}
	var errs []console.FieldError
	if f.Title == "" || len([]rune(f.Title)) > 120 {
		errs = append(errs, console.FieldError{Field: "title", Key: "err.title"})
	}
	if len([]rune(f.Body)) > 1000 {
		errs = append(errs, console.FieldError{Field: "body", Key: "err.body"})
	}
	start, err1 := time.ParseInLocation("2006-01-02", f.Start, lc.o.Location)
	end, err2 := time.ParseInLocation("2006-01-02", f.End, lc.o.Location)
	if err1 != nil {
		errs = append(errs, console.FieldError{Field: "start", Key: "err.date"})
	}
	if err2 != nil {
		errs = append(errs, console.FieldError{Field: "end", Key: "err.date"})
	} else if err1 == nil && end.Before(start) {
		errs = append(errs, console.FieldError{Field: "end", Key: "err.end_before_start"})
	}
	if f.Profile != "" && !directory.Profile(f.Profile).Valid() {
		errs = append(errs, console.FieldError{Field: "profile", Key: "err.profile"})
	}
	school := v.sess.StructureID // a principal writes for their school, whatever the form says
	if v.admin {
		school = f.School
		if school != "" {
			if _, err := lc.o.Directory.Structure(r.Context(), school); err != nil {
				errs = append(errs, console.FieldError{Field: "school", Key: "err.school"})
			}
		}
	}
	n := directory.News{StructureID: school, Profile: directory.Profile(f.Profile), Title: f.Title, Body: f.Body,
		Start: start.UTC(), End: end.AddDate(0, 0, 1).UTC()}
	return f, n, errs
}

func (lc *Launcher) newsCreate(w http.ResponseWriter, r *http.Request, v *viewer) {
	f, n, errs := lc.readNewsForm(r, v)
	if len(errs) > 0 {
		lc.renderNews(w, r, v, f, errs, "")
		return
	}
	n.CreatedBy, n.CreatedAt = v.sess.AccountID, lc.o.Now().UTC()
	if err := lc.o.Store.PutNews(r.Context(), &n); err != nil {
		lc.o.Logger.Error("launcher: put news", "err", err)
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	lc.audit(r, v, "portal.news.create", "success", "", map[string]string{"news": n.ID, "structure": n.StructureID, "profile": f.Profile,
		"start": f.Start, "end": f.End})
	today := lc.o.Now().In(lc.o.Location).Format("2006-01-02")
	lc.renderNews(w, r, v, newsForm{Start: today, End: today}, nil, "news.created")
}

// newsInScope finds the message of the request's {id} that the editor
// may touch: any for an administrator, their school's for a principal.
// Otherwise it answers 404, audited as a refused typ — another school's
// message is as absent as a missing one — and returns nil.
func (lc *Launcher) newsInScope(w http.ResponseWriter, r *http.Request, v *viewer, typ string) *directory.News {
	id := r.PathValue("id")
	all, err := lc.o.Store.NewsList(r.Context(), "", time.Time{})
	if err != nil {
		lc.o.Logger.Error("launcher: news list", "err", err)
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return nil
	}
	for i := range all {
		if all[i].ID == id && (v.admin || all[i].StructureID == v.sess.StructureID) {
			return &all[i]
		}
	}
	lc.audit(r, v, typ, "refused", "no such message in the editor's scope", map[string]string{"news": id})
	lc.pages.Render(w, r, "message.html", console.Page{Status: http.StatusNotFound, TitleKey: "news.not_found", User: v.name,
		Nav: lc.nav(v, ""), Data: message{Link: lc.url("/portail/news"), LinkKey: "nav.news"}})
	return nil
}

// newsEdit shows the form filled with a message, to change it.
func (lc *Launcher) newsEdit(w http.ResponseWriter, r *http.Request, v *viewer) {
	n := lc.newsInScope(w, r, v, "portal.news.update")
	if n == nil {
		return
	}
	lc.renderNews(w, r, v, lc.formOf(*n), nil, "")
}

// formOf is a stored message as the form shows it: its first and last
// days in the site's zone (End is the midnight after the last day).
func (lc *Launcher) formOf(n directory.News) newsForm {
	return newsForm{ID: n.ID, Title: n.Title, Body: n.Body, Profile: string(n.Profile), School: n.StructureID,
		Start: n.Start.In(lc.o.Location).Format(time.DateOnly), End: n.End.In(lc.o.Location).AddDate(0, 0, -1).Format(time.DateOnly)}
}

// newsUpdate changes a message's text, audience and dates; its author and
// creation stay. The audit event carries each changed field before and
// after ("title.before", "title.after"…).
func (lc *Launcher) newsUpdate(w http.ResponseWriter, r *http.Request, v *viewer) {
	old := lc.newsInScope(w, r, v, "portal.news.update")
	if old == nil {
		return
	}
	f, n, errs := lc.readNewsForm(r, v)
	f.ID = old.ID
	if len(errs) > 0 {
		lc.renderNews(w, r, v, f, errs, "")
		return
	}
	n.ID, n.CreatedBy, n.CreatedAt = old.ID, old.CreatedBy, old.CreatedAt
	if err := lc.o.Store.PutNews(r.Context(), &n); err != nil {
		lc.o.Logger.Error("launcher: update news", "news", n.ID, "err", err)
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	details := map[string]string{"news": n.ID, "structure": n.StructureID}
	before, after := lc.formOf(*old), lc.formOf(n)
	for _, c := range []struct{ key, before, after string }{
		{"title", before.Title, after.Title}, {"body", before.Body, after.Body}, {"start", before.Start, after.Start},
		{"end", before.End, after.End}, {"profile", before.Profile, after.Profile}, {"structure", before.School, after.School},
	} {
		if c.before != c.after {
			details[c.key+".before"], details[c.key+".after"] = c.before, c.after
		}
	}
	lc.audit(r, v, "portal.news.update", "success", "", details)
	today := lc.o.Now().In(lc.o.Location).Format(time.DateOnly)
	lc.renderNews(w, r, v, newsForm{Start: today, End: today}, nil, "news.updated")
}

func (lc *Launcher) newsDelete(w http.ResponseWriter, r *http.Request, v *viewer) {
	ctx := r.Context()
	found := lc.newsInScope(w, r, v, "portal.news.delete")
	if found == nil {
		return
	}
	id := found.ID
	if err := lc.o.Store.DeleteNews(ctx, id); err != nil && !errors.Is(err, directory.ErrNotFound) {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	lc.audit(r, v, "portal.news.delete", "success", "", map[string]string{"news": id, "structure": found.StructureID})
	today := lc.o.Now().In(lc.o.Location).Format("2006-01-02")
	lc.renderNews(w, r, v, newsForm{Start: today, End: today}, nil, "news.deleted")
}

type brandingData struct {
	Form    directory.Branding
	Schools []Choice
	Action  string
}

// branding is the branding editor: administrators only.
func (lc *Launcher) branding(w http.ResponseWriter, r *http.Request, v *viewer) {
	if !v.admin {
		lc.audit(r, v, "portal.branding", "refused", "not an administrator", nil)
		lc.forbidden(w, r, v)
		return
	}
	ctx := r.Context()
	var b directory.Branding
	var errs []console.FieldError
	notice := ""
	switch r.Method {
	case http.MethodPost:
		b = directory.Branding{UAI: strings.TrimSpace(r.PostFormValue("uai")), LogoURL: r.PostFormValue("logo_url"),
			BannerURL: r.PostFormValue("banner_url"), Banner: r.PostFormValue("banner"), Primary: r.PostFormValue("primary"),
			Accent: r.PostFormValue("accent"), Ink: r.PostFormValue("ink"), UpdatedBy: v.sess.AccountID, UpdatedAt: lc.o.Now().UTC()}
		if errs = checkBranding(&b); len(errs) == 0 {
			if err := lc.o.Store.PutBranding(ctx, b); err != nil {
				lc.o.Logger.Error("launcher: put branding", "err", err)
				http.Error(w, "store unavailable", http.StatusServiceUnavailable)
				return
			}
			lc.audit(r, v, "portal.branding", "success", "", map[string]string{"uai": b.UAI, "primary": b.Primary,
				"accent": b.Accent, "ink": b.Ink, "logo": b.LogoURL, "banner_image": b.BannerURL})
			notice = "branding.saved"
		}
	case http.MethodGet:
		b.UAI = r.URL.Query().Get("uai")
		if b.UAI != "" {
			if got, err := lc.o.Store.Branding(ctx, b.UAI); err == nil {
				b = got
			}
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	d := brandingData{Form: b, Action: lc.url("/portail/branding")}
	schools, _ := lc.o.Directory.ListStructures(ctx)
	for _, s := range schools {
		if s.UAI != "" {
			d.Schools = append(d.Schools, Choice{Value: s.UAI, Label: s.Name + " (" + s.UAI + ")", Selected: s.UAI == b.UAI})
		}
	}
	status := http.StatusOK
	if len(errs) > 0 {
		status = http.StatusUnprocessableEntity
	}
	lc.pages.Render(w, r, "branding.html", console.Page{Status: status, TitleKey: "branding.title", Nav: lc.nav(v, lc.url("/portail/branding")),
		User: v.name, CSRF: console.SessionCSRF(v.sess.ID), Errors: errs, NoticeKey: notice, Data: d})
}
