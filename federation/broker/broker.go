// Package broker is where an upstream login becomes an SSO session: it
// mounts each connector's endpoints, hands the upstream's answer to the
// connector (federation.Connector.Callback), the identity to the linking
// rules (federation/link), and the accounts found to the identity provider
// (Complete, which cmd wires to idp.Provider.CompleteUpstreamLogin). It
// renders no page: a refusal goes to Refuse, which cmd wires to the
// portal's page renderer.
//
//	browser ─► /login/{connector} ─► connector.Start ─► upstream
//	upstream ─► /federation/{id}/saml/acs | /federation/{id}/oidc/callback
//	         ─► connector.Callback ─► link.Linker ─► Complete (idp session,
//	            persona choice, the parked relying-party request resumes)
//
// Every outcome is audited: the linking decision (federation.link, naming
// the rule that decided) and, for refusals, a login event with the
// connector as upstream, so the login metrics count them.
package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/federation"
	"github.com/enthub/enthub/federation/link"
)

// Login is a linked upstream login, for the identity provider.
type Login struct {
	Connector string
	// Accounts are the candidate account ids (at least one).
	Accounts []string
	// Candidates are the same accounts with their persons and personas,
	// as the linking read them in this request (the login need not read
	// them again); nil when it created the account.
	Candidates []link.Candidate
	// Ref names the upstream session, for the upstream's logout request.
	Ref string
	// Logout is the connector's federation.Logout, JSON.
	Logout []byte
	// Request is the parked relying-party request ("" when none).
	Request string
	// Details go into the login audit event.
	Details map[string]string
}

// Refused is why a login did not give a session, for the page shown.
type Refused struct {
	Connector string
	// NoAccount: the upstream login succeeded but matched no account; UAI
	// is the person's school when the upstream said it.
	NoAccount bool
	UAI       string
	// Reason is the refusal's category otherwise (federation.Reason).
	Reason federation.Reason
	// Unknown: no such connector.
	Unknown bool
}

// Broker serves the connectors' endpoints.
type Broker struct {
	Connectors *federation.Registry
	// Links is the linking configuration of each connector, by id.
	Links  map[string]link.Config
	Linker link.Linker
	// Complete starts the session (idp.Provider.CompleteUpstreamLogin).
	Complete func(w http.ResponseWriter, r *http.Request, l Login)
	// Refuse shows the page of a refused login.
	Refuse func(w http.ResponseWriter, r *http.Request, why Refused)
	// Audit records an event (idp.Provider.Audit, so metrics see it).
	Audit func(ctx context.Context, e directory.Event)
	// EndSessions ends enthub's sessions of an upstream session (its own
	// logout request): idp.Provider.EndUpstreamSessions.
	EndSessions func(ctx context.Context, ref string) (int, error)
	// Protocol names the protocol of a parked relying-party request ("" =
	// none) for the refusal events, so that refusals are counted with the
	// protocol the person came through (idp.Provider.RequestProtocol); nil
	// leaves it out.
	Protocol func(ctx context.Context, req string) string
	Now      func() time.Time
	Logger   *slog.Logger
}

// Paths of a connector's endpoints, under the public URL.
func StartPath(id string) string    { return "/login/" + id }
func ACSPath(id string) string      { return "/federation/" + id + "/saml/acs" }
func MetadataPath(id string) string { return "/federation/" + id + "/saml/metadata" }
func SLOPath(id string) string      { return "/federation/" + id + "/slo" }
func CallbackPath(id string) string { return "/federation/" + id + "/oidc/callback" }

// metadataHandler is a connector that publishes its metadata (SAML SP).
type metadataHandler interface{ MetadataHandler() http.Handler }

