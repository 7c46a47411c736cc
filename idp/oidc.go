package idp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/idp/sso"
)

// oidcFront is the OpenID Connect provider, built on zitadel/oidc's op
// with the store below: authorization requests are parked requests,
// codes and tokens live in the SSO store (opaque, revocable), refresh
// tokens rotate and a replayed one revokes its whole family.
type oidcFront struct {
	p  *Provider
	op *op.Provider
}

type ctxKey int

const (
	requestKey ctxKey = 1 // the *http.Request, for audit events
	clientKey  ctxKey = 2 // the *Service a token request names, for SigningKey
)

func newOIDCFront(p *Provider) (*oidcFront, error) {
	f := &oidcFront{p: p}
	var cryptoKey [32]byte
	m := hmac.New(sha256.New, p.keys.secret())
	m.Write([]byte("oidc access token encryption"))
	copy(cryptoKey[:], m.Sum(nil))
	cfg := &op.Config{
		CryptoKey:                         cryptoKey,
		CodeMethodS256:                    true,
		AuthMethodPost:                    true,
		GrantTypeRefreshToken:             true,
		SupportedUILocales:                []language.Tag{language.French, language.English},
		BackChannelLogoutSupported:        true,
		BackChannelLogoutSessionSupported: true,
		SupportedScopes:                   []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeOfflineAccess},
	}
	opts := []op.Option{
		op.WithCustomEndpoints(op.NewEndpoint("oidc/authorize"), op.NewEndpoint("oidc/token"), op.NewEndpoint("oidc/userinfo"),
			op.NewEndpoint("oidc/revoke"), op.NewEndpoint("oidc/end_session"), op.NewEndpoint("oidc/keys")),
		op.WithCustomIntrospectionEndpoint(op.NewEndpoint("oidc/introspect")),
		op.WithHttpInterceptors(f.intercept),
	}
	if !p.secure {
		opts = append(opts, op.WithAllowInsecure())
	}
	var err error
	f.op, err = op.NewProvider(cfg, &opStorage{f: f}, op.StaticIssuer(p.cfg.PublicURL), opts...)
	if err != nil {
		return nil, fmt.Errorf("idp: OIDC provider: %w", err)
	}
	return f, nil
}

func (f *oidcFront) routes(mux *http.ServeMux) {
	b := f.p.basePath
	h := http.StripPrefix(b, f.op)
	mux.Handle(b+"/.well-known/openid-configuration", h)
	mux.Handle(b+"/oidc/", h)
	mux.Handle(b+"/oidc/authorize", http.StripPrefix(b, http.HandlerFunc(f.authorize)))
	mux.Handle(b+"/oidc/authorize/callback", http.StripPrefix(b, http.HandlerFunc(f.callback)))
}

// authorize refuses, with a page of ours, what must not be redirected to
// the client (unknown client, unregistered redirect_uri), then lets op
// validate the rest.
func (f *oidcFront) authorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		f.p.message(w, r, MessageView{Status: http.StatusBadRequest, Code: MsgBadRequest, Detail: "requête illisible"})
		return
	}
	clientID, redirect := r.Form.Get("client_id"), r.Form.Get("redirect_uri")
	// Even with a request object (which op does not take), client_id and
	// redirect_uri are in the query (OIDC Core 6.1), and they decide
	// whether an error may go back to the client.
	svc := f.p.reg().byClient[clientID]
	if svc == nil {
		f.p.audit(r.Context(), directory.Event{Type: EventServiceRefused, Outcome: "refused", Reason: "unregistered OIDC client " + truncate(clientID, 200), Remote: remoteIP(r)})
		f.p.message(w, r, MessageView{Status: http.StatusBadRequest, Code: MsgUnknownService, Detail: clientID})
		return
	}
	// op's own check, run first so that what it refuses gets our page.
	client := &oidcClient{svc: svc, login: f.p.loginURL}
	err := op.ValidateAuthReqRedirectURI(client, redirect, oidc.ResponseType(r.Form.Get("response_type")))
	if err == nil && !loopbackRegistered(client, svc.OIDC.RedirectURIs, redirect) {
		err = errors.New("loopback redirect on another host")
	}
	if err != nil {
		f.p.audit(r.Context(), directory.Event{Type: EventServiceRefused, Service: svc.ID, Outcome: "refused", Reason: "unregistered redirect_uri " + truncate(redirect, 200), Remote: remoteIP(r)})
		f.p.message(w, r, MessageView{Status: http.StatusBadRequest, Code: MsgBadRequest, Detail: "redirect_uri non déclarée pour ce client : " + redirect})
		return
	}
	f.serveAuthorize(w, r)
}

