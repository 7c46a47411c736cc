package storetest

import (
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// DirectoryTables are the tables holding directory data: not the import
// journal or the audit log, where a refused import is recorded on purpose.
var DirectoryTables = []string{"structures", "persons", "accounts", "personas", "groups", "memberships",
	"relations", "subjects", "mefs", "external_links", "guests", "spaces", "space_members", "meta"}

// Dump renders every directory table of an SQL store as text, rows in a
// stable order: two dumps are equal exactly when the directory is unchanged,
// which is how tests prove that a refused or killed import changed nothing.
func Dump(t testing.TB, db *sql.DB) string {
	t.Helper()
	var b strings.Builder
	for _, table := range DirectoryTables {
		rows, err := db.Query(`SELECT * FROM ` + table)
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		var lines []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("dump %s: %v", table, err)
			}
			lines = append(lines, fmt.Sprintf("%v", vals))
		}
		rows.Close()
		slices.Sort(lines)
		fmt.Fprintf(&b, "== %s (%d)\n%s\n", table, len(lines), strings.Join(lines, "\n"))
	}
	return b.String()
}
