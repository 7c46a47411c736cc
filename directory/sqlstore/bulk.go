package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/enthub/enthub/directory"
)

var _ directory.Bulk = (*Store)(nil)

// stagingDDL creates the per-import staging tables. They are temporary:
// private to the import's connection and gone when it ends, so a killed
// import leaves nothing behind.
const stagingDDL = `
CREATE TEMP TABLE stg_structures (new_id TEXT, aaf_id TEXT, uai TEXT, name TEXT, type TEXT, type_code TEXT,
	city TEXT, postal_code TEXT, contract TEXT, bassin TEXT, academie TEXT, academie_code TEXT, attached TEXT,
	extra TEXT, checksum TEXT);
CREATE TEMP TABLE stg_persons (new_id TEXT, aaf_id TEXT, aaf_family TEXT, last_name TEXT, first_name TEXT,
	birth_name TEXT, other_names TEXT, title TEXT, birth_date TEXT, ine TEXT, email TEXT, phone TEXT, mobile TEXT,
	address TEXT, postal_code TEXT, city TEXT, country TEXT, mef TEXT, subjects TEXT, extra TEXT, checksum TEXT,
	create_account INTEGER, search_name TEXT);
CREATE TEMP TABLE stg_personas (new_id TEXT, person_aaf TEXT, struct_aaf TEXT, profile TEXT, functions TEXT);
CREATE TEMP TABLE stg_groups (new_id TEXT, struct_aaf TEXT, kind TEXT, code TEXT);
CREATE TEMP TABLE stg_members (person_aaf TEXT, struct_aaf TEXT, kind TEXT, code TEXT, role TEXT, subjects TEXT,
	head_teacher INTEGER);
CREATE TEMP TABLE stg_relations (child_aaf TEXT, parent_aaf TEXT, lien TEXT, resp_financier INTEGER,
	resp_legal INTEGER, contact INTEGER, paiement INTEGER);
CREATE TEMP TABLE stg_seen (aaf_id TEXT);
CREATE TEMP TABLE stg_deleted (aaf_id TEXT);
CREATE TEMP TABLE stg_pid (id TEXT, aaf_id TEXT, aaf_family TEXT, create_account INTEGER);
`

var stagingColumns = map[string][]string{
	"stg_structures": {"new_id", "aaf_id", "uai", "name", "type", "type_code", "city", "postal_code", "contract", "bassin", "academie", "academie_code", "attached", "extra", "checksum"},
	"stg_persons":    {"new_id", "aaf_id", "aaf_family", "last_name", "first_name", "birth_name", "other_names", "title", "birth_date", "ine", "email", "phone", "mobile", "address", "postal_code", "city", "country", "mef", "subjects", "extra", "checksum", "create_account", "search_name"},
	"stg_personas":   {"new_id", "person_aaf", "struct_aaf", "profile", "functions"},
	"stg_groups":     {"new_id", "struct_aaf", "kind", "code"},
	"stg_members":    {"person_aaf", "struct_aaf", "kind", "code", "role", "subjects", "head_teacher"},
	"stg_relations":  {"child_aaf", "parent_aaf", "lien", "resp_financier", "resp_legal", "contact", "paiement"},
	"stg_seen":       {"aaf_id"},
	"stg_deleted":    {"aaf_id"},
	"stg_pid":        {"id", "aaf_id", "aaf_family", "create_account"},
}

// directColumns are the directory tables an import writes straight into,
// bypassing staging, for rows it knows to be new: a first import is then
// one write per row instead of two, and the write overlaps the parse.
var directColumns = map[string][]string{
	"persons": {"id", "aaf_id", "aaf_family", "source", "last_name", "first_name", "birth_name", "other_names",
		"title", "birth_date", "ine", "email", "phone", "mobile", "address", "postal_code", "city", "country", "mef",
		"subjects", "extra", "checksum", "created_at", "updated_at", "search_name"},
	"accounts":    {"id", "person_id", "login", "status", "source", "created_at", "updated_at"},
	"personas":    {"id", "person_id", "structure_id", "profile", "functions", "source"},
	"groups":      {"id", "structure_id", "kind", "code", "name", "source"},
	"memberships": {"group_id", "person_id", "role", "subjects", "head_teacher"},
	"relations":   {"parent_id", "child_id", "lien_parente", "resp_financier", "resp_legal", "contact", "paiement"},
}

// flushAt bounds the rows buffered per staging table: memory stays flat
// whatever the delivery size, and each flush is one COPY (PostgreSQL).
const flushAt = 4000

// importTx implements directory.ImportTx.
type importTx struct {
	s      *Store
	tx     *sql.Tx
	opts   directory.ImportOptions
	buf    map[string][][]any
	groups map[string]bool // staged group keys, so each is staged once
	put    map[string]bool // AAF ids of persons staged (not New) so far
	// rebuild holds, per table, the statements that build again the
	// indexes deferIndexes dropped.
	rebuild map[string][]string
	// fresh is set for a first import (startFresh).
	fresh *freshImport
	done  bool
}

// BeginImport opens the import transaction and its staging tables.
func (s *Store) BeginImport(ctx context.Context, opts directory.ImportOptions) (directory.ImportTx, error) {
	if opts.Now.IsZero() {
		opts.Now = s.opts.Now()
	}
	opts.Now = opts.Now.UTC()
	if opts.LoginPattern == "" {
		opts.LoginPattern = "{prenom}.{nom}"
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin import: %w", err)
	}
	if s.d.name == "postgres" {
		var got bool
		if err := tx.QueryRowContext(ctx, `SELECT pg_try_advisory_xact_lock($1)`, AdvisoryImport).Scan(&got); err != nil {
			tx.Rollback()
			return nil, fmt.Errorf("begin import: lock: %w", err)
		}
		if !got {
			tx.Rollback()
			return nil, directory.ErrImportRunning
		}
		// The merge joins staging tables of hundreds of thousands of rows:
		// let those hashes stay in memory rather than spill to disk. Its
		// statements run once each, so JIT compiling them costs more than
		// it saves. The directory is in cache while it imports: with the
		// default random_page_cost of 4 a Delta's few thousand ids are
		// looked up by scanning whole tables instead of through indexes.
		for _, set := range []string{`SET LOCAL work_mem = '64MB'`, `SET LOCAL jit = off`, `SET LOCAL random_page_cost = 1.1`} {
			if _, err := tx.ExecContext(ctx, set); err != nil {
				tx.Rollback()
				return nil, fmt.Errorf("begin import: %s: %w", set, err)
			}
		}
	}
	ddl := stagingDDL
	if s.d.name == "postgres" {
		ddl = strings.ReplaceAll(ddl, ");", ") ON COMMIT DROP;")
	}
	for _, stmt := range strings.Split(ddl, ";") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			tx.Rollback()
			return nil, fmt.Errorf("begin import: staging: %w", err)
		}
	}
	t := &importTx{s: s, tx: tx, opts: opts, buf: map[string][][]any{}, groups: map[string]bool{}, put: map[string]bool{},
		rebuild: map[string][]string{}}
	if opts.Complet {
		if t.fresh, err = t.startFresh(ctx); err != nil {
			tx.Rollback()
			return nil, err
		}
	}
	return t, nil
}

