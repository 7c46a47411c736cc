package gar_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/aaf"
	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/gar"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/test/peer"
)

// schemaDir is the GAR's schemas in the shared references (../../../shared
// from this package), read in place, never copied.
func schemaDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "reference", "gar")
	if _, err := os.Stat(filepath.Join(dir, "GAR-ENT.xsd")); err != nil {
		t.Fatalf("GAR schemas not found at %s: %v", dir, err)
	}
	return dir
}

var testSecret = bytes.Repeat([]byte("k"), 32)

var exportTime = time.Date(2024, 9, 17, 3, 4, 5, 0, time.UTC)

// openStore is an embedded store in a temporary folder.
func openStore(t testing.TB) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "enthub.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// importGenerated imports a generated Complet of n students in that many schools.
func importGenerated(t testing.TB, s *sqlstore.Store, n, schools int, seed int64) {
	t.Helper()
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "aaf")
	if _, err := aaf.Generate(ctx, aaf.GenerateOptions{Out: out, Students: n, Schools: schools, Seed: seed}); err != nil {
		t.Fatal(err)
	}
	if rep, err := aaf.Import(ctx, s, []string{out}, aaf.ImportOptions{Force: true}); err != nil {
		t.Fatalf("import: %v (%+v)", err, rep)
	}
}

