package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The reads behind the gauges of /metrics. They run at each scrape, so
// each is one indexed or small query.

// LastImport returns when the last delivery with this outcome (applied,
// refused…) finished, the zero time when none did.
func (s *Store) LastImport(ctx context.Context, outcome string) (time.Time, error) {
	var t timeCol
	err := s.db.QueryRowContext(ctx, `SELECT finished_at FROM imports WHERE outcome = $1
		ORDER BY finished_at DESC LIMIT 1`, outcome).Scan(&t)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("last %s import: %w", outcome, err)
	}
	return time.Time(t), nil
}

// LiveSessions counts the SSO sessions alive at now: not past their
// absolute end, and seen since idleSince.
func (s *Store) LiveSessions(ctx context.Context, now, idleSince time.Time) (int, error) {
	var n int
	err := s.row(ctx, false, `SELECT count(*) FROM sso_sessions WHERE expires_at > $1 AND last_seen > $2`,
		[]any{micros(now), micros(idleSince)}, func(row scanner) error { return row.Scan(&n) })
	if err != nil {
		return 0, fmt.Errorf("count live sessions: %w", err)
	}
	return n, nil
}
