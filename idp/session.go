package idp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/idp/sso"
)

const (
	csrfCookie  = "enthub_csrf"
	touchEvery  = time.Minute // last_seen is written at most this often
	maxLoginLen = 256
	maxPassLen  = 1024
)

// --- session cookie -------------------------------------------------------------

// currentSession returns the live session of the request, or nil. A session
// idle for longer than SessionIdle is ended here.
func (p *Provider) currentSession(r *http.Request) *sso.Session {
	s, err := p.sessionOf(r)
	if err != nil {
		p.log.Error("read session", "err", err)
	}
	return s
}

// sessionOf is currentSession that also returns the store's failure to
// read the session (nil, nil: no session).
func (p *Provider) sessionOf(r *http.Request) (*sso.Session, error) {
	c, err := r.Cookie(p.cfg.CookieName)
	if err != nil || c.Value == "" || len(c.Value) > 128 {
		return nil, nil
	}
	ctx := r.Context()
	now := p.now()
	s, err := p.deps.SSO.Session(ctx, hashToken(c.Value), now)
	if err != nil {
		if !errors.Is(err, sso.ErrNotFound) {
			return nil, err
		}
		return nil, nil
	}
	if now.Sub(s.LastSeen) > p.cfg.SessionIdle {
		if _, _, err := p.deps.SSO.DeleteSession(ctx, s.ID); err == nil {
			p.audit(ctx, p.sessionEvent(r, EventLogout, &s, "", "ok", "idle timeout"))
		}
		return nil, nil
	}
	if now.Sub(s.LastSeen) > touchEvery {
		if err := p.deps.SSO.TouchSession(ctx, s.ID, now); err != nil {
			p.log.Error("touch session", "err", err)
		}
		s.LastSeen = now
	}
	return &s, nil
}

func (p *Provider) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: p.basePath + "/", HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode}
	if maxAge < 0 {
		c.MaxAge = -1
	} else if maxAge > 0 {
		c.MaxAge = int(maxAge.Seconds())
	}
	http.SetCookie(w, c)
}

// startSession creates a new session for the account: a fresh random
// cookie every login (no fixation), the old session of this browser ended.
func (p *Provider) startSession(w http.ResponseWriter, r *http.Request, acc directory.Account, upstream string) (*sso.Session, error) {
	return p.startSessionFrom(w, r, sso.Session{AccountID: acc.ID, PersonID: acc.PersonID, Upstream: upstream})
}

// startSessionFrom is startSession of a session whose account and upstream
// fields tmpl gives.
func (p *Provider) startSessionFrom(w http.ResponseWriter, r *http.Request, tmpl sso.Session) (*sso.Session, error) {
	ctx := r.Context()
	if old := p.currentSession(r); old != nil {
		if _, _, err := p.deps.SSO.DeleteSession(ctx, old.ID); err != nil && !errors.Is(err, sso.ErrNotFound) {
			return nil, fmt.Errorf("end previous session: %w", err)
		}
	}
	now := p.now().UTC()
	token := p.randomToken(32)
	s := tmpl
	s.ID, s.AuthTime, s.CreatedAt, s.LastSeen, s.ExpiresAt = hashToken(token), now, now, now, now.Add(p.cfg.SessionMax)
	if err := p.deps.SSO.CreateSession(ctx, s); err != nil {
		return nil, err
	}
	p.setCookie(w, p.cfg.CookieName, token, 0)
	return &s, nil
}

// --- CSRF --------------------------------------------------------------------------

// csrfToken returns the token forms carry: an HMAC of the browser's CSRF
// cookie under the shared secret (set when absent), so any instance checks it.
func (p *Provider) csrfToken(w http.ResponseWriter, r *http.Request) string {
	v := ""
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 32 && len(c.Value) <= 64 {
		v = c.Value
	} else {
		v = p.randomToken(32)
		p.setCookie(w, csrfCookie, v, 0)
		r.AddCookie(&http.Cookie{Name: csrfCookie, Value: v})
	}
	return p.csrfFor(v)
}

