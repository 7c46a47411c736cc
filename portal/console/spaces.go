package console

import (
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/spaces"
	"github.com/enthub/enthub/idp/sso"
	"github.com/enthub/enthub/portal/lang"
)

//go:embed templates/spaces/*.html templates/principal/message.html
var spaceFiles embed.FS

// SpacesOptions wire the département console's page of the profile
// spaces across schools.
type SpacesOptions struct {
	// Spaces runs the changes; its Store is also what the pages read.
	Spaces   *spaces.Service
	Sessions Sessions
	// Admins are the collectivité's administrators, the only ones let
	// in. Being in a space is not being in an admin group: AdminRule
	// reads the directory's groups, never the spaces.
	Admins AdminRule
	// PublicURL is enthub's public address, the base of the routes.
	PublicURL string
	// Location dates the members (default DefaultLocation, as the
	// principal's console).
	Location *time.Location
	Logger   *slog.Logger
}

// Spaces is the console page of the profile spaces.
type Spaces struct {
	o     SpacesOptions
	pages *Pages
	base  string
}

// NewSpaces builds the spaces' pages on the layout.
func NewSpaces(l *Layout, o SpacesOptions) (*Spaces, error) {
	if o.Spaces == nil || o.Spaces.Store == nil || o.Sessions == nil {
		return nil, errors.New("console: Spaces (with its Store) and Sessions are required")
	}
	pages, err := l.Pages(spaceFiles, spaceTexts, "templates/spaces/*.html", "templates/principal/message.html")
	if err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Location == nil {
		o.Location = DefaultLocation()
	}
	s := &Spaces{o: o, pages: pages}
	if u, err := url.Parse(o.PublicURL); err == nil {
		s.base = strings.TrimRight(u.Path, "/")
	}
	return s, nil
}

// Routes mounts the pages under the path of PublicURL:
//
//	GET  /console/spaces                       the spaces
//	GET  /console/spaces/new                   creation form
//	POST /console/spaces                       create
//	GET  /console/spaces/{id}                  one space: rename, members (?q= searches accounts to add), delete
//	POST /console/spaces/{id}                  rename
//	POST /console/spaces/{id}/members          add the account of the form's "account"
//	POST /console/spaces/{id}/members/{account}/remove
//	POST /console/spaces/{id}/delete
func (s *Spaces) Routes(mux *http.ServeMux) {
	b := s.base + "/console/spaces"
	mux.HandleFunc("GET "+b, s.admin(s.list))
	mux.HandleFunc("GET "+b+"/new", s.admin(s.newForm))
	mux.HandleFunc("POST "+b, s.admin(s.create))
	mux.HandleFunc("GET "+b+"/{id}", s.admin(s.show))
	mux.HandleFunc("POST "+b+"/{id}", s.admin(s.rename))
	mux.HandleFunc("POST "+b+"/{id}/members", s.admin(s.addMember))
	mux.HandleFunc("POST "+b+"/{id}/members/{account}/remove", s.admin(s.removeMember))
	mux.HandleFunc("POST "+b+"/{id}/delete", s.admin(s.delete))
}

func (s *Spaces) url(path string) string { return s.base + path }

func (s *Spaces) spaceURL(id string) string { return s.url("/console/spaces/" + url.PathEscape(id)) }

// admin is who is signed in on a page of the spaces.
type admin struct {
	actor spaces.Actor
	name  string
	csrf  string
}

