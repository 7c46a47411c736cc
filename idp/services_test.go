package idp

import (
	"bytes"
	"context"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/enthub/enthub/idp/sso"
)

const moodleURL = "https://moodle.example.org/login/index.php"

const moodleYAML = `id: moodle
name: Moodle
protocol: cas
cas:
  service_patterns: ['^https://moodle\.example\.org/.*$']
release:
  attributes:
    - {source: person.last_name, name: nom}
`

const forumYAML = `id: forum
name: Forum
protocol: oidc
oidc:
  client_id: forum
  client_secret: forum-secret
  redirect_uris: [https://forum.example.org/cb]
`

// poll lets the provider's reload loop run one poll and return to its
// wait: the second send is taken only once the first poll is done.
func (f *fixture) poll() {
	f.tick <- t0
	f.tick <- t0
}

func (f *fixture) putService(def string) {
	f.t.Helper()
	s, err := ParseService([]byte(def))
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.store.PutServices(context.Background(), sso.ServiceDef{ID: s.ID, Definition: []byte(def), UpdatedAt: t0}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) hasService(id string) bool {
	for _, s := range f.p.Services() {
		if s.ID == id {
			return true
		}
	}
	return false
}

// A service registered in the store is served by a running instance after
// its next poll, without restart, and refused again once removed.
func TestStoreServiceAddedAndRemovedWithoutRestart(t *testing.T) {
	f := newFixture(t)
	c := f.loginAs("emma.martin")
	refused := func() {
		t.Helper()
		resp, page := f.get(c, f.base+"/cas/login?service="+url.QueryEscape(moodleURL))
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, MsgUnknownService) {
			t.Fatalf("unregistered service: status %d", resp.StatusCode)
		}
	}
	refused()
	f.putService(moodleYAML)
	f.putService(forumYAML)
	f.poll()
	if tk := f.casTicket(c, moodleURL, ""); !strings.HasPrefix(tk, "ST-") {
		t.Fatalf("service from the store: ticket %q", tk)
	}
	if u := f.authorize(c, url.Values{"client_id": {"forum"}, "redirect_uri": {"https://forum.example.org/cb"},
		"response_type": {"code"}, "scope": {"openid"}, "state": {"s"}}); u.Query().Get("code") == "" {
		t.Fatalf("OIDC client from the store: %s", u)
	}
	// Configured services are still there, first.
	if ss := f.p.Services(); len(ss) != len(testServices())+2 || ss[0].ID != "pronote" {
		t.Fatalf("registry after reload: %d services", len(ss))
	}

	if err := f.store.DeleteService(context.Background(), "moodle"); err != nil {
		t.Fatal(err)
	}
	if err := f.store.DeleteService(context.Background(), "forum"); err != nil {
		t.Fatal(err)
	}
	f.poll()
	refused()
	resp, page := f.get(c, f.base+"/oidc/authorize?"+url.Values{"client_id": {"forum"}, "redirect_uri": {"https://forum.example.org/cb"},
		"response_type": {"code"}, "scope": {"openid"}}.Encode())
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, MsgUnknownService) {
		t.Fatalf("removed OIDC client: status %d", resp.StatusCode)
	}
}

// Nothing is read again while the generation has not moved.
func TestReloadServicesOnlyWhenGenerationMoves(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if ok, err := f.p.ReloadServices(ctx); err != nil || ok {
		t.Fatalf("nothing changed: reloaded %v, %v", ok, err)
	}
	f.putService(moodleYAML)
	if ok, err := f.p.ReloadServices(ctx); err != nil || !ok {
		t.Fatalf("after a put: reloaded %v, %v", ok, err)
	}
	if ok, _ := f.p.ReloadServices(ctx); ok {
		t.Fatal("reloaded twice for one change")
	}
}