func (p *Provider) csrfFor(cookie string) string {
	m := hmac.New(sha256.New, p.keys.secret())
	m.Write([]byte("csrf\x00" + cookie))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF verifies the posted token against the CSRF cookie.
func (p *Provider) checkCSRF(r *http.Request) bool {
	c, err := r.Cookie(csrfCookie)
	if err != nil || c.Value == "" {
		return false
	}
	got := r.PostFormValue("csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(p.csrfFor(c.Value))) == 1
}

// --- pending requests ----------------------------------------------------------

type pendingData struct {
	Force       bool            `json:"force,omitempty"`
	ServiceName string          `json:"service_name,omitempty"`
	Data        json.RawMessage `json:"data,omitempty"`
}

// park stores a protocol request while the user logs in and returns its id.
func (p *Provider) park(ctx context.Context, kind string, svc *Service, force bool, data any) (string, error) {
	return p.parkAs(ctx, p.randomToken(24), kind, svc, force, data)
}

// parkAs is park with a chosen id.
func (p *Provider) parkAs(ctx context.Context, id, kind string, svc *Service, force bool, data any) (string, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return "", err
	}
	pd := pendingData{Force: force, Data: raw}
	sid := ""
	if svc != nil {
		pd.ServiceName, sid = svc.Name, svc.ID
	}
	payload, _ := json.Marshal(pd)
	now := p.now().UTC()
	err = p.deps.SSO.PutPending(ctx, sso.Pending{ID: id, Kind: kind, ServiceID: sid, Payload: payload,
		CreatedAt: now, ExpiresAt: now.Add(p.cfg.PendingTTL)})
	if err != nil {
		return "", fmt.Errorf("park %s request: %w", kind, err)
	}
	return id, nil
}

func (p *Provider) loginURL(pendingID string) string {
	return p.url("/login?req=" + url.QueryEscape(pendingID))
}

// resumeURL is where a completed pending request goes back to its front.
func (p *Provider) resumeURL(pd sso.Pending) string {
	switch pd.Kind {
	case "cas":
		return p.url("/cas/login?resume=" + url.QueryEscape(pd.ID))
	case "saml":
		return p.url("/saml/idp/sso?resume=" + url.QueryEscape(pd.ID))
	case "oidc":
		return p.oidc.callbackURL(pd.ID)
	}
	return p.cfg.PortalURL
}

// resumed returns the parked request id completed by this browser's
// session; anything else (unknown, expired, completed by another session,
// another kind) is refused.
func (p *Provider) resumed(r *http.Request, kind, id string) (sso.Pending, pendingData, *sso.Session, error) {
	var pd pendingData
	pend, err := p.deps.SSO.Pending(r.Context(), id, p.now())
	if err != nil {
		return pend, pd, nil, err
	}
	sess, err := p.sessionOf(r) // a store failure is not "another browser"
	if err != nil {
		return pend, pd, nil, err
	}
	if pend.Kind != kind || sess == nil || pend.SessionID == "" || pend.SessionID != sess.ID {
		return pend, pd, nil, fmt.Errorf("request %s was not completed by this browser's session: %w", kind, sso.ErrNotFound)
	}
	if err := json.Unmarshal(pend.Payload, &pd); err != nil {
		return pend, pd, nil, fmt.Errorf("pending %s request: %w", kind, err)
	}
	return pend, pd, sess, nil
}

// --- /login -------------------------------------------------------------------------

func (p *Provider) handleLogin(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		p.loginGet(w, r)
	case http.MethodPost:
		p.loginPost(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// pendingFor loads the parked request named by req, if any.
func (p *Provider) pendingFor(r *http.Request, id string) (*sso.Pending, pendingData, error) {
	var pd pendingData
	if id == "" {
		return nil, pd, nil
	}
	pend, err := p.deps.SSO.Pending(r.Context(), id, p.now())
	if err != nil {
		return nil, pd, err
	}
	_ = json.Unmarshal(pend.Payload, &pd)
	return &pend, pd, nil
}

// requestLost answers a parked request that could not be read back: gone
// or expired, the user starts again from the application (400); the store
// failing (PostgreSQL down) is the server's fault, said as such (503),
// since starting again would not help.
func (p *Provider) requestLost(w http.ResponseWriter, r *http.Request, err error) {
	if err == nil || errors.Is(err, sso.ErrNotFound) {
		p.message(w, r, MessageView{Status: http.StatusBadRequest, Code: MsgRequestExpired})
		return
	}
	p.log.Error("parked request", "err", err)
	p.message(w, r, MessageView{Status: http.StatusServiceUnavailable, Code: MsgServerError})
}

func (p *Provider) loginGet(w http.ResponseWriter, r *http.Request) {
	reqID := r.URL.Query().Get("req")
	pend, pd, err := p.pendingFor(r, reqID)
	if err != nil {
		p.requestLost(w, r, err)
		return
	}
	// A forced authentication (CAS renew, SAML ForceAuthn, OIDC
	// prompt=login) goes on only once the login form completed it.
	if sess := p.currentSession(r); sess != nil && (pend == nil || !pd.Force || pend.SessionID == sess.ID) {
		p.proceed(w, r, sess, pend)
		return
	}
	if pend != nil && pend.Kind == "oidc" && p.oidc.passiveFailure(w, r, pend) {
		return
	}
	if len(p.cfg.LoginMethods) > 0 && !p.localMethod(r.URL.Query().Get("method")) {
		p.showChooser(w, r, reqID, pd.ServiceName)
		return
	}
	p.showLogin(w, r, LoginView{Request: reqID, Service: pd.ServiceName})
}

func (p *Provider) showLogin(w http.ResponseWriter, r *http.Request, v LoginView) {
	v.Action = p.url("/login")
	v.CSRF = p.csrfToken(w, r)
	if v.Status == 0 {
		v.Status = http.StatusOK
	}
	noStore(w)
	p.pages.Login(w, r, v)
}

func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "no-referrer")
}

func (p *Provider) message(w http.ResponseWriter, r *http.Request, v MessageView) {
	noStore(w)
	p.pages.Message(w, r, v)
}

func (p *Provider) loginPost(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		p.message(w, r, MessageView{Status: http.StatusBadRequest, Code: MsgBadRequest, Detail: "formulaire illisible"})
		return
	}
	reqID := r.PostFormValue("req")
	pend, pd, err := p.pendingFor(r, reqID)
	if err != nil {
		p.requestLost(w, r, err)
		return
	}
	login := strings.TrimSpace(r.PostFormValue("login"))
	password := r.PostFormValue("password")
	view := LoginView{Request: reqID, Login: login, Service: pd.ServiceName}
	if !p.checkCSRF(r) {
		p.audit(ctx, directory.Event{Type: EventLogin, Outcome: "refused", Reason: "csrf token missing or wrong", Remote: remoteIP(r),
			Details: map[string]string{"login": truncate(login, 64), "protocol": protocolOf(pend)}})
		view.Status, view.Error = http.StatusForbidden, LoginErrCSRF
		p.showLogin(w, r, view)
		return
	}
	if login == "" || password == "" || len(login) > maxLoginLen || len(password) > maxPassLen {
		view.Status, view.Error = http.StatusBadRequest, LoginErrRequired
		p.showLogin(w, r, view)
		return
	}
	loginKey, ipKey := "login:"+strings.ToLower(login), "ip:"+remoteIP(r)
	if dk := p.deviceKey(r, login); dk != "" {
		// A browser this login used before: its own count, neither the
		// login's (which whoever knows the login can fill) nor its
		// address's (a school's whole network behind one NAT).
		loginKey, ipKey = dk, dk
	}
	if wait, locked, err := p.throttled(ctx, loginKey, ipKey); err != nil {
		p.log.Error("login throttle", "err", err)
		p.message(w, r, MessageView{Status: http.StatusServiceUnavailable, Code: MsgServerError})
		return
	} else if wait > 0 {
		reason := "throttled"
		view.Error = LoginErrThrottled
		if locked {
			reason, view.Error = "locked", LoginErrLocked
		}
		p.audit(ctx, directory.Event{Type: EventLogin, Outcome: "refused", Reason: reason, Remote: remoteIP(r),
			Details: map[string]string{"login": truncate(login, 64), "upstream": p.cfg.LocalUpstream, "protocol": protocolOf(pend)}})
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds()+0.999)))
		view.Status, view.RetryAfter = http.StatusTooManyRequests, wait
		p.showLogin(w, r, view)
		return
	}
	acc, reason, err := p.checkPassword(ctx, login, password)
	if err != nil {
		// The directory cannot say (PostgreSQL down): not the user's
		// fault, not a failure to count against the login.
		p.log.Error("account lookup", "err", err)
		p.message(w, r, MessageView{Status: http.StatusServiceUnavailable, Code: MsgServerError})
		return
	}
	if reason != "" {
		p.recordFailure(ctx, loginKey, ipKey)
		e := directory.Event{Type: EventLogin, AccountID: acc.ID, Outcome: "refused", Reason: reason, Remote: remoteIP(r),
			Details: map[string]string{"login": truncate(login, 64), "upstream": p.cfg.LocalUpstream, "protocol": protocolOf(pend)}}
		p.audit(ctx, e)
		view.Status, view.Error = http.StatusUnauthorized, LoginErrBadCredentials
		p.showLogin(w, r, view)
		return
	}
	if err := p.deps.SSO.ClearLoginFailures(ctx, loginKey); err != nil {
		p.log.Error("clear login failures", "err", err)
	}
	p.rememberDevice(w, r, acc.Login)
	sess, err := p.startSession(w, r, acc, p.cfg.LocalUpstream)
	if err != nil {
		p.log.Error("start session", "account", acc.ID, "err", err)
		p.message(w, r, MessageView{Status: http.StatusServiceUnavailable, Code: MsgServerError})
		return
	}
	// One persona: settled now, so that the login event names its
	// school and profile (the statistics count logins by them). Several:
	// the persona event that follows the choice names them.
	p.personaSettled(r, sess)
	e := p.sessionEvent(r, EventLogin, sess, "", "ok", "")
	e.Details = map[string]string{"login": acc.Login, "upstream": p.cfg.LocalUpstream, "protocol": protocolOf(pend)}
	p.audit(ctx, e)
	p.proceed(w, r, sess, pend)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// dummyHash makes an unknown login cost as much as a wrong password.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0vM2zq5J3Tt3xUqhh6WY7lsbyY0dNJ1G1E3HvQ8d0qU"

