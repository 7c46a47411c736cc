package idp

import (
	"regexp"
	"strings"
	"testing"
)

var scriptRE = regexp.MustCompile(`(?s)<script[^>]*>(.*?)</script>`)
var styleRE = regexp.MustCompile(`(?s)<style[^>]*>(.*?)</style>`)

// The page that carries the response to the SP is enthub's: French, a
// visible button for a browser without JavaScript, its one script and
// style allowed by hash, the login pages' security headers.
func TestSAMLAutoPostPageIsFrenchWithCSP(t *testing.T) {
	sp := testSP(t, false)
	f := samlFixture(t, sp, nil)
	u, err := sp.MakeRedirectAuthenticationRequest("relay-1")
	if err != nil {
		t.Fatal(err)
	}
	c := f.browser()
	_, page := f.get(c, u.String())
	resp, page := f.submitLogin(c, page, "emma.martin", testPassword)
	if !strings.Contains(page, `name="SAMLResponse"`) {
		t.Fatalf("no post form: %d\n%s", resp.StatusCode, page)
	}
	for _, want := range []string{`<html lang="fr">`, `<button type="submit">Continuer</button>`, `Connexion à SP de test`, `<noscript>`,
		`<meta name="viewport"`, `action="` + spACS + `"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, hidden := range []string{"visibility", "display:none", "hidden>", `type="submit" value="Continue"`} {
		if strings.Contains(page, hidden) {
			t.Errorf("page has %q: the button must stay visible without JavaScript, and in French", hidden)
		}
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if csp == "" || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("Content-Security-Policy %q", csp)
	}
	scripts := scriptRE.FindAllStringSubmatch(page, -1)
	styles := styleRE.FindAllStringSubmatch(page, -1)
	if len(scripts) != 1 || len(styles) != 1 {
		t.Fatalf("%d scripts, %d styles", len(scripts), len(styles))
	}
	if !strings.Contains(csp, "script-src "+cspHash(scripts[0][1])) || !strings.Contains(csp, "style-src "+cspHash(styles[0][1])) {
		t.Fatalf("the page's script or style is not the one its CSP allows: %q", csp)
	}
	for h, want := range map[string]string{"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
		"X-Content-Type-Options": "nosniff", "Content-Type": "text/html; charset=utf-8"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	if strings.Contains(page, " onload=") || strings.Contains(page, " onclick=") {
		t.Error("inline event handler: CSP blocks it")
	}
}