func (t *importTx) Fresh() bool { return t.fresh != nil }

// deferIndexes drops the indexes of a table, empty (the caller checks),
// and remembers how to build them again (rebuildIndexes, before commit).
// Building an index once over 300,000 sorted rows costs a fraction of
// updating it 300,000 times, which is most of what a first import's inserts
// cost. keepUnique keeps the unique constraints a merge names in ON
// CONFLICT; primary drops the primary key too. The drop locks the table
// until commit, so it happens only when the table is empty (nobody to
// block), either for a first import (startFresh, which then gives the
// volumetry guard no baseline to read) or in Finish, after the check, whose
// volumetry baseline reads these tables on another connection. The
// definitions come from the catalog, so indexes a later migration adds are
// covered too.
func (t *importTx) deferIndexes(ctx context.Context, table string, keepUnique, primary bool) error {
	rows, err := t.tx.QueryContext(ctx, `SELECT i.relname, pg_get_indexdef(i.oid), COALESCE(c.conname, ''),
		COALESCE(c.contype::text, ''), COALESCE(pg_get_constraintdef(c.oid), '')
		FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
		LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid
		WHERE x.indrelid = $1::regclass AND ($3 OR NOT x.indisprimary) AND (NOT $2 OR NOT x.indisunique)
		ORDER BY i.relname`, table, keepUnique, primary)
	if err != nil {
		return fmt.Errorf("import merge: indexes of %s: %w", table, err)
	}
	var drops []string
	for rows.Next() {
		var name, def, con, conType, conDef string
		if err := rows.Scan(&name, &def, &con, &conType, &conDef); err != nil {
			rows.Close()
			return fmt.Errorf("import merge: indexes of %s: %w", table, err)
		}
		if con != "" {
			drops = append(drops, `ALTER TABLE `+table+` DROP CONSTRAINT `+con)
			t.rebuild[table] = append(t.rebuild[table], `ALTER TABLE `+table+` ADD CONSTRAINT `+con+` `+conDef)
		} else {
			drops = append(drops, `DROP INDEX `+name)
			t.rebuild[table] = append(t.rebuild[table], def)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("import merge: indexes of %s: %w", table, err)
	}
	for _, d := range drops {
		if _, err := t.tx.ExecContext(ctx, d); err != nil {
			return fmt.Errorf("import merge: %s: %w", d, err)
		}
	}
	return nil
}

// rebuildIndexes builds again what deferIndexes dropped; a unique
// constraint that the loaded rows break fails the import here.
func (t *importTx) rebuildIndexes(ctx context.Context, table string) error {
	for _, q := range t.rebuild[table] {
		began := time.Now()
		if _, err := t.tx.ExecContext(ctx, q); err != nil {
			return conflict(err, "rebuild index: "+q)
		}
		t.s.opts.Logger.Debug("import merge step", "step", "rebuild index", "statement", q, "duration", time.Since(began))
	}
	delete(t.rebuild, table)
	return nil
}

func (t *importTx) stage(ctx context.Context, table string, row ...any) error {
	t.buf[table] = append(t.buf[table], row)
	if len(t.buf[table]) >= flushAt {
		return t.flush(ctx, table)
	}
	return nil
}

// flush writes a table's buffered rows: COPY on PostgreSQL, a prepared
// insert on SQLite (fast there: no network round trip).
func (t *importTx) flush(ctx context.Context, table string) error {
	rows := t.buf[table]
	if len(rows) == 0 {
		return nil
	}
	cols := stagingColumns[table]
	if cols == nil {
		cols = directColumns[table]
	}
	var stmt *sql.Stmt
	var err error
	if t.s.d.name == "postgres" {
		stmt, err = t.tx.PrepareContext(ctx, "COPY "+table+" ("+strings.Join(cols, ", ")+") FROM STDIN")
	} else {
		ph := make([]string, len(cols))
		for i := range ph {
			ph[i] = fmt.Sprintf("$%d", i+1)
		}
		stmt, err = t.tx.PrepareContext(ctx, "INSERT INTO "+table+" ("+strings.Join(cols, ", ")+") VALUES ("+strings.Join(ph, ", ")+")")
	}
	if err != nil {
		return fmt.Errorf("stage %s: %w", table, err)
	}
	defer stmt.Close()
	for _, r := range rows {
		if _, err := stmt.ExecContext(ctx, r...); err != nil {
			return fmt.Errorf("stage %s: %w", table, err)
		}
	}
	if t.s.d.name == "postgres" {
		if _, err := stmt.ExecContext(ctx); err != nil {
			return fmt.Errorf("stage %s: %w", table, err)
		}
	}
	t.buf[table] = rows[:0]
	return nil
}

func (t *importTx) Checksums(ctx context.Context, fn func(directory.StoredSum)) error {
	for kind, q := range map[string]string{
		"structure": `SELECT aaf_id, checksum, '', false FROM structures WHERE aaf_id IS NOT NULL`,
		"person": `SELECT p.aaf_id, p.checksum, p.aaf_family, a.person_id IS NOT NULL FROM persons p
			LEFT JOIN accounts a ON a.person_id = p.id AND a.status = 'active' WHERE p.aaf_id IS NOT NULL`,
	} {
		rows, err := t.tx.QueryContext(ctx, q)
		if err != nil {
			return fmt.Errorf("checksums: %w", err)
		}
		for rows.Next() {
			s := directory.StoredSum{Kind: kind}
			if err := rows.Scan(&s.AAFID, &s.Checksum, &s.Family, &s.Active); err != nil {
				rows.Close()
				return fmt.Errorf("checksums: %w", err)
			}
			fn(s)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("checksums: %w", err)
		}
	}
	return nil
}

func (t *importTx) Stored(ctx context.Context, kind string, aafIDs []string) (map[string]map[string][]string, error) {
	table := "persons"
	if kind == "structure" {
		table = "structures"
	}
	out := make(map[string]map[string][]string, len(aafIDs))
	err := inChunks(aafIDs, func(list string, args []any) error {
		rows, err := t.tx.QueryContext(ctx, `SELECT aaf_id, extra FROM `+table+` WHERE aaf_id IN `+list, args...)
		if err != nil {
			return fmt.Errorf("stored %s attributes: %w", kind, err)
		}
		defer rows.Close()
		for rows.Next() {
			var id, raw string
			if err := rows.Scan(&id, &raw); err != nil {
				return fmt.Errorf("stored %s attributes: %w", kind, err)
			}
			var m map[string][]string
			if err := unmarshalCol(table+".extra", raw, &m); err != nil {
				return err
			}
			out[id] = orEmpty(m)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("stored %s attributes: %w", kind, err)
		}
		return nil
	})
	return out, err
}

func (t *importTx) PutStructure(ctx context.Context, b directory.BulkStructure) error {
	s := b.Structure
	if t.fresh != nil {
		return t.fresh.putStructure(ctx, t, s)
	}
	return t.stageStructure(ctx, t.s.opts.NewID(), s)
}

// stageStructure stages a structure under the id it gets if it is new.
func (t *importTx) stageStructure(ctx context.Context, id string, s directory.Structure) error {
	return t.stage(ctx, "stg_structures", id, s.AAFID, s.UAI, s.Name, s.Type, s.TypeCode, s.City,
		s.PostalCode, s.Contract, s.Bassin, s.Academie, s.AcademieCode, marshalCol(nonNil(s.Attached)),
		marshalCol(orEmpty(s.Extra)), s.Checksum)
}

// writePerson writes a person known to be new straight into persons.
func (t *importTx) writePerson(ctx context.Context, id string, p directory.Person) error {
	return t.stage(ctx, "persons", id, p.AAFID, p.AAFFamily, string(directory.SourceAAF), p.LastName,
		p.FirstName, p.BirthName, marshalCol(nonNil(p.OtherNames)), p.Title, p.BirthDate, p.INE, p.Email,
		p.Phone, p.Mobile, p.Address, p.PostalCode, p.City, p.Country, p.MEF, marshalCol(nonNil(p.Subjects)),
		marshalCol(orEmpty(p.Extra)), p.Checksum, t.opts.Now, t.opts.Now, searchName(p.FirstName, p.LastName))
}

func (t *importTx) PutSubject(ctx context.Context, s directory.Subject) (directory.Change, error) {
	return t.putNomenclature(ctx, "subject "+s.Code, `SELECT label FROM subjects WHERE code = $1`, []any{s.Code},
		[]any{s.Label}, `INSERT INTO subjects (code, label) VALUES ($1, $2)
		ON CONFLICT (code) DO UPDATE SET label = excluded.label`)
}

func (t *importTx) PutMEF(ctx context.Context, m directory.MEF) (directory.Change, error) {
	return t.putNomenclature(ctx, "MEF "+m.Code, `SELECT label, rattach, stat11 FROM mefs WHERE code = $1`, []any{m.Code},
		[]any{m.Label, m.Rattach, m.Stat11}, `INSERT INTO mefs (code, label, rattach, stat11) VALUES ($1, $2, $3, $4)
		ON CONFLICT (code) DO UPDATE SET label = excluded.label, rattach = excluded.rattach, stat11 = excluded.stat11`)
}

// putNomenclature reads the stored values of one subject or MEF (key),
// and writes vals only when they differ: a daily Complet repeats the
// whole nomenclature, almost always unchanged. The tables hold a few
// thousand rows, so one lookup each costs little.
func (t *importTx) putNomenclature(ctx context.Context, what, read string, key, vals []any, upsert string) (directory.Change, error) {
	stored := make([]string, len(vals))
	ptrs := make([]any, len(vals))
	for i := range stored {
		ptrs[i] = &stored[i]
	}
	change := directory.Updated
	switch err := t.tx.QueryRowContext(ctx, read, key...).Scan(ptrs...); {
	case errors.Is(err, sql.ErrNoRows):
		change = directory.Added
	case err != nil:
		return 0, fmt.Errorf("import: read %s: %w", what, err)
	default:
		same := true
		for i, v := range vals {
			same = same && stored[i] == v.(string)
		}
		if same {
			return directory.Unchanged, nil
		}
	}
	if _, err := t.tx.ExecContext(ctx, upsert, append(key, vals...)...); err != nil {
		return 0, conflict(err, what)
	}
	return change, nil
}

func (t *importTx) PutPerson(ctx context.Context, b directory.BulkPerson) error {
	p := b.Person
	if p.AAFID == "" {
		return fmt.Errorf("bulk person without AAF id (%s %s)", p.FirstName, p.LastName)
	}
	if t.fresh != nil {
		return t.fresh.putPerson(ctx, t, b)
	}
	if b.New {
		id := t.s.opts.NewID()
		if err := t.writePerson(ctx, id, p); err != nil {
			return err
		}
		if err := t.stage(ctx, "stg_pid", id, p.AAFID, p.AAFFamily, boolInt(b.CreateAccount)); err != nil {
			return err
		}
	} else if err := t.unstage(ctx, p.AAFID); err != nil {
		return err
	} else if err := t.stage(ctx, "stg_persons", t.s.opts.NewID(), p.AAFID, p.AAFFamily, p.LastName, p.FirstName,
		p.BirthName, marshalCol(nonNil(p.OtherNames)), p.Title, p.BirthDate, p.INE, p.Email, p.Phone, p.Mobile,
		p.Address, p.PostalCode, p.City, p.Country, p.MEF, marshalCol(nonNil(p.Subjects)), marshalCol(orEmpty(p.Extra)),
		p.Checksum, boolInt(b.CreateAccount), searchName(p.FirstName, p.LastName)); err != nil {
		return err
	}
	for _, ps := range b.Personas {
		if !ps.Profile.Valid() {
			return fmt.Errorf("person %s: unknown profile %q", p.AAFID, ps.Profile)
		}
		if err := t.stage(ctx, "stg_personas", t.s.opts.NewID(), p.AAFID, ps.StructureAAFID, string(ps.Profile),
			marshalCol(nonNil(ps.Functions))); err != nil {
			return err
		}
	}
	for _, m := range b.Memberships {
		key := m.StructureAAFID + "\x00" + string(m.Kind) + "\x00" + m.Code
		if !t.groups[key] {
			t.groups[key] = true
			if err := t.stage(ctx, "stg_groups", t.s.opts.NewID(), m.StructureAAFID, string(m.Kind), m.Code); err != nil {
				return err
			}
		}
		if err := t.stage(ctx, "stg_members", p.AAFID, m.StructureAAFID, string(m.Kind), m.Code, string(m.Role),
			marshalCol(nonNil(m.Subjects)), boolInt(m.HeadTeacher)); err != nil {
			return err
		}
	}
	for _, r := range b.Relations {
		if err := t.stage(ctx, "stg_relations", p.AAFID, r.ParentAAFID, r.LienParente, boolInt(r.RespFinancier),
			r.RespLegal, boolInt(r.Contact), boolInt(r.Paiement)); err != nil {
			return err
		}
	}
	return nil
}

// unstage makes a second put of the same person in one import replace the
// first: a Delta may add a person then modify it, or modify it twice, and
// only the last state may reach the directory (two staged rows would make
// two accounts, and links of both versions). Only persons put through
// staging are tracked; New ones are unique by the caller's word.
func (t *importTx) unstage(ctx context.Context, aafID string) error {
	if !t.put[aafID] {
		t.put[aafID] = true
		return nil
	}
	for table := range t.buf {
		if err := t.flush(ctx, table); err != nil {
			return err
		}
	}
	for _, q := range []string{`DELETE FROM stg_persons WHERE aaf_id = $1`, `DELETE FROM stg_personas WHERE person_aaf = $1`,
		`DELETE FROM stg_members WHERE person_aaf = $1`, `DELETE FROM stg_relations WHERE child_aaf = $1`} {
		if _, err := t.tx.ExecContext(ctx, q, aafID); err != nil {
			return fmt.Errorf("person %s put twice: %w", aafID, err)
		}
	}
	return nil
}

func (t *importTx) Seen(ctx context.Context, aafID string) error {
	if t.fresh != nil {
		return nil // nothing was stored to be seen again but a record the delivery repeats, which the check refuses
	}
	return t.stage(ctx, "stg_seen", aafID)
}

func (t *importTx) Delete(ctx context.Context, aafID string) error {
	return t.stage(ctx, "stg_deleted", aafID)
}

func (t *importTx) Rollback() error {
	if t.done {
		return nil
	}
	t.done = true
	return t.tx.Rollback()
}

// Finish merges the staging tables into the directory, set-based, and
// commits (with DryRun, rolls back once everything is counted); a first
// import (fresh) has written most rows already and only completes them.
func (t *importTx) Finish(ctx context.Context, f directory.FinishOptions) (counts directory.BulkCounts, err error) {
	defer func() {
		if err != nil {
			t.Rollback()
		}
	}()
	counts = directory.BulkCounts{Disabled: map[string]int{}, Restored: map[string]int{}}
	flushed := time.Now()
	for _, table := range slices.Sorted(maps.Keys(t.buf)) {
		if err := t.flush(ctx, table); err != nil {
			return counts, err
		}
	}
	t.s.opts.Logger.Debug("import merge step", "step", "flush staging", "duration", time.Since(flushed))
	if t.fresh != nil {
		if _, err := t.exec(ctx, "structures", mergeStructures, t.opts.Now); err != nil {
			return counts, err
		}
		if t.s.d.name == "postgres" {
			if err := t.deferIndexes(ctx, "accounts", false, false); err != nil {
				return counts, err
			}
		}
		if err := t.fresh.finish(ctx, t, &counts); err != nil {
			return counts, err
		}
	} else if err := t.merge(ctx, f, &counts); err != nil {
		return counts, err
	}
	for _, table := range slices.Sorted(maps.Keys(t.rebuild)) {
		if err := t.rebuildIndexes(ctx, table); err != nil {
			return counts, err
		}
	}
	// A first import makes no group without a member.
	if f.Complet && t.fresh == nil {
		if _, err := t.exec(ctx, "empty groups", `DELETE FROM groups WHERE source = 'aaf'
			AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.group_id = groups.id)`); err != nil {
			return counts, err
		}
	}
	if _, err := t.exec(ctx, "generation", `UPDATE meta SET value = value + 1 WHERE name = 'generation'`); err != nil {
		return counts, err
	}
	if _, err := t.exec(ctx, "entitlement rule", `INSERT INTO meta (name, value) VALUES ('parent_resp_legal', $1)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, t.entitlementRule()); err != nil {
		return counts, err
	}
	if f.DryRun {
		// Everything above ran in the transaction; none of it stays.
		return counts, t.Rollback()
	}
	if t.s.d.name == "postgres" {
		if err := t.refreshStatistics(ctx); err != nil {
			return counts, err
		}
	}
	if t.s.d.name == "sqlite" {
		// SQLite temp tables outlive the transaction on a pooled connection.
		for _, tbl := range append(slices.Collect(maps.Keys(stagingColumns)), "stg_affected", "stg_want", "stg_gone") {
			if _, err := t.exec(ctx, "drop "+tbl, `DROP TABLE IF EXISTS `+tbl); err != nil {
				return counts, err
			}
		}
	}
	began := time.Now()
	if err := t.tx.Commit(); err != nil {
		return counts, fmt.Errorf("import commit: %w", err)
	}
	t.s.opts.Logger.Debug("import merge step", "step", "commit", "duration", time.Since(began))
	t.done = true
	return counts, nil
}

// exec runs one merge statement and logs its duration.
func (t *importTx) exec(ctx context.Context, what, q string, args ...any) (int64, error) {
	began := time.Now()
	res, err := t.tx.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("import merge: %s: %w", what, err)
	}
	n, _ := res.RowsAffected()
	t.s.opts.Logger.Debug("import merge step", "step", what, "rows", n, "duration", time.Since(began))
	return n, nil
}

// mergeStructures upserts the staged structures; $1 is the import's time.
const mergeStructures = `INSERT INTO structures (id, aaf_id, uai, name, type, type_code, city, postal_code, contract,
	bassin, academie, academie_code, attached, extra, source, checksum, created_at, updated_at)
	SELECT new_id, aaf_id, uai, name, type, type_code, city, postal_code, contract, bassin, academie,
	academie_code, attached, extra, 'aaf', checksum, $1, $1 FROM stg_structures WHERE true
	ON CONFLICT (aaf_id) DO UPDATE SET uai = excluded.uai, name = excluded.name, type = excluded.type,
	type_code = excluded.type_code, city = excluded.city, postal_code = excluded.postal_code,
	contract = excluded.contract, bassin = excluded.bassin, academie = excluded.academie,
	academie_code = excluded.academie_code, attached = excluded.attached, extra = excluded.extra,
	checksum = excluded.checksum, updated_at = excluded.updated_at`

// merge resolves the staged records against the directory. The order
// matters: structures before what points at them, persons before accounts,
// relations before the parent personas derived from them.
func (t *importTx) merge(ctx context.Context, f directory.FinishOptions, counts *directory.BulkCounts) error {
	// Which tables were empty before this merge (a first import): there is
	// then nothing of theirs to delete, restore or disable, and on
	// PostgreSQL their indexes are built once at the end.
	empty := map[string]bool{}
	for _, table := range []string{"accounts", "personas", "memberships", "relations"} {
		var e bool
		if err := t.tx.QueryRowContext(ctx, `SELECT NOT EXISTS (SELECT 1 FROM `+table+`)`).Scan(&e); err != nil {
			return fmt.Errorf("import merge: %s: %w", table, err)
		}
		empty[table] = e
		if e && t.s.d.name == "postgres" {
			if err := t.deferIndexes(ctx, table, table != "accounts", false); err != nil {
				return err
			}
		}
	}
	now := t.opts.Now
	// The link inserts are sorted by the key of their unique index: on a
	// first import each row then lands on the index's rightmost page
	// (PostgreSQL's fast path for ascending keys) instead of a random one,
	// which costs a sort and saves more than it. The ids are time-ordered
	// (NewUUIDv7Source), so this is creation order too.
	steps := []struct{ what, q string }{
		{"index staging", `CREATE INDEX stg_persons_aaf ON stg_persons (aaf_id)`},
		{"index seen", `CREATE INDEX stg_seen_aaf ON stg_seen (aaf_id)`},
		// stg_persons carries whole records; only its join key needs
		// statistics, and sampling the JSON would cost a second.
		{"analyze staging", t.s.d.analyzeTemp("stg_persons (aaf_id)", "stg_personas", "stg_members", "stg_relations", "stg_seen", "stg_groups", "stg_deleted")},
		{"structures", mergeStructures},
		{"persons", `INSERT INTO persons (id, aaf_id, aaf_family, source, last_name, first_name, birth_name,
			other_names, title, birth_date, ine, email, phone, mobile, address, postal_code, city, country, mef,
			subjects, extra, checksum, created_at, updated_at, search_name)
			SELECT new_id, aaf_id, aaf_family, 'aaf', last_name, first_name, birth_name, other_names, title,
			birth_date, ine, email, phone, mobile, address, postal_code, city, country, mef, subjects, extra,
			checksum, $1, $1, search_name FROM stg_persons WHERE true
			ON CONFLICT (aaf_id) DO UPDATE SET aaf_family = excluded.aaf_family, last_name = excluded.last_name,
			first_name = excluded.first_name, birth_name = excluded.birth_name, other_names = excluded.other_names,
			title = excluded.title, birth_date = excluded.birth_date, ine = excluded.ine, email = excluded.email,
			phone = excluded.phone, mobile = excluded.mobile, address = excluded.address,
			postal_code = excluded.postal_code, city = excluded.city, country = excluded.country,
			mef = excluded.mef, subjects = excluded.subjects, extra = excluded.extra,
			checksum = excluded.checksum, updated_at = excluded.updated_at, search_name = excluded.search_name`},
		{"resolve persons", `INSERT INTO stg_pid (id, aaf_id, aaf_family, create_account)
			SELECT p.id, p.aaf_id, s.aaf_family, s.create_account FROM persons p JOIN stg_persons s ON s.aaf_id = p.aaf_id`},
		{"index resolved", `CREATE INDEX stg_pid_id ON stg_pid (id)`},
		{"index resolved aaf", `CREATE INDEX stg_pid_aaf ON stg_pid (aaf_id)`},
		{"analyze staging", `ANALYZE stg_pid`},
		{"affected parents", t.s.d.tempAs("stg_affected", `SELECT r.parent_id AS id FROM relations r
			JOIN stg_pid c ON c.id = r.child_id`)},
		{"drop personas", `DELETE FROM personas WHERE source = 'aaf' AND profile <> 'parent'
			AND person_id IN (SELECT id FROM stg_pid)`},
		{"drop memberships", `DELETE FROM memberships WHERE person_id IN (SELECT id FROM stg_pid)`},
		{"drop relations", `DELETE FROM relations WHERE child_id IN (SELECT id FROM stg_pid)`},
		{"personas", `INSERT INTO personas (id, person_id, structure_id, profile, functions, source)
			SELECT sp.new_id, p.id, s.id, sp.profile, sp.functions, 'aaf' FROM stg_personas sp
			JOIN stg_pid p ON p.aaf_id = sp.person_aaf JOIN structures s ON s.aaf_id = sp.struct_aaf
			ORDER BY p.id, s.id, sp.profile
			ON CONFLICT (person_id, structure_id, profile) DO NOTHING`},
		{"groups", `INSERT INTO groups (id, structure_id, kind, code, name, source)
			SELECT g.new_id, s.id, g.kind, g.code, g.code, 'aaf' FROM stg_groups g
			JOIN structures s ON s.aaf_id = g.struct_aaf WHERE true
			ON CONFLICT (structure_id, kind, code) DO NOTHING`},
		{"memberships", `INSERT INTO memberships (group_id, person_id, role, subjects, head_teacher)
			SELECT g.id, p.id, m.role, m.subjects, m.head_teacher ` + t.s.d.boolCast() + ` FROM stg_members m
			JOIN stg_pid p ON p.aaf_id = m.person_aaf JOIN structures s ON s.aaf_id = m.struct_aaf
			JOIN groups g ON g.structure_id = s.id AND g.kind = m.kind AND g.code = m.code
			ORDER BY g.id, p.id, m.role
			ON CONFLICT (group_id, person_id, role) DO NOTHING`},
		{"relations", `INSERT INTO relations (parent_id, child_id, lien_parente, resp_financier, resp_legal, contact, paiement)
			SELECT par.id, c.id, r.lien, r.resp_financier ` + t.s.d.boolCast() + `, r.resp_legal,
			r.contact ` + t.s.d.boolCast() + `, r.paiement ` + t.s.d.boolCast() + ` FROM stg_relations r
			JOIN stg_pid c ON c.aaf_id = r.child_aaf JOIN persons par ON par.aaf_id = r.parent_aaf
			ORDER BY par.id, c.id
			ON CONFLICT (parent_id, child_id) DO NOTHING`},
		{"affected parents (new)", `INSERT INTO stg_affected SELECT r.parent_id FROM relations r JOIN stg_pid c ON c.id = r.child_id`},
		{"affected parents (own)", `INSERT INTO stg_affected SELECT id FROM stg_pid WHERE aaf_family = 'PersRelEleve'`},
		{"drop parent personas", `DELETE FROM personas WHERE source = 'aaf' AND profile = 'parent'
			AND person_id IN (SELECT id FROM stg_affected)`},
		{"parent personas", `INSERT INTO personas (id, person_id, structure_id, profile, functions, source)
			SELECT ` + t.seqIDs() + `, x.parent_id, x.structure_id, 'parent', '[]', 'aaf' FROM (
				SELECT DISTINCT r.parent_id, sp.structure_id FROM relations r
				JOIN personas sp ON sp.person_id = r.child_id AND sp.profile = 'eleve'
				WHERE r.parent_id IN (SELECT id FROM stg_affected) ORDER BY 1, 2) x WHERE true
			ON CONFLICT (person_id, structure_id, profile) DO NOTHING`},
	}
	for _, st := range steps {
		if st.what == "drop parent personas" && empty["personas"] {
			continue // 350,000 affected ids hashed to delete nothing
		}
		var args []any
		if strings.Contains(st.q, "$1") {
			args = []any{now}
		}
		if _, err := t.exec(ctx, st.what, st.q, args...); err != nil {
			return err
		}
	}
	if err := t.tx.QueryRowContext(ctx, `SELECT count(*) FROM stg_relations r
		WHERE NOT EXISTS (SELECT 1 FROM persons p WHERE p.aaf_id = r.parent_aaf)`).Scan(&counts.DanglingRelations); err != nil {
		return fmt.Errorf("import merge: dangling relations: %w", err)
	}
	lap := func(what string, began time.Time) {
		t.s.opts.Logger.Debug("import merge step", "step", what, "duration", time.Since(began))
	}
	began := time.Now()
	if err := t.entitlements(ctx); err != nil {
		return err
	}
	lap("entitlements", began)
	began = time.Now()
	todo, err := t.whoNeedsAccounts(ctx)
	if err != nil {
		return err
	}
	if counts.Accounts, err = t.createAccounts(ctx, todo); err != nil {
		return err
	}
	lap("accounts", began)
	began = time.Now()
	// Into an empty accounts table a Complet only creates active accounts
	// for persons who want one: nothing to restore or disable. (A Delta
	// may add then delete a person, so it always looks.)
	if !(empty["accounts"] && f.Complet) {
		if err := t.accountStates(ctx, counts); err != nil {
			return err
		}
	}
	lap("account states", began)
	return nil
}

// refreshStatistics analyzes the directory tables when this import put
// more than a tenth of the persons, or they were never analyzed. Without
// it the next import — tomorrow's Delta, if autovacuum has not come by —
// is planned on the statistics of a nearly empty directory: a 5,000-record
// Delta then took 2.3 s instead of 1.5 s. Only the columns the merge joins
// and filters on are sampled, not the raw records, inside the transaction,
// so the statistics and the data they describe arrive together.
func (t *importTx) refreshStatistics(ctx context.Context) error {
	stale := t.fresh != nil // the whole directory is new
	if err := t.tx.QueryRowContext(ctx, `SELECT $1 OR (SELECT count(*) FROM stg_pid) >
		0.1 * GREATEST((SELECT reltuples FROM pg_class WHERE oid = 'persons'::regclass), 1)`, stale).Scan(&stale); err != nil {
		return fmt.Errorf("import merge: statistics: %w", err)
	}
	if !stale {
		return nil
	}
	began := time.Now()
	// A small sample: the merge's joins need row counts (which ANALYZE
	// counts whole), that ids are unique, and the few values of family,
	// status and profile, not fine histograms; persons' rows are wide, and
	// the default sample of 30,000 of them read 240 MB (0.7 s, against 0.1).
	if _, err := t.tx.ExecContext(ctx, `SET LOCAL default_statistics_target = 20`); err != nil {
		return fmt.Errorf("import merge: statistics: %w", err)
	}
	if _, err := t.tx.ExecContext(ctx, `ANALYZE persons (id, aaf_id, aaf_family, source), accounts (id, person_id, login, status, source),
		personas (id, person_id, structure_id, profile, source), memberships (group_id, person_id, role),
		relations (parent_id, child_id, resp_legal), groups, structures (id, aaf_id, uai)`); err != nil {
		return fmt.Errorf("import merge: statistics: %w", err)
	}
	t.s.opts.Logger.Debug("import merge step", "step", "analyze directory", "duration", time.Since(began))
	return nil
}

// seqIDs is an SQL expression giving each row of an INSERT … SELECT its
// own id: one id from the store's maker with its last 12 hex digits
// replaced by the row number. Rows then get ids in order, as the maker's
// own are, instead of random ones (gen_random_uuid), which cost a random
// index page per row.
func (t *importTx) seqIDs() string {
	base := t.idBase()
	if t.s.d.name == "postgres" {
		return `'` + base + `' || lpad(to_hex(row_number() OVER ()), 12, '0')`
	}
	return `printf('%s%012x', '` + base + `', row_number() OVER ())`
}

// idBase is the prefix of ids an import numbers itself: an id from the
// store's maker without its last 12 hex digits, which a number replaces.
// Each call gives a new prefix, so numbers from two calls never meet.
func (t *importTx) idBase() string {
	base := t.s.opts.NewID()
	if len(base) == 36 && base[23] == '-' {
		return base[:24]
	}
	return strings.ReplaceAll(base, "'", "") + "-"
}

// entitlements builds stg_want: for every person the delivery concerns,
// whether they should have an active account (1) or not (0). Persons of the
// relation-account family are decided by their relations: those put, those
// whose children's records changed, those seen without an active account,
// and all of them when the rule (ParentRespLegal) changed since the last
// import. A parent with an active account whose record and children did not
// change keeps it: nothing it depends on moved (a purge that removes a
// child's relations marks the parent's record changed; see PurgeDisabled).
func (t *importTx) entitlements(ctx context.Context) error {
	fam := t.opts.RelationAccountFamily
	legal := "0"
	for _, v := range t.opts.ParentRespLegal {
		legal += fmt.Sprintf(", %d", v)
	}
	var rule int64
	err := t.tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = 'parent_resp_legal'`).Scan(&rule)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("import accounts: entitlement rule: %w", err)
	}
	// The adults to decide, as a join driven by the few candidates rather
	// than a filter over every person.
	parents := `(SELECT id FROM stg_pid UNION SELECT x.id FROM stg_seen s JOIN persons x ON x.aaf_id = s.aaf_id
		UNION SELECT id FROM stg_affected) c JOIN persons p ON p.id = c.id`
	if err != nil || rule != t.entitlementRule() {
		parents = "persons p"
	}
	// An unchanged person of the other families with an active account
	// needs nothing (wanting an account only creates or restores one), so
	// the second part leaves them out: on a re-import, nearly everybody.
	// (The importer does not even send them: see ImportTx.Seen.)
	// UNION ALL: the three parts are disjoint (a record is put or seen,
	// never both, since a delivery repeating an id is refused by the check;
	// the third part is the other family), and deduplicating 300,000 ids
	// would cost a sort for nothing.
	q := `SELECT id, create_account AS want FROM stg_pid WHERE aaf_family <> $1
		UNION ALL SELECT p.id, 1 FROM stg_seen s JOIN persons p ON p.aaf_id = s.aaf_id WHERE p.aaf_family <> $1
			AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.person_id = p.id AND a.status = 'active')
		UNION ALL SELECT p.id, CASE WHEN EXISTS (SELECT 1 FROM relations r WHERE r.parent_id = p.id
			AND r.resp_legal IN (` + legal + `) AND r.resp_legal <> 0) THEN 1 ELSE 0 END
		FROM ` + parents + ` WHERE p.aaf_family = $1`
	for _, stmt := range []string{t.s.d.tempAs("stg_want", q), `CREATE INDEX stg_want_id ON stg_want (id)`, t.s.d.analyzeTemp("stg_want")} {
		var args []any
		if strings.Contains(stmt, "$1") {
			args = []any{fam}
		}
		if _, err := t.tx.ExecContext(ctx, stmt, args...); err != nil {
			return fmt.Errorf("import accounts: entitlements: %w", err)
		}
	}
	return nil
}

