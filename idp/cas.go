package idp

import (
	"context"
	"encoding/base32"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/idp/sso"
)

// CAS protocol 2.0/3.0 server (https://apereo.github.io/cas/development/protocol/CAS-Protocol-Specification.html).

const casNS = "http://www.yale.edu/tp/cas"

// CAS error codes.
const (
	casInvalidRequest      = "INVALID_REQUEST"
	casInvalidTicketSpec   = "INVALID_TICKET_SPEC"
	casInvalidTicket       = "INVALID_TICKET"
	casInvalidService      = "INVALID_SERVICE"
	casUnauthorizedService = "UNAUTHORIZED_SERVICE"
	casInternalError       = "INTERNAL_ERROR"
)

func (p *Provider) casRoutes(mux *http.ServeMux) {
	b := p.basePath + "/cas"
	mux.HandleFunc(b+"/login", p.casLogin)
	mux.HandleFunc(b+"/logout", p.casLogout)
	mux.HandleFunc(b+"/validate", p.casValidateV1)
	mux.HandleFunc(b+"/serviceValidate", p.casValidate(false, false))
	mux.HandleFunc(b+"/proxyValidate", p.casValidate(false, true))
	mux.HandleFunc(b+"/p3/serviceValidate", p.casValidate(true, false))
	mux.HandleFunc(b+"/p3/proxyValidate", p.casValidate(true, true))
	mux.HandleFunc(b+"/proxy", p.casProxy)
}

type casPending struct {
	Service string `json:"service"`
}

func isTrue(v string) bool { return v == "true" || v == "1" || v == "yes" }

func (p *Provider) casLogin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	if id := q.Get("resume"); id != "" {
		p.casResume(w, r, id)
		return
	}
	service := q.Get("service")
	renew := isTrue(q.Get("renew"))
	gateway := isTrue(q.Get("gateway")) && !renew // renew wins (spec §2.1.1)
	if service == "" {
		if p.currentSession(r) != nil && !renew {
			http.Redirect(w, r, p.cfg.PortalURL, http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, p.url("/login"), http.StatusSeeOther)
		return
	}
	svc := p.reg().casService(service)
	if svc == nil {
		p.audit(ctx, directory.Event{Type: EventServiceRefused, Outcome: "refused", Reason: "unregistered CAS service " + truncate(service, 200), Remote: remoteIP(r)})
		p.message(w, r, MessageView{Status: http.StatusBadRequest, Code: MsgUnknownService, Detail: service})
		return
	}
	sess := p.currentSession(r)
	if sess != nil && !renew && p.personaSettled(r, sess) {
		p.casIssue(w, r, sess, svc, service, false)
		return
	}
	if gateway && sess == nil {
		http.Redirect(w, r, service, http.StatusSeeOther)
		return
	}
	id, err := p.park(ctx, "cas", svc, renew, casPending{Service: service})
	if err != nil {
		p.log.Error("park CAS request", "err", err)
		p.message(w, r, MessageView{Status: http.StatusServiceUnavailable, Code: MsgServerError})
		return
	}
	http.Redirect(w, r, p.loginURL(id), http.StatusSeeOther)
}

func (p *Provider) casResume(w http.ResponseWriter, r *http.Request, id string) {
	pend, pd, sess, err := p.resumed(r, "cas", id)
	if err != nil {
		p.requestLost(w, r, err)
		return
	}
	p.casAnswer(w, r, sess, pend, pd)
}

// casAnswer answers the parked CAS request pend, which sess completed:
// after the resume redirect, or straight from an upstream login's request
// that settled the session (CompleteUpstreamLogin).
func (p *Provider) casAnswer(w http.ResponseWriter, r *http.Request, sess *sso.Session, pend sso.Pending, pd pendingData) {
	// Taking the request out is what answers it: when two logins complete
	// it at the same instant (two tabs, a resume replayed), the one that
	// loses is told the request already served, and gets no ticket.
	if err := p.deps.SSO.DeletePending(r.Context(), pend.ID); err != nil {
		p.requestLost(w, r, err)
		return
	}
	var cp casPending
	if err := jsonUnmarshal(pd.Data, &cp); err != nil {
		p.message(w, r, MessageView{Status: http.StatusBadRequest, Code: MsgRequestExpired})
		return
	}
	svc := p.reg().casService(cp.Service)
	if svc == nil || svc.ID != pend.ServiceID {
		p.message(w, r, MessageView{Status: http.StatusBadRequest, Code: MsgUnknownService, Detail: cp.Service})
		return
	}
	// resumed checked that this session completed the request: with
	// Force, only the login form does that.
	p.casIssue(w, r, sess, svc, cp.Service, pd.Force)
}

