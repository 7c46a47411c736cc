package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/enthub/enthub/directory"
	"github.com/lib/pq"
	"modernc.org/sqlite"
)

// tx implements directory.Tx.
type tx struct {
	reader
	tx *sql.Tx
	s  *Store
	// dirty is set by every write to directory data, so that Update bumps
	// the generation read models watch; journal and audit writes leave it.
	dirty bool
	// unprepared are the execCached queries not yet in the statement
	// cache; Update prepares them once the transaction has ended.
	unprepared []string
}

// execCached runs q, one of the writes every brokered login makes, in the
// transaction through the Store's statement cache: modernc's SQLite
// otherwise parses it again each time. A query not yet cached runs plain
// and is prepared after the transaction (preparing needs a connection of
// the pool; taking one while holding this one could wait forever).
func (t *tx) execCached(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := t.s.cachedStmt(q); st != nil {
		return t.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	t.unprepared = append(t.unprepared, q)
	return t.tx.ExecContext(ctx, q, args...)
}

func (t *tx) PutStructure(ctx context.Context, s *directory.Structure) error {
	t.dirty = true
	now := t.s.opts.Now().UTC()
	if s.ID == "" {
		s.ID = t.s.opts.NewID()
		s.CreatedAt = now
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now
	}
	s.UpdatedAt = now
	if s.Source == "" {
		s.Source = directory.SourceManual
	}
	extra := s.Extra
	if extra == nil {
		extra = map[string][]string{}
	}
	_, err := t.tx.ExecContext(ctx, `INSERT INTO structures (id, aaf_id, uai, name, type, type_code, city, postal_code,
		contract, bassin, academie, academie_code, attached, source, checksum, created_at, updated_at, extra)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
		ON CONFLICT (id) DO UPDATE SET aaf_id = excluded.aaf_id, uai = excluded.uai, name = excluded.name,
		type = excluded.type, type_code = excluded.type_code, city = excluded.city, postal_code = excluded.postal_code,
		contract = excluded.contract, bassin = excluded.bassin, academie = excluded.academie,
		academie_code = excluded.academie_code, attached = excluded.attached, source = excluded.source,
		checksum = excluded.checksum, updated_at = excluded.updated_at, extra = excluded.extra`,
		s.ID, nullable(s.AAFID), s.UAI, s.Name, s.Type, s.TypeCode, s.City, s.PostalCode, s.Contract, s.Bassin,
		s.Academie, s.AcademieCode, marshalCol(nonNil(s.Attached)), s.Source, s.Checksum, s.CreatedAt.UTC(), now, marshalCol(extra))
	return conflict(err, "structure "+s.ID+" (AAF id "+s.AAFID+")")
}

func (t *tx) DeleteStructure(ctx context.Context, id string) error {
	t.dirty = true
	if err := t.deleteDependents(ctx, "structure "+id, id,
		`DELETE FROM memberships WHERE group_id IN (SELECT id FROM groups WHERE structure_id = $1)`,
		`DELETE FROM groups WHERE structure_id = $1`,
		`DELETE FROM personas WHERE structure_id = $1`); err != nil {
		return err
	}
	return t.deleteOne(ctx, `DELETE FROM structures WHERE id = $1`, "structure "+id, id)
}

// deleteDependents removes the rows that point at a record about to go;
// the link tables have no foreign keys to cascade (see migrations.go).
func (t *tx) deleteDependents(ctx context.Context, what, id string, stmts ...string) error {
	for _, q := range stmts {
		if _, err := t.tx.ExecContext(ctx, q, id); err != nil {
			return fmt.Errorf("delete %s: %w", what, err)
		}
	}
	return nil
}

// personDependents are the rows that point at a person.
var personDependents = []string{
	`DELETE FROM external_links WHERE account_id IN (SELECT id FROM accounts WHERE person_id = $1)`,
	`DELETE FROM accounts WHERE person_id = $1`,
	`DELETE FROM personas WHERE person_id = $1`,
	`DELETE FROM memberships WHERE person_id = $1`,
	`DELETE FROM relations WHERE parent_id = $1 OR child_id = $1`,
}

func (t *tx) PutPerson(ctx context.Context, p *directory.Person) error {
	t.dirty = true
	now := t.s.opts.Now().UTC()
	if p.ID == "" {
		p.ID = t.s.opts.NewID()
	}
	if p.CreatedAt.IsZero() {
		p.CreatedAt = now
	}
	p.UpdatedAt = now
	if p.Source == "" {
		p.Source = directory.SourceManual
	}
	extra := p.Extra
	if extra == nil {
		extra = map[string][]string{}
	}
	_, err := t.tx.ExecContext(ctx, `INSERT INTO persons (id, aaf_id, aaf_family, source, last_name, first_name, birth_name,
		other_names, title, birth_date, ine, email, personal_email, phone, mobile, address, postal_code, city,
		country, mef, subjects, extra, checksum, created_at, updated_at, search_name)
		VALUES ($1, $2, $25, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $26)
		ON CONFLICT (id) DO UPDATE SET aaf_id = excluded.aaf_id, aaf_family = excluded.aaf_family, source = excluded.source,
		last_name = excluded.last_name, first_name = excluded.first_name, birth_name = excluded.birth_name,
		other_names = excluded.other_names, title = excluded.title, birth_date = excluded.birth_date,
		ine = excluded.ine, email = excluded.email, personal_email = excluded.personal_email,
		phone = excluded.phone, mobile = excluded.mobile, address = excluded.address,
		postal_code = excluded.postal_code, city = excluded.city, country = excluded.country, mef = excluded.mef,
		subjects = excluded.subjects, extra = excluded.extra, checksum = excluded.checksum,
		updated_at = excluded.updated_at, search_name = excluded.search_name`,
		p.ID, nullable(p.AAFID), p.Source, p.LastName, p.FirstName, p.BirthName, marshalCol(nonNil(p.OtherNames)),
		p.Title, p.BirthDate, p.INE, p.Email, p.PersonalEmail, p.Phone, p.Mobile, p.Address, p.PostalCode, p.City,
		p.Country, p.MEF, marshalCol(nonNil(p.Subjects)), marshalCol(extra), p.Checksum, p.CreatedAt.UTC(), now, p.AAFFamily,
		searchName(p.FirstName, p.LastName))
	return conflict(err, "person "+p.ID+" (AAF id "+p.AAFID+")")
}

func (t *tx) DeletePerson(ctx context.Context, id string) error {
	t.dirty = true
	if err := t.deleteDependents(ctx, "person "+id, id, personDependents...); err != nil {
		return err
	}
	return t.deleteOne(ctx, `DELETE FROM persons WHERE id = $1`, "person "+id, id)
}

func (t *tx) PutAccount(ctx context.Context, a *directory.Account) error {
	t.dirty = true
	now := t.s.opts.Now().UTC()
	if a.ID == "" {
		a.ID = t.s.opts.NewID()
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = now
	}
	a.UpdatedAt = now
	if a.Status == "" {
		a.Status = directory.StatusActive
	}
	if a.Source == "" {
		a.Source = directory.SourceManual
	}
	if a.Login == "" || a.PersonID == "" {
		return fmt.Errorf("account %s: login and person are required", a.ID)
	}
	_, err := t.tx.ExecContext(ctx, `INSERT INTO accounts (id, person_id, login, status, source, valid_from,
		valid_until, disappeared_at, password_hash, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (id) DO UPDATE SET person_id = excluded.person_id, login = excluded.login,
		status = excluded.status, source = excluded.source, valid_from = excluded.valid_from,
		valid_until = excluded.valid_until, disappeared_at = excluded.disappeared_at,
		password_hash = excluded.password_hash, updated_at = excluded.updated_at`,
		a.ID, a.PersonID, a.Login, a.Status, a.Source, timeArg(a.ValidFrom), timeArg(a.ValidUntil),
		timeArg(a.DisappearedAt), a.PasswordHash, a.CreatedAt.UTC(), now)
	return conflict(err, "account "+a.ID+" (login "+a.Login+")")
}

func (t *tx) SetPersonas(ctx context.Context, personID string, source directory.Source, ps []directory.Persona) error {
	t.dirty = true
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM personas WHERE person_id = $1 AND source = $2`, personID, source); err != nil {
		return fmt.Errorf("personas of %s: %w", personID, err)
	}
	for i := range ps {
		p := &ps[i]
		if p.ID == "" {
			p.ID = t.s.opts.NewID()
		}
		p.PersonID, p.Source = personID, source
		if !p.Profile.Valid() {
			return fmt.Errorf("persona of %s in %s: unknown profile %q", personID, p.StructureID, p.Profile)
		}
		if _, err := t.tx.ExecContext(ctx, `INSERT INTO personas (id, person_id, structure_id, profile, functions, source)
			VALUES ($1, $2, $3, $4, $5, $6)`, p.ID, personID, p.StructureID, p.Profile, marshalCol(nonNil(p.Functions)), source); err != nil {
			return conflict(err, fmt.Sprintf("persona of %s in %s as %s", personID, p.StructureID, p.Profile))
		}
	}
	return nil
}

func (t *tx) PutGroup(ctx context.Context, g *directory.Group) error {
	t.dirty = true
	if g.ID == "" {
		g.ID = t.s.opts.NewID()
	}
	if g.Source == "" {
		g.Source = directory.SourceManual
	}
	_, err := t.tx.ExecContext(ctx, `INSERT INTO groups (id, structure_id, kind, code, name, source)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET structure_id = excluded.structure_id, kind = excluded.kind,
		code = excluded.code, name = excluded.name, source = excluded.source`,
		g.ID, g.StructureID, g.Kind, g.Code, g.Name, g.Source)
	return conflict(err, fmt.Sprintf("%s %s$%s", g.Kind, g.StructureID, g.Code))
}

func (t *tx) DeleteGroup(ctx context.Context, id string) error {
	t.dirty = true
	if err := t.deleteDependents(ctx, "group "+id, id, `DELETE FROM memberships WHERE group_id = $1`); err != nil {
		return err
	}
	return t.deleteOne(ctx, `DELETE FROM groups WHERE id = $1`, "group "+id, id)
}

func (t *tx) SetMemberships(ctx context.Context, personID string, ms []directory.Membership) error {
	t.dirty = true
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM memberships WHERE person_id = $1`, personID); err != nil {
		return fmt.Errorf("memberships of %s: %w", personID, err)
	}
	for _, m := range ms {
		if _, err := t.tx.ExecContext(ctx, `INSERT INTO memberships (group_id, person_id, role, subjects, head_teacher)
			VALUES ($1, $2, $3, $4, $5)`, m.GroupID, personID, m.Role, marshalCol(nonNil(m.Subjects)), m.HeadTeacher); err != nil {
			return conflict(err, fmt.Sprintf("membership of %s in %s", personID, m.GroupID))
		}
	}
	return nil
}