// passiveFailure answers a prompt=none request that cannot be met without
// showing a page: login_required to the (registered) redirect URI.
func (f *oidcFront) passiveFailure(w http.ResponseWriter, r *http.Request, pend *sso.Pending) bool {
	var pd pendingData
	var ar authRequest
	if json.Unmarshal(pend.Payload, &pd) != nil || json.Unmarshal(pd.Data, &ar) != nil || !ar.PromptNone {
		return false
	}
	_ = f.p.deps.SSO.DeletePending(r.Context(), pend.ID)
	q := url.Values{"error": {"login_required"}}
	if ar.State != "" {
		q.Set("state", ar.State)
	}
	sep := "?"
	if strings.Contains(ar.RedirectURI, "?") {
		sep = "&"
	}
	http.Redirect(w, r, ar.RedirectURI+sep+q.Encode(), http.StatusFound)
	return true
}

func (f *oidcFront) callbackURL(id string) string {
	return f.p.url("/oidc/authorize/callback?id=" + url.QueryEscape(id))
}

// callback checks, before op issues the code, that this browser's session
// completed the request and that its persona may use the client.
func (f *oidcFront) callback(w http.ResponseWriter, r *http.Request) {
	pend, _, sess, err := f.p.resumed(r, "oidc", r.URL.Query().Get("id"))
	if err != nil {
		f.p.requestLost(w, r, err)
		return
	}
	svc := f.p.reg().byID[pend.ServiceID]
	if svc == nil || !f.p.authorize(w, r, sess, svc) {
		if svc == nil {
			f.p.message(w, r, MessageView{Status: http.StatusBadRequest, Code: MsgUnknownService})
		}
		return
	}
	f.serveAuthorize(w, r)
}

// --- token endpoint ---------------------------------------------------------------------

// token runs inside op's router (CORS and issuer already handled): it
// notes which registered client the request names, so that SigningKey
// signs its ID token with the algorithm it registered, and answers
// refresh_token grants itself (see refreshExchange); op does the rest.
func (f *oidcFront) token(w http.ResponseWriter, r *http.Request, next http.Handler) {
	// RFC 6749 §5.1: token responses must not be cached.
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	// The client op will authenticate: HTTP Basic wins over the form, as
	// in op.ParseAuthenticatedTokenRequest. Naming another client than
	// the one that authenticates gains nothing: op then refuses.
	clientID, _, ok := r.BasicAuth()
	if ok {
		clientID, _ = url.QueryUnescape(clientID)
	} else {
		clientID = r.FormValue("client_id")
	}
	if svc := f.p.reg().byClient[clientID]; svc != nil {
		r = r.WithContext(context.WithValue(r.Context(), clientKey, svc))
	}
	if r.FormValue("grant_type") == string(oidc.GrantTypeRefreshToken) {
		f.refreshExchange(w, r)
		return
	}
	next.ServeHTTP(w, r)
}

// refreshExchange is op.RefreshTokenExchange, except that the response
// carries a new ID token only for clients with IDTokenOnRefresh (OIDC
// Core 12.2: a refresh response "might not contain an id_token"). Signing
// one is most of what a refresh costs, and most clients only want the
// access token; the others ask. Client authentication, refresh token
// checks, scope narrowing, rotation with reuse detection are op's and
// the store's, as for the other grants.
func (f *oidcFront) refreshExchange(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tokenReq, err := op.ParseRefreshTokenRequest(r, f.op.Decoder())
	if err != nil {
		op.RequestError(w, r, err, nil)
		return
	}
	req, client, err := op.ValidateRefreshTokenRequest(ctx, tokenReq, f.op)
	if err != nil {
		op.RequestError(w, r, err, nil)
		return
	}
	accessToken, refreshToken, validity, err := op.CreateAccessToken(ctx, req, client.AccessTokenType(), f.op, client, tokenReq.RefreshToken)
	if err != nil {
		op.RequestError(w, r, err, nil)
		return
	}
	resp := &oidc.AccessTokenResponse{AccessToken: accessToken, RefreshToken: refreshToken, TokenType: oidc.BearerToken,
		ExpiresIn: uint64(validity.Seconds()), Scope: req.GetScopes()}
	if svc := f.p.reg().byClient[client.GetID()]; svc != nil && svc.OIDC.IDTokenOnRefresh {
		if resp.IDToken, err = op.CreateIDToken(ctx, op.IssuerFromContext(ctx), req, client.IDTokenLifetime(), accessToken, "", f.op.Storage(), client); err != nil {
			op.RequestError(w, r, err, nil)
			return
		}
	}
	httphelper.MarshalJSON(w, resp)
}

