package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/enthub/enthub/directory"
)

// dbtx is what both *sql.DB and *sql.Tx offer; the reader runs on either.
type dbtx interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// queries carries the dialect to the methods that need it.
type queries struct{ d dialect }

// reader implements directory.Reader on a pool or a transaction.
type reader struct {
	db dbtx
	queries
}

const structureCols = `id, COALESCE(aaf_id, ''), uai, name, type, type_code, city, postal_code, contract, bassin, academie, academie_code, attached, extra, source, checksum, created_at, updated_at`

func scanStructure(row interface{ Scan(...any) error }) (directory.Structure, error) {
	var s directory.Structure
	var attached, extra string
	err := row.Scan(&s.ID, &s.AAFID, &s.UAI, &s.Name, &s.Type, &s.TypeCode, &s.City, &s.PostalCode,
		&s.Contract, &s.Bassin, &s.Academie, &s.AcademieCode, &attached, &extra, &s.Source, &s.Checksum,
		(*timeCol)(&s.CreatedAt), (*timeCol)(&s.UpdatedAt))
	if err != nil {
		return s, err
	}
	return s, errors.Join(unmarshalCol("structures.attached", attached, &s.Attached),
		unmarshalCol("structures.extra", extra, &s.Extra))
}

func (r reader) Structure(ctx context.Context, id string) (directory.Structure, error) {
	return oneStructure(r.db.QueryRowContext(ctx, `SELECT `+structureCols+` FROM structures WHERE id = $1`, id), "structure "+id)
}

func (r reader) StructureByAAFID(ctx context.Context, aafID string) (directory.Structure, error) {
	return oneStructure(r.db.QueryRowContext(ctx, `SELECT `+structureCols+` FROM structures WHERE aaf_id = $1`, aafID), "structure with AAF id "+aafID)
}

func (r reader) StructureByUAI(ctx context.Context, uai string) (directory.Structure, error) {
	return oneStructure(r.db.QueryRowContext(ctx, `SELECT `+structureCols+` FROM structures WHERE uai = $1 ORDER BY id LIMIT 1`, uai), "structure with UAI "+uai)
}

func oneStructure(row *sql.Row, what string) (directory.Structure, error) {
	s, err := scanStructure(row)
	return s, notFound(err, what)
}

func (r reader) ListStructures(ctx context.Context) ([]directory.Structure, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT `+structureCols+` FROM structures ORDER BY uai, name, id`)
	if err != nil {
		return nil, fmt.Errorf("list structures: %w", err)
	}
	return collect(rows, scanStructure)
}

const personCols = `id, COALESCE(aaf_id, ''), aaf_family, source, last_name, first_name, birth_name, other_names, title, birth_date, ine, email, personal_email, phone, mobile, address, postal_code, city, country, mef, subjects, extra, checksum, created_at, updated_at`

func scanPerson(row interface{ Scan(...any) error }) (directory.Person, error) {
	var p directory.Person
	var other, subjects, extra string
	err := row.Scan(&p.ID, &p.AAFID, &p.AAFFamily, &p.Source, &p.LastName, &p.FirstName, &p.BirthName, &other, &p.Title,
		&p.BirthDate, &p.INE, &p.Email, &p.PersonalEmail, &p.Phone, &p.Mobile, &p.Address, &p.PostalCode,
		&p.City, &p.Country, &p.MEF, &subjects, &extra, &p.Checksum,
		(*timeCol)(&p.CreatedAt), (*timeCol)(&p.UpdatedAt))
	if err != nil {
		return p, err
	}
	return p, errors.Join(
		unmarshalCol("persons.other_names", other, &p.OtherNames),
		unmarshalCol("persons.subjects", subjects, &p.Subjects),
		unmarshalCol("persons.extra", extra, &p.Extra))
}

func (r reader) Person(ctx context.Context, id string) (directory.Person, error) {
	p, err := scanPerson(r.db.QueryRowContext(ctx, `SELECT `+personCols+` FROM persons WHERE id = $1`, id))
	return p, notFound(err, "person "+id)
}

func (r reader) PersonByAAFID(ctx context.Context, aafID string) (directory.Person, error) {
	p, err := scanPerson(r.db.QueryRowContext(ctx, `SELECT `+personCols+` FROM persons WHERE aaf_id = $1`, aafID))
	return p, notFound(err, "person with AAF id "+aafID)
}

const accountCols = `id, person_id, login, status, source, valid_from, valid_until, disappeared_at, password_hash, created_at, updated_at`

func scanAccount(row interface{ Scan(...any) error }) (directory.Account, error) {
	var a directory.Account
	var from, until, gone nullTime
	err := row.Scan(&a.ID, &a.PersonID, &a.Login, &a.Status, &a.Source, &from, &until, &gone,
		&a.PasswordHash, (*timeCol)(&a.CreatedAt), (*timeCol)(&a.UpdatedAt))
	a.ValidFrom, a.ValidUntil, a.DisappearedAt = from.ptr(), until.ptr(), gone.ptr()
	return a, err
}

func (r reader) Account(ctx context.Context, id string) (directory.Account, error) {
	a, err := scanAccount(r.db.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = $1`, id))
	return a, notFound(err, "account "+id)
}

