package load

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/crewjam/saml"
)

// protocols are the relying-party protocols a journey can end at, the
// default of PasswordJourney and BrokeredJourney.
var protocols = []string{"cas", "oidc", "saml"}

// PasswordJourney is a complete login with the local password: the relying
// party sends the user to enthub, enthub shows its login form, the user
// types login and password, enthub sends them back with a ticket, a code
// or an assertion, and the relying party validates it (serviceValidate;
// token and userinfo; the SAML response). Journey i starts at
// Protocols[i%len(Protocols)]; with Hops > 0 the same browser then opens
// that many other services, which must not ask for the password again
// (SSO).
//
// When enthub shows its login chooser (federation configured), the
// journey takes the password form's method (Method, LocalMethod by
// default) from the student profile.
type PasswordJourney struct {
	Protocols []string // default cas, oidc, saml
	Hops      int
	Method    string // the password form's connector id, default LocalMethod
}

// chooser is how a password journey goes through the login chooser.
func (j PasswordJourney) chooser(page []byte, base *url.URL) string {
	return chooserLink(page, base, "method="+cmp.Or(j.Method, LocalMethod), "profile=eleve")
}

// Name implements Journey.
func (PasswordJourney) Name() string { return "password" }

// Check implements Journey: enthub's CAS login must show a password form.
func (j PasswordJourney) Check(ctx context.Context, b *Browser) error {
	start := b.t.URL + "/cas/login?service=" + url.QueryEscape(CASService)
	resp, page, err := b.loginPage(ctx, start, j.chooser)
	if err != nil {
		return err
	}
	if f := parseForm(page, resp.Request.URL); resp.StatusCode != http.StatusOK || f == nil || !f.values.Has("password") {
		return &Unavailable{Reason: fmt.Sprintf("GET %s shows no password form (status %d: %s)", start, resp.StatusCode, title(page))}
	}
	return nil
}

// Run implements Journey.
func (j PasswordJourney) Run(ctx context.Context, b *Browser, u User, i int) (string, error) {
	ps := j.Protocols
	if len(ps) == 0 {
		ps = protocols
	}
	first := ps[i%len(ps)]
	if err := b.login(ctx, first, flow{user: u, link: j.chooser}); err != nil {
		return first, err
	}
	for h := 1; h <= j.Hops; h++ {
		p := ps[(i+h)%len(ps)]
		if err := b.login(ctx, p, flow{user: u, sso: true}); err != nil {
			return first + "+sso", fmt.Errorf("SSO to %s: %w", p, err)
		}
	}
	if j.Hops > 0 {
		return first + "+sso", nil
	}
	return first, nil
}

// loginPage is the page a user without a session lands on from start,
// through the chooser's links that link (nil: none) picks.
func (b *Browser) loginPage(ctx context.Context, start string, link func([]byte, *url.URL) string) (*http.Response, []byte, error) {
	target, linked := start, 0
	for hop := 0; ; hop++ {
		resp, page, err := b.do(ctx, http.MethodGet, target, nil, nil)
		if err != nil {
			return nil, nil, err
		}
		loc, lerr := resp.Location()
		if hop == 8 {
			return resp, page, nil
		}
		if lerr == nil {
			target = loc.String()
			continue
		}
		if link == nil || linked == maxLinks || resp.StatusCode != http.StatusOK {
			return resp, page, nil
		}
		if target = link(page, resp.Request.URL); target == "" {
			return resp, page, nil
		}
		linked++
	}
}

// login runs one relying party's side of a login by protocol.
func (b *Browser) login(ctx context.Context, protocol string, fl flow) error {
	switch protocol {
	case "cas":
		return b.cas(ctx, fl)
	case "oidc":
		return b.oidc(ctx, fl)
	case "saml":
		return b.saml(ctx, fl)
	}
	return fmt.Errorf("protocol %q: not cas, oidc or saml", protocol)
}

// cas: /cas/login → service?ticket=ST-… → /cas/serviceValidate.
func (b *Browser) cas(ctx context.Context, fl flow) error {
	start := b.t.URL + "/cas/login?service=" + url.QueryEscape(CASService)
	landing, _, err := b.follow(ctx, start, CASService, fl)
	if err != nil {
		return err
	}
	lu, _ := url.Parse(landing)
	ticket := lu.Query().Get("ticket")
	if ticket == "" {
		return fmt.Errorf("CAS: sent back to %s without a ticket", landing)
	}
	v := b.t.URL + "/cas/serviceValidate?service=" + url.QueryEscape(CASService) + "&ticket=" + url.QueryEscape(ticket)
	resp, page, err := b.backChannel(ctx, http.MethodGet, v, nil, nil)
	if err != nil {
		return err
	}
	if want := "<cas:user>" + fl.user.Login + "</cas:user>"; resp.StatusCode != http.StatusOK || !bytes.Contains(page, []byte(want)) {
		return fmt.Errorf("CAS serviceValidate: status %d, no %s in %.300s", resp.StatusCode, want, page)
	}
	return nil
}

