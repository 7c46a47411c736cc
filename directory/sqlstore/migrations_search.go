package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/enthub/enthub/directory"
)

// searchMigrations hold what searching the directory reads, versions
// 380–389.
//
// persons.search_name is directory.FoldName of "first last", written with
// every person (PutPerson, the AAF import, a restore): SearchAccounts
// matches it, so "Theo" finds "Théo" and "élodie" finds "ÉLODIE" on SQLite
// as on PostgreSQL. Before, neither store dropped accents and only
// PostgreSQL lowered "É", and only where the cluster's locale does (the
// test cluster's does not). The alternatives fold differently per store:
// unaccent is an extension a hosted PostgreSQL may refuse, and a Go
// function registered with SQLite would run for each of 300,000 rows on
// every search. The column is folded once per write, by the same Go code
// for both stores, and a search is one LIKE per row instead of four
// lower()s: at 300,000 accounts a query nothing matches took 1.2–1.5 s on
// PostgreSQL (3.0–3.9 s before) and 1.4–2.4 s on SQLite (1.5–2.6 s), on a
// loaded test machine.
var searchMigrations = []migration{
	{380, "persons search name", `
ALTER TABLE persons ADD COLUMN search_name TEXT NOT NULL DEFAULT '';
`},
}

// searchName is what persons.search_name holds for a person.
func searchName(first, last string) string {
	return directory.FoldName(first + " " + last)
}

// dataStep is the Go step that runs after a migration's SQL, in its
// transaction, to fill rows SQL cannot compute alike on both dialects;
// nil for most. Keyed by version so the migrations' literals keep their
// shape.
func dataStep(version int) func(context.Context, *sql.Tx, dialect) error {
	switch version {
	case 380:
		return fillSearchNames
	}
	return nil
}

// fillSearchNames backfills persons.search_name a page of persons at a
// time (by id, so memory stays flat). On PostgreSQL each page is one
// UPDATE, as 300,000 single-row updates are as many round trips; SQLite
// has no round trip but runs a 2,000-parameter UPDATE … FROM (VALUES …)
// slowly, so there a prepared single-row UPDATE is faster. Measured at
// 300,000 persons on a loaded 2-core test machine: PostgreSQL 34–41 s
// (116 s row by row), SQLite 8–13 s (35 s by pages).
func fillSearchNames(ctx context.Context, tx *sql.Tx, d dialect) error {
	const page = 1000
	var one *sql.Stmt
	if d.name != "postgres" {
		var err error
		if one, err = tx.PrepareContext(ctx, `UPDATE persons SET search_name = $1 WHERE id = $2`); err != nil {
			return fmt.Errorf("search names: %w", err)
		}
		defer one.Close()
	}
	after := ""
	for {
		rows, err := tx.QueryContext(ctx, `SELECT id, first_name, last_name FROM persons WHERE id > $1 ORDER BY id LIMIT $2`, after, page)
		if err != nil {
			return fmt.Errorf("search names after person %q: %w", after, err)
		}
		var args []any // id, search name, id, search name…
		for rows.Next() {
			var id, first, last string
			if err := rows.Scan(&id, &first, &last); err != nil {
				rows.Close()
				return fmt.Errorf("search names after person %q: %w", after, err)
			}
			args = append(args, id, searchName(first, last))
			after = id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("search names after person %q: %w", after, err)
		}
		if len(args) == 0 {
			return nil
		}
		if one != nil {
			for i := 0; i < len(args); i += 2 {
				if _, err := one.ExecContext(ctx, args[i+1], args[i]); err != nil {
					return fmt.Errorf("search name of person %q: %w", args[i], err)
				}
			}
			continue
		}
		var q strings.Builder
		q.WriteString(`UPDATE persons SET search_name = v.column2 FROM (VALUES `)
		for i := 0; i < len(args); i += 2 {
			if i > 0 {
				q.WriteString(", ")
			}
			fmt.Fprintf(&q, "($%d, $%d)", i+1, i+2)
		}
		q.WriteString(`) AS v WHERE persons.id = v.column1`) // VALUES columns are column1, column2
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("search names up to person %q: %w", after, err)
		}
	}
}