// authorize checks that the session's persona may use the service, and
// answers with a refusal page when not.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request, sess *sso.Session, svc *Service) bool {
	uai := ""
	if len(svc.Structures) > 0 && sess.StructureID != "" {
		st, err := p.deps.Directory.Structure(r.Context(), sess.StructureID)
		if err == nil {
			uai = st.UAI
		}
	}
	if svc.allowed(sess, uai) {
		return true
	}
	p.audit(r.Context(), p.sessionEvent(r, EventServiceRefused, sess, svc.ID, "refused", "persona not allowed"))
	p.message(w, r, MessageView{Status: http.StatusForbidden, Code: MsgServiceForbidden, Detail: svc.Name,
		Link: p.url("/login/persona"), LinkLabel: "persona"})
	return false
}

func (p *Provider) casIssue(w http.ResponseWriter, r *http.Request, sess *sso.Session, svc *Service, service string, renewed bool) {
	ctx := r.Context()
	if !p.authorize(w, r, sess, svc) {
		return
	}
	t, err := p.issueServiceTicket(ctx, sess, svc, service, renewed)
	if err != nil {
		p.log.Error("issue CAS ticket", "err", err)
		p.message(w, r, MessageView{Status: http.StatusServiceUnavailable, Code: MsgServerError})
		return
	}
	p.audit(ctx, p.sessionEvent(r, EventTicketIssued, sess, svc.ID, "ok", ""))
	http.Redirect(w, r, withParam(service, "ticket", t.ID), http.StatusSeeOther)
}

// issueServiceTicket stores a service ticket for the session, with what
// its validation will answer, and records the service for single logout.
// The ticket lives TicketTTL, never past the session's end.
func (p *Provider) issueServiceTicket(ctx context.Context, sess *sso.Session, svc *Service, service string, renewed bool) (sso.Ticket, error) {
	released, err := p.casRelease(ctx, *sess, svc)
	if err != nil {
		return sso.Ticket{}, err
	}
	now := p.now().UTC()
	exp := now.Add(p.cfg.TicketTTL)
	if !sess.ExpiresAt.IsZero() && sess.ExpiresAt.Before(exp) {
		exp = sess.ExpiresAt
	}
	t := sso.Ticket{ID: p.casTicketID("ST-"), Kind: "ST", ServiceID: svc.ID, Service: service, SessionID: sess.ID,
		AccountID: sess.AccountID, PersonaID: sess.PersonaID, Renewed: renewed, Released: released, CreatedAt: now, ExpiresAt: exp}
	if err := p.deps.SSO.PutTicket(ctx, t); err != nil {
		return t, fmt.Errorf("store CAS ticket: %w", err)
	}
	if err := p.deps.SSO.AddSessionService(ctx, sso.SessionService{SessionID: sess.ID, ServiceID: svc.ID, Protocol: string(ProtocolCAS),
		Ref: t.ID, URL: service, At: now}); err != nil {
		p.log.Error("record service reached", "err", err)
	}
	return t, nil
}

// casReleased is what a ticket's validation answers. It is worked out
// when the ticket is issued — the subject is loaded then anyway to check
// access, and the ticket lives a minute at most — and stored with the
// ticket, so that a validation is one DELETE … RETURNING and no directory
// read. Tickets die with their session (logout deletes them), so nothing
// outlives the session it was released from.
type casReleased struct {
	User       string         `json:"u"`
	Attributes []casAttribute `json:"a,omitempty"`
	// For the audit event of the validation.
	StructureID string `json:"s,omitempty"`
	Profile     string `json:"p,omitempty"`
}

type casAttribute struct {
	Name   string   `json:"n"`
	Values []string `json:"v"`
}