// checkPassword returns the account, or a reason for the audit log (the
// user is only ever told "wrong login or password"), or the directory's
// failure to look the login up.
func (p *Provider) checkPassword(ctx context.Context, login, password string) (directory.Account, string, error) {
	acc, err := p.deps.Directory.AccountByLogin(ctx, login)
	if err != nil {
		if errors.Is(err, directory.ErrNotFound) {
			_, _ = p.passwords.VerifyArgon2id(ctx, dummyHash, password)
			return directory.Account{}, "unknown login", nil
		}
		return directory.Account{}, "", fmt.Errorf("account %q: %w", truncate(login, 64), err)
	}
	if acc.PasswordHash == "" {
		_, _ = p.passwords.VerifyArgon2id(ctx, dummyHash, password)
		return acc, "no local password", nil
	}
	ok, err := p.passwords.VerifyArgon2id(ctx, acc.PasswordHash, password)
	if err != nil {
		return acc, "stored hash unusable: " + err.Error(), nil
	}
	if !ok {
		return acc, "wrong password", nil
	}
	now := p.now()
	switch {
	case acc.Status != directory.StatusActive:
		return acc, "account " + string(acc.Status), nil
	case acc.ValidFrom != nil && now.Before(*acc.ValidFrom):
		return acc, "account not yet valid", nil
	case acc.ValidUntil != nil && !now.Before(*acc.ValidUntil):
		return acc, "account expired", nil
	}
	return acc, "", nil
}

