package storetest

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
)

// bulkFixture is a delivery as the AAF importer stages it: one school, two
// students sharing a parent, a teacher, and a related adult who is no legal
// representative.
func bulkDelivery(day int) (structs []directory.BulkStructure, persons []directory.BulkPerson) {
	structs = []directory.BulkStructure{{Structure: directory.Structure{AAFID: "S1", UAI: "0130001A", Name: "CLG A", Checksum: "s1"}}}
	student := func(id, first, class, sum string) directory.BulkPerson {
		return directory.BulkPerson{
			Person:        directory.Person{AAFID: id, AAFFamily: "Eleve", FirstName: first, LastName: "Martin", Checksum: sum, Extra: map[string][]string{"ENTEleveClasses": {"S1$" + class}}},
			CreateAccount: true,
			Personas:      []directory.BulkPersona{{StructureAAFID: "S1", Profile: directory.ProfileEleve}},
			Memberships:   []directory.BulkMembership{{StructureAAFID: "S1", Kind: directory.GroupClass, Code: class, Role: directory.RoleStudent}},
			Relations:     []directory.BulkRelation{{ParentAAFID: "P1", LienParente: "10", RespLegal: 1, RespFinancier: true}, {ParentAAFID: "P2", LienParente: "90", RespLegal: 0}},
		}
	}
	persons = []directory.BulkPerson{
		student("E1", "Léa", "3A", "e1"),
		student("E2", "Léa", "4B", "e2"), // same name: the login gets a suffix
		{Person: directory.Person{AAFID: "P1", AAFFamily: "PersRelEleve", FirstName: "Anne", LastName: "Martin", Checksum: "p1"}, CreateAccount: true},
		{Person: directory.Person{AAFID: "P2", AAFFamily: "PersRelEleve", FirstName: "Luc", LastName: "Voisin", Checksum: "p2"}, CreateAccount: false},
		{Person: directory.Person{AAFID: "T1", AAFFamily: "PersEducNat", FirstName: "Zoé", LastName: "Prof", Checksum: "t1"}, CreateAccount: true,
			Personas:    []directory.BulkPersona{{StructureAAFID: "S1", Profile: directory.ProfileEnseignant, Functions: []directory.Function{{Code: "ENS"}}}},
			Memberships: []directory.BulkMembership{{StructureAAFID: "S1", Kind: directory.GroupClass, Code: "3A", Role: directory.RoleTeacher, Subjects: []string{"030201"}, HeadTeacher: true}}},
	}
	if day == 2 {
		// E2 changes class; T1 left (absent from the Complet).
		persons[1].Checksum = "e2b"
		persons[1].Memberships[0].Code = "4C"
		persons = persons[:4]
	}
	return structs, persons
}

// bulkOf is the store's bulk import; a store without one skips the test.
func bulkOf(t *testing.T, s directory.Store) directory.Bulk {
	t.Helper()
	b, ok := s.(directory.Bulk)
	if !ok {
		t.Skip("store has no bulk import")
	}
	return b
}

func runBulk(t *testing.T, b directory.Bulk, now time.Time, complet bool, structs []directory.BulkStructure, persons []directory.BulkPerson, deletes ...string) directory.BulkCounts {
	t.Helper()
	order := make([]any, 0, len(structs)+len(persons))
	for _, s := range structs {
		order = append(order, s)
	}
	for _, p := range persons {
		order = append(order, p)
	}
	counts, _ := importDelivery(t, b, importOptions(now, complet, 1, 2), order, deletes...)
	return counts
}

func importOptions(now time.Time, complet bool, respLegal ...int) directory.ImportOptions {
	return directory.ImportOptions{Now: now, LoginPattern: "{prenom}.{nom}", RelationAccountFamily: "PersRelEleve",
		ParentRespLegal: respLegal, Complet: complet}
}

// importDelivery applies records in order as the AAF importer does: a
// person whose checksum is stored unchanged is Seen unless their account is
// active, any other record is put (New
// when no stored record has its id); a Complet then deletes the stored
// persons it no longer carries, of the three families (even one with no
// record left), and the deletes given. It reports whether the store took
// its first-import path.
func importDelivery(t *testing.T, b directory.Bulk, opts directory.ImportOptions, order []any, deletes ...string) (directory.BulkCounts, bool) {
	t.Helper()
	return finishDelivery(t, b, opts, false, order, deletes...)
}

