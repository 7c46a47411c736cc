// Package sqlstore is the directory Store on SQL: SQLite through a pure-Go
// driver as the embedded default, PostgreSQL through lib/pq in production.
// Both run one schema (see migrations.go) and the same queries; the few
// differences live in dialect.
package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/lib/pq"    // PostgreSQL driver, registered as "postgres"
	_ "modernc.org/sqlite" // pure-Go SQLite, registered as "sqlite"
)

// dialect holds what differs between the two backends.
type dialect struct {
	name     string // "sqlite" or "postgres"
	driver   string
	timeType string
	boolType string
	falseLit string
	serialPK string
}

var (
	sqliteDialect = dialect{
		name: "sqlite", driver: "sqlite",
		timeType: "TIMESTAMP", boolType: "INTEGER", falseLit: "0",
		serialPK: "INTEGER PRIMARY KEY AUTOINCREMENT",
	}
	postgresDialect = dialect{
		name: "postgres", driver: "postgres",
		timeType: "TIMESTAMPTZ", boolType: "BOOLEAN", falseLit: "FALSE",
		serialPK: "BIGSERIAL PRIMARY KEY",
	}
)

// Options tunes a store. The zero value is valid.
type Options struct {
	// Now is the clock; tests inject a fixed one.
	Now func() time.Time
	// NewID makes record ids; tests inject a deterministic sequence.
	NewID func() string
	// Logger receives migration and slow-path messages.
	Logger *slog.Logger
	// NoMigrate opens without applying migrations (the database must then
	// already be current); `enthub db migrate` is the explicit path.
	NoMigrate bool
	// Existing refuses a database that is not already an enthub store: a
	// missing SQLite file (its folder is not created either) or a schema
	// that is not current. Every command but the few that set a store up
	// opens this way, so a mistyped --db is an error, not an empty
	// directory answering "0 accounts". It implies NoMigrate.
	Existing bool
	// ConnectTimeout is how long Open keeps retrying a database that
	// refuses connections (PostgreSQL still starting at boot), with
	// exponential backoff from ConnectRetryMin up to ConnectRetryMax; 0
	// tries once. Other errors (bad password, unknown database) are not
	// retried: waiting would not fix them.
	ConnectTimeout time.Duration
	// ConnectRetryMin and ConnectRetryMax bound the wait between attempts
	// (defaults 250 ms and 10 s).
	ConnectRetryMin, ConnectRetryMax time.Duration
}

// Store is a directory.Store over database/sql.
type Store struct {
	reader
	db   *sql.DB
	d    dialect
	opts Options
	sso  ssoState // prepared statements and write queue of sso.go
}

var _ directory.Store = (*Store)(nil)

// ErrTooNew is returned when the database schema is newer than this binary.
var ErrTooNew = errors.New("database schema is newer than this binary")

// ErrNotMigrated is returned by Ping when migrations are pending.
var ErrNotMigrated = errors.New("database schema is not up to date")

// Open connects to the database named by rawURL — "sqlite:PATH" (also
// "sqlite://PATH", ":memory:" is refused: the store is shared by processes)
// or "postgres://…" — and, unless opts.NoMigrate, brings its schema to the
// version this binary expects.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.NewID == nil {
		opts.NewID = NewUUIDv7Source(opts.Now)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	d, dsn, err := parseURL(rawURL, !opts.Existing)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(d.driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", redact(rawURL), err)
	}
	if d.name == "sqlite" {
		// One writer at a time is SQLite's model; a small pool lets readers
		// run beside it under WAL without "database is locked" storms.
		// All of it stays open: database/sql keeps 2 idle by default, and
		// reopening a connection (pragmas, prepared statements) cost more
		// than the queries it served.
		db.SetMaxOpenConns(4)
		db.SetMaxIdleConns(4)
	} else {
		db.SetMaxOpenConns(20)
		db.SetMaxIdleConns(10)
		db.SetConnMaxIdleTime(5 * time.Minute)
	}
	s := &Store{db: db, d: d, opts: opts}
	s.reader = reader{db: prepared{s}, queries: queries{d: d}}
	if err := s.connect(ctx, rawURL); err != nil {
		db.Close()
		return nil, err
	}
	if opts.Existing {
		if err := s.checkExisting(ctx, rawURL); err != nil {
			db.Close()
			return nil, err
		}
		return s, nil
	}
	if !opts.NoMigrate {
		if err := s.Migrate(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	return s, nil
}

// ErrNoStore is returned by Open with Options.Existing when the URL names
// no enthub store: a missing SQLite file, an empty database.
var ErrNoStore = errors.New("no enthub store")

// checkExisting is the Existing check once connected: some schema step
// must be applied, and every one this binary knows.
func (s *Store) checkExisting(ctx context.Context, rawURL string) error {
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("%s: read the schema version: %w", redact(rawURL), err)
	}
	if v == 0 {
		return fmt.Errorf("%w at %s: the database holds no enthub schema (check --db or ENTHUB_DB; "+
			"enthub db migrate, serve or aaf import create one)", ErrNoStore, redact(rawURL))
	}
	if err := s.Ping(ctx); err != nil {
		return fmt.Errorf("%s: %w", redact(rawURL), err)
	}
	return nil
}