// throttled says how long the login or the address must wait, and whether
// that is a lockout.
func (p *Provider) throttled(ctx context.Context, loginKey, ipKey string) (time.Duration, bool, error) {
	t := p.cfg.Throttle
	var wait time.Duration
	locked := false
	for i, key := range []string{loginKey, ipKey} {
		factor := 1
		if i == 1 {
			if key == loginKey { // a known device: one count
				continue
			}
			factor = t.IPFactor
		}
		th, err := p.deps.SSO.LoginThrottle(ctx, key)
		if err != nil {
			return 0, false, err
		}
		if th.Failures == 0 || p.now().Sub(th.LastFailure) > t.Window {
			continue
		}
		var d time.Duration
		lock := false
		switch {
		case th.Failures >= t.LockoutAfter*factor:
			d, lock = t.Lockout, true
		case th.Failures >= t.FreeAttempts*factor:
			n := (th.Failures - t.FreeAttempts*factor) / factor
			d = t.Backoff << min(n, 20)
			if d > t.MaxBackoff {
				d = t.MaxBackoff
			}
		}
		if left := th.LastFailure.Add(d).Sub(p.now()); left > wait {
			wait, locked = left, lock
		}
	}
	return wait, locked, nil
}

func (p *Provider) recordFailure(ctx context.Context, keys ...string) {
	now := p.now().UTC()
	for i, k := range keys {
		if i > 0 && k == keys[i-1] { // a known device: one count
			continue
		}
		if _, err := p.deps.SSO.AddLoginFailure(ctx, k, now, now.Add(-p.cfg.Throttle.Window)); err != nil {
			p.log.Error("count failed login", "err", err)
		}
	}
}

