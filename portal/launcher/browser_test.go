package launcher_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/enthub/enthub/test/peer"
)

// TestLauncherJourneyInChromium: the chooser by keyboard, then a teacher
// of two schools on the launcher (every tile reached by Tab, focus
// visible), switching school, then opening a CAS service as the new
// persona — each page screenshotted at 1280 and 360 px and checked by
// axe-core.
func TestLauncherJourneyInChromium(t *testing.T) {
	testLauncherJourney(t, peer.NewChrome(t, "launcher"), newSite(t))
}

func TestLauncherJourneyInChromiumPostgres(t *testing.T) {
	testLauncherJourney(t, peer.NewChrome(t, "launcher"), newSiteOn(t, peer.Postgres(t)))
}

func testLauncherJourney(t *testing.T, c *peer.Chrome, s *site) {
	admin := s.signIn("admin.dept", "0130001A")
	admin.get("/portail/news")
	admin.post("/portail/news", map[string][]string{"title": {"Rentrée le 7 septembre"}, "body": {"Bonne rentrée à tous."},
		"start": {"2026-09-01"}, "end": {"2026-09-30"}})
	admin.get("/portail/branding?uai=0130002B")
	admin.post("/portail/branding", map[string][]string{"uai": {"0130002B"}, "banner": {"Collège B : bienvenue"},
		"primary": {"#00466e"}, "accent": {"#8a1538"}})

	visitor := c.Tab()
	c.Do(visitor, "chooser", chromedp.Navigate(s.srv.URL+"/portail"), chromedp.WaitVisible(chromedp.CSS("nav a.button")))
	if u := peer.Value(c, visitor, "location", chromedp.Location()); !strings.HasSuffix(u, "/login") {
		t.Errorf("a visitor without session lands on %s, want the chooser", u)
	}
	c.Check(visitor, "chooser")
	reached := c.TabThrough(visitor, "chooser")
	for _, p := range []string{"eleve", "parent", "personnel", "collectivite", "invite"} {
		if !slices.ContainsFunc(reached, func(h string) bool { return strings.HasSuffix(h, "/login?profile="+p) }) {
			t.Errorf("Tab on the chooser never reaches %s: %v", p, reached)
		}
	}
	c.Do(visitor, "step 2", chromedp.Navigate(s.srv.URL+"/login?profile=personnel"), chromedp.WaitVisible(chromedp.ID("methods-title")))
	c.Check(visitor, "chooser-methods")

	teacher := c.Tab()
	if _, err := chromedp.Call(teacher, network.SetCookie, network.SetCookieParams{Name: "enthub_sso", Value: s.session("prof.ab", "0130001A"),
		URL: s.srv.URL, HTTPOnly: new(true)}); err != nil {
		t.Fatal(err)
	}
	c.Do(teacher, "launcher", chromedp.Navigate(s.srv.URL+"/portail"), chromedp.WaitVisible(chromedp.CSS("ul.tiles")))
	c.Check(teacher, "school-a")
	tiles := peer.Value(c, teacher, "tiles", chromedp.Evaluate[[]string](`[...document.querySelectorAll('ul.tiles a')].map(a => a.getAttribute('href'))`))
	reached = c.TabThrough(teacher, "launcher")
	for _, h := range append(tiles, "/login/persona", "/logout", "/mydata") {
		if !slices.Contains(reached, h) {
			t.Errorf("Tab on the launcher never reaches %s: %v", h, reached)
		}
	}
	if len(reached) == 0 || reached[0] != "#main" {
		t.Errorf("the first Tab stop is %v, want the skip link", reached)
	}

	c.Do(teacher, "persona page", chromedp.Click(chromedp.CSS(`a[href="/login/persona"]`)), chromedp.WaitVisible(chromedp.CSS("fieldset")))
	c.Check(teacher, "persona")
	c.Do(teacher, "switch to school B",
		chromedp.Click(chromedp.Search(`//label[contains(., "0130002B")]`)),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[data-service="classeur"]`)))
	if txt := peer.Value(c, teacher, "persona", chromedp.Text(chromedp.CSS(".persona"))); !strings.Contains(txt, "Collège 0130002B") {
		t.Errorf("after the switch the launcher says %q", txt)
	}
	if txt := peer.Value(c, teacher, "brand", chromedp.Text(chromedp.CSS(".brand"))); !strings.Contains(txt, "Collège B : bienvenue") {
		t.Errorf("school B's banner: %q", txt)
	}
	c.Check(teacher, "school-b")
	c.Do(teacher, "CAS service", chromedp.Click(chromedp.CSS(`a[data-service="classeur"]`)), chromedp.WaitVisible(chromedp.ID("cas")))
	got := peer.Value(c, teacher, "CAS response", chromedp.Text(chromedp.ID("cas")))
	if !strings.Contains(got, "<cas:user>prof.ab</cas:user>") || !strings.Contains(got, "<cas:uai>0130002B</cas:uai>") {
		t.Errorf("the CAS service received:\n%s", got)
	}
}

// TestNewsEditInChromium: a principal reaches their message's form by
// keyboard from the news page, empties the title (the error is tied to
// its field and its summary links to it), then changes the title and the
// last day; each page screenshotted and checked by axe-core.
func TestNewsEditInChromium(t *testing.T) {
	s := newSite(t)
	c := peer.NewChrome(t, "launcher")
	principal := s.signIn("principal.a", "0130001A")
	principal.get("/portail/news")
	principal.post("/portail/news", map[string][]string{"title": {"Sortie 6e"}, "body": {"Départ 8 h devant le collège."},
		"start": {"2026-09-07"}, "end": {"2026-09-07"}})
	n, ok := s.newsByTitle("Sortie 6e")
	if !ok {
		t.Fatal("not published")
	}
	tab := c.Tab()
	if _, err := chromedp.Call(tab, network.SetCookie, network.SetCookieParams{Name: "enthub_sso", Value: s.session("principal.a", "0130001A"),
		URL: s.srv.URL, HTTPOnly: new(true)}); err != nil {
		t.Fatal(err)
	}
	c.Do(tab, "news", chromedp.Navigate(s.srv.URL+"/portail/news"), chromedp.WaitVisible(chromedp.CSS("ul.news-admin")))
	c.Check(tab, "news-list")
	c.TabTo(tab, `e.matches('a[href$="/`+n.ID+`/edit"]')`)
	c.Do(tab, "edit form", chromedp.WaitVisible(chromedp.CSS(`form[action="/portail/news/`+n.ID+`"]`)))
	if v := peer.Value(c, tab, "title", chromedp.Evaluate[string](`document.getElementById('title').value`)); v != "Sortie 6e" {
		t.Errorf("the form's title is %q", v)
	}
	c.Check(tab, "news-edit")
	c.Do(tab, "empty title", chromedp.Evaluate[chromedp.Void](`document.querySelector('input#title').value = ''`),
		chromedp.Click(chromedp.CSS(`form[action="/portail/news/`+n.ID+`"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("title-error")))
	if d := peer.Value(c, tab, "described", chromedp.Evaluate[string](`document.getElementById('title').getAttribute('aria-describedby') || ''`)); !strings.Contains(d, "title-error") {
		t.Errorf("the title field is not described by its error: %q", d)
	}
	if n := peer.Value(c, tab, "summary", chromedp.Evaluate[int](`document.querySelectorAll('a[href="#title"]').length`)); n == 0 {
		t.Error("no error summary link to the title field")
	}
	c.Check(tab, "news-edit-error")
	c.Do(tab, "save", chromedp.SetValue(chromedp.CSS("input#title"), "Sortie des 6e reportée"), chromedp.SetValue(chromedp.CSS("input#end"), "2026-09-09"),
		chromedp.Click(chromedp.CSS(`form[action="/portail/news/`+n.ID+`"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.Search(`//*[contains(., "Le message est modifié.")]`)))
	c.Check(tab, "news-edited")
	got, ok := s.newsByTitle("Sortie des 6e reportée")
	if !ok || got.ID != n.ID || got.End.Sub(got.Start) != 3*24*time.Hour {
		t.Errorf("after the edit in the browser: %+v", got)
	}
}
