package aaf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enthub/enthub/directory"
)

// deltaFile writes one Delta file of Eleve requests beside the DTD.
func deltaFile(t *testing.T, requests string) string {
	t.Helper()
	dir := t.TempDir()
	doc := `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE ficAlimMENESR SYSTEM "ficAlimMENESR.dtd">
<ficAlimMENESR>
` + requests + `</ficAlimMENESR>
`
	if err := os.WriteFile(filepath.Join(dir, "ENT2D_Delta_20240917_Eleve_0000.xml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

const eleveOp = `<operationalAttributes><attr name="categoriePersonne"><value>Eleve</value></attr></operationalAttributes>`

func modifyRequest(id, attr, value string) string {
	return `<modifyRequest>` + eleveOp + `<identifier><id>` + id + `</id></identifier><modifications>
<modification name="` + attr + `" operation="replace"><value>` + value + `</value></modification></modifications></modifyRequest>
`
}

// A Delta's modifyRequests replace attributes of stored persons, however
// many there are (they are fetched in batches), and of persons an earlier
// addRequest of the same Delta created; one naming a person nobody knows
// fails the whole Delta, which then changes nothing.
func TestDeltaModifyRequests(t *testing.T) {
	ctx := context.Background()
	complet := filepath.Join(t.TempDir(), "complet")
	if _, err := Generate(ctx, GenerateOptions{Out: complet, Students: 1500, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	for name, s := range openStores(t) {
		t.Run(name, func(t *testing.T) {
			if _, err := Import(ctx, s, []string{complet}, ImportOptions{}); err != nil {
				t.Fatal(err)
			}
			var students []directory.Person
			if err := s.EachPerson(ctx, func(p directory.Person, _ directory.Account) error {
				if p.AAFFamily == string(Eleve) {
					students = append(students, p)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(students) < 1200 {
				t.Fatalf("%d students stored, want the 1,500 generated", len(students))
			}
			// The generator writes sn/givenName, older exports ENTPersonNom.
			nom, prenom := "sn", "givenName"
			if _, ok := students[0].Extra[nom]; !ok {
				nom, prenom = "ENTPersonNom", "ENTPersonPrenom"
			}
			// More modifications than one batch of the store's lookups.
			var reqs strings.Builder
			for i, p := range students[:1200] {
				reqs.WriteString(modifyRequest(p.AAFID, nom, fmt.Sprintf("Modifié%d", i)))
			}
			// Created then modified within the same Delta: a copy of the
			// first student under a new id.
			reqs.WriteString(`<addRequest>` + eleveOp + `<identifier><id>9999001</id></identifier><attributes>`)
			for k, vs := range students[0].Extra {
				reqs.WriteString(`<attr name="` + k + `">`)
				for _, v := range vs {
					if v == students[0].AAFID {
						v = "9999001"
					}
					reqs.WriteString(`<value>` + v + `</value>`)
				}
				if len(vs) == 0 {
					reqs.WriteString(`<value/>`)
				}
				reqs.WriteString(`</attr>`)
			}
			reqs.WriteString("</attributes></addRequest>\n")
			reqs.WriteString(modifyRequest("9999001", prenom, "Renommée"))
			rep, err := Import(ctx, s, []string{deltaFile(t, reqs.String())}, ImportOptions{})
			if err != nil {
				t.Fatalf("delta: %v (%+v)", err, rep)
			}
			for _, i := range []int{0, 499, 500, 1199} {
				got, err := s.PersonByAAFID(ctx, students[i].AAFID)
				if err != nil || got.LastName != fmt.Sprintf("Modifié%d", i) || got.FirstName != students[i].FirstName {
					t.Errorf("student %d after the Delta: %q %q, %v; want %q %q", i, got.FirstName, got.LastName, err,
						students[i].FirstName, fmt.Sprintf("Modifié%d", i))
				}
			}
			if got, err := s.PersonByAAFID(ctx, "9999001"); err != nil || got.FirstName != "Renommée" || got.LastName != students[0].LastName {
				t.Errorf("added then modified: %q %q, %v; want Renommée %q", got.FirstName, got.LastName, err, students[0].LastName)
			}

			gen, _ := s.Generation(ctx)
			bad := deltaFile(t, modifyRequest(students[1300].AAFID, nom, "Jamais")+modifyRequest("8888888", nom, "Inconnu"))
			rep, err = Import(ctx, s, []string{bad}, ImportOptions{})
			if err == nil || rep.Outcome != OutcomeFailed || !errors.Is(err, directory.ErrNotFound) || !strings.Contains(err.Error(), "8888888") {
				t.Fatalf("modify of an unknown person = %v, %v; want failed naming 8888888", rep.Outcome, err)
			}
			if got, _ := s.PersonByAAFID(ctx, students[1300].AAFID); got.LastName != students[1300].LastName {
				t.Errorf("failed Delta changed %s to %q", students[1300].AAFID, got.LastName)
			}
			if g, _ := s.Generation(ctx); g != gen {
				t.Errorf("failed Delta moved the generation %d → %d", gen, g)
			}
		})
	}
}