// --- authorization requests -----------------------------------------------------------

// authRequest is an authorization request, parked while the user logs in
// and copied into the code once issued.
type authRequest struct {
	ID                  string                   `json:"id"`
	ClientID            string                   `json:"client_id"`
	ServiceID           string                   `json:"service_id"`
	RedirectURI         string                   `json:"redirect_uri"`
	Scopes              []string                 `json:"scopes"`
	State               string                   `json:"state,omitempty"`
	Nonce               string                   `json:"nonce,omitempty"`
	ResponseType        oidc.ResponseType        `json:"response_type"`
	ResponseMode        oidc.ResponseMode        `json:"response_mode,omitempty"`
	CodeChallenge       string                   `json:"code_challenge,omitempty"`
	CodeChallengeMethod oidc.CodeChallengeMethod `json:"code_challenge_method,omitempty"`
	PromptNone          bool                     `json:"prompt_none,omitempty"`
	// Filled once the login completed it.
	SessionID string    `json:"session_id,omitempty"`
	AccountID string    `json:"account_id,omitempty"`
	PersonaID string    `json:"persona_id,omitempty"`
	Upstream  string    `json:"upstream,omitempty"`
	Subject   string    `json:"subject,omitempty"`
	AuthTime  time.Time `json:"auth_time"`
	SID       string    `json:"sid,omitempty"`
	done      bool
}

func (a *authRequest) GetID() string                      { return a.ID }
func (a *authRequest) GetACR() string                     { return "" }
func (a *authRequest) GetAMR() []string                   { return []string{"pwd"} }
func (a *authRequest) GetAudience() []string              { return []string{a.ClientID} }
func (a *authRequest) GetAuthTime() time.Time             { return a.AuthTime }
func (a *authRequest) GetClientID() string                { return a.ClientID }
func (a *authRequest) GetNonce() string                   { return a.Nonce }
func (a *authRequest) GetRedirectURI() string             { return a.RedirectURI }
func (a *authRequest) GetScopes() []string                { return a.Scopes }
func (a *authRequest) GetState() string                   { return a.State }
func (a *authRequest) GetSubject() string                 { return a.Subject }
func (a *authRequest) Done() bool                         { return a.done }
func (a *authRequest) GetResponseType() oidc.ResponseType { return a.ResponseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return a.ResponseMode }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.CodeChallenge, Method: a.CodeChallengeMethod}
}

// tokenData is what an access or refresh token stands for.
type tokenData struct {
	ServiceID string    `json:"service_id"`
	Subject   string    `json:"subject"`
	Scopes    []string  `json:"scopes"`
	AccountID string    `json:"account_id"`
	PersonaID string    `json:"persona_id,omitempty"`
	Upstream  string    `json:"upstream,omitempty"`
	SessionID string    `json:"session_id,omitempty"`
	AuthTime  time.Time `json:"auth_time"`
	SID       string    `json:"sid,omitempty"`
}

// refreshRequest is a refresh token presented at the token endpoint.
type refreshRequest struct {
	tokenData
	clientID string
	family   string
}

func (r *refreshRequest) GetAMR() []string            { return []string{"pwd"} }
func (r *refreshRequest) GetAudience() []string       { return []string{r.clientID} }
func (r *refreshRequest) GetAuthTime() time.Time      { return r.AuthTime }
func (r *refreshRequest) GetClientID() string         { return r.clientID }
func (r *refreshRequest) GetScopes() []string         { return r.Scopes }
func (r *refreshRequest) GetSubject() string          { return r.Subject }
func (r *refreshRequest) SetCurrentScopes(s []string) { r.Scopes = s }