// casRelease works out, from the directory, what validating a ticket of
// the session for svc answers, encoded for Ticket.Released.
func (p *Provider) casRelease(ctx context.Context, sess sso.Session, svc *Service) ([]byte, error) {
	sub, err := p.loadSubject(ctx, sess, svc.Release.needs())
	if err != nil {
		return nil, err
	}
	return json.Marshal(p.casReleasedFor(svc, sub, sess))
}

func (p *Provider) casReleasedFor(svc *Service, sub *Subject, sess sso.Session) casReleased {
	rel := casReleased{User: p.principal(svc, sub), StructureID: sess.StructureID, Profile: sess.Profile}
	if sub.Persona.ID != "" {
		rel.StructureID, rel.Profile = sub.Persona.StructureID, string(sub.Persona.Profile)
	}
	for _, a := range svc.Release.release(sub, nil) {
		rel.Attributes = append(rel.Attributes, casAttribute{Name: a.Rule.Name, Values: a.Values})
	}
	return rel
}

// casTicketID is a new CAS ticket id: prefix (ST-, PT-, PGT-, PGTIOU-)
// and 256 random bits written with A-Z and 2-7 (base32). The CAS
// specification (§3.7) allows only A-Z, a-z, 0-9 and '-' in tickets, and
// clients hold to it: mod_auth_cas takes a ticket with any other
// character for no ticket at all, leaves it in its URL and sends the
// browser back to /cas/login with that URL as service, where the next
// ticket is appended to it. randomToken's base64url has '_', in about
// half the tickets of 43 characters.
func (p *Provider) casTicketID(prefix string) string {
	return prefix + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(p.randomBytes(32))
}

// withParam adds name=value to a URL's query, before any fragment.
func withParam(raw, name, value string) string {
	frag := ""
	if i := strings.IndexByte(raw, '#'); i >= 0 {
		raw, frag = raw[:i], raw[i:]
	}
	sep := "?"
	if strings.Contains(raw, "?") {
		sep = "&"
	}
	return raw + sep + url.QueryEscape(name) + "=" + url.QueryEscape(value) + frag
}

// --- validation ---------------------------------------------------------------------

type casFailure struct {
	code, msg string
}

func (f *casFailure) Error() string { return f.code + ": " + f.msg }

// casCheck consumes and checks a ticket; proxy allows proxy tickets.
func (p *Provider) casCheck(ctx context.Context, r *http.Request, proxy bool) (sso.Ticket, *Service, *casFailure) {
	q := r.URL.Query()
	service, ticket := q.Get("service"), q.Get("ticket")
	if service == "" || ticket == "" {
		return sso.Ticket{}, nil, &casFailure{casInvalidRequest, "service and ticket parameters are both required"}
	}
	isST, isPT := strings.HasPrefix(ticket, "ST-"), strings.HasPrefix(ticket, "PT-")
	if !isST && !(isPT && proxy) {
		if isPT {
			return sso.Ticket{}, nil, &casFailure{casInvalidTicketSpec, "proxy tickets are only accepted by proxyValidate"}
		}
		return sso.Ticket{}, nil, &casFailure{casInvalidTicket, fmt.Sprintf("ticket %q not recognized", truncate(ticket, 64))}
	}
	t, err := p.deps.SSO.ConsumeTicket(ctx, ticket, p.now())
	if err != nil {
		if errors.Is(err, sso.ErrNotFound) {
			return t, nil, &casFailure{casInvalidTicket, fmt.Sprintf("ticket %q not recognized (unknown, used or expired)", truncate(ticket, 64))}
		}
		return t, nil, &casFailure{casInternalError, "ticket store unavailable"}
	}
	if t.Service != service {
		return t, nil, &casFailure{casInvalidService, fmt.Sprintf("ticket %q was not issued for service %q", truncate(ticket, 64), truncate(service, 200))}
	}
	if isTrue(q.Get("renew")) && !t.Renewed {
		return t, nil, &casFailure{casInvalidTicketSpec, "renew requested but the ticket does not come from a fresh login"}
	}
	svc := p.reg().byID[t.ServiceID]
	if svc == nil {
		return t, nil, &casFailure{casInvalidService, "service no longer registered"}
	}
	return t, svc, nil
}

