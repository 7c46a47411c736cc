// Package idp is enthub's single sign-on: the SSO session and the local
// login, the service registry and release policies, and the three fronts
// relying parties use — CAS server, OpenID Connect provider, SAML2
// identity provider — all reading the same session, kept in the store so
// that any number of instances serve the same users.
//
// Wiring (cmd/enthub):
//
//	p, err := idp.New(ctx, cfg, idp.Deps{Directory: store, SSO: store, Pages: loginui.New(...)})
//	p.Routes(mux)
//	defer p.Close()
package idp

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/password"
	"github.com/enthub/enthub/idp/sso"
)

// Deps are the identity provider's collaborators.
type Deps struct {
	// Directory gives accounts, persons, personas and structures, and
	// takes the audit events.
	Directory directory.Store
	// SSO keeps sessions, tickets, codes, tokens and keys; the SQL store
	// implements it on the same database as the directory.
	SSO sso.Store
	// Pages renders login, persona and message pages (portal/loginui);
	// nil gives bare fallback pages.
	Pages Pages
	// Now is the clock (default time.Now); Rand the randomness (default
	// crypto/rand).
	Now  func() time.Time
	Rand io.Reader
	// Logger (default: discard).
	Logger *slog.Logger
	// HTTPClient makes back-channel calls: CAS and OIDC single logout,
	// CAS proxy callbacks, SAML metadata by URL (default: 5 s timeout).
	HTTPClient *http.Client
	// After paces the poll of the store's service registrations (default
	// time.After); tests drive it by hand.
	After func(time.Duration) <-chan time.Time
	// OnEvent, if set, is told of every audit event as it is recorded:
	// cmd counts logins by upstream and protocol for /metrics with it.
	OnEvent func(directory.Event)
}

// Provider is the identity provider: mount it with Routes.
type Provider struct {
	// passwords runs the password checks, as many at once as there are
	// cores: each argon2id check holds 19 MiB (reused from its pool) and
	// a core for tens of milliseconds, so a burst of logins (a class at
	// 8:00, a credential stuffing run) queues there instead of slowing
	// every check down together.
	passwords *password.Checker
	cfg       Config
	deps      Deps
	now       func() time.Time
	rand      io.Reader
	log       *slog.Logger
	pages     Pages
	keys      *keyManager
	secure    bool
	basePath  string // path of PublicURL, "" at the root
	// services is the registry in use, swapped whole when the store's
	// registrations change (see ReloadServices).
	services atomic.Pointer[registry]
	reloadMu sync.Mutex // one reload at a time; guards svcGen
	svcGen   int64      // the store generation services was built from
	stop     context.CancelFunc
	logins   *loginCache // names accounts by login in the log
	watchwg  sync.WaitGroup
	oidc     *oidcFront
	saml     *samlFront

	bg    sync.WaitGroup // back-channel logouts in flight
	audq  chan auditItem
	audwg sync.WaitGroup
	audmu sync.RWMutex // guards audq against Close
}

// auditItem is an event on its way to the store, or a flush request.
type auditItem struct {
	e     directory.Event
	flush chan struct{}
}