// connect pings the database, retrying for Options.ConnectTimeout while
// it refuses connections, each wait logged and twice the last.
func (s *Store) connect(ctx context.Context, rawURL string) error {
	wait, most := s.opts.ConnectRetryMin, s.opts.ConnectRetryMax
	if wait <= 0 {
		wait = 250 * time.Millisecond
	}
	if most <= 0 {
		most = 10 * time.Second
	}
	start := time.Now()
	for attempt := 1; ; attempt++ {
		err := s.db.PingContext(ctx)
		if err == nil {
			if attempt > 1 {
				s.opts.Logger.Info("database reachable", "url", redact(rawURL), "attempts", attempt, "after", time.Since(start).Round(time.Millisecond))
			}
			return nil
		}
		left := s.opts.ConnectTimeout - time.Since(start)
		if !retryable(err) || left <= 0 {
			if attempt > 1 {
				return fmt.Errorf("connect to %s: gave up after %d attempts in %s: %w", redact(rawURL), attempt,
					time.Since(start).Round(time.Millisecond), err)
			}
			return fmt.Errorf("connect to %s: %w", redact(rawURL), err)
		}
		wait = min(wait, left)
		s.opts.Logger.Warn("database not reachable yet, retrying", "url", redact(rawURL), "attempt", attempt,
			"retry_in", wait, "gives_up_in", left.Round(time.Millisecond), "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("connect to %s: %w (last error: %w)", redact(rawURL), ctx.Err(), err)
		case <-t.C:
		}
		wait = min(2*wait, most)
	}
}

// retryable says whether a failed connection may succeed later: the
// server is not listening yet, or is starting up or shutting down
// (SQLSTATE class 57P: 57P01 admin shutdown, 57P03 cannot connect now).
func retryable(err error) bool {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		return strings.HasPrefix(string(pqErr.Code), "57P")
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF)
}

// parseURL maps the --db URL to a driver and its DSN. For SQLite, create
// says whether a missing file (and its folder) may be created.
func parseURL(raw string, create bool) (dialect, string, error) {
	switch {
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		dsn, err := multiHost(raw)
		if err != nil {
			return dialect{}, "", fmt.Errorf("database URL %q: %w", redact(raw), err)
		}
		return postgresDialect, dsn, nil
	case strings.HasPrefix(raw, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(raw, "sqlite:"), "//")
		if path == "" || strings.Contains(path, ":memory:") {
			return dialect{}, "", fmt.Errorf("database URL %q: want sqlite:PATH with a file path", raw)
		}
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		if !create {
			if _, err := os.Stat(path); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return dialect{}, "", fmt.Errorf("%w at %s: file %s does not exist (check --db or ENTHUB_DB; "+
						"enthub db migrate, serve or aaf import create one)", ErrNoStore, raw, path)
				}
				return dialect{}, "", fmt.Errorf("database URL %q: %w", raw, err)
			}
		} else if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return dialect{}, "", fmt.Errorf("database URL %q: %w", raw, err)
			}
		}
		// WAL lets readers run while the importer writes; the busy timeout
		// makes a second writer wait instead of failing at once.
		q := url.Values{}
		if create { // it writes; a store enthub made is in WAL mode already (it persists)
			q.Add("_pragma", "journal_mode(WAL)")
		}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "foreign_keys(1)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Set("_txlock", "immediate")
		return sqliteDialect, "file:" + path + "?" + q.Encode(), nil
	default:
		return dialect{}, "", fmt.Errorf("database URL %q: want sqlite:PATH or postgres://…", redact(raw))
	}
}

