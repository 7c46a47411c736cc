// Package oidc is the OpenID Connect relying-party connector (authorization
// code flow with PKCE, state and nonce) on github.com/zitadel/oidc/v3's rp
// package: the agents portal's FIM, EduConnect's OIDC front and the
// département's Entra ID are each one configured Connector.
//
// zitadel's rp checks the ID token's issuer, audience, signature (against
// the discovered JWKS, with the algorithms of Config.Algorithms only, so
// "none" and an HS256 token keyed with the public key are refused), expiry,
// issued-at and nonce. It reads the wall clock (time.Now) for expiry: the
// injected clock does not reach it. The login state, nonce and PKCE
// verifier live in the shared store (federation.States), not in zitadel's
// cookies, so that a login may end on another instance.
package oidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	"github.com/enthub/enthub/federation"
)

// Config is one OIDC upstream. Field names are the YAML keys.
type Config struct {
	ID           string   `yaml:"id"`
	Issuer       string   `yaml:"issuer"`
	ClientID     string   `yaml:"client_id"`
	ClientSecret string   `yaml:"client_secret"`
	RedirectURL  string   `yaml:"redirect_url"` // our callback
	Scopes       []string `yaml:"scopes"`
	// Algorithms the ID token may be signed with (default RS256).
	Algorithms []string `yaml:"algorithms"`
	// SubjectClaim is the claim used as the identity's subject (default
	// sub; Entra ID: oid, the same across applications, where sub is
	// pairwise per application).
	SubjectClaim string `yaml:"subject_claim"`
	// TenantID pins an Entra ID tenant: the tid claim must equal it.
	TenantID string `yaml:"tenant_id"`
	// Userinfo merges the userinfo endpoint's claims (the FIM releases
	// rne and FrEduFonctAdm there).
	Userinfo bool `yaml:"userinfo"`
	// ClockSkew tolerated on iat (default 3 minutes).
	ClockSkew time.Duration `yaml:"clock_skew"`
	// AuthParams are extra authorization request parameters (Entra ID:
	// domain_hint).
	AuthParams map[string]string `yaml:"auth_params"`
	// PostLogoutRedirectURL is our page the provider sends the browser
	// back to after RP-initiated logout (registered with the provider);
	// the logout's state comes back with it. Empty: the provider keeps the
	// browser.
	PostLogoutRedirectURL string `yaml:"post_logout_redirect_url"`
	// DiscoveryRefresh bounds how long the discovery document and the
	// provider's keys are trusted before being read again (default 1h). A
	// key the provider stopped publishing is refused after at most this
	// long; a new key is fetched at once, on the first token it signs.
	DiscoveryRefresh time.Duration `yaml:"discovery_refresh"`
	// GroupsOverage says what to do when Entra ID leaves the groups out of
	// the ID token because there are too many (more than 200 in a JWT; the
	// token then carries _claim_names.groups or hasgroups instead):
	//   - "flag" (default): log in, without groups, with the attribute
	//     groups_overage=true, so that no rule reads "member of nothing"
	//     (link rules that need a group, as just-in-time accounts do,
	//     then do not match);
	//   - "refuse": refuse the login (ReasonToken), for a connector whose
	//     every decision needs the groups;
	//   - "ignore": log in without groups and without the flag.
	// Reading the groups from Microsoft Graph needs a Graph token and is not
	// done: configure Entra ID to emit only the groups assigned to the
	// application ("groups assigned to the application" filter) instead.
	GroupsOverage string `yaml:"groups_overage"`
	// TokenAuthMethod is how the client authenticates at the token
	// endpoint: client_secret_basic (OpenID Connect's default) or
	// client_secret_post (the default without a secret). It is set, not
	// probed: the probe sends the code a second time after any failure,
	// so a provider that does not answer would cost two timeouts.
	TokenAuthMethod string `yaml:"token_auth_method"`
}

