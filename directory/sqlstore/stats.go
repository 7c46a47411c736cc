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
	"github.com/enthub/enthub/directory/usage"
)

// The usage rollups (package directory/usage says why and what): this
// file folds the audit events into them, reads them, and records the
// instances' health.

var (
	_ usage.Store       = (*Store)(nil)
	_ usage.HealthStore = (*Store)(nil)
)

// advisoryFold is held (for the transaction) by the instance folding
// events, so that two instances never count the same event twice.
const advisoryFold int64 = 0x656e746875620320

// FoldOptions tunes FoldEvents.
type FoldOptions struct {
	// Location is the time zone of days and hours (UTC when nil).
	Location *time.Location
	// Lag keeps the newest events out of a fold: the identity provider
	// writes its audit events in batches up to a second after their time,
	// so an event younger than the lag may still be on its way. Default 2
	// minutes.
	Lag time.Duration
	// Window bounds the events one transaction folds. By default an hour
	// of events (tens of thousands at the morning peak), or a day when the
	// fold is more than two days behind (the first fold after an upgrade,
	// or after a backfill of old events): each window rewrites the month's
	// user sets of every school it touches, so a year folded hour by hour
	// would rewrite them 24 times a day for nothing.
	Window time.Duration
}

// catchUp is how far behind the fold folds a day per transaction rather
// than an hour (FoldOptions.Window).
const catchUp = 48 * time.Hour

// foldEvents are the audit events the rollups count (usage.Batch.Add):
// logins, service accesses, and the persona choices that settle a login
// (not the one every single-persona login writes).
const foldEvents = `(type IN ('login', 'cas.ticket.issued', 'saml.assertion.issued', 'oidc.code.issued')
	OR (type = 'persona.chosen' AND details LIKE '%"settles":"login"%'))`

// FoldEvents adds the audit events written since the last fold (and
// older than the lag) to the rollups, window by window, each in its own
// transaction; it returns how many events it counted. Any instance may
// run it: on PostgreSQL an advisory lock makes a second one wait.
func (s *Store) FoldEvents(ctx context.Context, now time.Time, o FoldOptions) (int, error) {
	if o.Lag <= 0 {
		o.Lag = 2 * time.Minute
	}
	until := now.Add(-o.Lag).UTC()
	total := 0
	for {
		n, done, err := s.foldWindow(ctx, until, o)
		total += n
		if err != nil || done {
			return total, err
		}
	}
}

