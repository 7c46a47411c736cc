package idp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/idp/sso"
)

// UpstreamLogin is a login an upstream (EduConnect, the agents portal,
// Entra ID…) completed and the federation broker linked to directory
// accounts. The identity provider knows of the upstream only what the
// session records: its id, its logout data, and the candidate accounts.
type UpstreamLogin struct {
	// Upstream is the connector id.
	Upstream string
	// Accounts are the candidate accounts, in the linking's order; the
	// session starts on the first. Several: the persona page offers the
	// personas of all of them.
	Accounts []string
	// Ref names the upstream session (for its own logout request) and
	// Logout is what logging out there takes (opaque JSON).
	Ref    string
	Logout []byte
	// Request is the parked relying-party request the login resumes ("":
	// the portal).
	Request string
	// Details go into the login audit event (rule, connector…).
	Details map[string]string
	// Read are the candidate accounts, their persons and personas as the
	// linking read them while handling this same request: the login, and
	// the answer to the relying party when it is given in this response,
	// use them rather than reading them again (an account missing here is
	// read). Never carried over to another request: rows change between
	// requests, and another instance may change them.
	Read []ReadAccount
}

// ReadAccount is an account with all its personas and (when Person.ID is
// set) its person, read in the current request.
type ReadAccount struct {
	Account  directory.Account
	Person   directory.Person
	Personas []directory.Persona
}

// readsKey holds, in the context of an upstream login's request, the rows
// its linking read (map[string]ReadAccount by account id): a memo that
// lives as long as the request, read by sessionPersonas and loadSubject.
type readsKey struct{}

// readOf is account id as read earlier in this request, if it was.
func readOf(ctx context.Context, id string) (ReadAccount, bool) {
	read, _ := ctx.Value(readsKey{}).(map[string]ReadAccount)
	ra, ok := read[id]
	return ra, ok
}

// CompleteUpstreamLogin starts the SSO session of an upstream login and
// continues exactly as after the password form: persona choice when there
// are several, then the parked request.
func (p *Provider) CompleteUpstreamLogin(w http.ResponseWriter, r *http.Request, l UpstreamLogin) {
	ctx := r.Context()
	pend, pd, err := p.pendingFor(r, l.Request)
	if err != nil {
		p.requestLost(w, r, err)
		return
	}
	if len(l.Read) > 0 {
		read := make(map[string]ReadAccount, len(l.Read))
		for _, ra := range l.Read {
			read[ra.Account.ID] = ra
		}
		r = r.WithContext(context.WithValue(ctx, readsKey{}, read))
		ctx = r.Context()
	}
	var accs []directory.Account
	for _, id := range l.Accounts {
		ra, ok := readOf(ctx, id)
		acc := ra.Account
		if !ok {
			var err error
			if acc, err = p.deps.Directory.Account(ctx, id); err != nil {
				p.log.Error("upstream login: account", "account", id, "err", err)
				continue
			}
		}
		if acc.Status == directory.StatusActive {
			accs = append(accs, acc)
		}
	}
	if len(accs) == 0 {
		p.audit(ctx, directory.Event{Type: EventLogin, Outcome: "refused", Reason: "no active account", Remote: remoteIP(r),
			Details: withUpstream(l.Details, l.Upstream, pend)})
		p.message(w, r, MessageView{Status: http.StatusForbidden, Code: MsgAccountDisabled})
		return
	}
	tmpl := sso.Session{AccountID: accs[0].ID, PersonID: accs[0].PersonID, Upstream: l.Upstream, UpstreamRef: l.Ref, UpstreamLogout: l.Logout}
	if len(accs) > 1 {
		for _, a := range accs {
			tmpl.Accounts = append(tmpl.Accounts, a.ID)
		}
	}
	sess, err := p.startSessionFrom(w, r, tmpl)
	if err != nil {
		p.log.Error("start session", "account", accs[0].ID, "err", err)
		p.message(w, r, MessageView{Status: http.StatusServiceUnavailable, Code: MsgServerError})
		return
	}
	// One persona: settled now, so that the login event names its
	// school and profile (the statistics count logins by them). Several:
	// the persona event that follows the choice names them.
	p.personaSettled(r, sess)
	e := p.sessionEvent(r, EventLogin, sess, "", "ok", "")
	e.Details = withUpstream(l.Details, l.Upstream, pend)
	e.Details["login"] = accs[0].Login
	e.Details["candidates"] = fmt.Sprint(len(accs))
	p.audit(ctx, e)
	if pend != nil && pend.Kind == "cas" && sess.PersonaID != "" {
		// Settled: the CAS service gets its ticket from this response,
		// not after a redirect to /cas/login?resume=, whose request would
		// only read back the parked request and the session this request
		// holds. What that request checks holds here by construction: the
		// session is the one just started for this browser (the broker
		// checked its binding cookie), and it completes the request now.
		p.casAnswer(w, r, sess, *pend, pd)
		return
	}
	p.proceed(w, r, sess, pend)
}

