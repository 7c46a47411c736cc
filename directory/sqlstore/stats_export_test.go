package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/usage"
)

// eventIndexes are the indexes of the events table (migration 1), which
// LoadEvents builds once after the rows rather than row by row.
var eventIndexes = []string{
	`CREATE INDEX IF NOT EXISTS events_time ON events (time)`,
	`CREATE INDEX IF NOT EXISTS events_type_time ON events (type, time)`,
	`CREATE INDEX IF NOT EXISTS events_account ON events (account_id, time)`,
}

// loadChunk is the rows of one transaction of LoadEvents: large enough
// that commits cost nothing, small enough that SQLite's write-ahead log
// stays a few hundred megabytes.
const loadChunk = 1_000_000

// loadRowsPerInsert is the rows of SQLite's prepared multi-row INSERT (10
// parameters each).
const loadRowsPerInsert = 100

// LoadEvents writes the events gen produces into an empty events table,
// fast, for the statistics benchmark: COPY on PostgreSQL, a prepared
// multi-row INSERT on SQLite, a transaction per million rows, the indexes
// dropped while loading and built at the end. It returns the rows written.
func (s *Store) LoadEvents(ctx context.Context, gen func(add func(directory.Event) error) error) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM events LIMIT 1) x`).Scan(&n); err != nil {
		return 0, err
	}
	if n > 0 {
		return 0, fmt.Errorf("load events: the events table is not empty")
	}
	for _, name := range []string{"events_time", "events_type_time", "events_account"} {
		if _, err := s.db.ExecContext(ctx, `DROP INDEX IF EXISTS `+name); err != nil {
			return 0, fmt.Errorf("load events: drop %s: %w", name, err)
		}
	}
	l := &eventLoader{s: s, ctx: ctx}
	err := gen(l.add)
	if err == nil {
		err = l.commit()
	}
	if err != nil {
		if l.tx != nil {
			l.tx.Rollback()
		}
		return l.total, err
	}
	for _, q := range eventIndexes {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return l.total, fmt.Errorf("load events: %s: %w", q, err)
		}
	}
	if s.d.name == "postgres" {
		_, err = s.db.ExecContext(ctx, `ANALYZE events`)
	} else {
		_, err = s.db.ExecContext(ctx, `ANALYZE`)
	}
	return l.total, err
}

type eventLoader struct {
	s     *Store
	ctx   context.Context
	tx    *sql.Tx
	total int
	inTx  int

	copy, multi, one *sql.Stmt // copy on PostgreSQL, the others on SQLite
	buf              []any
}

func (l *eventLoader) add(e directory.Event) error {
	if l.tx == nil {
		if err := l.begin(); err != nil {
			return err
		}
	}
	details := e.Details
	if details == nil {
		details = map[string]string{}
	}
	l.buf = append(l.buf, e.Time.UTC(), e.Type, e.AccountID, e.StructureID, e.Profile, e.Service, e.Outcome, e.Reason, e.Remote, marshalCol(details))
	l.total++
	l.inTx++
	if l.s.d.name == "postgres" || len(l.buf) == 10*loadRowsPerInsert {
		if err := l.flush(); err != nil {
			return err
		}
	}
	if l.inTx >= loadChunk {
		return l.commit()
	}
	return nil
}

func (l *eventLoader) begin() error {
	tx, err := l.s.db.BeginTx(l.ctx, nil)
	if err != nil {
		return fmt.Errorf("load events: %w", err)
	}
	l.tx, l.inTx = tx, 0
	if l.s.d.name == "postgres" {
		st, err := tx.PrepareContext(l.ctx, `COPY events (time, type, account_id, structure_id, profile, service, outcome, reason, remote, details) FROM STDIN`)
		if err != nil {
			return fmt.Errorf("load events: %w", err)
		}
		l.copy = st
		return nil
	}
	// "?", not "$1": the driver looks each numbered parameter's name up
	// in a list as long as the statement's, quadratic in its rows.
	const row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	multi, err := tx.PrepareContext(l.ctx, eventInsert+strings.Repeat(row+", ", loadRowsPerInsert-1)+row)
	if err != nil {
		return fmt.Errorf("load events: %w", err)
	}
	one, err := tx.PrepareContext(l.ctx, eventInsert+row)
	if err != nil {
		return fmt.Errorf("load events: %w", err)
	}
	l.multi, l.one = multi, one
	return nil
}

// flush writes the buffered rows: one COPY row (PostgreSQL), or one
// multi-row INSERT when full and single rows otherwise (SQLite).
func (l *eventLoader) flush() error {
	var err error
	switch {
	case len(l.buf) == 0:
		return nil
	case l.copy != nil:
		_, err = l.copy.ExecContext(l.ctx, l.buf...)
	case len(l.buf) == 10*loadRowsPerInsert:
		_, err = l.multi.ExecContext(l.ctx, l.buf...)
	default:
		for i := 0; i < len(l.buf) && err == nil; i += 10 {
			_, err = l.one.ExecContext(l.ctx, l.buf[i:i+10]...)
		}
	}
	l.buf = l.buf[:0]
	if err != nil {
		return fmt.Errorf("load events: %w", err)
	}
	return nil
}

func (l *eventLoader) commit() error {
	if l.tx == nil {
		return nil
	}
	if err := l.flush(); err != nil {
		return err
	}
	if l.copy != nil {
		if _, err := l.copy.ExecContext(l.ctx); err != nil { // ends the COPY
			return fmt.Errorf("load events: %w", err)
		}
		if err := l.copy.Close(); err != nil {
			return fmt.Errorf("load events: %w", err)
		}
	}
	err := l.tx.Commit()
	l.tx, l.copy, l.multi, l.one = nil, nil, nil, nil
	if err != nil {
		return fmt.Errorf("load events: commit: %w", err)
	}
	return nil
}

// EventsEmpty says whether the events table has no row.
func (s *Store) EventsEmpty(ctx context.Context) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM events LIMIT 1) x`).Scan(&n)
	return n == 0, err
}

