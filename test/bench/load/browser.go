package load

import (
	"cmp"
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Browser is one virtual user's browser: its own cookie jar, redirects
// followed by hand so that each HTTP step is measured on its own.
type Browser struct {
	t *Target
	c *http.Client
	// rp is the relying party's back end: the same transport, no cookies
	// (ticket validation, token and userinfo calls are not the browser's).
	rp  *http.Client
	rec *recorder
	// as is who this browser's session belongs to (Options.KeepBrowser).
	as *User
}

func (t *Target) browser(tr http.RoundTripper, rec *recorder) *Browser {
	jar, _ := cookiejar.New(nil)
	noFollow := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Browser{t: t, rec: rec, c: &http.Client{Transport: tr, Jar: jar, Timeout: 60 * time.Second, CheckRedirect: noFollow},
		rp: &http.Client{Transport: tr, Timeout: 60 * time.Second, CheckRedirect: noFollow}}
}

// maxBody bounds what is read of a response: pages and SAML responses are
// a few kilobytes.
const maxBody = 1 << 20

// do sends one request from the browser and records it as a step named by
// its method and path ("POST /login"); an upstream's path is prefixed with
// its host.
func (b *Browser) do(ctx context.Context, method, target string, form url.Values, prepare func(*http.Request)) (*http.Response, []byte, error) {
	return b.send(ctx, b.c, method, target, form, prepare)
}

// backChannel is do for the relying party's own calls to the server.
func (b *Browser) backChannel(ctx context.Context, method, target string, form url.Values, prepare func(*http.Request)) (*http.Response, []byte, error) {
	return b.send(ctx, b.rp, method, target, form, prepare)
}

func (b *Browser) send(ctx context.Context, c *http.Client, method, target string, form url.Values, prepare func(*http.Request)) (*http.Response, []byte, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, target, err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept-Language", "fr")
	if prepare != nil {
		prepare(req)
	}
	step := method + " " + req.URL.Path
	if req.URL.Host != b.t.host {
		step = method + " " + req.URL.Host + req.URL.Path
	}
	t0 := time.Now()
	resp, err := c.Do(req)
	var page []byte
	if err == nil {
		page, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
	}
	if err == nil || ctx.Err() == nil {
		// A request cut by the end of a timed run is not the server's doing.
		b.rec.step(step, time.Since(t0), err != nil || resp.StatusCode >= 500)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", step, err)
	}
	return resp, page, nil
}

// htmlForm is the first form of a page, as a browser would submit it.
type htmlForm struct {
	action string
	values url.Values
	text   []string // names of the text inputs, in page order
}

var (
	formRe  = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form>`)
	inputRe = regexp.MustCompile(`(?is)<(?:input|button)\b([^>]*)>`)
	attrRe  = regexp.MustCompile(`(?is)\b([a-z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')`)
	titleRe = regexp.MustCompile(`(?is)<title>(.*?)</title>`)
)

func attrs(tag string) map[string]string {
	m := map[string]string{}
	for _, a := range attrRe.FindAllStringSubmatch(tag, -1) {
		m[strings.ToLower(a[1])] = html.UnescapeString(a[2] + a[3])
	}
	if strings.Contains(strings.ToLower(tag), " checked") {
		m["checked"] = "checked"
	}
	return m
}

// parseForm reads the first form of page, relative to base; nil if none.
func parseForm(page []byte, base *url.URL) *htmlForm {
	m := formRe.FindSubmatch(page)
	if m == nil {
		return nil
	}
	f := &htmlForm{values: url.Values{}}
	action := attrs(string(m[1]))["action"]
	if u, err := base.Parse(action); err == nil {
		f.action = u.String()
	}
	for _, in := range inputRe.FindAllSubmatch(m[2], -1) {
		a := attrs(string(in[1]))
		name := a["name"]
		if name == "" {
			continue
		}
		switch strings.ToLower(a["type"]) {
		case "radio":
			// The checked one, else the first: the default choice.
			if a["checked"] != "" || !f.values.Has(name) {
				f.values.Set(name, a["value"])
			}
		case "checkbox":
			if a["checked"] != "" {
				f.values.Set(name, cmp.Or(a["value"], "on"))
			}
		case "submit":
			if !f.values.Has(name) {
				f.values.Set(name, a["value"])
			}
		case "", "text", "email":
			f.text = append(f.text, name)
			f.values.Set(name, a["value"])
		default:
			f.values.Set(name, a["value"])
		}
	}
	return f
}

func title(page []byte) string {
	if m := titleRe.FindSubmatch(page); m != nil {
		return strings.Join(strings.Fields(html.UnescapeString(string(m[1]))), " ")
	}
	s := strings.Join(strings.Fields(string(page)), " ")
	return s[:min(len(s), 120)]
}

// flow says how follow answers the pages it meets.
type flow struct {
	user User
	// sso: the user has a session, so a login form is an error.
	sso bool
	// upstream fills a form enthub does not serve (a simulated upstream's
	// page) and says whether it did.
	upstream func(f *htmlForm, u User) bool
	// link, on an enthub page, gives the address to go to from the login
	// chooser (its profile step, then its method step); it is tried
	// before any form, on at most maxLinks pages.
	link func(page []byte, base *url.URL) string
}

// maxLinks bounds the chooser links followed in one login: the profile
// step and the method step, with room for one more.
const maxLinks = 3

// follow browses from start as a browser would until it is sent to the
// relying party's address rp: redirects followed, the login form filled
// with the user's password, the persona page answered with the default
// choice, auto-submitted SAML forms posted. It returns the address reached
// and, for a form posted to rp (SAML POST binding), its fields.
func (b *Browser) follow(ctx context.Context, start, rp string, fl flow) (string, url.Values, error) {
	method, target, form := http.MethodGet, start, url.Values(nil)
	linked := 0
	for hop := 0; hop < 16; hop++ {
		resp, page, err := b.do(ctx, method, target, form, nil)
		if err != nil {
			return "", nil, err
		}
		switch resp.StatusCode {
		case http.StatusFound, http.StatusSeeOther, http.StatusMovedPermanently, http.StatusTemporaryRedirect:
			loc, err := resp.Location()
			if err != nil {
				return "", nil, fmt.Errorf("%s %s: %d without a Location", method, target, resp.StatusCode)
			}
			if strings.HasPrefix(loc.String(), rp) {
				return loc.String(), nil, nil
			}
			method, target, form = http.MethodGet, loc.String(), nil
			continue
		case http.StatusOK:
		default:
			return "", nil, fmt.Errorf("%s %s: status %d: %s", method, target, resp.StatusCode, title(page))
		}
		if fl.link != nil && linked < maxLinks && resp.Request.URL.Host == b.t.host {
			if l := fl.link(page, resp.Request.URL); l != "" {
				linked++
				method, target, form = http.MethodGet, l, nil
				continue
			}
		}
		f := parseForm(page, resp.Request.URL)
		switch {
		case f == nil:
			return "", nil, fmt.Errorf("%s %s: a page with no form: %s", method, target, title(page))
		case f.values.Has("SAMLResponse") && strings.HasPrefix(f.action, rp):
			return f.action, f.values, nil
		case f.values.Has("SAMLResponse") || f.values.Has("SAMLRequest"):
			// A SAML message on its way to or back from an upstream.
		case f.values.Has("password"):
			if fl.sso {
				return "", nil, fmt.Errorf("%s %s: a login form although the user has an SSO session", method, target)
			}
			field := b.t.LoginField
			if field == "" {
				field = "login"
			}
			if bad := f.values.Get(field); bad != "" {
				// The form came back filled: the login was refused.
				return "", nil, fmt.Errorf("POST %s: login refused: %s", f.action, title(page))
			}
			pw := fl.user.Password
			if pw == "" {
				pw = b.t.Password
			}
			f.values.Set(field, fl.user.Login)
			f.values.Set("password", pw)
		case f.values.Has("persona"):
		case fl.upstream != nil && fl.upstream(f, fl.user):
		default:
			return "", nil, fmt.Errorf("%s %s: an unexpected form (to %s): %s", method, target, f.action, title(page))
		}
		method, target, form = http.MethodPost, f.action, f.values
	}
	return "", nil, fmt.Errorf("%s: more than 16 steps without reaching %s", start, rp)
}