// Validate checks the configuration, each problem naming its field.
func (c *Config) Validate() error {
	if len(c.Algorithms) == 0 {
		c.Algorithms = []string{"RS256"}
	}
	if c.SubjectClaim == "" {
		c.SubjectClaim = "sub"
	}
	if len(c.Scopes) == 0 {
		c.Scopes = []string{"openid", "profile", "email"}
	}
	if c.ClockSkew == 0 {
		c.ClockSkew = 3 * time.Minute
	}
	if c.DiscoveryRefresh == 0 {
		c.DiscoveryRefresh = time.Hour
	}
	if c.GroupsOverage == "" {
		c.GroupsOverage = "flag"
	}
	if c.TokenAuthMethod == "" {
		c.TokenAuthMethod = "client_secret_basic"
		if c.ClientSecret == "" {
			c.TokenAuthMethod = "client_secret_post"
		}
	}
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("connector %q: %s: %s", c.ID, field, fmt.Sprintf(format, args...)))
	}
	if c.ID == "" {
		bad("id", "missing")
	}
	for field, v := range map[string]string{"issuer": c.Issuer, "redirect_url": c.RedirectURL} {
		if u, err := url.Parse(v); v == "" || err != nil || !u.IsAbs() || u.Host == "" {
			bad(field, "%q is not an absolute URL", v)
		}
	}
	if c.ClientID == "" {
		bad("client_id", "missing")
	}
	if _, ok := authStyles[c.TokenAuthMethod]; !ok {
		bad("token_auth_method", "%q is not client_secret_basic or client_secret_post", c.TokenAuthMethod)
	}
	for _, a := range c.Algorithms {
		if a == "none" || strings.HasPrefix(a, "HS") {
			bad("algorithms", "%s is not allowed (an ID token must be signed with the provider's private key)", a)
		}
	}
	if c.GroupsOverage != "flag" && c.GroupsOverage != "refuse" && c.GroupsOverage != "ignore" {
		bad("groups_overage", "%q is not flag, refuse or ignore", c.GroupsOverage)
	}
	if c.DiscoveryRefresh < 0 {
		bad("discovery_refresh", "%s is negative", c.DiscoveryRefresh)
	}
	if v := c.PostLogoutRedirectURL; v != "" {
		if u, err := url.Parse(v); err != nil || !u.IsAbs() || u.Host == "" {
			bad("post_logout_redirect_url", "%q is not an absolute URL", v)
		}
	}
	hasOpenID := false
	for _, s := range c.Scopes {
		hasOpenID = hasOpenID || s == "openid"
	}
	if !hasOpenID {
		bad("scopes", "must include openid")
	}
	return errors.Join(errs...)
}

var authStyles = map[string]oauth2.AuthStyle{
	"client_secret_basic": oauth2.AuthStyleInHeader,
	"client_secret_post":  oauth2.AuthStyleInParams,
}

// Deps are what a connector is given (see federation.Deps).
type Deps = federation.Deps

// Connector is an OIDC relying party towards one provider.
type Connector struct {
	cfg     Config
	deps    Deps
	states  federation.States
	party   atomic.Pointer[discovered]
	refresh sync.Mutex
}

// discovered is the relying party built from one reading of the discovery
// document, with its own key cache.
type discovered struct {
	rp        rp.RelyingParty
	refreshAt time.Time
}

var _ federation.Connector = (*Connector)(nil)

type nonceKey struct{}