// --- clients ----------------------------------------------------------------------------

type oidcClient struct {
	svc   *Service
	login func(string) string
}

func (c *oidcClient) GetID() string                    { return c.svc.OIDC.ClientID }
func (c *oidcClient) RedirectURIs() []string           { return c.svc.OIDC.RedirectURIs }
func (c *oidcClient) PostLogoutRedirectURIs() []string { return c.svc.OIDC.PostLogoutRedirectURIs }
func (c *oidcClient) ApplicationType() op.ApplicationType {
	switch {
	case c.svc.OIDC.ApplicationType == "native":
		return op.ApplicationTypeNative
	case c.svc.OIDC.ClientSecret == "":
		return op.ApplicationTypeUserAgent
	}
	return op.ApplicationTypeWeb
}
func (c *oidcClient) AuthMethod() oidc.AuthMethod {
	if c.svc.OIDC.ClientSecret == "" {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}
func (c *oidcClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *oidcClient) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}
func (c *oidcClient) LoginURL(id string) string            { return c.login(id) }
func (c *oidcClient) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeBearer }
func (c *oidcClient) IDTokenLifetime() time.Duration       { return 10 * time.Minute }
func (c *oidcClient) DevMode() bool                        { return false }
func (c *oidcClient) ClockSkew() time.Duration             { return 0 }
func (c *oidcClient) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *oidcClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *oidcClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *oidcClient) IsScopeAllowed(scope string) bool {
	allowed := c.svc.OIDC.Scopes
	if allowed == nil {
		allowed = []string{oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeOfflineAccess}
	}
	return slices.Contains(allowed, scope)
}

// --- op.Storage ----------------------------------------------------------------------------

type opStorage struct{ f *oidcFront }

var _ op.Storage = (*opStorage)(nil)
var _ op.CanSetUserinfoFromRequest = (*opStorage)(nil)

func (s *opStorage) prov() *Provider { return s.f.p }

func (s *opStorage) service(clientID string) (*Service, error) {
	svc := s.prov().reg().byClient[clientID]
	if svc == nil {
		// invalid_client on every path (token, refresh, introspection…):
		// a plain error would reach the client as a 500 server_error.
		return nil, oidc.ErrInvalidClient().WithDescription("client %q is not registered", clientID)
	}
	return svc, nil
}

func (s *opStorage) refuse(ctx context.Context, typ, account, service, reason string) {
	e := directory.Event{Type: typ, AccountID: account, Service: service, Outcome: "refused", Reason: reason}
	if r, ok := ctx.Value(requestKey).(*http.Request); ok {
		e.Remote = remoteIP(r)
	}
	s.prov().audit(ctx, e)
}

func (s *opStorage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	p := s.prov()
	svc, err := s.service(req.ClientID)
	if err != nil {
		return nil, oidc.ErrInvalidClient().WithDescription("unknown client")
	}
	if svc.OIDC.ClientSecret == "" && (req.CodeChallenge == "" || req.CodeChallengeMethod != oidc.CodeChallengeMethodS256) {
		s.refuse(ctx, EventTokenRefused, "", svc.ID, "public client without PKCE S256")
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE with S256 is required for public clients")
	}
	force := slices.Contains(req.Prompt, oidc.PromptLogin) || (req.MaxAge != nil && *req.MaxAge == 0)
	ar := &authRequest{ID: p.randomToken(24), ClientID: req.ClientID, ServiceID: svc.ID, RedirectURI: req.RedirectURI,
		Scopes: req.Scopes, State: req.State, Nonce: req.Nonce, ResponseType: req.ResponseType, ResponseMode: req.ResponseMode,
		CodeChallenge: req.CodeChallenge, CodeChallengeMethod: req.CodeChallengeMethod,
		PromptNone: slices.Contains(req.Prompt, oidc.PromptNone)}
	if _, err := p.parkAs(ctx, ar.ID, "oidc", svc, force, ar); err != nil {
		return nil, err
	}
	return ar, nil
}

