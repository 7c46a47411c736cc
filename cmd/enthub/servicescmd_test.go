package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/idp"
)

const servicesYAML = `# relying parties managed with enthub services
- id: moodle
  name: Moodle
  protocol: cas
  cas:
    service_patterns: ['^https://moodle\.example\.org/.*$']
- id: forum
  name: Forum
  protocol: oidc
  oidc:
    client_id: forum
    client_secret: s3cret
    redirect_uris: [https://forum.example.org/cb]
`

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestServicesImportListRemove(t *testing.T) {
	db := migratedDB(t)
	file := writeFile(t, "services.yaml", servicesYAML)
	if code, out, errs := enthub(t, nil, "services", "import", file, "--db", db); code != 0 || !strings.Contains(out, "2 services imported") {
		t.Fatalf("import = %d %q %q", code, out, errs)
	}
	code, out, errs := enthub(t, nil, "services", "list", "--json", "--db", db)
	var rows []struct {
		ID, Protocol, Source, Status string
	}
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil {
		t.Fatalf("list = %d %q %q", code, out, errs)
	}
	if len(rows) != 2 || rows[0].ID != "forum" || rows[0].Protocol != "oidc" || rows[0].Source != "store" || rows[1].Status != "active" {
		t.Fatalf("list = %+v", rows)
	}
	if code, out, _ := enthub(t, nil, "services", "list", "--db", db); code != 0 || !strings.Contains(out, "moodle") {
		t.Fatalf("list (text) = %d %q", code, out)
	}
	if code, _, _ := enthub(t, nil, "services", "remove", "moodle", "--db", db); code != 0 {
		t.Fatalf("remove = %d", code)
	}
	if code, _, errs := enthub(t, nil, "services", "remove", "moodle", "--db", db); code != 1 || !strings.Contains(errs, `no service "moodle"`) {
		t.Fatalf("remove again = %d %q", code, errs)
	}
	if code, out, _ := enthub(t, nil, "services", "list", "--json", "--db", db); code != 0 || strings.Contains(out, "moodle") {
		t.Fatalf("after remove: %d %s", code, out)
	}
	if code, _, errs := enthub(t, nil, "services", "remove", "--db", db); code != 2 {
		t.Fatalf("remove without ID = %d %q", code, errs)
	}
}

// An import is checked as strictly as sso.services_file at start, and a
// refused file stores nothing.
func TestServicesImportRefusesAllOrNothing(t *testing.T) {
	db := migratedDB(t)
	tests := []struct{ name, yaml, want string }{
		{"unknown key", servicesYAML + "- id: grr\n  protocl: cas\n", `s.yaml:15: service "grr": protocl: unknown key (did you mean protocol?)`},
		{"invalid service", servicesYAML + "- id: grr\n  protocol: cas\n  cas: {service_patterns: ['https://grr']}\n", `s.yaml:16: service "grr": cas.service_patterns[0]: "https://grr": patterns must be anchored`},
		{"twice the same ID", servicesYAML + "- id: moodle\n  protocol: cas\n  cas: {service_patterns: ['^https://x/$']}\n", `s.yaml:14: service "moodle": id: "moodle" used twice`},
		{"empty", "", "no services"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := enthub(t, nil, "services", "import", writeFile(t, "s.yaml", tt.yaml), "--db", db)
			if code != 1 || !strings.Contains(errs, tt.want) {
				t.Fatalf("import = %d %q, want 1 and %q", code, errs, tt.want)
			}
			if _, out, _ := enthub(t, nil, "services", "list", "--json", "--db", db); strings.TrimSpace(out) != "[]" {
				t.Fatalf("a refused import stored %s", out)
			}
		})
	}
	if code, _, _ := enthub(t, nil, "services", "import", "--db", db); code != 2 {
		t.Fatalf("import without FILE = %d", code)
	}
	// A client ID already taken by a stored service is refused too.
	if code, _, errs := enthub(t, nil, "services", "import", writeFile(t, "s.yaml", servicesYAML), "--db", db); code != 0 {
		t.Fatalf("import = %d %s", code, errs)
	}
	twin := "- id: forum2\n  protocol: oidc\n  oidc: {client_id: forum, redirect_uris: ['https://f2/cb']}\n"
	if code, _, errs := enthub(t, nil, "services", "import", writeFile(t, "s.yaml", twin), "--db", db); code != 1 || !strings.Contains(errs, `service "forum2": oidc.client_id: "forum" used twice`) {
		t.Fatalf("client ID twin = %d %q", code, errs)
	}
}

// A service of sso.services_file wins over a stored one with its ID: the
// import warns, list shows it shadowed.
func TestServicesImportShadowedByFile(t *testing.T) {
	db := migratedDB(t)
	cfg := writeFile(t, "enthub.yaml", "sso:\n  services_file: "+writeFile(t, "file.yaml", "- id: moodle\n  protocol: cas\n  cas: {service_patterns: ['^https://m/$']}\n")+"\n")
	code, _, errs := enthub(t, nil, "services", "import", writeFile(t, "s.yaml", servicesYAML), "--db", db, "--config", cfg)
	if code != 0 || !strings.Contains(errs, `"moodle" is also in sso.services_file`) {
		t.Fatalf("import = %d %q", code, errs)
	}
	_, out, _ := enthub(t, nil, "services", "list", "--db", db, "--config", cfg)
	if !strings.Contains(out, "file") || !strings.Contains(out, "shadowed") {
		t.Fatalf("list = %s", out)
	}
}

// A running instance picks up what `enthub services import` stored, and
// drops what `enthub services remove` removed, without restart.
func TestServicesImportPickedUpByRunningInstance(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "e.db")
	store, err := sqlstore.Open(ctx, "sqlite:"+path, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	p, err := idp.New(ctx, idp.Config{PublicURL: "http://127.0.0.1:1"}, idp.Deps{Directory: store, SSO: store})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ids := func() string {
		var s []string
		for _, sv := range p.Services() {
			s = append(s, sv.ID)
		}
		return strings.Join(s, ",")
	}
	if code, _, errs := enthub(t, nil, "services", "import", writeFile(t, "s.yaml", servicesYAML), "--db", "sqlite:"+path); code != 0 {
		t.Fatalf("import = %d %s", code, errs)
	}
	if ok, err := p.ReloadServices(ctx); !ok || err != nil || ids() != "forum,moodle" {
		t.Fatalf("after import: reloaded %v %v, services %q", ok, err, ids())
	}
	if code, _, errs := enthub(t, nil, "services", "remove", "forum", "--db", "sqlite:"+path); code != 0 {
		t.Fatalf("remove = %d %s", code, errs)
	}
	if ok, err := p.ReloadServices(ctx); !ok || err != nil || ids() != "moodle" {
		t.Fatalf("after remove: reloaded %v %v, services %q", ok, err, ids())
	}
}