// entitlementRule encodes ParentRespLegal as a bit per respLegal value,
// kept in meta so that the next import knows whether it changed.
func (t *importTx) entitlementRule() int64 {
	var rule int64
	for _, v := range t.opts.ParentRespLegal {
		if v > 0 && v < 62 {
			rule |= 1 << v
		}
	}
	return rule
}

// newAccount is a person to give an account, with the base of their login.
type newAccount struct{ personID, base string }

// whoNeedsAccounts lists, in AAF id order, the persons entitled to an
// account (stg_want) who have none yet.
func (t *importTx) whoNeedsAccounts(ctx context.Context) ([]newAccount, error) {
	// NOT EXISTS rather than LEFT JOIN … IS NULL: the planner estimates an
	// anti-join well, while the IS NULL filter over a table loaded in this
	// transaction (no statistics yet) looked like 2,000 rows and got
	// 270,000 index probes instead of one hash.
	return t.newAccounts(ctx, `SELECT p.id, p.first_name, p.last_name FROM stg_want w
		JOIN persons p ON p.id = w.id
		WHERE w.want = 1 AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.person_id = w.id) ORDER BY p.aaf_id`, nil)
}

// newAccounts reads (id, first name, last name) rows of q, keeps those
// keep accepts (all when nil), with the base of their login.
func (t *importTx) newAccounts(ctx context.Context, q string, keep func(personID string) bool) ([]newAccount, error) {
	began := time.Now()
	rows, err := t.tx.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("import accounts: %w", err)
	}
	defer rows.Close()
	var todo []newAccount
	for rows.Next() {
		var id, first, last string
		if err := rows.Scan(&id, &first, &last); err != nil {
			return nil, fmt.Errorf("import accounts: %w", err)
		}
		if keep == nil || keep(id) {
			todo = append(todo, newAccount{id, directory.LoginBase(t.opts.LoginPattern, first, last)})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("import accounts: %w", err)
	}
	t.s.opts.Logger.Debug("import merge step", "step", "accounts: who", "rows", len(todo), "duration", time.Since(began))
	return todo, nil
}