func (t *tx) SetChildRelations(ctx context.Context, childID string, rs []directory.Relation) error {
	t.dirty = true
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM relations WHERE child_id = $1`, childID); err != nil {
		return fmt.Errorf("relations of %s: %w", childID, err)
	}
	for _, r := range rs {
		if _, err := t.tx.ExecContext(ctx, `INSERT INTO relations (parent_id, child_id, lien_parente, resp_financier,
			resp_legal, contact, paiement) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			r.ParentID, childID, r.LienParente, r.RespFinancier, r.RespLegal, r.Contact, r.Paiement); err != nil {
			return conflict(err, fmt.Sprintf("relation %s → %s", r.ParentID, childID))
		}
	}
	return nil
}

func (t *tx) PutSubject(ctx context.Context, s directory.Subject) error {
	t.dirty = true
	_, err := t.tx.ExecContext(ctx, `INSERT INTO subjects (code, label) VALUES ($1, $2)
		ON CONFLICT (code) DO UPDATE SET label = excluded.label`, s.Code, s.Label)
	return conflict(err, "subject "+s.Code)
}

func (t *tx) PutMEF(ctx context.Context, m directory.MEF) error {
	t.dirty = true
	_, err := t.tx.ExecContext(ctx, `INSERT INTO mefs (code, label, rattach, stat11) VALUES ($1, $2, $3, $4)
		ON CONFLICT (code) DO UPDATE SET label = excluded.label, rattach = excluded.rattach, stat11 = excluded.stat11`,
		m.Code, m.Label, m.Rattach, m.Stat11)
	return conflict(err, "MEF "+m.Code)
}

