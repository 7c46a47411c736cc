package e2etest

import (
	"context"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"

	"github.com/enthub/enthub/idp"
	"github.com/enthub/enthub/test/peer"
)

// chromium runs headless Chromium with a phone-sized window.
func chromium(t *testing.T, args ...string) string {
	t.Helper()
	bin := peer.RequireBinary(t, "chromium")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := []string{"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
		"--user-data-dir=" + t.TempDir(), "--window-size=390,844", "--lang=fr-FR"}
	out, err := exec.CommandContext(ctx, bin, append(base, args...)...).Output()
	if err != nil {
		t.Fatalf("chromium %v: %v", args, err)
	}
	return string(out)
}

// TestLoginPageInChromiumOnAPhone renders the login page of a parked CAS
// request in a real browser, phone-sized: French, labelled fields, the
// service named, and a screenshot (kept when ENTHUB_SCREENSHOTS is a folder).
func TestLoginPageInChromiumOnAPhone(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := startHub(t, ln, nil)
	dom := chromium(t, "--dump-dom", h.url+"/login?lang=fr")
	for _, want := range []string{`<html lang="fr">`, `<label for="login">Identifiant</label>`, `<label for="password">Mot de passe</label>`,
		`autocomplete="current-password"`, `Se connecter`} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered login page lacks %q", want)
		}
	}
	dir := os.Getenv("ENTHUB_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	shot := filepath.Join(dir, "login-phone.png")
	chromium(t, "--screenshot="+shot, h.url+"/login?lang=fr")
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 2000 {
		t.Fatalf("no screenshot: %v", err)
	}
}

var scriptHashRE = regexp.MustCompile(`script-src [^;]+`)

// TestSAMLAutoPostPageInChromium replays, in a real browser, the page
// that carries a SAML response to the SP, with the headers enthub sent:
// its script runs under its own Content-Security-Policy and posts the
// response; without JavaScript the page shows the French button and text.
func TestSAMLAutoPostPageInChromium(t *testing.T) {
	peer.RequireBinary(t, "chromium")
	var postPage string
	var postHeader http.Header
	received := make(chan url.Values, 4)
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/post", "/post-noscript": // enthub's page, as enthub sent it
			for _, k := range []string{"Content-Type", "Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Cache-Control"} {
				w.Header().Set(k, postHeader.Get(k))
			}
			if r.URL.Path == "/post-noscript" { // a browser where the script does not run
				w.Header().Set("Content-Security-Policy", scriptHashRE.ReplaceAllString(postHeader.Get("Content-Security-Policy"), "script-src 'none'"))
			}
			io.WriteString(w, postPage)
		case "/acs":
			r.ParseForm()
			received <- r.PostForm
			io.WriteString(w, `<!doctype html><html><body><p id="acs">réponse reçue</p></body></html>`)
		}
	}))
	t.Cleanup(rp.Close)
	acs, _ := url.Parse(rp.URL + "/acs")
	md, _ := url.Parse(rp.URL + "/metadata")
	sp := saml.ServiceProvider{AcsURL: *acs, MetadataURL: *md}
	mdXML, err := xml.Marshal(sp.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := startHub(t, ln, []idp.Service{{ID: "sp", Name: "Ressource de test", Protocol: idp.ProtocolSAML,
		SAML: idp.SAMLService{EntityID: md.String(), MetadataXML: string(mdXML), IdPInitiated: true}}})
	b := newBrowser(t)
	resp, page := b.play(h.url+"/saml/idp/sso?providerId="+url.QueryEscape(md.String()), false)
	m := formRE.FindStringSubmatch(page)
	if m == nil || !strings.Contains(page, `name="password"`) {
		t.Fatalf("no login form: %d\n%s", resp.StatusCode, page)
	}
	form := url.Values{}
	for _, in := range inputRE.FindAllStringSubmatch(m[2], -1) {
		form.Set(in[1], unescape(in[2]))
	}
	form.Set("login", "emma.martin")
	form.Set("password", password)
	resp, err = b.c.PostForm(h.url+"/login", form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	postPage, postHeader = string(body), resp.Header
	if !strings.Contains(postPage, `name="SAMLResponse"`) || postHeader.Get("Content-Security-Policy") == "" {
		t.Fatalf("no auto-post page: %d\n%s", resp.StatusCode, postPage)
	}

	dom := chromium(t, "--virtual-time-budget=5000", "--dump-dom", rp.URL+"/post")
	select {
	case f := <-received:
		if f.Get("SAMLResponse") == "" {
			t.Fatalf("posted without SAMLResponse: %v", f)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("the page's script did not post the response (blocked by its CSP?); DOM:\n%s", dom)
	}
	if !strings.Contains(dom, `id="acs"`) {
		t.Errorf("browser did not land on the SP's consumer:\n%s", dom)
	}

	// The same page where its script cannot run (headless Chromium dumps
	// no DOM with JavaScript off): it stays put, French, its button shown.
	// It is also the control: the hash in enthub's policy is what let the
	// script post above.
	dom = chromium(t, "--virtual-time-budget=3000", "--dump-dom", rp.URL+"/post-noscript")
	for _, want := range []string{`<html lang="fr">`, `<button type="submit">Continuer</button>`, "appuyez sur « Continuer »"} {
		if !strings.Contains(dom, want) {
			t.Errorf("without its script, the page lacks %q:\n%s", want, dom)
		}
	}
	select {
	case <-received:
		t.Error("posted although its script was blocked")
	case <-time.After(500 * time.Millisecond):
	}
}