// admin checks, on every request, that the session's account is one of
// the collectivité's administrators, and a POST's CSRF token; refusals are
// audited.
func (s *Spaces) admin(h func(http.ResponseWriter, *http.Request, admin)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := s.o.Sessions.CurrentSession(r)
		if sess == nil {
			http.Redirect(w, r, s.url("/login"), http.StatusSeeOther)
			return
		}
		ctx := r.Context()
		st := s.o.Spaces.Store
		acc, err := st.Account(ctx, sess.AccountID)
		var ok bool
		if err == nil {
			ok, err = s.o.Admins.Allows(ctx, st, acc.Login, sess.PersonID)
		}
		if err != nil {
			s.o.Logger.Error("console spaces: authorisation", "account", sess.AccountID, "err", err)
			http.Error(w, "service indisponible / service unavailable", http.StatusServiceUnavailable)
			return
		}
		if !ok {
			s.refused(r, sess, "console.denied", "not a collectivité administrator")
			s.pages.Render(w, r, "message.html", Page{Status: http.StatusForbidden, TitleKey: "forbidden.title",
				Data: message{TextKey: "spaces.forbidden"}})
			return
		}
		name := ""
		if per, err := st.Person(ctx, sess.PersonID); err == nil {
			name = strings.TrimSpace(per.FirstName + " " + per.LastName)
		}
		a := admin{actor: spaces.Actor{ID: sess.AccountID, Remote: remoteIP(r)}, name: name, csrf: SessionCSRF(sess.ID)}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil || !CheckSessionCSRF(r, sess.ID) {
				s.refused(r, sess, "console.csrf", "csrf token missing or wrong")
				s.pages.Render(w, r, "message.html", Page{Status: http.StatusForbidden, TitleKey: "console.errors.title",
					Errors: []FieldError{{Key: "err.csrf"}}, Nav: s.nav(""), User: name,
					Data: message{Link: s.url("/console/spaces"), LinkKey: "spaces.back"}})
				return
			}
		}
		h(w, r, a)
	}
}

// refused audits a refused request.
func (s *Spaces) refused(r *http.Request, sess *sso.Session, typ, reason string) {
	e := directory.Event{Time: s.now(), Type: typ, AccountID: sess.AccountID, StructureID: sess.StructureID,
		Profile: directory.Profile(sess.Profile), Outcome: "refused", Reason: reason, Remote: remoteIP(r),
		Details: map[string]string{"path": r.URL.Path}}
	ctx := r.Context()
	if err := s.o.Spaces.Store.Update(ctx, func(tx directory.Tx) error { return tx.AppendEvents(ctx, e) }); err != nil {
		s.o.Logger.Error("console spaces: audit event not recorded", "type", typ, "err", err)
	}
}

