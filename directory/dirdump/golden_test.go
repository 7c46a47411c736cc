package dirdump_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/dirdump"
	"github.com/enthub/enthub/directory/ldap"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/idp/sso"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/golden")

// smallDirectory is one school with a class and a group, two students, a
// parent, a teacher, a guest (with its guest record, in a profile space) with an upstream link, a relying party,
// launcher news and brandings:
// every kind of record, small enough to read (docs/export.md quotes it).
func smallDirectory(t *testing.T) *sqlstore.Store {
	t.Helper()
	st := backends(t)["sqlite"](t)
	ctx := context.Background()
	until := day.Add(30 * 24 * time.Hour)
	err := st.UpdateGuests(ctx, func(tx directory.GuestTx) error {
		s := &directory.Structure{AAFID: "4242", UAI: "0561234A", Name: "COLLEGE JULES SIMON", Type: "COLLEGE",
			City: "VANNES", PostalCode: "56000", Contract: "PU", Source: directory.SourceAAF,
			Extra: map[string][]string{"ENTStructureSIREN": {"19561234500017"}, "ENTEtablissementMinistereTutelle": {"MINISTERE DE L'EDUCATION NATIONALE"}}}
		if err := tx.PutStructure(ctx, s); err != nil {
			return err
		}
		if err := tx.PutSubject(ctx, directory.Subject{Code: "030201", Label: "ANGLAIS LV1"}); err != nil {
			return err
		}
		if err := tx.PutMEF(ctx, directory.MEF{Code: "10310019110", Label: "4EME", Rattach: "10310019110", Stat11: "1031"}); err != nil {
			return err
		}
		class := &directory.Group{StructureID: s.ID, Kind: directory.GroupClass, Code: "4A", Name: "4e A", Source: directory.SourceAAF}
		group := &directory.Group{StructureID: s.ID, Kind: directory.GroupGroup, Code: "4ANG1", Name: "Anglais 4e", Source: directory.SourceAAF}
		for _, g := range []*directory.Group{class, group} {
			if err := tx.PutGroup(ctx, g); err != nil {
				return err
			}
		}
		person := func(aafID, family, last, first string, p directory.Profile, fns []directory.Function, extra map[string][]string) (string, error) {
			x := &directory.Person{AAFID: aafID, AAFFamily: family, Source: directory.SourceAAF, LastName: last, FirstName: first,
				BirthDate: "2012-03-04", Extra: extra}
			if p != directory.ProfileEleve {
				x.BirthDate = ""
			}
			if err := tx.PutPerson(ctx, x); err != nil {
				return "", err
			}
			login := first + "." + last
			if err := tx.PutAccount(ctx, &directory.Account{PersonID: x.ID, Login: login, Source: directory.SourceAAF}); err != nil {
				return "", err
			}
			return x.ID, tx.SetPersonas(ctx, x.ID, directory.SourceAAF, []directory.Persona{{StructureID: s.ID, Profile: p, Functions: fns}})
		}
		eleve := map[string][]string{"ENTEleveStatutEleve": {"SCOLAIRE"}, "ENTEleveNivFormation": {"4EME"}, "ENTEleveFiliere": {"4EME"},
			"ENTEleveMEF": {"10310019110"}}
		e1, err := person("1001", "Eleve", "martin", "lea", directory.ProfileEleve, nil, eleve)
		if err != nil {
			return err
		}
		e2, err := person("1002", "Eleve", "le-goff", "noe", directory.ProfileEleve, nil, eleve)
		if err != nil {
			return err
		}
		parent, err := person("2001", "PersRelEleve", "martin", "claire", directory.ProfileParent, nil, nil)
		if err != nil {
			return err
		}
		teacher, err := person("3001", "PersEducNat", "durand", "eric", directory.ProfileEnseignant,
			[]directory.Function{{Code: "ENS", Label: "ENSEIGNEMENT", DisciplineCode: "L0422", DisciplineLabel: "ANGLAIS"}}, nil)
		if err != nil {
			return err
		}
		for _, e := range []string{e1, e2} {
			if err := tx.SetMemberships(ctx, e, []directory.Membership{{GroupID: class.ID, Role: directory.RoleStudent},
				{GroupID: group.ID, Role: directory.RoleStudent}}); err != nil {
				return err
			}
		}
		if err := tx.SetMemberships(ctx, teacher, []directory.Membership{
			{GroupID: class.ID, Role: directory.RoleTeacher, Subjects: []string{"030201"}, HeadTeacher: true},
			{GroupID: group.ID, Role: directory.RoleTeacher, Subjects: []string{"030201"}}}); err != nil {
			return err
		}
		if err := tx.SetChildRelations(ctx, e1, []directory.Relation{{ParentID: parent, LienParente: "20", RespFinancier: true,
			RespLegal: 1, Contact: true}}); err != nil {
			return err
		}
		g := &directory.Person{Source: directory.SourceGuest, LastName: "Invitée", FirstName: "Zoé", PersonalEmail: "zoe@example.org"}
		if err := tx.PutPerson(ctx, g); err != nil {
			return err
		}
		acc := &directory.Account{PersonID: g.ID, Login: "zoe.invitee", Source: directory.SourceGuest, ValidUntil: &until,
			PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA"}
		if err := tx.PutAccount(ctx, acc); err != nil {
			return err
		}
		if err := tx.SetPersonas(ctx, g.ID, directory.SourceGuest, []directory.Persona{{StructureID: s.ID, Profile: directory.ProfileInvite}}); err != nil {
			return err
		}
		if err := tx.PutGuest(ctx, directory.GuestRecord{AccountID: acc.ID, StructureID: s.ID, Role: "intervenante",
			CreatedBy: "cli:admin", CreatedAt: day}); err != nil {
			return err
		}
		return tx.PutExternalLink(ctx, directory.ExternalLink{Issuer: "https://educonnect.example", Subject: "sub-1", AccountID: acc.ID, LastUsedAt: &day})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = st.UpdateSpaces(ctx, func(tx directory.SpaceTx) error {
		if err := tx.PutSpace(ctx, directory.Space{ID: "espace-ati", Name: "Espace ATI", Description: "Techniciens informatiques",
			CreatedAt: day, UpdatedAt: day}); err != nil {
			return err
		}
		acc, err := tx.AccountByLogin(ctx, "zoe.invitee")
		if err != nil {
			return err
		}
		return tx.AddSpaceMember(ctx, directory.SpaceMember{SpaceID: "espace-ati", AccountID: acc.ID, AddedBy: "cli:admin", AddedAt: day})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutServices(ctx, sso.ServiceDef{ID: "grr", Definition: []byte(`{"name":"GRR","protocol":"cas"}`), UpdatedAt: day}); err != nil {
		t.Fatal(err)
	}
	school, err := st.StructureByUAI(ctx, "0561234A")
	if err != nil {
		t.Fatal(err)
	}
	addPortal(t, st, school)
	return st
}

// Each format of a small directory is byte for byte its golden file
// (go test -run Golden -update rewrites them after an intended change).
func TestGolden(t *testing.T) {
	st := smallDirectory(t)
	for _, format := range []string{dirdump.FormatJSON, dirdump.FormatCSV, dirdump.FormatLDIF} {
		t.Run(format, func(t *testing.T) {
			out := t.TempDir()
			res, err := dirdump.Export(context.Background(), st, format, out, dirdump.Options{Now: fixedNow, WithSecrets: true,
				LDAP: ldap.Config{BaseDN: "dc=enthub", JointureSource: "AC-RENNES"}})
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "golden", format)
			for _, f := range res.Files {
				got, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				want := filepath.Join(golden, filepath.Base(f))
				if *update {
					if err := os.MkdirAll(golden, 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(want, got, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				w, err := os.ReadFile(want)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if string(w) != string(got) {
					t.Errorf("%s differs from its golden file:\n%s", filepath.Base(f), firstDiff(w, got))
				}
			}
		})
	}
}