func withUpstream(d map[string]string, upstream string, pend *sso.Pending) map[string]string {
	out := map[string]string{}
	for k, v := range d {
		out[k] = v
	}
	out["upstream"], out["protocol"] = upstream, protocolOf(pend)
	return out
}

// RequestProtocol is the protocol of the parked relying-party request req
// (cas, oidc, saml), or "portal" when there is none (a login started from
// the portal, or a request expired or unknown): the label a refused
// upstream login is counted under.
func (p *Provider) RequestProtocol(ctx context.Context, req string) string {
	if req == "" {
		return protocolOf(nil)
	}
	pend, err := p.deps.SSO.Pending(ctx, req, p.now())
	if err != nil {
		return protocolOf(nil)
	}
	return protocolOf(&pend)
}

// Audit records an event of a collaborator (the federation broker's
// linking decisions and refusals) with the provider's own, so that metrics
// (Deps.OnEvent) see them too.
func (p *Provider) Audit(ctx context.Context, e directory.Event) { p.audit(ctx, e) }

// EndUpstreamSessions ends every session of the upstream session ref (the
// upstream's own logout request) and logs out, over the back channel, the
// services they reached. The browser at hand is the upstream's, so no
// front-channel logout can follow.
func (p *Provider) EndUpstreamSessions(ctx context.Context, ref string) (int, error) {
	sessions, err := p.deps.SSO.SessionsByUpstream(ctx, ref, p.now())
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range sessions {
		_, services, err := p.deps.SSO.DeleteSession(ctx, s.ID)
		if errors.Is(err, sso.ErrNotFound) {
			continue
		}
		if err != nil {
			return n, err
		}
		n++
		if _, err := p.deps.SSO.RevokeSessionTokens(ctx, s.ID); err != nil {
			p.log.Error("revoke session tokens", "err", err)
		}
		e := directory.Event{Type: EventLogout, AccountID: s.AccountID, StructureID: s.StructureID, Profile: directory.Profile(s.Profile),
			Outcome: "ok", Reason: "upstream logout", Details: map[string]string{"upstream": s.Upstream, "services": fmt.Sprint(len(services))}}
		p.audit(ctx, e)
		p.backchannelLogout(context.WithoutCancel(ctx), &s, services)
	}
	return n, nil
}

// --- upstream logout at enthub logout ------------------------------------------------

type upstreamLogoutStep struct {
	Upstream string          `json:"upstream"`
	Logout   json.RawMessage `json:"logout"`
	Final    string          `json:"final,omitempty"`
}

func (p *Provider) upstreamLogoutOf(sess *sso.Session) (upstreamLogoutStep, bool) {
	if sess == nil || p.cfg.UpstreamLogout == nil || sess.Upstream == "" || sess.Upstream == p.cfg.LocalUpstream || len(sess.UpstreamLogout) == 0 {
		return upstreamLogoutStep{}, false
	}
	return upstreamLogoutStep{Upstream: sess.Upstream, Logout: sess.UpstreamLogout}, true
}

