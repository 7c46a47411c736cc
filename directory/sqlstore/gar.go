package sqlstore

import (
	"context"
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