func (r reader) AccountByLogin(ctx context.Context, login string) (directory.Account, error) {
	a, err := scanAccount(r.db.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE login = $1`, login))
	return a, notFound(err, "account with login "+login)
}

func (r reader) AccountByPerson(ctx context.Context, personID string) (directory.Account, error) {
	a, err := scanAccount(r.db.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE person_id = $1`, personID))
	return a, notFound(err, "account of person "+personID)
}

func scanPersona(row interface{ Scan(...any) error }) (directory.Persona, error) {
	var p directory.Persona
	var fns string
	if err := row.Scan(&p.ID, &p.PersonID, &p.StructureID, &p.Profile, &fns, &p.Source); err != nil {
		return p, err
	}
	return p, unmarshalCol("personas.functions", fns, &p.Functions)
}

func (r reader) Personas(ctx context.Context, personID string) ([]directory.Persona, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT id, person_id, structure_id, profile, functions, source
		FROM personas WHERE person_id = $1 ORDER BY structure_id, profile`, personID)
	if err != nil {
		return nil, fmt.Errorf("personas of %s: %w", personID, err)
	}
	return collect(rows, scanPersona)
}

func scanMembership(row interface{ Scan(...any) error }) (directory.Membership, error) {
	var m directory.Membership
	var subjects string
	if err := row.Scan(&m.GroupID, &m.PersonID, &m.Role, &subjects, &m.HeadTeacher); err != nil {
		return m, err
	}
	return m, unmarshalCol("memberships.subjects", subjects, &m.Subjects)
}

func (r reader) Memberships(ctx context.Context, personID string) ([]directory.Membership, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT group_id, person_id, role, subjects, head_teacher
		FROM memberships WHERE person_id = $1 ORDER BY group_id, role`, personID)
	if err != nil {
		return nil, fmt.Errorf("memberships of %s: %w", personID, err)
	}
	return collect(rows, scanMembership)
}

