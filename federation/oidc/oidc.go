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
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	"github.com/enthub/enthub/directory"
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

// Deps are what a connector is given rather than reaching for globals.
type Deps struct {
	Store      directory.FederationStore
	Now        func() time.Time
	Rand       io.Reader
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Connector is an OIDC relying party towards one provider.
type Connector struct {
	cfg    Config
	deps   Deps
	rp     rp.RelyingParty
	states federation.States
}

var _ federation.Connector = (*Connector)(nil)

type nonceKey struct{}

// New validates cfg and reads the provider's discovery document (its issuer
// must be cfg.Issuer exactly).
func New(ctx context.Context, cfg Config, deps Deps) (*Connector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.HTTPClient == nil {
		deps.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	party, err := rp.NewRelyingPartyOIDC(ctx, cfg.Issuer, cfg.ClientID, cfg.ClientSecret, cfg.RedirectURL, cfg.Scopes,
		rp.WithHTTPClient(deps.HTTPClient),
		rp.WithAuthStyle(authStyles[cfg.TokenAuthMethod]),
		rp.WithVerifierOpts(
			rp.WithSupportedSigningAlgorithms(cfg.Algorithms...),
			rp.WithIssuedAtOffset(cfg.ClockSkew),
			rp.WithNonce(func(ctx context.Context) string { n, _ := ctx.Value(nonceKey{}).(string); return n }),
		))
	if err != nil {
		return nil, fmt.Errorf("connector %q: issuer %s: discovery: %w", cfg.ID, cfg.Issuer, err)
	}
	return &Connector{cfg: cfg, deps: deps, rp: party, states: federation.States{Store: deps.Store, Now: deps.Now, Rand: deps.Rand}}, nil
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
	opts := []rp.AuthURLOpt{rp.WithCodeChallenge(zoidc.NewSHACodeChallenge(verifier)), rp.AuthURLOpt(rp.WithURLParam("nonce", nonce))}
	for k, v := range c.cfg.AuthParams {
		opts = append(opts, rp.AuthURLOpt(rp.WithURLParam(k, v)))
	}
	http.Redirect(w, r, rp.AuthURL(state, c.rp, opts...), http.StatusFound)
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
	tokens, err := rp.CodeExchange[*zoidc.IDTokenClaims](context.WithValue(ctx, nonceKey{}, p.Nonce), code, c.rp, rp.WithCodeVerifier(p.Verifier))
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
	if c.cfg.Userinfo && c.rp.UserinfoEndpoint() != "" {
		info, err := rp.Userinfo[*zoidc.UserInfo](ctx, tokens.AccessToken, tokens.TokenType, tokens.IDTokenClaims.GetSubject(), c.rp)
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
		Logout:   federation.Logout{IDTokenHint: tokens.IDToken, URL: c.rp.GetEndSessionEndpoint()}}
	if ident.AuthTime.IsZero() {
		ident.AuthTime = tokens.IDTokenClaims.GetIssuedAt()
	}
	ident.Subject = ident.Get(c.cfg.SubjectClaim)
	if ident.Subject == "" {
		return federation.Identity{}, "", federation.Refusef(id, federation.ReasonSubject, "no %s claim", c.cfg.SubjectClaim)
	}
	// Entra ID replaces a list of more than 200 groups by a pointer to the
	// Graph API (_claim_names.groups). The groups are then unknown: say so
	// rather than pass an empty list for "member of nothing".
	if names, ok := claims["_claim_names"].(map[string]any); ok {
		if _, over := names["groups"]; over {
			ident.Attributes["groups_overage"] = []string{"true"}
			c.deps.Logger.Warn("groups overage: the ID token names no groups, they must be read from Microsoft Graph", "connector", id, "subject", ident.Subject)
		}
	}
	return ident, p.Next, nil
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