// multiHost rewrites libpq's multi-host URL (postgres://h1:p1,h2:p2/db,
// PostgreSQL's documented form for a primary and its standbys) into the
// host= and port= lists lib/pq reads: lib/pq takes "h1:p1,h2:p2" from a URL
// as one host name. Any other URL is returned as it is.
func multiHost(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || !strings.Contains(u.Host, ",") {
		return raw, nil // lib/pq reports a malformed URL itself
	}
	q := u.Query()
	if q.Has("host") || q.Has("port") {
		return "", fmt.Errorf("hosts given both before the path (%s) and as host= or port=", u.Host)
	}
	var hosts, ports []string
	for _, hp := range strings.Split(u.Host, ",") {
		h, p, err := net.SplitHostPort(hp)
		if err != nil { // no port: the default one
			h, p = strings.Trim(hp, "[]"), "5432"
		}
		if h == "" {
			return "", fmt.Errorf("empty host in %q", u.Host)
		}
		hosts, ports = append(hosts, h), append(ports, p)
	}
	q.Set("host", strings.Join(hosts, ","))
	q.Set("port", strings.Join(ports, ","))
	u.Host, u.RawQuery = "", q.Encode()
	return u.String(), nil
}

// redact hides a password in a URL before it reaches a log or an error.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Dialect names the backend: "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.d.name }

// DB exposes the pool to the bulk importer of this package's callers that
// need COPY; nothing else should reach past the Store interface.
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the pool.
func (s *Store) Close() error { return s.db.Close() }

