package simulate

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
)

// BrokeredLogin is a headless browser doing one complete brokered login,
// as a person would: a CAS relying party of enthub sends the browser to
// enthub's CAS login, which parks the request and shows the chooser; the
// browser goes to the connector's login (/login/{connector}), which sends
// it to the upstream simulation; there it clicks the person whose button
// holds Person; the simulation posts its signed (and, for EduConnect,
// encrypted) Response to enthub's ACS; enthub links it, opens the session
// and redirects to the service with a ticket, whose page validates it.
// It is what the benchmarks and the load generator repeat.
type BrokeredLogin struct {
	// Enthub is enthub's public URL; Service a CAS service registered
	// there whose page validates the ticket it gets (the demo's
	// /demo/cas/), Expect a text that page shows on success ("" = none).
	Enthub, Service, Expect string
	// Connector is the upstream's connector id (EduConnectID), Person a
	// text of the simulated person's button ("Élève").
	Connector, Person string
	// Client's transport is shared by the logins (each gets its own
	// cookie jar); nil uses http.DefaultTransport.
	Client *http.Client
}

// Run performs one login; the error names the step that failed.
func (l BrokeredLogin) Run(ctx context.Context) error {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	if l.Client != nil {
		c.Transport, c.Timeout = l.Client.Transport, l.Client.Timeout
	}
	enthub := strings.TrimRight(l.Enthub, "/")
	at, _, err := fetch(ctx, c, http.MethodGet, enthub+"/cas/login?service="+url.QueryEscape(l.Service), nil)
	if err != nil {
		return fmt.Errorf("CAS login: %w", err)
	}
	req := at.Query().Get("req")
	if req == "" {
		return fmt.Errorf("CAS login: landed on %s, not the chooser with a parked request", at)
	}
	at, body, err := fetch(ctx, c, http.MethodGet, enthub+"/login/"+url.PathEscape(l.Connector)+"?req="+url.QueryEscape(req), nil)
	if err != nil {
		return fmt.Errorf("connector %s: %w", l.Connector, err)
	}
	form := formWith(body, l.Person)
	if form == "" {
		return fmt.Errorf("upstream page %s: no button with %q", at, l.Person)
	}
	action, fields := FormFields(form)
	if at, body, err = fetch(ctx, c, http.MethodPost, resolve(at, action), fields); err != nil {
		return fmt.Errorf("upstream answer: %w", err)
	}
	// The simulation's auto-posted form carries the Response to the ACS.
	action, fields = FormFields(body)
	if fields.Get("SAMLResponse") == "" && fields.Get("code") == "" {
		return fmt.Errorf("upstream answer %s: no SAMLResponse form", at)
	}
	if at, body, err = fetch(ctx, c, http.MethodPost, resolve(at, action), fields); err != nil {
		return fmt.Errorf("enthub ACS: %w", err)
	}
	if !strings.HasPrefix(at.String(), l.Service) {
		return fmt.Errorf("the login ended at %s, not at the service %s", at, l.Service)
	}
	if l.Expect != "" && !strings.Contains(body, l.Expect) {
		return fmt.Errorf("the service page %s does not show %q", at, l.Expect)
	}
	return nil
}

var browserFormRE = regexp.MustCompile(`(?s)<form[^>]*>.*?</form>`)

// formWith is the first form of doc holding text.
func formWith(doc, text string) string {
	for _, f := range browserFormRE.FindAllString(doc, -1) {
		if strings.Contains(f, text) {
			return f
		}
	}
	return ""
}

func resolve(base *url.URL, ref string) string {
	u, err := base.Parse(ref)
	if err != nil {
		return ref
	}
	return u.String()
}

// fetch sends the request, follows redirects, and returns where it ended
// and the page; a status other than 200 is an error.
func fetch(ctx context.Context, c *http.Client, method, u string, form url.Values) (*url.URL, string, error) {
	var rd io.Reader
	if form != nil {
		rd = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return resp.Request.URL, string(raw), fmt.Errorf("%s %s: status %d", method, resp.Request.URL, resp.StatusCode)
	}
	return resp.Request.URL, string(raw), nil
}
