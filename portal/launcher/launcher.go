// Package launcher is the portal's home page for a signed-in person: the
// tiles of the services their current persona may use, grouped by
// category and each shown once, the médiacentre (GAR) for a subscribing
// school, the news of the moment, the school's branding and the
// département's banner, the persona switch and logout. It also holds the
// news and branding editors (collectivité administrators for everything,
// principals for their own school's news) and the per-school stylesheet.
//
// Pages use the shared layout of portal/console, so they run under its
// strict Content-Security-Policy: the school's colours reach the page as
// a stylesheet generated from checked values (/portal/brand/{uai}.css),
// never as inline style.
package launcher

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/idp"
	"github.com/enthub/enthub/idp/sso"
	"github.com/enthub/enthub/portal/console"
	"github.com/enthub/enthub/portal/lang"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed assets
var assetFiles embed.FS

// Sessions gives the request's SSO session (idp.Provider does).
type Sessions interface {
	CurrentSession(r *http.Request) *sso.Session
}

// Registry is the service registry and its GAR profile (idp.Provider).
type Registry interface {
	Services() []idp.Service
	IsGAR(s idp.Service) bool
	GARLaunchURL(uai string, profile directory.Profile) (string, bool)
}

// Auditor records an audit event (idp.Provider does).
type Auditor interface {
	Audit(ctx context.Context, e directory.Event)
}

// Options wire the launcher.
type Options struct {
	Directory directory.Reader
	Store     directory.PortalStore
	Sessions  Sessions
	Registry  Registry
	Audit     Auditor
	// Admins are the collectivité's administrators (portal.admins,
	// portal.admin_groups): they edit every school's news and branding.
	Admins console.AdminRule
	// Principal says who is a principal of their school (the guest
	// console's rule): they edit their school's news.
	Principal console.PrincipalRule
	// Banner is the département's message (portal.banner).
	Banner string
	// PublicURL is enthub's public address; routes live under its path.
	PublicURL string
	// Secure marks the device cookie Secure (an https PublicURL).
	Secure bool
	// Location is the site's zone (the configuration's time_zone): news
	// dates are read and shown in it. Default Europe/Paris, UTC when the
	// zone database is missing.
	Location *time.Location
	Now      func() time.Time
	Logger   *slog.Logger
}

// Launcher serves the launcher, its editors and the brand stylesheets.
type Launcher struct {
	o     Options
	pages *console.Pages
	base  string
}

// New builds the launcher on the shared layout.
func New(l *console.Layout, o Options) (*Launcher, error) {
	if o.Directory == nil || o.Store == nil || o.Sessions == nil || o.Registry == nil || o.Audit == nil {
		return nil, errors.New("launcher: Directory, Store, Sessions, Registry and Audit are required")
	}
	pages, err := l.Pages(templateFiles, texts, "templates/*.html")
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
		o.Location = console.DefaultLocation()
	}
	lc := &Launcher{o: o, pages: pages}
	if u, err := url.Parse(o.PublicURL); err == nil {
		lc.base = strings.TrimRight(u.Path, "/")
	}
	return lc, nil
}