func (r reader) GroupMembers(ctx context.Context, groupID string) ([]directory.Membership, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT group_id, person_id, role, subjects, head_teacher
		FROM memberships WHERE group_id = $1 ORDER BY role, person_id`, groupID)
	if err != nil {
		return nil, fmt.Errorf("members of %s: %w", groupID, err)
	}
	return collect(rows, scanMembership)
}

const groupCols = `id, structure_id, kind, code, name, source`

func scanGroup(row interface{ Scan(...any) error }) (directory.Group, error) {
	var g directory.Group
	err := row.Scan(&g.ID, &g.StructureID, &g.Kind, &g.Code, &g.Name, &g.Source)
	return g, err
}

func (r reader) Group(ctx context.Context, id string) (directory.Group, error) {
	g, err := scanGroup(r.db.QueryRowContext(ctx, `SELECT `+groupCols+` FROM groups WHERE id = $1`, id))
	return g, notFound(err, "group "+id)
}

func (r reader) GroupByCode(ctx context.Context, structureID string, kind directory.GroupKind, code string) (directory.Group, error) {
	g, err := scanGroup(r.db.QueryRowContext(ctx, `SELECT `+groupCols+` FROM groups
		WHERE structure_id = $1 AND kind = $2 AND code = $3`, structureID, kind, code))
	return g, notFound(err, fmt.Sprintf("%s %s$%s", kind, structureID, code))
}

func (r reader) ListGroups(ctx context.Context, structureID string) ([]directory.Group, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT `+groupCols+` FROM groups WHERE structure_id = $1 ORDER BY kind, code`, structureID)
	if err != nil {
		return nil, fmt.Errorf("groups of %s: %w", structureID, err)
	}
	return collect(rows, scanGroup)
}

func (r reader) Relations(ctx context.Context, personID string) ([]directory.Relation, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT parent_id, child_id, lien_parente, resp_financier, resp_legal, contact, paiement
		FROM relations WHERE parent_id = $1 OR child_id = $1 ORDER BY child_id, parent_id`, personID)
	if err != nil {
		return nil, fmt.Errorf("relations of %s: %w", personID, err)
	}
	return collect(rows, scanRelation)
}

func scanRelation(row interface{ Scan(...any) error }) (directory.Relation, error) {
	var x directory.Relation
	err := row.Scan(&x.ParentID, &x.ChildID, &x.LienParente, &x.RespFinancier, &x.RespLegal, &x.Contact, &x.Paiement)
	return x, err
}

func (r reader) Subject(ctx context.Context, code string) (directory.Subject, error) {
	var s directory.Subject
	err := r.db.QueryRowContext(ctx, `SELECT code, label FROM subjects WHERE code = $1`, code).Scan(&s.Code, &s.Label)
	return s, notFound(err, "subject "+code)
}

func (r reader) MEF(ctx context.Context, code string) (directory.MEF, error) {
	var m directory.MEF
	err := r.db.QueryRowContext(ctx, `SELECT code, label, rattach, stat11 FROM mefs WHERE code = $1`, code).
		Scan(&m.Code, &m.Label, &m.Rattach, &m.Stat11)
	return m, notFound(err, "MEF "+code)
}

func scanLink(row interface{ Scan(...any) error }) (directory.ExternalLink, error) {
	var l directory.ExternalLink
	var used nullTime
	err := row.Scan(&l.Issuer, &l.Subject, &l.AccountID, (*timeCol)(&l.CreatedAt), &used)
	l.LastUsedAt = used.ptr()
	return l, err
}

func (r reader) ExternalLink(ctx context.Context, issuer, subject string) (directory.ExternalLink, error) {
	l, err := scanLink(r.db.QueryRowContext(ctx, `SELECT issuer, subject, account_id, created_at, last_used_at
		FROM external_links WHERE issuer = $1 AND subject = $2`, issuer, subject))
	return l, notFound(err, fmt.Sprintf("link %s|%s", issuer, subject))
}

func (r reader) ExternalLinks(ctx context.Context, accountID string) ([]directory.ExternalLink, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT issuer, subject, account_id, created_at, last_used_at
		FROM external_links WHERE account_id = $1 ORDER BY issuer, subject`, accountID)
	if err != nil {
		return nil, fmt.Errorf("links of %s: %w", accountID, err)
	}
	return collect(rows, scanLink)
}

