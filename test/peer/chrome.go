package peer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Chrome is Debian's headless Chromium driven over the DevTools protocol
// by the browser journeys, with the axe-core source to inject into pages
// and a folder for the screenshots ($ENTHUB_SCREENSHOTS keeps them as
// artefacts; a temporary folder otherwise).
type Chrome struct {
	t       *testing.T
	browser context.Context
	axe     string
	shots   string
	prefix  string
}

// NewChrome starts Chromium (or stops the test through Need when Chromium
// or axe-core is missing); prefix starts the screenshots' file names, so
// the journeys of several packages can share one artefact folder.
func NewChrome(t *testing.T, prefix string) *Chrome {
	t.Helper()
	b := Chromium(t)
	axe := AxeCore(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(b.Path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("lang", "fr-FR"), chromedp.Flag("accept-lang", "fr-FR,fr"), chromedp.UserDataDir(t.TempDir()))
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	// The first tab starts the browser; the test's tabs open beside it,
	// each in a browser context of its own.
	browserCtx, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	dir := os.Getenv("ENTHUB_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &Chrome{t: t, browser: browserCtx, axe: axe, shots: dir, prefix: prefix}
}

// For returns the same browser reporting to t (a subtest).
func (c *Chrome) For(t *testing.T) *Chrome {
	d := *c
	d.t = t
	return &d
}

// Tab opens a tab in a browser context of its own (its own cookies), so
// two people of a journey do not share a session.
func (c *Chrome) Tab() context.Context {
	c.t.Helper()
	ctx, cancel := chromedp.NewContext(c.browser, chromedp.WithNewBrowserContext())
	c.t.Cleanup(cancel)
	// axe-core is injected by the test, not by the page: the page's CSP
	// (no inline script) holds for everything the page does itself.
	if _, err := chromedp.Call(ctx, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: true}); err != nil {
		c.t.Fatal(err)
	}
	return ctx
}

// stepTimeout bounds one step of a journey, so a page that never shows
// what the test waits for fails it, naming the step, instead of hanging.
const stepTimeout = 30 * time.Second

// Do runs steps in the tab; a failure fails the test, naming what.
func (c *Chrome) Do(ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		c.t.Fatalf("%s: %v", what, err)
	}
}

// Value runs a in the tab and returns its result; a failure fails the test.
func Value[T any](c *Chrome, ctx context.Context, what string, a chromedp.Action[T]) T {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		c.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// Check screenshots the page at 1280 and 360 px wide (it must not scroll
// sideways) and runs axe-core on it: a serious or critical violation
// fails the test.
func (c *Chrome) Check(ctx context.Context, name string) {
	c.t.Helper()
	for _, w := range []int64{1280, 360} {
		c.Do(ctx, "viewport", chromedp.EmulateViewport(w, 900))
		png := Value(c, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
		if err := os.WriteFile(filepath.Join(c.shots, fmt.Sprintf("%s-%s-%d.png", c.prefix, name, w)), png, 0o644); err != nil {
			c.t.Fatal(err)
		}
		if len(png) < 2000 {
			c.t.Errorf("screenshot %s at %d px is empty", name, w)
		}
		if Value(c, ctx, "overflow", chromedp.Evaluate[bool](`document.documentElement.scrollWidth > document.documentElement.clientWidth + 1`)) {
			c.t.Errorf("%s scrolls sideways at %d px", name, w)
		}
	}
	c.Do(ctx, "reset size", chromedp.EmulateReset(), chromedp.Evaluate[chromedp.Void](c.axe))
	bad := Value(c, ctx, "axe on "+name, chromedp.Evaluate[[]string](`axe.run(document, {resultTypes: ['violations']}).then(r => r.violations
		.filter(v => v.impact === 'serious' || v.impact === 'critical')
		.map(v => v.id + ' (' + v.impact + '): ' + v.nodes.map(n => n.target.join(' ')).join(', ')))`, chromedp.EvalAwaitPromise))
	for _, v := range bad {
		c.t.Errorf("axe on %s: %s", name, v)
	}
}

// TabThrough presses Tab from the top of the page until the focus leaves
// the document or comes back, and returns what it reached in order (a
// link's href, else the element's id, else its tag); each focused element
// must show a visible outline.
func (c *Chrome) TabThrough(ctx context.Context, name string) []string {
	c.t.Helper()
	c.Do(ctx, "blur", chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)`))
	var reached []string
	for range 80 {
		c.Do(ctx, "tab", chromedp.KeyEvent("\t"))
		got := c.focus(ctx, "")
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

// Download lets the tab's browser context save files into a new folder,
// runs steps (a click on a download link), and returns the path of the
// file Chromium saved there once complete (its name is the one the server
// gave).
func (c *Chrome) Download(ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) string {
	c.t.Helper()
	dir := c.t.TempDir()
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir,
		BrowserContextID: chromedp.FromContext(ctx).BrowserContextID}); err != nil {
		c.t.Fatalf("%s: download folder: %v", what, err)
	}
	c.Do(ctx, what, steps...)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		es, err := os.ReadDir(dir)
		if err != nil {
			c.t.Fatal(err)
		}
		// Chromium writes NAME.crdownload (or a hidden temporary file),
		// then renames it when complete.
		for _, e := range es {
			if n := e.Name(); !strings.HasSuffix(n, ".crdownload") && !strings.HasPrefix(n, ".") {
				return filepath.Join(dir, n)
			}
		}
	}
	c.t.Fatalf("%s: no download completed within 30 s", what)
	return ""
}

// focus is what has the focus (its href, else id, else tag; or, given
// a JavaScript condition on the element e, "yes" when it holds) and its
// outline width ("" when it has none); "" when nothing has.
func (c *Chrome) focus(ctx context.Context, cond string) [2]string {
	c.t.Helper()
	what := `e.getAttribute('href') || e.id || e.tagName`
	if cond != "" {
		what = `(` + cond + `) ? 'yes' : 'no'`
	}
	got := Value(c, ctx, "focus", chromedp.Evaluate[[]string](`(() => {
		const e = document.activeElement;
		if (!e || e === document.body) return ['', ''];
		const s = getComputedStyle(e);
		return [`+what+`, s.outlineStyle === 'none' ? '' : s.outlineWidth];
	})()`))
	return [2]string{got[0], got[1]}
}

// TabTo presses Tab until the focused element e meets cond (a JavaScript
// expression, such as e.matches('a.button')), its focus visible, then
// Enter: the next page reached by keyboard alone. It fails the test when
// Tab never gets there.
func (c *Chrome) TabTo(ctx context.Context, cond string) {
	c.t.Helper()
	c.Do(ctx, "blur", chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)`))
	for range 80 {
		c.Do(ctx, "tab", chromedp.KeyEvent("\t"))
		if got := c.focus(ctx, cond); got[0] == "yes" {
			if got[1] == "" || got[1] == "0px" {
				c.t.Errorf("focus on %s is not visible", cond)
			}
			c.Do(ctx, "Enter on "+cond, chromedp.KeyEvent("\r"))
			return
		}
	}
	c.t.Fatalf("Tab never reaches %s", cond)
}