// Routes mounts the launcher's pages under the path of PublicURL:
//
//	GET  /portail                        the launcher (no session: the login chooser)
//	GET  /portail/assets/…               its stylesheet and icons
//	GET  /portal/brand/{uai}.css         a school's colours and banner
//	GET  /portail/news                   news editor (administrators, principals)
//	POST /portail/news                   add a message
//	POST /portail/news/{id}/delete       remove one
//	GET|POST /portail/branding           branding editor (administrators)
func (lc *Launcher) Routes(mux *http.ServeMux) {
	b := lc.base
	mux.HandleFunc("GET "+b+"/portail", lc.home)
	assets, _ := fs.Sub(assetFiles, "assets")
	files := http.StripPrefix(b+"/portail/assets/", http.FileServerFS(assets))
	mux.HandleFunc("GET "+b+"/portail/assets/", func(w http.ResponseWriter, r *http.Request) {
		console.SecurityHeaders(w)
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
	mux.HandleFunc("GET "+b+"/portal/brand/{file}", lc.brandCSS)
	mux.HandleFunc("GET "+b+"/portail/news", lc.editor(lc.newsPage))
	mux.HandleFunc("POST "+b+"/portail/news", lc.editor(lc.newsCreate))
	mux.HandleFunc("POST "+b+"/portail/news/{id}/delete", lc.editor(lc.newsDelete))
	mux.HandleFunc("GET "+b+"/portail/news/{id}/edit", lc.editor(lc.newsEdit))
	mux.HandleFunc("POST "+b+"/portail/news/{id}", lc.editor(lc.newsUpdate))
	mux.HandleFunc(b+"/portail/branding", lc.editor(lc.branding))
}

func (lc *Launcher) url(p string) string { return lc.base + p }

// viewer is the signed-in person as the launcher's pages see them.
type viewer struct {
	sess      *sso.Session
	persona   *directory.Persona
	school    directory.Structure
	personas  int // how many personas the session may switch between
	login     string
	name      string
	admin     bool
	principal bool
}

// load reads who the session is; nil (after answering) when the
// directory fails.
func (lc *Launcher) load(w http.ResponseWriter, r *http.Request, sess *sso.Session) *viewer {
	ctx := r.Context()
	v := &viewer{sess: sess}
	pas, err := lc.o.Directory.Personas(ctx, sess.PersonID)
	if err != nil {
		lc.o.Logger.Error("launcher: personas", "person", sess.PersonID, "err", err)
		http.Error(w, "directory unavailable", http.StatusServiceUnavailable)
		return nil
	}
	v.personas = len(pas)
	if len(sess.Accounts) > 1 {
		v.personas += len(sess.Accounts) - 1 // the other accounts have one persona at least
	}
	for i := range pas {
		if pas[i].ID == sess.PersonaID {
			v.persona = &pas[i]
		}
	}
	if sess.StructureID != "" {
		v.school, _ = lc.o.Directory.Structure(ctx, sess.StructureID)
	}
	if acc, err := lc.o.Directory.Account(ctx, sess.AccountID); err == nil {
		v.login = acc.Login
		if v.admin, err = lc.o.Admins.Allows(ctx, lc.o.Directory, acc.Login, sess.PersonID); err != nil {
			lc.o.Logger.Error("launcher: administrators", "login", acc.Login, "err", err)
		}
	}
	if per, err := lc.o.Directory.Person(ctx, sess.PersonID); err == nil {
		v.name = strings.TrimSpace(per.FirstName + " " + per.LastName)
	}
	v.principal = v.persona != nil && lc.o.Principal.Allows(*v.persona)
	return v
}

// Tile is one entry of the launcher.
type Tile struct {
	ID, Label, Description, URL, Icon string
}

// Group is the tiles of one category.
type Group struct {
	Category string // "" for the tiles without one
	Tiles    []Tile
}

// Tiles returns the tiles a persona — its profile, its school's UAI —
// may open: the registry's services that allow it and have a URL, each
// service once, grouped by category (alphabetical, the uncategorised
// last) and sorted by label; the GAR is the médiacentre tile, shown when
// the school subscribes.
func (lc *Launcher) Tiles(profile directory.Profile, uai string, mediacentre string) []Group {
	seen := map[string]bool{}
	byCat := map[string][]Tile{}
	for _, s := range lc.o.Registry.Services() {
		if seen[s.ID] || lc.o.Registry.IsGAR(s) || s.Tile.URL == "" || !s.Allows(string(profile), uai) {
			continue
		}
		seen[s.ID] = true
		byCat[s.Tile.Category] = append(byCat[s.Tile.Category], Tile{ID: s.ID, Label: cmp.Or(s.Tile.Label, s.Name, s.ID),
			Description: s.Tile.Description, URL: s.Tile.URL, Icon: lc.icon(s.Tile.Icon)})
	}
	if u, ok := lc.o.Registry.GARLaunchURL(uai, profile); ok {
		byCat[""] = append(byCat[""], Tile{ID: "gar", Label: mediacentre, URL: u, Icon: lc.url("/portail/assets/icons/mediacentre.svg")})
	}
	var out []Group
	for cat, ts := range byCat {
		slices.SortFunc(ts, func(a, b Tile) int { return cmp.Or(strings.Compare(a.Label, b.Label), strings.Compare(a.ID, b.ID)) })
		out = append(out, Group{Category: cat, Tiles: ts})
	}
	slices.SortFunc(out, func(a, b Group) int {
		if (a.Category == "") != (b.Category == "") {
			if a.Category == "" {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Category, b.Category)
	})
	return out
}

// icon is the URL of a tile's icon: an embedded one by name, or the
// service's own path on the site.
func (lc *Launcher) icon(name string) string {
	if strings.HasPrefix(name, "/") {
		return name
	}
	if !slices.Contains(idp.TileIcons, name) {
		name = "app"
	}
	return lc.url("/portail/assets/icons/" + name + ".svg")
}

// NewsItem is a message as pages show it.
type NewsItem struct {
	ID, Title, Body, Until, School, Profile string
}

// currentNews lists the messages shown now to a persona.
func (lc *Launcher) currentNews(ctx context.Context, structureID string, profile directory.Profile) []directory.News {
	now := lc.o.Now()
	all, err := lc.o.Store.NewsList(ctx, structureID, now)
	if err != nil {
		lc.o.Logger.Error("launcher: news", "structure", structureID, "err", err)
		return nil
	}
	var out []directory.News
	for _, n := range all {
		if n.Current(now) && n.For(structureID, profile) {
			out = append(out, n)
		}
	}
	return out
}

// PublicNews lists the messages for everyone (every school, every
// profile) shown now: the login chooser shows them before anyone signs in.
func PublicNews(ctx context.Context, store directory.PortalStore, now time.Time) ([]directory.News, error) {
	all, err := store.NewsList(ctx, "", now)
	if err != nil {
		return nil, fmt.Errorf("news for everyone: %w", err)
	}
	var out []directory.News
	for _, n := range all {
		if n.Current(now) && n.StructureID == "" && n.Profile == "" {
			out = append(out, n)
		}
	}
	return out, nil
}

type homeData struct {
	School, Profile, PersonaSwitch     string
	Banner, Logo, BannerImage          string
	Dept                               string
	News                               []NewsItem
	Groups                             []Group
	MyData, Guests, NewsEdit, Branding string
	Logout                             string
}

// MethodCookie remembers on the device how the person last signed in
// (the connector's id), so the chooser offers that method first. It is
// first-party, holds no identifier of the person, and nothing else reads it.
const MethodCookie = idp.ChooserMethodCookie

func (lc *Launcher) home(w http.ResponseWriter, r *http.Request) {
	sess := lc.o.Sessions.CurrentSession(r)
	if sess == nil {
		http.Redirect(w, r, lc.url("/login"), http.StatusSeeOther)
		return
	}
	if sess.PersonaID == "" {
		http.Redirect(w, r, lc.url("/login/persona"), http.StatusSeeOther)
		return
	}
	v := lc.load(w, r, sess)
	if v == nil {
		return
	}
	if sess.Upstream != "" {
		http.SetCookie(w, &http.Cookie{Name: MethodCookie, Value: sess.Upstream, Path: lc.url("/login"), MaxAge: 365 * 24 * 3600,
			HttpOnly: true, Secure: lc.o.Secure, SameSite: http.SameSiteLaxMode})
	}
	profile := directory.Profile(sess.Profile)
	d := homeData{School: v.school.Name, Profile: "profile." + sess.Profile, Dept: lc.o.Banner,
		MyData: lc.url("/mydata"), Logout: lc.url("/logout")}
	if v.personas > 1 {
		d.PersonaSwitch = lc.url("/login/persona")
	}
	styles := []string{lc.url("/portail/assets/launcher.css")}
	if v.school.UAI != "" {
		if b, err := lc.o.Store.Branding(r.Context(), v.school.UAI); err == nil {
			d.Banner, d.Logo, d.BannerImage = b.Banner, b.LogoURL, b.BannerURL
			styles = append(styles, lc.url("/portal/brand/"+v.school.UAI+".css"))
		}
	}
	l := lang.Of(r)
	for _, n := range lc.currentNews(r.Context(), sess.StructureID, profile) {
		d.News = append(d.News, lc.newsItem(n, l))
	}
	d.Groups = lc.Tiles(profile, v.school.UAI, lc.pages.Text(r, "tile.mediacentre"))
	if v.principal {
		d.Guests = lc.url("/console/guests")
	}
	if v.principal || v.admin {
		d.NewsEdit = lc.url("/portail/news")
	}
	if v.admin {
		d.Branding = lc.url("/portail/branding")
	}
	lc.pages.Render(w, r, "launcher.html", console.Page{TitleKey: "launcher.title", User: v.name, Styles: styles, Data: d})
}

func (lc *Launcher) newsItem(n directory.News, lang string) NewsItem {
	layout := "02/01/2006"
	if lang == "en" {
		layout = "2 Jan 2006"
	}
	until := n.End.In(lc.o.Location).AddDate(0, 0, -1) // End is the day after the last one shown
	it := NewsItem{ID: n.ID, Title: n.Title, Body: n.Body, Until: until.Format(layout), Profile: string(n.Profile)}
	return it
}
