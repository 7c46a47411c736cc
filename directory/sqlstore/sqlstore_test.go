package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/directory/storetest"
	"github.com/enthub/enthub/test/peer"
)

func openSQLite(t *testing.T) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "enthub.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openPostgres(t *testing.T) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), peer.Postgres(t), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformanceSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) directory.Store { return openSQLite(t) })
}

func TestConformancePostgres(t *testing.T) {
	storetest.Run(t, func(t *testing.T) directory.Store { return openPostgres(t) })
}

// A database migrated by a newer enthub must be refused, not silently used.
func TestRefusesNewerSchema(t *testing.T) {
	for name, open := range map[string]func(*testing.T) *sqlstore.Store{"sqlite": openSQLite, "postgres": openPostgres} {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			if _, err := s.DB().Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', CURRENT_TIMESTAMP)`); err != nil {
				t.Fatal(err)
			}
			err := s.Ping(context.Background())
			if !errors.Is(err, sqlstore.ErrTooNew) || !strings.Contains(err.Error(), "9999") {
				t.Errorf("Ping on a newer schema = %v, want ErrTooNew naming step 9999", err)
			}
			if err := s.Migrate(context.Background()); !errors.Is(err, sqlstore.ErrTooNew) {
				t.Errorf("Migrate on a newer schema = %v, want ErrTooNew", err)
			}
		})
	}
}

func TestMigrateIsIdempotentAndPingReportsPending(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, "sqlite:"+path, sqlstore.Options{NoMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(ctx); !errors.Is(err, sqlstore.ErrNotMigrated) {
		t.Fatalf("Ping on an empty database = %v, want ErrNotMigrated", err)
	}
	for range 2 {
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping after migrate: %v", err)
	}
	db, _ := sql.Open("sqlite", "file:"+path)
	defer db.Close()
	var n int
	db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n)
	if n == 0 {
		t.Error("no migration recorded")
	}
}

func TestBadURL(t *testing.T) {
	for _, u := range []string{"mysql://x", "sqlite:", "sqlite::memory:", ""} {
		_, err := sqlstore.Open(context.Background(), u, sqlstore.Options{})
		if err == nil || !strings.Contains(err.Error(), "database URL") {
			t.Errorf("Open(%q) = %v, want an error naming the database URL", u, err)
		}
	}
}

// The libpq multi-host URL of a primary and its standbys opens the first
// host that accepts writes (target_session_attrs=read-write): here the
// first host is down and the second is the server.
func TestMultiHostURLReachesTheLiveHost(t *testing.T) {
	u, err := url.Parse(peer.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	q := u.Query()
	q.Set("target_session_attrs", "read-write")
	u.Host, u.RawQuery = dead+","+u.Host, q.Encode()
	s, err := sqlstore.Open(context.Background(), u.String(), sqlstore.Options{})
	if err != nil {
		t.Fatalf("Open(%s): %v", u.Redacted(), err)
	}
	defer s.Close()
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// TryLock: one holder across instances (two stores on one PostgreSQL); the
// lock is free again after release.
func TestTryLock(t *testing.T) {
	ctx := context.Background()
	url := peer.Postgres(t)
	a, err := sqlstore.Open(ctx, url, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sqlstore.Open(ctx, url, sqlstore.Options{Existing: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	release, ok, err := a.TryLock(ctx, sqlstore.AdvisoryInbox)
	if err != nil || !ok {
		t.Fatalf("first TryLock = %v, %v", ok, err)
	}
	if _, ok, err := b.TryLock(ctx, sqlstore.AdvisoryInbox); ok || err != nil {
		t.Fatalf("second instance's TryLock while held = %v, %v; want false", ok, err)
	}
	release()
	relB, ok, err := b.TryLock(ctx, sqlstore.AdvisoryInbox)
	if err != nil || !ok {
		t.Fatalf("TryLock after release = %v, %v", ok, err)
	}
	relB()
	// (A holder killed outright loses the lock with its session:
	// test/chaos kills enthub during an inbox import and restarts it.)
	// SQLite: one machine, always granted.
	rel, ok, err := openSQLite(t).TryLock(ctx, sqlstore.AdvisoryInbox)
	if !ok || err != nil {
		t.Fatalf("SQLite TryLock = %v, %v", ok, err)
	}
	rel()
}