// New checks the configuration, makes sure signing keys exist (generating
// them on first start), loads SAML metadata and builds the fronts.
func New(ctx context.Context, cfg Config, deps Deps) (*Provider, error) {
	cfg, err := cfg.compile()
	if err != nil {
		return nil, err
	}
	if deps.Directory == nil || deps.SSO == nil {
		return nil, errors.New("idp: Deps.Directory and Deps.SSO are required")
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Rand == nil {
		deps.Rand = rand.Reader
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.HTTPClient == nil {
		deps.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	if deps.After == nil {
		deps.After = time.After
	}
	p := &Provider{cfg: cfg, deps: deps, now: deps.Now, rand: deps.Rand, log: deps.Logger, pages: deps.Pages,
		logins: &loginCache{dir: deps.Directory}, passwords: password.NewChecker(runtime.GOMAXPROCS(0))}
	if p.pages == nil {
		p.pages = plainPages{}
	}
	u, _ := url.Parse(cfg.PublicURL)
	p.secure = u.Scheme == "https"
	p.basePath = strings.TrimRight(u.Path, "/")
	if p.keys, err = newKeyManager(deps.SSO, deps.Now, KeyOptions{Secret: cfg.KeySecret, Overlap: cfg.KeyOverlap, Rand: deps.Rand}, deps.Logger); err != nil {
		return nil, fmt.Errorf("idp: %w", err)
	}
	// The store's registrations are read before the keys, so that an
	// ES256 client registered there has its key from the first request.
	if p.svcGen, err = deps.SSO.ServicesGeneration(ctx); err != nil {
		return nil, fmt.Errorf("idp: services: %w", err)
	}
	defs, err := deps.SSO.ServiceDefs(ctx)
	if err != nil {
		return nil, fmt.Errorf("idp: services: %w", err)
	}
	if p.saml, err = newSAMLFront(ctx, p); err != nil {
		return nil, err
	}
	reg, err := p.buildRegistry(ctx, defs, nil)
	if err != nil {
		return nil, err
	}
	if err := p.keys.ensure(ctx, reg.needsEC()); err != nil {
		return nil, fmt.Errorf("idp: keys: %w", err)
	}
	p.services.Store(reg)
	if p.oidc, err = newOIDCFront(p); err != nil {
		return nil, err
	}
	p.audq = make(chan auditItem, 4096)
	p.audwg.Add(1)
	go p.auditWriter(p.audq)
	wctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	p.stop = stop
	p.watchwg.Add(1)
	go p.watchServices(wctx)
	return p, nil
}

// Routes mounts every endpoint on mux (Go 1.22 patterns, under the path of
// PublicURL):
//
//	GET|POST /login                 local login form (?req= a parked request)
//	GET|POST /login/persona         persona chooser / switch
//	GET|POST /logout                global logout (POST with CSRF; GET confirms)
//	/cas/login /cas/logout /cas/validate /cas/serviceValidate /cas/p3/serviceValidate
//	/cas/proxyValidate /cas/p3/proxyValidate /cas/proxy
//	/.well-known/openid-configuration and /oidc/… (authorize, token, userinfo, keys, end_session, revoke, introspect)
//	/saml/idp/metadata /saml/idp/sso /saml/idp/slo
func (p *Provider) Routes(mux *http.ServeMux) {
	b := p.basePath
	mux.HandleFunc(b+"/login", p.handleLogin)
	mux.HandleFunc(b+"/login/persona", p.handlePersona)
	mux.HandleFunc(b+"/logout", p.handleLogout)
	mux.HandleFunc("GET "+b+"/logout/upstream", p.handleUpstreamLogoutStep)
	p.casRoutes(mux)
	p.oidc.routes(mux)
	p.saml.routes(mux)
}

// Close waits for back-channel logouts still in flight and writes the
// audit events not yet written.
func (p *Provider) Close() error {
	p.stop()
	p.watchwg.Wait()
	p.bg.Wait()
	p.audmu.Lock()
	if p.audq != nil {
		close(p.audq)
		p.audq = nil
	}
	p.audmu.Unlock()
	p.audwg.Wait()
	return nil
}

// FlushAudit returns once every audit event recorded before the call is
// in the store.
func (p *Provider) FlushAudit() {
	done := make(chan struct{})
	p.audmu.RLock()
	if p.audq == nil {
		p.audmu.RUnlock()
		return
	}
	p.audq <- auditItem{flush: done}
	p.audmu.RUnlock()
	<-done
}

// PurgeExpired deletes expired sessions, tickets, codes, tokens, parked
// requests and message ids; the lead's scheduler runs it every few
// minutes on one instance (any instance may: it is idempotent).
func (p *Provider) PurgeExpired(ctx context.Context) (int, error) {
	return p.deps.SSO.PurgeExpired(ctx, p.now())
}

// CurrentSession returns the request's live SSO session, or nil: the
// portal uses it for the launcher and the persona switch.
func (p *Provider) CurrentSession(r *http.Request) *sso.Session {
	return p.currentSession(r)
}

// Services returns the registry in use, configured services first, then
// the store's by ID (for the portal's launcher).
func (p *Provider) Services() []Service {
	r := p.reg()
	out := make([]Service, 0, len(r.list))
	for _, s := range r.list {
		out = append(out, *s)
	}
	return out
}

// url makes an absolute URL under PublicURL.
func (p *Provider) url(path string) string { return p.cfg.PublicURL + path }

// randomToken returns n random bytes, base64url.
func (p *Provider) randomToken(n int) string {
	return base64.RawURLEncoding.EncodeToString(p.randomBytes(n))
}

func (p *Provider) randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := io.ReadFull(p.rand, b); err != nil {
		panic(fmt.Sprintf("randomness failed: %v", err)) // crypto/rand does not fail on Linux
	}
	return b
}

func hashToken(v string) string {
	h := sha256.Sum256([]byte(v))
	return hex.EncodeToString(h[:])
}

// remoteIP is the client address; behind a reverse proxy the lead's
// chassis rewrites RemoteAddr from the trusted forwarding header.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Audit event types.
const (
	EventLogin          = "login"
	EventLogout         = "logout"
	EventPersona        = "persona.chosen"
	EventPersonaSwitch  = "persona.switched"
	EventTicketIssued   = "cas.ticket.issued"
	EventTicketRefused  = "cas.ticket.refused"
	EventServiceRefused = "service.refused"
	EventCodeIssued     = "oidc.code.issued"
	EventTokenIssued    = "oidc.token.issued"
	EventTokenRefused   = "oidc.token.refused"
	EventAssertion      = "saml.assertion.issued"
	EventSAMLRefused    = "saml.request.refused"
	EventBackchannel    = "logout.backchannel"
)

// audit records an event. Events are written in batches (one
// transaction per 256 events or 100 ms) by one goroutine, so the audit
// trail costs the login path a channel send, not a commit; a full queue
// makes callers wait rather than lose events.
func (p *Provider) audit(ctx context.Context, e directory.Event) {
	if e.Time.IsZero() {
		e.Time = p.now().UTC()
	}
	if e.Outcome == "" {
		e.Outcome = "ok"
	}
	level := slog.LevelInfo
	if e.Outcome != "ok" {
		level = slog.LevelWarn
	}
	p.log.Log(ctx, level, e.Type, "login", p.logins.of(ctx, e), "account", e.AccountID, "service", e.Service, "outcome", e.Outcome, "reason", e.Reason, "remote", e.Remote)
	if p.deps.OnEvent != nil {
		p.deps.OnEvent(e)
	}
	p.audmu.RLock()
	defer p.audmu.RUnlock()
	if p.audq == nil { // closed: write it now
		if err := p.deps.Directory.Update(context.WithoutCancel(ctx), func(tx directory.Tx) error { return tx.AppendEvents(ctx, e) }); err != nil {
			p.log.Error("audit event not recorded", "type", e.Type, "err", err)
		}
		return
	}
	p.audq <- auditItem{e: e}
}

const (
	auditBatch = 256
	auditEvery = 100 * time.Millisecond
)

func (p *Provider) auditWriter(q <-chan auditItem) {
	defer p.audwg.Done()
	var batch []directory.Event
	var waiting []chan struct{}
	tick := time.NewTicker(auditEvery)
	defer tick.Stop()
	write := func() {
		if len(batch) > 0 {
			err := p.deps.Directory.Update(context.Background(), func(tx directory.Tx) error {
				return tx.AppendEvents(context.Background(), batch...)
			})
			if err != nil {
				p.log.Error("audit events not recorded", "count", len(batch), "err", err)
			}
			batch = batch[:0]
		}
		for _, w := range waiting {
			close(w)
		}
		waiting = waiting[:0]
	}
	for {
		select {
		case it, ok := <-q:
			if !ok {
				write()
				return
			}
			if it.flush != nil {
				waiting = append(waiting, it.flush)
				write()
				continue
			}
			batch = append(batch, it.e)
			if len(batch) >= auditBatch {
				write()
			}
		case <-tick.C:
			write()
		}
	}
}

func (p *Provider) sessionEvent(r *http.Request, typ string, s *sso.Session, service, outcome, reason string) directory.Event {
	e := directory.Event{Type: typ, Service: service, Outcome: outcome, Reason: reason, Remote: remoteIP(r)}
	if s != nil {
		e.AccountID, e.StructureID, e.Profile = s.AccountID, s.StructureID, directory.Profile(s.Profile)
	}
	return e
}

// registry indexes the services. It is never changed once built: a
// reload builds another and swaps it in (Provider.services).
type registry struct {
	list     []*Service // in order: configured, then stored
	byID     map[string]*Service
	byClient map[string]*Service
	byEntity map[string]*Service
	cas      []*Service         // configured first: their patterns are tried first
	sps      map[string]*samlSP // SAML metadata by entity ID
	stored   int                // how many came from the store
}

func newRegistry(services []Service) *registry {
	r := &registry{byID: map[string]*Service{}, byClient: map[string]*Service{}, byEntity: map[string]*Service{}}
	for i := range services {
		s := &services[i]
		r.list = append(r.list, s)
		r.byID[s.ID] = s
		switch s.Protocol {
		case ProtocolCAS:
			r.cas = append(r.cas, s)
		case ProtocolOIDC:
			r.byClient[s.OIDC.ClientID] = s
		case ProtocolSAML:
			r.byEntity[s.SAML.EntityID] = s
		}
	}
	return r
}

// casService finds the CAS service whose patterns match the URL.
func (r *registry) casService(serviceURL string) *Service {
	for _, s := range r.cas {
		if matchAny(s.CAS.patterns, serviceURL) {
			return s
		}
	}
	return nil
}

// allowed reports whether the session's persona may use the service.
func (s *Service) allowed(sess *sso.Session, uai string) bool {
	if len(s.Profiles) > 0 {
		ok := false
		for _, pr := range s.Profiles {
			ok = ok || string(pr) == sess.Profile
		}
		if !ok {
			return false
		}
	}
	if len(s.Structures) > 0 {
		ok := false
		for _, st := range s.Structures {
			ok = ok || (uai != "" && st == uai)
		}
		if !ok {
			return false
		}
	}
	return true
}
