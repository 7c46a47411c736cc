package console_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/enthub/enthub/test/peer"
)

// chrome is a headless Chromium driven over the DevTools protocol, with
// the axe-core source to inject into pages and a folder for screenshots.
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
	// The first tab starts the browser; the test's tabs open beside it,
	// each in a browser context of its own.
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

// tab opens a tab in a browser context of its own (its own cookies), so
// the principal and the guest do not share a session.
func (c *chrome) tab() context.Context {
	ctx, cancel := chromedp.NewContext(c.browser, chromedp.WithNewBrowserContext())
	c.t.Cleanup(cancel)
	// axe-core is injected by the test, not by the page: the page's CSP
	// (no inline script) holds for everything the page does itself.
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

// check screenshots the page at 1280 and 360 px wide (it must not scroll
// sideways) and runs axe-core on it: a serious or critical violation
// fails the test.
func (c *chrome) check(ctx context.Context, name string) {
	c.t.Helper()
	for _, w := range []int64{1280, 360} {
		c.do(ctx, "viewport", chromedp.EmulateViewport(w, 900))
		png := value(c, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
		if err := os.WriteFile(filepath.Join(c.shots, fmt.Sprintf("console-%s-%d.png", name, w)), png, 0o644); err != nil {
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

// TestGuestJourneyInChromium: a principal creates a guest, the guest
// activates the account and logs in, the principal revokes it and the
// guest is refused — in a real browser, each page screenshotted at 1280
// and 360 px and checked by axe-core.
func TestGuestJourneyInChromium(t *testing.T) {
	c := newChrome(t)
	s := newSite(t, "sqlite:"+filepath.Join(t.TempDir(), "enthub.db"), false)
	token := s.session("principal.a")

	principal := c.tab()
	if _, err := chromedp.Call(principal, network.SetCookie, network.SetCookieParams{Name: "enthub_sso", Value: token, URL: s.srv.URL, HTTPOnly: new(true)}); err != nil {
		t.Fatal(err)
	}
	c.do(principal, "guest list", chromedp.Navigate(s.srv.URL+"/console/guests"), chromedp.WaitVisible(chromedp.CSS("h1")))
	c.check(principal, "guests-empty")
	c.do(principal, "my data", chromedp.Navigate(s.srv.URL+"/mydata"), chromedp.WaitVisible(chromedp.CSS(`a[href$=".pdf"]`)))
	c.check(principal, "mydata")
	c.do(principal, "creation form", chromedp.Navigate(s.srv.URL+"/console/guests/new"), chromedp.WaitVisible(chromedp.ID("first_name")))
	c.check(principal, "new")

	// A form sent with a mistake comes back with its errors tied to the fields.
	c.do(principal, "form with errors",
		chromedp.SendKeys(chromedp.ID("first_name"), "Léa"),
		chromedp.SendKeys(chromedp.ID("email"), "lea@"),
		chromedp.Click(chromedp.CSS("main button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".error-summary")))
	c.check(principal, "new-errors")
	c.do(principal, "form corrected",
		chromedp.SetValue(chromedp.ID("last_name"), "Dupré"),
		chromedp.SetValue(chromedp.ID("email"), "lea.dupre@example.org"),
		chromedp.SetValue(chromedp.ID("role"), "responsable de stage"),
		chromedp.SetValue(chromedp.ID("from"), "2026-09-07"),
		chromedp.SetValue(chromedp.ID("until"), "2026-10-16"),
		chromedp.Click(chromedp.CSS("main button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("activation-code")))
	code := value(c, principal, "code", chromedp.Text(chromedp.ID("activation-code")))
	link := value(c, principal, "link", chromedp.AttributeValue(chromedp.ID("activation-link"), "href")).Value
	c.check(principal, "sheet")
	if len(code) != 19 || !strings.Contains(link, "/activation?code=") {
		t.Fatalf("sheet shows code %q, link %q", code, link)
	}

	// The guest, in another browser context, follows the link.
	guest := c.tab()
	pw := "mon mot de passe de stage"
	c.do(guest, "activation page", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("password")))
	c.check(guest, "activation")
	c.do(guest, "activate",
		chromedp.SendKeys(chromedp.ID("password"), pw),
		chromedp.SendKeys(chromedp.ID("confirm"), pw),
		chromedp.Click(chromedp.CSS("main button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`a.button[href="/login"]`)))
	c.check(guest, "activated")
	login := func(what string) string {
		c.do(guest, what,
			chromedp.Navigate(s.srv.URL+"/login"),
			chromedp.WaitVisible(chromedp.ID("login")),
			chromedp.SendKeys(chromedp.ID("login"), "lea.dupre"),
			chromedp.SendKeys(chromedp.ID("password"), pw),
			chromedp.Submit(chromedp.ID("password")),
			chromedp.Sleep(time.Second),
			chromedp.WaitReady(chromedp.CSS("body")))
		return value(c, guest, "location", chromedp.Location())
	}
	if u := login("guest login"); u != s.srv.URL+"/" {
		t.Fatalf("the activated guest's login ends at %s, want the portal", u)
	}

	// The principal revokes; the guest is refused.
	c.do(principal, "list with the guest", chromedp.Navigate(s.srv.URL+"/console/guests"), chromedp.WaitVisible(chromedp.CSS("table")))
	href := value(c, principal, "guest link", chromedp.AttributeValue(chromedp.CSS(`td a[href^="/console/guests/"]`), "href")).Value
	c.check(principal, "guests")
	c.do(principal, "guest page", chromedp.Navigate(s.srv.URL+href), chromedp.WaitVisible(chromedp.ID("revoke-title")))
	c.check(principal, "guest")
	c.do(principal, "revoke",
		chromedp.Click(chromedp.CSS(`section[aria-labelledby="revoke-title"] button`)),
		chromedp.WaitVisible(chromedp.CSS(".notice")))
	if notice := value(c, principal, "notice", chromedp.Text(chromedp.CSS(".notice"))); !strings.Contains(notice, "révoqué") {
		t.Errorf("after revocation the page says %q", notice)
	}
	if _, err := chromedp.Call(guest, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	if u := login("revoked guest login"); !strings.Contains(u, "/login") {
		t.Errorf("the revoked guest's login ends at %s, want the login page again", u)
	}
	if !s.loginRefused("account disabled") {
		t.Errorf("the revoked guest's login was not refused")
	}
}
