package dirdump_test

import (
	"bytes"
	"context"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/aaf"
	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/dirdump"
	"github.com/enthub/enthub/directory/guests"
	"github.com/enthub/enthub/directory/password"
	"github.com/enthub/enthub/directory/spaces"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/directory/storetest"
	"github.com/enthub/enthub/idp/sso"
	"github.com/enthub/enthub/test/peer"
)

var day = time.Date(2026, 9, 16, 2, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return day }

// seqIDs makes deterministic record ids, so golden files are stable.
func seqIDs() func() string {
	n := 0
	return func() string { n++; return fmt.Sprintf("id-%06d", n) }
}

// backends opens an empty store of each kind; open may be called several
// times per backend (the round trip needs a second, empty store).
func backends(t *testing.T) map[string]func(t *testing.T) *sqlstore.Store {
	t.Helper()
	open := func(t *testing.T, url string) *sqlstore.Store {
		s, err := sqlstore.Open(context.Background(), url, sqlstore.Options{Now: fixedNow, NewID: seqIDs()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	out := map[string]func(t *testing.T) *sqlstore.Store{
		"sqlite": func(t *testing.T) *sqlstore.Store {
			return open(t, "sqlite:"+filepath.Join(t.TempDir(), "enthub.db"))
		},
	}
	if !testing.Short() {
		out["postgres"] = func(t *testing.T) *sqlstore.Store { return open(t, peer.Postgres(t)) }
	}
	return out
}

// fill imports a generated AAF delivery, then adds what only local use
// creates: a guest with a password, an upstream link, a relying party.
func fill(t testing.TB, st *sqlstore.Store, students int) {
	t.Helper()
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "aaf")
	if _, err := aaf.Generate(ctx, aaf.GenerateOptions{Out: out, Students: students, Schools: 2, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	if _, err := aaf.Import(ctx, st, []string{out}, aaf.ImportOptions{Now: fixedNow}); err != nil {
		t.Fatal(err)
	}
	addLocal(t, st)
}

func addLocal(t testing.TB, st *sqlstore.Store) {
	t.Helper()
	ctx := context.Background()
	structs, err := st.ListStructures(ctx)
	if err != nil || len(structs) == 0 {
		t.Fatalf("structures: %v (%d)", err, len(structs))
	}
	until := day.Add(30 * 24 * time.Hour)
	err = st.Update(ctx, func(tx directory.Tx) error {
		p := &directory.Person{Source: directory.SourceGuest, LastName: "Invitée", FirstName: "Zoé",
			PersonalEmail: "zoe@example.org"}
		if err := tx.PutPerson(ctx, p); err != nil {
			return err
		}
		a := &directory.Account{PersonID: p.ID, Login: "zoe.invitee", Source: directory.SourceGuest,
			ValidUntil: &until, PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA"}
		if err := tx.PutAccount(ctx, a); err != nil {
			return err
		}
		if err := tx.SetPersonas(ctx, p.ID, directory.SourceGuest, []directory.Persona{
			{StructureID: structs[0].ID, Profile: directory.ProfileInvite}}); err != nil {
			return err
		}
		return tx.PutExternalLink(ctx, directory.ExternalLink{Issuer: "https://educonnect.example", Subject: "sub-1",
			AccountID: a.ID, LastUsedAt: &day})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutServices(ctx, sso.ServiceDef{ID: "grr", Definition: []byte(`{"name": "GRR", "protocol": "cas"}`),
		UpdatedAt: day}); err != nil {
		t.Fatal(err)
	}
	addGuests(t, st, structs[len(structs)-1].ID)
	addPortal(t, st, structs[len(structs)-1])
	addSpaces(t, st)
}

// addPortal writes the launcher's content as its editors do: a message
// for everyone, one for a school's parents, the département's branding
// and the school's.
func addPortal(t testing.TB, st *sqlstore.Store, school directory.Structure) {
	t.Helper()
	ctx := context.Background()
	for _, n := range []*directory.News{
		{Title: "Bienvenue sur l'ENT", Body: "Une seule connexion pour tous les services.", Start: day, End: day.Add(7 * 24 * time.Hour),
			CreatedBy: "admin-account", CreatedAt: day},
		{StructureID: school.ID, Profile: directory.ProfileParent, Title: "Réunion parents-professeurs",
			Body: "Jeudi à 18 h, salle polyvalente.", Start: day.Add(24 * time.Hour), End: day.Add(10 * 24 * time.Hour),
			CreatedBy: "principal-account", CreatedAt: day.Add(time.Hour)},
	} {
		if err := st.PutNews(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range []directory.Branding{
		{UAI: "", Banner: "Département du Morbihan", Primary: "#003366", UpdatedBy: "admin-account", UpdatedAt: day},
		{UAI: school.UAI, LogoURL: "/images/" + school.UAI + "/logo.svg", BannerURL: "/images/" + school.UAI + "/bandeau.jpg",
			Banner: "Bienvenue au collège", Primary: "#1d4e89", Accent: "#f2a900", Ink: "#1a1a1a", UpdatedBy: "principal-account", UpdatedAt: day},
	} {
		if err := st.PutBranding(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
}

// addSpaces creates the two spaces of the tender's example through
// package spaces, the ATI one with two members.
func addSpaces(t testing.TB, st *sqlstore.Store) {
	t.Helper()
	ctx := context.Background()
	svc := &spaces.Service{Store: st, Now: fixedNow}
	admin := spaces.Actor{ID: "cli:admin"}
	if _, err := svc.Create(ctx, admin, "espace-ati", "Espace ATI", "Techniciens informatiques des collèges"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Create(ctx, admin, "espace-cuisine", "Espace Cuisine", ""); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := st.EachPerson(ctx, func(_ directory.Person, a directory.Account) error {
		if n < 2 {
			n++
			return svc.AddMember(ctx, admin, "espace-ati", a.ID)
		}
		return nil
	})
	if err != nil || n != 2 {
		t.Fatalf("space members: %d, %v", n, err)
	}
}

// addGuests creates guests as a principal does (package guests): one
// activated (a password), one waiting for its code, one revoked, so every
// field of the guest records is set somewhere.
func addGuests(t testing.TB, st *sqlstore.Store, school string) {
	t.Helper()
	ctx := context.Background()
	cheap := password.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}
	svc := &guests.Service{Store: st, Now: fixedNow, Rand: mrand.NewChaCha8([32]byte{7}), Argon2: &cheap}
	principal := guests.Actor{ID: "principal-account", StructureID: school}
	var issued []guests.Issued
	for _, n := range []guests.NewGuest{
		{FirstName: "Inès", LastName: "Tutrice", Email: "ines@example.org", Role: "responsable de stage"},
		{FirstName: "Paul", LastName: "Orateur", Role: "intervenant"},
		{FirstName: "Éva", LastName: "Visite", Email: "eva@example.org", Role: "enseignante invitée"},
	} {
		n.From, n.Until = day, day.Add(60*24*time.Hour)
		g, err := svc.Create(ctx, principal, n)
		if err != nil {
			t.Fatalf("create guest %s: %v", n.LastName, err)
		}
		issued = append(issued, g)
	}
	if _, err := svc.Activate(ctx, issued[0].Code, "un mot de passe long", "un mot de passe long", ""); err != nil {
		t.Fatalf("activate guest: %v", err)
	}
	if _, err := svc.Revoke(ctx, guests.Actor{ID: "cli:admin", StructureID: school}, issued[2].Guest.AccountID); err != nil {
		t.Fatalf("revoke guest: %v", err)
	}
}

func exportJSON(t testing.TB, st directory.Dumper, secrets bool) []byte {
	t.Helper()
	dir := t.TempDir()
	if _, err := dirdump.Export(context.Background(), st, dirdump.FormatJSON, dir,
		dirdump.Options{Now: fixedNow, WithSecrets: secrets}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, dirdump.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// roundTrip imports the JSON export of st into a new store and checks that
// the new store exports the same bytes, with and without secrets.
func roundTrip(t *testing.T, st *sqlstore.Store, open func(t *testing.T) *sqlstore.Store) {
	t.Helper()
	ctx := context.Background()
	for _, secrets := range []bool{true, false} {
		orig := exportJSON(t, st, secrets)
		path := filepath.Join(t.TempDir(), dirdump.JSONFile)
		if err := os.WriteFile(path, orig, 0o600); err != nil {
			t.Fatal(err)
		}
		dst := open(t)
		counts, err := dirdump.Import(ctx, dst, path)
		if err != nil {
			t.Fatalf("import (secrets %v): %v", secrets, err)
		}
		if counts["person"] == 0 || counts["account"] == 0 || counts["membership"] == 0 {
			t.Fatalf("import counts %v: the directory looks empty", counts)
		}
		again := exportJSON(t, dst, secrets)
		if !bytes.Equal(orig, again) {
			t.Fatalf("secrets %v: the re-imported store exports differently:\n%s", secrets, firstDiff(orig, again))
		}
		if !secrets && strings.Contains(string(orig), `"password_hash"`) {
			t.Error("an export without --with-secrets holds password hashes")
		}
		if secrets {
			// The restored rows are the original rows, column for column
			// (the generation counter aside).
			if a, b := dumpTables(t, st), dumpTables(t, dst); a != b {
				t.Errorf("the restored tables differ:\n%s", firstDiff([]byte(a), []byte(b)))
			}
		}
	}
}

func dumpTables(t *testing.T, st *sqlstore.Store) string {
	d := storetest.Dump(t, st.DB())
	i := strings.Index(d, "== meta")
	return d[:i]
}

func firstDiff(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("%d lines, then %d", len(al), len(bl))
}

func TestRoundTripGenerated(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			fill(t, st, 400)
			b := exportJSON(t, st, true)
			if !bytes.Contains(b, []byte(`"password_hash":"$argon2id$`)) {
				t.Error("an export with secrets lacks the guest's password hash")
			}
			// The guests made through package guests are exported with who
			// created them, their role, and the revocation.
			for _, want := range []string{`"guest":{`, `"role":"responsable de stage","created_by":"principal-account"`,
				`"revoked_by":"cli:admin"`, `"guest":3`, `"profile":"parent","title":"Réunion parents-professeurs"`,
				`"logo_url":"/images/`, `"news":2`, `"branding":2`, `{"space":{"id":"espace-ati","name":"Espace ATI"`,
				`{"space_member":{"space_id":"espace-ati"`, `"space":2,"space_member":2`} {
				if !bytes.Contains(b, []byte(want)) {
					t.Errorf("the export lacks %s", want)
				}
			}
			roundTrip(t, st, open)
			// The other formats read the same snapshot (one read-only
			// transaction on PostgreSQL).
			for _, f := range []string{dirdump.FormatCSV, dirdump.FormatLDIF} {
				res, err := dirdump.Export(context.Background(), st, f, t.TempDir(), dirdump.Options{Now: fixedNow})
				if err != nil || len(res.Files) == 0 {
					t.Errorf("export %s: %v (%v)", f, err, res.Files)
				}
			}
		})
	}
}

// The real 2013 export (its missing Eleve chunk allowed) survives the round
// trip: real names, accents, multi-school staff, dangling AAF references.
func TestRoundTripSample2013(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			importSample(t, st)
			roundTrip(t, st, open)
		})
	}
}

// importSample imports the real 2013 export, whose Eleve_0000 chunk is
// missing.
func importSample(t *testing.T, st *sqlstore.Store) {
	t.Helper()
	dir := peer.SharedFile(t, "samples/aaf/entcore-aaf-test-2013")
	if _, err := aaf.Import(context.Background(), st, []string{dir}, aaf.ImportOptions{
		Check: aaf.CheckOptions{AllowMissingChunks: true}, Now: fixedNow}); err != nil {
		t.Fatal(err)
	}
}