// Routes mounts the endpoints of every connector.
func (b *Broker) Routes(mux *http.ServeMux) {
	// No method in the pattern: it would conflict with the persona page's
	// /login/persona, which has none.
	mux.HandleFunc("/login/{connector}", b.start)
	mux.HandleFunc("POST /federation/{connector}/saml/acs", b.callback)
	mux.HandleFunc("GET /federation/{connector}/saml/acs", b.callback)
	mux.HandleFunc("GET /federation/{connector}/oidc/callback", b.callback)
	mux.HandleFunc("GET /federation/{connector}/saml/metadata", b.metadata)
	mux.HandleFunc("/federation/{connector}/slo", b.slo)
}

func (b *Broker) log() *slog.Logger {
	if b.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return b.Logger
}

func (b *Broker) now() time.Time {
	if b.Now == nil {
		return time.Now()
	}
	return b.Now()
}

func (b *Broker) connector(w http.ResponseWriter, r *http.Request) (federation.Connector, bool) {
	id := r.PathValue("connector")
	c, ok := b.Connectors.Get(id)
	if !ok {
		b.Refuse(w, r, Refused{Connector: id, Unknown: true})
	}
	return c, ok
}

// start begins a login at the connector; ?req= names the parked
// relying-party request to resume afterwards.
func (b *Broker) start(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	c, ok := b.connector(w, r)
	if !ok {
		return
	}
	req := r.URL.Query().Get("req")
	if len(req) > 128 || strings.ContainsAny(req, "/:?#") {
		req = "" // a pending id is a short token; anything else is not resumed
	}
	if err := c.Start(r.Context(), w, r, req); err != nil {
		b.refused(w, r, c.ID(), req, err)
	}
}

func (b *Broker) metadata(w http.ResponseWriter, r *http.Request) {
	c, ok := b.connector(w, r)
	if !ok {
		return
	}
	m, ok := c.(metadataHandler)
	if !ok {
		http.NotFound(w, r)
		return
	}
	m.MetadataHandler().ServeHTTP(w, r)
}

