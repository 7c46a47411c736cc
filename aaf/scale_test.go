package aaf

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/enthub/enthub/directory"
)

// A generated 100,000-student delivery (≈270,000 records) imports on SQLite
// and PostgreSQL with the right counts and links, a second import of it
// changes nothing, and the Delta derived from it applies. Slow (about a
// minute per backend on 2 cores): skipped with -short.
func TestImportGenerated100k(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000-student import: skipped with -short")
	}
	ctx := context.Background()
	dir := t.TempDir()
	complet, delta := filepath.Join(dir, "complet"), filepath.Join(dir, "delta")
	sum, err := Generate(ctx, GenerateOptions{Out: complet, Students: 100000, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	dsum, err := Generate(ctx, GenerateOptions{Out: delta, Students: 100000, Seed: 1, Delta: true})
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range openStores(t) {
		t.Run(name, func(t *testing.T) {
			rep, err := Import(ctx, s, []string{complet}, ImportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s first import: %d records in %.1f s (%.0f records/s), phases %v", name, rep.Apply.Records,
				float64(rep.DurationMS)/1000, rep.RecordsPerSecond, rep.PhasesMS)
			if rep.Apply.Families[Eleve].Added != sum.Students || rep.Apply.Families[PersEducNat].Added != sum.Staff ||
				rep.Apply.Families[PersRelEleve].Added != sum.Relatives || rep.Apply.Families[EtabEducNat].Added != sum.Structures {
				t.Errorf("added %+v, generated %d students, %d staff, %d relatives, %d structures",
					rep.Apply.Families, sum.Students, sum.Staff, sum.Relatives, sum.Structures)
			}
			st, err := s.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			parents := st.ByProfile[directory.ProfileParent]
			if st.Structures != sum.Structures || st.ByProfile[directory.ProfileEleve] != sum.Students ||
				parents < sum.Students || parents > sum.Relatives || st.Accounts.Active != rep.Apply.AccountsCreated {
				t.Errorf("stats %+v / %+v, want %d structures, %d students, parents between %d and %d",
					st.Accounts, st.ByProfile, sum.Structures, sum.Students, sum.Students, sum.Relatives)
			}
			// Links: parents with children in two schools and staff in two
			// schools have a persona in each.
			twoSchools := map[directory.Profile]int{}
			perPerson := map[string]map[string]bool{}
			var profileOf = map[string]directory.Profile{}
			s.EachPersona(ctx, func(p directory.Persona) error {
				if perPerson[p.PersonID] == nil {
					perPerson[p.PersonID] = map[string]bool{}
				}
				perPerson[p.PersonID][p.StructureID] = true
				profileOf[p.PersonID] = p.Profile
				return nil
			})
			for id, ss := range perPerson {
				if len(ss) > 1 {
					twoSchools[profileOf[id]]++
				}
			}
			if twoSchools[directory.ProfileParent] < sum.ParentsInTwoSchools || twoSchools[directory.ProfileEleve] != 0 {
				t.Errorf("personas in two schools %v, generator made %d parents in two schools", twoSchools, sum.ParentsInTwoSchools)
			}
			relations, members := 0, 0
			s.EachRelation(ctx, func(directory.Relation) error { relations++; return nil })
			s.EachMembership(ctx, func(directory.Membership) error { members++; return nil })
			if relations < sum.Students || members < sum.Students {
				t.Errorf("%d relations, %d memberships for %d students", relations, members, sum.Students)
			}

			// The same delivery again: a no-op from the journal.
			if again, err := Import(ctx, s, []string{complet}, ImportOptions{}); err != nil || again.Outcome != OutcomeNoop {
				t.Errorf("second import = %v, %v; want noop", again.Outcome, err)
			}
			if name == "postgres" {
				forced, err := Import(ctx, s, []string{complet}, ImportOptions{Force: true})
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%s unchanged re-import: %.1f s (%.0f records/s), phases %v", name,
					float64(forced.DurationMS)/1000, forced.RecordsPerSecond, forced.PhasesMS)
				if forced.Apply.AccountsCreated != 0 || forced.Apply.Families[Eleve].Unchanged != sum.Students {
					t.Errorf("forced re-import: %+v", forced.Apply)
				}
			}

			// The Delta: its deletes disable, its adds create.
			drep, err := Import(ctx, s, []string{delta}, ImportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s delta of %d records: %.1f s, phases %v", name, drep.Apply.Records, float64(drep.DurationMS)/1000, drep.PhasesMS)
			deleted, disabled := 0, 0
			for _, c := range drep.Apply.Families {
				deleted += c.Deleted
				disabled += c.Disabled
			}
			if deleted != dsum.Ops[OpDelete] || disabled == 0 || disabled > deleted {
				t.Errorf("delta deleted %d (generated %d), disabled %d", deleted, dsum.Ops[OpDelete], disabled)
			}
		})
	}
}
