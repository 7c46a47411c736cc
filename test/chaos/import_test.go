package chaos

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/aaf"
	"github.com/enthub/enthub/directory/storetest"
)

// generate writes a synthetic AAF Complet of students into dir.
func generate(t testing.TB, dir string, students int, seed int64) {
	t.Helper()
	if _, err := aaf.Generate(context.Background(), aaf.GenerateOptions{Out: dir, Students: students, Seed: seed}); err != nil {
		t.Fatal(err)
	}
}

// importCLI imports a delivery with `enthub aaf import`.
func importCLI(t testing.TB, db, path string) {
	t.Helper()
	if out, err := exec.Command(enthubBin, "aaf", "import", path, "--db", db).CombinedOutput(); err != nil {
		t.Fatalf("enthub aaf import %s: %v\n%s", path, err, out)
	}
}

// dump renders the directory tables of db (equal dumps: unchanged directory).
func dump(t testing.TB, db string) string {
	t.Helper()
	c, err := sql.Open("postgres", db)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return storetest.Dump(t, c)
}

// importLocked says whether some session holds an advisory lock: the import
// transaction takes one when its apply starts.
func importLocked(db string) bool {
	c, err := sql.Open("postgres", db)
	if err != nil {
		return false
	}
	defer c.Close()
	var n int
	err = c.QueryRow(`SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted`).Scan(&n)
	return err == nil && n > 0
}

// inboxEnv is the configuration of an instance watching inbox: no
// volumetry or date-order refusal (the test deliveries are unrelated
// Complets), a short settle time.
func inboxEnv(db, inbox string) []string {
	return []string{"ENTHUB_DB=" + db, "ENTHUB_AAF_INBOX=" + inbox, "ENTHUB_AAF_SETTLE_TIME=1s",
		"ENTHUB_AAF_VOLUMETRY_THRESHOLD=100", "ENTHUB_AAF_ORDER_GUARD=false"}
}

// drop puts the delivery folder src into inbox as name, complete (with its
// .done marker).
func drop(t testing.TB, src, inbox, name string) {
	t.Helper()
	if err := os.Rename(src, filepath.Join(inbox, name)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(inbox, name+".done"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// reports reads the outcomes of the import reports filed in inbox/sub.
func reports(t testing.TB, inbox, sub string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(inbox, sub, "*.report.json"))
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rep struct{ Outcome string }
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, rep.Outcome)
	}
	return out
}

// enthub serve killed with SIGKILL while it applies a delivery from the
// inbox: the directory is exactly the previous day's, and the next start
// imports the delivery again, to the end.
func TestKillDuringInboxImport(t *testing.T) {
	pg := newCluster(t)
	db := pg.createDB("enthub")
	migrate(t, db)
	work := t.TempDir()
	day1, day2, inbox := filepath.Join(work, "day1"), filepath.Join(work, "day2"), filepath.Join(work, "inbox")
	students := 8000
	if long() {
		students = 80000
	}
	generate(t, day1, 500, 1)
	generate(t, day2, students, 2)
	importCLI(t, db, day1)
	before := dump(t, db)
	if err := os.MkdirAll(inbox, 0o755); err != nil {
		t.Fatal(err)
	}
	drop(t, day2, inbox, "day2")

	e := startEnthub(t, "enthub", inboxEnv(db, inbox)...)
	locked := waitFor(2*time.Minute, func() bool { return importLocked(db) })
	if locked < 0 {
		t.Fatalf("the import never started applying:\n%s", e.proc.Tail(30))
	}
	time.Sleep(300 * time.Millisecond) // well inside the apply
	e.kill()
	if got := reports(t, inbox, "processed"); len(got) > 0 {
		t.Fatalf("the import finished before the kill (%v): make the delivery larger", got)
	}
	if after := dump(t, db); after != before {
		t.Fatal("a killed import changed the directory")
	}

	start := time.Now()
	e2 := startEnthub(t, "enthub-again", inboxEnv(db, inbox)...)
	done := waitFor(5*time.Minute, func() bool { return len(reports(t, inbox, "processed")) > 0 })
	if done < 0 {
		t.Fatalf("the delivery was not imported again after the restart:\n%s", e2.proc.Tail(30))
	}
	if got := reports(t, inbox, "processed"); strings.Join(got, ",") != "applied" {
		t.Errorf("outcome of the import after the restart = %v, want applied", got)
	}
	if dump(t, db) == before {
		t.Error("the directory is still the previous day's after the import ran again")
	}
	figure(t, "SIGKILL 300 ms into the apply of %d students: directory unchanged; imported again to completion %v after the restart",
		students, time.Since(start).Round(time.Millisecond))
}