// callback finishes a login: the connector checks the answer, the rules
// link it, the identity provider starts the session.
func (b *Broker) callback(w http.ResponseWriter, r *http.Request) {
	c, ok := b.connector(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	id, next, err := c.Callback(ctx, r)
	if err != nil {
		// next is not known when the answer is refused (its state may be
		// the forged part): counted as from the portal.
		b.refused(w, r, c.ID(), "", err)
		return
	}
	cfg := b.Links[c.ID()]
	d, err := b.Linker.Link(ctx, cfg, id)
	b.Audit(ctx, link.Event(id, d, err, b.now()))
	var nm *link.NoMatchError
	switch {
	case errors.As(err, &nm):
		b.Audit(ctx, directory.Event{Time: b.now(), Type: "login", Outcome: "refused", Reason: "no account", Remote: r.RemoteAddr,
			Details: b.withProtocol(ctx, requestOf(next), map[string]string{"upstream": c.ID(), "connector": c.ID(), "rules_tried": strings.Join(nm.Tried, ","), "uai": nm.UAI})})
		b.Refuse(w, r, Refused{Connector: c.ID(), NoAccount: true, UAI: nm.UAI})
		return
	case err != nil:
		b.log().Error("link upstream identity", "connector", c.ID(), "err", err)
		b.Refuse(w, r, Refused{Connector: c.ID(), Reason: federation.ReasonUnavailable})
		return
	}
	lo, _ := json.Marshal(id.Logout)
	l := Login{Connector: c.ID(), Ref: Ref(c.ID(), id.Logout), Logout: lo, Request: requestOf(next),
		Details: map[string]string{"connector": c.ID(), "rule": d.Rule, "subject": id.Subject}}
	for _, cand := range d.Candidates {
		l.Accounts = append(l.Accounts, cand.Account.ID)
	}
	if !d.Created { // a just-created account is read back as stored
		l.Candidates = d.Candidates
	}
	b.Complete(w, r, l)
}

// requestOf keeps next only when it is a parked request id (what start
// handed the connector); an IdP-initiated login's default next is a URL,
// and lands on the portal.
func requestOf(next string) string {
	if next == "" || len(next) > 128 || strings.ContainsAny(next, "/:?#") {
		return ""
	}
	return next
}

// refused audits a connector's refusal and shows its page.
func (b *Broker) refused(w http.ResponseWriter, r *http.Request, connector, req string, err error) {
	reason := federation.ReasonOf(err)
	if reason == "" {
		reason = federation.ReasonUnavailable
	}
	b.log().Warn("upstream login refused", "connector", connector, "reason", reason, "err", err)
	b.Audit(r.Context(), directory.Event{Time: b.now(), Type: "login", Outcome: "refused", Reason: string(reason) + ": " + err.Error(), Remote: r.RemoteAddr,
		Details: b.withProtocol(r.Context(), req, map[string]string{"upstream": connector, "connector": connector, "refusal": string(reason)})})
	b.Refuse(w, r, Refused{Connector: connector, Reason: reason})
}

// withProtocol adds the protocol of the request req to an event's details.
func (b *Broker) withProtocol(ctx context.Context, req string, d map[string]string) map[string]string {
	if b.Protocol != nil {
		d["protocol"] = b.Protocol(ctx, req)
	}
	return d
}

// Ref names an upstream session: the SAML session index, else the subject
// as the upstream named it (NameID). Login and the upstream's logout
// request compute it the same way.
func Ref(connector string, lo federation.Logout) string {
	switch {
	case lo.SessionIndex != "":
		return connector + "|" + lo.SessionIndex
	case lo.NameID != "":
		return connector + "|nameid:" + lo.NameID
	}
	return ""
}

// StartLogout sends the browser to log out at the upstream of a session
// ending here, when its connector takes part in single logout; it reports
// whether it did.
func (b *Broker) StartLogout(w http.ResponseWriter, r *http.Request, connector string, logout []byte, next string) bool {
	c, ok := b.Connectors.Get(connector)
	if !ok {
		return false
	}
	lo, ok := c.(federation.Logouter)
	if !ok {
		return false
	}
	var data federation.Logout
	if err := json.Unmarshal(logout, &data); err != nil {
		b.log().Error("upstream logout data", "connector", connector, "err", err)
		return false
	}
	if err := lo.StartLogout(r.Context(), w, r, data, next); err != nil {
		b.log().Error("upstream logout", "connector", connector, "err", err)
		return false
	}
	b.Audit(r.Context(), directory.Event{Time: b.now(), Type: "logout.upstream", Outcome: "ok", Details: map[string]string{"connector": connector, "direction": "to upstream"}})
	return true
}

// slo is a connector's logout endpoint: the upstream's logout request
// (end the matching sessions here) or its answer to ours.
func (b *Broker) slo(w http.ResponseWriter, r *http.Request) {
	c, ok := b.connector(w, r)
	if !ok {
		return
	}
	lo, ok := c.(federation.Logouter)
	if !ok {
		http.NotFound(w, r)
		return
	}
	ended := -1
	end := func(ctx context.Context, data federation.Logout) error {
		n, err := b.EndSessions(ctx, Ref(c.ID(), data))
		ended = n
		return err
	}
	rw := &written{ResponseWriter: w}
	next, err := lo.HandleLogout(r.Context(), rw, r, end)
	e := directory.Event{Time: b.now(), Type: "logout.upstream", Outcome: "ok", Details: map[string]string{"connector": c.ID(), "direction": "from upstream"}}
	if ended >= 0 {
		e.Details["sessions"] = fmt.Sprint(ended)
	}
	if err != nil {
		e.Outcome, e.Reason = "refused", err.Error()
	}
	b.Audit(r.Context(), e)
	if rw.done {
		return
	}
	if err != nil {
		b.Refuse(w, r, Refused{Connector: c.ID(), Reason: federation.ReasonOf(err)})
		return
	}
	if next == "" {
		next = "/logout?done=1"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// written tells whether a handler answered.
type written struct {
	http.ResponseWriter
	done bool
}

func (w *written) WriteHeader(code int) { w.done = true; w.ResponseWriter.WriteHeader(code) }
func (w *written) Write(b []byte) (int, error) {
	w.done = true
	return w.ResponseWriter.Write(b)
}
