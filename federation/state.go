package federation

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/enthub/enthub/directory"
)

// States keeps the logins in progress of connectors in the shared store.
// The id of a state is what travels through the upstream (SAML RelayState,
// OIDC state): 256 random bits, used once.
type States struct {
	Store directory.FederationStore
	Now   func() time.Time
	Rand  io.Reader
	// TTL is how long a login may take upstream (default 15 minutes: a
	// student may have to find their password).
	TTL time.Duration
}

// Begin records data for a new login of connector and returns the state id.
func (s States) Begin(ctx context.Context, connector string, data any) (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(s.Rand, b[:]); err != nil {
		return "", fmt.Errorf("connector %s: state: %w", connector, err)
	}
	id := base64.RawURLEncoding.EncodeToString(b[:])
	raw, err := json.Marshal(data)
	if err != nil {
		return "", fmt.Errorf("connector %s: state: %w", connector, err)
	}
	ttl := s.TTL
	if ttl <= 0 {
		ttl = 15 * time.Minute
	}
	now := s.Now()
	if err := s.Store.PutLoginState(ctx, directory.LoginState{ID: id, Connector: connector, Data: raw, CreatedAt: now, ExpiresAt: now.Add(ttl)}); err != nil {
		return "", fmt.Errorf("connector %s: %w", connector, err)
	}
	return id, nil
}

// Take consumes the state id of connector into data. An unknown, expired,
// already used state, or one of another connector, is a ReasonState
// refusal.
func (s States) Take(ctx context.Context, connector, id string, data any) error {
	if id == "" {
		return Refusef(connector, ReasonState, "no state in the answer")
	}
	st, err := s.Store.TakeLoginState(ctx, id, s.Now())
	if errors.Is(err, directory.ErrNotFound) {
		return Refusef(connector, ReasonState, "state %.12s…: unknown, expired or already used", id)
	}
	if err != nil {
		return Refuse(connector, ReasonUnavailable, err)
	}
	if st.Connector != connector {
		return Refusef(connector, ReasonState, "state %.12s… belongs to connector %s", id, st.Connector)
	}
	if err := json.Unmarshal(st.Data, data); err != nil {
		return Refuse(connector, ReasonState, fmt.Errorf("state %.12s…: %w", id, err))
	}
	return nil
}

// bindingCookie names the cookie that ties a login in progress to the
// browser that started it.
func bindingCookie(connector string) string { return "enthub_fed_" + connector }

// Bind ties state id to the browser: a callback carrying a state that this
// browser did not start (login CSRF: an attacker's own login pushed into the
// victim's browser) is refused by CheckBinding. The SAML POST binding
// arrives as a cross-site POST, which only carries SameSite=None cookies,
// and those need Secure: over plain HTTP (the demo) the cookie is Lax and
// the SAML callback cannot require it.
func Bind(w http.ResponseWriter, connector, id string, secure bool) {
	c := &http.Cookie{Name: bindingCookie(connector), Value: id, Path: "/", HttpOnly: true, MaxAge: 900, Secure: secure, SameSite: http.SameSiteLaxMode}
	if secure {
		c.SameSite = http.SameSiteNoneMode
	}
	http.SetCookie(w, c)
}

// CheckBinding refuses a callback whose state is not the one this browser
// started. A missing cookie is refused only when required.
func CheckBinding(r *http.Request, connector, id string, required bool) error {
	c, err := r.Cookie(bindingCookie(connector))
	if err != nil {
		if required {
			return Refusef(connector, ReasonState, "the browser did not start this login (no binding cookie)")
		}
		return nil
	}
	if subtle.ConstantTimeCompare([]byte(c.Value), []byte(id)) != 1 {
		return Refusef(connector, ReasonState, "the browser started another login than state %.12s…", id)
	}
	return nil
}

// ClearBinding removes the binding cookie once the login is done.
func ClearBinding(w http.ResponseWriter, connector string) {
	http.SetCookie(w, &http.Cookie{Name: bindingCookie(connector), Value: "", Path: "/", MaxAge: -1, HttpOnly: true})
}
