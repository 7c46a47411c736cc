package idp

import (
	"context"
	"slices"
	"testing"

	"github.com/enthub/enthub/directory/spaces"
)

// A service releasing account.spaces (a Nextcloud of the Espace ATI)
// receives the codes of the member's spaces, one CAS attribute value each,
// and nothing for an account in none: what it authorizes on.
func TestCASReleasesTheAccountsSpaces(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Services[0].Release.Attributes = append(c.Services[0].Release.Attributes, AttributeRule{Source: "account.spaces", Name: "espaces"})
	})
	ctx := context.Background()
	svc := &spaces.Service{Store: f.store, Now: f.clock.Now}
	admin := spaces.Actor{ID: "cli:test"}
	for _, code := range []string{"espace-cuisine", "espace-ati", "espace-vide"} {
		if _, err := svc.Create(ctx, admin, code, code, ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, code := range []string{"espace-cuisine", "espace-ati"} {
		if err := svc.AddMember(ctx, admin, code, f.ids["eleve.account"]); err != nil {
			t.Fatal(err)
		}
	}
	released := func() []string {
		t.Helper()
		cr := f.validate("/cas/p3/serviceValidate", pronoteURL, f.casTicket(f.browser(), pronoteURL, ""), "")
		if cr.Success == nil {
			t.Fatalf("validation failed: %+v", cr)
		}
		var out []string
		for _, a := range cr.Success.Attributes.Any {
			if a.XMLName.Local == "espaces" {
				out = append(out, a.Value)
			}
		}
		return out
	}
	if got := released(); !slices.Equal(got, []string{"espace-ati", "espace-cuisine"}) {
		t.Errorf("espaces = %q, want the member's two spaces by code", got)
	}
	for _, code := range []string{"espace-cuisine", "espace-ati"} {
		if err := svc.RemoveMember(ctx, admin, code, f.ids["eleve.account"]); err != nil {
			t.Fatal(err)
		}
	}
	if got := released(); len(got) != 0 {
		t.Errorf("espaces = %q after leaving every space, want no attribute", got)
	}
}
