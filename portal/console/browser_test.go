package console_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/enthub/enthub/test/peer"
)

// TestGuestJourneyInChromium: a principal creates a guest, the guest
// activates the account and logs in, the principal revokes it and the
// guest is refused — in a real browser, each page screenshotted at 1280
// and 360 px and checked by axe-core.
func TestGuestJourneyInChromium(t *testing.T) {
	c := peer.NewChrome(t, "console")
	s := newSite(t, "sqlite:"+filepath.Join(t.TempDir(), "enthub.db"), false)
	token := s.session("principal.a")

	principal := c.Tab()
	if _, err := chromedp.Call(principal, network.SetCookie, network.SetCookieParams{Name: "enthub_sso", Value: token, URL: s.srv.URL, HTTPOnly: new(true)}); err != nil {
		t.Fatal(err)
	}
	c.Do(principal, "guest list", chromedp.Navigate(s.srv.URL+"/console/guests"), chromedp.WaitVisible(chromedp.CSS("h1")))
	c.Check(principal, "guests-empty")
	c.Do(principal, "my data", chromedp.Navigate(s.srv.URL+"/mydata"), chromedp.WaitVisible(chromedp.CSS(`a[href$=".pdf"]`)))
	c.Check(principal, "mydata")
	c.Do(principal, "creation form", chromedp.Navigate(s.srv.URL+"/console/guests/new"), chromedp.WaitVisible(chromedp.ID("first_name")))
	c.Check(principal, "new")

	// A form sent with a mistake comes back with its errors tied to the fields.
	c.Do(principal, "form with errors",
		chromedp.SendKeys(chromedp.ID("first_name"), "Léa"),
		chromedp.SendKeys(chromedp.ID("email"), "lea@"),
		chromedp.Click(chromedp.CSS("main button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".error-summary")))
	c.Check(principal, "new-errors")
	c.Do(principal, "form corrected",
		chromedp.SetValue(chromedp.ID("last_name"), "Dupré"),
		chromedp.SetValue(chromedp.ID("email"), "lea.dupre@example.org"),
		chromedp.SetValue(chromedp.ID("role"), "responsable de stage"),
		chromedp.SetValue(chromedp.ID("from"), "2026-09-07"),
		chromedp.SetValue(chromedp.ID("until"), "2026-10-16"),
		chromedp.Click(chromedp.CSS("main button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("activation-code")))
	code := peer.Value(c, principal, "code", chromedp.Text(chromedp.ID("activation-code")))
	link := peer.Value(c, principal, "link", chromedp.AttributeValue(chromedp.ID("activation-link"), "href")).Value
	c.Check(principal, "sheet")
	if len(code) != 19 || !strings.Contains(link, "/activation?code=") {
		t.Fatalf("sheet shows code %q, link %q", code, link)
	}

	// The guest, in another browser context, follows the link.
	guest := c.Tab()
	pw := "mon mot de passe de stage"
	c.Do(guest, "activation page", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("password")))
	c.Check(guest, "activation")
	c.Do(guest, "activate",
		chromedp.SendKeys(chromedp.ID("password"), pw),
		chromedp.SendKeys(chromedp.ID("confirm"), pw),
		chromedp.Click(chromedp.CSS("main button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`a.button[href="/login"]`)))
	c.Check(guest, "activated")
	login := func(what string) string {
		c.Do(guest, what,
			chromedp.Navigate(s.srv.URL+"/login"),
			chromedp.WaitVisible(chromedp.ID("login")),
			chromedp.SendKeys(chromedp.ID("login"), "lea.dupre"),
			chromedp.SendKeys(chromedp.ID("password"), pw),
			chromedp.Submit(chromedp.ID("password")),
			chromedp.Sleep(time.Second),
			chromedp.WaitReady(chromedp.CSS("body")))
		return peer.Value(c, guest, "location", chromedp.Location())
	}
	if u := login("guest login"); u != s.srv.URL+"/" {
		t.Fatalf("the activated guest's login ends at %s, want the portal", u)
	}

	// The principal revokes; the guest is refused.
	c.Do(principal, "list with the guest", chromedp.Navigate(s.srv.URL+"/console/guests"), chromedp.WaitVisible(chromedp.CSS("table")))
	href := peer.Value(c, principal, "guest link", chromedp.AttributeValue(chromedp.CSS(`td a[href^="/console/guests/"]`), "href")).Value
	c.Check(principal, "guests")
	c.Do(principal, "guest page", chromedp.Navigate(s.srv.URL+href), chromedp.WaitVisible(chromedp.ID("revoke-title")))
	c.Check(principal, "guest")
	c.Do(principal, "revoke",
		chromedp.Click(chromedp.CSS(`section[aria-labelledby="revoke-title"] button`)),
		chromedp.WaitVisible(chromedp.CSS(".notice")))
	if notice := peer.Value(c, principal, "notice", chromedp.Text(chromedp.CSS(".notice"))); !strings.Contains(notice, "révoqué") {
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