// finishDelivery is importDelivery, finishing as a dry run when dryRun.
func finishDelivery(t *testing.T, b directory.Bulk, opts directory.ImportOptions, dryRun bool, order []any, deletes ...string) (directory.BulkCounts, bool) {
	t.Helper()
	ctx := context.Background()
	itx, err := b.BeginImport(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer itx.Rollback()
	known := map[string]string{}
	family := map[string]string{} // stored person → family
	active := map[string]bool{}
	if err := itx.Checksums(ctx, func(s directory.StoredSum) {
		known[s.Kind+s.AAFID] = s.Checksum
		if s.Kind == "person" {
			family[s.AAFID], active[s.AAFID] = s.Family, s.Active
		}
	}); err != nil {
		t.Fatal(err)
	}
	delivered := map[string]bool{"Eleve": true, "PersRelEleve": true, "PersEducNat": true} // families, and persons
	for _, r := range order {
		switch r := r.(type) {
		case directory.BulkStructure:
			if sum, ok := known["structure"+r.AAFID]; !ok || sum != r.Checksum {
				err = itx.PutStructure(ctx, r)
			}
		case directory.BulkPerson:
			delivered[r.AAFID] = true
			sum, ok := known["person"+r.AAFID]
			if ok && sum == r.Checksum {
				if !active[r.AAFID] {
					err = itx.Seen(ctx, r.AAFID)
				}
				break
			}
			r.New = !ok
			err = itx.PutPerson(ctx, r)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if opts.Complet {
		for id, fam := range family {
			if delivered[fam] && !delivered[id] {
				deletes = append(deletes, id)
			}
		}
	}
	for _, id := range deletes {
		if err := itx.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	fresh := itx.Fresh()
	counts, err := itx.Finish(ctx, directory.FinishOptions{Complet: opts.Complet, DryRun: dryRun})
	if err != nil {
		t.Fatal(err)
	}
	return counts, fresh
}

// A dry-run Finish counts exactly what the real one then does (accounts
// created, disabled, restored), first import included, and leaves the
// directory as it was.
func testBulkDryRun(t *testing.T, s directory.Store) {
	b := bulkOf(t, s)
	ctx := context.Background()
	day := time.Date(2026, 9, 1, 2, 0, 0, 0, time.UTC)
	deliveries := []struct {
		name    string
		day     int
		complet bool
		deletes []string
	}{
		{"first Complet", 1, true, nil},
		{"Complet without the teacher", 2, true, nil},
		{"Complet with the teacher back", 1, true, nil},
		{"Delta deleting a student", 0, false, []string{"E1"}},
	}
	for i, d := range deliveries {
		var order []any
		if d.day != 0 {
			structs, persons := bulkDelivery(d.day)
			for _, st := range structs {
				order = append(order, st)
			}
			for _, p := range persons {
				order = append(order, p)
			}
		}
		opts := importOptions(day.Add(time.Duration(i)*24*time.Hour), d.complet, 1, 2)
		stats, _ := s.Stats(ctx)
		gen, _ := s.Generation(ctx)
		dry, dryFresh := finishDelivery(t, b, opts, true, order, d.deletes...)
		if after, _ := s.Stats(ctx); !reflect.DeepEqual(after, stats) {
			t.Errorf("%s: the dry run changed the directory: %+v → %+v", d.name, stats, after)
		}
		if g, _ := s.Generation(ctx); g != gen {
			t.Errorf("%s: the dry run moved the generation %d → %d", d.name, gen, g)
		}
		real, realFresh := finishDelivery(t, b, opts, false, order, d.deletes...)
		if !reflect.DeepEqual(dry, real) || dryFresh != realFresh {
			t.Errorf("%s: dry run counted %+v (fresh %v), the import did %+v (fresh %v)", d.name, dry, dryFresh, real, realFresh)
		}
		if sum(real.Disabled)+sum(real.Restored)+real.Accounts == 0 {
			t.Errorf("%s: nothing created, disabled or restored: the test proves nothing", d.name)
		}
	}
}

// A subject or MEF is added, then unchanged, then updated, and the store
// says which.
func testBulkNomenclature(t *testing.T, s directory.Store) {
	b := bulkOf(t, s)
	ctx := context.Background()
	steps := []struct {
		subject, mef string
		want         directory.Change
	}{
		{"MATHEMATIQUES", "3EME", directory.Added},
		{"MATHEMATIQUES", "3EME", directory.Unchanged},
		{"MATHS", "TROISIEME", directory.Updated},
	}
	for i, st := range steps {
		itx, err := b.BeginImport(ctx, importOptions(time.Date(2026, 9, 1+i, 2, 0, 0, 0, time.UTC), false))
		if err != nil {
			t.Fatal(err)
		}
		cs, err := itx.PutSubject(ctx, directory.Subject{Code: "061300", Label: st.subject})
		if err != nil {
			t.Fatal(err)
		}
		cm, err := itx.PutMEF(ctx, directory.MEF{Code: "10310019110", Label: st.mef, Rattach: "10310019110"})
		if err != nil {
			t.Fatal(err)
		}
		if cs != st.want || cm != st.want {
			t.Errorf("step %d: subject %v, MEF %v; want %v", i+1, cs, cm, st.want)
		}
		if _, err := itx.Finish(ctx, directory.FinishOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if sub, _ := s.Subject(ctx, "061300"); sub.Label != "MATHS" {
		t.Errorf("subject = %+v, want the updated label", sub)
	}
}

func testBulkImport(t *testing.T, s directory.Store) {
	b := bulkOf(t, s)
	ctx := context.Background()
	day1 := time.Date(2026, 9, 1, 2, 0, 0, 0, time.UTC)
	structs, persons := bulkDelivery(1)
	c := runBulk(t, b, day1, true, structs, persons)
	if c.Accounts != 4 || c.DanglingRelations != 0 {
		t.Errorf("first import: %+v, want 4 accounts (not the non-legal adult)", c)
	}
	e1, err1 := s.AccountByLogin(ctx, "lea.martin")
	_, err2 := s.AccountByLogin(ctx, "lea.martin2")
	if err1 != nil || err2 != nil {
		t.Fatalf("homonym logins: %v / %v", err1, err2)
	}
	p1, _ := s.PersonByAAFID(ctx, "E1")
	if e1.PersonID != p1.ID {
		t.Errorf("lea.martin should be the first in AAF id order (E1)")
	}
	if _, err := s.AccountByLogin(ctx, "zoe.prof"); err != nil {
		t.Errorf("teacher login with accent dropped: %v", err)
	}
	st, _ := s.Stats(ctx)
	if st.ByProfile[directory.ProfileEleve] != 2 || st.ByProfile[directory.ProfileParent] != 1 || st.ByProfile[directory.ProfileEnseignant] != 1 {
		t.Errorf("profiles after import: %v", st.ByProfile)
	}
	parent, _ := s.PersonByAAFID(ctx, "P1")
	rels, _ := s.Relations(ctx, parent.ID)
	if len(rels) != 2 || rels[0].LienParente != "10" || !rels[0].RespFinancier {
		t.Errorf("parent relations = %+v, want both children with the AAF fields", rels)
	}
	if ps, _ := s.Personas(ctx, parent.ID); len(ps) != 1 || ps[0].Profile != directory.ProfileParent {
		t.Errorf("parent personas = %+v, want one parent persona in the children's school", ps)
	}
	school, _ := s.StructureByAAFID(ctx, "S1")
	class, err := s.GroupByCode(ctx, school.ID, directory.GroupClass, "3A")
	if err != nil {
		t.Fatal(err)
	}
	if ms, _ := s.GroupMembers(ctx, class.ID); len(ms) != 2 {
		t.Errorf("class 3A has %d members, want the student and the head teacher", len(ms))
	}
	gen1, _ := s.Generation(ctx)

	// Same delivery again: no account created, nothing disabled.
	c = runBulk(t, b, day1.Add(24*time.Hour), true, structs, persons)
	if c.Accounts != 0 || sum(c.Disabled) != 0 || sum(c.Restored) != 0 {
		t.Errorf("re-import of an unchanged delivery did something: %+v", c)
	}
	e1again, _ := s.AccountByLogin(ctx, "lea.martin")
	if !e1again.UpdatedAt.Equal(e1.UpdatedAt) {
		t.Errorf("unchanged account rewritten: %v → %v", e1.UpdatedAt, e1again.UpdatedAt)
	}

	// Day 2: E2 moves to 4C, T1 disappears.
	day2 := day1.Add(48 * time.Hour)
	structs, persons = bulkDelivery(2)
	c = runBulk(t, b, day2, true, structs, persons)
	if c.Disabled["PersEducNat"] != 1 || sum(c.Disabled) != 1 {
		t.Errorf("day 2 disabled %v, want the teacher only", c.Disabled)
	}
	teacher, _ := s.AccountByLogin(ctx, "zoe.prof")
	if teacher.Status != directory.StatusDisabled || teacher.DisappearedAt == nil || !teacher.DisappearedAt.Equal(day2) {
		t.Errorf("absent teacher = %s disappeared %v, want disabled at %v", teacher.Status, teacher.DisappearedAt, day2)
	}
	p2, _ := s.PersonByAAFID(ctx, "E2")
	ms, _ := s.Memberships(ctx, p2.ID)
	if len(ms) != 1 {
		t.Fatalf("E2 memberships = %+v", ms)
	}
	if g, _ := s.Group(ctx, ms[0].GroupID); g.Code != "4C" {
		t.Errorf("E2 is in %s, want 4C", g.Code)
	}
	if _, err := s.GroupByCode(ctx, school.ID, directory.GroupClass, "4B"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("empty class 4B kept after a Complet: %v", err)
	}
	if gen2, _ := s.Generation(ctx); gen2 <= gen1 {
		t.Error("generation did not move after an import")
	}

	// Day 3: the teacher is back: restored, same login.
	structs, persons = bulkDelivery(1)
	persons[1].Checksum = "e2b"
	persons[1].Memberships[0].Code = "4C"
	c = runBulk(t, b, day2.Add(24*time.Hour), true, structs, persons)
	if c.Restored["PersEducNat"] != 1 || c.Accounts != 0 {
		t.Errorf("day 3 = %+v, want the teacher restored and no new account", c)
	}
	if a, _ := s.AccountByLogin(ctx, "zoe.prof"); a.Status != directory.StatusActive || a.DisappearedAt != nil {
		t.Errorf("returning teacher = %s %v", a.Status, a.DisappearedAt)
	}

	// A Delta deleteRequest disables; a purge after the grace period deletes.
	c = runBulk(t, b, day2.Add(72*time.Hour), false, nil, nil, "E1")
	if c.Disabled["Eleve"] != 1 {
		t.Errorf("delta delete disabled %v, want E1", c.Disabled)
	}
	n, err := b.PurgeDisabled(ctx, day2.Add(72*time.Hour+time.Second))
	if err != nil || n != 1 {
		t.Errorf("purge = %d, %v; want 1", n, err)
	}
	if _, err := s.PersonByAAFID(ctx, "E1"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("purged person still there: %v", err)
	}

	// A rolled-back import changes nothing.
	before, _ := s.Stats(ctx)
	itx, err := b.BeginImport(ctx, directory.ImportOptions{Now: day2})
	if err != nil {
		t.Fatal(err)
	}
	itx.PutPerson(ctx, directory.BulkPerson{Person: directory.Person{AAFID: "NEW", AAFFamily: "Eleve", LastName: "X"}, CreateAccount: true})
	itx.Rollback()
	after, _ := s.Stats(ctx)
	if _, err := s.PersonByAAFID(ctx, "NEW"); !errors.Is(err, directory.ErrNotFound) || after.Accounts != before.Accounts {
		t.Errorf("rolled-back import left traces: %v, %+v → %+v", err, before.Accounts, after.Accounts)
	}
	// And the store is usable for the next import (staging cleaned up).
	runBulk(t, b, day2.Add(96*time.Hour), false, nil, nil)

	var active []string
	b.ActiveAAFAccounts(ctx, func(id, st string) error { active = append(active, id+"@"+st); return nil })
	slices.Sort(active)
	if !slices.Equal(active, []string{"E2@S1", "P1@S1", "T1@S1"}) {
		t.Errorf("ActiveAAFAccounts = %v", active)
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// testBulkParentEntitlements follows a related adult's account through what
// changes it without their record changing: their only child purged, and
// the respLegal values that give an account changed in the configuration.
// The import looks again only at adults whose record or children changed,
// so both must reach it.
func testBulkParentEntitlements(t *testing.T, s directory.Store) {
	b := bulkOf(t, s)
	ctx := context.Background()
	school := directory.BulkStructure{Structure: directory.Structure{AAFID: "S1", Name: "CLG A", Checksum: "s1"}}
	student := func(id string, rel directory.BulkRelation) directory.BulkPerson {
		return directory.BulkPerson{Person: directory.Person{AAFID: id, AAFFamily: "Eleve", FirstName: id, LastName: "Martin", Checksum: id},
			CreateAccount: true, Personas: []directory.BulkPersona{{StructureAAFID: "S1", Profile: directory.ProfileEleve}},
			Relations: []directory.BulkRelation{rel}}
	}
	adult := func(id string) directory.BulkPerson {
		return directory.BulkPerson{Person: directory.Person{AAFID: id, AAFFamily: "PersRelEleve", FirstName: id, LastName: "Martin", Checksum: id}}
	}
	status := func(aafID string) directory.AccountStatus {
		t.Helper()
		p, err := s.PersonByAAFID(ctx, aafID)
		if err != nil {
			t.Fatal(err)
		}
		a, err := s.AccountByPerson(ctx, p.ID)
		if errors.Is(err, directory.ErrNotFound) {
			return "none"
		} else if err != nil {
			t.Fatal(err)
		}
		return a.Status
	}
	day := time.Date(2026, 9, 1, 2, 0, 0, 0, time.UTC)
	both := []any{school, adult("P1"), adult("P2"), student("E1", directory.BulkRelation{ParentAAFID: "P1", RespLegal: 1}),
		student("E2", directory.BulkRelation{ParentAAFID: "P2", RespLegal: 2})}
	importDelivery(t, b, importOptions(day, true, 1, 2), both)
	if status("P1") != directory.StatusActive || status("P2") != directory.StatusActive {
		t.Fatalf("legal representatives: P1 %s, P2 %s; want both active", status("P1"), status("P2"))
	}

	// The configuration now gives an account to respLegal 1 only: P2,
	// unchanged, loses theirs.
	day = day.Add(24 * time.Hour)
	if c, _ := importDelivery(t, b, importOptions(day, true, 1), both); c.Disabled["PersRelEleve"] != 1 {
		t.Errorf("rule change disabled %v, want P2", c.Disabled)
	}
	if status("P1") != directory.StatusActive || status("P2") != directory.StatusDisabled {
		t.Errorf("after the rule change: P1 %s, P2 %s; want active, disabled", status("P1"), status("P2"))
	}

	// E1 leaves; P1 is still delivered (real exports have such adults) and
	// keeps the account while the relation stays.
	day = day.Add(24 * time.Hour)
	without := []any{school, adult("P1"), adult("P2"), student("E2", directory.BulkRelation{ParentAAFID: "P2", RespLegal: 2})}
	importDelivery(t, b, importOptions(day, true, 1), without)
	if status("E1") != directory.StatusDisabled || status("P1") != directory.StatusActive {
		t.Fatalf("E1 gone: E1 %s, P1 %s; want disabled, active", status("E1"), status("P1"))
	}
	// The purge deletes E1 and the relation (and P2, disabled the day
	// before); the next import, P1's record unchanged, takes P1's account.
	if n, err := b.PurgeDisabled(ctx, day.Add(time.Second)); err != nil || n != 2 {
		t.Fatalf("purge = %d, %v; want E1 and P2", n, err)
	}
	day = day.Add(24 * time.Hour)
	if c, _ := importDelivery(t, b, importOptions(day, true, 1), without); c.Disabled["PersRelEleve"] != 1 {
		t.Errorf("import after the purge disabled %v, want P1", c.Disabled)
	}
	if status("P1") != directory.StatusDisabled {
		t.Errorf("P1, whose only child was purged, is %s; want disabled", status("P1"))
	}
}
