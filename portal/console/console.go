// Package console is the shared layout of enthub's consoles — the
// principal's guest accounts, the département's statistics, a user's own
// data — and the principal's console itself.
//
// # The layout, for other portal packages
//
// Pages are server-rendered html/template, French first (English with
// ?lang=en, the enthub_lang cookie or an English-preferring browser), with
// every string taken from a translation catalogue, never from a template.
// The stylesheets are embedded and served by the Layout itself, so pages
// run under a strict Content-Security-Policy (default-src 'self';
// frame-ancestors 'none': no inline script or style anywhere). The layout
// gives the skip link, the landmarks (header, nav, main, footer), the page
// title (prefixed when the page shows errors), the error summary whose
// links lead to the fields, labels and hints tied to their fields, errors
// tied by aria-describedby, visible focus, and a layout that holds from
// 320 px; print.css keeps only the content when printed.
//
// A package with pages of its own (portal/stats, portal/mydata) does:
//
//	//go:embed templates/*.html
//	var files embed.FS
//
//	pages, err := layout.Pages(files, myTexts, "templates/*.html")
//	…
//	pages.Render(w, r, "report.html", console.Page{
//		TitleKey: "stats.title", Nav: nav, User: name, Data: data,
//	})
//
// where each template file defines {{define "main"}} (the content below the
// page's h1) and uses {{.T "key"}} for its words, {{template "field"
// ($.Field "until" "date" value true)}} for inputs and {{template "csrf"
// .CSRF}} in forms. myTexts is a Catalog whose keys are added to the
// layout's; Layout.Assets serves the stylesheets under Options.AssetsPath.
// Render sets the security headers (CSP, nosniff, Referrer-Policy,
// no-store) on every page.
package console

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"

	"github.com/enthub/enthub/portal/lang"
)

//go:embed templates/layout.html templates/frame.html
var layoutFile embed.FS

//go:embed assets
var assetFiles embed.FS

// Catalog is a translation catalogue: language ("fr", "en") → key → text.
type Catalog map[string]map[string]string

// Languages are the languages pages are offered in, the default first.
var Languages = []string{"fr", "en"}

// Options tune the layout.
type Options struct {
	// SiteName is shown in the header and the titles (default "ENT").
	SiteName string
	// Home is where the site name links to (default "/").
	Home string
	// AssetsPath is the URL path the stylesheets are served under
	// (default "/console/assets/"); mount Layout.Assets there.
	AssetsPath string
	Logger     *slog.Logger
}

// Layout is the parsed shared layout.
type Layout struct {
	opts  Options
	base  *template.Template
	texts Catalog
}