// foldWindow folds one window from the watermark; done says the
// watermark reached until.
func (s *Store) foldWindow(ctx context.Context, until time.Time, o FoldOptions) (n int, done bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, false, fmt.Errorf("fold events: begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if s.d.name == "postgres" {
		if _, err = tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, advisoryFold); err != nil {
			return 0, false, fmt.Errorf("fold events: lock: %w", err)
		}
	}
	var mark int64
	err = tx.QueryRowContext(ctx, `SELECT value FROM stats_state WHERE name = 'events'`).Scan(&mark)
	var from time.Time
	switch {
	case errors.Is(err, sql.ErrNoRows):
		// Not min(time): SQLite gives an aggregate no column type, so the
		// driver would not read it back as a time.
		var first time.Time
		err = tx.QueryRowContext(ctx, `SELECT time FROM events ORDER BY time LIMIT 1`).Scan((*timeCol)(&first))
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, false, fmt.Errorf("fold events: first event: %w", err)
		}
		from = until
		if err == nil && first.Before(until) {
			from = first
		}
	case err != nil:
		return 0, false, fmt.Errorf("fold events: watermark: %w", err)
	default:
		from = time.UnixMicro(mark).UTC()
	}
	window := o.Window
	if window <= 0 {
		window = time.Hour
		if until.Sub(from) > catchUp {
			window = 24 * time.Hour
		}
	}
	end := from.Add(window)
	if !end.Before(until) {
		end, done = until, true
	}
	if end.After(from) {
		if n, err = s.foldRange(ctx, tx, from, end, o.Location); err != nil {
			return 0, false, err
		}
	} else {
		end = from // a clock set back: wait for it
	}
	if _, err = tx.ExecContext(ctx, `INSERT INTO stats_state (name, value) VALUES ('events', $1)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, end.UnixMicro()); err != nil {
		return 0, false, fmt.Errorf("fold events: watermark: %w", err)
	}
	if err = tx.Commit(); err != nil {
		return 0, false, fmt.Errorf("fold events: commit: %w", err)
	}
	return n, done, nil
}

func (s *Store) foldRange(ctx context.Context, tx *sql.Tx, from, to time.Time, loc *time.Location) (int, error) {
	rows, err := tx.QueryContext(ctx, `SELECT time, type, account_id, structure_id, profile, service, outcome, details
		FROM events WHERE `+foldEvents+` AND time >= $1 AND time < $2`, from.UTC(), to.UTC())
	if err != nil {
		return 0, fmt.Errorf("fold events from %s: %w", from.Format(time.RFC3339), err)
	}
	b := usage.NewBatch(loc)
	n := 0
	for rows.Next() {
		var e directory.Event
		var details string
		if err := rows.Scan((*timeCol)(&e.Time), &e.Type, &e.AccountID, &e.StructureID, &e.Profile, &e.Service, &e.Outcome, &details); err != nil {
			rows.Close()
			return 0, fmt.Errorf("fold events from %s: %w", from.Format(time.RFC3339), err)
		}
		if err := unmarshalCol("events.details", details, &e.Details); err != nil {
			rows.Close()
			return 0, err
		}
		b.Add(e)
		n++
	}
	if err := rows.Close(); err != nil {
		return 0, err
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("fold events from %s: %w", from.Format(time.RFC3339), err)
	}
	return n, s.applyUsage(ctx, tx, b)
}

// RebuildUsage forgets the folded counts and users (not the availability)
// and folds every event again: after a restore of old events, or a change
// of time zone.
func (s *Store) RebuildUsage(ctx context.Context, now time.Time, o FoldOptions) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	for _, q := range []string{`DELETE FROM stats_counts WHERE dim <> 'ready'`, `DELETE FROM stats_users`, `DELETE FROM stats_state WHERE name = 'events'`} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			tx.Rollback()
			return 0, fmt.Errorf("rebuild statistics: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("rebuild statistics: %w", err)
	}
	return s.FoldEvents(ctx, now, o)
}

// ApplyUsage adds a batch folded elsewhere (the benchmark's generator)
// to the rollups, in one transaction.
func (s *Store) ApplyUsage(ctx context.Context, b *usage.Batch) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := s.applyUsage(ctx, tx, b); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// countsPerInsert bounds the rows of one upsert (5 parameters each).
const countsPerInsert = 200

func (s *Store) applyUsage(ctx context.Context, tx *sql.Tx, b *usage.Batch) error {
	counts := b.Counts()
	keys := slices.SortedFunc(maps.Keys(counts), func(a, b usage.CountKey) int {
		return strings.Compare(a.Structure+"\x00"+a.Dim+"\x00"+a.Day+"\x00"+a.Key, b.Structure+"\x00"+b.Dim+"\x00"+b.Day+"\x00"+b.Key)
	}) // one order for every writer, so two never deadlock on PostgreSQL
	const upsert = ` ON CONFLICT (structure_id, dim, day, item) DO UPDATE SET n = stats_counts.n + excluded.n`
	if s.d.name != "postgres" {
		// SQLite: one prepared row at a time is faster than parsing long
		// multi-row statements (as AppendEvents found).
		st, err := tx.PrepareContext(ctx, `INSERT INTO stats_counts (structure_id, dim, day, item, n) VALUES ($1, $2, $3, $4, $5)`+upsert)
		if err != nil {
			return fmt.Errorf("statistics counts: %w", err)
		}
		defer st.Close()
		for _, k := range keys {
			if _, err := st.ExecContext(ctx, k.Structure, k.Dim, k.Day, k.Key, counts[k]); err != nil {
				return fmt.Errorf("statistics counts %s %s %s %s: %w", k.Day, k.Structure, k.Dim, k.Key, err)
			}
		}
		return s.applyUsers(ctx, tx, b)
	}
	var q strings.Builder
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), countsPerInsert)]
		keys = keys[len(chunk):]
		q.Reset()
		q.WriteString(`INSERT INTO stats_counts (structure_id, dim, day, item, n) VALUES `)
		args := make([]any, 0, 5*len(chunk))
		for i, k := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&q, "($%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5)
			args = append(args, k.Structure, k.Dim, k.Day, k.Key, counts[k])
		}
		q.WriteString(upsert)
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("statistics counts (%d rows from %s %s %s): %w", len(chunk), chunk[0].Day, chunk[0].Structure, chunk[0].Dim, err)
		}
	}
	return s.applyUsers(ctx, tx, b)
}

// applyUsers merges the batch's users into the stored daily sets: the
// sets of the batch's days are read in one query, merged in memory and
// written back.
func (s *Store) applyUsers(ctx context.Context, tx *sql.Tx, b *usage.Batch) error {
	users := b.Users()
	if len(users) == 0 {
		return nil
	}
	ords, err := s.ordinals(ctx, tx, slices.Sorted(slices.Values(b.Accounts())))
	if err != nil {
		return err
	}
	ordOf := make([]uint32, len(b.Accounts())) // by the batch's index
	for i, id := range b.Accounts() {
		ordOf[i] = ords[id]
	}
	keys := slices.SortedFunc(maps.Keys(users), func(a, b usage.SetKey) int {
		return strings.Compare(a.Structure+"\x00"+a.Profile+"\x00"+a.Day, b.Structure+"\x00"+b.Profile+"\x00"+b.Day)
	})
	if s.d.name == "postgres" {
		return s.applyUsersChunked(ctx, tx, keys, users, ordOf)
	}
	get, err := tx.PrepareContext(ctx, `SELECT members FROM stats_users WHERE structure_id = $1 AND profile = $2 AND day = $3`)
	if err != nil {
		return fmt.Errorf("statistics users: %w", err)
	}
	defer get.Close()
	st, err := tx.PrepareContext(ctx, `INSERT INTO stats_users (structure_id, profile, day, n, members) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (structure_id, profile, day) DO UPDATE SET n = excluded.n, members = excluded.members`)
	if err != nil {
		return fmt.Errorf("statistics users: %w", err)
	}
	defer st.Close()
	for _, k := range keys {
		var stored []byte
		if err := get.QueryRowContext(ctx, k.Structure, k.Profile, k.Day).Scan(&stored); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("statistics users %s/%s/%s: %w", k.Structure, k.Profile, k.Day, err)
		}
		set, err := usage.DecodeSet(stored)
		if err != nil {
			return fmt.Errorf("statistics users %s/%s/%s: %w", k.Structure, k.Profile, k.Day, err)
		}
		for i := range users[k].All() {
			set.Add(ordOf[i])
		}
		if _, err := st.ExecContext(ctx, k.Structure, k.Profile, k.Day, set.Len(), set.Encode()); err != nil {
			return fmt.Errorf("statistics users %s/%s/%s: %w", k.Structure, k.Profile, k.Day, err)
		}
	}
	return nil
}

// setsPerQuery bounds the sets one query reads or writes on PostgreSQL.
const setsPerQuery = 100

// applyUsersChunked is applyUsers on PostgreSQL: a round trip per set,
// two thousand a day's batch, was most of a fold's time there, so the
// stored sets are read and written a hundred at a time.
func (s *Store) applyUsersChunked(ctx context.Context, tx *sql.Tx, keys []usage.SetKey, users map[usage.SetKey]*usage.Set, ordOf []uint32) error {
	var q strings.Builder
	for chunk := range slices.Chunk(keys, setsPerQuery) {
		q.Reset()
		q.WriteString(`SELECT structure_id, profile, day, members FROM stats_users WHERE `)
		args := make([]any, 0, 5*len(chunk))
		for i, k := range chunk {
			if i > 0 {
				q.WriteString(" OR ")
			}
			fmt.Fprintf(&q, "(structure_id = $%d AND profile = $%d AND day = $%d)", 3*i+1, 3*i+2, 3*i+3)
			args = append(args, k.Structure, k.Profile, k.Day)
		}
		rows, err := tx.QueryContext(ctx, q.String(), args...)
		if err != nil {
			return fmt.Errorf("statistics users (%d sets from %s/%s/%s): %w", len(chunk), chunk[0].Structure, chunk[0].Profile, chunk[0].Day, err)
		}
		stored := map[usage.SetKey]*usage.Set{}
		for rows.Next() {
			var k usage.SetKey
			var members []byte
			if err := rows.Scan(&k.Structure, &k.Profile, &k.Day, &members); err != nil {
				rows.Close()
				return fmt.Errorf("statistics users: %w", err)
			}
			set, err := usage.DecodeSet(members)
			if err != nil {
				rows.Close()
				return fmt.Errorf("statistics users %s/%s/%s: %w", k.Structure, k.Profile, k.Day, err)
			}
			stored[k] = set
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("statistics users: %w", err)
		}
		q.Reset()
		q.WriteString(`INSERT INTO stats_users (structure_id, profile, day, n, members) VALUES `)
		args = args[:0]
		for i, k := range chunk {
			set := stored[k]
			if set == nil {
				set = &usage.Set{}
			}
			for m := range users[k].All() {
				set.Add(ordOf[m])
			}
			if i > 0 {
				q.WriteString(", ")
			}
			fmt.Fprintf(&q, "($%d, $%d, $%d, $%d, $%d)", 5*i+1, 5*i+2, 5*i+3, 5*i+4, 5*i+5)
			args = append(args, k.Structure, k.Profile, k.Day, set.Len(), set.Encode())
		}
		q.WriteString(` ON CONFLICT (structure_id, profile, day) DO UPDATE SET n = excluded.n, members = excluded.members`)
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("statistics users (%d sets from %s/%s/%s): %w", len(chunk), chunk[0].Structure, chunk[0].Profile, chunk[0].Day, err)
		}
	}
	return nil
}

// ordinalsPerQuery bounds the ids of one lookup or insert.
const ordinalsPerQuery = 500

// ordinals gives each account its ordinal, numbering the new ones.
func (s *Store) ordinals(ctx context.Context, tx *sql.Tx, ids []string) (map[string]uint32, error) {
	out := make(map[string]uint32, len(ids))
	scan := func(rows *sql.Rows, err error) error {
		if err != nil {
			return fmt.Errorf("statistics account numbers: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var ord int64
			var id string
			if err := rows.Scan(&ord, &id); err != nil {
				return fmt.Errorf("statistics account numbers: %w", err)
			}
			out[id] = uint32(ord)
		}
		return rows.Err()
	}
	for chunk := range slices.Chunk(ids, ordinalsPerQuery) {
		if err := scan(tx.QueryContext(ctx, `SELECT ord, account_id FROM stats_accounts WHERE account_id IN (`+placeholders(1, len(chunk))+`)`, anys(chunk)...)); err != nil {
			return nil, err
		}
	}
	var missing []string
	for _, id := range ids {
		if _, ok := out[id]; !ok {
			missing = append(missing, id)
		}
	}
	for chunk := range slices.Chunk(missing, ordinalsPerQuery) {
		var q strings.Builder
		q.WriteString(`INSERT INTO stats_accounts (account_id) VALUES `)
		for i := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			fmt.Fprintf(&q, "($%d)", i+1)
		}
		q.WriteString(` RETURNING ord, account_id`)
		if err := scan(tx.QueryContext(ctx, q.String(), anys(chunk)...)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func placeholders(first, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", first+i)
	}
	return b.String()
}

func anys(v []string) []any {
	out := make([]any, len(v))
	for i, s := range v {
		out[i] = s
	}
	return out
}

// Counts sums a dimension's counts over the filter's days, by item or by
// day.
func (s *Store) Counts(ctx context.Context, f usage.Filter, dim string, byDay bool) (map[string]int64, error) {
	col, days := "item", f.Ranges()
	if byDay {
		col, days = "day", []usage.Range{{From: f.From, To: f.To}}
	}
	cond, args := dayRanges(3, days)
	rows, err := s.db.QueryContext(ctx, `SELECT `+col+`, sum(n) FROM stats_counts
		WHERE structure_id = $1 AND dim = $2 AND (`+cond+`) GROUP BY `+col, append([]any{f.StructureKey(), dim}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("statistics %s: %w", dim, err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			return nil, fmt.Errorf("statistics %s: %w", dim, err)
		}
		out[k] = n
	}
	return out, rows.Err()
}

// Users counts distinct users over the filter's days: by "" (all, key
// ""), "day" (each day's, stored with its set), "profile" or "school"
// (the union of the daily sets of each).
func (s *Store) Users(ctx context.Context, f usage.Filter, by string) (map[string]int64, error) {
	days := f.Ranges()
	if by == "day" {
		days = []usage.Range{{From: f.From, To: f.To}}
	}
	cond, args := dayRanges(2, days)
	args = append([]any{f.StructureKey()}, args...)
	var q string
	switch {
	case by == "day":
		q = `SELECT day, n FROM stats_users WHERE structure_id = $1 AND profile = '*' AND (` + cond + `)`
	case by == "" || (by == "school" && f.Structure != ""):
		q = `SELECT structure_id, members FROM stats_users WHERE structure_id = $1 AND profile = '*' AND (` + cond + `)`
	case by == "profile":
		q = `SELECT profile, members FROM stats_users WHERE structure_id = $1 AND profile <> '*' AND (` + cond + `)`
	case by == "school":
		q = `SELECT structure_id, members FROM stats_users WHERE profile = '*' AND structure_id <> $1 AND (` + cond + `)`
	default:
		return nil, fmt.Errorf("distinct users by %q: want day, profile or school", by)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("distinct users by %q: %w", by, err)
	}
	defer rows.Close()
	out := map[string]int64{}
	sets := map[string]*usage.Set{}
	for rows.Next() {
		var k string
		if by == "day" {
			var n int64
			if err := rows.Scan(&k, &n); err != nil {
				return nil, fmt.Errorf("distinct users by day: %w", err)
			}
			out[k] = n
			continue
		}
		var members []byte
		if err := rows.Scan(&k, &members); err != nil {
			return nil, fmt.Errorf("distinct users by %q: %w", by, err)
		}
		if by == "" {
			k = ""
		}
		set := sets[k]
		if set == nil {
			set = &usage.Set{}
			sets[k] = set
		}
		if err := set.OrEncoded(members); err != nil {
			return nil, fmt.Errorf("distinct users by %q (%s): %w", by, k, err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("distinct users by %q: %w", by, err)
	}
	for k, set := range sets {
		out[k] = set.Len()
	}
	if _, ok := out[""]; by == "" && !ok {
		out[""] = 0 // no set at all is 0 users, not a missing answer
	}
	return out, nil
}

// dayRanges is the condition on the day column for the ranges, its
// parameters numbered from first.
func dayRanges(first int, rs []usage.Range) (string, []any) {
	var b strings.Builder
	args := make([]any, 0, 2*len(rs))
	for i, r := range rs {
		if i > 0 {
			b.WriteString(" OR ")
		}
		fmt.Fprintf(&b, "(day >= $%d AND day <= $%d)", first+2*i, first+2*i+1)
		args = append(args, r.From, r.To)
	}
	return b.String(), args
}

// RecordHealth writes an instance's state for the minute of at; the
// first ready record of a minute, from any instance, adds the minute to
// its day's availability.
func (s *Store) RecordHealth(ctx context.Context, instance string, at time.Time, up, ready bool, detail string, loc *time.Location) error {
	if loc == nil {
		loc = time.UTC
	}
	minute := at.Truncate(time.Minute)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("health record: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO health_checks (instance, at, up, ready, detail) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (instance, at) DO UPDATE SET up = excluded.up, ready = excluded.ready, detail = excluded.detail`,
		instance, minute.UnixMicro(), up, ready, detail); err != nil {
		return fmt.Errorf("health record of %s: %w", instance, err)
	}
	if ready {
		res, err := tx.ExecContext(ctx, `INSERT INTO health_minutes (minute) VALUES ($1) ON CONFLICT (minute) DO NOTHING`, minute.UnixMicro())
		if err != nil {
			return fmt.Errorf("health record of %s: %w", instance, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO stats_counts (structure_id, dim, day, item, n) VALUES ('*', 'ready', $1, '', 1)
				ON CONFLICT (structure_id, dim, day, item) DO UPDATE SET n = stats_counts.n + 1`, minute.In(loc).Format(usage.DayLayout)); err != nil {
				return fmt.Errorf("health record of %s: %w", instance, err)
			}
		}
	}
	return tx.Commit()
}

// HealthSince is the time of the first health record (zero: none).
func (s *Store) HealthSince(ctx context.Context) (time.Time, error) {
	var first sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT min(at) FROM health_checks`).Scan(&first); err != nil {
		return time.Time{}, fmt.Errorf("first health record: %w", err)
	}
	if !first.Valid {
		return time.Time{}, nil
	}
	return time.UnixMicro(first.Int64).UTC(), nil
}