func (p *Provider) casValidate(v3, proxy bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		t, svc, fail := p.casCheck(ctx, r, proxy)
		var rel casReleased
		if fail == nil {
			var err error
			if rel, err = p.ticketReleased(ctx, t, svc); err != nil {
				fail = &casFailure{casInvalidTicket, err.Error()}
			}
		}
		if fail != nil {
			e := directory.Event{Type: EventTicketRefused, AccountID: t.AccountID, Service: t.ServiceID, Outcome: "refused",
				Reason: fail.Error(), Remote: remoteIP(r)}
			p.audit(ctx, e)
			writeCASXML(w, casFailureXML(fail))
			return
		}
		var b strings.Builder
		b.WriteString(`<cas:serviceResponse xmlns:cas="` + casNS + `">` + "\n  <cas:authenticationSuccess>\n")
		b.WriteString("    <cas:user>" + xmlText(rel.User) + "</cas:user>\n")
		if (v3 || !svc.CAS.NoAttributesOnV2) && len(rel.Attributes) > 0 {
			b.WriteString("    <cas:attributes>\n")
			for _, a := range rel.Attributes {
				// Names were checked as XML names when the service was registered.
				for _, v := range a.Values {
					b.WriteString("      <cas:" + a.Name + ">" + xmlText(v) + "</cas:" + a.Name + ">\n")
				}
			}
			b.WriteString("    </cas:attributes>\n")
		}
		if iou := p.casProxyGranting(ctx, r, t, svc); iou != "" {
			b.WriteString("    <cas:proxyGrantingTicket>" + xmlText(iou) + "</cas:proxyGrantingTicket>\n")
		}
		if len(t.Proxies) > 0 {
			b.WriteString("    <cas:proxies>\n")
			for _, px := range t.Proxies {
				b.WriteString("      <cas:proxy>" + xmlText(px) + "</cas:proxy>\n")
			}
			b.WriteString("    </cas:proxies>\n")
		}
		b.WriteString("  </cas:authenticationSuccess>\n</cas:serviceResponse>\n")
		p.audit(ctx, directory.Event{Type: "cas.ticket.validated", AccountID: t.AccountID, StructureID: rel.StructureID,
			Profile: directory.Profile(rel.Profile), Service: svc.ID, Outcome: "ok", Remote: remoteIP(r)})
		writeCASXML(w, b.String())
	}
}

// ticketReleased returns what the validation of a consumed ticket
// answers: what was stored with it, or, for a ticket issued without
// (by an older binary), worked out from the directory now.
func (p *Provider) ticketReleased(ctx context.Context, t sso.Ticket, svc *Service) (casReleased, error) {
	var rel casReleased
	if len(t.Released) > 0 {
		if err := json.Unmarshal(t.Released, &rel); err != nil {
			p.log.Error("CAS ticket release unreadable", "err", err)
			return rel, errors.New("ticket unusable")
		}
		return rel, nil
	}
	sess, sub, err := p.ticketSubject(ctx, t, svc)
	if err != nil {
		return rel, err
	}
	return p.casReleasedFor(svc, sub, sess), nil
}

// ticketSubject loads the subject a ticket stands for. The ticket carries
// the account and persona; the session is read only when the policy
// releases something only it knows (tickets die with their session:
// logout deletes them).
func (p *Provider) ticketSubject(ctx context.Context, t sso.Ticket, svc *Service) (sso.Session, *Subject, error) {
	sess := sso.Session{ID: t.SessionID, AccountID: t.AccountID, PersonaID: t.PersonaID}
	if svc.Release.needsSession() {
		s, err := p.deps.SSO.Session(ctx, t.SessionID, p.now())
		if err != nil {
			return sess, nil, errors.New("the SSO session of this ticket has ended")
		}
		sess = s
	}
	sub, err := p.loadSubject(ctx, sess, svc.Release.needs())
	if err != nil {
		p.log.Error("CAS subject", "err", err)
		return sess, nil, errors.New("account unavailable")
	}
	return sess, sub, nil
}

