package oidc

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/enthub/enthub/federation"
)

const postLogout = "https://ent.test/federation/eduprovence/logout"

func (h *harness) startLogout(lo federation.Logout, next string) *url.URL {
	h.t.Helper()
	w := httptest.NewRecorder()
	if err := h.c.StartLogout(context.Background(), w, httptest.NewRequest("GET", "https://ent.test/logout", nil), lo, next); err != nil {
		h.t.Fatal(err)
	}
	u, err := url.Parse(w.Header().Get("Location"))
	if err != nil || w.Code != http.StatusFound {
		h.t.Fatalf("StartLogout answered %d %q", w.Code, w.Header().Get("Location"))
	}
	return u
}

func (h *harness) returnFromLogout(state string) (string, error) {
	r := httptest.NewRequest("GET", postLogout+"?state="+url.QueryEscape(state), nil)
	return h.c.HandleLogout(context.Background(), httptest.NewRecorder(), r, func(context.Context, federation.Logout) error {
		h.t.Error("end called on a post-logout redirect")
		return nil
	})
}

func TestRPInitiatedLogout(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.PostLogoutRedirectURL = postLogout })
	id, _, err := h.login("agent.cantine", nil)
	if err != nil {
		t.Fatal(err)
	}
	u := h.startLogout(id.Logout, "/au-revoir")
	q := u.Query()
	if !strings.HasPrefix(u.String(), h.op.Issuer+"/logout?") || q.Get("id_token_hint") != id.Logout.IDTokenHint || q.Get("id_token_hint") == "" ||
		q.Get("post_logout_redirect_uri") != postLogout || q.Get("client_id") != "ent-client" || q.Get("state") == "" {
		t.Fatalf("end-session request = %s", u)
	}
	next, err := h.returnFromLogout(q.Get("state"))
	if err != nil || next != "/au-revoir" {
		t.Fatalf("HandleLogout = %q, %v", next, err)
	}
	if _, err := h.returnFromLogout(q.Get("state")); federation.ReasonOf(err) != federation.ReasonState {
		t.Errorf("replayed logout state = %v, want a state refusal", err)
	}
}

func TestRefusesUnknownLogoutState(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.PostLogoutRedirectURL = postLogout })
	for name, state := range map[string]string{"none": "", "unknown": "bm90LWEtc3RhdGU"} {
		if _, err := h.returnFromLogout(state); federation.ReasonOf(err) != federation.ReasonState {
			t.Errorf("%s state = %v, want a state refusal", name, err)
		}
	}
	// A login's state is not a logout's.
	w := httptest.NewRecorder()
	if err := h.c.Start(context.Background(), w, httptest.NewRequest("GET", "https://ent.test/login", nil), "/portail"); err != nil {
		t.Fatal(err)
	}
	loc, _ := url.Parse(w.Header().Get("Location"))
	if _, err := h.returnFromLogout(loc.Query().Get("state")); federation.ReasonOf(err) != federation.ReasonState {
		t.Errorf("login state at the logout endpoint = %v, want a state refusal", err)
	}
}

func TestLogoutWithoutPostLogoutRedirect(t *testing.T) {
	h := newHarness(t, nil)
	u := h.startLogout(federation.Logout{IDTokenHint: "x.y.z"}, "/au-revoir")
	if q := u.Query(); q.Get("state") != "" || q.Get("post_logout_redirect_uri") != "" || q.Get("id_token_hint") != "x.y.z" {
		t.Errorf("end-session request = %s", u)
	}
}
