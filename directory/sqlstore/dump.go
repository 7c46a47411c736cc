package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/enthub/enthub/directory"
	"github.com/lib/pq"
)

// The reversibility exports (package directory/dirdump) read and restore
// the directory through directory.Dumper and directory.Restorer.
var (
	_ directory.Dumper   = (*Store)(nil)
	_ directory.Restorer = (*Store)(nil)
)

// Dump runs fn on a REPEATABLE READ, read-only transaction on PostgreSQL
// (one snapshot, taking no lock). On SQLite every transaction takes the
// write lock at BEGIN (_txlock=immediate), which would stop logins for the
// length of the export, so fn reads the pool there.
func (s *Store) Dump(ctx context.Context, fn func(directory.DumpReader) error) error {
	if s.d.name != "postgres" {
		return fn(dumpReader{s.reader})
	}
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return fmt.Errorf("dump: begin: %w", err)
	}
	defer tx.Rollback() // read-only: nothing to commit
	return fn(dumpReader{reader{db: tx, queries: s.reader.queries}})
}

type dumpReader struct{ reader }

func (r dumpReader) DumpStructures(ctx context.Context, fn func(directory.Structure) error) error {
	return eachRow(ctx, r.db, `SELECT `+structureCols+` FROM structures ORDER BY id`, scanStructure, fn)
}

func (r dumpReader) DumpPersons(ctx context.Context, fn func(directory.Person) error) error {
	return eachRow(ctx, r.db, `SELECT `+personCols+` FROM persons ORDER BY id`, scanPerson, fn)
}

func (r dumpReader) DumpAccounts(ctx context.Context, fn func(directory.Account) error) error {
	return eachRow(ctx, r.db, `SELECT `+accountCols+` FROM accounts ORDER BY id`, scanAccount, fn)
}

func (r dumpReader) DumpSubjects(ctx context.Context, fn func(directory.Subject) error) error {
	return eachRow(ctx, r.db, `SELECT code, label FROM subjects ORDER BY code`,
		func(row interface{ Scan(...any) error }) (directory.Subject, error) {
			var x directory.Subject
			return x, row.Scan(&x.Code, &x.Label)
		}, fn)
}

func (r dumpReader) DumpMEFs(ctx context.Context, fn func(directory.MEF) error) error {
	return eachRow(ctx, r.db, `SELECT code, label, rattach, stat11 FROM mefs ORDER BY code`,
		func(row interface{ Scan(...any) error }) (directory.MEF, error) {
			var x directory.MEF
			return x, row.Scan(&x.Code, &x.Label, &x.Rattach, &x.Stat11)
		}, fn)
}

func (r dumpReader) DumpExternalLinks(ctx context.Context, fn func(directory.ExternalLink) error) error {
	return eachRow(ctx, r.db, `SELECT issuer, subject, account_id, created_at, last_used_at
		FROM external_links ORDER BY issuer, subject`, scanLink, fn)
}

func (r dumpReader) DumpServices(ctx context.Context, fn func(directory.ServiceRecord) error) error {
	return eachRow(ctx, r.db, `SELECT id, definition, updated_at FROM sso_services ORDER BY id`,
		func(row interface{ Scan(...any) error }) (directory.ServiceRecord, error) {
			var x directory.ServiceRecord
			var def string
			var at int64
			err := row.Scan(&x.ID, &def, &at)
			x.Definition, x.UpdatedAt = []byte(def), fromMicros(at)
			return x, err
		}, fn)
}

func (r dumpReader) DumpGuests(ctx context.Context, fn func(directory.GuestRecord) error) error {
	return eachRow(ctx, r.db, `SELECT `+guestCols+` FROM guests ORDER BY account_id`, scanGuest, fn)
}

func (r dumpReader) DumpSpaces(ctx context.Context, fn func(directory.Space) error) error {
	return eachRow(ctx, r.db, `SELECT `+spaceCols+` FROM spaces ORDER BY id`, scanSpace, fn)
}

func (r dumpReader) DumpSpaceMembers(ctx context.Context, fn func(directory.SpaceMember) error) error {
	return eachRow(ctx, r.db, spaceMemberSelect+` ORDER BY m.space_id, m.account_id`, scanSpaceMember, fn)
}

// restoredTables are checked empty before a restore: the directory's
// tables, the guest records, the service registry and the launcher's news
// and brandings, which a restore also fills.
var restoredTables = []string{"structures", "persons", "accounts", "personas", "groups", "memberships",
	"relations", "subjects", "mefs", "external_links", "guests", "spaces", "space_members", "sso_services", "portal_news", "portal_branding"}

