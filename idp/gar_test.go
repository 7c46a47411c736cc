package idp

import (
	"bytes"
	"context"
	"encoding/xml"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crewjam/saml"
	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/gar"
)

var garSecret = bytes.Repeat([]byte("g"), 32)

// garFixture is an IdP whose GAR profile points at sp, the GAR's schools
// being schools.
func garFixture(t *testing.T, sp *saml.ServiceProvider, schools ...string) *fixture {
	project := gar.Project{IDEnt: "ENT-45-TEST", Schools: schools, Secret: garSecret}
	svc := samlService(sp, func(s *Service) {
		s.ID, s.Name = "gar", "Médiacentre (GAR)"
		s.SAML.IdPInitiated = true
		s.SAML.RelayStates = []string{`^https://sp\.example\.org/app/.*$`}
		s.SAML.DefaultRelayState = "https://sp.example.org/app/ressources"
		s.Release = ReleasePolicy{Attributes: []AttributeRule{
			{Source: "gar.id_ent", Name: "idEnt", NameFormat: "basic"},
			{Source: "gar.person_id", Name: "GARPersonIdentifiant", NameFormat: "basic"},
			{Source: "persona.uai", Name: "GARStructureUAI", NameFormat: "basic"},
			{Source: "gar.profile", Name: "GARPersonProfil", NameFormat: "basic"},
		}}
	})
	withGAR := func(c *Config) { c.GAR = GARConfig{Project: project, EntityID: sp.MetadataURL.String()} }
	return samlFixtureOn(t, sp, newFixture(t, svc, withGAR))
}

// exportedID reads GARPersonIdentifiant of the person named last in the
// GAR-ENT export of the fixture's directory.
func exportedID(t *testing.T, f *fixture, project gar.Project, last string) string {
	t.Helper()
	res, err := gar.Export(context.Background(), f.store, gar.ExportOptions{Project: project, Out: t.TempDir(), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range res.Files {
		if !strings.Contains(file, "_Eleve_") {
			continue
		}
		raw, _ := os.ReadFile(file)
		var doc struct {
			Eleves []struct {
				ID  string `xml:"GARPersonIdentifiant"`
				Nom string `xml:"GARPersonNom"`
			} `xml:"GAREleve"`
		}
		if err := xml.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s: %v", filepath.Base(file), err)
		}
		for _, e := range doc.Eleves {
			if e.Nom == last {
				return e.ID
			}
		}
	}
	t.Fatalf("%s not in the export %v", last, res.Files)
	return ""
}

// The GAR-like SP receives, in a signed assertion with a transient NameID,
// the GARPersonIdentifiant that the night's export gave for the same
// person, and nothing that names her.
func TestGARAssertionMatchesExport(t *testing.T) {
	sp := testSP(t, false)
	f := garFixture(t, sp, "0451462V")
	entity := url.QueryEscape(sp.MetadataURL.String())
	resp, relay, r := f.samlFollow(f.browser(), f.base+"/saml/idp/sso?providerId="+entity)
	if resp == "" {
		t.Fatalf("IdP-initiated login to the GAR: %d", r.StatusCode)
	}
	a, err := sp.ParseXMLResponse([]byte(resp), nil, *mustURL(spACS))
	if err != nil {
		t.Fatalf("the GAR-like SP refused the response (signature, audience, times): %v", err)
	}
	got := attrMap(a)
	want := exportedID(t, f, f.p.cfg.GAR.Project, "Martin")
	if got["GARPersonIdentifiant"] != want || got["idEnt"] != "ENT-45-TEST" || got["GARStructureUAI"] != "0451462V" ||
		got["GARPersonProfil"] != "National_elv" || len(got) != 4 || relay != "https://sp.example.org/app/ressources" {
		t.Fatalf("attributes %v relay %q; export's GARPersonIdentifiant %s", got, relay, want)
	}
	if a.Subject.NameID.Format != nameIDTransient || strings.Contains(resp, "emma.martin") || strings.Contains(resp, f.ids["eleve"]) {
		t.Fatalf("NameID %+v; the response must not carry the login or the internal id", a.Subject.NameID)
	}
	if !strings.Contains(resp, "<ds:SignatureValue>") {
		t.Fatal("assertion not signed")
	}
	// The médiacentre tile's address is this flow's.
	if u, ok := f.p.GARLaunchURL("0451462V", directory.ProfileEleve); !ok || u != f.base+"/saml/idp/sso?providerId="+entity {
		t.Fatalf("GARLaunchURL = %q, %v", u, ok)
	}
	if _, ok := f.p.GARLaunchURL("0451462V", directory.ProfileParent); ok {
		t.Fatal("a parent gets a médiacentre tile")
	}
}

// A student of a school that does not subscribe gets a page saying so,
// and the GAR gets nothing.
func TestGARRefusesNonSubscribingSchool(t *testing.T) {
	sp := testSP(t, false)
	f := garFixture(t, sp, "0450001A")
	resp, page, r := f.samlFollow(f.browser(), f.base+"/saml/idp/sso?providerId="+url.QueryEscape(sp.MetadataURL.String()))
	if resp != "" || r.StatusCode != 403 || !strings.Contains(page, MsgGARNotSubscribed) || !strings.Contains(page, "Lycée Jean Zay (0451462V)") {
		t.Fatalf("student of a non-subscribing school: %d\n%s", r.StatusCode, page)
	}
	if _, ok := f.p.GARLaunchURL("0451462V", directory.ProfileEleve); ok {
		t.Fatal("a tile for a school that does not subscribe")
	}
}

// gar.* sources without the GAR configured are refused at start.
func TestGARSourcesNeedTheGAR(t *testing.T) {
	sp := testSP(t, false)
	cfg := Config{PublicURL: "https://ent.example.org"}
	samlService(sp, func(s *Service) {
		s.Release = ReleasePolicy{Attributes: []AttributeRule{{Source: "gar.person_id", Name: "GARPersonIdentifiant"}}}
	})(&cfg)
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "gar.id_ent") {
		t.Fatalf("Validate = %v", err)
	}
	// Configured, but without the GAR's SP named: the subscription check
	// could not apply.
	cfg.GAR = GARConfig{Project: gar.Project{IDEnt: "ENT-45-TEST", Secret: garSecret}}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "gar.entity_id") {
		t.Fatalf("Validate = %v", err)
	}
	cfg.GAR.EntityID = sp.MetadataURL.String()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}