// NewLayout parses the embedded layout.
func NewLayout(opts Options) (*Layout, error) {
	if opts.SiteName == "" {
		opts.SiteName = "ENT"
	}
	if opts.Home == "" {
		opts.Home = "/"
	}
	if opts.AssetsPath == "" {
		opts.AssetsPath = "/console/assets/"
	}
	if !strings.HasSuffix(opts.AssetsPath, "/") {
		opts.AssetsPath += "/"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	base, err := template.New("").ParseFS(layoutFile, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("console layout: %w", err)
	}
	return &Layout{opts: opts, base: base, texts: layoutTexts}, nil
}

// AssetsPath is where Assets must be mounted.
func (l *Layout) AssetsPath() string { return l.opts.AssetsPath }

// Assets serves the embedded stylesheets; mount it on AssetsPath.
func (l *Layout) Assets() http.Handler {
	sub, _ := fs.Sub(assetFiles, "assets")
	files := http.StripPrefix(l.opts.AssetsPath, http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w.Header())
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}

// Pages is a set of pages sharing the layout.
type Pages struct {
	l     *Layout
	pages map[string]*template.Template
	texts Catalog
}

// Pages parses the page templates matched by patterns in fsys, each with
// the layout; a page is named by its file's base name. texts adds the
// pages' own keys to the layout's catalogue.
func (l *Layout) Pages(fsys fs.FS, texts Catalog, patterns ...string) (*Pages, error) {
	merged := Catalog{}
	for _, src := range []Catalog{l.texts, texts} {
		for lang, m := range src {
			if merged[lang] == nil {
				merged[lang] = map[string]string{}
			}
			for k, v := range m {
				merged[lang][k] = v
			}
		}
	}
	ps := &Pages{l: l, pages: map[string]*template.Template{}, texts: merged}
	for _, pat := range patterns {
		names, err := fs.Glob(fsys, pat)
		if err != nil {
			return nil, fmt.Errorf("console pages %q: %w", pat, err)
		}
		for _, n := range names {
			t, err := l.base.Clone()
			if err != nil {
				return nil, err
			}
			if _, err := t.ParseFS(fsys, n); err != nil {
				return nil, fmt.Errorf("console page %s: %w", n, err)
			}
			ps.pages[path.Base(n)] = t
		}
	}
	return ps, nil
}

// Frame returns pages for a package that renders its own body as
// template.HTML (portal/stats): render "frame.html" with the body as
// Page.Data, and the layout adds its frame, headers and status.
func (l *Layout) Frame() (*Pages, error) {
	return l.Pages(layoutFile, nil, "templates/frame.html")
}

// NavItem is an entry of the console's navigation.
type NavItem struct {
	Href    string
	Key     string // catalogue key of the label
	Current bool
}

// FieldError ties a message to a form field: Field is the input's id
// ("" for an error of the whole form), Key the catalogue key.
type FieldError struct {
	Field string
	Key   string
}

// Page is what a page handler gives Render.
type Page struct {
	// Status is the HTTP status (default 200).
	Status int
	// TitleKey is the catalogue key of the page's title (h1 and <title>);
	// Title, when set, is used as it is instead.
	TitleKey string
	Title    string
	Nav      []NavItem
	// User names the signed-in person in the header.
	User string
	// CSRF is the token forms carry (see CSRF).
	CSRF string
	// Errors are shown in the summary and beside their fields.
	Errors []FieldError
	// NoticeKey is the catalogue key of a confirmation shown at the top.
	NoticeKey string
	// Styles are more stylesheets, after the layout's (URLs on the site:
	// the CSP allows no other).
	Styles []string
	// Data is the page's own.
	Data any
}

// View is what templates see: the page, the language and the helpers.
type View struct {
	Page
	Lang, OtherLang, OtherLangLabel, OtherLangHref string
	Site, Home, Assets, Notice                     string
	texts                                          map[string]string
}

// T returns the text of key in the page's language; a missing key shows
// as itself, so a forgotten translation is visible rather than blank.
func (v View) T(key string) string {
	if s, ok := v.texts[key]; ok {
		return s
	}
	return key
}

// Tf is T with fmt.Sprintf arguments.
func (v View) Tf(key string, args ...any) string { return fmt.Sprintf(v.T(key), args...) }

// FieldView is an input as the "field" template draws it.
type FieldView struct {
	ID, Name, Type, Value, Label, Hint, Error, Optional, Autocomplete, DescribedBy string
	Required                                                                       bool
}

// Field describes the input name: its label is the catalogue's
// "field.<name>", its hint "field.<name>.hint" when there is one, its
// error the page's error for that field, tied by aria-describedby.
func (v View) Field(name, typ, value string, required bool) FieldView {
	f := FieldView{ID: name, Name: name, Type: typ, Value: value, Required: required,
		Label: v.T("field." + name), Optional: v.T("console.optional"), Autocomplete: v.texts["field."+name+".autocomplete"]}
	var ids []string
	if h, ok := v.texts["field."+name+".hint"]; ok {
		f.Hint = h
		ids = append(ids, name+"-hint")
	}
	for _, e := range v.Errors {
		if e.Field == name {
			f.Error = v.T(e.Key)
			ids = append(ids, name+"-error")
			break
		}
	}
	f.DescribedBy = strings.Join(ids, " ")
	return f
}

// Text returns the text of key in the request's language, for handlers
// that need a word outside a template (a mail, a file name).
func (ps *Pages) Text(r *http.Request, key string) string {
	return View{texts: ps.texts[lang.Of(r)]}.T(key)
}

// securityHeaders are set on every console response.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

// SecurityHeaders sets the console's security headers and no-store, for
// responses that are not pages (downloads).
func SecurityHeaders(w http.ResponseWriter) {
	securityHeaders(w.Header())
	w.Header().Set("Cache-Control", "no-store")
}

// Render writes the page name with the layout, in the request's language.
func (ps *Pages) Render(w http.ResponseWriter, r *http.Request, name string, pg Page) {
	t, ok := ps.pages[name]
	if !ok {
		ps.l.opts.Logger.Error("render console page", "page", name, "err", "no such page")
		http.Error(w, "page error", http.StatusInternalServerError)
		return
	}
	l := lang.Of(r)
	lang.Remember(w, r)
	other, label := "en", "English"
	if l == "en" {
		other, label = "fr", "Français"
	}
	q := r.URL.Query()
	q.Set("lang", other)
	v := View{Page: pg, Lang: l, OtherLang: other, OtherLangLabel: label, OtherLangHref: r.URL.Path + "?" + q.Encode(),
		Site: ps.l.opts.SiteName, Home: ps.l.opts.Home, Assets: ps.l.opts.AssetsPath, texts: ps.texts[l]}
	if v.Title == "" {
		v.Title = v.T(pg.TitleKey)
	}
	if pg.NoticeKey != "" {
		v.Notice = v.T(pg.NoticeKey)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		ps.l.opts.Logger.Error("render console page", "page", name, "err", err)
		http.Error(w, "page error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	SecurityHeaders(w)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Language", l)
	status := pg.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