// createAccounts gives each person of todo an account, with a login
// generated once, and returns how many it made.
func (t *importTx) createAccounts(ctx context.Context, todo []newAccount) (int, error) {
	if len(todo) == 0 {
		return 0, nil
	}
	// Many new accounts (a first import): load every login once. Few (a
	// daily Delta): ask per stem, which costs less than reading them all.
	taken := map[string]bool{}
	if len(todo) > 500 {
		if err := t.loadLogins(ctx, `SELECT login FROM accounts`, taken); err != nil {
			return 0, err
		}
	} else {
		asked := map[string]bool{}
		for _, n := range todo {
			if asked[n.base] {
				continue
			}
			asked[n.base] = true
			if err := t.loadLogins(ctx, `SELECT login FROM accounts WHERE login = $1 OR login LIKE $2`, taken, n.base, n.base+"%"); err != nil {
				return 0, err
			}
		}
	}
	// Straight into accounts: every row is new (the query above) and every
	// login free (checked against what is stored), so there is nothing to
	// merge; a conflict would fail the import whole.
	const table = "accounts"
	logins := directory.NewLoginAllocator(func(l string) bool { return taken[l] })
	for _, n := range todo {
		login := logins.Next(n.base)
		taken[login] = true
		if err := t.stage(ctx, table, t.s.opts.NewID(), n.personID, login, string(directory.StatusActive),
			string(directory.SourceAAF), t.opts.Now, t.opts.Now); err != nil {
			return 0, conflict(err, "new accounts")
		}
	}
	if err := t.flush(ctx, table); err != nil {
		return 0, conflict(err, "new accounts")
	}
	return len(todo), t.rebuildIndexes(ctx, table)
}