// A stored definition that does not parse or validate is skipped; the
// others are served.
func TestStoreServiceInvalidSkipped(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.store.PutServices(ctx,
		sso.ServiceDef{ID: "bad-pattern", Definition: []byte("id: bad-pattern\nprotocol: cas\ncas: {service_patterns: ['https://unanchored']}\n"), UpdatedAt: t0},
		sso.ServiceDef{ID: "bad-key", Definition: []byte("id: bad-key\nprotocol: cas\nnope: 1\n"), UpdatedAt: t0},
		sso.ServiceDef{ID: "other-id", Definition: []byte(moodleYAML), UpdatedAt: t0},
		sso.ServiceDef{ID: "chamilo-twin", Definition: []byte(strings.ReplaceAll(forumYAML, "client_id: forum", "client_id: chamilo")), UpdatedAt: t0},
	))
	f.putService(forumYAML)
	if _, err := f.p.ReloadServices(ctx); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{"forum": true, "bad-pattern": false, "bad-key": false, "other-id": false, "moodle": false, "chamilo-twin": false, "chamilo": true} {
		if f.hasService(id) != want {
			t.Errorf("service %s served: %v, want %v", id, !want, want)
		}
	}
}

// The configured service wins over a stored one with its ID.
func TestConfiguredServiceWinsOverStored(t *testing.T) {
	f := newFixture(t)
	f.putService(strings.ReplaceAll(moodleYAML, "id: moodle", "id: pronote"))
	f.poll()
	c := f.loginAs("emma.martin")
	if tk := f.casTicket(c, pronoteURL, ""); !strings.HasPrefix(tk, "ST-") {
		t.Fatalf("configured pronote: %q", tk)
	}
	resp, _ := f.get(c, f.base+"/cas/login?service="+url.QueryEscape(moodleURL))
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("the stored twin of a configured service was served: %d", resp.StatusCode)
	}
}

// SAML metadata by URL is fetched at each load; when the fetch fails, the
// previous copy is kept.
func TestStoreSAMLMetadataURLKeptWhenFetchFails(t *testing.T) {
	f := newFixture(t)
	sp := testSP(t, false)
	md, _ := xml.Marshal(sp.Metadata())
	var down atomic.Bool
	mdSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Write(md)
	}))
	defer mdSrv.Close()
	def := func(name string) string {
		return "id: sp\nname: " + name + "\nprotocol: saml\nsaml:\n  entity_id: " + sp.MetadataURL.String() + "\n  metadata_url: " + mdSrv.URL + "\n"
	}
	f.putService(def("SP"))
	f.poll()
	if f.p.reg().sps[sp.MetadataURL.String()] == nil {
		t.Fatal("SAML service from the store has no metadata")
	}
	down.Store(true)
	f.putService(def("SP renamed"))
	f.poll()
	r := f.p.reg()
	if r.byID["sp"] == nil || r.byID["sp"].Name != "SP renamed" || r.sps[sp.MetadataURL.String()] == nil ||
		!bytes.Equal(r.sps[sp.MetadataURL.String()].raw, md) || r.sps[sp.MetadataURL.String()].svc != r.byID["sp"] {
		t.Fatal("metadata fetch failed: the previous copy was not kept for the new definition")
	}
	// A new SAML service whose metadata cannot be read is skipped.
	other := testSP(t, false)
	other.MetadataURL = *mustURL("https://other.example.org/saml/metadata")
	f.putService("id: other\nprotocol: saml\nsaml:\n  entity_id: " + other.MetadataURL.String() + "\n  metadata_url: " + mdSrv.URL + "\n")
	f.poll()
	if f.hasService("other") || !f.hasService("sp") {
		t.Fatal("a SAML service without metadata was registered, or broke the others")
	}
}

func TestParseServicesKeepsEachDefinition(t *testing.T) {
	ss, raw, err := ParseServices([]byte("# registry\n- " + strings.ReplaceAll(strings.TrimSpace(moodleYAML), "\n", "\n  ") + "\n- " +
		strings.ReplaceAll(strings.TrimSpace(forumYAML), "\n", "\n  ") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 2 || len(raw) != 2 || ss[1].OIDC.ClientID != "forum" {
		t.Fatalf("parsed %+v", ss)
	}
	for i, b := range raw {
		s, err := ParseService(b)
		if err != nil || s.ID != ss[i].ID || len(s.CAS.ServicePatterns) != len(ss[i].CAS.ServicePatterns) {
			t.Fatalf("definition %d does not read back: %v\n%s", i, err, b)
		}
	}
	if _, _, err := ParseServices([]byte("- id: x\n  protocl: cas\n")); err == nil || !strings.Contains(err.Error(), `line 2: service "x": protocl: unknown key (did you mean protocol?)`) {
		t.Fatalf("unknown key: %v", err)
	}
}