// SchemaVersion reads the applied schema version (0 for an empty database).
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var exists bool
	var err error
	if s.d.name == "postgres" {
		err = s.db.QueryRowContext(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists)
	} else {
		var n int
		err = s.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type='table' AND name='schema_migrations'`).Scan(&n)
		exists = n > 0
	}
	if err != nil || !exists {
		return 0, err
	}
	var v sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, err
	}
	return int(v.Int64), nil
}

// Migrate applies pending migrations, each in its own transaction. On
// PostgreSQL an advisory lock serialises instances starting together.
func (s *Store) Migrate(ctx context.Context) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if s.d.name == "postgres" {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, advisoryMigrate); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, advisoryMigrate) //nolint:errcheck
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at `+s.d.timeType+` NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	applied, err := s.appliedVersions(ctx)
	if err != nil {
		return fmt.Errorf("migrate: read versions: %w", err)
	}
	if err := checkNotNewer(applied); err != nil {
		return err
	}
	for _, m := range allMigrations() {
		if applied[m.version] {
			continue
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, m.render(s.d)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate: step %d (%s): %w", m.version, m.name, err)
		}
		if fill := dataStep(m.version); fill != nil {
			if err := fill(ctx, tx, s.d); err != nil {
				tx.Rollback()
				return fmt.Errorf("migrate: step %d (%s): %w", m.version, m.name, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
			m.version, m.name, s.opts.Now().UTC()); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate: record step %d: %w", m.version, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate: commit step %d: %w", m.version, err)
		}
		s.opts.Logger.Info("schema migrated", "version", m.version, "name", m.name, "backend", s.d.name)
	}
	return nil
}

// Advisory lock keys (PostgreSQL). Arbitrary but fixed: every instance must
// agree on them.
const (
	advisoryMigrate int64 = 0x656e746875620001 // "enthub" + 1
	// AdvisoryImport is held by the instance applying an AAF delivery.
	AdvisoryImport int64 = 0x656e746875620002
	// AdvisoryInbox is held by the instance scanning the AAF inbox (TryLock).
	AdvisoryInbox int64 = 0x656e746875620003
)

// TryLock takes the PostgreSQL session advisory lock key when no other
// session holds it, on a connection kept for the holder until release; ok
// is false when another holds it. A holder that dies (SIGKILL, lost
// connection) loses it with its session. On SQLite, one file on one
// machine, it always succeeds.
func (s *Store) TryLock(ctx context.Context, key int64) (release func(), ok bool, err error) {
	if s.d.name != "postgres" {
		return func() {}, true, nil
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("lock %#x: %w", key, err)
	}
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil || !ok {
		conn.Close()
		if err != nil {
			return nil, false, fmt.Errorf("lock %#x: %w", key, err)
		}
		return nil, false, nil
	}
	return func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, key)
		conn.Close()
	}, true, nil
}

// Ping checks connectivity and that the schema is current.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	applied, err := s.appliedVersions(ctx)
	if err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	if err := checkNotNewer(applied); err != nil {
		return err
	}
	for _, m := range allMigrations() {
		if !applied[m.version] {
			return fmt.Errorf("%w: step %d (%s) is pending (run enthub db migrate)", ErrNotMigrated, m.version, m.name)
		}
	}
	return nil
}

// appliedVersions reads the set of applied steps. Steps are tracked one by
// one, not as a high-water mark, because the core and SSO lists interleave.
func (s *Store) appliedVersions(ctx context.Context) (map[int]bool, error) {
	applied := map[int]bool{}
	if v, err := s.SchemaVersion(ctx); err != nil || v == 0 {
		return applied, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		applied[v] = true
	}
	return applied, rows.Err()
}

// checkNotNewer refuses a database that a newer binary migrated: running
// old code on a schema it does not know could corrupt data.
func checkNotNewer(applied map[int]bool) error {
	known := map[int]bool{}
	for _, m := range allMigrations() {
		known[m.version] = true
	}
	for v := range applied {
		if !known[v] {
			return fmt.Errorf("%w: it has schema step %d, this binary knows up to %d; upgrade enthub", ErrTooNew, v, latestVersion())
		}
	}
	return nil
}

// NewUUID returns a random RFC 4122 version 4 UUID.
func NewUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

// NewUUIDv7Source returns the default record id maker: RFC 9562 version 7
// UUIDs, a millisecond timestamp then a counter then 62 random bits.
//
// Why not version 4: every id is a B-tree key (primary keys, and person_id
// in accounts, personas, memberships and relations). Random keys land on
// random index pages, so an import of 270,000 persons touches far more
// pages than the cache holds; time-ordered keys append. The counter keeps
// ids made in one millisecond in order (RFC 9562 §6.2, method 1). The ids
// reveal when a record was created, to the millisecond; that is no secret
// in a directory whose import journal says the same.
func NewUUIDv7Source(now func() time.Time) func() string {
	var (
		mu     sync.Mutex
		lastMS int64
		seq    uint16
	)
	return func() string {
		var b [16]byte
		if _, err := rand.Read(b[6:]); err != nil {
			panic(err) // crypto/rand never fails on Linux
		}
		mu.Lock()
		ms := now().UnixMilli()
		if ms > lastMS {
			lastMS, seq = ms, uint16(b[6]&0x03)<<8|uint16(b[7]) // random start, room to count
		} else {
			// Same millisecond, or a clock that went back: keep counting
			// from the last id so order holds.
			seq++
			if seq > 0x0fff {
				lastMS++
				seq = 0
			}
			ms = lastMS
		}
		s := seq
		mu.Unlock()
		b[0], b[1], b[2], b[3], b[4], b[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
		b[6] = 0x70 | byte(s>>8)
		b[7] = byte(s)
		b[8] = b[8]&0x3f | 0x80
		return formatUUID(b)
	}
}

func formatUUID(b [16]byte) string {
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// Update runs fn in one transaction.
func (s *Store) Update(ctx context.Context, fn func(directory.Tx) error) error {
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	t := &tx{reader: reader{db: sqlTx, queries: s.reader.queries}, tx: sqlTx, s: s}
	if err := fn(t); err != nil {
		sqlTx.Rollback()
		return err
	}
	if t.dirty {
		if _, err := t.execCached(ctx, `UPDATE meta SET value = value + 1 WHERE name = 'generation'`); err != nil {
			sqlTx.Rollback()
			return fmt.Errorf("bump generation: %w", err)
		}
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	for _, q := range t.unprepared {
		// A statement that cannot be prepared keeps running plain.
		s.stmt(ctx, q)
	}
	return nil
}

// boolCast turns a staged 0/1 integer into the dialect's boolean.
func (d dialect) boolCast() string {
	if d.name == "postgres" {
		return "::boolean"
	}
	return ""
}

// tempAs creates a temporary table from a query; on PostgreSQL it goes
// with the transaction, as SQLite's does once dropped at the end.
func (d dialect) tempAs(name, query string) string {
	if d.name == "postgres" {
		return "CREATE TEMP TABLE " + name + " ON COMMIT DROP AS " + query
	}
	return "CREATE TEMP TABLE " + name + " AS " + query
}

// analyzeTemp gathers statistics on temporary tables, which autovacuum
// never sees: without them the planner guesses and picks nested loops.
func (d dialect) analyzeTemp(tables ...string) string {
	if d.name == "postgres" {
		return "ANALYZE " + strings.Join(tables, ", ")
	}
	return "ANALYZE temp"
}