// proceed continues after a login: persona choice if needed, then back to
// the parked request (or the portal).
func (p *Provider) proceed(w http.ResponseWriter, r *http.Request, sess *sso.Session, pend *sso.Pending) {
	ctx := r.Context()
	reqID := ""
	if pend != nil {
		reqID = pend.ID
	}
	if sess.PersonaID == "" {
		personas, err := p.sessionPersonas(ctx, sess)
		if err != nil {
			p.log.Error("personas", "err", err)
			p.message(w, r, MessageView{Status: http.StatusServiceUnavailable, Code: MsgServerError})
			return
		}
		switch len(personas) {
		case 0:
		case 1:
			if err := p.settle(r, sess, personas[0], nil); err != nil {
				p.log.Error("record persona", "err", err)
				p.message(w, r, MessageView{Status: http.StatusServiceUnavailable, Code: MsgServerError})
				return
			}
		default:
			http.Redirect(w, r, p.url("/login/persona?req="+url.QueryEscape(reqID)), http.StatusSeeOther)
			return
		}
	}
	if pend == nil {
		http.Redirect(w, r, p.cfg.PortalURL, http.StatusSeeOther)
		return
	}
	if err := p.deps.SSO.CompletePending(ctx, pend.ID, sess.ID); err != nil {
		p.requestLost(w, r, err)
		return
	}
	http.Redirect(w, r, p.resumeURL(*pend), http.StatusSeeOther)
}

// personaSettled reports whether the session can go to a service as it is:
// a persona is chosen, or the person has at most one (then chosen now).
// Otherwise the front parks its request and goes through /login, whose
// proceed step asks for the persona.
func (p *Provider) personaSettled(r *http.Request, sess *sso.Session) bool {
	if sess.PersonaID != "" {
		return true
	}
	personas, err := p.sessionPersonas(r.Context(), sess)
	if err != nil || len(personas) > 1 {
		return false
	}
	if len(personas) == 1 {
		if err := p.settle(r, sess, personas[0], nil); err != nil {
			return false
		}
	}
	return true
}

// choosePersona records the persona; details go into its audit event.
func (p *Provider) choosePersona(r *http.Request, sess *sso.Session, pa directory.Persona, details map[string]string) error {
	if err := p.deps.SSO.SetSessionPersona(r.Context(), sess.ID, pa.ID, pa.StructureID, string(pa.Profile)); err != nil {
		return err
	}
	sess.PersonaID, sess.StructureID, sess.Profile = pa.ID, pa.StructureID, string(pa.Profile)
	e := p.sessionEvent(r, EventPersona, sess, "", "ok", "")
	e.Details = details
	p.audit(r.Context(), e)
	return nil
}

// settlesLogin are the details of the persona event of a session's first
// choice on the persona page: its login was audited before the choice,
// without a school or profile, and the statistics count that login under
// this event's (directory/usage, Batch.Add). Writing the login event only
// once the persona is chosen would lose the login of whoever leaves the
// page without choosing; this way it counts once either way.
func settlesLogin(sess *sso.Session) map[string]string {
	return map[string]string{"settles": "login", "login_at": sess.AuthTime.UTC().Format(time.RFC3339Nano), "upstream": sess.Upstream}
}

// --- /login/persona ---------------------------------------------------------------