// loadRequest reads a parked request; once a session completed it, it is
// done and carries the subject.
func (s *opStorage) loadRequest(ctx context.Context, id string) (*authRequest, error) {
	p := s.prov()
	pend, err := p.deps.SSO.Pending(ctx, id, p.now())
	if err != nil || pend.Kind != "oidc" {
		return nil, fmt.Errorf("authorization request: %w", sso.ErrNotFound)
	}
	var pd pendingData
	if err := json.Unmarshal(pend.Payload, &pd); err != nil {
		return nil, err
	}
	ar := &authRequest{}
	if err := json.Unmarshal(pd.Data, ar); err != nil {
		return nil, err
	}
	if pend.SessionID == "" {
		return ar, nil
	}
	sess, err := p.deps.SSO.Session(ctx, pend.SessionID, p.now())
	if err != nil {
		return ar, nil
	}
	svc := p.reg().byID[ar.ServiceID]
	sub, err := p.loadSubject(ctx, sess)
	if err != nil || svc == nil {
		return nil, fmt.Errorf("authorization request subject: %w", err)
	}
	ar.SessionID, ar.AccountID, ar.PersonaID, ar.Upstream = sess.ID, sess.AccountID, sess.PersonaID, sess.Upstream
	ar.AuthTime, ar.Subject, ar.SID = sess.AuthTime, p.principal(svc, sub), sidOf(sess.ID)
	ar.done = true
	return ar, nil
}

// sidOf is the OIDC session id of an SSO session: derived, so that the
// stored session id never leaves the server.
func sidOf(sessionID string) string { return hashToken("sid\x00" + sessionID)[:32] }

func (s *opStorage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	return s.loadRequest(ctx, id)
}

func (s *opStorage) SaveAuthCode(ctx context.Context, id, code string) error {
	p := s.prov()
	ar, err := s.loadRequest(ctx, id)
	if err != nil {
		return err
	}
	if !ar.done {
		return errors.New("authorization request not completed")
	}
	data, _ := json.Marshal(ar)
	now := p.now().UTC()
	if err := p.deps.SSO.PutCode(ctx, sso.Code{ID: hashToken(code), Family: ar.ID, ClientID: ar.ClientID, SessionID: ar.SessionID,
		Data: data, CreatedAt: now, ExpiresAt: now.Add(p.cfg.CodeTTL)}); err != nil {
		return err
	}
	svc := p.reg().byID[ar.ServiceID]
	if err := p.deps.SSO.AddSessionService(ctx, sso.SessionService{SessionID: ar.SessionID, ServiceID: ar.ServiceID,
		Protocol: string(ProtocolOIDC), Ref: ar.SID, URL: svc.OIDC.BackChannelLogoutURI, At: now}); err != nil {
		p.log.Error("record service reached", "err", err)
	}
	e := directory.Event{Type: EventCodeIssued, AccountID: ar.AccountID, Service: ar.ServiceID, Outcome: "ok"}
	if r, ok := ctx.Value(requestKey).(*http.Request); ok {
		e.Remote = remoteIP(r)
	}
	p.audit(ctx, e)
	return nil
}

func (s *opStorage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	p := s.prov()
	c, err := p.deps.SSO.ConsumeCode(ctx, hashToken(code), p.now())
	if errors.Is(err, sso.ErrReused) {
		n, _ := p.deps.SSO.RevokeFamily(ctx, c.Family)
		s.refuse(ctx, EventTokenRefused, "", c.ClientID, fmt.Sprintf("authorization code replayed: %d tokens revoked", n))
		return nil, oidc.ErrInvalidGrant().WithDescription("authorization code already used; the tokens it gave are revoked")
	}
	if err != nil {
		s.refuse(ctx, EventTokenRefused, "", "", "unknown or expired authorization code")
		return nil, oidc.ErrInvalidGrant().WithDescription("unknown or expired authorization code")
	}
	ar := &authRequest{}
	if err := json.Unmarshal(c.Data, ar); err != nil {
		return nil, err
	}
	ar.done = true
	return ar, nil
}

// DeleteAuthRequest forgets the request once its tokens are made. Gone
// already is fine: the code's single use (ConsumeCode) is what keeps a
// request from being answered twice here.
func (s *opStorage) DeleteAuthRequest(ctx context.Context, id string) error {
	if err := s.prov().deps.SSO.DeletePending(ctx, id); err != nil && !errors.Is(err, sso.ErrNotFound) {
		return err
	}
	return nil
}

