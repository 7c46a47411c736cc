package link

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/federation"
	"github.com/enthub/enthub/test/peer"
)

type world struct {
	s                                          Store
	lea, paul, paul2, anne, prefixed, disabled directory.Person
	accounts                                   map[string]string // person id -> account id
}

var t0 = time.Date(2026, 9, 7, 7, 50, 0, 0, time.UTC)

// stores runs fn on SQLite and on PostgreSQL.
func stores(t *testing.T, fn func(t *testing.T, w *world)) {
	for name, url := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "e.db") },
		"postgres": func(t *testing.T) string { return peer.Postgres(t) },
	} {
		t.Run(name, func(t *testing.T) {
			s, err := sqlstore.Open(context.Background(), url(t), sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			fn(t, seed(t, s))
		})
	}
}

func seed(t *testing.T, s Store) *world {
	t.Helper()
	w := &world{s: s, accounts: map[string]string{},
		lea:      directory.Person{AAFID: "2397001", AAFFamily: "Eleve", Source: directory.SourceAAF, LastName: "Martin", FirstName: "Léa", INE: "070123456AB"},
		paul:     directory.Person{AAFID: "2397002", AAFFamily: "PersRelEleve", Source: directory.SourceAAF, LastName: "Martin", FirstName: "Paul"},
		paul2:    directory.Person{AAFID: "9900002", AAFFamily: "PersRelEleve", Source: directory.SourceAAF, LastName: "Martin", FirstName: "Paul"},
		anne:     directory.Person{AAFID: "2397003", AAFFamily: "PersEducNat", Source: directory.SourceAAF, LastName: "Durand", FirstName: "Anne", Email: "anne.durand@ac-aix-marseille.fr"},
		prefixed: directory.Person{AAFID: "AIX-MARSEILLE-2397005", AAFFamily: "Eleve", Source: directory.SourceAAF, LastName: "Petit", FirstName: "Noé"},
		disabled: directory.Person{AAFID: "2397009", AAFFamily: "Eleve", Source: directory.SourceAAF, LastName: "Parti", FirstName: "Eve"},
	}
	ctx := context.Background()
	err := s.Update(ctx, func(tx directory.Tx) error {
		a := directory.Structure{AAFID: "S1", UAI: "0131234A", Name: "CLG JEAN MOULIN", Source: directory.SourceAAF}
		b := directory.Structure{AAFID: "S2", UAI: "0135678B", Name: "LYC LOUISE MICHEL", Source: directory.SourceAAF}
		for _, st := range []*directory.Structure{&a, &b} {
			if err := tx.PutStructure(ctx, st); err != nil {
				return err
			}
		}
		for _, x := range []struct {
			p        *directory.Person
			status   directory.AccountStatus
			personas []directory.Persona
		}{
			{&w.lea, directory.StatusActive, []directory.Persona{{StructureID: a.ID, Profile: directory.ProfileEleve}}},
			{&w.paul, directory.StatusActive, []directory.Persona{{StructureID: a.ID, Profile: directory.ProfileParent}}},
			{&w.paul2, directory.StatusActive, []directory.Persona{{StructureID: b.ID, Profile: directory.ProfileParent}}},
			{&w.anne, directory.StatusActive, []directory.Persona{{StructureID: a.ID, Profile: directory.ProfileEnseignant}, {StructureID: b.ID, Profile: directory.ProfileEnseignant}}},
			{&w.prefixed, directory.StatusActive, []directory.Persona{{StructureID: b.ID, Profile: directory.ProfileEleve}}},
			{&w.disabled, directory.StatusDisabled, []directory.Persona{{StructureID: a.ID, Profile: directory.ProfileEleve}}},
		} {
			if err := tx.PutPerson(ctx, x.p); err != nil {
				return err
			}
			acc := directory.Account{PersonID: x.p.ID, Login: "l" + x.p.AAFID, Status: x.status, Source: directory.SourceAAF}
			if err := tx.PutAccount(ctx, &acc); err != nil {
				return err
			}
			w.accounts[x.p.ID] = acc.ID
			if err := tx.SetPersonas(ctx, x.p.ID, directory.SourceAAF, x.personas); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) linker() Linker { return Linker{Store: w.s, Now: func() time.Time { return t0 }} }

var eduConnect = Config{
	UAIAttribute: "FrEduCtEleveUAI",
	Rules: []Rule{
		{Name: "educonnect-vecteur-aaf", Kind: AAFVector, Attributes: []string{"FrEduCtRefId"}, Keys: []string{"{id}", "{academie}-{id}"}, Families: []string{"Eleve", "PersRelEleve"}},
		{Name: "lien-enregistre", Kind: StoredLink},
		{Name: "eleve-ine-uai", Kind: INEUAI, Attributes: []string{"FrEduCtEleveINE"}, UAIAttribute: "FrEduCtEleveUAI", Families: []string{"Eleve"}},
	},
}

var agents = Config{
	UAIAttribute: "FrEduRne",
	Rules: []Rule{
		{Name: "lien-enregistre", Kind: StoredLink},
		{Name: "agent-mail", Kind: Email, Attributes: []string{"mail", "ctemail"}, Families: []string{"PersEducNat"}},
		{Name: "agent-jointure", Kind: Jointure, Attributes: []string{"ENTPersonJointure"}, Families: []string{"PersEducNat"}},
	},
}

func ident(conn, subject string, attrs map[string][]string) federation.Identity {
	return federation.Identity{Connector: conn, Issuer: "https://" + conn + ".test/idp", Subject: subject, Attributes: attrs}
}

func TestLinking(t *testing.T) {
	stores(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		l := w.linker()
		accountOf := func(p directory.Person) string { return w.accounts[p.ID] }

		t.Run("student by AAF vector, then by the stored link", func(t *testing.T) {
			id := ident("educonnect", "ect-lea", map[string][]string{"FrEduCtRefId": {"ECT1", "{AAF}02|x|2397001"}})
			d, err := l.Link(ctx, eduConnect, id)
			if err != nil {
				t.Fatal(err)
			}
			if d.Rule != "educonnect-vecteur-aaf" || len(d.Candidates) != 1 || d.Candidates[0].Account.ID != accountOf(w.lea) || !d.Stored {
				t.Fatalf("decision = %+v", d)
			}
			// The vector disappears upstream: the stored link still holds.
			d, err = l.Link(ctx, eduConnect, ident("educonnect", "ect-lea", nil))
			if err != nil || d.Rule != "lien-enregistre" || d.Candidates[0].Account.ID != accountOf(w.lea) {
				t.Fatalf("second login = %+v, %v", d, err)
			}
			if lk, _ := w.s.ExternalLink(ctx, id.Issuer, id.Subject); lk.LastUsedAt == nil {
				t.Error("stored link not touched")
			}
		})

		t.Run("parent with two vectors gets two accounts to choose from", func(t *testing.T) {
			d, err := l.Link(ctx, eduConnect, ident("educonnect", "ect-paul", map[string][]string{"FrEduCtRefId": {"{AAF}02|x|2397002", "{AAF}02|y|9900002"}}))
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Candidates) != 2 || d.Stored {
				t.Fatalf("decision = %d candidates, stored %v", len(d.Candidates), d.Stored)
			}
			if _, err := w.s.ExternalLink(ctx, "https://educonnect.test/idp", "ect-paul"); !errors.Is(err, directory.ErrNotFound) {
				t.Errorf("a link was stored for an ambiguous identity: %v", err)
			}
		})

		t.Run("académie prefix", func(t *testing.T) {
			d, err := l.Link(ctx, eduConnect, ident("educonnect", "ect-p", map[string][]string{"FrEduCtRefId": {"{AAF}02|x|2397005"}}))
			if err != nil || d.Candidates[0].Person.ID != w.prefixed.ID || d.Keys[0] != "AIX-MARSEILLE-2397005" {
				t.Fatalf("prefixed = %+v, %v", d, err)
			}
		})

		t.Run("INE and UAI fallback", func(t *testing.T) {
			// Wrong school: no match, and the refusal carries the UAI.
			_, err := l.Link(ctx, eduConnect, ident("educonnect", "ect-x", map[string][]string{"FrEduCtEleveINE": {"070123456ab"}, "FrEduCtEleveUAI": {"0135678B"}}))
			var nm *NoMatchError
			if !errors.As(err, &nm) || nm.UAI != "0135678B" || len(nm.Tried) != 3 {
				t.Fatalf("INE in another school = %v, want NoMatchError with UAI", err)
			}
			d, err := l.Link(ctx, eduConnect, ident("educonnect", "ect-y", map[string][]string{"FrEduCtEleveINE": {"070123456ab"}, "FrEduCtEleveUAI": {"0131234a"}}))
			if err != nil || d.Rule != "eleve-ine-uai" || d.Candidates[0].Person.ID != w.lea.ID {
				t.Fatalf("INE + UAI = %+v, %v", d, err)
			}
		})

		t.Run("a disabled account is never a match", func(t *testing.T) {
			_, err := l.Link(ctx, eduConnect, ident("educonnect", "ect-d", map[string][]string{"FrEduCtRefId": {"{AAF}02|x|2397009"}}))
			var nm *NoMatchError
			if !errors.As(err, &nm) {
				t.Fatalf("disabled = %v, want NoMatchError", err)
			}
		})

		t.Run("families restrict a rule", func(t *testing.T) {
			// A teacher's jointure in an EduConnect vector is not a student or parent.
			if _, err := l.Link(ctx, eduConnect, ident("educonnect", "ect-t", map[string][]string{"FrEduCtRefId": {"{AAF}02|x|2397003"}})); err == nil {
				t.Error("EduConnect vector matched a PersEducNat")
			}
		})

		t.Run("agent by academic e-mail, then the link survives an address change", func(t *testing.T) {
			d, err := l.Link(ctx, agents, ident("agents", "nameid-anne", map[string][]string{"ctemail": {"Anne.Durand@ac-aix-marseille.fr"}}))
			if err != nil || d.Rule != "agent-mail" || len(d.Candidates) != 1 || len(d.Candidates[0].Personas) != 2 {
				t.Fatalf("agent = %+v, %v", d, err)
			}
			d, err = l.Link(ctx, agents, ident("agents", "nameid-anne", map[string][]string{"mail": {"anne.martin@ac-aix-marseille.fr"}}))
			if err != nil || d.Rule != "lien-enregistre" || d.Candidates[0].Person.ID != w.anne.ID {
				t.Fatalf("after e-mail change = %+v, %v", d, err)
			}
		})

		t.Run("agent by jointure when no address matches", func(t *testing.T) {
			d, err := l.Link(ctx, agents, ident("agents", "nameid-2", map[string][]string{"mail": {"not-an-address"}, "ENTPersonJointure": {"2397003"}}))
			if err != nil || d.Rule != "agent-jointure" {
				t.Fatalf("jointure = %+v, %v", d, err)
			}
		})

		t.Run("the audit event names the rule", func(t *testing.T) {
			id := ident("educonnect", "ect-lea", nil)
			d, err := l.Link(ctx, eduConnect, id)
			e := Event(id, d, err, t0)
			if e.Details["rule"] != "lien-enregistre" || e.AccountID != accountOf(w.lea) || e.Outcome != "ok" {
				t.Errorf("event = %+v", e)
			}
			_, err = l.Link(ctx, eduConnect, ident("educonnect", "nobody", map[string][]string{"FrEduCtEleveUAI": {"0131234A"}}))
			if e := Event(id, Decision{}, err, t0); e.Outcome != "refused" || e.Details["uai"] != "0131234A" {
				t.Errorf("refusal event = %+v", e)
			}
		})
	})
}

func TestConfigValidate(t *testing.T) {
	err := Config{Rules: []Rule{{Kind: "magic"}, {Kind: Email}, {Kind: Jointure, Attributes: []string{"x"}, Keys: []string{"AC-{academie}"}}}}.Validate("agents")
	for _, want := range []string{"rules[0].kind", "rules[1].attributes", "rules[2].keys[0]"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want it to name %s", err, want)
		}
	}
	if err := eduConnect.Validate("educonnect"); err != nil {
		t.Errorf("EduConnect rules: %v", err)
	}
}

func TestParseVector(t *testing.T) {
	for in, want := range map[string]aafID{
		"{AAF}02|x|2397001": {code: "02", id: "2397001"},
		" {AAF}14||123 ":    {code: "14", id: "123"},
		"ECT-ENT2":          {},
		"{AAF}02|x":         {},
		"{AAF}02|x|":        {},
		"{aaf}02|x|2397001": {},
	} {
		got, ok := parseVector(in)
		if got != want || ok != (want.id != "") {
			t.Errorf("parseVector(%q) = %+v, %v; want %+v", in, got, ok, want)
		}
	}
}