func uais(t testing.TB, s directory.Reader) []string {
	t.Helper()
	sts, err := s.ListStructures(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, st := range sts {
		out = append(out, st.UAI)
	}
	sort.Strings(out)
	return out
}

// validate runs xmllint --schema on every file, with the schema its name
// says (1D_ files: the first-degree one).
func validate(t *testing.T, files []string) {
	t.Helper()
	xmllint := peer.RequireBinary(t, "xmllint")
	dir := schemaDir(t)
	var d1, d2 []string
	for _, f := range files {
		if strings.Contains(filepath.Base(f), "_1D_") {
			d1 = append(d1, f)
		} else {
			d2 = append(d2, f)
		}
	}
	for xsd, fs := range map[string][]string{"GAR-ENT.xsd": d2, "GAR-ENT-1D.xsd": d1} {
		for len(fs) > 0 {
			n := min(len(fs), 200)
			args := append([]string{"--noout", "--schema", filepath.Join(dir, xsd)}, fs[:n]...)
			out, err := exec.Command(xmllint, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("xmllint --schema %s refused the export: %v\n%s", xsd, err, truncate(string(out), 4000))
			}
			fs = fs[n:]
		}
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// --- the export read back -------------------------------------------------------------

type xPerson struct {
	ID      string `xml:"GARPersonIdentifiant"`
	Profils []struct {
		UAI    string `xml:"GARStructureUAI"`
		Profil string `xml:"GARPersonProfil"`
	} `xml:"GARPersonProfils"`
	Nom    string   `xml:"GARPersonNom"`
	Prenom string   `xml:"GARPersonPrenom"`
	Etabs  []string `xml:"GARPersonEtab"`
	Date   string   `xml:"GARPersonDateNaissance"`
	Mail   []string `xml:"GARPersonMail"`
	RAEtab []string `xml:"GARRespAffEtab"`
}

type xLink struct {
	UAI      string   `xml:"GARStructureUAI"`
	ID       string   `xml:"GARPersonIdentifiant"`
	MEF      string   `xml:"GARMEFCode"`
	Stat4    string   `xml:"GARMEFSTAT4Code"`
	Groupe   string   `xml:"GARGroupeCode"`
	Matieres []string `xml:"GARMatiereCode"`
	Libelle  string   `xml:"GARMatiereLibelle"`
	MEFLib   string   `xml:"GARMEFLibelle"`
}

type xGroupe struct {
	Code    string `xml:"GARGroupeCode"`
	UAI     string `xml:"GARStructureUAI"`
	Libelle string `xml:"GARGroupeLibelle"`
	Statut  string `xml:"GARGroupeStatut"`
}

type xRoot struct {
	XMLName      xml.Name
	Version      string    `xml:"Version,attr"`
	Eleves       []xPerson `xml:"GAREleve"`
	Ens          []xPerson `xml:"GAREnseignant"`
	RespAff      []xPerson `xml:"GARRespAff"`
	MEF          []xLink   `xml:"GARPersonMEF"`
	MEF4         []xLink   `xml:"GARPersonMEFSTAT4"`
	Enseignement []xLink   `xml:"GAREleveEnseignement"`
	Groupes      []xGroupe `xml:"GARGroupe"`
	PersonGroupe []xLink   `xml:"GARPersonGroupe"`
	EnsGroupe    []xLink   `xml:"GAREnsGroupeMatiere"`
	EnsClasse    []xLink   `xml:"GAREnsClasseMatiere"`
	Etabs        []struct {
		UAI string `xml:"GARStructureUAI"`
		Nom string `xml:"GARStructureNomCourant"`
	} `xml:"GAREtab"`
	MEFs     []xLink `xml:"GARMEF"`
	Matieres []xLink `xml:"GARMatiere"`
}

// model is an export, or what it should hold, as comparable sets.
type model struct {
	students, staff   map[string]string // gid -> "nom|prenom|profils|etabs"
	respAff           map[string]string // gid -> etabs
	groups            map[string]string // uai|code -> statut|libellé
	personGroups      map[string]bool   // uai|gid|code
	teaching          map[string]string // uai|gid|code -> subjects
	studentMEF        map[string]bool   // uai|gid|mef
	studentSubjects   map[string]bool   // uai|gid|subject
	schools           map[string]string // uai -> name
	schoolSubjects    map[string]string // uai|code -> label
	files, maxPerFile int
}

func newModel() *model {
	return &model{students: map[string]string{}, staff: map[string]string{}, respAff: map[string]string{},
		groups: map[string]string{}, personGroups: map[string]bool{}, teaching: map[string]string{},
		studentMEF: map[string]bool{}, studentSubjects: map[string]bool{}, schools: map[string]string{},
		schoolSubjects: map[string]string{}}
}

func personKey(nom, prenom string, profils, etabs []string) string {
	profils, etabs = slices.Clone(profils), slices.Clone(etabs)
	sort.Strings(profils)
	sort.Strings(etabs)
	return nom + "|" + prenom + "|" + strings.Join(slices.Compact(profils), ",") + "|" + strings.Join(slices.Compact(etabs), ",")
}

var fileName = regexp.MustCompile(`^ENT-TEST_GAR-ENT_Complet_20240917_030405_(1D_)?(Etab|Eleve|Enseignant|Groupe|RespAff)_(\d{4})\.xml$`)

// readBack parses every file of an export; a person in both degrees'
// files is merged.
func readBack(t *testing.T, files []string) *model {
	t.Helper()
	m := newModel()
	type acc struct{ nom, prenom, profils, etabs []string }
	students, staff := map[string]*acc{}, map[string]*acc{}
	add := func(into map[string]*acc, p xPerson) {
		a := into[p.ID]
		if a == nil {
			a = &acc{nom: []string{p.Nom}, prenom: []string{p.Prenom}}
			into[p.ID] = a
		}
		for _, pr := range p.Profils {
			a.profils = append(a.profils, pr.UAI+":"+pr.Profil)
		}
		a.etabs = append(a.etabs, p.Etabs...)
	}
	for _, f := range files {
		if !fileName.MatchString(filepath.Base(f)) {
			t.Errorf("file name %s does not follow <idENT>_GAR-ENT_Complet_<yyyyMMdd_HHmmss>_<kind>_<NNNN>.xml", filepath.Base(f))
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var r xRoot
		if err := xml.Unmarshal(raw, &r); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		n := len(r.Eleves) + len(r.Ens) + len(r.RespAff) + len(r.MEF) + len(r.MEF4) + len(r.Enseignement) + len(r.Groupes) +
			len(r.PersonGroupe) + len(r.EnsGroupe) + len(r.EnsClasse) + len(r.Etabs) + len(r.MEFs) + len(r.Matieres)
		m.maxPerFile = max(m.maxPerFile, n)
		m.files++
		for _, p := range r.Eleves {
			add(students, p)
		}
		for _, p := range r.Ens {
			add(staff, p)
		}
		for _, p := range r.RespAff {
			e := slices.Clone(p.RAEtab)
			sort.Strings(e)
			m.respAff[p.ID] = strings.Join(e, ",")
		}
		for _, l := range r.MEF {
			m.studentMEF[l.UAI+"|"+l.ID+"|"+l.MEF] = true
		}
		for _, l := range r.Enseignement {
			m.studentSubjects[l.UAI+"|"+l.ID+"|"+l.Matieres[0]] = true
		}
		for _, g := range r.Groupes {
			m.groups[g.UAI+"|"+g.Code] = g.Statut + "|" + g.Libelle
		}
		for _, l := range r.PersonGroupe {
			m.personGroups[l.UAI+"|"+l.ID+"|"+l.Groupe] = true
		}
		for _, l := range append(r.EnsGroupe, r.EnsClasse...) {
			m.teaching[l.UAI+"|"+l.ID+"|"+l.Groupe] = strings.Join(l.Matieres, ",")
		}
		for _, e := range r.Etabs {
			m.schools[e.UAI] = e.Nom
		}
		for _, l := range r.Matieres {
			m.schoolSubjects[l.UAI+"|"+l.Matieres[0]] = l.Libelle
		}
	}
	for id, a := range students {
		m.students[id] = personKey(a.nom[0], a.prenom[0], a.profils, a.etabs)
	}
	for id, a := range staff {
		m.staff[id] = personKey(a.nom[0], a.prenom[0], a.profils, a.etabs)
	}
	return m
}

// expected builds, from the directory's per-person reads, what the export
// of the subscribing schools must hold.
func expected(t *testing.T, s directory.Reader, p gar.Project) *model {
	t.Helper()
	ctx := context.Background()
	m := newModel()
	sts, _ := s.ListStructures(ctx)
	byID := map[string]directory.Structure{}
	codes := map[string]string{} // group id -> GAR code
	for _, st := range sts {
		if p.Subscribes(st.UAI) {
			byID[st.ID] = st
			m.schools[st.UAI] = st.Name
			groups, err := s.ListGroups(ctx, st.ID)
			if err != nil {
				t.Fatal(err)
			}
			classes := map[string]bool{}
			for _, g := range groups {
				if g.Kind == directory.GroupClass {
					classes[g.Code] = true
				}
			}
			for _, g := range groups {
				statut, code := "GROUPE", groupCode(g, classes)
				if g.Kind == directory.GroupClass {
					statut = "DIVISION"
				}
				m.groups[st.UAI+"|"+code] = statut + "|" + g.Name
				codes[g.ID] = code
			}
		}
	}
	err := s.EachPerson(ctx, func(pe directory.Person, a directory.Account) error {
		if a.Status != directory.StatusActive {
			return nil
		}
		personas, err := s.Personas(ctx, pe.ID)
		if err != nil {
			return err
		}
		gid := p.PersonID(pe.ID)
		var sp, se, tp, te, ra []string
		in := map[string]bool{}
		for _, pa := range personas {
			st, ok := byID[pa.StructureID]
			code, known := gar.NationalProfile(pa.Profile)
			if !ok || !known {
				continue
			}
			in[pa.StructureID] = true
			if pa.Profile == directory.ProfileEleve {
				sp, se = append(sp, st.UAI+":"+code), append(se, st.UAI)
				if pe.MEF != "" && !gar.FirstDegree(st) {
					m.studentMEF[st.UAI+"|"+gid+"|"+pe.MEF] = true
				}
				for _, c := range pe.Subjects {
					if !gar.FirstDegree(st) {
						m.studentSubjects[st.UAI+"|"+gid+"|"+c] = true
					}
				}
			} else {
				tp, te = append(tp, st.UAI+":"+code), append(te, st.UAI)
				if pa.Profile == directory.ProfileDirection && pe.Email != "" {
					ra = append(ra, st.UAI)
				}
			}
		}
		if len(sp) > 0 {
			m.students[gid] = personKey(pe.LastName, pe.FirstName, sp, se)
		}
		if len(tp) > 0 {
			m.staff[gid] = personKey(pe.LastName, pe.FirstName, tp, te)
		}
		if len(ra) > 0 {
			sort.Strings(ra)
			m.respAff[gid] = strings.Join(slices.Compact(ra), ",")
		}
		ms, err := s.Memberships(ctx, pe.ID)
		if err != nil {
			return err
		}
		for _, ms := range ms {
			g, err := s.Group(ctx, ms.GroupID)
			if err != nil {
				return err
			}
			st, ok := byID[g.StructureID]
			if !ok || !in[g.StructureID] {
				continue
			}
			m.personGroups[st.UAI+"|"+gid+"|"+codes[g.ID]] = true
			if ms.Role == directory.RoleTeacher && len(ms.Subjects) > 0 && !gar.FirstDegree(st) {
				m.teaching[st.UAI+"|"+gid+"|"+codes[g.ID]] = strings.Join(ms.Subjects, ",")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// groupCode is the code a group has in the export: a group named like a
// class of its school gets _GRP.
func groupCode(g directory.Group, classes map[string]bool) string {
	if g.Kind == directory.GroupGroup && classes[g.Code] {
		return g.Code + "_GRP"
	}
	return g.Code
}

func compareSets[V comparable](t *testing.T, what string, got, want map[string]V) {
	t.Helper()
	n := 0
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			if n++; n <= 5 {
				t.Errorf("%s %s: exported %v (present %v), directory says %v", what, k, g, ok, w)
			}
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			if n++; n <= 5 {
				t.Errorf("%s %s: exported %v, not in the directory's subscribing schools", what, k, g)
			}
		}
	}
	if n > 5 {
		t.Errorf("%s: %d differences in all", what, n)
	}
	if len(want) == 0 {
		t.Errorf("%s: nothing to compare (the fixture has none)", what)
	}
}

// checkExport validates every file and compares the export with the
// directory, element by element.
func checkExport(t *testing.T, s directory.Reader, p gar.Project, res *gar.Result, max int) *model {
	t.Helper()
	validate(t, res.Files)
	got, want := readBack(t, res.Files), expected(t, s, p)
	if got.maxPerFile > max {
		t.Errorf("a file holds %d elements, the limit is %d", got.maxPerFile, max)
	}
	compareSets(t, "student", got.students, want.students)
	compareSets(t, "staff", got.staff, want.staff)
	if len(want.respAff) > 0 || len(got.respAff) > 0 {
		compareSets(t, "responsable d'affectation", got.respAff, want.respAff)
	}
	compareSets(t, "school", got.schools, want.schools)
	compareSets(t, "class or group", got.groups, want.groups)
	compareSets(t, "membership", got.personGroups, want.personGroups)
	if len(want.teaching) > 0 || len(got.teaching) > 0 {
		compareSets(t, "teacher's subjects in a class or group", got.teaching, want.teaching)
	}
	compareSets(t, "student MEF", got.studentMEF, want.studentMEF)
	if len(want.studentSubjects) > 0 || len(got.studentSubjects) > 0 {
		compareSets(t, "student subject", got.studentSubjects, want.studentSubjects)
	}
	// Every subject taught or followed is listed, with its label, by its school.
	ctx := context.Background()
	for k := range got.teaching {
		parts := strings.Split(k, "|")
		for _, c := range strings.Split(got.teaching[k], ",") {
			label, ok := got.schoolSubjects[parts[0]+"|"+c]
			sub, err := s.Subject(ctx, c)
			if !ok || (err == nil && sub.Label != label) {
				t.Fatalf("subject %s of %s: GARMatiere %q (listed %v), nomenclature %q", c, parts[0], label, ok, sub.Label)
			}
		}
	}
	if res.Counts.Students != len(want.students) || res.Counts.Staff < len(want.staff) {
		t.Errorf("counts %+v; want %d students, %d staff", res.Counts, len(want.students), len(want.staff))
	}
	return got
}

func TestExportGeneratedDelivery(t *testing.T) {
	s := openStore(t)
	importGenerated(t, s, 1500, 4, 7)
	all := uais(t, s)
	if len(all) < 3 {
		t.Fatalf("fixture has %d schools", len(all))
	}
	// The last school does not subscribe; the first becomes an école, so
	// that the first-degree schema is exercised.
	p := gar.Project{IDEnt: "ENT-TEST", Schools: all[:len(all)-1], Secret: testSecret}
	ctx := context.Background()
	st, err := s.StructureByUAI(ctx, all[0])
	if err != nil {
		t.Fatal(err)
	}
	st.Type, st.TypeCode = "ECOLE ELEMENTAIRE PUBLIQUE", "151"
	if err := s.Update(ctx, func(tx directory.Tx) error { return tx.PutStructure(ctx, &st) }); err != nil {
		t.Fatal(err)
	}
	const max = 500 // small, so that the split is exercised
	res, err := gar.Export(ctx, s, gar.ExportOptions{Project: p, Out: t.TempDir(), Now: exportTime, MaxElements: max})
	if err != nil {
		t.Fatal(err)
	}
	got := checkExport(t, s, p, res, max)
	if len(got.respAff) == 0 || len(got.teaching) == 0 || len(got.studentSubjects) == 0 {
		t.Errorf("the generated delivery gave %d responsables d'affectation, %d teachings, %d student subjects: want some of each",
			len(got.respAff), len(got.teaching), len(got.studentSubjects))
	}
	if got.files <= 10 {
		t.Errorf("%d files: the split at %d elements did not happen", got.files, max)
	}
	var oneD bool
	for _, f := range res.Files {
		oneD = oneD || strings.Contains(f, "_1D_Eleve_")
	}
	if !oneD {
		t.Error("no first-degree student file for the école")
	}
	for _, f := range res.Files {
		raw, _ := os.ReadFile(f)
		if bytes.Contains(raw, []byte(all[len(all)-1])) {
			t.Fatalf("%s names the non-subscribing school %s", f, all[len(all)-1])
		}
	}
	// A store without the faster person walk gives the same files.
	plainOut := t.TempDir()
	plain, err := gar.Export(ctx, plainSource{s}, gar.ExportOptions{Project: p, Out: plainOut, Now: exportTime, MaxElements: max})
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range res.Files {
		a, _ := os.ReadFile(f)
		b, _ := os.ReadFile(plain.Files[i])
		if !bytes.Equal(a, b) {
			t.Fatalf("%s differs through EachPerson", filepath.Base(f))
		}
	}
	// The identifiers are opaque: no login or AAF id leaks into the files.
	_ = s.EachPerson(ctx, func(pe directory.Person, a directory.Account) error {
		gid := p.PersonID(pe.ID)
		if strings.Contains(gid, pe.AAFID) || strings.Contains(gid, a.Login) || len(gid) != 40 {
			t.Fatalf("GARPersonIdentifiant %q of %s", gid, a.Login)
		}
		return nil
	})
}

// plainSource hides the store's EachGARPerson.
type plainSource struct{ gar.Source }

func TestExportRestrictedToUAI(t *testing.T) {
	s := openStore(t)
	importGenerated(t, s, 700, 3, 3)
	all := uais(t, s)
	p := gar.Project{IDEnt: "ENT-TEST", Schools: all, Secret: testSecret}
	ctx := context.Background()
	res, err := gar.Export(ctx, s, gar.ExportOptions{Project: p, Out: t.TempDir(), Now: exportTime, UAIs: all[1:2]})
	if err != nil {
		t.Fatal(err)
	}
	only := p
	only.Schools = all[1:2]
	checkExport(t, s, only, res, gar.DefaultMaxElements)
	if len(res.Files) != 5 || res.Counts.Schools != 1 {
		t.Fatalf("files %v counts %+v", res.Files, res.Counts)
	}

	// A UAI that does not subscribe, or is unknown, is refused by name and
	// leaves no file.
	p.Schools = append(slices.Clone(all[1:]), "9999999Z")
	for _, uai := range []string{all[0], "9999999Z"} {
		out := t.TempDir()
		_, err := gar.Export(ctx, s, gar.ExportOptions{Project: p, Out: out, Now: exportTime, UAIs: []string{uai}})
		if err == nil || !strings.Contains(err.Error(), uai) {
			t.Errorf("--uai %s: %v", uai, err)
		}
		if left, _ := os.ReadDir(out); len(left) != 0 {
			t.Errorf("--uai %s left %d files", uai, len(left))
		}
	}
}

func TestExportSample2013(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "samples", "aaf", "entcore-aaf-test-2013")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("2013 sample not found at %s: %v", dir, err)
	}
	s := openStore(t)
	ctx := context.Background()
	day := time.Date(2013, 1, 18, 2, 0, 0, 0, time.UTC)
	if _, err := aaf.Import(ctx, s, []string{dir}, aaf.ImportOptions{Check: aaf.CheckOptions{AllowMissingChunks: true},
		Now: func() time.Time { return day }}); err != nil {
		t.Fatal(err)
	}
	p := gar.Project{IDEnt: "ENT-TEST", Schools: uais(t, s), Secret: testSecret}
	res, err := gar.Export(ctx, s, gar.ExportOptions{Project: p, Out: t.TempDir(), Now: exportTime})
	if err != nil {
		t.Fatal(err)
	}
	checkExport(t, s, p, res, gar.DefaultMaxElements)
	t.Logf("2013 sample: %+v in %d files", res.Counts, len(res.Files))
}

func TestPersonIDStableAndKeyed(t *testing.T) {
	p := gar.Project{IDEnt: "ENT-TEST", Secret: testSecret}
	q := p
	q.Secret = bytes.Repeat([]byte("z"), 32)
	r := p
	r.IDEnt = "ENT-OTHER"
	a := p.PersonID("person-1")
	if a != p.PersonID("person-1") || a == p.PersonID("person-2") || a == q.PersonID("person-1") || a == r.PersonID("person-1") {
		t.Fatal("PersonID is not a keyed, per-project, per-person function")
	}
	if want := 40; len(a) != want {
		t.Fatalf("len %d", len(a))
	}
}
