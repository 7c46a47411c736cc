package e2etest

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/idp/demorp"
)

// TestDemoRelyingPartiesShowWhatTheyReceived runs the `enthub demo` relying
// parties: one login as demo.invite, then the CAS, OIDC and SAML demos
// (and the GAR-style IdP-initiated one) each show what they received.
func TestDemoRelyingPartiesShowWhatTheyReceived(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d, err := demorp.New("http://"+ln.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	h := startHub(t, ln, d.Services(), d.Routes)
	if err := demorp.SeedGuest(context.Background(), h.store, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := demorp.SeedGuest(context.Background(), h.store, time.Now()); err != nil {
		t.Fatalf("seeding twice: %v", err)
	}
	b := newBrowser(t)
	b.login, b.password = demorp.GuestLogin, demorp.GuestPassword
	for _, tc := range []struct{ path, want string }{
		{"/demo/cas/", "cas:uai"},
		{"/demo/oidc/", "id_token.given_name"},
		{"/demo/oidc/", " UTC ("}, // iat, exp, auth_time as dates, not 1.79e+09
		{"/demo/saml/", "GARPersonIdentifiant"},
		{"/saml/idp/sso?providerId=" + h.url + "/demo/saml/metadata&RelayState=" + h.url + "/demo/saml/", "RelayState"},
	} {
		resp, page := b.visit(h.url + tc.path)
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, tc.want) || strings.Contains(page, "Erreur") {
			t.Fatalf("%s: %d at %s\n%s", tc.path, resp.StatusCode, resp.Request.URL, page)
		}
	}
	_, page := b.visit(h.url + "/demo/")
	if !strings.Contains(page, "demo.invite") {
		t.Fatalf("start page:\n%s", page)
	}
}