func casFailureXML(f *casFailure) string {
	return `<cas:serviceResponse xmlns:cas="` + casNS + `">` + "\n" +
		`  <cas:authenticationFailure code="` + f.code + `">` + xmlText(f.msg) + "</cas:authenticationFailure>\n</cas:serviceResponse>\n"
}

func writeCASXML(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(body))
}

func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// casValidateV1 is CAS 1.0 /validate: "yes\nuser\n" or "no\n\n".
func (p *Provider) casValidateV1(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	t, svc, fail := p.casCheck(ctx, r, false)
	if fail == nil {
		rel, err := p.ticketReleased(ctx, t, svc)
		if err == nil {
			p.audit(ctx, directory.Event{Type: "cas.ticket.validated", AccountID: t.AccountID, StructureID: rel.StructureID,
				Profile: directory.Profile(rel.Profile), Service: svc.ID, Outcome: "ok", Remote: remoteIP(r)})
			fmt.Fprintf(w, "yes\n%s\n", rel.User)
			return
		}
		fail = &casFailure{casInvalidTicket, err.Error()}
	}
	p.audit(ctx, directory.Event{Type: EventTicketRefused, AccountID: t.AccountID, Service: t.ServiceID, Outcome: "refused", Reason: fail.Error(), Remote: remoteIP(r)})
	fmt.Fprint(w, "no\n\n")
}

// casProxyGranting issues a proxy-granting ticket when the validation asked
// for one (pgtUrl) and the service allows that callback: the callback gets
// pgtIou and pgtId over https and must answer 200.
func (p *Provider) casProxyGranting(ctx context.Context, r *http.Request, t sso.Ticket, svc *Service) string {
	cb := r.URL.Query().Get("pgtUrl")
	if cb == "" {
		return ""
	}
	u, err := url.Parse(cb)
	if err != nil || u.Scheme != "https" || !matchAny(svc.CAS.proxyPatterns, cb) {
		p.audit(ctx, directory.Event{Type: EventTicketRefused, AccountID: t.AccountID, Service: svc.ID, Outcome: "refused",
			Reason: "pgtUrl not allowed: " + truncate(cb, 200), Remote: remoteIP(r)})
		return ""
	}
	now := p.now().UTC()
	pgt := sso.Ticket{ID: p.casTicketID("PGT-"), Kind: "PGT", ServiceID: svc.ID, Service: t.Service, SessionID: t.SessionID,
		AccountID: t.AccountID, PersonaID: t.PersonaID, PGTURL: cb, Proxies: t.Proxies, CreatedAt: now, ExpiresAt: now.Add(p.cfg.SessionMax)}
	iou := p.casTicketID("PGTIOU-")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, withParam(withParam(cb, "pgtIou", iou), "pgtId", pgt.ID), nil)
	if err != nil {
		return ""
	}
	resp, err := p.deps.HTTPClient.Do(req)
	if err != nil {
		p.log.Warn("CAS proxy callback failed", "url", cb, "err", err)
		return ""
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ""
	}
	if err := p.deps.SSO.PutTicket(ctx, pgt); err != nil {
		return ""
	}
	return iou
}

