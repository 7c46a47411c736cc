package idp

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/enthub/enthub/directory"
)

// intercept runs inside op's router (CORS and issuer already handled)
// and takes over the endpoints where op's answer is not what clients
// need: the token endpoint (see token), userinfo (RFC 6750 errors),
// end_session (state kept, errors on our page), discovery (what the
// registry can serve); it closes the device authorization endpoint,
// which no client can use.
func (f *oidcFront) intercept(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(context.WithValue(r.Context(), requestKey, r))
		switch r.URL.Path {
		case f.op.TokenEndpoint().Relative():
			f.token(basicChallenge(w, r), r, next)
		case f.op.IntrospectionEndpoint().Relative(), f.op.RevocationEndpoint().Relative():
			next.ServeHTTP(basicChallenge(w, r), r)
		case f.op.UserinfoEndpoint().Relative():
			f.userinfo(w, r)
		case f.op.EndSessionEndpoint().Relative():
			f.endSession(w, r)
		case oidc.DiscoveryEndpoint:
			f.discovery(w, r)
		case f.op.DeviceAuthorizationEndpoint().Relative():
			http.NotFound(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// --- 401 challenges -------------------------------------------------------------------

// challengeWriter adds a WWW-Authenticate challenge to a 401 that has
// none: HTTP requires one (RFC 9110 §15.5.2), and it is how a client
// tells which credentials failed.
type challengeWriter struct {
	http.ResponseWriter
	challenge string
}

func (c *challengeWriter) WriteHeader(code int) {
	if code == http.StatusUnauthorized && c.Header().Get("WWW-Authenticate") == "" {
		c.Header().Set("WWW-Authenticate", c.challenge)
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *challengeWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// basicChallenge answers a failed client authentication at the token,
// introspection and revocation endpoints with the Basic challenge
// (RFC 6749 §5.2).
func basicChallenge(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
	return &challengeWriter{ResponseWriter: w, challenge: `Basic realm="` + op.IssuerFromContext(r.Context()) + `"`}
}

// bearerError answers a userinfo request whose access token is missing
// or unusable (RFC 6750 §3, OIDC Core 5.3.3): without a token, the bare
// challenge; with one, error="invalid_token", which tells the client to
// refresh or log the user in again.
func bearerError(w http.ResponseWriter, r *http.Request, code, description string) {
	challenge := `Bearer realm="` + op.IssuerFromContext(r.Context()) + `"`
	if code == "" {
		w.Header().Set("WWW-Authenticate", challenge)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	// description is one of ours: no quote or backslash to escape.
	w.Header().Set("WWW-Authenticate", challenge+`, error="`+code+`", error_description="`+description+`"`)
	httphelper.MarshalJSONWithStatus(w, map[string]string{"error": code, "error_description": description}, http.StatusUnauthorized)
}

// --- userinfo -------------------------------------------------------------------------

// userinfo is op.Userinfo with the errors of RFC 6750: the token in the
// Authorization header or, as a form parameter, in a POST body (§2.1,
// §2.2); an unknown, forged, expired or revoked one is invalid_token.
func (f *oidcFront) userinfo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	token, err := op.ParseUserinfoRequest(r, f.op.Decoder())
	if err != nil || token == "" {
		bearerError(w, r, "", "")
		return
	}
	// Access tokens are opaque: op's encryption of "token id:subject".
	plain, err := f.op.Crypto().Decrypt(token)
	id, subject, ok := strings.Cut(plain, ":")
	if err != nil || !ok {
		bearerError(w, r, "invalid_token", "access token unknown")
		return
	}
	info := new(oidc.UserInfo)
	if err := f.op.Storage().SetUserinfoFromToken(r.Context(), info, id, subject, r.Header.Get("Origin")); err != nil {
		var gone *tokenGoneError
		if !errors.As(err, &gone) {
			f.p.log.Error("userinfo", "err", err)
			httphelper.MarshalJSONWithStatus(w, oidc.ErrServerError(), http.StatusInternalServerError)
			return
		}
		bearerError(w, r, "invalid_token", gone.reason)
		return
	}
	httphelper.MarshalJSON(w, info)
}

// tokenGoneError is an access token the store no longer honours.
type tokenGoneError struct{ reason string }

func (e *tokenGoneError) Error() string { return e.reason }

// --- end_session (RP-initiated logout) ------------------------------------------------

// endSession is op.EndSession, with two differences. A client's
// post_logout_redirect_uri, once op checked it against the client's
// list, is followed with the client's state added (RP-Initiated Logout
// 1.0 §3); op's check is the only one, since state changes the URI.
// And a request that cannot go back to the client (no such client, a
// bad id_token_hint, an unregistered URI) gets our page: a person reads
// it, not the client.
func (f *oidcFront) endSession(w http.ResponseWriter, r *http.Request) {
	p := f.p
	req, err := op.ParseEndSessionRequest(r, f.op.Decoder())
	if err != nil {
		p.message(w, r, MessageView{Status: http.StatusBadRequest, Code: MsgBadRequest, Detail: "requête de déconnexion illisible"})
		return
	}
	if req.ClientID != "" && p.reg().byClient[req.ClientID] == nil {
		p.message(w, r, MessageView{Status: http.StatusBadRequest, Code: MsgUnknownService, Detail: req.ClientID})
		return
	}
	session, err := op.ValidateEndSessionRequest(r.Context(), req, f.op)
	if svc := p.reg().byClient[req.ClientID]; err == nil && svc != nil && req.PostLogoutRedirectURI != "" &&
		!loopbackRegistered(&oidcClient{svc: svc}, svc.OIDC.PostLogoutRedirectURIs, req.PostLogoutRedirectURI) {
		err = oidc.ErrInvalidRequest().WithDescription("post_logout_redirect_uri invalid")
	}
	if err != nil {
		v := MessageView{Status: http.StatusBadRequest, Code: MsgBadRequest}
		var e *oidc.Error
		errors.As(err, &e)
		switch {
		case p.reg().byClient[req.ClientID] == nil: // the id_token_hint's client is gone
			v.Code, v.Detail = MsgUnknownService, req.ClientID
		case e != nil && strings.HasPrefix(e.Description, "post_logout_redirect_uri"):
			v.Detail = "post_logout_redirect_uri non déclarée pour ce client : " + req.PostLogoutRedirectURI
		case e != nil && strings.HasPrefix(e.Description, "id_token_hint"):
			v.Detail = "id_token_hint invalide"
		case e != nil && strings.HasPrefix(e.Description, "client_id"):
			v.Detail = "client_id ne correspond pas à l'id_token_hint"
		default:
			v.Detail = "requête de déconnexion refusée"
		}
		p.message(w, r, v)
		return
	}
	var svc *Service
	redirect := ""
	if session.ClientID != "" {
		svc = p.reg().byClient[session.ClientID]
		if req.PostLogoutRedirectURI != "" {
			redirect = session.RedirectURI // checked by op, with state
		}
	}
	id, err := p.park(r.Context(), "logout", svc, false, logoutData{Redirect: redirect})
	if err != nil {
		p.log.Error("park logout", "err", err)
		p.message(w, r, MessageView{Status: http.StatusServiceUnavailable, Code: MsgServerError})
		return
	}
	// /logout ends the SSO session (clearing its cookie) and goes on.
	http.Redirect(w, r, p.url("/logout?req="+url.QueryEscape(id)), http.StatusFound)
}

// loopbackRegistered completes op's match of a native client's loopback
// redirect, which compares only path and query: RFC 8252 §7.3 lets the
// port vary, not the host (127.0.0.1 registered does not admit localhost
// or [::1]).
func loopbackRegistered(c op.Client, registered []string, uri string) bool {
	u, ok := op.HTTPLoopbackOrLocalhost(uri)
	if !ok || c.ApplicationType() != op.ApplicationTypeNative || slices.Contains(registered, uri) {
		return true // op's exact match applies
	}
	for _, r := range registered {
		ru, ok := op.HTTPLoopbackOrLocalhost(r)
		if ok && ru.Scheme == u.Scheme && ru.Hostname() == u.Hostname() && ru.Path == u.Path && ru.RawQuery == u.RawQuery {
			return true
		}
	}
	return false
}

// --- errors shown to a person ---------------------------------------------------------

// errorPage holds back the plain-text error op writes when it cannot
// send an error to the client (the request names no usable redirect), so
// that the person in front of the browser gets our page instead.
type errorPage struct {
	http.ResponseWriter
	held bool
	text bytes.Buffer
}

func (e *errorPage) WriteHeader(code int) {
	if code >= 400 && strings.HasPrefix(e.Header().Get("Content-Type"), "text/plain") {
		e.held = true
		return
	}
	e.ResponseWriter.WriteHeader(code)
}

func (e *errorPage) Write(b []byte) (int, error) {
	if e.held {
		return e.text.Write(b)
	}
	return e.ResponseWriter.Write(b)
}

func (e *errorPage) Unwrap() http.ResponseWriter { return e.ResponseWriter }

// serveAuthorize lets op answer an authorization request or its callback;
// an error op could not send to the client becomes our page.
func (f *oidcFront) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	e := &errorPage{ResponseWriter: w}
	f.op.ServeHTTP(e, r.WithContext(context.WithValue(r.Context(), requestKey, r)))
	if !e.held {
		return
	}
	detail := strings.TrimSpace(e.text.String())
	f.p.audit(r.Context(), directory.Event{Type: EventServiceRefused, Outcome: "refused", Reason: "authorization request: " + truncate(detail, 200), Remote: remoteIP(r)})
	f.p.message(w, r, MessageView{Status: http.StatusBadRequest, Code: MsgBadRequest, Detail: "requête d'autorisation refusée (" + truncate(detail, 200) + ")"})
}

// --- discovery ------------------------------------------------------------------------

// idTokenClaims are the claims op puts in every ID token, whatever the
// client's release policy.
var idTokenClaims = []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr", "azp", "client_id", "at_hash", "c_hash", "sid"}

// discovery publishes what the registry in use can serve, derived from
// it: op's document lists features no client here can use (implicit and
// JWT-bearer grants, id_token response types, a device endpoint) and
// claims no policy releases.
func (f *oidcFront) discovery(w http.ResponseWriter, r *http.Request) {
	d := op.CreateDiscoveryConfig(r.Context(), f.op, f.op.Storage())
	d.DeviceAuthorizationEndpoint, d.CheckSessionIframe = "", ""
	d.ResponseTypesSupported = []string{string(oidc.ResponseTypeCode)}
	d.ResponseModesSupported = []string{string(oidc.ResponseModeQuery)}
	d.CodeChallengeMethodsSupported = []oidc.CodeChallengeMethod{oidc.CodeChallengeMethodS256}
	d.RequestObjectSigningAlgValuesSupported = nil
	// The login page's language comes from the browser (and its switch),
	// not from ui_locales: not advertised.
	d.UILocalesSupported = nil

	scopes := []string{oidc.ScopeOpenID}
	claims := slices.Clone(idTokenClaims)
	var subjects []string
	var auth []oidc.AuthMethod
	refresh := false
	for _, svc := range f.p.reg().list {
		if svc.Protocol != ProtocolOIDC {
			continue
		}
		c := &oidcClient{svc: svc}
		for _, s := range []string{oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeOfflineAccess} {
			if c.IsScopeAllowed(s) {
				scopes = append(scopes, s)
			}
		}
		scopes = append(scopes, svc.OIDC.Scopes...)
		refresh = refresh || c.IsScopeAllowed(oidc.ScopeOfflineAccess)
		for _, a := range svc.Release.Attributes {
			if a.Scope == "" || c.IsScopeAllowed(a.Scope) {
				claims = append(claims, a.Name)
			}
		}
		if svc.Release.Principal == "pairwise" {
			subjects = append(subjects, "pairwise")
		} else {
			subjects = append(subjects, "public")
		}
		if svc.OIDC.ClientSecret == "" {
			auth = append(auth, oidc.AuthMethodNone)
		} else {
			auth = append(auth, oidc.AuthMethodBasic, oidc.AuthMethodPost)
		}
	}
	d.ScopesSupported = sortedSet(scopes)
	d.ClaimsSupported = sortedSet(claims)
	d.SubjectTypesSupported = sortedSet(subjects)
	if len(d.SubjectTypesSupported) == 0 {
		d.SubjectTypesSupported = []string{"public"} // required even with no client yet
	}
	d.GrantTypesSupported = []oidc.GrantType{oidc.GrantTypeCode}
	if refresh {
		d.GrantTypesSupported = append(d.GrantTypesSupported, oidc.GrantTypeRefreshToken)
	}
	d.TokenEndpointAuthMethodsSupported = sortedSet(auth)
	d.RevocationEndpointAuthMethodsSupported = d.TokenEndpointAuthMethodsSupported
	// Introspection takes a client's own secret, in HTTP Basic only (op
	// reads no other): only confidential clients can call it.
	d.IntrospectionEndpointAuthMethodsSupported = nil
	if slices.Contains(d.TokenEndpointAuthMethodsSupported, oidc.AuthMethodBasic) {
		d.IntrospectionEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic}
	} else {
		d.IntrospectionEndpoint = ""
	}
	op.Discover(w, d)
}

func sortedSet[T ~string](s []T) []T {
	slices.Sort(s)
	return slices.Compact(s)
}