func (s *Spaces) now() time.Time {
	if s.o.Spaces.Now != nil {
		return s.o.Spaces.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Spaces) nav(current string) []NavItem {
	items := []NavItem{
		{Href: s.url("/console/stats"), Key: "nav.stats"},
		{Href: s.url("/console/spaces"), Key: "nav.spaces"},
		{Href: s.url("/console/spaces/new"), Key: "nav.spaces.new"},
		{Href: s.url("/mydata"), Key: "nav.mydata"},
	}
	for i := range items {
		items[i].Current = items[i].Key == current
	}
	return items
}

func (s *Spaces) fail(w http.ResponseWriter, what string, err error) {
	s.o.Logger.Error("console spaces: "+what, "err", err)
	http.Error(w, "service indisponible / service unavailable", http.StatusServiceUnavailable)
}

// spaceRow is a space as the list shows it.
type spaceRow struct {
	directory.Space
	Members int
	Href    string
}

func (s *Spaces) list(w http.ResponseWriter, r *http.Request, a admin) {
	ctx := r.Context()
	all, err := s.o.Spaces.Store.Spaces(ctx)
	if err != nil {
		s.fail(w, "list spaces", err)
		return
	}
	rows := make([]spaceRow, 0, len(all))
	for _, sp := range all {
		ms, err := s.o.Spaces.Store.SpaceMembers(ctx, sp.ID)
		if err != nil {
			s.fail(w, "members of "+sp.ID, err)
			return
		}
		rows = append(rows, spaceRow{Space: sp, Members: len(ms), Href: s.spaceURL(sp.ID)})
	}
	notice := ""
	if r.URL.Query().Get("done") == "deleted" {
		notice = "spaces.notice.deleted"
	}
	s.pages.Render(w, r, "spaces.html", Page{TitleKey: "spaces.title", Nav: s.nav("nav.spaces"), User: a.name, CSRF: a.csrf,
		NoticeKey: notice, Data: struct {
			Rows []spaceRow
			New  string
		}{rows, s.url("/console/spaces/new")}})
}

// spaceForm is the creation and rename form's values.
type spaceForm struct {
	Code, Name, Description, Action string
}

func (s *Spaces) newForm(w http.ResponseWriter, r *http.Request, a admin) {
	s.pages.Render(w, r, "new.html", Page{TitleKey: "spaces.new.title", Nav: s.nav("nav.spaces.new"), User: a.name, CSRF: a.csrf,
		Data: spaceForm{Action: s.url("/console/spaces")}})
}

// spaceErrors turns the service's refusals into the page's; ok is false
// for an error that is no refusal of the input.
func spaceErrors(err error) ([]FieldError, bool) {
	if out, ok := fieldErrors(err); ok {
		return out, true
	}
	switch {
	case errors.Is(err, spaces.ErrExists):
		return []FieldError{{Field: "code", Key: "err.code.exists"}}, true
	case errors.Is(err, spaces.ErrMember):
		return []FieldError{{Key: "err.member"}}, true
	case errors.Is(err, spaces.ErrNoAccount):
		return []FieldError{{Key: "err.account"}}, true
	}
	return nil, false
}

func (s *Spaces) create(w http.ResponseWriter, r *http.Request, a admin) {
	f := spaceForm{Code: r.PostFormValue("code"), Name: r.PostFormValue("name"), Description: r.PostFormValue("description"),
		Action: s.url("/console/spaces")}
	sp, err := s.o.Spaces.Create(r.Context(), a.actor, f.Code, f.Name, f.Description)
	if errs, ok := spaceErrors(err); ok {
		s.pages.Render(w, r, "new.html", Page{Status: http.StatusBadRequest, TitleKey: "spaces.new.title", Nav: s.nav("nav.spaces.new"),
			User: a.name, CSRF: a.csrf, Errors: errs, Data: f})
		return
	}
	if err != nil {
		s.fail(w, "create space", err)
		return
	}
	http.Redirect(w, r, s.spaceURL(sp.ID)+"?done=created", http.StatusSeeOther)
}

// memberRow is a member or a search result as the space's page shows it.
type memberRow struct {
	AccountID, Login, Name, Status, Added, Remove string
}

type spaceData struct {
	directory.Space
	Form            spaceForm
	Members         []memberRow
	Query           string
	Hits            []memberRow
	Searched        bool
	Self, Add, Back string
	Delete          string
}

func (s *Spaces) show(w http.ResponseWriter, r *http.Request, a admin) {
	notice := ""
	switch r.URL.Query().Get("done") {
	case "created":
		notice = "spaces.notice.created"
	case "renamed":
		notice = "spaces.notice.renamed"
	case "added":
		notice = "spaces.notice.added"
	case "removed":
		notice = "spaces.notice.removed"
	}
	s.showSpace(w, r, a, http.StatusOK, nil, notice, nil)
}

// showSpace renders a space's page; form, when not nil, is a refused
// rename shown again.
func (s *Spaces) showSpace(w http.ResponseWriter, r *http.Request, a admin, status int, errs []FieldError, notice string, form *spaceForm) {
	ctx := r.Context()
	st := s.o.Spaces.Store
	sp, err := st.Space(ctx, r.PathValue("id"))
	if errors.Is(err, directory.ErrNotFound) {
		s.notFound(w, r, a)
		return
	}
	if err != nil {
		s.fail(w, "space", err)
		return
	}
	self := s.spaceURL(sp.ID)
	d := spaceData{Space: sp, Self: self, Add: self + "/members", Delete: self + "/delete", Back: s.url("/console/spaces"),
		Form: spaceForm{Name: sp.Name, Description: sp.Description, Action: self}}
	if form != nil {
		d.Form = *form
	}
	ms, err := st.SpaceMembers(ctx, sp.ID)
	if err != nil {
		s.fail(w, "members", err)
		return
	}
	in := map[string]bool{}
	for _, m := range ms {
		in[m.AccountID] = true
		row := memberRow{AccountID: m.AccountID, Login: m.Login, Added: m.AddedAt.In(s.o.Location).Format("02/01/2006"),
			Remove: self + "/members/" + url.PathEscape(m.AccountID) + "/remove"}
		if lang.Of(r) == "en" {
			row.Added = m.AddedAt.In(s.o.Location).Format(time.DateOnly)
		}
		if per, err := st.Person(ctx, m.PersonID); err == nil {
			row.Name = strings.TrimSpace(per.FirstName + " " + per.LastName)
		}
		d.Members = append(d.Members, row)
	}
	if q := strings.TrimSpace(r.URL.Query().Get("q")); q != "" {
		d.Query, d.Searched = q, true
		hits, err := st.SearchAccounts(ctx, q, 20)
		if err != nil {
			s.fail(w, "search accounts", err)
			return
		}
		for _, h := range hits {
			if !in[h.AccountID] {
				d.Hits = append(d.Hits, memberRow{AccountID: h.AccountID, Login: h.Login,
					Name: strings.TrimSpace(h.FirstName + " " + h.LastName), Status: string(h.Status)})
			}
		}
	}
	title := fmt.Sprintf(s.pages.Text(r, "spaces.space.title"), sp.Name)
	s.pages.Render(w, r, "space.html", Page{Status: status, Title: title, Nav: s.nav(""), User: a.name, CSRF: a.csrf,
		Errors: errs, NoticeKey: notice, Data: d})
}

func (s *Spaces) notFound(w http.ResponseWriter, r *http.Request, a admin) {
	s.pages.Render(w, r, "message.html", Page{Status: http.StatusNotFound, TitleKey: "spaces.notfound.title", Nav: s.nav(""), User: a.name,
		Data: message{TextKey: "spaces.notfound.text", Link: s.url("/console/spaces"), LinkKey: "spaces.back"}})
}

// after answers a change: back to the space's page with a notice, the
// page with the refusal, or 404 for a space (or member) that is gone.
func (s *Spaces) after(w http.ResponseWriter, r *http.Request, a admin, err error, done string, form *spaceForm) {
	if err == nil {
		http.Redirect(w, r, s.spaceURL(r.PathValue("id"))+"?done="+done, http.StatusSeeOther)
		return
	}
	if errors.Is(err, spaces.ErrNotFound) {
		s.notFound(w, r, a)
		return
	}
	if errs, ok := spaceErrors(err); ok {
		s.showSpace(w, r, a, http.StatusBadRequest, errs, "", form)
		return
	}
	s.fail(w, "space change", err)
}

func (s *Spaces) rename(w http.ResponseWriter, r *http.Request, a admin) {
	id := r.PathValue("id")
	f := spaceForm{Name: r.PostFormValue("name"), Description: r.PostFormValue("description"), Action: s.spaceURL(id)}
	_, err := s.o.Spaces.Update(r.Context(), a.actor, id, f.Name, f.Description)
	s.after(w, r, a, err, "renamed", &f)
}

func (s *Spaces) addMember(w http.ResponseWriter, r *http.Request, a admin) {
	err := s.o.Spaces.AddMember(r.Context(), a.actor, r.PathValue("id"), r.PostFormValue("account"))
	s.after(w, r, a, err, "added", nil)
}

func (s *Spaces) removeMember(w http.ResponseWriter, r *http.Request, a admin) {
	err := s.o.Spaces.RemoveMember(r.Context(), a.actor, r.PathValue("id"), r.PathValue("account"))
	s.after(w, r, a, err, "removed", nil)
}

func (s *Spaces) delete(w http.ResponseWriter, r *http.Request, a admin) {
	err := s.o.Spaces.Delete(r.Context(), a.actor, r.PathValue("id"))
	if err == nil {
		http.Redirect(w, r, s.url("/console/spaces?done=deleted"), http.StatusSeeOther)
		return
	}
	s.after(w, r, a, err, "", nil)
}