// PutExternalLink and DeleteExternalLink leave the generation alone: no
// read model holds links, and a first brokered login, which stores one,
// would otherwise make the LDAP server rebuild its copy of the whole
// directory (see directory.Reader.Generation).
func (t *tx) PutExternalLink(ctx context.Context, l directory.ExternalLink) error {
	if l.CreatedAt.IsZero() {
		l.CreatedAt = t.s.opts.Now()
	}
	_, err := t.execCached(ctx, `INSERT INTO external_links (issuer, subject, account_id, created_at, last_used_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (issuer, subject) DO UPDATE SET account_id = excluded.account_id, last_used_at = excluded.last_used_at`,
		l.Issuer, l.Subject, l.AccountID, l.CreatedAt.UTC(), timeArg(l.LastUsedAt))
	return conflict(err, fmt.Sprintf("link %s|%s", l.Issuer, l.Subject))
}

func (t *tx) DeleteExternalLink(ctx context.Context, issuer, subject string) error {
	return t.deleteOne(ctx, `DELETE FROM external_links WHERE issuer = $1 AND subject = $2`,
		fmt.Sprintf("link %s|%s", issuer, subject), issuer, subject)
}

func (t *tx) PutImport(ctx context.Context, r *directory.ImportRecord) error {
	if r.ID == "" {
		r.ID = t.s.opts.NewID()
	}
	_, err := t.tx.ExecContext(ctx, `INSERT INTO imports (id, started_at, finished_at, kind, files, content_hash,
		export_date, scope, outcome, reason, report) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (id) DO UPDATE SET finished_at = excluded.finished_at, outcome = excluded.outcome,
		reason = excluded.reason, report = excluded.report`,
		r.ID, r.StartedAt.UTC(), r.FinishedAt.UTC(), r.Kind, marshalCol(nonNil(r.Files)), r.ContentHash,
		r.ExportDate, r.Scope, r.Outcome, r.Reason, string(r.Report))
	return conflict(err, "import "+r.ID)
}