// StatsSizes gives the rows and bytes of the audit events and of the
// rollups, for the benchmark's report: on PostgreSQL the tables' sizes
// with their indexes, on SQLite the database file's (per table is not
// available there) and the rollups' stored bytes.
func (s *Store) StatsSizes(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	for name, q := range map[string]string{
		"events rows":         `SELECT count(*) FROM events`,
		"stats_counts rows":   `SELECT count(*) FROM stats_counts`,
		"stats_users rows":    `SELECT count(*) FROM stats_users`,
		"stats_users bytes":   `SELECT COALESCE(sum(length(members)), 0) FROM stats_users`,
		"stats_accounts rows": `SELECT count(*) FROM stats_accounts`,
	} {
		var n int64
		if err := s.db.QueryRowContext(ctx, q).Scan(&n); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = n
	}
	if s.d.name != "postgres" {
		var pages, size int64
		if err := s.db.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
			return nil, err
		}
		if err := s.db.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&size); err != nil {
			return nil, err
		}
		out["database bytes"] = pages * size
		return out, nil
	}
	for _, t := range []string{"events", "stats_counts", "stats_users", "stats_accounts"} {
		var n int64
		if err := s.db.QueryRowContext(ctx, `SELECT pg_total_relation_size($1::regclass)`, t).Scan(&n); err != nil {
			return nil, fmt.Errorf("size of %s: %w", t, err)
		}
		out[t+" bytes"] = n
	}
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT pg_database_size(current_database())`).Scan(&n); err != nil {
		return nil, err
	}
	out["database bytes"] = n
	return out, nil
}

// ForgetUsageFrom deletes the rollups' rows of day and after, daily and
// monthly (the month of day included): what a generation interrupted in
// that month left.
func (s *Store) ForgetUsageFrom(ctx context.Context, day time.Time) error {
	for _, t := range []string{"stats_counts", "stats_users"} {
		if _, err := s.db.ExecContext(ctx, `DELETE FROM `+t+` WHERE (day >= $1 AND day < 'M') OR day >= $2`,
			day.Format(usage.DayLayout), usage.MonthKey(day)); err != nil {
			return fmt.Errorf("forget %s from %s: %w", t, day.Format(usage.DayLayout), err)
		}
	}
	return nil
}
