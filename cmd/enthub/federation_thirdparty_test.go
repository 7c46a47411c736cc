package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enthub/enthub/config"
	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/federation/saml"
	"github.com/enthub/enthub/federation/simulate"
	"github.com/enthub/enthub/test/peer"
)

// The brokered journeys against third-party upstreams that share no code
// with enthub, through the real routes (chooser, /login/{id}, ACS or
// callback, persona, CAS): pysaml2's IdP playing EduConnect (encrypted
// assertion, EduConnect's attributes) and panva's oidc-provider playing
// Entra ID (tid, oid). A missing peer skips with a loud reason, and fails
// under CI (test/peer.Need).

const (
	pyEduConnectID = "educonnect-pysaml2"
	opEntraID      = "eduprovence-oidcprovider"
)

// pysaml2Upstream configures an EduConnect connector towards pysaml2's
// IdP, which releases the cast student's EduConnect attributes.
func pysaml2Upstream(t *testing.T) moreUpstreams {
	return func(ctx context.Context, public string, w *fedWorld) ([]config.Connector, error) {
		var ect config.Connector
		for _, c := range w.ups.Connectors {
			if c.ID == simulate.EduConnectID {
				ect = c
			}
		}
		fc := config.Connector{ID: pyEduConnectID, Type: "saml", Preset: "educonnect", Label: "EduConnect (pysaml2)", Profiles: []string{"eleve"},
			SAML: config.SAMLConnector{EntityID: public + "/federation/" + pyEduConnectID + "/saml/metadata",
				SigningKeys: ect.SAML.SigningKeys, EncryptionKeys: ect.SAML.EncryptionKeys, RequireEncryption: true}}
		// Our SP metadata does not depend on the IdP, and pysaml2 needs it
		// to start: a connector towards the simulation gives it first.
		placeholder := fc
		placeholder.SAML.IdPMetadataFile = ect.SAML.IdPMetadataFile
		pc, _, err := samlConnector(ctx, public, placeholder, slog.New(slog.DiscardHandler), w.store, http.DefaultClient)
		if err != nil {
			return nil, err
		}
		md, err := pc.(*saml.Connector).Metadata()
		if err != nil {
			return nil, err
		}
		users := map[string]map[string][]string{"eleve": {}, "parent": {}}
		for _, a := range simulate.EduConnectPerson(w.cast.Student, "Élève", "eleve2d", "").Attributes {
			users["eleve"][a.Name] = a.Values
		}
		for _, a := range simulate.EduConnectPerson(w.cast.Parent, "Parent", "resp2d", "").Attributes {
			users["parent"][a.Name] = a.Values
		}
		idp := peer.PySAML2IdP(t, peer.PySAML2Options{SPMetadata: md, Cipher: "aes256-gcm", Users: users})
		fc.SAML.IdPMetadataURL = idp.URL + "/metadata"
		return []config.Connector{fc}, nil
	}
}

// oidcProviderUpstream configures an Entra ID connector towards
// oidc-provider, releasing the cast agent's and student's Entra claims.
func oidcProviderUpstream(t *testing.T) moreUpstreams {
	return func(ctx context.Context, public string, w *fedWorld) ([]config.Connector, error) {
		secret := "third-party-secret-third-party-secret"
		agent := simulate.EntraClaims(w.cast.Agent, simulate.AgentEmail, "")
		student := simulate.EntraClaims(w.cast.Student, "", "employeeId")
		agent["tid"], student["tid"] = simulate.EntraTenant, simulate.EntraTenant
		op := peer.OIDCProvider(t, []peer.OIDCOPClient{{ID: "enthub-op", Secret: secret,
			RedirectURIs:           []string{public + "/federation/" + opEntraID + "/oidc/callback"},
			PostLogoutRedirectURIs: []string{public + "/federation/" + opEntraID + "/slo"}}},
			map[string]map[string]any{"agent": agent, "eleve": student})
		return []config.Connector{{ID: opEntraID, Type: "oidc", Preset: "entra", Label: "EduProvence (oidc-provider)",
			Profiles: []string{"collectivite", "eleve"},
			OIDC: config.OIDCConnector{Issuer: op.Issuer, ClientID: "enthub-op", ClientSecret: secret, TenantID: simulate.EntraTenant,
				AAFIDClaim: "employeeId"}}}, nil
	}
}