func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// oidc: authorization code flow with PKCE → token → userinfo.
func (b *Browser) oidc(ctx context.Context, fl flow) error {
	state, nonce, verifier := random(12), random(12), random(32)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"response_type": {"code"}, "client_id": {OIDCClientID}, "redirect_uri": {OIDCRedirect},
		"scope": {"openid profile"}, "state": {state}, "nonce": {nonce},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	landing, _, err := b.follow(ctx, b.t.authorize+"?"+q.Encode(), OIDCRedirect, fl)
	if err != nil {
		return err
	}
	lu, _ := url.Parse(landing)
	code := lu.Query().Get("code")
	if code == "" || lu.Query().Get("state") != state {
		return fmt.Errorf("OIDC: sent back to %s without a code or with another state", landing)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {OIDCRedirect}, "code_verifier": {verifier}}
	resp, page, err := b.backChannel(ctx, http.MethodPost, b.t.token, form, func(r *http.Request) { r.SetBasicAuth(OIDCClientID, OIDCSecret) })
	if err != nil {
		return err
	}
	var tr struct {
		AccessToken string `json:"access_token"`
		IDToken     string `json:"id_token"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(page, &tr) != nil || tr.AccessToken == "" || tr.IDToken == "" {
		return fmt.Errorf("OIDC token: status %d: %.300s", resp.StatusCode, page)
	}
	resp, page, err = b.backChannel(ctx, http.MethodGet, b.t.userinfo, nil, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tr.AccessToken) })
	if err != nil {
		return err
	}
	var ui struct {
		Sub string `json:"sub"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(page, &ui) != nil || ui.Sub != fl.user.Login {
		return fmt.Errorf("OIDC userinfo: status %d, sub is not %s: %.300s", resp.StatusCode, fl.user.Login, page)
	}
	return nil
}

// saml: AuthnRequest (HTTP-Redirect) → Response (HTTP-POST form), checked.
func (b *Browser) saml(ctx context.Context, fl flow) error {
	sp := b.t.sp
	req, err := sp.MakeAuthenticationRequest(b.t.samlSSO, saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	if err != nil {
		return err
	}
	start, err := req.Redirect("bench", sp)
	if err != nil {
		return err
	}
	_, form, err := b.follow(ctx, start.String(), SAMLACS, fl)
	if err != nil {
		return err
	}
	if form == nil {
		return fmt.Errorf("SAML: sent back to the ACS without a POST form")
	}
	raw, err := base64.StdEncoding.DecodeString(form.Get("SAMLResponse"))
	if err != nil {
		return fmt.Errorf("SAMLResponse: %w", err)
	}
	if form.Get("RelayState") != "bench" {
		return fmt.Errorf("SAML: RelayState %q, sent bench", form.Get("RelayState"))
	}
	if b.t.VerifySAML {
		a, err := sp.ParseXMLResponse(raw, []string{req.ID}, sp.AcsURL)
		if err != nil {
			return fmt.Errorf("SAML response refused by the SP: %w", err)
		}
		if a.Subject == nil || a.Subject.NameID == nil || a.Subject.NameID.Value != fl.user.Login {
			return fmt.Errorf("SAML: NameID is not %s", fl.user.Login)
		}
		return nil
	}
	s := string(raw)
	if !strings.Contains(s, "urn:oasis:names:tc:SAML:2.0:status:Success") || !strings.Contains(s, ">"+fl.user.Login+"</") ||
		!strings.Contains(s, `InResponseTo="`+req.ID+`"`) {
		return fmt.Errorf("SAML response without success, subject %s or InResponseTo: %.300s", fl.user.Login, s)
	}
	return nil
}

// BrokeredJourney is a complete login through an upstream: the relying
// party sends the user to enthub, enthub's login chooser offers the
// upstream (a link or button whose address contains "/login/" + Upstream,
// "educonnect" by default, after the student profile's step), the
// simulated upstream (EduConnect here) authenticates the user named by their
// AAF jointure (it fills the upstream page's first text field with it),
// its response comes back to enthub, which links it to the account and
// sends the user on to the relying party, which validates as in
// PasswordJourney.
//
// It runs only when enthub offers that upstream; otherwise Check reports
// it unavailable and the run is skipped with that reason.
type BrokeredJourney struct {
	Upstream  string // default "educonnect"
	Protocols []string
}

// Name implements Journey.
func (BrokeredJourney) Name() string { return "brokered" }

func (j BrokeredJourney) upstream() string {
	if j.Upstream == "" {
		return "educonnect"
	}
	return j.Upstream
}

// chooser is how a brokered journey goes through the login chooser: the
// upstream's method, else the student profile.
func (j BrokeredJourney) chooser(page []byte, base *url.URL) string {
	return chooserLink(page, base, "/login/"+j.upstream(), "profile=eleve")
}

// Check implements Journey: enthub's login chooser must lead to the
// upstream.
func (j BrokeredJourney) Check(ctx context.Context, b *Browser) error {
	start := b.t.URL + "/cas/login?service=" + url.QueryEscape(CASService)
	resp, page, err := b.loginPage(ctx, start, func(page []byte, base *url.URL) string {
		return chooserLink(page, base, "profile=eleve")
	})
	if err != nil {
		return err
	}
	// Offered on the chooser, or the student profile's only method, which
	// sends the browser straight to the upstream.
	if chooserLink(page, resp.Request.URL, "/login/"+j.upstream()) != "" || resp.Request.URL.Host != b.t.host {
		return nil
	}
	return &Unavailable{Reason: fmt.Sprintf("enthub's login chooser (%s) offers students no upstream login at /login/%s: "+
		"brokered logins need a simulated upstream configured (load.StartEduConnect; loadgen educonnect)", start, j.upstream())}
}

var linkRe = regexp.MustCompile(`(?is)<(?:a|form|button)\b[^>]*>`)

// chooserLink finds on page the address of a link or form whose address
// contains the first of subs that any has, "" if none.
func chooserLink(page []byte, base *url.URL, subs ...string) string {
	tags := linkRe.FindAll(page, -1)
	for _, sub := range subs {
		for _, tag := range tags {
			a := attrs(string(tag))
			for _, k := range []string{"href", "action", "formaction"} {
				if v := a[k]; v != "" && strings.Contains(strings.ToLower(v), strings.ToLower(sub)) {
					if u, err := base.Parse(v); err == nil {
						return u.String()
					}
				}
			}
		}
	}
	return ""
}

// Run implements Journey.
func (j BrokeredJourney) Run(ctx context.Context, b *Browser, u User, i int) (string, error) {
	ps := j.Protocols
	if len(ps) == 0 {
		ps = protocols
	}
	p := ps[i%len(ps)]
	fl := flow{user: u, upstream: j.fillUpstream(b), link: j.chooser}
	return p, b.login(ctx, p, fl)
}

// fillUpstream answers the simulated upstream's user form (a form served
// elsewhere than enthub, or posted to the upstream's address), filled with
// the AAF jointure.
func (j BrokeredJourney) fillUpstream(b *Browser) func(f *htmlForm, u User) bool {
	return func(f *htmlForm, u User) bool {
		if strings.Contains(strings.ToLower(f.action), j.upstream()) || !strings.HasPrefix(f.action, b.t.URL) {
			if len(f.text) > 0 {
				f.values.Set(f.text[0], u.AAFID)
			}
			return true
		}
		return false
	}
}

// CASJourney is the anchor's journey, the same against any CAS server
// (enthub, LemonLDAP::NG): with Session false, a fresh browser's complete
// CAS login (login form, credentials, ticket, serviceValidate); with
// Session true, a ticket for a browser that already has an SSO session
// (/cas/login redirects at once with a ticket, then serviceValidate) —
// the virtual user logs in on its first journey and keeps its browser
// (run it with Options.KeepBrowser).
type CASJourney struct{ Session bool }

// Name implements Journey.
func (j CASJourney) Name() string {
	if j.Session {
		return "cas-ticket"
	}
	return "cas-full"
}

// Check implements Journey.
func (CASJourney) Check(ctx context.Context, b *Browser) error {
	return PasswordJourney{}.Check(ctx, b)
}

// Run implements Journey.
func (j CASJourney) Run(ctx context.Context, b *Browser, u User, i int) (string, error) {
	if !j.Session {
		return "cas", b.cas(ctx, flow{user: u, link: PasswordJourney{}.chooser})
	}
	if b.as == nil {
		if err := b.cas(ctx, flow{user: u, link: PasswordJourney{}.chooser}); err != nil {
			return "login", err
		}
		b.as = &u
		return "login", nil
	}
	return "ticket", b.cas(ctx, flow{user: *b.as, sso: true})
}
