package launcher_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/enthub/enthub/test/peer"
)

// chrome is a headless Chromium with axe-core to inject and a folder for
// the screenshots (ENTHUB_SCREENSHOTS keeps them as artefacts).
type chrome struct {
	t       *testing.T
	browser context.Context
	axe     string
	shots   string
}

func newChrome(t *testing.T) *chrome {
	b := peer.Chromium(t)
	axe := peer.AxeCore(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(b.Path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("lang", "fr-FR"), chromedp.Flag("accept-lang", "fr-FR,fr"), chromedp.UserDataDir(t.TempDir()))
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	dir := os.Getenv("ENTHUB_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &chrome{t: t, browser: browser, axe: axe, shots: dir}
}

func (c *chrome) tab() context.Context {
	ctx, cancel := chromedp.NewContext(c.browser, chromedp.WithNewBrowserContext())
	c.t.Cleanup(cancel)
	// axe-core is injected by the test; the pages' own CSP holds otherwise.
	if _, err := chromedp.Call(ctx, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: true}); err != nil {
		c.t.Fatal(err)
	}
	return ctx
}

func (c *chrome) do(ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		c.t.Fatalf("%s: %v", what, err)
	}
}

func value[T any](c *chrome, ctx context.Context, what string, a chromedp.Action[T]) T {
	c.t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		c.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// check screenshots the page at 1280 and 360 px (no sideways scrolling)
// and runs axe-core: a serious or critical violation fails the test.
func (c *chrome) check(ctx context.Context, name string) {
	c.t.Helper()
	for _, w := range []int64{1280, 360} {
		c.do(ctx, "viewport", chromedp.EmulateViewport(w, 900))
		png := value(c, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
		if err := os.WriteFile(filepath.Join(c.shots, fmt.Sprintf("launcher-%s-%d.png", name, w)), png, 0o644); err != nil {
			c.t.Fatal(err)
		}
		if len(png) < 2000 {
			c.t.Errorf("screenshot %s at %d px is empty", name, w)
		}
		if value(c, ctx, "overflow", chromedp.Evaluate[bool](`document.documentElement.scrollWidth > document.documentElement.clientWidth + 1`)) {
			c.t.Errorf("%s scrolls sideways at %d px", name, w)
		}
	}
	c.do(ctx, "reset size", chromedp.EmulateReset(), chromedp.Evaluate[chromedp.Void](c.axe))
	bad := value(c, ctx, "axe on "+name, chromedp.Evaluate[[]string](`axe.run(document, {resultTypes: ['violations']}).then(r => r.violations
		.filter(v => v.impact === 'serious' || v.impact === 'critical')
		.map(v => v.id + ' (' + v.impact + '): ' + v.nodes.map(n => n.target.join(' ')).join(', ')))`, chromedp.EvalAwaitPromise))
	for _, v := range bad {
		c.t.Errorf("axe on %s: %s", name, v)
	}
}

// tabThrough presses Tab from the top of the page until the focus leaves
// the document or comes back, and returns the links reached in order;
// each focused element must show a visible outline.
func (c *chrome) tabThrough(ctx context.Context, name string) []string {
	c.t.Helper()
	c.do(ctx, "blur", chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)`))
	var reached []string
	for range 80 {
		c.do(ctx, "tab", chromedp.KeyEvent("\t"))
		got := value(c, ctx, "focus", chromedp.Evaluate[[]string](`(() => {
			const e = document.activeElement;
			if (!e || e === document.body) return ['', ''];
			const s = getComputedStyle(e);
			return [e.getAttribute('href') || e.id || e.tagName, s.outlineStyle === 'none' ? '' : s.outlineWidth];
		})()`))
		if got[0] == "" || (len(reached) > 0 && got[0] == reached[0]) {
			break
		}
		if got[1] == "" || got[1] == "0px" {
			c.t.Errorf("%s: focus on %s is not visible", name, got[0])
		}
		reached = append(reached, got[0])
	}
	return reached
}

// TestLauncherJourneyInChromium: the chooser by keyboard, then a teacher
// of two schools on the launcher (every tile reached by Tab, focus
// visible), switching school, then opening a CAS service as the new
// persona — each page screenshotted at 1280 and 360 px and checked by
// axe-core.
func TestLauncherJourneyInChromium(t *testing.T) { testLauncherJourney(t, newChrome(t), newSite(t)) }

func TestLauncherJourneyInChromiumPostgres(t *testing.T) {
	testLauncherJourney(t, newChrome(t), newSiteOn(t, peer.Postgres(t)))
}

func testLauncherJourney(t *testing.T, c *chrome, s *site) {
	admin := s.signIn("admin.dept", "0130001A")
	admin.get("/portail/news")
	admin.post("/portail/news", map[string][]string{"title": {"Rentrée le 7 septembre"}, "body": {"Bonne rentrée à tous."},
		"start": {"2026-09-01"}, "end": {"2026-09-30"}})
	admin.get("/portail/branding?uai=0130002B")
	admin.post("/portail/branding", map[string][]string{"uai": {"0130002B"}, "banner": {"Collège B : bienvenue"},
		"primary": {"#00466e"}, "accent": {"#8a1538"}})

	visitor := c.tab()
	c.do(visitor, "chooser", chromedp.Navigate(s.srv.URL+"/portail"), chromedp.WaitVisible(chromedp.CSS("nav a.button")))
	if u := value(c, visitor, "location", chromedp.Location()); !strings.HasSuffix(u, "/login") {
		t.Errorf("a visitor without session lands on %s, want the chooser", u)
	}
	c.check(visitor, "chooser")
	reached := c.tabThrough(visitor, "chooser")
	for _, p := range []string{"eleve", "parent", "personnel", "collectivite", "invite"} {
		if !slices.ContainsFunc(reached, func(h string) bool { return strings.HasSuffix(h, "/login?profile="+p) }) {
			t.Errorf("Tab on the chooser never reaches %s: %v", p, reached)
		}
	}
	c.do(visitor, "step 2", chromedp.Navigate(s.srv.URL+"/login?profile=personnel"), chromedp.WaitVisible(chromedp.ID("methods-title")))
	c.check(visitor, "chooser-methods")

	teacher := c.tab()
	if _, err := chromedp.Call(teacher, network.SetCookie, network.SetCookieParams{Name: "enthub_sso", Value: s.session("prof.ab", "0130001A"),
		URL: s.srv.URL, HTTPOnly: new(true)}); err != nil {
		t.Fatal(err)
	}
	c.do(teacher, "launcher", chromedp.Navigate(s.srv.URL+"/portail"), chromedp.WaitVisible(chromedp.CSS("ul.tiles")))
	c.check(teacher, "school-a")
	tiles := value(c, teacher, "tiles", chromedp.Evaluate[[]string](`[...document.querySelectorAll('ul.tiles a')].map(a => a.getAttribute('href'))`))
	reached = c.tabThrough(teacher, "launcher")
	for _, h := range append(tiles, "/login/persona", "/logout", "/mydata") {
		if !slices.Contains(reached, h) {
			t.Errorf("Tab on the launcher never reaches %s: %v", h, reached)
		}
	}
	if len(reached) == 0 || reached[0] != "#main" {
		t.Errorf("the first Tab stop is %v, want the skip link", reached)
	}

	c.do(teacher, "persona page", chromedp.Click(chromedp.CSS(`a[href="/login/persona"]`)), chromedp.WaitVisible(chromedp.CSS("fieldset")))
	c.check(teacher, "persona")
	c.do(teacher, "switch to school B",
		chromedp.Click(chromedp.Search(`//label[contains(., "0130002B")]`)),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[data-service="classeur"]`)))
	if txt := value(c, teacher, "persona", chromedp.Text(chromedp.CSS(".persona"))); !strings.Contains(txt, "Collège 0130002B") {
		t.Errorf("after the switch the launcher says %q", txt)
	}
	if txt := value(c, teacher, "brand", chromedp.Text(chromedp.CSS(".brand"))); !strings.Contains(txt, "Collège B : bienvenue") {
		t.Errorf("school B's banner: %q", txt)
	}
	c.check(teacher, "school-b")
	c.do(teacher, "CAS service", chromedp.Click(chromedp.CSS(`a[data-service="classeur"]`)), chromedp.WaitVisible(chromedp.ID("cas")))
	got := value(c, teacher, "CAS response", chromedp.Text(chromedp.ID("cas")))
	if !strings.Contains(got, "<cas:user>prof.ab</cas:user>") || !strings.Contains(got, "<cas:uai>0130002B</cas:uai>") {
		t.Errorf("the CAS service received:\n%s", got)
	}
}
