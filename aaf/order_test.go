package aaf

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/directory/storetest"
)

// generated writes a delivery of the seed used by the date-order and
// dry-run tests, dated day.
func generated(t *testing.T, day time.Time, delta bool) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), day.Format("20060102"))
	if _, err := Generate(context.Background(), GenerateOptions{Out: dir, Students: 600, Schools: 2, Seed: 5, ChunkSize: 200,
		Date: day, Delta: delta}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func sept(day int) time.Time { return time.Date(2024, 9, day, 0, 0, 0, 0, time.UTC) }

// The scenario: after a Complet of 2024-09-20, a Delta of
// 2024-09-17 and then a Complet of 2024-09-16 are refused, each with a
// reason naming both dates, and change nothing but the journal; --force
// applies the old Complet and the journal says it was forced.
func TestImportRefusesDeliveryOlderThanLastApplied(t *testing.T) {
	complet20, delta17, complet16 := generated(t, sept(20), false), generated(t, sept(17), true), generated(t, sept(16), false)
	for name, s := range openStores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			clock := time.Date(2024, 9, 21, 2, 0, 0, 0, time.UTC)
			at := func() ImportOptions {
				clock = clock.Add(time.Hour)
				now := clock
				return ImportOptions{Now: func() time.Time { return now }}
			}
			rep, err := Import(ctx, s, []string{complet20}, at())
			if err != nil {
				t.Fatal(err)
			}
			if rep.Origin == nil || rep.Origin.Date != "2024-09-20" || rep.Origin.Scope != "academie=13 degre=2D prefix=ENT2D" {
				t.Fatalf("origin = %+v, want 2024-09-20 in academie=13 degre=2D prefix=ENT2D", rep.Origin)
			}
			for _, stale := range []struct{ name, path, kind, date string }{
				{"Delta of the 17th", delta17, "Delta", "2024-09-17"},
				{"Complet of the 16th", complet16, "Complet", "2024-09-16"},
			} {
				before := storetest.Dump(t, s.DB())
				rep, err := Import(ctx, s, []string{stale.path}, at())
				if !errors.Is(err, ErrRefused) || rep.Outcome != OutcomeRefused {
					t.Fatalf("%s: import = %s, %v; want refused", stale.name, rep.Outcome, err)
				}
				for _, w := range []string{"this " + stale.kind + " is dated " + stale.date, "older than the Complet dated 2024-09-20", "--force"} {
					if !strings.Contains(rep.Reason, w) {
						t.Errorf("%s: reason %q lacks %q", stale.name, rep.Reason, w)
					}
				}
				if storetest.Dump(t, s.DB()) != before {
					t.Errorf("%s: a refused delivery changed the directory", stale.name)
				}
				if recs, _ := s.Imports(ctx, 1); len(recs) != 1 || recs[0].Outcome != OutcomeRefused || recs[0].Reason != rep.Reason ||
					recs[0].ExportDate != stale.date || recs[0].Scope != rep.Origin.Scope {
					t.Errorf("%s: journal = %+v, want the refusal with its date and scope", stale.name, recs)
				}
			}
			opts := at()
			opts.Force = true
			rep, err = Import(ctx, s, []string{complet16}, opts)
			if err != nil || rep.Outcome != OutcomeApplied || len(rep.Forced) != 1 {
				t.Fatalf("forced import = %s (forced %q), %v", rep.Outcome, rep.Forced, err)
			}
			recs, _ := s.Imports(ctx, 1)
			if len(recs) != 1 || recs[0].Outcome != OutcomeApplied || !strings.HasPrefix(recs[0].Reason, "forced: this Complet is dated 2024-09-16") ||
				!strings.Contains(recs[0].Reason, "2024-09-20") {
				t.Errorf("journal = %+v, want the forced Complet with what --force overrode", recs)
			}
			// The forced Complet is the directory's day now: the Delta that
			// follows it applies.
			if rep, err := Import(ctx, s, []string{delta17}, at()); err != nil || rep.Outcome != OutcomeApplied {
				t.Errorf("Delta after the forced Complet = %s, %v; want applied", rep.Outcome, err)
			}
		})
	}
}

// The scope parts are checked before anything is read.
func TestImportRejectsUnknownScopePart(t *testing.T) {
	_, err := Import(context.Background(), nil, []string{"nowhere"}, ImportOptions{Order: OrderOptions{ScopeBy: []string{"academie", "rectorat"}}})
	if err == nil || !strings.Contains(err.Error(), `"rectorat"`) {
		t.Fatalf("err = %v, want the unknown part named", err)
	}
}

// A delivery whose names carry no date is dated by its header; the 2013
// sample, with neither, is imported without an order check.
func TestOriginDate(t *testing.T) {
	ctx := context.Background()
	dir := generated(t, sept(16), false)
	d, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	o := d.origin(ctx, ParseOptions{}, []string{ScopeAcademie, ScopePrefix})
	if o.Date != "2024-09-16" || o.DateFrom != "file names" || o.Academie != "13" || o.Degre != "2D" || o.Scope != "academie=13 prefix=ENT2D" {
		t.Errorf("origin = %+v", o)
	}
	for _, f := range d.Files {
		f.DateText = ""
	}
	d.Date = time.Time{}
	if o := d.origin(ctx, ParseOptions{}, nil); o.Date != "2024-09-16" || o.DateFrom != "header" {
		t.Errorf("origin without dated names = %+v, want the header's date", o)
	}
}