// New validates cfg and reads the provider's discovery document (its issuer
// must be cfg.Issuer exactly).
func New(ctx context.Context, cfg Config, deps Deps) (*Connector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	deps = deps.WithDefaults()
	c := &Connector{cfg: cfg, deps: deps, states: federation.States{Store: deps.Store, Now: deps.Now, Rand: deps.Rand}}
	if _, err := c.rp(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// rp returns the relying party, reading the discovery document again when
// it is due: the provider may have moved an endpoint or its jwks_uri, and a
// new reading also drops the cached keys, so that a key the provider no
// longer publishes stops verifying tokens. A failed reading keeps the
// previous one (a short outage of the provider's discovery does not stop
// logins with still-published keys).
func (c *Connector) rp(ctx context.Context) (rp.RelyingParty, error) {
	now := c.deps.Now()
	if d := c.party.Load(); d != nil && now.Before(d.refreshAt) {
		return d.rp, nil
	}
	c.refresh.Lock()
	defer c.refresh.Unlock()
	cur := c.party.Load()
	if cur != nil && now.Before(cur.refreshAt) {
		return cur.rp, nil
	}
	cfg := c.cfg
	party, err := rp.NewRelyingPartyOIDC(ctx, cfg.Issuer, cfg.ClientID, cfg.ClientSecret, cfg.RedirectURL, cfg.Scopes,
		rp.WithHTTPClient(c.deps.HTTPClient),
		rp.WithAuthStyle(authStyles[cfg.TokenAuthMethod]),
		rp.WithVerifierOpts(
			rp.WithSupportedSigningAlgorithms(cfg.Algorithms...),
			rp.WithIssuedAtOffset(cfg.ClockSkew),
			rp.WithNonce(func(ctx context.Context) string { n, _ := ctx.Value(nonceKey{}).(string); return n }),
		))
	if err != nil {
		err = fmt.Errorf("connector %q: issuer %s: discovery: %w", cfg.ID, cfg.Issuer, err)
		if cur != nil {
			c.deps.Logger.Warn("OIDC discovery refresh failed, keeping the previous one", "connector", cfg.ID, "error", err)
			return cur.rp, nil
		}
		return nil, err
	}
	c.party.Store(&discovered{rp: party, refreshAt: now.Add(cfg.DiscoveryRefresh)})
	return party, nil
}

// ID is the connector's id.
func (c *Connector) ID() string { return c.cfg.ID }

type pending struct {
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
	Next     string `json:"next"`
}

func (c *Connector) random() (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(c.deps.Rand, b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Start redirects to the provider's authorization endpoint.
func (c *Connector) Start(ctx context.Context, w http.ResponseWriter, r *http.Request, next string) error {
	nonce, err := c.random()
	if err != nil {
		return err
	}
	verifier, err := c.random()
	if err != nil {
		return err
	}
	state, err := c.states.Begin(ctx, c.cfg.ID, pending{Nonce: nonce, Verifier: verifier, Next: next})
	if err != nil {
		return err
	}
	federation.Bind(w, c.cfg.ID, state, r.TLS != nil || strings.HasPrefix(c.cfg.RedirectURL, "https:"))
	party, err := c.rp(ctx)
	if err != nil {
		return federation.Refuse(c.cfg.ID, federation.ReasonUnavailable, err)
	}
	opts := []rp.AuthURLOpt{rp.WithCodeChallenge(zoidc.NewSHACodeChallenge(verifier)), rp.AuthURLOpt(rp.WithURLParam("nonce", nonce))}
	for k, v := range c.cfg.AuthParams {
		opts = append(opts, rp.AuthURLOpt(rp.WithURLParam(k, v)))
	}
	http.Redirect(w, r, rp.AuthURL(state, party, opts...), http.StatusFound)
	return nil
}

// Callback exchanges the code and checks the ID token.
func (c *Connector) Callback(ctx context.Context, r *http.Request) (federation.Identity, string, error) {
	id := c.cfg.ID
	q := r.URL.Query()
	state := q.Get("state")
	var p pending
	if err := c.states.Take(ctx, id, state, &p); err != nil {
		return federation.Identity{}, "", err
	}
	// The callback is a top-level GET: the Lax binding cookie comes with
	// it, so it is always required here.
	if err := federation.CheckBinding(r, id, state, true); err != nil {
		return federation.Identity{}, "", err
	}
	if e := q.Get("error"); e != "" {
		return federation.Identity{}, "", federation.Refusef(id, federation.ReasonStatus, "provider error %s: %s", e, q.Get("error_description"))
	}
	code := q.Get("code")
	if code == "" {
		return federation.Identity{}, "", federation.Refusef(id, federation.ReasonMalformed, "no code in the callback")
	}
	party, err := c.rp(ctx)
	if err != nil {
		return federation.Identity{}, "", federation.Refuse(id, federation.ReasonUnavailable, err)
	}
	tokens, err := rp.CodeExchange[*zoidc.IDTokenClaims](context.WithValue(ctx, nonceKey{}, p.Nonce), code, party, rp.WithCodeVerifier(p.Verifier))
	if err != nil {
		reason := federation.ReasonToken
		switch {
		case unreachable(err):
			reason = federation.ReasonUnavailable
		case errors.Is(err, zoidc.ErrNonceInvalid):
			reason = federation.ReasonNonce
		case errors.Is(err, zoidc.ErrIssuerInvalid):
			reason = federation.ReasonIssuer
		case errors.Is(err, zoidc.ErrAudience):
			reason = federation.ReasonAudience
		case errors.Is(err, zoidc.ErrExpired), errors.Is(err, zoidc.ErrIatInFuture), errors.Is(err, zoidc.ErrIatToOld):
			reason = federation.ReasonExpired
		case errors.Is(err, zoidc.ErrSignatureUnsupportedAlg), errors.Is(err, zoidc.ErrSignatureInvalid), errors.Is(err, zoidc.ErrParse):
			reason = federation.ReasonSignature
		}
		return federation.Identity{}, "", federation.Refuse(id, reason, err)
	}
	claims, err := payload(tokens.IDToken)
	if err != nil {
		return federation.Identity{}, "", federation.Refuse(id, federation.ReasonMalformed, err)
	}
	if c.cfg.TenantID != "" && claims["tid"] != c.cfg.TenantID {
		return federation.Identity{}, "", federation.Refusef(id, federation.ReasonTenant, "tid %v is not the pinned tenant %s", claims["tid"], c.cfg.TenantID)
	}
	if c.cfg.Userinfo && party.UserinfoEndpoint() != "" {
		info, err := rp.Userinfo[*zoidc.UserInfo](ctx, tokens.AccessToken, tokens.TokenType, tokens.IDTokenClaims.GetSubject(), party)
		if err != nil {
			reason := federation.ReasonToken
			if unreachable(err) {
				reason = federation.ReasonUnavailable
			}
			return federation.Identity{}, "", federation.Refuse(id, reason, fmt.Errorf("userinfo: %w", err))
		}
		raw, _ := json.Marshal(info)
		var extra map[string]any
		if json.Unmarshal(raw, &extra) == nil {
			for k, v := range extra {
				if _, set := claims[k]; !set {
					claims[k] = v
				}
			}
		}
	}
	ident := federation.Identity{Connector: id, Issuer: tokens.IDTokenClaims.GetIssuer(), Attributes: flatten(claims),
		AuthTime: tokens.IDTokenClaims.GetAuthTime(),
		Logout:   federation.Logout{IDTokenHint: tokens.IDToken, URL: party.GetEndSessionEndpoint()}}
	if ident.AuthTime.IsZero() {
		ident.AuthTime = tokens.IDTokenClaims.GetIssuedAt()
	}
	ident.Subject = ident.Get(c.cfg.SubjectClaim)
	if ident.Subject == "" {
		return federation.Identity{}, "", federation.Refusef(id, federation.ReasonSubject, "no %s claim", c.cfg.SubjectClaim)
	}
	if err := c.groupsOverage(claims, &ident); err != nil {
		return federation.Identity{}, "", err
	}
	return ident, p.Next, nil
}

// groupsOverage applies Config.GroupsOverage. Entra ID replaces a list of
// more than 200 groups by a pointer to Microsoft Graph (_claim_names.groups
// with _claim_sources), or, in tokens from the implicit flow, by
// hasgroups: true. The groups are then unknown: never pass an empty list
// for "member of nothing".
func (c *Connector) groupsOverage(claims map[string]any, ident *federation.Identity) error {
	over := claims["hasgroups"] == true
	if names, ok := claims["_claim_names"].(map[string]any); ok {
		_, named := names["groups"]
		over = over || named
	}
	if !over {
		return nil
	}
	delete(ident.Attributes, "groups")
	delete(ident.Attributes, "hasgroups")
	switch c.cfg.GroupsOverage {
	case "refuse":
		return federation.Refusef(c.cfg.ID, federation.ReasonToken, "groups overage: the ID token names no groups (more than 200), and groups_overage is refuse")
	case "flag":
		ident.Attributes["groups_overage"] = []string{"true"}
		c.deps.Logger.Warn("groups overage: the ID token names no groups, they must be read from Microsoft Graph", "connector", c.cfg.ID, "subject", ident.Subject)
	}
	return nil
}

// unreachable says whether err is the provider not answering (refused,
// reset, timed out): the upstream is unavailable, its token was not bad.
func unreachable(err error) bool {
	var ue *url.Error
	return errors.As(err, &ue)
}

// payload decodes a (verified) JWT's claims.
func payload(jwt string) (map[string]any, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("ID token: not a JWS")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("ID token payload: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("ID token payload: %w", err)
	}
	return m, nil
}

// flatten keeps the string and string-list claims as attributes.
func flatten(claims map[string]any) map[string][]string {
	out := map[string][]string{}
	for k, v := range claims {
		switch v := v.(type) {
		case string:
			out[k] = []string{v}
		case bool:
			out[k] = []string{fmt.Sprint(v)}
		case float64:
			out[k] = []string{strings.TrimSuffix(fmt.Sprintf("%f", v), ".000000")}
		case []any:
			for _, x := range v {
				if s, ok := x.(string); ok {
					out[k] = append(out[k], s)
				}
			}
		}
	}
	return out
}