// startUpstreamLogout hands the browser to the upstream's logout, which
// sends it back to final (or to the logged-out page).
func (p *Provider) startUpstreamLogout(w http.ResponseWriter, r *http.Request, up upstreamLogoutStep, final string) {
	next := final
	if next == "" {
		next = p.url("/logout?done=1")
	}
	if p.cfg.UpstreamLogout(w, r, up.Upstream, up.Logout, next) {
		return
	}
	if final != "" {
		http.Redirect(w, r, final, http.StatusSeeOther)
		return
	}
	p.message(w, r, MessageView{Status: http.StatusOK, Code: MsgLoggedOut, Link: p.cfg.PortalURL})
}

// handleUpstreamLogoutStep is the last stop of a logout chain through the
// SAML service providers: the upstream's logout.
func (p *Provider) handleUpstreamLogoutStep(w http.ResponseWriter, r *http.Request) {
	pend, err := p.deps.SSO.Pending(r.Context(), r.URL.Query().Get("req"), p.now())
	if err != nil || pend.Kind != "upstream-logout" {
		p.message(w, r, MessageView{Status: http.StatusOK, Code: MsgLoggedOut, Link: p.cfg.PortalURL})
		return
	}
	_ = p.deps.SSO.DeletePending(r.Context(), pend.ID)
	var pd pendingData
	var step upstreamLogoutStep
	_ = json.Unmarshal(pend.Payload, &pd)
	_ = json.Unmarshal(pd.Data, &step)
	p.startUpstreamLogout(w, r, step, step.Final)
}

// --- the chooser ----------------------------------------------------------------------

// localMethod reports whether method names the password form.
func (p *Provider) localMethod(method string) bool {
	for _, m := range p.cfg.LoginMethods {
		if m.Local && m.ID == method {
			return true
		}
	}
	return false
}

