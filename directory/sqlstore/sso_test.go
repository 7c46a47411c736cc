package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/idp/sso"
	"github.com/enthub/enthub/idp/sso/ssotest"
	"github.com/enthub/enthub/test/peer"
)

func fixedClock() time.Time { return ssotest.T0 }

func TestSSOStoreSQLite(t *testing.T) {
	ssotest.Run(t, func(t *testing.T) sso.Store {
		s, err := sqlstore.Open(context.Background(), "sqlite:"+t.TempDir()+"/db", sqlstore.Options{Now: fixedClock})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestSSOStorePostgres(t *testing.T) {
	ssotest.Run(t, func(t *testing.T) sso.Store {
		s, err := sqlstore.Open(context.Background(), peer.Postgres(t), sqlstore.Options{Now: fixedClock})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// The identity provider writes its audit trail in batches of hundreds:
// they go in multi-row INSERTs, which must keep every field and the order.
func TestAppendEventsBatch(t *testing.T) {
	for name, dbURL := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + t.TempDir() + "/db" },
		"postgres": func(t *testing.T) string { return peer.Postgres(t) },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s, err := sqlstore.Open(ctx, dbURL(t), sqlstore.Options{Now: fixedClock})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var es []directory.Event
			for i := range 300 {
				es = append(es, directory.Event{Time: ssotest.T0.Add(time.Duration(i) * time.Millisecond), Type: "cas.ticket.validated",
					AccountID: fmt.Sprint("acc-", i), StructureID: "st", Profile: directory.ProfileEleve, Service: "pronote",
					Outcome: "ok", Reason: "r", Remote: "192.0.2.1", Details: map[string]string{"n": fmt.Sprint(i)}})
			}
			es[7].Time = time.Time{} // takes the store's clock
			if err := s.Update(ctx, func(tx directory.Tx) error { return tx.AppendEvents(ctx, es...) }); err != nil {
				t.Fatal(err)
			}
			got, err := s.Events(ctx, directory.EventFilter{Type: "cas.ticket.validated", Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(es) {
				t.Fatalf("%d events read back, %d written", len(got), len(es))
			}
			seen := map[string]bool{}
			for _, e := range got {
				n := e.Details["n"]
				if e.AccountID != "acc-"+n || e.Profile != directory.ProfileEleve || e.Service != "pronote" || e.Remote != "192.0.2.1" || e.Reason != "r" {
					t.Fatalf("event read back as %+v", e)
				}
				if n == "7" && !e.Time.Equal(ssotest.T0) {
					t.Fatalf("event without a time: %s, want the store's clock", e.Time)
				}
				seen[n] = true
			}
			if len(seen) != len(es) {
				t.Fatalf("%d distinct events", len(seen))
			}
		})
	}
}
