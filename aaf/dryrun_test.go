package aaf

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/directory/storetest"
)

// A dry run reports exactly what the real import of the same delivery then
// does on the same store — a first Complet, a Delta, a re-import, a
// Complet restoring what the Delta removed, deliveries refused by the date
// order and by the volumetry guard, the latter forced — and changes
// nothing, not even the journal.
func TestDryRunReportsWhatTheImportDoes(t *testing.T) {
	complet := generated(t, sept(16), false)
	delta := generated(t, sept(17), true)
	restore := generated(t, sept(18), false)
	stale := generated(t, sept(15), false)
	truncated := generated(t, sept(19), false)
	for _, f := range mustGlob(t, filepath.Join(truncated, "*_Eleve_*.xml")) {
		edit(t, f, func(s string) string { return dropRecords(s, 0.4) })
	}
	steps := []struct {
		name, path string
		force      bool
		outcome    string
		check      func(t *testing.T, rep *ImportReport)
	}{
		{"first Complet", complet, false, OutcomeApplied, func(t *testing.T, rep *ImportReport) {
			for _, f := range []Family{MatiereEducNat, MefEducNat} {
				if c := rep.Apply.Families[f]; c == nil || c.Added == 0 || c.Updated != 0 || c.Unchanged != 0 {
					t.Errorf("%s into an empty directory: %+v, want every row added", f, c)
				}
			}
			if rep.Apply.AccountsCreated == 0 {
				t.Error("no account created")
			}
		}},
		{"Delta", delta, false, OutcomeApplied, func(t *testing.T, rep *ImportReport) {
			if rep.Apply.AccountsCreated == 0 || rep.Apply.Families[Eleve].Disabled == 0 {
				t.Errorf("Delta: %d accounts created, students %+v; want arrivals and departures", rep.Apply.AccountsCreated, rep.Apply.Families[Eleve])
			}
		}},
		{"re-import", delta, false, OutcomeNoop, nil},
		{"Complet after the Delta", restore, false, OutcomeApplied, func(t *testing.T, rep *ImportReport) {
			if rep.Apply.Families[Eleve].Restored == 0 || rep.Apply.Families[MatiereEducNat].Unchanged == 0 {
				t.Errorf("students %+v, subjects %+v; want restored students and unchanged subjects",
					rep.Apply.Families[Eleve], rep.Apply.Families[MatiereEducNat])
			}
		}},
		{"older Complet", stale, false, OutcomeRefused, nil},
		{"Complet losing 40 % of the students", truncated, false, OutcomeRefused, func(t *testing.T, rep *ImportReport) {
			if rep.Check == nil || rep.Check.Volumetry == nil || !rep.Check.Volumetry.Refused {
				t.Errorf("want a volumetry refusal, got %q", rep.Reason)
			}
		}},
		{"the same, forced", truncated, true, OutcomeApplied, func(t *testing.T, rep *ImportReport) {
			if !strings.HasPrefix(rep.Reason, "forced: the whole perimeter would lose") || !strings.Contains(rep.Reason, "; school 0130000A CLG JEAN MOULIN") || rep.Apply.Families[Eleve].Disabled == 0 {
				t.Errorf("forced: reason %q, students %+v", rep.Reason, rep.Apply.Families[Eleve])
			}
		}},
	}
	for name, s := range openStores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			for i, st := range steps {
				now := time.Date(2024, 9, 21, 2, i, 0, 0, time.UTC)
				opts := ImportOptions{Now: func() time.Time { return now }, Force: st.force}
				before := storetest.Dump(t, s.DB())
				journal, _ := s.Imports(ctx, 1000)
				opts.DryRun = true
				dry, dryErr := Import(ctx, s, []string{st.path}, opts)
				if storetest.Dump(t, s.DB()) != before {
					t.Errorf("%s: the dry run changed the directory", st.name)
				}
				if after, _ := s.Imports(ctx, 1000); len(after) != len(journal) {
					t.Errorf("%s: the dry run wrote to the journal", st.name)
				}
				if !dry.DryRun {
					t.Errorf("%s: the dry run's report does not say so", st.name)
				}
				opts.DryRun = false
				real, realErr := Import(ctx, s, []string{st.path}, opts)
				if real.Outcome != st.outcome {
					t.Fatalf("%s: outcome %s (%s), want %s", st.name, real.Outcome, real.Reason, st.outcome)
				}
				if (dryErr == nil) != (realErr == nil) {
					t.Errorf("%s: dry run error %v, import error %v", st.name, dryErr, realErr)
				}
				if d, r := comparable(t, dry), comparable(t, real); d != r {
					t.Errorf("%s: the dry run reported\n%s\nthe import\n%s", st.name, d, r)
				}
				if st.check != nil {
					st.check(t, real)
				}
			}
		})
	}
}

// comparable renders a report without what differs between two runs of
// the same import: timings, and the dry-run flag.
func comparable(t *testing.T, r *ImportReport) string {
	t.Helper()
	c := *r
	c.DryRun, c.DurationMS, c.PhasesMS, c.RecordsPerSecond = false, 0, nil, 0
	if c.Check != nil {
		check := *c.Check
		check.DurationMS = 0
		c.Check = &check
	}
	b, err := json.MarshalIndent(c, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
