package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
)

// untidyDelivery has what real exports have and the first-import path must
// resolve as the merge does: a parent whose record comes after the
// children naming them, a parent no record carries, a school referenced
// before its record and one never delivered, a class listed twice,
// namesakes, a teacher in two schools, an adult with no legal
// responsibility.
func untidyDelivery() (order []any) {
	student := func(id, first, school, class string, parents ...directory.BulkRelation) directory.BulkPerson {
		return directory.BulkPerson{
			Person:        directory.Person{AAFID: id, AAFFamily: "Eleve", FirstName: first, LastName: "Martin", Checksum: id},
			CreateAccount: true,
			Personas:      []directory.BulkPersona{{StructureAAFID: school, Profile: directory.ProfileEleve}},
			Memberships: []directory.BulkMembership{
				{StructureAAFID: school, Kind: directory.GroupClass, Code: class, Role: directory.RoleStudent},
				{StructureAAFID: school, Kind: directory.GroupClass, Code: class, Role: directory.RoleStudent},
				{StructureAAFID: school, Kind: directory.GroupGroup, Code: "LATIN", Role: directory.RoleStudent},
			},
			Relations: parents,
		}
	}
	legal := directory.BulkRelation{ParentAAFID: "P1", LienParente: "10", RespLegal: 1, RespFinancier: true, Contact: true}
	other := directory.BulkRelation{ParentAAFID: "P2", LienParente: "90"}
	ghost := directory.BulkRelation{ParentAAFID: "P9", LienParente: "20", RespLegal: 2}
	adult := func(id, first string) directory.BulkPerson {
		return directory.BulkPerson{Person: directory.Person{AAFID: id, AAFFamily: "PersRelEleve", FirstName: first, LastName: "Martin", Checksum: id}}
	}
	school := func(id, uai string) directory.BulkStructure {
		return directory.BulkStructure{Structure: directory.Structure{AAFID: id, UAI: uai, Name: "CLG " + id, Checksum: id}}
	}
	return []any{
		school("S1", "0130001A"),
		adult("P2", "Luc"),
		student("E2", "Léa", "S1", "3A", legal, other, ghost),
		student("E1", "Léa", "S1", "3A", legal, ghost),
		student("E3", "Tom", "S2", "6B", legal), // S2 comes later
		student("E4", "Ada", "S9", "5C", other), // S9 never comes
		adult("P1", "Anne"),                     // named by E1–E3 already
		school("S2", "0130002B"),
		directory.BulkPerson{Person: directory.Person{AAFID: "T1", AAFFamily: "PersEducNat", FirstName: "Zoé", LastName: "Prof", Checksum: "T1"}, CreateAccount: true,
			Personas: []directory.BulkPersona{
				{StructureAAFID: "S1", Profile: directory.ProfileEnseignant, Functions: []directory.Function{{Code: "ENS"}}},
				{StructureAAFID: "S2", Profile: directory.ProfileEnseignant, Functions: []directory.Function{{Code: "ENS"}}},
			},
			Memberships: []directory.BulkMembership{{StructureAAFID: "S1", Kind: directory.GroupClass, Code: "3A", Role: directory.RoleTeacher, Subjects: []string{"030201"}, HeadTeacher: true}}},
	}
}

// rewrite gives every record of order a new checksum, so that an import
// puts them all again.
func rewrite(order []any, suffix string) []any {
	out := make([]any, len(order))
	for i, r := range order {
		switch r := r.(type) {
		case directory.BulkStructure:
			r.Checksum += suffix
			out[i] = r
		case directory.BulkPerson:
			r.Checksum += suffix
			out[i] = r
		}
	}
	return out
}

