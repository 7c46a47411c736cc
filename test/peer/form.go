package peer

import (
	"fmt"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
)

// Form is the first HTML form of a page as a browser would submit it: its
// action resolved against the page's URL, its method, and the values of its
// inputs and selects (a select's first option, a hidden or text input's
// value). It reads the peers' own small login pages, not arbitrary HTML.
type Form struct {
	Action *url.URL
	Method string
	Values url.Values
}

var (
	formRe   = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form>`)
	inputRe  = regexp.MustCompile(`(?is)<input\b([^>]*)>`)
	selectRe = regexp.MustCompile(`(?is)<select\b([^>]*)>(.*?)</select>`)
	optionRe = regexp.MustCompile(`(?is)<option\b([^>]*)>`)
	attrRe   = regexp.MustCompile(`(?is)([a-z_:-]+)\s*=\s*("([^"]*)"|'([^']*)'|([^\s>]+))`)
)

func attrs(s string) map[string]string {
	out := map[string]string{}
	for _, m := range attrRe.FindAllStringSubmatch(s, -1) {
		out[strings.ToLower(m[1])] = html.UnescapeString(m[3] + m[4] + m[5])
	}
	return out
}

// ParseForm reads the first form of page, served at base.
func ParseForm(base *url.URL, page []byte) (Form, error) {
	m := formRe.FindSubmatch(page)
	if m == nil {
		return Form{}, fmt.Errorf("no <form> in the page at %s: %.300s", base, page)
	}
	fa := attrs(string(m[1]))
	action, err := base.Parse(fa["action"])
	if err != nil {
		return Form{}, fmt.Errorf("form action %q: %w", fa["action"], err)
	}
	f := Form{Action: action, Method: strings.ToUpper(fa["method"]), Values: url.Values{}}
	if f.Method == "" {
		f.Method = http.MethodGet
	}
	for _, in := range inputRe.FindAllStringSubmatch(string(m[2]), -1) {
		a := attrs(in[1])
		if a["name"] != "" && a["type"] != "submit" {
			f.Values.Set(a["name"], a["value"])
		}
	}
	for _, sel := range selectRe.FindAllStringSubmatch(string(m[2]), -1) {
		a := attrs(sel[1])
		if o := optionRe.FindStringSubmatch(sel[2]); o != nil && a["name"] != "" {
			f.Values.Set(a["name"], attrs(o[1])["value"])
		}
	}
	return f, nil
}

// Request builds the request that submits the form.
func (f Form) Request() (*http.Request, error) {
	if f.Method == http.MethodPost {
		r, err := http.NewRequest(http.MethodPost, f.Action.String(), strings.NewReader(f.Values.Encode()))
		if err != nil {
			return nil, err
		}
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r, nil
	}
	u := *f.Action
	u.RawQuery = f.Values.Encode()
	return http.NewRequest(http.MethodGet, u.String(), nil)
}

// NewBrowser is an HTTP client with a cookie jar that does not follow
// redirects (the test decides where each one goes: to a peer, or to the
// connector's callback).
func NewBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
