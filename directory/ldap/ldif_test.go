package ldap

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
)

// entryOf returns the LDIF lines of the entry dn in an export.
func entryOf(ldif, dn string) []string {
	for _, e := range strings.Split(ldif, "\n\n") {
		lines := strings.Split(strings.TrimSpace(e), "\n")
		if lines[0] == "dn: "+dn {
			return lines
		}
	}
	return nil
}

// Every served entry is valid against the SDET schema, whatever the AAF
// left empty or kept in Extra: a structure without SIREN, ministry or
// contract gets INCONNU for these MUST attributes, a student without MEF
// gets INCONNU for the ENTEleve MUSTs, and an ENTEleve attribute kept on a
// person who is a parent here is not served (ENTEleve is not among their
// classes). Before, slapadd refused such entries of the real 2013 export.
func TestEntriesValidAgainstSchema(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	err := st.Update(ctx, func(tx directory.Tx) error {
		s := &directory.Structure{AAFID: "1", UAI: "0049951V", Name: "Z.REMP-DE DIGNE", Source: directory.SourceAAF,
			Extra: map[string][]string{"ENTStructureSIREN": {""}}}
		if err := tx.PutStructure(ctx, s); err != nil {
			return err
		}
		put := func(aafID, login string, p directory.Profile, extra map[string][]string) error {
			x := &directory.Person{AAFID: aafID, LastName: login, FirstName: "x", Source: directory.SourceAAF, Extra: extra}
			if err := tx.PutPerson(ctx, x); err != nil {
				return err
			}
			if err := tx.PutAccount(ctx, &directory.Account{PersonID: x.ID, Login: login}); err != nil {
				return err
			}
			return tx.SetPersonas(ctx, x.ID, directory.SourceAAF, []directory.Persona{{StructureID: s.ID, Profile: p}})
		}
		if err := put("10", "eleve", directory.ProfileEleve, nil); err != nil {
			return err
		}
		return put("20", "parent", directory.ProfileParent, map[string][]string{"ENTEleveMajeur": {"O"}, "ENTEleveStatutEleve": {"SCOLAIRE"}})
	})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := WriteLDIF(ctx, &b, st, Config{}, time.Now()); err != nil {
		t.Fatal(err)
	}
	ldif := b.String()
	structure := entryOf(ldif, "ENTStructureUAI=0049951V,ou=structures,dc=enthub")
	for _, want := range []string{"ENTStructureSIREN: INCONNU", "ENTEtablissementMinistereTutelle: INCONNU", "ENTEtablissementContrat: INCONNU"} {
		if !contains(structure, want) {
			t.Errorf("the structure lacks %q:\n%s", want, strings.Join(structure, "\n"))
		}
	}
	persons := map[string][]string{}
	for _, e := range strings.Split(ldif, "\n\n") {
		if strings.Contains(e, "ENTPersonLogin: ") {
			login := e[strings.Index(e, "ENTPersonLogin: ")+16:]
			login, _, _ = strings.Cut(login, "\n")
			persons[login] = strings.Split(e, "\n")
		}
	}
	for _, want := range []string{"objectClass: ENTEleve", "ENTEleveMEF: INCONNU", "ENTEleveLibelleMEF: INCONNU",
		"ENTEleveFiliere: INCONNU", "ENTEleveClasses: INCONNU"} {
		if !contains(persons["eleve"], want) {
			t.Errorf("the student lacks %q:\n%s", want, strings.Join(persons["eleve"], "\n"))
		}
	}
	for _, l := range persons["parent"] {
		if strings.HasPrefix(l, "ENTEleve") {
			t.Errorf("the parent carries %q, an attribute of a class it does not have", l)
		}
	}
	if !contains(persons["parent"], "objectClass: ENTAuxPersRelEleve") {
		t.Errorf("the parent is not ENTAuxPersRelEleve:\n%s", strings.Join(persons["parent"], "\n"))
	}
}

func contains(lines []string, s string) bool {
	for _, l := range lines {
		if l == s {
			return true
		}
	}
	return false
}