// danglingChecks find, after a restore, a row whose reference points
// nowhere: the link tables have no foreign keys (see migrations.go), so
// this is where a hand-edited export is caught. Each query returns the
// referring record, the field and the missing id.
var danglingChecks = []string{
	`SELECT 'account ' || a.id, 'person_id', a.person_id FROM accounts a LEFT JOIN persons p ON p.id = a.person_id WHERE p.id IS NULL`,
	`SELECT 'persona ' || x.id, 'person_id', x.person_id FROM personas x LEFT JOIN persons p ON p.id = x.person_id WHERE p.id IS NULL`,
	`SELECT 'persona ' || x.id, 'structure_id', x.structure_id FROM personas x LEFT JOIN structures s ON s.id = x.structure_id WHERE s.id IS NULL`,
	`SELECT 'group ' || g.id, 'structure_id', g.structure_id FROM groups g LEFT JOIN structures s ON s.id = g.structure_id WHERE s.id IS NULL`,
	`SELECT 'membership of ' || m.person_id || ' in ' || m.group_id, 'group_id', m.group_id FROM memberships m LEFT JOIN groups g ON g.id = m.group_id WHERE g.id IS NULL`,
	`SELECT 'membership of ' || m.person_id || ' in ' || m.group_id, 'person_id', m.person_id FROM memberships m LEFT JOIN persons p ON p.id = m.person_id WHERE p.id IS NULL`,
	`SELECT 'relation ' || r.parent_id || ' → ' || r.child_id, 'parent_id', r.parent_id FROM relations r LEFT JOIN persons p ON p.id = r.parent_id WHERE p.id IS NULL`,
	`SELECT 'relation ' || r.parent_id || ' → ' || r.child_id, 'child_id', r.child_id FROM relations r LEFT JOIN persons p ON p.id = r.child_id WHERE p.id IS NULL`,
	`SELECT 'guest ' || g.account_id, 'structure_id', g.structure_id FROM guests g LEFT JOIN structures s ON s.id = g.structure_id WHERE s.id IS NULL`,
	`SELECT 'news ' || n.id, 'structure_id', n.structure_id FROM portal_news n LEFT JOIN structures s ON s.id = n.structure_id WHERE n.structure_id <> '' AND s.id IS NULL`,
}