// tokenOf extracts what a token request stands for.
func tokenOf(req op.TokenRequest) (tokenData, string, string, error) {
	switch r := req.(type) {
	case *authRequest:
		return tokenData{ServiceID: r.ServiceID, Subject: r.Subject, Scopes: r.Scopes, AccountID: r.AccountID, PersonaID: r.PersonaID,
			Upstream: r.Upstream, SessionID: r.SessionID, AuthTime: r.AuthTime, SID: r.SID}, r.ClientID, r.ID, nil
	case *refreshRequest:
		return r.tokenData, r.clientID, r.family, nil
	}
	return tokenData{}, "", "", fmt.Errorf("token request of type %T not supported", req)
}

func (s *opStorage) newAccess(td tokenData, clientID, family string) (sso.Token, time.Time) {
	p := s.prov()
	now := p.now().UTC()
	data, _ := json.Marshal(td)
	exp := now.Add(p.cfg.AccessTokenTTL)
	return sso.Token{ID: p.randomToken(24), Kind: "access", Family: family, ClientID: clientID, AccountID: td.AccountID,
		SessionID: td.SessionID, Data: data, CreatedAt: now, ExpiresAt: exp}, exp
}

func (s *opStorage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	td, clientID, family, err := tokenOf(req)
	if err != nil {
		return "", time.Time{}, err
	}
	t, exp := s.newAccess(td, clientID, family)
	if err := s.prov().deps.SSO.PutToken(ctx, t); err != nil {
		return "", time.Time{}, err
	}
	s.prov().audit(ctx, directory.Event{Type: EventTokenIssued, AccountID: td.AccountID, Service: td.ServiceID, Outcome: "ok"})
	return t.ID, exp, nil
}

func (s *opStorage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	p := s.prov()
	td, clientID, family, err := tokenOf(req)
	if err != nil {
		return "", "", time.Time{}, err
	}
	access, exp := s.newAccess(td, clientID, family)
	value := p.randomToken(32)
	now := p.now().UTC()
	refresh := sso.Token{ID: hashToken(value), Kind: "refresh", Family: family, ClientID: clientID, AccountID: td.AccountID,
		SessionID: td.SessionID, Data: access.Data, CreatedAt: now, ExpiresAt: now.Add(p.cfg.RefreshTokenTTL)}
	if current == "" {
		if err := p.deps.SSO.PutToken(ctx, access); err != nil {
			return "", "", time.Time{}, err
		}
		if err := p.deps.SSO.PutToken(ctx, refresh); err != nil {
			return "", "", time.Time{}, err
		}
	} else if err := p.deps.SSO.RotateRefresh(ctx, hashToken(current), now, access, refresh); err != nil {
		if errors.Is(err, sso.ErrReused) {
			n, _ := p.deps.SSO.RevokeFamily(ctx, family)
			s.refuse(ctx, EventTokenRefused, td.AccountID, td.ServiceID, fmt.Sprintf("refresh token replayed: %d tokens revoked", n))
		}
		return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("refresh token no longer valid")
	}
	p.audit(ctx, directory.Event{Type: EventTokenIssued, AccountID: td.AccountID, Service: td.ServiceID, Outcome: "ok",
		Details: map[string]string{"refresh": fmt.Sprint(current != "")}})
	return access.ID, value, exp, nil
}

func (s *opStorage) TokenRequestByRefreshToken(ctx context.Context, value string) (op.RefreshTokenRequest, error) {
	p := s.prov()
	t, err := p.deps.SSO.Token(ctx, hashToken(value), p.now())
	if err != nil || t.Kind != "refresh" {
		s.refuse(ctx, EventTokenRefused, "", "", "unknown, revoked or expired refresh token")
		return nil, op.ErrInvalidRefreshToken
	}
	if t.UsedAt != nil {
		n, _ := p.deps.SSO.RevokeFamily(ctx, t.Family)
		s.refuse(ctx, EventTokenRefused, t.AccountID, t.ClientID, fmt.Sprintf("refresh token replayed: %d tokens revoked", n))
		return nil, op.ErrInvalidRefreshToken
	}
	rr := &refreshRequest{clientID: t.ClientID, family: t.Family}
	if err := json.Unmarshal(t.Data, &rr.tokenData); err != nil {
		return nil, err
	}
	return rr, nil
}

