package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/enthub/enthub/directory"
)

var _ directory.GARJournal = (*Store)(nil)

// PutGARDelivery journals a GAR export and its delivery; an empty ID gets
// a new one.
func (s *Store) PutGARDelivery(ctx context.Context, d *directory.GARDelivery) error {
	if d.ID == "" {
		d.ID = s.opts.NewID()
	}
	_, err := s.exec(ctx, `INSERT INTO gar_deliveries (id, started_at, finished_at, archive, md5, files, elements,
		target, attempts, outcome, reason, counts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		d.ID, micros(d.StartedAt), micros(d.FinishedAt), d.Archive, d.MD5, d.Files, d.Elements, d.Target,
		d.Attempts, d.Outcome, d.Reason, string(d.Counts))
	if err != nil {
		return fmt.Errorf("journal GAR delivery %s: %w", d.Archive, err)
	}
	return nil
}

// GARDeliveries lists the GAR journal, newest first.
func (s *Store) GARDeliveries(ctx context.Context, limit int) ([]directory.GARDelivery, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.query(ctx, `SELECT id, started_at, finished_at, archive, md5, files, elements, target, attempts,
		outcome, reason, counts FROM gar_deliveries ORDER BY started_at DESC, id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("GAR journal: %w", err)
	}
	return collect(rows, func(r interface{ Scan(...any) error }) (directory.GARDelivery, error) {
		var d directory.GARDelivery
		var started, finished int64
		var counts string
		err := r.Scan(&d.ID, &started, &finished, &d.Archive, &d.MD5, &d.Files, &d.Elements, &d.Target, &d.Attempts,
			&d.Outcome, &d.Reason, &counts)
		d.StartedAt, d.FinishedAt, d.Counts = fromMicros(started), fromMicros(finished), []byte(counts)
		return d, err
	})
}

// advisoryGAR is held by the instance running the scheduled GAR export.
const advisoryGAR int64 = 0x656e746875620190 // "enthub" + 0x190 (400, the GAR's migrations)

// TryGARLock takes the lock of the scheduled GAR export: on PostgreSQL a
// session advisory lock, so that of the instances whose schedule fires at
// once only one exports and delivers; on SQLite (one host) it always
// succeeds. ok false means another instance holds it. release frees it.
func (s *Store) TryGARLock(ctx context.Context) (release func(), ok bool, err error) {
	if s.d.name != "postgres" {
		return func() {}, true, nil
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("GAR export lock: %w", err)
	}
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, advisoryGAR).Scan(&ok); err != nil || !ok {
		conn.Close()
		if err != nil {
			return nil, false, fmt.Errorf("GAR export lock: %w", err)
		}
		return nil, false, nil
	}
	return func() {
		conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, advisoryGAR) //nolint:errcheck
		conn.Close()
	}, true, nil
}

// EachGARPerson walks, in id order, the persons the GAR export may need —
// those with a persona other than parent — with only the fields it reads:
// no AAF attributes to decode (most of EachPerson's cost) and no parent
// (most of the persons) read at all.
func (s *Store) EachGARPerson(ctx context.Context, fn func(directory.Person, directory.AccountStatus) error) error {
	const q = `SELECT p.id, p.last_name, p.first_name, p.birth_name, p.other_names, p.title, p.birth_date, p.email,
		p.personal_email, p.mef, p.subjects, a.status
		FROM persons p JOIN accounts a ON a.person_id = p.id
		WHERE EXISTS (SELECT 1 FROM personas pa WHERE pa.person_id = p.id AND pa.profile <> 'parent')
		ORDER BY p.id`
	rows, err := s.query(ctx, q)
	if err != nil {
		return fmt.Errorf("GAR export: persons: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p directory.Person
		var status directory.AccountStatus
		var other, subjects string
		if err := rows.Scan(&p.ID, &p.LastName, &p.FirstName, &p.BirthName, &other, &p.Title, &p.BirthDate, &p.Email,
			&p.PersonalEmail, &p.MEF, &subjects, &status); err != nil {
			return fmt.Errorf("GAR export: persons: %w", err)
		}
		if err := errors.Join(unmarshalCol("persons.other_names", other, &p.OtherNames),
			unmarshalCol("persons.subjects", subjects, &p.Subjects)); err != nil {
			return fmt.Errorf("GAR export: person %s: %w", p.ID, err)
		}
		if err := fn(p, status); err != nil {
			return err
		}
	}
	return rows.Err()
}