func (r reader) Stats(ctx context.Context) (directory.Stats, error) {
	st := directory.Stats{ByProfile: map[directory.Profile]int{}, BySource: map[directory.Source]int{}, ByStructure: []directory.StructureStats{}}
	if err := r.db.QueryRowContext(ctx, `SELECT count(*) FROM structures`).Scan(&st.Structures); err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	rows, err := r.db.QueryContext(ctx, `SELECT status, source, count(*) FROM accounts GROUP BY status, source`)
	if err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	for rows.Next() {
		var status directory.AccountStatus
		var source directory.Source
		var n int
		if err := rows.Scan(&status, &source, &n); err != nil {
			rows.Close()
			return st, fmt.Errorf("stats: %w", err)
		}
		switch status {
		case directory.StatusActive:
			st.Accounts.Active += n
			st.BySource[source] += n
		case directory.StatusDisabled:
			st.Accounts.Disabled += n
		case directory.StatusPendingPurge:
			st.Accounts.PendingPurge += n
		}
	}
	rows.Close()
	// A person counts once per profile however many schools they are in.
	rows, err = r.db.QueryContext(ctx, `SELECT p.profile, count(DISTINCT p.person_id)
		FROM personas p JOIN accounts a ON a.person_id = p.person_id
		WHERE a.status = 'active' GROUP BY p.profile`)
	if err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	for rows.Next() {
		var p directory.Profile
		var n int
		if err := rows.Scan(&p, &n); err != nil {
			rows.Close()
			return st, fmt.Errorf("stats: %w", err)
		}
		st.ByProfile[p] = n
	}
	rows.Close()
	rows, err = r.db.QueryContext(ctx, `SELECT s.id, COALESCE(s.aaf_id, ''), s.uai, s.name, p.profile, count(a.id)
		FROM structures s
		LEFT JOIN personas p ON p.structure_id = s.id
		LEFT JOIN accounts a ON a.person_id = p.person_id AND a.status = 'active'
		GROUP BY s.id, s.aaf_id, s.uai, s.name, p.profile
		ORDER BY s.uai, s.name, s.id`)
	if err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	defer rows.Close()
	idx := map[string]int{}
	for rows.Next() {
		var id, aaf, uai, name string
		var profile sql.NullString
		var n int
		if err := rows.Scan(&id, &aaf, &uai, &name, &profile, &n); err != nil {
			return st, fmt.Errorf("stats: %w", err)
		}
		i, ok := idx[id]
		if !ok {
			i = len(st.ByStructure)
			idx[id] = i
			st.ByStructure = append(st.ByStructure, directory.StructureStats{AAFID: aaf, UAI: uai, Name: name, ByProfile: map[directory.Profile]int{}})
		}
		if profile.Valid && n > 0 {
			st.ByStructure[i].ByProfile[directory.Profile(profile.String)] = n
		}
	}
	return st, rows.Err()
}

const importCols = `id, started_at, finished_at, kind, files, content_hash, export_date, scope, outcome, reason, report`

func scanImport(row interface{ Scan(...any) error }) (directory.ImportRecord, error) {
	var r directory.ImportRecord
	var files, report string
	if err := row.Scan(&r.ID, (*timeCol)(&r.StartedAt), (*timeCol)(&r.FinishedAt), &r.Kind, &files,
		&r.ContentHash, &r.ExportDate, &r.Scope, &r.Outcome, &r.Reason, &report); err != nil {
		return r, err
	}
	if report != "" {
		r.Report = []byte(report)
	}
	return r, unmarshalCol("imports.files", files, &r.Files)
}