// casProxy issues a proxy ticket from a proxy-granting ticket.
func (p *Provider) casProxy(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	fail := func(code, msg string) {
		p.audit(ctx, directory.Event{Type: EventTicketRefused, Outcome: "refused", Reason: code + ": " + msg, Remote: remoteIP(r)})
		writeCASXML(w, `<cas:serviceResponse xmlns:cas="`+casNS+`">`+"\n"+`  <cas:proxyFailure code="`+code+`">`+xmlText(msg)+"</cas:proxyFailure>\n</cas:serviceResponse>\n")
	}
	pgtID, target := q.Get("pgt"), q.Get("targetService")
	if pgtID == "" || target == "" {
		fail(casInvalidRequest, "pgt and targetService are both required")
		return
	}
	pgt, err := p.deps.SSO.Ticket(ctx, pgtID, p.now())
	if err != nil || pgt.Kind != "PGT" {
		fail(casInvalidTicket, "proxy-granting ticket not recognized")
		return
	}
	svc := p.reg().casService(target)
	if svc == nil {
		fail(casUnauthorizedService, "targetService is not a registered service")
		return
	}
	now := p.now().UTC()
	pt := sso.Ticket{ID: p.casTicketID("PT-"), Kind: "PT", ServiceID: svc.ID, Service: target, SessionID: pgt.SessionID,
		AccountID: pgt.AccountID, PersonaID: pgt.PersonaID, Proxies: append([]string{pgt.PGTURL}, pgt.Proxies...),
		CreatedAt: now, ExpiresAt: now.Add(p.cfg.TicketTTL)}
	sess, sub, err := p.ticketSubject(ctx, pt, svc)
	if err != nil {
		fail(casInvalidTicket, err.Error())
		return
	}
	if pt.Released, err = json.Marshal(p.casReleasedFor(svc, sub, sess)); err != nil {
		fail(casInternalError, "release")
		return
	}
	if err := p.deps.SSO.PutTicket(ctx, pt); err != nil {
		fail(casInternalError, "ticket store unavailable")
		return
	}
	p.audit(ctx, directory.Event{Type: EventTicketIssued, AccountID: pt.AccountID, Service: svc.ID, Outcome: "ok", Remote: remoteIP(r),
		Details: map[string]string{"kind": "PT"}})
	writeCASXML(w, `<cas:serviceResponse xmlns:cas="`+casNS+`">`+"\n  <cas:proxySuccess>\n    <cas:proxyTicket>"+pt.ID+
		"</cas:proxyTicket>\n  </cas:proxySuccess>\n</cas:serviceResponse>\n")
}

// casLogout ends the SSO session; service, if registered, is where the
// browser goes next (never an unregistered URL).
func (p *Provider) casLogout(w http.ResponseWriter, r *http.Request) {
	sess := p.currentSession(r)
	front := p.endSession(w, r, sess, "")
	final := ""
	if s := r.URL.Query().Get("service"); s != "" && p.reg().casService(s) != nil {
		final = s
	}
	p.finishLogout(w, r, sess, front, final)
}

// --- single logout -------------------------------------------------------------------

// backchannelLogout tells every service the session reached that it
// ended: CAS services with SingleLogout get a logoutRequest POST, OIDC
// clients with a back-channel URI a logout token. It waits for all, each
// bounded by the HTTP client's timeout.
func (p *Provider) backchannelLogout(ctx context.Context, sess *sso.Session, services []sso.SessionService) {
	var wg sync.WaitGroup
	done := map[string]bool{}
	reg := p.reg() // one registry for the whole logout: svc is compared by pointer below
	for _, ss := range services {
		svc := reg.byID[ss.ServiceID]
		if svc == nil {
			continue
		}
		var send func() error
		switch {
		case ss.Protocol == string(ProtocolCAS) && svc.CAS.SingleLogout && reg.casService(ss.URL) == svc:
			send = func() error { return p.casSLO(ctx, ss) }
		case ss.Protocol == string(ProtocolOIDC) && svc.OIDC.BackChannelLogoutURI != "" && !done[svc.ID]:
			done[svc.ID] = true
			send = func() error { return p.oidc.backchannelLogout(ctx, sess, svc, ss) }
		default:
			continue
		}
		wg.Add(1)
		p.bg.Add(1)
		go func() {
			defer wg.Done()
			defer p.bg.Done()
			err := send()
			e := directory.Event{Type: EventBackchannel, AccountID: sess.AccountID, Service: svc.ID, Outcome: "ok"}
			if err != nil {
				e.Outcome, e.Reason = "error", err.Error()
			}
			p.audit(ctx, e)
		}()
	}
	wg.Wait()
}

func (p *Provider) casSLO(ctx context.Context, ss sso.SessionService) error {
	id := "LR-" + p.randomToken(16)
	body := `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="` +
		id + `" Version="2.0" IssueInstant="` + p.now().UTC().Format(time.RFC3339) + `"><saml:NameID>@NOT_USED@</saml:NameID><samlp:SessionIndex>` +
		xmlText(ss.Ref) + `</samlp:SessionIndex></samlp:LogoutRequest>`
	form := url.Values{"logoutRequest": {body}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ss.URL, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.deps.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("CAS logout POST to %s: %w", ss.URL, err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		return fmt.Errorf("CAS logout POST to %s: status %d", ss.URL, resp.StatusCode)
	}
	return nil
}
