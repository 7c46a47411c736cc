package dirdump_test

import (
	"context"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/enthub/enthub/directory/dirdump"
)

// exportedTables is the table each record kind of the export comes from.
var exportedTables = map[string]string{
	"structure": "structures", "subject": "subjects", "mef": "mefs", "group": "groups", "person": "persons",
	"account": "accounts", "persona": "personas", "membership": "memberships", "relation": "relations",
	"external_link": "external_links", "guest": "guests", "space": "spaces", "space_member": "space_members", "service": "sso_services",
	"news": "portal_news", "branding": "portal_branding",
}

// exportDoc is docs/export.md, from this package's folder.
const exportDoc = "../../docs/export.md"

// docName names it in messages, from the repository's root.
const docName = "docs/export.md"

// notExportedTables reads the tables named in the first column of the
// table "What is not exported, and why" of docs/export.md: every `name`
// (or `name.column`) in backquotes that looks like a table.
func notExportedTables(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(exportDoc)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "### What is not exported, and why\n")
	if !ok {
		t.Fatalf("%s: no section %q", exportDoc, "### What is not exported, and why")
	}
	name := regexp.MustCompile("`([a-z][a-z0-9_]*)(?:\\.[a-z0-9_]+)?`")
	out := map[string]bool{}
	for _, line := range strings.Split(strings.TrimLeft(section, "\n"), "\n") {
		if !strings.HasPrefix(line, "|") {
			break // the end of the table
		}
		cells := strings.Split(line, "|")
		for _, m := range name.FindAllStringSubmatch(cells[1], -1) {
			out[m[1]] = true
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no table named in the table of what is not exported", exportDoc)
	}
	return out
}

// Every table of the schema is either exported or listed, with why, in
// docs/export.md: a table added to the store cannot be forgotten by the
// reversibility export.
func TestEveryTableExportedOrListed(t *testing.T) {
	if got := slices.Sorted(maps.Keys(exportedTables)); !slices.Equal(got, slices.Sorted(slices.Values(dirdump.Kinds))) {
		t.Fatalf("exportedTables in tables_test.go has kinds %v, dirdump.Kinds is %v: give each record kind its table", got, dirdump.Kinds)
	}
	exported := map[string]string{}
	for kind, table := range exportedTables {
		exported[table] = kind
	}
	listed := notExportedTables(t)
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`
			if name == "postgres" {
				q = `SELECT table_name FROM information_schema.tables
					WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`
			}
			rows, err := st.DB().QueryContext(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			schema := map[string]bool{}
			for rows.Next() {
				var table string
				if err := rows.Scan(&table); err != nil {
					t.Fatal(err)
				}
				schema[table] = true
				kind, isExported := exported[table]
				switch {
				case !isExported && !listed[table]:
					t.Errorf("table %s is neither exported by dirdump nor listed in %s. Either export it: a record kind "+
						"(dirdump.Kinds, records.go, jsonl.go, csv.go), a Dump… method in directory.DumpReader and a Restore… "+
						"method in directory.RestoreTx (directory/sqlstore/dump.go, with the table in restoredTables), its "+
						"fields in %s, and its kind mapped to %q in exportedTables (directory/dirdump/tables_test.go). Or, "+
						"if it is not directory data, add a row naming `%s` to the table \"What is not exported, and why\" "+
						"of %s, saying why", table, docName, docName, table, table, docName)
				case isExported && listed[table]:
					t.Errorf("table %s is exported (record kind %s) and also listed as not exported in %s: remove it from that list",
						table, kind, docName)
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			for table := range listed {
				if !schema[table] {
					t.Errorf("%s lists `%s` as not exported, but the schema has no such table: correct or remove that row",
						docName, table)
				}
			}
			for kind, table := range exportedTables {
				if !schema[table] {
					t.Errorf("record kind %s comes from table %s (exportedTables in tables_test.go), which the schema lacks", kind, table)
				}
			}
		})
	}
}