func (t *importTx) loadLogins(ctx context.Context, q string, into map[string]bool, args ...any) error {
	rows, err := t.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("import accounts: logins: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			return err
		}
		into[l] = true
	}
	return rows.Err()
}

// accountStates restores returning accounts and disables absent, deleted
// or no longer entitled ones, counting both per family.
func (t *importTx) accountStates(ctx context.Context, counts *directory.BulkCounts) error {
	now := t.opts.Now
	count := func(into map[string]int, q string, args ...any) error {
		rows, err := t.tx.QueryContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("import accounts: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var fam string
			var n int
			if err := rows.Scan(&fam, &n); err != nil {
				return err
			}
			into[fam] += n
		}
		return rows.Err()
	}
	if err := count(counts.Restored, `SELECT p.aaf_family, count(*) FROM accounts a JOIN persons p ON p.id = a.person_id
		JOIN stg_want w ON w.id = a.person_id
		WHERE a.source = 'aaf' AND a.status <> 'active' AND w.want = 1 GROUP BY p.aaf_family`); err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(ctx, `UPDATE accounts SET status = 'active', disappeared_at = NULL, updated_at = $1
		WHERE source = 'aaf' AND status <> 'active' AND person_id IN (SELECT id FROM stg_want WHERE want = 1)`, now); err != nil {
		return fmt.Errorf("import accounts: restore: %w", err)
	}
	// gone: deleted (by a Delta, or absent from a Complet), or no longer
	// entitled.
	gone := `SELECT p.id FROM persons p JOIN stg_deleted d ON d.aaf_id = p.aaf_id
		UNION SELECT id FROM stg_want WHERE want = 0`
	if _, err := t.tx.ExecContext(ctx, t.s.d.tempAs("stg_gone", gone)); err != nil {
		return fmt.Errorf("import accounts: absentees: %w", err)
	}
	if _, err := t.tx.ExecContext(ctx, t.s.d.analyzeTemp("stg_gone")); err != nil {
		return fmt.Errorf("import accounts: absentees: %w", err)
	}
	if err := count(counts.Disabled, `SELECT p.aaf_family, count(*) FROM accounts a JOIN persons p ON p.id = a.person_id
		WHERE a.source = 'aaf' AND a.status = 'active' AND a.person_id IN (SELECT id FROM stg_gone)
		GROUP BY p.aaf_family`); err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(ctx, `UPDATE accounts SET status = 'disabled', disappeared_at = $1, updated_at = $1
		WHERE source = 'aaf' AND status = 'active' AND person_id IN (SELECT id FROM stg_gone)`, now); err != nil {
		return fmt.Errorf("import accounts: disable: %w", err)
	}
	return nil
}