func (p *Provider) handlePersona(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sess := p.currentSession(r)
	reqID := r.FormValue("req")
	if sess == nil {
		if reqID != "" {
			http.Redirect(w, r, p.loginURL(reqID), http.StatusSeeOther)
		} else {
			http.Redirect(w, r, p.url("/login"), http.StatusSeeOther)
		}
		return
	}
	pend, pd, err := p.pendingFor(r, reqID)
	if err != nil {
		p.requestLost(w, r, err)
		return
	}
	personas, err := p.sessionPersonas(ctx, sess)
	if err != nil {
		p.message(w, r, MessageView{Status: http.StatusServiceUnavailable, Code: MsgServerError})
		return
	}
	if pend != nil && pd.Force && sess.AuthTime.Before(pend.CreatedAt) {
		http.Redirect(w, r, p.loginURL(reqID), http.StatusSeeOther)
		return
	}
	view := PersonaView{Request: reqID, Service: pd.ServiceName}
	if r.Method == http.MethodPost {
		if !p.checkCSRF(r) {
			view.Status, view.Error = http.StatusForbidden, LoginErrCSRF
		} else {
			choice := r.PostFormValue("persona")
			for _, c := range personas {
				if c.persona.ID != choice {
					continue
				}
				if sess.PersonaID != "" && sess.PersonaID != choice {
					final, ok := p.afterSwitch(w, r, sess, pend)
					if !ok {
						return
					}
					if err := p.switchPersona(w, r, sess, c, final); err != nil {
						p.log.Error("switch persona", "err", err)
						p.message(w, r, MessageView{Status: http.StatusServiceUnavailable, Code: MsgServerError})
					}
					return
				}
				var details map[string]string
				if sess.PersonaID == "" {
					details = settlesLogin(sess)
				}
				if err := p.settle(r, sess, c, details); err != nil {
					p.message(w, r, MessageView{Status: http.StatusServiceUnavailable, Code: MsgServerError})
					return
				}
				p.proceed(w, r, sess, pend)
				return
			}
			view.Status, view.Error = http.StatusBadRequest, "unknown_persona"
		}
	}
	for _, c := range personas {
		st, _ := p.deps.Directory.Structure(ctx, c.persona.StructureID)
		pc := PersonaChoice{ID: c.persona.ID, Profile: string(c.persona.Profile), StructureName: st.Name, City: st.City, UAI: st.UAI,
			Current: c.persona.ID == sess.PersonaID}
		if c.persona.Profile == directory.ProfileParent {
			pc.Children = p.childrenIn(ctx, c.persona.PersonID, c.persona.StructureID)
		}
		if len(sess.Accounts) > 1 {
			pc.Account = c.account.Login
		}
		view.Choices = append(view.Choices, pc)
	}
	view.Action = p.url("/login/persona")
	view.CSRF = p.csrfToken(w, r)
	if view.Status == 0 {
		view.Status = http.StatusOK
	}
	noStore(w)
	p.pages.Personas(w, r, view)
}

// afterSwitch is where the browser goes once a persona switch logged out
// the old persona's services: the parked request, completed by the session,
// or the portal.
func (p *Provider) afterSwitch(w http.ResponseWriter, r *http.Request, sess *sso.Session, pend *sso.Pending) (string, bool) {
	if pend == nil {
		return p.cfg.PortalURL, true
	}
	if err := p.deps.SSO.CompletePending(r.Context(), pend.ID, sess.ID); err != nil {
		p.message(w, r, MessageView{Status: http.StatusBadRequest, Code: MsgRequestExpired})
		return "", false
	}
	return p.resumeURL(*pend), true
}

// --- /logout ------------------------------------------------------------------------

type logoutData struct {
	Redirect string `json:"redirect,omitempty"`
}

func (p *Provider) handleLogout(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Query().Get("req") != "":
		// RP-initiated logout parked by the OIDC end_session endpoint,
		// whose redirect it already checked.
		pend, err := p.deps.SSO.Pending(r.Context(), r.URL.Query().Get("req"), p.now())
		if err != nil || pend.Kind != "logout" {
			p.requestLost(w, r, err)
			return
		}
		_ = p.deps.SSO.DeletePending(r.Context(), pend.ID)
		var pd pendingData
		var ld logoutData
		_ = json.Unmarshal(pend.Payload, &pd)
		_ = json.Unmarshal(pd.Data, &ld)
		sess := p.currentSession(r)
		front := p.endSession(w, r, sess, pend.ServiceID)
		p.finishLogout(w, r, sess, front, ld.Redirect)
	case r.Method == http.MethodGet && r.URL.Query().Get("done") != "":
		p.message(w, r, MessageView{Status: http.StatusOK, Code: MsgLoggedOut, Link: p.cfg.PortalURL})
	case r.Method == http.MethodPost:
		if err := r.ParseForm(); err != nil || !p.checkCSRF(r) {
			p.message(w, r, MessageView{Status: http.StatusForbidden, Code: MsgBadRequest, Detail: "jeton CSRF absent ou invalide"})
			return
		}
		sess := p.currentSession(r)
		front := p.endSession(w, r, sess, "")
		p.finishLogout(w, r, sess, front, "")
	default:
		p.message(w, r, MessageView{Status: http.StatusOK, Code: MsgLogoutConfirm, Action: p.url("/logout"), CSRF: p.csrfToken(w, r)})
	}
}