func (s *opStorage) TerminateSession(context.Context, string, string) error { return nil }

func (s *opStorage) RevokeToken(ctx context.Context, tokenOrID, userID, clientID string) *oidc.Error {
	p := s.prov()
	id := tokenOrID
	if userID == "" {
		id = hashToken(tokenOrID)
	}
	t, err := p.deps.SSO.Token(ctx, id, p.now())
	if err != nil {
		return nil // unknown tokens are "revoked" (RFC 7009)
	}
	if t.ClientID != clientID {
		return oidc.ErrInvalidClient().WithDescription("token was issued to another client")
	}
	if err := p.deps.SSO.RevokeToken(ctx, id); err != nil {
		return oidc.ErrServerError()
	}
	return nil
}

func (s *opStorage) GetRefreshTokenInfo(ctx context.Context, clientID, token string) (string, string, error) {
	p := s.prov()
	t, err := p.deps.SSO.Token(ctx, hashToken(token), p.now())
	if err != nil || t.Kind != "refresh" || t.ClientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	var td tokenData
	_ = json.Unmarshal(t.Data, &td)
	return td.Subject, t.ID, nil
}

// opSigningKey is a private key for op: RSA (RS256) or EC P-256 (ES256).
type opSigningKey struct {
	id  string
	alg jose.SignatureAlgorithm
	key any
}

func (k opSigningKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }
func (k opSigningKey) Key() any                                    { return k.key }
func (k opSigningKey) ID() string                                  { return k.id }

type opPublicKey struct {
	id  string
	alg jose.SignatureAlgorithm
	key any
}

func (k opPublicKey) ID() string                         { return k.id }
func (k opPublicKey) Algorithm() jose.SignatureAlgorithm { return k.alg }
func (k opPublicKey) Use() string                        { return "sig" }
func (k opPublicKey) Key() any                           { return k.key }

// signingKeyFor returns the key that signs svc's tokens now: EC for the
// clients that registered ES256, RSA otherwise.
func (p *Provider) signingKeyFor(svc *Service) (opSigningKey, error) {
	if svc != nil && svc.OIDC.IDTokenSignedResponseAlg == "ES256" {
		k, ok := p.keys.activeEC()
		if !ok {
			return opSigningKey{}, fmt.Errorf("client %s wants ES256 and no EC key is loaded", svc.OIDC.ClientID)
		}
		return opSigningKey{id: k.ID, alg: jose.ES256, key: k.Private}, nil
	}
	k := p.keys.active()
	return opSigningKey{id: k.ID, alg: jose.RS256, key: k.Private}, nil
}

// SigningKey signs ID tokens, with the algorithm of the client the token
// request names (see oidcFront.token).
func (s *opStorage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	svc, _ := ctx.Value(clientKey).(*Service)
	return s.prov().signingKeyFor(svc)
}

func (s *opStorage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	if len(s.prov().keys.publishedEC()) > 0 {
		return []jose.SignatureAlgorithm{jose.RS256, jose.ES256}, nil
	}
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *opStorage) KeySet(context.Context) ([]op.Key, error) {
	var out []op.Key
	for _, k := range s.prov().keys.published() {
		out = append(out, opPublicKey{id: k.ID, alg: jose.RS256, key: &k.Private.PublicKey})
	}
	for _, k := range s.prov().keys.publishedEC() {
		out = append(out, opPublicKey{id: k.ID, alg: jose.ES256, key: &k.Private.PublicKey})
	}
	return out, nil
}

func (s *opStorage) GetClientByClientID(_ context.Context, clientID string) (op.Client, error) {
	svc, err := s.service(clientID)
	if err != nil {
		return nil, err
	}
	return &oidcClient{svc: svc, login: s.prov().loginURL}, nil
}

func (s *opStorage) AuthorizeClientIDSecret(ctx context.Context, clientID, secret string) error {
	svc, err := s.service(clientID)
	if err != nil {
		return err
	}
	want := svc.OIDC.ClientSecret
	if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(secret)) != 1 {
		s.refuse(ctx, EventTokenRefused, "", svc.ID, "wrong client secret")
		return errors.New("wrong client secret")
	}
	return nil
}

