// Package storetest is the conformance suite every directory.Store runs, as
// Dex's storage/conformance is for its backends: the behaviour the importer,
// the LDAP front and the identity provider rely on, checked once, the same way
// for SQLite and PostgreSQL.
package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
)

// Run runs every conformance test; newStore must return an empty, migrated
// store, closed by the caller's cleanup.
func Run(t *testing.T, newStore func(t *testing.T) directory.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s directory.Store)
	}{
		{"StructureRoundTrip", testStructureRoundTrip},
		{"PersonAccountRoundTrip", testPersonAccountRoundTrip},
		{"LoginIsUnique", testLoginIsUnique},
		{"AAFIDIsUnique", testAAFIDIsUnique},
		{"NotFoundIsTyped", testNotFound},
		{"PersonasPerStructureAndSource", testPersonas},
		{"GroupsAndMemberships", testGroupsAndMemberships},
		{"RelationsKeepAAFFields", testRelations},
		{"ExternalLinks", testExternalLinks},
		{"FailedUpdateChangesNothing", testFailedUpdateChangesNothing},
		{"DeletePersonCascades", testDeletePersonCascades},
		{"StatsCountActiveByProfileAndStructure", testStats},
		{"ImportJournal", testImportJournal},
		{"LastAppliedPerScope", testLastApplied},
		{"AuditEvents", testEvents},
		{"EachWalksEverything", testEach},
		{"GenerationBumpsOnDirectoryWritesOnly", testGeneration},
		{"PingWhenCurrent", testPing},
		{"BulkImport", testBulkImport},
		{"BulkFirstImport", testBulkFirstImport},
		{"BulkParentEntitlements", testBulkParentEntitlements},
		{"BulkDryRunCountsWhatTheImportDoes", testBulkDryRun},
		{"BulkNomenclatureChanges", testBulkNomenclature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

func update(t *testing.T, s directory.Store, fn func(ctx context.Context, tx directory.Tx) error) {
	t.Helper()
	ctx := context.Background()
	if err := s.Update(ctx, func(tx directory.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatalf("update: %v", err)
	}
}

// fixture is a small directory: one school, a student, a parent, a teacher
// in two schools.
type fixture struct {
	school, school2                directory.Structure
	student, parent, teacher       directory.Person
	studentAcc, parentAcc, teachAc directory.Account
}

func seed(t *testing.T, s directory.Store) fixture {
	t.Helper()
	f := fixture{
		school:  directory.Structure{AAFID: "52000001", UAI: "0131234A", Name: "CLG JEAN MOULIN", Type: "COLLEGE", Source: directory.SourceAAF, Attached: []string{"52000002"}},
		school2: directory.Structure{AAFID: "52000002", UAI: "0135678B", Name: "CLG LOUISE MICHEL", Type: "COLLEGE", Source: directory.SourceAAF},
		student: directory.Person{AAFID: "2397001", Source: directory.SourceAAF, LastName: "Martin", FirstName: "Léa", BirthDate: "2012-04-03", OtherNames: []string{"Marie"}, Extra: map[string][]string{"ENTEleveRegime": {"DEMI-PENSIONNAIRE"}}},
		parent:  directory.Person{AAFID: "2397002", Source: directory.SourceAAF, LastName: "Martin", FirstName: "Paul"},
		teacher: directory.Person{AAFID: "2397003", Source: directory.SourceAAF, LastName: "Durand", FirstName: "Anne", Email: "anne.durand@ac-test.fr"},
	}
	update(t, s, func(ctx context.Context, tx directory.Tx) error {
		for _, st := range []*directory.Structure{&f.school, &f.school2} {
			if err := tx.PutStructure(ctx, st); err != nil {
				return err
			}
		}
		for i, p := range []*directory.Person{&f.student, &f.parent, &f.teacher} {
			if err := tx.PutPerson(ctx, p); err != nil {
				return err
			}
			acc := &[]*directory.Account{&f.studentAcc, &f.parentAcc, &f.teachAc}[i]
			**acc = directory.Account{PersonID: p.ID, Login: []string{"lea.martin", "paul.martin", "anne.durand"}[i], Source: directory.SourceAAF}
			if err := tx.PutAccount(ctx, *acc); err != nil {
				return err
			}
		}
		if err := tx.SetPersonas(ctx, f.student.ID, directory.SourceAAF, []directory.Persona{{StructureID: f.school.ID, Profile: directory.ProfileEleve}}); err != nil {
			return err
		}
		if err := tx.SetPersonas(ctx, f.parent.ID, directory.SourceAAF, []directory.Persona{{StructureID: f.school.ID, Profile: directory.ProfileParent}}); err != nil {
			return err
		}
		return tx.SetPersonas(ctx, f.teacher.ID, directory.SourceAAF, []directory.Persona{
			{StructureID: f.school.ID, Profile: directory.ProfileEnseignant, Functions: []directory.Function{{Code: "ENS", Label: "ENSEIGNEMENT", DisciplineCode: "L0202", DisciplineLabel: "LETTRES MODERNES"}}},
			{StructureID: f.school2.ID, Profile: directory.ProfileEnseignant},
		})
	})
	return f
}

func testStructureRoundTrip(t *testing.T, s directory.Store) {
	f := seed(t, s)
	ctx := context.Background()
	got, err := s.StructureByAAFID(ctx, "52000001")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != f.school.ID || got.UAI != "0131234A" || got.Name != "CLG JEAN MOULIN" || !slices.Equal(got.Attached, []string{"52000002"}) {
		t.Errorf("StructureByAAFID = %+v, want the stored school", got)
	}
	if byUAI, err := s.StructureByUAI(ctx, "0135678B"); err != nil || byUAI.ID != f.school2.ID {
		t.Errorf("StructureByUAI = %+v, %v", byUAI, err)
	}
	all, err := s.ListStructures(ctx)
	if err != nil || len(all) != 2 || all[0].UAI != "0131234A" {
		t.Errorf("ListStructures = %d structures (%v), want 2 ordered by UAI", len(all), err)
	}
	if got.CreatedAt.IsZero() || got.UpdatedAt.Before(got.CreatedAt) {
		t.Errorf("timestamps not kept: created %v updated %v", got.CreatedAt, got.UpdatedAt)
	}
}

func testPersonAccountRoundTrip(t *testing.T, s directory.Store) {
	f := seed(t, s)
	ctx := context.Background()
	p, err := s.PersonByAAFID(ctx, "2397001")
	if err != nil {
		t.Fatal(err)
	}
	if p.FirstName != "Léa" || p.BirthDate != "2012-04-03" || !slices.Equal(p.OtherNames, []string{"Marie"}) ||
		!slices.Equal(p.Extra["ENTEleveRegime"], []string{"DEMI-PENSIONNAIRE"}) {
		t.Errorf("person round trip lost data: %+v", p)
	}
	a, err := s.AccountByLogin(ctx, "lea.martin")
	if err != nil {
		t.Fatal(err)
	}
	if a.PersonID != f.student.ID || a.Status != directory.StatusActive || a.ValidUntil != nil {
		t.Errorf("account = %+v", a)
	}
	// Optional dates survive a round trip to the second.
	until := time.Date(2027, 6, 30, 23, 59, 0, 0, time.UTC)
	a.ValidUntil = &until
	a.Status = directory.StatusDisabled
	update(t, s, func(ctx context.Context, tx directory.Tx) error { return tx.PutAccount(ctx, &a) })
	b, err := s.AccountByPerson(ctx, f.student.ID)
	if err != nil {
		t.Fatal(err)
	}
	if b.ValidUntil == nil || !b.ValidUntil.Equal(until) || b.Status != directory.StatusDisabled {
		t.Errorf("after update: valid until %v status %s, want %v disabled", b.ValidUntil, b.Status, until)
	}
}

func testLoginIsUnique(t *testing.T, s directory.Store) {
	f := seed(t, s)
	ctx := context.Background()
	err := s.Update(ctx, func(tx directory.Tx) error {
		p := &directory.Person{LastName: "Autre", Source: directory.SourceGuest}
		if err := tx.PutPerson(ctx, p); err != nil {
			return err
		}
		return tx.PutAccount(ctx, &directory.Account{PersonID: p.ID, Login: "lea.martin", Source: directory.SourceGuest})
	})
	if !errors.Is(err, directory.ErrConflict) {
		t.Fatalf("second account with login lea.martin: err = %v, want ErrConflict", err)
	}
	if a, _ := s.AccountByLogin(ctx, "lea.martin"); a.PersonID != f.student.ID {
		t.Errorf("login now belongs to %s, want the student", a.PersonID)
	}
}

func testAAFIDIsUnique(t *testing.T, s directory.Store) {
	seed(t, s)
	ctx := context.Background()
	err := s.Update(ctx, func(tx directory.Tx) error {
		return tx.PutPerson(ctx, &directory.Person{AAFID: "2397001", Source: directory.SourceAAF})
	})
	if !errors.Is(err, directory.ErrConflict) {
		t.Fatalf("second person with AAF id 2397001: err = %v, want ErrConflict", err)
	}
	// Local persons have no AAF id: many may coexist.
	update(t, s, func(ctx context.Context, tx directory.Tx) error {
		for range 2 {
			if err := tx.PutPerson(ctx, &directory.Person{Source: directory.SourceGuest}); err != nil {
				return err
			}
		}
		return nil
	})
}

func testNotFound(t *testing.T, s directory.Store) {
	ctx := context.Background()
	checks := map[string]error{}
	_, checks["Person"] = s.Person(ctx, "nope")
	_, checks["PersonByAAFID"] = s.PersonByAAFID(ctx, "nope")
	_, checks["AccountByLogin"] = s.AccountByLogin(ctx, "nope")
	_, checks["Structure"] = s.Structure(ctx, "nope")
	_, checks["Group"] = s.Group(ctx, "nope")
	_, checks["ExternalLink"] = s.ExternalLink(ctx, "iss", "nope")
	_, checks["ImportByHash"] = s.ImportByHash(ctx, "nope")
	checks["DeletePerson"] = s.Update(ctx, func(tx directory.Tx) error { return tx.DeletePerson(ctx, "nope") })
	for name, err := range checks {
		if !errors.Is(err, directory.ErrNotFound) {
			t.Errorf("%s of a missing record: err = %v, want ErrNotFound", name, err)
		}
	}
}

func testPersonas(t *testing.T, s directory.Store) {
	f := seed(t, s)
	ctx := context.Background()
	ps, err := s.Personas(ctx, f.teacher.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 {
		t.Fatalf("teacher in two schools has %d personas, want 2", len(ps))
	}
	var fn []directory.Function
	for _, p := range ps {
		if p.StructureID == f.school.ID {
			fn = p.Functions
		}
	}
	if len(fn) != 1 || fn[0].DisciplineLabel != "LETTRES MODERNES" {
		t.Errorf("functions = %+v", fn)
	}
	// A guest persona added locally survives the AAF replacing its own.
	update(t, s, func(ctx context.Context, tx directory.Tx) error {
		if err := tx.SetPersonas(ctx, f.teacher.ID, directory.SourceGuest, []directory.Persona{{StructureID: f.school2.ID, Profile: directory.ProfileInvite}}); err != nil {
			return err
		}
		return tx.SetPersonas(ctx, f.teacher.ID, directory.SourceAAF, []directory.Persona{{StructureID: f.school.ID, Profile: directory.ProfileEnseignant}})
	})
	ps, _ = s.Personas(ctx, f.teacher.ID)
	if len(ps) != 2 {
		t.Fatalf("after AAF replacement: %d personas, want 2 (one AAF, one guest)", len(ps))
	}
	err = s.Update(ctx, func(tx directory.Tx) error {
		return tx.SetPersonas(ctx, f.teacher.ID, directory.SourceAAF, []directory.Persona{{StructureID: f.school.ID, Profile: "astronaut"}})
	})
	if err == nil {
		t.Error("unknown profile accepted")
	}
}

func testGroupsAndMemberships(t *testing.T, s directory.Store) {
	f := seed(t, s)
	ctx := context.Background()
	class := directory.Group{StructureID: f.school.ID, Kind: directory.GroupClass, Code: "3A", Name: "3EME A", Source: directory.SourceAAF}
	update(t, s, func(ctx context.Context, tx directory.Tx) error {
		if err := tx.PutGroup(ctx, &class); err != nil {
			return err
		}
		if err := tx.SetMemberships(ctx, f.student.ID, []directory.Membership{{GroupID: class.ID, Role: directory.RoleStudent}}); err != nil {
			return err
		}
		return tx.SetMemberships(ctx, f.teacher.ID, []directory.Membership{{GroupID: class.ID, Role: directory.RoleTeacher, Subjects: []string{"030201"}, HeadTeacher: true}})
	})
	g, err := s.GroupByCode(ctx, f.school.ID, directory.GroupClass, "3A")
	if err != nil || g.ID != class.ID || g.Name != "3EME A" {
		t.Fatalf("GroupByCode = %+v, %v", g, err)
	}
	members, err := s.GroupMembers(ctx, class.ID)
	if err != nil || len(members) != 2 {
		t.Fatalf("members = %+v, %v; want student and teacher", members, err)
	}
	var teacher directory.Membership
	for _, m := range members {
		if m.Role == directory.RoleTeacher {
			teacher = m
		}
	}
	if !teacher.HeadTeacher || !slices.Equal(teacher.Subjects, []string{"030201"}) {
		t.Errorf("teacher membership = %+v, want head teacher of 030201", teacher)
	}
	dup := directory.Group{StructureID: f.school.ID, Kind: directory.GroupClass, Code: "3A"}
	err = s.Update(ctx, func(tx directory.Tx) error { return tx.PutGroup(ctx, &dup) })
	if !errors.Is(err, directory.ErrConflict) {
		t.Errorf("second class 3A in the same school: err = %v, want ErrConflict", err)
	}
	if gs, _ := s.ListGroups(ctx, f.school.ID); len(gs) != 1 {
		t.Errorf("ListGroups = %d, want 1", len(gs))
	}
}

func testRelations(t *testing.T, s directory.Store) {
	f := seed(t, s)
	ctx := context.Background()
	rel := directory.Relation{ParentID: f.parent.ID, LienParente: "20", RespFinancier: true, RespLegal: 1, Contact: true}
	update(t, s, func(ctx context.Context, tx directory.Tx) error {
		return tx.SetChildRelations(ctx, f.student.ID, []directory.Relation{rel})
	})
	for _, id := range []string{f.parent.ID, f.student.ID} {
		rs, err := s.Relations(ctx, id)
		if err != nil || len(rs) != 1 {
			t.Fatalf("Relations(%s) = %+v, %v", id, rs, err)
		}
		r := rs[0]
		if r.ChildID != f.student.ID || r.LienParente != "20" || !r.RespFinancier || r.RespLegal != 1 || !r.Contact || r.Paiement {
			t.Errorf("relation = %+v, want all AAF fields kept", r)
		}
	}
}

func testExternalLinks(t *testing.T, s directory.Store) {
	f := seed(t, s)
	ctx := context.Background()
	update(t, s, func(ctx context.Context, tx directory.Tx) error {
		return tx.PutExternalLink(ctx, directory.ExternalLink{Issuer: "https://educonnect.education.gouv.fr/idp", Subject: "fe1234", AccountID: f.studentAcc.ID})
	})
	l, err := s.ExternalLink(ctx, "https://educonnect.education.gouv.fr/idp", "fe1234")
	if err != nil || l.AccountID != f.studentAcc.ID {
		t.Fatalf("ExternalLink = %+v, %v", l, err)
	}
	ls, _ := s.ExternalLinks(ctx, f.studentAcc.ID)
	if len(ls) != 1 {
		t.Errorf("ExternalLinks = %d, want 1", len(ls))
	}
}

func testFailedUpdateChangesNothing(t *testing.T, s directory.Store) {
	seed(t, s)
	ctx := context.Background()
	before, _ := s.Stats(ctx)
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx directory.Tx) error {
		p := &directory.Person{AAFID: "999", Source: directory.SourceAAF}
		if err := tx.PutPerson(ctx, p); err != nil {
			return err
		}
		if err := tx.PutAccount(ctx, &directory.Account{PersonID: p.ID, Login: "x.y", Source: directory.SourceAAF}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want the function's error", err)
	}
	if _, err := s.PersonByAAFID(ctx, "999"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("person written by a failed update is visible: %v", err)
	}
	after, _ := s.Stats(ctx)
	if after.Accounts != before.Accounts {
		t.Errorf("accounts changed by a failed update: %+v → %+v", before.Accounts, after.Accounts)
	}
}

func testDeletePersonCascades(t *testing.T, s directory.Store) {
	f := seed(t, s)
	ctx := context.Background()
	update(t, s, func(ctx context.Context, tx directory.Tx) error {
		if err := tx.SetChildRelations(ctx, f.student.ID, []directory.Relation{{ParentID: f.parent.ID, RespLegal: 1}}); err != nil {
			return err
		}
		return tx.DeletePerson(ctx, f.parent.ID)
	})
	if _, err := s.AccountByLogin(ctx, "paul.martin"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("account of a deleted person still there: %v", err)
	}
	if rs, _ := s.Relations(ctx, f.student.ID); len(rs) != 0 {
		t.Errorf("relations of a deleted parent still there: %+v", rs)
	}
	// Deleting the teacher takes their personas, memberships and links.
	update(t, s, func(ctx context.Context, tx directory.Tx) error {
		g := &directory.Group{StructureID: f.school.ID, Kind: directory.GroupClass, Code: "6B"}
		if err := tx.PutGroup(ctx, g); err != nil {
			return err
		}
		if err := tx.SetMemberships(ctx, f.teacher.ID, []directory.Membership{{GroupID: g.ID, Role: directory.RoleTeacher}}); err != nil {
			return err
		}
		if err := tx.PutExternalLink(ctx, directory.ExternalLink{Issuer: "agents", Subject: "x", AccountID: f.teachAc.ID}); err != nil {
			return err
		}
		return tx.DeletePerson(ctx, f.teacher.ID)
	})
	var personas, members int
	s.EachPersona(ctx, func(p directory.Persona) error {
		if p.PersonID == f.teacher.ID {
			personas++
		}
		return nil
	})
	s.EachMembership(ctx, func(m directory.Membership) error {
		if m.PersonID == f.teacher.ID {
			members++
		}
		return nil
	})
	if _, err := s.ExternalLink(ctx, "agents", "x"); personas+members != 0 || !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("deleted teacher left %d personas, %d memberships, link err %v", personas, members, err)
	}
	// Deleting a structure takes its groups and the personas in it.
	update(t, s, func(ctx context.Context, tx directory.Tx) error { return tx.DeleteStructure(ctx, f.school.ID) })
	if gs, _ := s.ListGroups(ctx, f.school.ID); len(gs) != 0 {
		t.Errorf("groups of a deleted structure: %+v", gs)
	}
	if ps, _ := s.Personas(ctx, f.student.ID); len(ps) != 0 {
		t.Errorf("personas in a deleted structure: %+v", ps)
	}
}

func testStats(t *testing.T, s directory.Store) {
	f := seed(t, s)
	ctx := context.Background()
	f.parentAcc.Status = directory.StatusDisabled
	update(t, s, func(ctx context.Context, tx directory.Tx) error { return tx.PutAccount(ctx, &f.parentAcc) })
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Structures != 2 || st.Accounts.Active != 2 || st.Accounts.Disabled != 1 {
		t.Errorf("stats = %+v, want 2 structures, 2 active, 1 disabled", st)
	}
	// The teacher is in two schools but counts once as enseignant; the
	// disabled parent does not count.
	if st.ByProfile[directory.ProfileEnseignant] != 1 || st.ByProfile[directory.ProfileEleve] != 1 || st.ByProfile[directory.ProfileParent] != 0 {
		t.Errorf("by profile = %v", st.ByProfile)
	}
	if len(st.ByStructure) != 2 || st.ByStructure[0].AAFID != "52000001" ||
		st.ByStructure[0].ByProfile[directory.ProfileEnseignant] != 1 || st.ByStructure[1].ByProfile[directory.ProfileEnseignant] != 1 {
		t.Errorf("by structure = %+v", st.ByStructure)
	}
}

func testImportJournal(t *testing.T, s directory.Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)
	recs := []directory.ImportRecord{
		{StartedAt: t0, FinishedAt: t0.Add(time.Minute), Kind: "Complet", Files: []string{"a.xml"}, ContentHash: "h1", Outcome: "applied", Report: []byte(`{"ok":true}`)},
		{StartedAt: t0.Add(24 * time.Hour), FinishedAt: t0.Add(25 * time.Hour), Kind: "Complet", ContentHash: "h2", Outcome: "refused", Reason: "volumetry"},
	}
	update(t, s, func(ctx context.Context, tx directory.Tx) error {
		for i := range recs {
			if err := tx.PutImport(ctx, &recs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	got, err := s.Imports(ctx, 10)
	if err != nil || len(got) != 2 || got[0].ContentHash != "h2" || got[1].Files[0] != "a.xml" || string(got[1].Report) != `{"ok":true}` {
		t.Fatalf("Imports = %+v, %v; want newest first with files and report", got, err)
	}
	if r, err := s.ImportByHash(ctx, "h1"); err != nil || r.ID != recs[0].ID {
		t.Errorf("ImportByHash(h1) = %+v, %v", r, err)
	}
	if _, err := s.ImportByHash(ctx, "h2"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("a refused delivery counts as applied: %v", err)
	}
}

// LastApplied is the dated delivery of a scope applied last, even when an
// earlier one carries a later date (an older delivery forced in); refused
// ones, undated ones and other scopes do not count.
func testLastApplied(t *testing.T, s directory.Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)
	const scope = "academie=13 degre=2D prefix=ENT2D"
	recs := []directory.ImportRecord{
		{ContentHash: "c20", ExportDate: "2024-09-20", Scope: scope, Outcome: "applied", Kind: "Complet"},
		{ContentHash: "d17", ExportDate: "2024-09-17", Scope: scope, Outcome: "applied", Kind: "Delta"}, // forced
		{ContentHash: "c25", ExportDate: "2024-09-25", Scope: scope, Outcome: "refused", Kind: "Complet"},
		{ContentHash: "o30", ExportDate: "2024-09-30", Scope: "academie=13 degre=1D prefix=ENT1D", Outcome: "applied"},
		{ContentHash: "n00", Scope: scope, Outcome: "applied"}, // no date
	}
	if _, err := s.LastApplied(ctx, scope); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("LastApplied on an empty journal = %v, want ErrNotFound", err)
	}
	update(t, s, func(ctx context.Context, tx directory.Tx) error {
		for i := range recs {
			recs[i].StartedAt = t0.Add(time.Duration(i) * time.Hour)
			recs[i].FinishedAt = recs[i].StartedAt.Add(time.Minute)
			if err := tx.PutImport(ctx, &recs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	got, err := s.LastApplied(ctx, scope)
	if err != nil || got.ContentHash != "d17" || got.Scope != scope || got.ExportDate != "2024-09-17" {
		t.Errorf("LastApplied = %+v, %v; want the Delta of 2024-09-17", got, err)
	}
	if _, err := s.LastApplied(ctx, "academie=06 degre=2D prefix=ENT2D"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("LastApplied of an unknown scope = %v, want ErrNotFound", err)
	}
}

func testEvents(t *testing.T, s directory.Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	update(t, s, func(ctx context.Context, tx directory.Tx) error {
		return tx.AppendEvents(ctx,
			directory.Event{Time: t0, Type: "login", AccountID: "a1", Outcome: "ok", Details: map[string]string{"upstream": "educonnect"}},
			directory.Event{Time: t0.Add(time.Minute), Type: "login", AccountID: "a2", Outcome: "refused", Reason: "bad password"},
			directory.Event{Time: t0.Add(2 * time.Minute), Type: "ticket.issued", AccountID: "a1", Service: "pronote"},
		)
	})
	logins, err := s.Events(ctx, directory.EventFilter{Type: "login"})
	if err != nil || len(logins) != 2 || logins[0].AccountID != "a2" || logins[1].Details["upstream"] != "educonnect" {
		t.Fatalf("login events = %+v, %v", logins, err)
	}
	since, _ := s.Events(ctx, directory.EventFilter{AccountID: "a1", Since: t0.Add(time.Second)})
	if len(since) != 1 || since[0].Service != "pronote" {
		t.Errorf("filtered events = %+v", since)
	}
}

func testEach(t *testing.T, s directory.Store) {
	f := seed(t, s)
	ctx := context.Background()
	var logins []string
	if err := s.EachPerson(ctx, func(p directory.Person, a directory.Account) error {
		if a.PersonID != p.ID {
			t.Errorf("EachPerson paired %s with account of %s", p.ID, a.PersonID)
		}
		logins = append(logins, a.Login)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(logins)
	if !slices.Equal(logins, []string{"anne.durand", "lea.martin", "paul.martin"}) {
		t.Errorf("EachPerson logins = %v", logins)
	}
	n := 0
	if err := s.EachPersona(ctx, func(directory.Persona) error { n++; return nil }); err != nil || n != 4 {
		t.Errorf("EachPersona walked %d personas (%v), want 4", n, err)
	}
	update(t, s, func(ctx context.Context, tx directory.Tx) error {
		g := &directory.Group{StructureID: f.school.ID, Kind: directory.GroupGroup, Code: "LATIN"}
		if err := tx.PutGroup(ctx, g); err != nil {
			return err
		}
		if err := tx.SetMemberships(ctx, f.student.ID, []directory.Membership{{GroupID: g.ID, Role: directory.RoleStudent}}); err != nil {
			return err
		}
		return tx.SetChildRelations(ctx, f.student.ID, []directory.Relation{{ParentID: f.parent.ID, RespLegal: 1}})
	})
	var groups, members, rels int
	s.EachGroup(ctx, func(directory.Group) error { groups++; return nil })
	s.EachMembership(ctx, func(directory.Membership) error { members++; return nil })
	s.EachRelation(ctx, func(directory.Relation) error { rels++; return nil })
	if groups != 1 || members != 1 || rels != 1 {
		t.Errorf("walked %d groups, %d memberships, %d relations; want 1 each", groups, members, rels)
	}
	stop := errors.New("stop")
	if err := s.EachPerson(ctx, func(directory.Person, directory.Account) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("EachPerson did not return the callback's error: %v", err)
	}
}

func testGeneration(t *testing.T, s directory.Store) {
	ctx := context.Background()
	g0, err := s.Generation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := seed(t, s)
	g1, _ := s.Generation(ctx)
	if g1 <= g0 {
		t.Errorf("generation %d → %d after directory writes, want an increase", g0, g1)
	}
	update(t, s, func(ctx context.Context, tx directory.Tx) error {
		return tx.AppendEvents(ctx, directory.Event{Type: "login"})
	})
	if g2, _ := s.Generation(ctx); g2 != g1 {
		t.Errorf("generation %d → %d after an audit event only, want unchanged", g1, g2)
	}
	// A first brokered login stores its link: no read model holds links,
	// and a bump would rebuild the LDAP server's whole model (a copy of
	// the directory in memory) every few seconds of an 8:00 wave.
	update(t, s, func(ctx context.Context, tx directory.Tx) error {
		return tx.PutExternalLink(ctx, directory.ExternalLink{Issuer: "https://educonnect.education.gouv.fr/idp", Subject: "gen-1", AccountID: f.studentAcc.ID})
	})
	update(t, s, func(ctx context.Context, tx directory.Tx) error {
		return tx.DeleteExternalLink(ctx, "https://educonnect.education.gouv.fr/idp", "gen-1")
	})
	if g3, _ := s.Generation(ctx); g3 != g1 {
		t.Errorf("generation %d → %d after storing and deleting an external link only, want unchanged", g1, g3)
	}
}

func testPing(t *testing.T, s directory.Store) {
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping on a migrated store: %v", err)
	}
}