// viaConnector starts a CAS login and goes straight to the connector's
// login with the parked request, as the chooser's link does.
func (b *browser) viaConnector(w *fedWorld, id string) *browser {
	b.t.Helper()
	b.get(w.base + "/demo/cas/")
	at, _ := url.Parse(b.url)
	req := at.Query().Get("req")
	if req == "" {
		b.t.Fatalf("the CAS login did not park its request: %s", b.url)
	}
	return b.get(w.base + "/login/" + id + "?req=" + url.QueryEscape(req))
}

func testThirdPartyJourneys(t *testing.T, db func(t *testing.T) string) {
	// The peers start while enthub starts, in another goroutine, where a
	// missing peer could not skip: checked first.
	t.Run("pysaml2 playing EduConnect", func(t *testing.T) {
		peer.NeedPySAML2(t)
		w := startFedWorldWith(t, db(t), pysaml2Upstream(t))
		b := newBrowser(t)
		b.viaConnector(w, pyEduConnectID).expect("pysaml2 IdP (test peer)")
		b.submit("Se connecter", url.Values{"user": {"eleve"}}) // its Response, auto-posted
		b.submit("", nil)
		b.atCAS(w, w.cast.Student.Account.Login, "eleve", w.cast.Student.UAIs[0])
		waitEvent(t, w.store, "federation.link", func(e directory.Event) bool {
			return e.Outcome == "ok" && e.Details["connector"] == pyEduConnectID && e.Details["rule"] == "educonnect-vecteur-aaf"
		})

		// A parent of children in two schools: the persona page, then the
		// switch, as with the simulation.
		first := uaiOfProfile(w.cast.Parent, directory.ProfileParent, "")
		second := uaiOfProfile(w.cast.Parent, directory.ProfileParent, first)
		b = newBrowser(t)
		b.viaConnector(w, pyEduConnectID).submit("Se connecter", url.Values{"user": {"parent"}}).submit("", nil)
		b.expect("Choisissez votre profil", first, second)
		b.choosePersona(second)
		b.atCAS(w, w.cast.Parent.Account.Login, "parent", second)
		b.get(w.base + "/login/persona").choosePersona(first)
		b.atCAS(w, w.cast.Parent.Account.Login, "parent", first)

		// Single logout through pysaml2 and back.
		b.get(w.base+"/logout").submit("", nil)
		if !strings.HasPrefix(b.url, w.base+"/logout?done=1") {
			t.Fatalf("logout through pysaml2 ended at %s (%d):\n%s", b.url, b.code, b.body)
		}
		b.get(w.base + "/demo/cas/").expect("Je suis")
	})

	t.Run("oidc-provider playing Entra ID", func(t *testing.T) {
		peer.NeedOIDCProvider(t)
		w := startFedWorldWith(t, db(t), oidcProviderUpstream(t))
		login := func(t *testing.T, login string) *browser {
			b := newBrowser(t)
			b.viaConnector(w, opEntraID)
			for i := 0; i < 5 && !strings.HasPrefix(b.url, w.base); i++ { // its login, then its consent
				b.submit("", url.Values{"login": {login}, "password": {"any"}})
			}
			return b
		}
		t.Run("collectivité agent (upn) reaches CAS", func(t *testing.T) {
			login(t, "agent").atCAS(w, simulate.AgentLogin, "collectivite", w.cast.Agent.UAIs[0])
		})
		t.Run("student on a school device (employeeId) reaches CAS, logs out through the provider", func(t *testing.T) {
			b := login(t, "eleve")
			b.atCAS(w, w.cast.Student.Account.Login, "eleve", w.cast.Student.UAIs[0])
			b.get(w.base+"/logout").submit("", nil)
			for i := 0; i < 3 && !strings.HasPrefix(b.url, w.base); i++ { // the provider's "sign out?" form
				b.submit("", url.Values{"logout": {"yes"}})
			}
			if !strings.HasPrefix(b.url, w.base+"/logout?done=1") {
				t.Fatalf("logout through oidc-provider ended at %s (%d):\n%s", b.url, b.code, b.body)
			}
			b.get(w.base + "/demo/cas/").expect("Je suis")
		})
	})
}

func TestThirdPartyJourneysSQLite(t *testing.T) {
	testThirdPartyJourneys(t, func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "enthub.db") })
}

func TestThirdPartyJourneysPostgres(t *testing.T) {
	testThirdPartyJourneys(t, func(t *testing.T) string { return peer.Postgres(t) })
}
