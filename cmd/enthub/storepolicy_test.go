package main

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enthub/enthub/test/peer"
)

// migratedDB returns the URL of a new SQLite store, made the way an
// operator makes one (enthub db migrate).
func migratedDB(t *testing.T) string {
	t.Helper()
	db := "sqlite:" + filepath.Join(t.TempDir(), "e.db")
	if code, out, errs := enthub(t, nil, "db", "migrate", "--db", db); code != 0 {
		t.Fatalf("db migrate = %d %q %q", code, out, errs)
	}
	return db
}

// readCommands are the commands that must find an existing store: every
// command but serve, demo, db migrate and aaf import.
func readCommands(t *testing.T) [][]string {
	services := writeFile(t, "services.yaml", servicesYAML)
	return [][]string{
		{"dir", "stats"},
		{"dir", "show", "nobody"},
		{"dir", "export", "--format", "json", "--out", t.TempDir()},
		{"services", "list"},
		{"services", "import", services},
		{"services", "remove", "moodle"},
		{"keys", "rotate"},
		{"keys", "list"},
		{"keys", "seal"},
		{"audit"},
	}
}

// A mistyped --db is an error naming it, exit 1, not an empty directory
// answering "0 accounts": a missing SQLite file (its folder is not made)
// and an SQLite file without the schema are refused by every command that
// does not set a store up.
func TestReadCommandsRefuseMissingSQLiteStore(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "typo", "enthub.db")
	env := []string{"ENTHUB_SSO_KEY_SECRET=" + testKeySecret}
	for _, args := range readCommands(t) {
		for _, tc := range []struct{ name, db, want string }{
			{"missing file", "sqlite:" + missing, "sqlite:" + missing + ": file " + missing + " does not exist"},
			{"no schema", "sqlite:" + empty, "sqlite:" + empty + ": the database holds no enthub schema"},
		} {
			t.Run(strings.Join(args[:min(2, len(args))], " ")+"/"+tc.name, func(t *testing.T) {
				code, out, errs := enthub(t, env, append(args, "--db", tc.db)...)
				if code != 1 || !strings.Contains(errs, tc.want) || out != "" {
					t.Errorf("enthub %v = %d, stdout %q stderr %q; want 1 and %q", args, code, out, errs, tc.want)
				}
				if _, err := os.Stat(filepath.Dir(missing)); !os.IsNotExist(err) {
					t.Errorf("enthub %v created %s", args, filepath.Dir(missing))
				}
				if fi, err := os.Stat(empty); err != nil || fi.Size() != 0 {
					t.Errorf("enthub %v wrote to the empty file: %v", args, err)
				}
			})
		}
	}
}

// On PostgreSQL the same: an empty database and one a step behind are
// refused with the URL, its password masked; nothing is created.
func TestReadCommandsRefuseUnmigratedPostgres(t *testing.T) {
	u, err := url.Parse(peer.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), "s3cret-pw")
	db := u.String()
	masked := strings.Replace(db, "s3cret-pw", "xxxxx", 1)
	env := []string{"ENTHUB_SSO_KEY_SECRET=" + testKeySecret}
	for _, args := range readCommands(t) {
		code, out, errs := enthub(t, env, append(args, "--db", db)...)
		if code != 1 || !strings.Contains(errs, masked+": the database holds no enthub schema") || strings.Contains(errs, "s3cret-pw") {
			t.Errorf("enthub %v on an empty database = %d, stdout %q stderr %q", args, code, out, errs)
		}
	}
	sqldb, err := sql.Open("postgres", db)
	if err != nil {
		t.Fatal(err)
	}
	defer sqldb.Close()
	var tables int
	if err := sqldb.QueryRow(`SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("the read commands created %d tables (%v)", tables, err)
	}
	// A database an older binary migrated: one step missing.
	if code, _, errs := enthub(t, nil, "db", "migrate", "--db", db); code != 0 {
		t.Fatalf("db migrate = %d %s", code, errs)
	}
	var last int
	if err := sqldb.QueryRowContext(context.Background(), `SELECT max(version) FROM schema_migrations`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	if _, err := sqldb.Exec(`DELETE FROM schema_migrations WHERE version = $1`, last); err != nil {
		t.Fatal(err)
	}
	code, _, errs := enthub(t, env, "dir", "stats", "--db", db)
	if code != 1 || !strings.Contains(errs, masked+": database schema is not up to date") || !strings.Contains(errs, "run enthub db migrate") {
		t.Errorf("dir stats on a database a step behind = %d %q", code, errs)
	}
}

// The commands that set a site up still create the store, folder included.
func TestSetupCommandsCreateTheStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "folder")
	db := "sqlite:" + filepath.Join(dir, "enthub.db")
	if code, out, errs := enthub(t, nil, "db", "migrate", "--db", db); code != 0 || !strings.Contains(out, "schema is current") {
		t.Fatalf("db migrate on a new path = %d %q %q", code, out, errs)
	}
	if code, out, errs := enthub(t, nil, "dir", "stats", "--db", db); code != 0 || !strings.Contains(out, "structures: 0") {
		t.Fatalf("dir stats after db migrate = %d %q %q", code, out, errs)
	}
	for _, tc := range []struct {
		command       string
		create, waits bool
	}{
		{"enthub serve", true, true},
		{"enthub demo", true, true},
		{"enthub db migrate", true, false},
		{"enthub aaf import", true, false},
		{"enthub aaf journal", false, false},
		{"enthub dir stats", false, false},
		{"enthub keys rotate", false, false},
	} {
		if create, waits := storePolicy(tc.command); create != tc.create || waits != tc.waits {
			t.Errorf("storePolicy(%q) = %v, %v; want %v, %v", tc.command, create, waits, tc.create, tc.waits)
		}
	}
}