func (p *Provider) methodURL(m LoginMethod, req string) string {
	q := url.Values{}
	if req != "" {
		q.Set("req", req)
	}
	if m.Local {
		q.Set("method", m.ID)
		return p.url("/login?" + q.Encode())
	}
	u := p.url("/login/" + url.PathEscape(m.ID))
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// showChooser is the login entry: step 1 the profile, step 2 the method
// when the profile has several; a profile with one method goes to it.
func (p *Provider) showChooser(w http.ResponseWriter, r *http.Request, req, service string) {
	profile := r.URL.Query().Get("profile")
	v := ChooserView{Status: http.StatusOK, Request: req, Service: service}
	var methods []LoginMethod
	for _, m := range p.cfg.LoginMethods {
		if slices.Contains(m.Profiles, profile) {
			methods = append(methods, m)
		}
	}
	q := url.Values{}
	if req != "" {
		q.Set("req", req)
	}
	if len(methods) > 0 {
		// Remembered on the device, so the next visit offers this
		// profile first: a first-party cookie, nothing else reads it.
		http.SetCookie(w, &http.Cookie{Name: ChooserProfileCookie, Value: profile, Path: p.basePath + "/login",
			MaxAge: 365 * 24 * 3600, HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode})
	}
	switch len(methods) {
	case 0:
		last := ""
		if c, err := r.Cookie(ChooserProfileCookie); err == nil {
			last = c.Value
		}
		for _, code := range ChooserProfiles {
			for _, m := range p.cfg.LoginMethods {
				if slices.Contains(m.Profiles, code) {
					q.Set("profile", code)
					l := ChooserLink{Code: code, URL: p.url("/login?" + q.Encode()), Last: code == last}
					if l.Last { // the remembered profile comes first
						v.Profiles = append([]ChooserLink{l}, v.Profiles...)
					} else {
						v.Profiles = append(v.Profiles, l)
					}
					break
				}
			}
		}
		if profile != "" {
			v.Status = http.StatusNotFound // an unknown ?profile= link: step 1
		}
	case 1:
		http.Redirect(w, r, p.methodURL(methods[0], req), http.StatusSeeOther)
		return
	default:
		v.Profile = profile
		last := ""
		if c, err := r.Cookie(ChooserMethodCookie); err == nil {
			last = c.Value
		}
		for _, m := range methods {
			l := ChooserLink{Code: m.ID, Label: m.Label, URL: p.methodURL(m, req), Last: m.ID == last}
			if l.Last {
				v.Methods = append([]ChooserLink{l}, v.Methods...)
			} else {
				v.Methods = append(v.Methods, l)
			}
		}
		v.Back = p.url("/login")
		if len(q) > 0 {
			v.Back = p.url("/login?" + q.Encode())
		}
	}
	noStore(w)
	p.pages.Chooser(w, r, v)
}

// --- personas across the candidate accounts ---------------------------------------

// candidatePersona is a persona the session may act as, with its account.
type candidatePersona struct {
	account directory.Account
	persona directory.Persona
}

// sessionPersonas lists the personas of the session's account, or of all
// its candidate accounts when the upstream login linked several.
func (p *Provider) sessionPersonas(ctx context.Context, sess *sso.Session) ([]candidatePersona, error) {
	ids := sess.Accounts
	if len(ids) == 0 {
		ids = []string{sess.AccountID}
	}
	var out []candidatePersona
	for _, id := range ids {
		if ra, ok := readOf(ctx, id); ok && ra.Account.Status == directory.StatusActive {
			for _, pa := range ra.Personas {
				out = append(out, candidatePersona{account: ra.Account, persona: pa})
			}
			continue
		}
		acc := directory.Account{ID: sess.AccountID, PersonID: sess.PersonID}
		if len(sess.Accounts) > 0 {
			a, err := p.deps.Directory.Account(ctx, id)
			if errors.Is(err, directory.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if a.Status != directory.StatusActive {
				continue
			}
			acc = a
		}
		ps, err := p.deps.Directory.Personas(ctx, acc.PersonID)
		if err != nil {
			return nil, err
		}
		for _, pa := range ps {
			out = append(out, candidatePersona{account: acc, persona: pa})
		}
	}
	return out, nil
}

// settle makes c the session's persona, moving the session to c's account
// when it is another candidate.
func (p *Provider) settle(r *http.Request, sess *sso.Session, c candidatePersona, details map[string]string) error {
	if c.account.ID != sess.AccountID {
		if !slices.Contains(sess.Accounts, c.account.ID) {
			return fmt.Errorf("account %s is not a candidate of the session", c.account.ID)
		}
		if err := p.deps.SSO.SwitchSessionAccount(r.Context(), sess.ID, c.account.ID, c.account.PersonID); err != nil {
			return err
		}
		sess.AccountID, sess.PersonID = c.account.ID, c.account.PersonID
	}
	return p.choosePersona(r, sess, c.persona, details)
}

// switchPersona changes the persona of a session that already had one.
// What the relying parties got as the old persona must not outlive it: a
// CAS ticket or OIDC token names the old school and profile. So the
// services reached are logged out (CAS and OIDC back channel, OIDC tokens
// revoked, SAML through the browser), and every ticket, token or assertion
// issued afterwards carries the new persona; the SSO session itself goes on,
// so the person does not log in again. The browser then goes to final.
func (p *Provider) switchPersona(w http.ResponseWriter, r *http.Request, sess *sso.Session, c candidatePersona, final string) error {
	ctx := r.Context()
	old := *sess
	if err := p.settle(r, sess, c, nil); err != nil {
		return err
	}
	services, err := p.deps.SSO.DetachSessionServices(ctx, sess.ID)
	if err != nil {
		return err
	}
	if _, err := p.deps.SSO.RevokeSessionTokens(ctx, sess.ID); err != nil {
		p.log.Error("revoke session tokens", "err", err)
	}
	e := p.sessionEvent(r, EventPersonaSwitch, sess, "", "ok", "")
	e.Details = map[string]string{"from_persona": old.PersonaID, "from_account": old.AccountID, "to_persona": sess.PersonaID, "services": fmt.Sprint(len(services))}
	p.audit(ctx, e)
	p.backchannelLogout(context.WithoutCancel(ctx), &old, services)
	var front []sso.SessionService
	for _, ss := range services {
		if ss.Protocol == string(ProtocolSAML) && p.saml.sloEndpoint(ss.ServiceID) != "" {
			front = append(front, ss)
		}
	}
	if len(front) > 0 {
		p.saml.continueLogout(w, r, sloChain{Remaining: front, Final: final})
		return nil
	}
	http.Redirect(w, r, final, http.StatusSeeOther)
	return nil
}