// ActiveAAFAccounts is the volumetry guard's baseline.
func (s *Store) ActiveAAFAccounts(ctx context.Context, fn func(aafID, structureAAFID string) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT p.aaf_id, COALESCE(st.aaf_id, '') FROM accounts a
		JOIN persons p ON p.id = a.person_id
		LEFT JOIN personas ps ON ps.person_id = p.id
		LEFT JOIN structures st ON st.id = ps.structure_id
		WHERE a.source = 'aaf' AND a.status = 'active' AND p.aaf_id IS NOT NULL`)
	if err != nil {
		return fmt.Errorf("active AAF accounts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, st string
		if err := rows.Scan(&id, &st); err != nil {
			return err
		}
		if err := fn(id, st); err != nil {
			return err
		}
	}
	return rows.Err()
}

// PurgeDisabled deletes AAF persons disabled before cutoff.
func (s *Store) PurgeDisabled(ctx context.Context, cutoff time.Time) (int, error) {
	var n int64
	err := s.Update(ctx, func(dtx directory.Tx) error {
		t := dtx.(*tx)
		if _, err := t.tx.ExecContext(ctx, t.s.d.tempAs("stg_purge", `SELECT person_id AS id FROM accounts
			WHERE source = 'aaf' AND status <> 'active' AND disappeared_at IS NOT NULL AND disappeared_at < $1`), cutoff.UTC()); err != nil {
			return fmt.Errorf("purge: %w", err)
		}
		// The related adults of a purged student lose a relation, which
		// may take their account away; the next import decides it for
		// them as for a changed record, since it only looks at parents
		// whose record or children changed (entitlements).
		if _, err := t.tx.ExecContext(ctx, `UPDATE persons SET checksum = '' WHERE source = 'aaf'
			AND id IN (SELECT parent_id FROM relations WHERE child_id IN (SELECT id FROM stg_purge))
			AND id NOT IN (SELECT id FROM stg_purge)`); err != nil {
			return fmt.Errorf("purge: parents of purged persons: %w", err)
		}
		for _, q := range personDependents {
			q = strings.ReplaceAll(q, "= $1", "IN (SELECT id FROM stg_purge)")
			if _, err := t.tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("purge: %w", err)
			}
		}
		res, err := t.tx.ExecContext(ctx, `DELETE FROM persons WHERE source = 'aaf' AND id IN (SELECT id FROM stg_purge)`)
		if err != nil {
			return fmt.Errorf("purge: %w", err)
		}
		n, _ = res.RowsAffected()
		if t.s.d.name == "sqlite" {
			if _, err := t.tx.ExecContext(ctx, `DROP TABLE stg_purge`); err != nil {
				return fmt.Errorf("purge: %w", err)
			}
		}
		if n > 0 {
			t.dirty = true
		}
		return nil
	})
	return int(n), err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func orEmpty(m map[string][]string) map[string][]string {
	if m == nil {
		return map[string][]string{}
	}
	return m
}