// Restore writes the rows fn gives verbatim, in one transaction.
func (s *Store) Restore(ctx context.Context, fn func(directory.RestoreTx) error) error {
	defer s.writing()()
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("restore: begin: %w", err)
	}
	defer sqlTx.Rollback() // after Commit, a no-op
	for _, t := range restoredTables {
		var one int
		switch err := sqlTx.QueryRowContext(ctx, `SELECT 1 FROM `+t+` LIMIT 1`).Scan(&one); {
		case err == nil:
			return fmt.Errorf("restore: table %s holds rows: %w", t, directory.ErrNotEmpty)
		case err != sql.ErrNoRows:
			return fmt.Errorf("restore: table %s: %w", t, err)
		}
	}
	rt := &restoreTx{tx: sqlTx, pg: s.d.name == "postgres", stmts: map[string]*sql.Stmt{}}
	defer rt.close()
	if err := fn(rt); err != nil {
		return err
	}
	if err := rt.flush(ctx); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	for _, q := range danglingChecks {
		var what, field, id string
		switch err := sqlTx.QueryRowContext(ctx, q+` LIMIT 1`).Scan(&what, &field, &id); {
		case err == nil:
			return fmt.Errorf("restore: %s: field %s: %q is not in the export", what, field, id)
		case err != sql.ErrNoRows:
			return fmt.Errorf("restore: reference check: %w", err)
		}
	}
	// Read models (the LDAP front, the service registry) watch these
	// counters: a restored store must not look unchanged to them.
	if _, err := sqlTx.ExecContext(ctx, `UPDATE meta SET value = value + 1 WHERE name = 'generation'`); err != nil {
		return fmt.Errorf("restore: bump generation: %w", err)
	}
	if _, err := sqlTx.ExecContext(ctx, `UPDATE sso_services_generation SET generation = generation + 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("restore: bump services generation: %w", err)
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("restore: commit: %w", err)
	}
	return nil
}

// restoreTx writes rows table by table: on PostgreSQL through COPY (one
// stream per run of rows of a table, as an export holds each table's rows
// together), elsewhere through one prepared INSERT per table.
type restoreTx struct {
	tx    *sql.Tx
	pg    bool
	stmts map[string]*sql.Stmt // SQLite: INSERT per table
	// PostgreSQL: the COPY in progress; no other statement may run on the
	// connection until it is flushed.
	copyTable string
	copyStmt  *sql.Stmt
}

func (t *restoreTx) close() {
	for _, st := range t.stmts {
		st.Close()
	}
	if t.copyStmt != nil {
		t.copyStmt.Close()
	}
}

// row writes one row of table; what names the record in errors.
func (t *restoreTx) row(ctx context.Context, what, table string, cols []string, args ...any) error {
	if !t.pg {
		st, ok := t.stmts[table]
		if !ok {
			ph := make([]string, len(cols))
			for i := range ph {
				ph[i] = fmt.Sprintf("$%d", i+1)
			}
			var err error
			st, err = t.tx.PrepareContext(ctx, `INSERT INTO `+table+` (`+strings.Join(cols, ", ")+`) VALUES (`+strings.Join(ph, ", ")+`)`)
			if err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			t.stmts[table] = st
		}
		_, err := st.ExecContext(ctx, args...)
		return conflict(err, what)
	}
	if t.copyTable != table {
		if err := t.flush(ctx); err != nil {
			return err
		}
		st, err := t.tx.PrepareContext(ctx, "COPY "+table+" ("+strings.Join(cols, ", ")+") FROM STDIN")
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		t.copyTable, t.copyStmt = table, st
	}
	if _, err := t.copyStmt.ExecContext(ctx, args...); err != nil {
		return copyErr(err, table, what)
	}
	return nil
}

// flush ends the COPY in progress, where PostgreSQL checks the rows sent.
func (t *restoreTx) flush(ctx context.Context) error {
	if t.copyStmt == nil {
		return nil
	}
	st, table := t.copyStmt, t.copyTable
	t.copyStmt, t.copyTable = nil, ""
	_, err := st.ExecContext(ctx)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	return copyErr(err, table, "")
}

// copyErr names the table and, from PostgreSQL's detail, the row at fault
// (COPY reports a duplicate when its batch is checked, not at its row).
func copyErr(err error, table, what string) error {
	if err == nil {
		return nil
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		msg := pqErr.Message
		if pqErr.Detail != "" {
			msg += ": " + pqErr.Detail
		}
		if pqErr.Code == "23505" || pqErr.Code == "23503" {
			return fmt.Errorf("table %s, %w: %w: %s", table, directory.ErrBatch, directory.ErrConflict, msg)
		}
		return fmt.Errorf("table %s, %w: %s", table, directory.ErrBatch, msg)
	}
	if what != "" {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("table %s: %w", table, err)
}

var (
	structureRestoreCols = []string{"id", "aaf_id", "uai", "name", "type", "type_code", "city", "postal_code", "contract",
		"bassin", "academie", "academie_code", "attached", "extra", "source", "checksum", "created_at", "updated_at"}
	personRestoreCols = []string{"id", "aaf_id", "aaf_family", "source", "last_name", "first_name", "birth_name",
		"other_names", "title", "birth_date", "ine", "email", "personal_email", "phone", "mobile", "address",
		"postal_code", "city", "country", "mef", "subjects", "extra", "checksum", "created_at", "updated_at", "search_name"}
	accountRestoreCols = []string{"id", "person_id", "login", "status", "source", "valid_from", "valid_until",
		"disappeared_at", "password_hash", "created_at", "updated_at"}
)

func (t *restoreTx) RestoreStructure(ctx context.Context, s directory.Structure) error {
	return t.row(ctx, "structure "+s.ID, "structures", structureRestoreCols,
		s.ID, nullable(s.AAFID), s.UAI, s.Name, s.Type, s.TypeCode, s.City, s.PostalCode, s.Contract, s.Bassin,
		s.Academie, s.AcademieCode, marshalCol(nonNil(s.Attached)), marshalCol(nonNilMap(s.Extra)), s.Source,
		s.Checksum, s.CreatedAt.UTC(), s.UpdatedAt.UTC())
}

func (t *restoreTx) RestorePerson(ctx context.Context, p directory.Person) error {
	return t.row(ctx, "person "+p.ID, "persons", personRestoreCols,
		p.ID, nullable(p.AAFID), p.AAFFamily, p.Source, p.LastName, p.FirstName, p.BirthName,
		marshalCol(nonNil(p.OtherNames)), p.Title, p.BirthDate, p.INE, p.Email, p.PersonalEmail, p.Phone, p.Mobile,
		p.Address, p.PostalCode, p.City, p.Country, p.MEF, marshalCol(nonNil(p.Subjects)), marshalCol(nonNilMap(p.Extra)),
		p.Checksum, p.CreatedAt.UTC(), p.UpdatedAt.UTC(), searchName(p.FirstName, p.LastName))
}

func (t *restoreTx) RestoreAccount(ctx context.Context, a directory.Account) error {
	return t.row(ctx, "account "+a.ID+" (login "+a.Login+")", "accounts", accountRestoreCols,
		a.ID, a.PersonID, a.Login, a.Status, a.Source, timeArg(a.ValidFrom), timeArg(a.ValidUntil),
		timeArg(a.DisappearedAt), a.PasswordHash, a.CreatedAt.UTC(), a.UpdatedAt.UTC())
}

func (t *restoreTx) RestorePersona(ctx context.Context, p directory.Persona) error {
	return t.row(ctx, "persona "+p.ID, "personas", []string{"id", "person_id", "structure_id", "profile", "functions", "source"},
		p.ID, p.PersonID, p.StructureID, p.Profile, marshalCol(nonNil(p.Functions)), p.Source)
}

func (t *restoreTx) RestoreGroup(ctx context.Context, g directory.Group) error {
	return t.row(ctx, "group "+g.ID, "groups", []string{"id", "structure_id", "kind", "code", "name", "source"},
		g.ID, g.StructureID, g.Kind, g.Code, g.Name, g.Source)
}

func (t *restoreTx) RestoreMembership(ctx context.Context, m directory.Membership) error {
	return t.row(ctx, fmt.Sprintf("membership of %s in %s", m.PersonID, m.GroupID), "memberships",
		[]string{"group_id", "person_id", "role", "subjects", "head_teacher"},
		m.GroupID, m.PersonID, m.Role, marshalCol(nonNil(m.Subjects)), m.HeadTeacher)
}

func (t *restoreTx) RestoreRelation(ctx context.Context, r directory.Relation) error {
	return t.row(ctx, fmt.Sprintf("relation %s → %s", r.ParentID, r.ChildID), "relations",
		[]string{"parent_id", "child_id", "lien_parente", "resp_financier", "resp_legal", "contact", "paiement"},
		r.ParentID, r.ChildID, r.LienParente, r.RespFinancier, r.RespLegal, r.Contact, r.Paiement)
}

func (t *restoreTx) RestoreSubject(ctx context.Context, s directory.Subject) error {
	return t.row(ctx, "subject "+s.Code, "subjects", []string{"code", "label"}, s.Code, s.Label)
}

func (t *restoreTx) RestoreMEF(ctx context.Context, m directory.MEF) error {
	return t.row(ctx, "MEF "+m.Code, "mefs", []string{"code", "label", "rattach", "stat11"}, m.Code, m.Label, m.Rattach, m.Stat11)
}

// RestoreExternalLink needs the account restored first: external_links is
// the one table with a foreign key (to accounts).
func (t *restoreTx) RestoreExternalLink(ctx context.Context, l directory.ExternalLink) error {
	return t.row(ctx, fmt.Sprintf("link %s|%s", l.Issuer, l.Subject), "external_links",
		[]string{"issuer", "subject", "account_id", "created_at", "last_used_at"},
		l.Issuer, l.Subject, l.AccountID, l.CreatedAt.UTC(), timeArg(l.LastUsedAt))
}

// RestoreGuest needs the account restored first (foreign key to
// accounts); the revocation instant stays absent when it was.
func (t *restoreTx) RestoreGuest(ctx context.Context, g directory.GuestRecord) error {
	return t.row(ctx, "guest "+g.AccountID, "guests",
		[]string{"account_id", "structure_id", "role", "created_by", "created_at", "revoked_at", "revoked_by"},
		g.AccountID, g.StructureID, g.Role, g.CreatedBy, micros(g.CreatedAt), microsArg(g.RevokedAt), g.RevokedBy)
}

// RestoreSpace writes a space as exported.
func (t *restoreTx) RestoreSpace(ctx context.Context, s directory.Space) error {
	return t.row(ctx, "space "+s.ID, "spaces", []string{"id", "name", "description", "created_at", "updated_at"},
		s.ID, s.Name, s.Description, micros(s.CreatedAt), micros(s.UpdatedAt))
}

// RestoreSpaceMember needs its space and its account restored first
// (foreign keys).
func (t *restoreTx) RestoreSpaceMember(ctx context.Context, m directory.SpaceMember) error {
	return t.row(ctx, "member "+m.AccountID+" of space "+m.SpaceID, "space_members",
		[]string{"space_id", "account_id", "added_by", "added_at"}, m.SpaceID, m.AccountID, m.AddedBy, micros(m.AddedAt))
}

func (t *restoreTx) RestoreService(ctx context.Context, s directory.ServiceRecord) error {
	return t.row(ctx, "service "+s.ID, "sso_services", []string{"id", "definition", "updated_at"},
		s.ID, string(s.Definition), micros(s.UpdatedAt))
}

// nonNilMap makes a nil map marshal as {} rather than null, as PutPerson
// stores it.
func nonNilMap(m map[string][]string) map[string][]string {
	if m == nil {
		return map[string][]string{}
	}
	return m
}