func (s *opStorage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// fill sets the subject and the claims the release policy names (and the
// scopes allow) on a userinfo.
func (s *opStorage) fill(ctx context.Context, ui *oidc.UserInfo, td tokenData) error {
	p := s.prov()
	svc := p.reg().byID[td.ServiceID]
	if svc == nil {
		return fmt.Errorf("service %s no longer registered", td.ServiceID)
	}
	sub, err := p.loadSubject(ctx, sso.Session{AccountID: td.AccountID, PersonaID: td.PersonaID, Upstream: td.Upstream, AuthTime: td.AuthTime}, svc.Release.needs())
	if err != nil {
		return err
	}
	ui.Subject = td.Subject
	for _, a := range svc.Release.release(sub, td.Scopes) {
		if len(a.Values) == 1 {
			ui.AppendClaims(a.Rule.Name, a.Values[0])
		} else {
			ui.AppendClaims(a.Rule.Name, a.Values)
		}
	}
	return nil
}

func (s *opStorage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, _ []string) error {
	td, _, _, err := tokenOf(req.(op.TokenRequest))
	if err != nil {
		return err
	}
	if err := s.fill(ctx, ui, td); err != nil {
		return err
	}
	if td.SID != "" {
		ui.AppendClaims("sid", td.SID) // ID token only: back-channel logout names it
	}
	return nil
}

func (s *opStorage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, _ string) error {
	p := s.prov()
	t, err := p.deps.SSO.Token(ctx, tokenID, p.now())
	if errors.Is(err, sso.ErrNotFound) || (err == nil && t.Kind != "access") {
		return &tokenGoneError{"access token unknown, revoked or expired"}
	}
	if err != nil {
		return err
	}
	var td tokenData
	if err := json.Unmarshal(t.Data, &td); err != nil {
		return err
	}
	if td.Subject != subject {
		return &tokenGoneError{"access token subject mismatch"}
	}
	if p.reg().byID[td.ServiceID] == nil {
		return &tokenGoneError{"the client of this access token is no longer registered"}
	}
	return s.fill(ctx, ui, td)
}

func (s *opStorage) SetIntrospectionFromToken(ctx context.Context, ir *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	p := s.prov()
	t, err := p.deps.SSO.Token(ctx, tokenID, p.now())
	if err != nil || t.Kind != "access" || t.ClientID != clientID {
		return errors.New("token not active")
	}
	var td tokenData
	_ = json.Unmarshal(t.Data, &td)
	ir.Active, ir.Subject, ir.ClientID, ir.Scope = true, td.Subject, t.ClientID, td.Scopes
	ir.Expiration, ir.IssuedAt = oidc.FromTime(t.ExpiresAt), oidc.FromTime(t.CreatedAt)
	ir.Audience = []string{t.ClientID}
	return nil
}

func (s *opStorage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *opStorage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("JWT profile grants are not supported")
}

func (s *opStorage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("JWT profile grants are not supported")
}

func (s *opStorage) Health(ctx context.Context) error { return nil }

// --- back-channel logout ---------------------------------------------------------------

// backchannelLogout posts a signed logout token (OIDC Back-Channel Logout
// 1.0) to the client.
func (f *oidcFront) backchannelLogout(ctx context.Context, sess *sso.Session, svc *Service, ss sso.SessionService) error {
	p := f.p
	k, err := p.signingKeyFor(svc) // the algorithm of the client's ID tokens
	if err != nil {
		return err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.key, KeyID: k.id}},
		(&jose.SignerOptions{}).WithType("logout+jwt"))
	if err != nil {
		return err
	}
	sub := ""
	if s, err := p.loadSubject(ctx, *sess); err == nil {
		sub = p.principal(svc, s)
	}
	now := p.now().UTC()
	claims := map[string]any{
		"iss": p.cfg.PublicURL, "aud": svc.OIDC.ClientID, "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
		"jti": p.randomToken(16), "sid": ss.Ref, "sub": sub,
		"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}},
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		return err
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		return err
	}
	form := url.Values{"logout_token": {token}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, svc.OIDC.BackChannelLogoutURI, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.deps.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("OIDC back-channel logout to %s: %w", svc.OIDC.BackChannelLogoutURI, err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		return fmt.Errorf("OIDC back-channel logout to %s: status %d", svc.OIDC.BackChannelLogoutURI, resp.StatusCode)
	}
	return nil
}