// eventsPerInsert bounds the rows of one INSERT on PostgreSQL (10
// parameters each, far below its limit).
const eventsPerInsert = 128

const eventInsert = `INSERT INTO events (time, type, account_id, structure_id, profile, service, outcome, reason, remote, details) VALUES `

// AppendEvents writes the events. The identity provider hands them over
// in batches of hundreds, so: on PostgreSQL, one multi-row INSERT per
// eventsPerInsert (lib/pq spends two round trips on each statement); on
// SQLite, one statement prepared for the batch (parsing is the cost
// there, and a long multi-row statement binds its parameters slower than
// single rows do).
func (t *tx) AppendEvents(ctx context.Context, es ...directory.Event) error {
	const row = "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
	if t.s.d.name != "postgres" {
		st, err := t.tx.PrepareContext(ctx, eventInsert+row)
		if err != nil {
			return fmt.Errorf("events: %w", err)
		}
		defer st.Close()
		for _, e := range es {
			if _, err := st.ExecContext(ctx, t.eventArgs(e, nil)...); err != nil {
				return fmt.Errorf("event %s: %w", e.Type, err)
			}
		}
		return nil
	}
	var q strings.Builder
	for len(es) > 0 {
		chunk := es[:min(len(es), eventsPerInsert)]
		es = es[len(chunk):]
		q.Reset()
		q.WriteString(eventInsert)
		args := make([]any, 0, 10*len(chunk))
		for i, e := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&q, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9, n+10)
			args = t.eventArgs(e, args)
		}
		if _, err := t.tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("events (%d, from %s): %w", len(chunk), chunk[0].Type, err)
		}
	}
	return nil
}

// eventArgs appends the columns of e, in eventInsert's order, to args.
func (t *tx) eventArgs(e directory.Event, args []any) []any {
	if e.Time.IsZero() {
		e.Time = t.s.opts.Now()
	}
	details := e.Details
	if details == nil {
		details = map[string]string{}
	}
	return append(args, e.Time.UTC(), e.Type, e.AccountID, e.StructureID, e.Profile, e.Service, e.Outcome, e.Reason, e.Remote,
		marshalCol(details))
}

func (t *tx) deleteOne(ctx context.Context, q, what string, args ...any) error {
	res, err := t.tx.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("delete %s: %w", what, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete %s: %w", what, directory.ErrNotFound)
	}
	return nil
}

// conflict maps unique and foreign-key violations of either backend to
// directory.ErrConflict, naming the record.
func conflict(err error, what string) error {
	if err == nil {
		return nil
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && (pqErr.Code == "23505" || pqErr.Code == "23503") {
		return fmt.Errorf("%s: %w: %s", what, directory.ErrConflict, pqErr.Message)
	}
	var sqlErr *sqlite.Error
	if errors.As(err, &sqlErr) && strings.Contains(sqlErr.Error(), "constraint failed") {
		return fmt.Errorf("%s: %w: %s", what, directory.ErrConflict, sqlErr.Error())
	}
	return fmt.Errorf("%s: %w", what, err)
}

// nullable stores an empty natural key as NULL so UNIQUE allows many.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nonNil makes nil slices marshal as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
