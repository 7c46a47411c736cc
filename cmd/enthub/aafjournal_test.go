package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/enthub/enthub/aaf"
)

// What an operator reads without SQL: a stale delivery refused with both
// dates, a dry run saying so, a volumetry refusal naming each school once
// by UAI and name, and `aaf journal` (table and JSON) listing every
// delivery with its outcome, counts and reason.
func TestAAFJournalAndRefusals(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "e.db")
	gen := func(name, date string) string {
		t.Helper()
		out := filepath.Join(dir, name)
		if code, _, errs := enthub(t, nil, "aaf", "generate", "--out", out, "--students", "2500", "--schools", "4", "--seed", "9", "--date", date); code != 0 {
			t.Fatalf("generate: %d %s", code, errs)
		}
		return out
	}
	imp := func(want int, args ...string) string {
		t.Helper()
		code, out, errs := enthub(t, nil, append([]string{"aaf", "import", "--db", db}, args...)...)
		if code != want {
			t.Fatalf("aaf import %v = %d, want %d; stdout %s stderr %s", args, code, want, out, errs)
		}
		return out
	}
	imp(0, gen("c20", "2024-09-20"))
	old := gen("c16", "2024-09-16")
	for _, args := range [][]string{{"--dry-run", old}, {old}} {
		out := imp(1, args...)
		if !strings.Contains(out, "refused: this Complet is dated 2024-09-16, older than the Complet dated 2024-09-20") {
			t.Errorf("import %v said %q, want both dates", args, out)
		}
		if dry := strings.HasPrefix(out, "dry run, nothing written"); dry != (args[0] == "--dry-run") {
			t.Errorf("import %v said %q: dry run announced %v", args, out, dry)
		}
	}
	truncated := gen("c21", "2024-09-21")
	if err := os.Remove(filepath.Join(truncated, "ENT2D_Complet_20240921_Eleve_0001.xml")); err != nil {
		t.Fatal(err)
	}
	out := imp(1, truncated)
	schools := regexp.MustCompile(`school (\d{7}[A-Z]) [A-Z]`).FindAllStringSubmatch(out, -1)
	if len(schools) == 0 {
		t.Fatalf("volumetry refusal names no school by UAI and name:\n%s", out)
	}
	for _, m := range schools {
		if n := strings.Count(out, "school "+m[1]+" "); n != 2 { // the reason line and the volumetry line
			t.Errorf("school %s named %d times, want once in the reason and once in the details:\n%s", m[1], n, out)
		}
	}

	code, table, errs := enthub(t, nil, "aaf", "journal", "--db", db)
	if code != 0 {
		t.Fatalf("aaf journal = %d: %s", code, errs)
	}
	for _, want := range []string{"started (UTC)", "2024-09-20   applied", "2024-09-16   refused", "2024-09-21   refused",
		"scope: academie=13 degre=2D prefix=ENT2D", "reason: this Complet is dated 2024-09-16", "reason: school 0130"} {
		if !strings.Contains(table, want) {
			t.Errorf("journal lacks %q:\n%s", want, table)
		}
	}
	code, js, _ := enthub(t, nil, "aaf", "journal", "--json", "--db", db)
	var entries []aaf.JournalEntry
	if err := json.Unmarshal([]byte(js), &entries); code != 0 || err != nil {
		t.Fatalf("aaf journal --json = %d, %v:\n%s", code, err, js)
	}
	if len(entries) != 3 {
		t.Fatalf("journal has %d entries, want the applied Complet and two refusals (dry runs are not journalled)", len(entries))
	}
	first := entries[2]
	if first.Outcome != "applied" || first.ExportDate != "2024-09-20" || first.Records == 0 || first.Totals.Added == 0 ||
		first.AccountsCreated == 0 || len(first.Files) == 0 {
		t.Errorf("applied entry = %+v", first)
	}
	if e := entries[1]; e.Outcome != "refused" || e.ExportDate != "2024-09-16" || !strings.Contains(e.Reason, "2024-09-20") || e.Records != 0 {
		t.Errorf("stale entry = %+v", e)
	}
	if e := entries[0]; e.Outcome != "refused" || e.Errors == 0 {
		t.Errorf("volumetry entry = %+v", e)
	}
	// The guard is configuration: a site whose feed needs it off says so.
	off := writeFile(t, "enthub.yaml", "aaf:\n  order_guard: false\n")
	if code, out, errs := enthub(t, nil, "aaf", "import", "--dry-run", old, "--config", off, "--db", db); code != 0 || strings.Contains(out, "older than") {
		t.Errorf("with aaf.order_guard false, the older Complet = %d %q %q, want it previewed", code, out, errs)
	}
	bad := writeFile(t, "bad.yaml", "aaf:\n  order_scope: [academy]\n")
	if code, _, errs := enthub(t, nil, "aaf", "import", "--dry-run", old, "--config", bad, "--db", db); code == 0 || !strings.Contains(errs, `aaf.order_scope[0]: "academy": want academie, degre or prefix`) {
		t.Errorf("a bad order scope = %d %q", code, errs)
	}
	if code, out, errs := enthub(t, nil, "aaf", "journal", "--limit", "0", "--db", db); code != 2 || !strings.Contains(out+errs, "--limit 0") {
		t.Errorf("journal --limit 0 = %d %q, want a usage error", code, out+errs)
	}
}
