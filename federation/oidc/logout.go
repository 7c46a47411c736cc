package oidc

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/enthub/enthub/federation"
)

// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): the browser
// goes to the provider's end_session_endpoint with the ID token as
// id_token_hint; with Config.PostLogoutRedirectURL the provider sends it
// back there with our state, which HandleLogout checks (one use, this
// connector, not expired) before going on to next. Provider-initiated
// (front- or back-channel) logout is not implemented: Entra ID and the
// Shibboleth OIDC fronts of the académies do not need it for a broker that
// keeps its own session.

var _ federation.Logouter = (*Connector)(nil)

// logoutStates suffixes the connector id of logout states, so that a
// login's state is never accepted at the logout endpoint, nor the reverse.
const logoutStates = "/logout"

type logoutPending struct {
	Next string `json:"next"`
}

// StartLogout sends the browser to the end-session endpoint; without one,
// to next.
func (c *Connector) StartLogout(ctx context.Context, w http.ResponseWriter, r *http.Request, lo federation.Logout, next string) error {
	id := c.cfg.ID
	party, err := c.rp(ctx)
	if err != nil {
		return federation.Refuse(id, federation.ReasonUnavailable, err)
	}
	end := party.GetEndSessionEndpoint()
	if end == "" {
		if next != "" {
			http.Redirect(w, r, next, http.StatusFound)
		}
		return nil
	}
	u, err := url.Parse(end)
	if err != nil {
		return fmt.Errorf("connector %s: end_session_endpoint %q: %w", id, end, err)
	}
	q := u.Query()
	q.Set("client_id", c.cfg.ClientID)
	if lo.IDTokenHint != "" {
		q.Set("id_token_hint", lo.IDTokenHint)
	}
	if c.cfg.PostLogoutRedirectURL != "" {
		state, err := c.states.Begin(ctx, id+logoutStates, logoutPending{Next: next})
		if err != nil {
			return err
		}
		q.Set("post_logout_redirect_uri", c.cfg.PostLogoutRedirectURL)
		q.Set("state", state)
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
	return nil
}

// HandleLogout is the post-logout redirect: its state must be one
// StartLogout began (end is never called: the provider does not log people
// out of enthub through this connector).
func (c *Connector) HandleLogout(ctx context.Context, w http.ResponseWriter, r *http.Request, end func(ctx context.Context, lo federation.Logout) error) (string, error) {
	var p logoutPending
	if err := c.states.Take(ctx, c.cfg.ID+logoutStates, r.URL.Query().Get("state"), &p); err != nil {
		return "", err
	}
	return p.Next, nil
}
