package aaf

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/test/peer"
)

func openStores(t *testing.T) map[string]*sqlstore.Store {
	t.Helper()
	out := map[string]*sqlstore.Store{}
	ctx := context.Background()
	sl, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "e.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sl.Close() })
	out["sqlite"] = sl
	if testing.Short() {
		return out
	}
	pg, err := sqlstore.Open(ctx, peer.Postgres(t), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	out["postgres"] = pg
	return out
}

// The real 2013 export imports with the right counts and links, and a second
// import of the same files changes nothing.
func TestImportSample2013(t *testing.T) {
	dir := filepath.Join(samplesDir(t), "entcore-aaf-test-2013")
	for name, s := range openStores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			day := time.Date(2013, 1, 18, 2, 0, 0, 0, time.UTC)
			opts := ImportOptions{Check: CheckOptions{AllowMissingChunks: true}, Now: func() time.Time { return day }}
			opts.DryRun = true
			dry, err := Import(ctx, s, []string{dir}, opts)
			if err != nil {
				t.Fatalf("dry run: %v", err)
			}
			opts.DryRun = false
			rep, err := Import(ctx, s, []string{dir}, opts)
			if err != nil {
				t.Fatalf("import: %v (%+v)", err, rep)
			}
			if d, r := comparable(t, dry), comparable(t, rep); d != r {
				t.Errorf("the dry run reported\n%s\nthe import\n%s", d, r)
			}
			for _, f := range []Family{MatiereEducNat, MefEducNat} {
				if c := rep.Apply.Families[f]; c.Added == 0 || c.Updated+c.Unchanged != 0 {
					t.Errorf("%s into an empty directory: %+v, want every row added", f, c)
				}
			}
			if rep.Origin.Date != "2013-01-17" || rep.Origin.Scope != "academie=- degre=- prefix=FULL_ENTTSSERVICES+clean-FULL_ENTTSSERVICES" {
				t.Errorf("origin = %+v", rep.Origin)
			}
			if rep.Outcome != OutcomeApplied || rep.Apply.Families[Eleve].Added != 642 || rep.Apply.Families[PersEducNat].Added != 701 || rep.Apply.Families[EtabEducNat].Added != 10 {
				t.Fatalf("first import: %s, families %+v", rep.Outcome, rep.Apply.Families)
			}
			st, _ := s.Stats(ctx)
			if st.Structures != 10 || st.ByProfile[directory.ProfileEleve] != 642 {
				t.Errorf("stats = %d structures, %d students", st.Structures, st.ByProfile[directory.ProfileEleve])
			}
			// Only adults named as legal representatives got accounts: the
			// sample's 9,975 related adults are far more than its students'.
			if n := st.ByProfile[directory.ProfileParent]; n < 500 || n > 1100 {
				t.Errorf("%d parents with an account, want the ~1,000 the 642 students name", n)
			}
			if rep.Apply.AccountsCreated != st.Accounts.Active {
				t.Errorf("accounts created %d, active %d", rep.Apply.AccountsCreated, st.Accounts.Active)
			}
			// Same content: a no-op, straight from the journal.
			again, err := Import(ctx, s, []string{dir}, opts)
			if err != nil || again.Outcome != OutcomeNoop {
				t.Fatalf("re-import = %+v, %v; want noop", again.Outcome, err)
			}
			// Forced: applied, but every record unchanged and nothing written.
			gen, _ := s.Generation(ctx)
			opts.Force = true
			forced, err := Import(ctx, s, []string{dir}, opts)
			if err != nil {
				t.Fatal(err)
			}
			for fam, c := range forced.Apply.Families {
				if c.Added+c.Updated+c.Disabled+c.Restored != 0 {
					t.Errorf("forced re-import changed %s: %+v", fam, c)
				}
			}
			if recs, _ := s.Imports(ctx, 1); len(recs) != 1 || !strings.HasPrefix(recs[0].Reason, "forced: already applied on 2013-01-18") {
				t.Errorf("journal = %+v, want the forced re-import saying what it overrode", recs)
			}
			if forced.Apply.AccountsCreated != 0 {
				t.Errorf("forced re-import created %d accounts", forced.Apply.AccountsCreated)
			}
			if g, _ := s.Generation(ctx); g != gen+1 {
				t.Logf("generation %d → %d", gen, g)
			}
		})
	}
}

// A refused delivery leaves the directory exactly as it was.
func TestImportRefusedChangesNothing(t *testing.T) {
	s := openStores(t)["sqlite"]
	ctx := context.Background()
	rep, err := Import(ctx, s, []string{filepath.Join(samplesDir(t), "entcore-aaf-test-2013")}, ImportOptions{})
	if !errors.Is(err, ErrRefused) || rep.Outcome != OutcomeRefused {
		t.Fatalf("2013 set without AllowMissingChunks = %v, %v; want refused (its Eleve_0000 chunk is missing)", rep.Outcome, err)
	}
	st, _ := s.Stats(ctx)
	if st.Structures != 0 || st.Accounts.Active != 0 {
		t.Errorf("refused delivery wrote: %+v", st)
	}
	recs, _ := s.Imports(ctx, 5)
	if len(recs) != 1 || recs[0].Outcome != OutcomeRefused || recs[0].Reason == "" {
		t.Errorf("journal = %+v, want one refused entry with its reason", recs)
	}
}