// finishLogout sends the browser through the SAML service providers that
// need a front-channel LogoutRequest, then to final (already checked by
// the caller) or to the logged-out page.
func (p *Provider) finishLogout(w http.ResponseWriter, r *http.Request, sess *sso.Session, front []sso.SessionService, final string) {
	if up, ok := p.upstreamLogoutOf(sess); ok {
		// The upstream is logged out last: it may not send the browser
		// back, and the services here matter more.
		if len(front) == 0 {
			p.startUpstreamLogout(w, r, up, final)
			return
		}
		id, err := p.park(r.Context(), "upstream-logout", nil, false, upstreamLogoutStep{Upstream: up.Upstream, Logout: up.Logout, Final: final})
		if err == nil {
			final = p.url("/logout/upstream?req=" + url.QueryEscape(id))
		}
	}
	if len(front) > 0 {
		p.saml.continueLogout(w, r, sloChain{Remaining: front, Final: final})
		return
	}
	if final != "" {
		http.Redirect(w, r, final, http.StatusSeeOther)
		return
	}
	p.message(w, r, MessageView{Status: http.StatusOK, Code: MsgLoggedOut, Link: p.cfg.PortalURL})
}

// endSession ends the SSO session (if any), clears the cookie, revokes the
// session's OIDC tokens and tells every service it reached (CAS and OIDC
// back-channel logout), waiting at most a few seconds for them. It returns
// the SAML services to log out through the browser (all but initiator).
func (p *Provider) endSession(w http.ResponseWriter, r *http.Request, sess *sso.Session, initiator string) []sso.SessionService {
	p.setCookie(w, p.cfg.CookieName, "", -1)
	if sess == nil {
		return nil
	}
	ctx := r.Context()
	_, services, err := p.deps.SSO.DeleteSession(ctx, sess.ID)
	if err != nil && !errors.Is(err, sso.ErrNotFound) {
		p.log.Error("delete session", "err", err)
	}
	if _, err := p.deps.SSO.RevokeSessionTokens(ctx, sess.ID); err != nil {
		p.log.Error("revoke session tokens", "err", err)
	}
	e := p.sessionEvent(r, EventLogout, sess, initiator, "ok", "")
	e.Details = map[string]string{"services": fmt.Sprint(len(services))}
	p.audit(ctx, e)
	p.backchannelLogout(context.WithoutCancel(ctx), sess, services)
	var front []sso.SessionService
	for _, ss := range services {
		if ss.Protocol == string(ProtocolSAML) && ss.ServiceID != initiator && p.saml.sloEndpoint(ss.ServiceID) != "" {
			front = append(front, ss)
		}
	}
	return front
}

// childrenIn names a parent's children who are students of the structure,
// in the order of the relations: what tells a parent of two children
// which persona is which ("Parent de Léa Martin — Collège Jean Moulin").
// A child the store cannot read is left out: the school still names the
// persona.
func (p *Provider) childrenIn(ctx context.Context, parentID, structureID string) []string {
	rels, err := p.deps.Directory.Relations(ctx, parentID)
	if err != nil {
		p.log.Warn("persona page: relations", "person", parentID, "err", err)
		return nil
	}
	var names []string
	for _, r := range rels {
		if r.ParentID != parentID {
			continue
		}
		ps, err := p.deps.Directory.Personas(ctx, r.ChildID)
		if err != nil || !slices.ContainsFunc(ps, func(pa directory.Persona) bool {
			return pa.StructureID == structureID && pa.Profile == directory.ProfileEleve
		}) {
			continue
		}
		if child, err := p.deps.Directory.Person(ctx, r.ChildID); err == nil {
			names = append(names, strings.TrimSpace(child.FirstName+" "+child.LastName))
		}
	}
	return names
}
