package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/test/peer"
)

// searchStores opens an empty, migrated store per dialect.
func searchStores() map[string]func(t *testing.T) *sqlstore.Store {
	return map[string]func(t *testing.T) *sqlstore.Store{
		"sqlite": func(t *testing.T) *sqlstore.Store {
			return openURL(t, "sqlite:"+filepath.Join(t.TempDir(), "enthub.db"))
		},
		"postgres": func(t *testing.T) *sqlstore.Store { return openURL(t, peer.Postgres(t)) },
	}
}

// searchLogins is SearchAccounts as the logins it finds.
func searchLogins(t *testing.T, s *sqlstore.Store, q string) []string {
	t.Helper()
	hits, err := s.SearchAccounts(context.Background(), q, 10)
	if err != nil {
		t.Fatalf("SearchAccounts(%q): %v", q, err)
	}
	var out []string
	for _, h := range hits {
		out = append(out, h.Login)
	}
	return out
}

// aafImport applies persons as one delivery, each with an account.
func aafImport(t *testing.T, s *sqlstore.Store, now time.Time, complet bool, persons ...directory.Person) {
	t.Helper()
	ctx := context.Background()
	itx, err := s.BeginImport(ctx, directory.ImportOptions{Now: now, LoginPattern: "{prenom}.{nom}", Complet: complet})
	if err != nil {
		t.Fatal(err)
	}
	defer itx.Rollback()
	known := map[string]bool{}
	if err := itx.Checksums(ctx, func(s directory.StoredSum) { known[s.AAFID] = true }); err != nil {
		t.Fatal(err)
	}
	for _, p := range persons {
		p.AAFFamily, p.Checksum = "PersEducNat", p.FirstName+p.LastName
		if err := itx.PutPerson(ctx, directory.BulkPerson{Person: p, CreateAccount: true, New: !known[p.AAFID]}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := itx.Finish(ctx, directory.FinishOptions{Complet: complet}); err != nil {
		t.Fatal(err)
	}
}

// Whichever way a person is written, a search ignores the case and the
// accents of their name: an AAF first import, a later import's new and
// renamed persons, a restore. Logins come from {prenom}.{nom}, so the
// queries are last names, which only the name search can find.
func TestSearchNameOnEveryWrite(t *testing.T) {
	for name, open := range searchStores() {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			day := time.Date(2026, 9, 1, 2, 0, 0, 0, time.UTC)
			aafImport(t, s, day, true, directory.Person{AAFID: "T1", FirstName: "Théo", LastName: "LEFÈVRE"})
			if got := searchLogins(t, s, "lefevre"); !slices.Equal(got, []string{"theo.lefevre"}) {
				t.Errorf("after the first import: lefevre finds %v", got)
			}
			aafImport(t, s, day.AddDate(0, 0, 1), false,
				directory.Person{AAFID: "T1", FirstName: "Théo", LastName: "LEFÈVRE-DUPRÉ"},
				directory.Person{AAFID: "T2", FirstName: "Lætitia", LastName: "CŒUR"})
			if got := searchLogins(t, s, "Lefevre-Dupre"); !slices.Equal(got, []string{"theo.lefevre"}) {
				t.Errorf("after a renaming import: Lefevre-Dupre finds %v", got)
			}
			if got := searchLogins(t, s, "coeur"); !slices.Equal(got, []string{"laetitia.coeur"}) {
				t.Errorf("after an import adding a person: coeur finds %v", got)
			}

			r := open(t)
			ctx := context.Background()
			err := r.Restore(ctx, func(tx directory.RestoreTx) error {
				p := directory.Person{ID: "p1", FirstName: "ÉLODIE", LastName: "Dupré", Source: directory.SourceManual, CreatedAt: day, UpdatedAt: day}
				if err := tx.RestorePerson(ctx, p); err != nil {
					return err
				}
				return tx.RestoreAccount(ctx, directory.Account{ID: "a1", PersonID: "p1", Login: "ed", Status: directory.StatusActive,
					Source: directory.SourceManual, CreatedAt: day, UpdatedAt: day})
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := searchLogins(t, r, "elodie DUPRE"); !slices.Equal(got, []string{"ed"}) {
				t.Errorf("after a restore: elodie DUPRE finds %v", got)
			}
		})
	}
}

// Migration 380 fills the search name of the persons written before it,
// over several of its pages.
func TestSearchNameBackfill(t *testing.T) {
	for name, open := range searchStores() {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			const n = 2500
			err := s.Update(ctx, func(tx directory.Tx) error {
				for i := range n {
					p := &directory.Person{FirstName: "Zoé", LastName: fmt.Sprintf("ÉTIENNE%04d", i), Source: directory.SourceManual}
					if err := tx.PutPerson(ctx, p); err != nil {
						return err
					}
					a := &directory.Account{PersonID: p.ID, Login: fmt.Sprintf("z%04d", i), Status: directory.StatusActive, Source: directory.SourceManual}
					if err := tx.PutAccount(ctx, a); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			// As the schema was before step 380.
			for _, q := range []string{`ALTER TABLE persons DROP COLUMN search_name`, `DELETE FROM schema_migrations WHERE version = 380`} {
				if _, err := s.DB().ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			var blank int
			if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM persons WHERE search_name <> 'zoe etienne' || substr(last_name, 8)`).Scan(&blank); err != nil || blank != 0 {
				t.Errorf("%d persons without their search name after the migration (%v)", blank, err)
			}
			for _, i := range []int{0, 1234, n - 1} {
				q := fmt.Sprintf("etienne%04d", i)
				if got := searchLogins(t, s, q); !slices.Equal(got, []string{fmt.Sprintf("z%04d", i)}) {
					t.Errorf("%s finds %v", q, got)
				}
			}
		})
	}
}
