package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An operator exports a directory in each format, restores the JSON export
// into a new database, and that database exports the same records; a
// second restore into it is refused and changes nothing.
func TestDirExportImport(t *testing.T) {
	dir := t.TempDir()
	src := "sqlite:" + filepath.Join(dir, "src.db")
	if code, _, errs := enthub(t, nil, "aaf", "generate", "--out", filepath.Join(dir, "aaf"), "--students", "200", "--schools", "2", "--seed", "5"); code != 0 {
		t.Fatalf("aaf generate: %d %s", code, errs)
	}
	if code, _, errs := enthub(t, nil, "aaf", "import", "--db", src, filepath.Join(dir, "aaf")); code != 0 {
		t.Fatalf("aaf import: %d %s", code, errs)
	}
	for _, f := range []string{"json", "csv", "ldif"} {
		code, out, errs := enthub(t, nil, "dir", "export", "--db", src, "--format", f, "--out", filepath.Join(dir, f))
		if code != 0 || !strings.Contains(out, "person") && f != "ldif" {
			t.Fatalf("dir export --format %s = %d %q %q", f, code, out, errs)
		}
	}
	for _, name := range []string{"json/directory.jsonl", "csv/persons.csv", "csv/manifest.json", "ldif/directory.ldif"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("export: %v", err)
		}
	}

	dst := "sqlite:" + filepath.Join(dir, "dst.db")
	if code, out, errs := enthub(t, nil, "dir", "import", "--db", dst, filepath.Join(dir, "json")); code != 0 || !strings.Contains(out, "account") {
		t.Fatalf("dir import = %d %q %q", code, out, errs)
	}
	if code, _, errs := enthub(t, nil, "dir", "export", "--db", dst, "--format", "json", "--out", filepath.Join(dir, "again")); code != 0 {
		t.Fatalf("dir export of the restored store: %d %s", code, errs)
	}
	a, _ := os.ReadFile(filepath.Join(dir, "json/directory.jsonl"))
	b, _ := os.ReadFile(filepath.Join(dir, "again/directory.jsonl"))
	// The header holds the export's date; every record after it is equal.
	if _, ra, _ := bytes.Cut(a, []byte("\n")); len(ra) == 0 || !bytes.Equal(ra, after(b)) {
		t.Error("the restored store exports other records than the original")
	}

	code, _, errs := enthub(t, nil, "dir", "import", "--db", dst, filepath.Join(dir, "json"))
	if code != 1 || !strings.Contains(errs, "the store is not empty") {
		t.Errorf("dir import into a non-empty store = %d %q, want exit 1 saying it is not empty", code, errs)
	}
	if code, _, errs := enthub(t, nil, "dir", "export", "--db", src, "--format", "xml", "--out", dir); code != 2 || !strings.Contains(errs, "--format") {
		t.Errorf("dir export --format xml = %d %q, want a usage error", code, errs)
	}
}

func after(b []byte) []byte {
	_, rest, _ := bytes.Cut(b, []byte("\n"))
	return rest
}