// snapshot writes the directory by AAF ids, logins and codes, without the
// internal ids the two paths make differently.
func snapshot(t *testing.T, s directory.Store) []string {
	t.Helper()
	ctx := context.Background()
	aaf := map[string]string{}
	var out []string
	structs, err := s.ListStructures(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range structs {
		aaf[st.ID] = st.AAFID
		out = append(out, fmt.Sprintf("structure %s %s %s", st.AAFID, st.UAI, st.Name))
	}
	// EachPerson walks persons with an account only.
	for _, id := range []string{"E1", "E2", "E3", "E4", "P1", "P2", "P9", "T1"} {
		p, err := s.PersonByAAFID(ctx, id)
		if errors.Is(err, directory.ErrNotFound) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		aaf[p.ID] = p.AAFID
		a, err := s.AccountByPerson(ctx, p.ID)
		if err != nil && !errors.Is(err, directory.ErrNotFound) {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("person %s %s %s %s account %q %s", p.AAFID, p.AAFFamily, p.FirstName, p.LastName, a.Login, a.Status))
	}
	groups := map[string]string{}
	if err := s.EachGroup(ctx, func(g directory.Group) error {
		groups[g.ID] = aaf[g.StructureID] + "/" + string(g.Kind) + "/" + g.Code
		out = append(out, "group "+groups[g.ID]+" "+g.Name)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, walk := range []func() error{
		func() error {
			return s.EachPersona(ctx, func(p directory.Persona) error {
				out = append(out, fmt.Sprintf("persona %s %s %s %v", aaf[p.PersonID], aaf[p.StructureID], p.Profile, p.Functions))
				return nil
			})
		},
		func() error {
			return s.EachMembership(ctx, func(m directory.Membership) error {
				out = append(out, fmt.Sprintf("member %s %s %s %v %v", groups[m.GroupID], aaf[m.PersonID], m.Role, m.Subjects, m.HeadTeacher))
				return nil
			})
		},
		func() error {
			return s.EachRelation(ctx, func(r directory.Relation) error {
				out = append(out, fmt.Sprintf("relation %s→%s %+v", aaf[r.ParentID], aaf[r.ChildID],
					directory.Relation{LienParente: r.LienParente, RespFinancier: r.RespFinancier, RespLegal: r.RespLegal, Contact: r.Contact, Paiement: r.Paiement}))
				return nil
			})
		},
	} {
		if err := walk(); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(out)
	return out
}

// testBulkFirstImport checks the first-import path (ImportTx.Fresh) on an
// untidy delivery, then that the merge, rewriting every record of the same
// delivery, leaves exactly the same directory.
func testBulkFirstImport(t *testing.T, s directory.Store) {
	b := bulkOf(t, s)
	day1 := time.Date(2026, 9, 1, 2, 0, 0, 0, time.UTC)
	c, fresh := importDelivery(t, b, importOptions(day1, true, 1, 2), untidyDelivery())
	if !fresh {
		t.Error("a Complet into an empty store did not take the first-import path")
	}
	if c.Accounts != 6 || c.DanglingRelations != 2 {
		t.Errorf("first import: %+v, want 6 accounts (4 students, the teacher, Anne; not Luc) and 2 relations to the missing P9", c)
	}
	first := snapshot(t, s)
	want := []string{
		`person E1 Eleve Léa Martin account "lea.martin" active`, // namesakes in AAF id order
		`person E2 Eleve Léa Martin account "lea.martin2" active`,
		`person P1 PersRelEleve Anne Martin account "anne.martin" active`,
		`person P2 PersRelEleve Luc Martin account "" `,
		`persona P1 S1 parent []`, `persona P1 S2 parent []`, `persona P2 S1 parent []`,
		`persona E3 S2 eleve []`,
		`member S1/class/3A E1 student [] false`,
		`relation P1→E3 {ParentID: ChildID: LienParente:10 RespFinancier:true RespLegal:1 Contact:true Paiement:false}`,
	}
	for _, w := range want {
		if !slices.Contains(first, w) {
			t.Errorf("first import lacks %q", w)
		}
	}
	for _, line := range first {
		words := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '/' || r == '→' })
		if slices.Contains(words, "S9") || slices.Contains(words, "P9") {
			t.Errorf("first import kept a reference that never resolved: %q", line)
		}
	}
	if n := countPrefix(first, "member S1/class/3A E1 "); n != 1 {
		t.Errorf("E1 is %d times in 3A, want once", n)
	}

	c, fresh = importDelivery(t, b, importOptions(day1.Add(24*time.Hour), true, 1, 2), rewrite(untidyDelivery(), "-changed"))
	if fresh {
		t.Error("an import into a directory with persons took the first-import path")
	}
	if c.Accounts != 0 || c.DanglingRelations != 2 {
		t.Errorf("rewrite: %+v, want no new account and the same 2 dangling relations", c)
	}
	if again := snapshot(t, s); !slices.Equal(first, again) {
		t.Errorf("the merge and the first-import path disagree:\nfirst import: %q\nmerge:        %q", first, again)
	}
}

func countPrefix(lines []string, prefix string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}
