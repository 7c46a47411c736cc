package console_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/enthub/enthub/test/peer"
)

// TestSpacesInChromium: a collectivité administrator creates the Espace
// ATI (first with a mistake), finds the ATI agent and adds them — in a
// real browser, each page screenshotted at 1280 and 360 px and checked by
// axe-core — and the agent, now a member, is refused the page.
func TestSpacesInChromium(t *testing.T) {
	c := peer.NewChrome(t, "console-spaces")
	s := newSite(t, "sqlite:"+filepath.Join(t.TempDir(), "enthub.db"), false).withSpaces()
	admin := c.Tab()
	if _, err := chromedp.Call(admin, network.SetCookie, network.SetCookieParams{Name: "enthub_sso", Value: s.session("admin.cd"), URL: s.srv.URL, HTTPOnly: new(true)}); err != nil {
		t.Fatal(err)
	}
	c.Do(admin, "empty list", chromedp.Navigate(s.srv.URL+"/console/spaces"), chromedp.WaitVisible(chromedp.CSS("h1")))
	c.Check(admin, "spaces-empty")
	c.Do(admin, "creation form", chromedp.Navigate(s.srv.URL+"/console/spaces/new"), chromedp.WaitVisible(chromedp.ID("code")))
	c.Check(admin, "spaces-new")
	c.Do(admin, "form with errors",
		chromedp.SendKeys(chromedp.ID("name"), "Espace ATI"),
		chromedp.SendKeys(chromedp.ID("code"), "Espace ATI"),
		chromedp.Click(chromedp.CSS("main button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".error-summary")))
	c.Check(admin, "spaces-new-errors")
	c.Do(admin, "form corrected",
		chromedp.SetValue(chromedp.ID("code"), "espace-ati"),
		chromedp.SetValue(chromedp.ID("description"), "Techniciens informatiques des collèges"),
		chromedp.Click(chromedp.CSS("main button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("q")))
	if notice := peer.Value(c, admin, "notice", chromedp.Text(chromedp.CSS(".notice"))); !strings.Contains(notice, "créé") {
		t.Errorf("after creation the page says %q", notice)
	}
	c.Do(admin, "search", chromedp.SendKeys(chromedp.ID("q"), "techni"), chromedp.Submit(chromedp.ID("q")),
		chromedp.WaitVisible(chromedp.CSS(`ul.hits button`)))
	c.Check(admin, "space-search")
	c.Do(admin, "add", chromedp.Click(chromedp.CSS(`ul.hits button`)), chromedp.WaitVisible(chromedp.CSS(`table button`)))
	c.Check(admin, "space-members")
	if row := peer.Value(c, admin, "members", chromedp.Text(chromedp.CSS("table tbody"))); !strings.Contains(row, "agent.ati") {
		t.Errorf("members after adding: %q", row)
	}
	c.Do(admin, "list", chromedp.Navigate(s.srv.URL+"/console/spaces"), chromedp.WaitVisible(chromedp.CSS("table")))
	c.Check(admin, "spaces")

	// The member is no administrator for being in a space.
	agent := c.Tab()
	if _, err := chromedp.Call(agent, network.SetCookie, network.SetCookieParams{Name: "enthub_sso", Value: s.session("agent.ati"), URL: s.srv.URL, HTTPOnly: new(true)}); err != nil {
		t.Fatal(err)
	}
	c.Do(agent, "refused", chromedp.Navigate(s.srv.URL+"/console/spaces"), chromedp.WaitVisible(chromedp.CSS("h1")))
	c.Check(agent, "spaces-forbidden")
	if h1 := peer.Value(c, agent, "title", chromedp.Text(chromedp.CSS("h1"))); h1 != "Accès refusé" {
		t.Errorf("the member sees %q", h1)
	}
}
