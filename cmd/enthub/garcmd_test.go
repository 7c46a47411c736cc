package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// enthub gar export writes the files, the archive and its checksum, and
// journals the run, which enthub gar journal lists.
func TestGARExportAndJournal(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "e.db")
	aafDir := filepath.Join(dir, "aaf")
	if code, out, errs := enthub(t, nil, "aaf", "generate", "--out", aafDir, "--students", "200", "--seed", "3"); code != 0 {
		t.Fatalf("generate = %d %s %s", code, out, errs)
	}
	if code, out, errs := enthub(t, nil, "aaf", "import", aafDir, "--db", db); code != 0 {
		t.Fatalf("import = %d %s %s", code, out, errs)
	}
	// Before the GAR is configured: refused by name.
	if code, _, errs := enthub(t, nil, "gar", "export", "--out", filepath.Join(dir, "x"), "--db", db); code != 1 || !strings.Contains(errs, "gar.id_ent") {
		t.Fatalf("unconfigured export = %d %s", code, errs)
	}
	env := []string{"ENTHUB_GAR_ID_ENT=ENT-CLI", "ENTHUB_GAR_SCHOOLS=0130000A", "ENTHUB_GAR_ID_SECRET=" + strings.Repeat("QUFB", 11)}
	out := filepath.Join(dir, "gar")
	code, stdout, errs := enthub(t, env, "gar", "export", "--out", out, "--db", db)
	if code != 0 || !strings.Contains(stdout, "exported 1 schools") || !strings.Contains(stdout, "not delivered") {
		t.Fatalf("gar export = %d\n%s\n%s", code, stdout, errs)
	}
	archives, _ := filepath.Glob(filepath.Join(out, "ENT-CLI_GAR-ENT_Complet_*.tar.gz"))
	files, _ := filepath.Glob(filepath.Join(out, "ENT-CLI_GAR-ENT_Complet_*", "*.xml"))
	if len(archives) != 1 || len(files) != 5 {
		t.Fatalf("archives %v, files %v", archives, files)
	}
	if _, err := os.Stat(archives[0] + ".md5"); err != nil {
		t.Fatal(err)
	}
	// --deliver without gar.sftp, an unknown --uai: errors that name the cause.
	if code, _, errs := enthub(t, env, "gar", "export", "--out", out, "--deliver", "--db", db); code != 2 || !strings.Contains(errs, "gar.sftp.address") {
		t.Fatalf("--deliver without sftp = %d %s", code, errs)
	}
	if code, _, errs := enthub(t, env, "gar", "export", "--out", out, "--uai", "0999999X", "--db", db); code != 1 || !strings.Contains(errs, "0999999X") {
		t.Fatalf("--uai of a school that does not subscribe = %d %s", code, errs)
	}
	code, stdout, errs = enthub(t, env, "gar", "journal", "--json", "--db", db)
	var entries []struct {
		Outcome, Archive, Reason string
		Files                    int
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &entries) != nil || len(entries) != 2 {
		t.Fatalf("gar journal --json = %d %s %s", code, stdout, errs)
	}
	if entries[0].Outcome != "failed" || !strings.Contains(entries[0].Reason, "0999999X") || entries[1].Outcome != "packed" ||
		entries[1].Files != 5 || entries[1].Archive != filepath.Base(archives[0]) {
		t.Fatalf("journal %+v", entries)
	}
	if code, stdout, _ := enthub(t, env, "gar", "journal", "--db", db); code != 0 || !strings.Contains(stdout, "packed") {
		t.Fatalf("gar journal = %d %s", code, stdout)
	}
	// The journal reads an existing store: a mistyped --db is an error.
	if code, _, _ := enthub(t, env, "gar", "journal", "--db", "sqlite:"+filepath.Join(dir, "nope.db")); code != 1 {
		t.Fatalf("journal on a missing store = %d", code)
	}
}
