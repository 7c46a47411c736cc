package interop

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/enthub/enthub/federation"
	"github.com/enthub/enthub/federation/oidc"
	"github.com/enthub/enthub/federation/preset"
	"github.com/enthub/enthub/test/peer"
)

const (
	tenant     = "9188040d-6c67-4c5b-b112-36a304b66dad"
	callback   = "https://ent.test/federation/eduprovence/callback"
	postLogout = "https://ent.test/federation/eduprovence/logout"
)

func entraAgainstOIDCProvider(t *testing.T, edit func(*oidc.Config)) (*oidc.Connector, *peer.OIDCOP) {
	t.Helper()
	op := peer.OIDCProvider(t, []peer.OIDCOPClient{{ID: "ent-client", Secret: "s3cret-s3cret-s3cret-s3cret-s3cret",
		RedirectURIs: []string{callback}, PostLogoutRedirectURIs: []string{postLogout}}},
		map[string]map[string]any{
			"agent.cantine": {"oid": "00000000-0000-0000-0000-0000000000a1", "tid": tenant, "upn": "agent.cantine@eduprovence.test",
				"name": "Agent Cantine", "email": "agent.cantine@eduprovence.test", "groups": []string{"collectivite-cuisine"}},
		})
	cfg, _ := preset.EntraID(tenant, "ent-client", "s3cret-s3cret-s3cret-s3cret-s3cret", callback, "")
	cfg.ID, cfg.Issuer, cfg.PostLogoutRedirectURL = "eduprovence", op.Issuer, postLogout
	if edit != nil {
		edit(&cfg)
	}
	c, err := oidc.New(context.Background(), cfg, deps(store(t)))
	if err != nil {
		t.Fatalf("connector towards oidc-provider: %v", err)
	}
	return c, op
}

// follow plays the browser from u through the provider's redirects and
// forms (login, fill sets the fields) until a redirect leaves for prefix
// (our callback); it returns that URL and the forms it submitted.
func follow(t *testing.T, b *http.Client, u *url.URL, prefix string, fill map[string]string) (*url.URL, []string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u.String(), nil)
	var forms []string
	for i := 0; i < 20; i++ {
		resp, err := b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			next, err := req.URL.Parse(resp.Header.Get("Location"))
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(next.String(), prefix) {
				return next, forms
			}
			req, _ = http.NewRequest("GET", next.String(), nil)
		case resp.StatusCode == http.StatusOK:
			f, err := peer.ParseForm(req.URL, body)
			if err != nil {
				t.Fatal(err)
			}
			forms = append(forms, f.Action.Path)
			for k, v := range fill {
				f.Values.Set(k, v)
			}
			if req, err = f.Request(); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("%s %s: %s\n%s", req.Method, req.URL, resp.Status, body)
		}
	}
	t.Fatalf("no redirect to %s after 20 steps", prefix)
	return nil, nil
}

func oidcLogin(t *testing.T, c *oidc.Connector, b *http.Client, login string) (federation.Identity, string, error) {
	id, next, _, err := oidcLoginForms(t, c, b, login)
	return id, next, err
}

// oidcLoginForms is oidcLogin, also returning the provider's forms filled.
func oidcLoginForms(t *testing.T, c *oidc.Connector, b *http.Client, login string) (federation.Identity, string, []string, error) {
	t.Helper()
	w := httptest.NewRecorder()
	if err := c.Start(context.Background(), w, httptest.NewRequest("GET", "https://ent.test/login/eduprovence", nil), "/portail"); err != nil {
		t.Fatal(err)
	}
	auth, _ := url.Parse(w.Header().Get("Location"))
	back, forms := follow(t, b, auth, callback, map[string]string{"login": login, "password": "any"})
	cb := httptest.NewRequest("GET", back.String(), nil)
	for _, ck := range w.Result().Cookies() {
		cb.AddCookie(ck)
	}
	id, next, err := c.Callback(context.Background(), cb)
	return id, next, forms, err
}

func TestEntraLikeLoginAndLogoutThroughOIDCProvider(t *testing.T) {
	c, op := entraAgainstOIDCProvider(t, nil)
	b := peer.NewBrowser()
	id, next, forms, err := oidcLoginForms(t, c, b, "agent.cantine")
	if err != nil {
		t.Fatalf("login through oidc-provider: %v", err)
	}
	if len(forms) != 1 || !strings.HasPrefix(forms[0], "/interaction/") {
		t.Errorf("forms filled at the provider: %v, want its login form", forms)
	}
	// While the provider's session lasts, a second login asks nothing.
	if _, _, forms, err := oidcLoginForms(t, c, b, "agent.cantine"); err != nil || len(forms) != 0 {
		t.Fatalf("second login: forms %v, %v", forms, err)
	}
	if next != "/portail" || id.Issuer != op.Issuer || id.Subject != "00000000-0000-0000-0000-0000000000a1" || id.Get("tid") != tenant ||
		id.Get("upn") != "agent.cantine@eduprovence.test" || id.Get("groups") != "collectivite-cuisine" {
		t.Errorf("identity = %+v, next %q", id, next)
	}
	if id.Logout.IDTokenHint == "" || !strings.HasPrefix(id.Logout.URL, op.Issuer+"/session/end") {
		t.Errorf("logout = %+v", id.Logout)
	}

	// RP-initiated logout: the provider confirms (its form), ends its
	// session and sends the browser back with our state.
	w := httptest.NewRecorder()
	if err := c.StartLogout(context.Background(), w, httptest.NewRequest("GET", "https://ent.test/logout", nil), id.Logout, "/au-revoir"); err != nil {
		t.Fatal(err)
	}
	end, _ := url.Parse(w.Header().Get("Location"))
	back, _ := follow(t, b, end, postLogout, map[string]string{"logout": "yes"})
	r := httptest.NewRequest("GET", back.String(), nil)
	got, err := c.HandleLogout(context.Background(), httptest.NewRecorder(), r, nil)
	if err != nil || got != "/au-revoir" {
		t.Fatalf("back from the provider's logout: %q, %v (%s)", got, err, back)
	}
	if _, err := c.HandleLogout(context.Background(), httptest.NewRecorder(), httptest.NewRequest("GET", back.String(), nil), nil); federation.ReasonOf(err) != federation.ReasonState {
		t.Errorf("the same logout return again = %v, want a state refusal", err)
	}
	// The provider's session is over: a new login shows its login form.
	if _, _, forms, err := oidcLoginForms(t, c, b, "agent.cantine"); err != nil || len(forms) != 1 {
		t.Errorf("login after logout: forms %v, %v", forms, err)
	}
}

func TestOIDCProviderTokenOfAnotherTenantRefused(t *testing.T) {
	c, _ := entraAgainstOIDCProvider(t, func(cfg *oidc.Config) { cfg.TenantID = "72f988bf-86f1-41af-91ab-2d7cd011db47" })
	_, _, err := oidcLogin(t, c, peer.NewBrowser(), "agent.cantine")
	if federation.ReasonOf(err) != federation.ReasonTenant {
		t.Errorf("token of another tenant = %v, want a tenant refusal", err)
	}
}
