package ldap

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/enthub/enthub/directory"
)

// synth describes a generated directory: nStudents students in schools of
// 600, classes of 25, 1.6 related adults per student and one teacher per 15
// students, each teaching in three classes of their school.
type synth struct {
	students, parents, teachers []string // person ids
	aafIDs                      []string // AAF ids of every person, same order as ids
	ids                         []string
	uais                        []string
	classes                     []string // group ids
	classCN                     []string // cn of each class entry
	persons                     int
}

func fillSynthetic(t testing.TB, st directory.Store, nStudents int, seed uint64) *synth {
	t.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 1))
	s := &synth{}
	const perSchool, perClass = 600, 25
	nSchools := (nStudents + perSchool - 1) / perSchool
	aaf := 100000
	first := []string{"Léa", "Hugo", "Emma", "Louis", "Chloé", "Gabriel", "Manon", "Jules", "Camille", "Noé"}
	last := []string{"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau"}
	for school := 0; school < nSchools; school++ {
		n := min(perSchool, nStudents-school*perSchool)
		uai := fmt.Sprintf("%07dX", 290000+school)
		sid := fmt.Sprintf("s%05d", school)
		err := st.Update(ctx, func(tx directory.Tx) error {
			if err := tx.PutStructure(ctx, &directory.Structure{ID: sid, AAFID: fmt.Sprint(5000 + school), UAI: uai,
				Name: "COLLEGE " + uai, Type: "COLLEGE", Contract: "PU", Source: directory.SourceAAF}); err != nil {
				return err
			}
			nClasses := (n + perClass - 1) / perClass
			classIDs := make([]string, nClasses)
			for c := 0; c < nClasses; c++ {
				g := &directory.Group{ID: fmt.Sprintf("%s-c%03d", sid, c), StructureID: sid, Kind: directory.GroupClass,
					Code: fmt.Sprintf("C%03d", c), Name: fmt.Sprintf("Classe %d", c)}
				if err := tx.PutGroup(ctx, g); err != nil {
					return err
				}
				classIDs[c] = g.ID
				s.classes = append(s.classes, g.ID)
				s.classCN = append(s.classCN, uai+"$"+g.Code)
			}
			put := func(profile directory.Profile, ms []directory.Membership) (string, error) {
				aaf++
				fn, ln := first[rng.IntN(len(first))], last[rng.IntN(len(last))]
				p := &directory.Person{AAFID: fmt.Sprint(aaf), Source: directory.SourceAAF, FirstName: fn, LastName: ln,
					Email: fmt.Sprintf("u%d@example.org", aaf)}
				if err := tx.PutPerson(ctx, p); err != nil {
					return "", err
				}
				status := directory.StatusActive
				if aaf%50 == 0 {
					status = directory.StatusDisabled
				}
				if err := tx.PutAccount(ctx, &directory.Account{PersonID: p.ID, Login: fmt.Sprintf("user.%d", aaf),
					Status: status, Source: directory.SourceAAF}); err != nil {
					return "", err
				}
				if err := tx.SetPersonas(ctx, p.ID, directory.SourceAAF, []directory.Persona{{PersonID: p.ID,
					StructureID: sid, Profile: profile, Source: directory.SourceAAF}}); err != nil {
					return "", err
				}
				for i := range ms {
					ms[i].PersonID = p.ID
				}
				if len(ms) > 0 {
					if err := tx.SetMemberships(ctx, p.ID, ms); err != nil {
						return "", err
					}
				}
				s.ids = append(s.ids, p.ID)
				s.aafIDs = append(s.aafIDs, p.AAFID)
				s.persons++
				return p.ID, nil
			}
			for i := 0; i < n; i++ {
				id, err := put(directory.ProfileEleve, []directory.Membership{{GroupID: classIDs[i/perClass], Role: directory.RoleStudent}})
				if err != nil {
					return err
				}
				s.students = append(s.students, id)
				np := 1
				if i%5 < 3 {
					np = 2
				}
				var rels []directory.Relation
				for k := 0; k < np; k++ {
					pid, err := put(directory.ProfileParent, nil)
					if err != nil {
						return err
					}
					s.parents = append(s.parents, pid)
					rels = append(rels, directory.Relation{ParentID: pid, ChildID: id, LienParente: "20", RespLegal: 1})
				}
				if err := tx.SetChildRelations(ctx, id, rels); err != nil {
					return err
				}
			}
			for i := 0; i < (n+14)/15; i++ {
				var ms []directory.Membership
				for k := 0; k < 3 && k < nClasses; k++ {
					ms = append(ms, directory.Membership{GroupID: classIDs[(i+k*7)%nClasses], Role: directory.RoleTeacher,
						Subjects: []string{"030201"}})
				}
				id, err := put(directory.ProfileEnseignant, ms)
				if err != nil {
					return err
				}
				s.teachers = append(s.teachers, id)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("generate school %d: %v", school, err)
		}
		s.uais = append(s.uais, uai)
	}
	return s
}