func (r reader) Imports(ctx context.Context, limit int) ([]directory.ImportRecord, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := r.db.QueryContext(ctx, `SELECT `+importCols+` FROM imports ORDER BY started_at DESC, id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("imports: %w", err)
	}
	return collect(rows, scanImport)
}

// ImportByHash finds the last applied import of a delivery with that content.
func (r reader) ImportByHash(ctx context.Context, hash string) (directory.ImportRecord, error) {
	rec, err := scanImport(r.db.QueryRowContext(ctx, `SELECT `+importCols+` FROM imports
		WHERE content_hash = $1 AND outcome = 'applied' ORDER BY started_at DESC LIMIT 1`, hash))
	return rec, notFound(err, "import with hash "+hash)
}

func (r reader) LastApplied(ctx context.Context, scope string) (directory.ImportRecord, error) {
	rec, err := scanImport(r.db.QueryRowContext(ctx, `SELECT `+importCols+` FROM imports
		WHERE scope = $1 AND outcome = 'applied' AND export_date <> ''
		ORDER BY started_at DESC, id DESC LIMIT 1`, scope))
	return rec, notFound(err, "applied import of scope "+scope)
}

func (r reader) Events(ctx context.Context, f directory.EventFilter) ([]directory.Event, error) {
	q := `SELECT id, time, type, account_id, structure_id, profile, service, outcome, reason, remote, details FROM events WHERE 1=1`
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		q += fmt.Sprintf(" AND "+cond, len(args))
	}
	if f.Type != "" {
		add("type = $%d", f.Type)
	}
	if f.AccountID != "" {
		add("account_id = $%d", f.AccountID)
	}
	if !f.Since.IsZero() {
		add("time >= $%d", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		add("time < $%d", f.Until.UTC())
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	args = append(args, limit)
	q += fmt.Sprintf(" ORDER BY time DESC, id DESC LIMIT $%d", len(args))
	rows, err := r.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	return collect(rows, func(row interface{ Scan(...any) error }) (directory.Event, error) {
		var e directory.Event
		var details string
		if err := row.Scan(&e.ID, (*timeCol)(&e.Time), &e.Type, &e.AccountID, &e.StructureID, &e.Profile,
			&e.Service, &e.Outcome, &e.Reason, &e.Remote, &details); err != nil {
			return e, err
		}
		return e, unmarshalCol("events.details", details, &e.Details)
	})
}

func (r reader) EachPerson(ctx context.Context, fn func(directory.Person, directory.Account) error) error {
	type pa struct {
		p directory.Person
		a directory.Account
	}
	scan := func(row interface{ Scan(...any) error }) (pa, error) {
		var x pa
		var other, subjects, extra string
		var from, until, gone nullTime
		if err := row.Scan(&x.p.ID, &x.p.AAFID, &x.p.AAFFamily, &x.p.Source, &x.p.LastName, &x.p.FirstName, &x.p.BirthName,
			&other, &x.p.Title, &x.p.BirthDate, &x.p.INE, &x.p.Email, &x.p.PersonalEmail, &x.p.Phone, &x.p.Mobile,
			&x.p.Address, &x.p.PostalCode, &x.p.City, &x.p.Country, &x.p.MEF, &subjects, &extra, &x.p.Checksum,
			(*timeCol)(&x.p.CreatedAt), (*timeCol)(&x.p.UpdatedAt),
			&x.a.ID, &x.a.PersonID, &x.a.Login, &x.a.Status, &x.a.Source, &from, &until, &gone,
			&x.a.PasswordHash, (*timeCol)(&x.a.CreatedAt), (*timeCol)(&x.a.UpdatedAt)); err != nil {
			return x, err
		}
		x.a.ValidFrom, x.a.ValidUntil, x.a.DisappearedAt = from.ptr(), until.ptr(), gone.ptr()
		return x, errors.Join(unmarshalCol("persons.other_names", other, &x.p.OtherNames),
			unmarshalCol("persons.subjects", subjects, &x.p.Subjects),
			unmarshalCol("persons.extra", extra, &x.p.Extra))
	}
	return eachRow(ctx, r.db, `SELECT p.id, COALESCE(p.aaf_id, ''), p.aaf_family, p.source, p.last_name, p.first_name,
		p.birth_name, p.other_names, p.title, p.birth_date, p.ine, p.email, p.personal_email, p.phone, p.mobile,
		p.address, p.postal_code, p.city, p.country, p.mef, p.subjects, p.extra, p.checksum, p.created_at, p.updated_at,
		a.id, a.person_id, a.login, a.status, a.source, a.valid_from, a.valid_until, a.disappeared_at,
		a.password_hash, a.created_at, a.updated_at
		FROM persons p JOIN accounts a ON a.person_id = p.id ORDER BY p.id`, scan,
		func(x pa) error { return fn(x.p, x.a) })
}

// collect scans every row with scan and closes rows.
func collect[T any](rows *sql.Rows, scan func(interface{ Scan(...any) error }) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// notFound turns sql.ErrNoRows into directory.ErrNotFound naming what was
// looked for.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, directory.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func unmarshalCol(col, raw string, v any) error {
	if raw == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(raw), v); err != nil {
		return fmt.Errorf("column %s holds invalid JSON %q: %w", col, raw, err)
	}
	return nil
}

// timeCol scans a timestamp whichever way the driver returns it: time.Time
// (lib/pq, modernc on TIMESTAMP columns) or text.
type timeCol time.Time

func (t *timeCol) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		*t = timeCol(v.UTC())
	case string:
		return t.parse(v)
	case []byte:
		return t.parse(string(v))
	case nil:
		*t = timeCol(time.Time{})
	default:
		return fmt.Errorf("timestamp column holds %T", src)
	}
	return nil
}

func (t *timeCol) parse(s string) error {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05"} {
		if v, err := time.Parse(layout, s); err == nil {
			*t = timeCol(v.UTC())
			return nil
		}
	}
	return fmt.Errorf("timestamp column holds %q", s)
}

// nullTime is a nullable timestamp.
type nullTime struct {
	t     time.Time
	valid bool
}

func (n *nullTime) Scan(src any) error {
	if src == nil {
		*n = nullTime{}
		return nil
	}
	var t timeCol
	if err := t.Scan(src); err != nil {
		return err
	}
	*n = nullTime{t: time.Time(t), valid: true}
	return nil
}

func (n nullTime) ptr() *time.Time {
	if !n.valid {
		return nil
	}
	t := n.t
	return &t
}

// timeArg passes an optional time to the driver in UTC.
func timeArg(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC()
}

func (r reader) EachPersona(ctx context.Context, fn func(directory.Persona) error) error {
	return eachRow(ctx, r.db, `SELECT id, person_id, structure_id, profile, functions, source FROM personas ORDER BY person_id, structure_id, profile`,
		scanPersona, fn)
}

func (r reader) EachGroup(ctx context.Context, fn func(directory.Group) error) error {
	return eachRow(ctx, r.db, `SELECT `+groupCols+` FROM groups ORDER BY structure_id, kind, code`, scanGroup, fn)
}

func (r reader) EachMembership(ctx context.Context, fn func(directory.Membership) error) error {
	return eachRow(ctx, r.db, `SELECT group_id, person_id, role, subjects, head_teacher FROM memberships ORDER BY group_id, person_id, role`,
		scanMembership, fn)
}

func (r reader) EachRelation(ctx context.Context, fn func(directory.Relation) error) error {
	return eachRow(ctx, r.db, `SELECT parent_id, child_id, lien_parente, resp_financier, resp_legal, contact, paiement
		FROM relations ORDER BY child_id, parent_id`, scanRelation, fn)
}

func (r reader) Generation(ctx context.Context) (int64, error) {
	var g int64
	err := r.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = 'generation'`).Scan(&g)
	if err != nil {
		return 0, fmt.Errorf("generation: %w", err)
	}
	return g, nil
}

// eachRow streams one query's rows to fn. Rows are read as fn consumes
// them (both drivers stream), so memory stays flat whatever the table size;
// fn must not write to the store while the walk is open.
func eachRow[T any](ctx context.Context, db dbtx, q string,
	scan func(interface{ Scan(...any) error }) (T, error), fn func(T) error) error {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("walk %q: %w", q, err)
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return fmt.Errorf("walk %q: %w", q, err)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return rows.Err()
}
