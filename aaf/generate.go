package aaf

import (
	"archive/zip"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// GenerateOptions describes a synthetic delivery. Same options, same bytes.
type GenerateOptions struct {
	// Out is the folder the XML files and ficAlimMENESR.dtd are written to. It
	// is created if needed; it must hold no AAF family file unless Overwrite.
	Out string
	// Students is the number of students (1 … 2,000,000).
	Students int
	// Seed makes the delivery; the same seed gives the same bytes.
	Seed int64
	// Delta writes the Delta derived from the Complet of the same seed (moves
	// between classes, arrivals, departures as deleteRequest, attribute changes
	// as modifyRequest) instead of the Complet.
	Delta bool
	// Date is the export date (default 16/09/2024 for a Complet, the next day
	// for a Delta).
	Date time.Time
	// Schools is the number of structures (default one per ~650 students).
	Schools int
	// ChunkSize is the number of records per file (default 2,000).
	ChunkSize int
	// Prefix starts every file name (default "ENT2D").
	Prefix string
	// ZipPath, when set, also writes the delivery as a zip archive there, with
	// a "<ZipPath>.sha256" checksum file beside it.
	ZipPath string
	// Overwrite removes AAF family files already in Out.
	Overwrite bool
	// DeltaRate is the share of students moved, of arrivals, etc. (default 0.02).
	DeltaRate float64
}

// GenerateSummary says what Generate wrote.
type GenerateSummary struct {
	Dir        string         `json:"dir"`
	Kind       Kind           `json:"kind"`
	Date       string         `json:"date"`
	Files      []string       `json:"files"`
	Records    map[Family]int `json:"records"`
	Ops        map[Op]int     `json:"ops"`
	Structures int            `json:"structures"`
	Students   int            `json:"students"`
	Relatives  int            `json:"relatives"`
	Staff      int            `json:"staff"`
	// ParentsInTwoSchools counts families with children in two structures;
	// StaffInTwoSchools counts staff with functions in two structures.
	ParentsInTwoSchools int    `json:"parents_in_two_schools"`
	StaffInTwoSchools   int    `json:"staff_in_two_schools"`
	Bytes               int64  `json:"bytes"`
	Zip                 string `json:"zip,omitempty"`
	ZipSHA256           string `json:"zip_sha256,omitempty"`
}

// subjectDef is a MatiereEducNat entry; the generator uses real BCN codes
// seen in the 2013 export.
type subjectDef struct{ code, label string }

// disciplineDef is a teacher's discipline and the subjects it teaches.
type disciplineDef struct {
	code, label, cat, catLabel string
	subjects                   []string
}
type levelDef struct {
	name, class, mef, mefLabel, niv string
	subjects                        []string // class subjects (matière codes)
	lv2, latin                      bool
}
type genCity struct{ name, postcode string }

// genTables holds the generator's fixed vocabularies; built per Generate
// call so that the package keeps no mutable global state.
type genTables struct {
	genSubjects    []subjectDef
	genDisciplines []disciplineDef
	collegeLevels  []levelDef
	lyceeLevels    []levelDef
	genSurnames    []string
	genGirls       []string
	genBoys        []string
	genCities      []genCity
	genStreets     []string
	genSchoolNames []string
}

func newGenTables() *genTables {
	return &genTables{
		genSubjects: []subjectDef{
			{"020700", "FRANCAIS"}, {"061300", "MATHEMATIQUES"}, {"030201", "ANGLAIS LV1"},
			{"040600", "HISTOIRE ET GEOGRAPHIE"}, {"062900", "SCIENCES DE LA VIE ET DE LA TERRE"},
			{"062300", "PHYSIQUE-CHIMIE"}, {"070800", "TECHNOLOGIE"}, {"090100", "ARTS PLASTIQUES"},
			{"081300", "EDUCATION MUSICALE"}, {"100100", "EDUCATION PHYSIQUE ET SPORTIVE"},
			{"030602", "ESPAGNOL LV2"}, {"030102", "ALLEMAND LV2"}, {"020100", "LATIN"},
			{"010300", "PHILOSOPHIE"}, {"050700", "SCIENCES ECONOMIQUES ET SOCIALES"},
			{"006600", "ACCOMPAGNEMENT PERSONNALISE"}, {"041400", "EDUCATION CIVIQUE"},
			{"030902", "ITALIEN LV2"}, {"008400", "VIE DE CLASSE"}, {"002300", "TRAVAUX PERSONNELS ENCADRES"},
		},

		genDisciplines: []disciplineDef{
			{"L0202", "LETTRES MODERNES", "02", "LETTRES", []string{"020700", "020100"}},
			{"L1300", "MATHEMATIQUES", "13", "MATHEMATIQUES", []string{"061300"}},
			{"L0421", "ANGLAIS", "04", "LANGUES VIVANTES", []string{"030201"}},
			{"L1000", "HISTOIRE GEOGRAPHIE", "10", "HISTOIRE - GEOGRAPHIE", []string{"040600", "041400"}},
			{"L1600", "SCIENCES DE LA VIE ET DE LA TERRE", "16", "BIOLOGIE - GEOLOGIE", []string{"062900"}},
			{"L1500", "SCIENCES PHYSIQUES ET CHIMIQUES", "15", "PHYSIQUE - CHIMIE", []string{"062300"}},
			{"L1400", "TECHNOLOGIE", "14", "TECHNOLOGIE", []string{"070800"}},
			{"L1800", "ARTS PLASTIQUES", "18", "ARTS PLASTIQUES", []string{"090100"}},
			{"L1700", "EDUCATION MUSICALE", "17", "EDUCATION MUSICALE", []string{"081300"}},
			{"L1900", "EDUCATION PHYSIQUE ET SPORTIVE", "19", "EDUCATION PHYSIQUE ET SPORTIVE", []string{"100100"}},
			{"L0426", "ESPAGNOL", "04", "LANGUES VIVANTES", []string{"030602"}},
			{"L0422", "ALLEMAND", "04", "LANGUES VIVANTES", []string{"030102"}},
			{"L0100", "PHILOSOPHIE", "01", "PHILOSOPHIE", []string{"010300"}},
			{"L8011", "SCIENCES ECONOMIQUES ET SOCIALES", "80", "ECONOMIE ET GESTION", []string{"050700"}},
		},

		collegeLevels: []levelDef{
			{"6EME", "6", "10010012110", "6EME", "6EME", []string{"020700", "061300", "030201", "040600", "062900", "070800", "090100", "081300", "100100"}, false, false},
			{"5EME", "5", "10110001110", "5EME", "5EME", []string{"020700", "061300", "030201", "040600", "062900", "062300", "070800", "090100", "081300", "100100"}, true, true},
			{"4EME", "4", "10210001110", "4EME", "4EME", []string{"020700", "061300", "030201", "040600", "062900", "062300", "070800", "090100", "081300", "100100"}, true, true},
			{"3EME", "3", "10310019110", "3EME", "3EME", []string{"020700", "061300", "030201", "040600", "062900", "062300", "070800", "090100", "081300", "100100"}, true, true},
		},

		lyceeLevels: []levelDef{
			{"2NDE", "2NDE", "20010015110", "2DEGT2 (CAS GENERAL 2 ENS.EXPLO)", "2NDE GENERALE ET TECHNOLOGIQUE", []string{"020700", "061300", "030201", "040600", "062900", "062300", "050700", "100100", "006600"}, true, false},
			{"1ERE", "1S", "20111010110", "PREMIERE SCIENTIFIQUE SVT", "1ERE GENERALE", []string{"020700", "061300", "030201", "040600", "062900", "062300", "100100", "002300"}, true, false},
			{"TERM", "TS", "20211010110", "TERMINALE SCIENTIFIQUE SVT", "TERMINALE GENERALE", []string{"010300", "061300", "030201", "040600", "062900", "062300", "100100"}, true, false},
		},

		genSurnames: []string{"MARTIN", "BERNARD", "THOMAS", "PETIT", "ROBERT", "RICHARD", "DURAND", "DUBOIS", "MOREAU", "LAURENT",
			"SIMON", "MICHEL", "LEFÈVRE", "LEROY", "ROUX", "DAVID", "BERTRAND", "MOREL", "FOURNIER", "GIRARD", "BONNET", "DUPONT",
			"LAMBERT", "FONTAINE", "ROUSSEAU", "VINCENT", "MULLER", "LEFÈBVRE", "FAURE", "ANDRÉ", "MERCIER", "BLANC", "GUÉRIN",
			"BOYER", "GARNIER", "CHEVALIER", "FRANÇOIS", "LEGRAND", "GAUTHIER", "GARCIA", "PERRIN", "ROBIN", "CLÉMENT", "MORIN",
			"NICOLAS", "HENRY", "ROUSSEL", "MATHIEU", "GAUTIER", "MASSON", "D'ALMEIDA", "N'DIAYE", "BENALI", "NGUYEN", "DA SILVA",
			"O'NEILL", "SAINT-MARTIN", "AUBERT", "LE GALL", "BARBIER"},
		genGirls: []string{"Emma", "Jade", "Louise", "Alice", "Chloé", "Lina", "Léa", "Rose", "Anna", "Mila", "Inès", "Ambre",
			"Julia", "Zoé", "Léna", "Éloïse", "Manon", "Camille", "Sarah", "Juliette", "Agathe", "Maëlys", "Yasmine", "Clémence"},
		genBoys: []string{"Gabriel", "Léo", "Raphaël", "Arthur", "Louis", "Jules", "Adam", "Maël", "Lucas", "Hugo", "Noé",
			"Liam", "Gabin", "Sacha", "Paul", "Nathan", "Aaron", "Mohamed", "Éthan", "Timéo", "Théo", "Noah", "François", "Jean-Baptiste"},
		genCities: []genCity{{"MARSEILLE", "13001"}, {"AIX-EN-PROVENCE", "13100"}, {"ARLES", "13200"},
			{"MARTIGUES", "13500"}, {"AUBAGNE", "13400"}, {"ISTRES", "13800"}, {"SALON-DE-PROVENCE", "13300"}, {"LA CIOTAT", "13600"},
			{"VITROLLES", "13127"}, {"GARDANNE", "13120"}, {"DIGNE-LES-BAINS", "04000"}, {"GAP", "05000"}, {"AVIGNON", "84000"}},
		genStreets: []string{"RUE DE LA RÉPUBLIQUE", "AVENUE JEAN JAURÈS", "BOULEVARD DE L'EUROPE", "CHEMIN DES ÉCOLES",
			"RUE FRÉDÉRIC MISTRAL", "PLACE DU MARCHÉ", "ALLÉE DES PINS", "RUE DU 8 MAI 1945", "IMPASSE DES OLIVIERS"},
		genSchoolNames: []string{"JEAN MOULIN", "MARIE CURIE", "VICTOR HUGO", "JULES FERRY", "PAUL CÉZANNE", "FRÉDÉRIC MISTRAL",
			"MARCEL PAGNOL", "ALBERT CAMUS", "LOUIS PASTEUR", "SIMONE VEIL", "EMILE ZOLA", "JEAN GIONO", "ARTHUR RIMBAUD", "GEORGE SAND"},
	}
}

type genWorld struct {
	t        *genTables
	opts     GenerateOptions
	sizes    []int // students per school
	first    []int // global index of each school's first student
	year     int
	nextRel  int
	nextStaf int
	pending  []*genFamily // siblings to place in the next school
	sum      *GenerateSummary
	w        map[Family]*chunkWriter
	// Delta id counters
	nextNewStudent, nextNewRel int
}

type genClass struct {
	code  string
	level int
}

type genSchool struct {
	k                  int
	id, uai, name, typ string
	typeCode, city, pc string
	lycee              bool
	levels             []levelDef
	classes            []genClass
	byLevel            [][]int // class indexes per level
	groups             []string
	students           []*genStudent
	families           []*genFamily // families created in this school (adults written here)
	staff              []*genStaff
}

type genStudent struct {
	id, sn, given, sex, birth string
	level, class              int
	groups                    []string
	fam                       *genFamily
}

type genAdult struct {
	id, sn, patro, given, title string
	role                        int // 0 mother, 1 father, 2 other family member, 3 tutor
	mobile                      string
}

type genFamily struct {
	surname  string
	oldCodes bool
	adults   []*genAdult
	children []*genStudent
	twoSch   bool
	street   string
	city     int
}

type genStaff struct {
	id, sn, given, title, birth string
	funcs                       []string
	classesMat, groupsMat       []string
	principal                   []string
	disc                        *disciplineDef
	teacher                     bool
	structs                     []string
}

func (o GenerateOptions) withDefaults() (GenerateOptions, error) {
	if o.Out == "" {
		return o, errors.New("aaf: generate: no output folder")
	}
	if o.Students < 1 || o.Students > 2_000_000 {
		return o, fmt.Errorf("aaf: generate: students = %d, must be 1…2,000,000", o.Students)
	}
	if o.Schools <= 0 {
		o.Schools = max(1, (o.Students+325)/650)
	}
	if o.Schools > o.Students {
		o.Schools = o.Students
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = 2000
	}
	if o.Prefix == "" {
		o.Prefix = "ENT2D"
	}
	if o.DeltaRate <= 0 {
		o.DeltaRate = 0.02
	}
	if o.Date.IsZero() {
		o.Date = time.Date(2024, 9, 16, 0, 0, 0, 0, time.UTC)
		if o.Delta {
			o.Date = o.Date.AddDate(0, 0, 1)
		}
	}
	return o, nil
}

// Generate writes a realistic synthetic delivery (aaf.md §8): all six
// families, about 1.6 related adults per student with siblings sharing
// adults (some across two schools), one staff member per ~9 students (some
// in two schools), classes, groups, MEF, subjects, both lienParente
// nomenclatures, functions ENS/DOC/DIR/EDU/ADF/AED, head teachers, chunks of
// ChunkSize records, XML declaration + DOCTYPE + header comments, and the
// DTD. EtabEducNat files are ISO-8859-15, like real ones; the others UTF-8.
// It streams school by school: memory holds one school, whatever Students.
func Generate(ctx context.Context, opts GenerateOptions) (*GenerateSummary, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := prepareOut(opts); err != nil {
		return nil, err
	}
	kind := Complet
	if opts.Delta {
		kind = Delta
	}
	g := &genWorld{
		t: newGenTables(), opts: opts, year: opts.Date.Year(), nextRel: 4_000_000, nextStaf: 1_000_000,
		nextNewStudent: 8_000_000, nextNewRel: 9_000_000,
		sum: &GenerateSummary{Dir: opts.Out, Kind: kind, Date: opts.Date.Format("2006-01-02"), Records: map[Family]int{}, Ops: map[Op]int{}},
		w:   map[Family]*chunkWriter{},
	}
	hdr := fileHeader{versionAF: "AAF-VE2407", versionSDET: "Annexe 4bis version 6.4", academie: "13", degre: "2D", date: opts.Date.Format("02/01/2006")}
	for _, f := range Families() {
		g.w[f] = &chunkWriter{dir: opts.Out, prefix: opts.Prefix, kind: string(kind), date: opts.Date.Format("20060102"),
			fam: f, size: opts.ChunkSize, latin9: f == EtabEducNat, hdr: hdr}
	}
	defer func() {
		for _, w := range g.w {
			_ = w.close()
		}
	}()
	g.planSizes()
	if !opts.Delta {
		if err := g.writeNomenclatures(); err != nil {
			return nil, err
		}
	}
	for k := range g.sizes {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s := g.buildSchool(k)
		if opts.Delta {
			err = g.writeDelta(s)
		} else {
			err = g.writeComplet(s)
		}
		if err != nil {
			return nil, err
		}
	}
	for _, f := range Families() {
		w := g.w[f]
		if err := w.close(); err != nil {
			return nil, err
		}
		g.sum.Files = append(g.sum.Files, w.files...)
		g.sum.Records[f] = w.records
		for op, n := range w.ops {
			g.sum.Ops[op] += n
		}
	}
	if err := os.WriteFile(filepath.Join(opts.Out, "ficAlimMENESR.dtd"), []byte(DTD), 0o644); err != nil {
		return nil, fmt.Errorf("aaf: generate: %w", err)
	}
	for _, name := range g.sum.Files {
		if st, err := os.Stat(filepath.Join(opts.Out, name)); err == nil {
			g.sum.Bytes += st.Size()
		}
	}
	if opts.ZipPath != "" {
		digest, err := writeZip(opts.ZipPath, opts.Out, append(append([]string(nil), g.sum.Files...), "ficAlimMENESR.dtd"), opts.Date)
		if err != nil {
			return nil, err
		}
		g.sum.Zip, g.sum.ZipSHA256 = opts.ZipPath, digest
	}
	return g.sum, nil
}

func prepareOut(opts GenerateOptions) error {
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return fmt.Errorf("aaf: generate: %w", err)
	}
	entries, err := os.ReadDir(opts.Out)
	if err != nil {
		return fmt.Errorf("aaf: generate: %w", err)
	}
	for _, e := range entries {
		if _, ok := ParseFileName(e.Name()); !ok || e.IsDir() {
			continue
		}
		if !opts.Overwrite {
			return fmt.Errorf("aaf: generate: %s already holds AAF files (%s); choose an empty folder or overwrite", opts.Out, e.Name())
		}
		if err := os.Remove(filepath.Join(opts.Out, e.Name())); err != nil {
			return fmt.Errorf("aaf: generate: %w", err)
		}
	}
	return nil
}

func (g *genWorld) rng(stream, k uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(g.opts.Seed), stream<<40|k))
}

// planSizes spreads the students over the schools (±30 %), exactly summing to Students.
func (g *genWorld) planSizes() {
	n := g.opts.Schools
	r := g.rng(1, 0)
	weights := make([]float64, n)
	total := 0.0
	for i := range weights {
		weights[i] = 0.7 + 0.6*r.Float64()
		total += weights[i]
	}
	g.sizes = make([]int, n)
	g.first = make([]int, n)
	assigned := 0
	for i := range weights {
		g.sizes[i] = max(1, int(float64(g.opts.Students)*weights[i]/total))
		assigned += g.sizes[i]
	}
	for i := 0; assigned != g.opts.Students; i = (i + 1) % n {
		if assigned < g.opts.Students {
			g.sizes[i]++
			assigned++
		} else if g.sizes[i] > 1 {
			g.sizes[i]--
			assigned--
		}
	}
	for i := 1; i < n; i++ {
		g.first[i] = g.first[i-1] + g.sizes[i-1]
	}
	g.sum.Structures = n
}

func structureID(k int) string { return fmt.Sprint(52000 + k) }

// schoolShape is the deterministic part of a school another school may need
// (staff teaching in two schools need the next school's classes).
func (g *genWorld) schoolShape(k int) *genSchool {
	s := &genSchool{k: k, id: structureID(k), lycee: k%3 == 2}
	s.uai = fmt.Sprintf("013%04d%c", k, 'A'+rune(k%23))
	s.levels = g.t.collegeLevels
	s.typ, s.typeCode = "COLLEGE", "340"
	if s.lycee {
		s.levels, s.typ, s.typeCode = g.t.lyceeLevels, "LYCEE GENERAL ET TECHNOLOGIQUE", "300"
	}
	c := g.t.genCities[k%len(g.t.genCities)]
	s.city, s.pc = c.name, c.postcode
	abbr := "CLG"
	if s.lycee {
		abbr = "LYC"
	}
	s.name = fmt.Sprintf("%s$%s %s$%s", abbr, abbr, g.t.genSchoolNames[k%len(g.t.genSchoolNames)], s.city)
	n := g.sizes[k]
	s.byLevel = make([][]int, len(s.levels))
	for li := range s.levels {
		cnt := n / len(s.levels)
		if li < n%len(s.levels) {
			cnt++
		}
		nc := max(1, (cnt+26)/27)
		for ci := 0; ci < nc; ci++ {
			code := s.levels[li].class + string(rune('A'+ci%26))
			if s.lycee {
				code = fmt.Sprintf("%s%d", s.levels[li].class, ci+1)
			}
			s.byLevel[li] = append(s.byLevel[li], len(s.classes))
			s.classes = append(s.classes, genClass{code: code, level: li})
		}
		if s.levels[li].lv2 {
			s.groups = append(s.groups, s.levels[li].class+"-ESP", s.levels[li].class+"-ALL")
		}
		if s.levels[li].latin {
			s.groups = append(s.groups, s.levels[li].class+"-LAT")
		}
	}
	return s
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func (g *genWorld) date(r *rand.Rand, year int) string {
	return time.Date(year, time.January, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.IntN(365)).Format("02/01/2006")
}

// buildSchool builds school k's students, families and staff. Calls must be
// made in order k = 0, 1, … (families carry siblings to the next school).
func (g *genWorld) buildSchool(k int) *genSchool {
	s := g.schoolShape(k)
	r := g.rng(2, uint64(k))
	n := g.sizes[k]
	// Students, level by level, round-robin over the level's classes.
	j := 0
	for li := range s.levels {
		cnt := n / len(s.levels)
		if li < n%len(s.levels) {
			cnt++
		}
		for i := 0; i < cnt; i++ {
			st := &genStudent{id: fmt.Sprint(2_000_000 + g.first[k] + j), level: li, class: s.byLevel[li][i%len(s.byLevel[li])]}
			st.sex = "F"
			if r.IntN(2) == 0 {
				st.sex = "M"
			}
			if st.sex == "F" {
				st.given = pick(r, g.t.genGirls)
			} else {
				st.given = pick(r, g.t.genBoys)
			}
			age := 11 + li
			if s.lycee {
				age = 15 + li
			}
			st.birth = g.date(r, g.year-age)
			lv := s.levels[li]
			if lv.lv2 {
				if r.IntN(10) < 6 {
					st.groups = append(st.groups, lv.class+"-ESP")
				} else {
					st.groups = append(st.groups, lv.class+"-ALL")
				}
			}
			if lv.latin && r.IntN(5) == 0 {
				st.groups = append(st.groups, lv.class+"-LAT")
			}
			s.students = append(s.students, st)
			j++
		}
	}
	// Families: first the siblings carried from the previous school.
	order := r.Perm(n)
	assigned := make([]bool, n)
	next := 0
	for _, fam := range g.pending {
		if next >= n {
			break
		}
		st := s.students[order[next]]
		assigned[order[next]] = true
		next++
		st.fam, st.sn = fam, fam.surname
		fam.children = append(fam.children, st)
	}
	g.pending = nil
	for _, idx := range order[next:] {
		if assigned[idx] {
			continue
		}
		fam := g.newFamily(r)
		s.families = append(s.families, fam)
		size := 1
		switch x := r.IntN(100); {
		case x < 12:
			size = 2
		case x < 15:
			size = 3
		}
		members := []int{idx}
		assigned[idx] = true
		for tries := 0; len(members) < size && tries < 8; tries++ {
			o := r.IntN(n)
			if !assigned[o] {
				assigned[o] = true
				members = append(members, o)
			}
		}
		for _, m := range members {
			st := s.students[m]
			st.fam, st.sn = fam, fam.surname
			fam.children = append(fam.children, st)
		}
		if k+1 < len(g.sizes) && r.IntN(100) < 4 {
			fam.twoSch = true
			g.pending = append(g.pending, fam)
			g.sum.ParentsInTwoSchools++
		}
	}
	g.buildStaff(s, r)
	return s
}

func (g *genWorld) newFamily(r *rand.Rand) *genFamily {
	fam := &genFamily{surname: pick(r, g.t.genSurnames), oldCodes: r.IntN(10) < 3, street: fmt.Sprintf("%d %s", 1+r.IntN(120), pick(r, g.t.genStreets)), city: r.IntN(len(g.t.genCities))}
	nAdults := 2
	switch x := r.IntN(100); {
	case x < 20:
		nAdults = 1
	case x < 92:
	case x < 98:
		nAdults = 3
	default:
		nAdults = 4
	}
	roles := []int{0, 1, 2, 3}[:nAdults]
	if nAdults == 1 && r.IntN(5) == 0 {
		roles = []int{1}
	}
	for _, role := range roles {
		a := &genAdult{id: fmt.Sprint(g.nextRel), role: role, sn: fam.surname, patro: fam.surname}
		g.nextRel++
		switch role {
		case 0:
			a.given, a.title = pick(r, g.t.genGirls), "Mme"
			if r.IntN(2) == 0 {
				a.patro = pick(r, g.t.genSurnames)
			}
		case 1:
			a.given, a.title = pick(r, g.t.genBoys), "M."
		default:
			a.sn, a.patro = pick(r, g.t.genSurnames), ""
			if r.IntN(2) == 0 {
				a.given, a.title = pick(r, g.t.genGirls), "Mme"
			} else {
				a.given, a.title = pick(r, g.t.genBoys), "M."
			}
		}
		if a.patro == "" {
			a.patro = a.sn
		}
		a.mobile = fmt.Sprintf("06%08d", r.IntN(100_000_000))
		fam.adults = append(fam.adults, a)
	}
	g.sum.Relatives += len(fam.adults)
	return fam
}

// link is the ENTElevePersRelEleve value of adult a: id$lien$fin$legal$contact$paiement.
func (f *genFamily) link(a *genAdult) string {
	codes := [4][2]string{{"10", "2"}, {"20", "1"}, {"39", "4"}, {"50", "3"}} // new, old
	lien := codes[a.role][0]
	if f.oldCodes {
		lien = codes[a.role][1]
	}
	switch a.role {
	case 0:
		return a.id + "$" + lien + "$1$1$1$1"
	case 1:
		legal := "1"
		if f.oldCodes {
			legal = "2" // 2013 data: second parent often respLegal=2
		}
		return a.id + "$" + lien + "$0$" + legal + "$1$0"
	case 2:
		return a.id + "$" + lien + "$0$0$1$0"
	}
	return a.id + "$" + lien + "$0$1$0$0"
}

func (g *genWorld) buildStaff(s *genSchool, r *rand.Rand) {
	n := max(3, (len(s.students)+4)/9)
	type slot struct {
		code, label, dcode, dlabel string
	}
	var roster []slot
	roster = append(roster, slot{"DIR", "DIRECTION", "D0010", "DIRECTION CHEF D'ETABLISSEMENT"})
	if n >= 20 {
		roster = append(roster, slot{"DIR", "DIRECTION", "D0011", "DIRECTION ADJOINT AU CHEF ETABLISSEMENT"})
	}
	for i := 0; i < max(1, n/40); i++ {
		roster = append(roster, slot{"EDU", "EDUCATION", "E0030", "EDUCATION  (CE ,CPE)"})
	}
	if n >= 10 {
		roster = append(roster, slot{"DOC", "DOCUMENTATION", "L0080", "DOCUMENTATION"})
	}
	for i := 0; i < max(1, n/30); i++ {
		roster = append(roster, slot{"ADF", "PERSONNELS ADMINISTRATIFS", "-", "SANS OBJET"})
	}
	for i := 0; i < n/25; i++ {
		roster = append(roster, slot{"AED", "ASSISTANT D'EDUCATION", "S0054", "ENCADRE. SUR. DES ELEVES (HORS INTERNAT)"})
	}
	// Disciplines taught at this school.
	var discs []*disciplineDef
	for i := range g.t.genDisciplines {
		d := &g.t.genDisciplines[i]
		if s.teaches(d) {
			discs = append(discs, d)
		}
	}
	nTeachers := 0
	for i := 0; i < n; i++ {
		st := &genStaff{id: fmt.Sprint(g.nextStaf), sn: pick(r, g.t.genSurnames)}
		g.nextStaf++
		if r.IntN(2) == 0 {
			st.given, st.title = pick(r, g.t.genGirls), "Mme"
		} else {
			st.given, st.title = pick(r, g.t.genBoys), "M."
		}
		st.birth = g.date(r, g.year-25-r.IntN(38))
		st.structs = []string{s.id}
		if i < len(roster) && i < n-1 {
			sl := roster[i]
			st.funcs = []string{s.id + "$" + sl.code + "$" + sl.label + "$" + sl.dcode + "$" + sl.dlabel}
		} else {
			st.teacher = true
			st.disc = discs[nTeachers%len(discs)]
			nTeachers++
			st.funcs = []string{s.id + "$ENS$ENSEIGNEMENT$" + st.disc.code + "$" + st.disc.label}
		}
		s.staff = append(s.staff, st)
	}
	// Teaching assignments: each class subject and group to a teacher of the discipline, round-robin.
	byDisc := map[string][]*genStaff{}
	for _, st := range s.staff {
		if st.teacher {
			byDisc[st.disc.code] = append(byDisc[st.disc.code], st)
		}
	}
	rr := map[string]int{}
	teacherFor := func(mat string) *genStaff {
		for _, d := range discs {
			for _, m := range d.subjects {
				if m == mat && len(byDisc[d.code]) > 0 {
					t := byDisc[d.code][rr[d.code]%len(byDisc[d.code])]
					rr[d.code]++
					return t
				}
			}
		}
		return nil
	}
	for _, c := range s.classes {
		var principal *genStaff
		for _, mat := range s.levels[c.level].subjects {
			if t := teacherFor(mat); t != nil {
				t.classesMat = append(t.classesMat, s.id+"$"+c.code+"$"+mat)
				if principal == nil {
					principal = t
				}
			}
		}
		if principal != nil {
			principal.principal = append(principal.principal, s.id+"$"+c.code)
		}
	}
	groupMat := map[string]string{"ESP": "030602", "ALL": "030102", "LAT": "020100"}
	for _, grp := range s.groups {
		mat := groupMat[grp[strings.LastIndexByte(grp, '-')+1:]]
		if t := teacherFor(mat); t != nil {
			t.groupsMat = append(t.groupsMat, s.id+"$"+grp+"$"+mat)
		}
	}
	// Some staff also work in the next school.
	if s.k+1 < len(g.sizes) {
		next := g.schoolShape(s.k + 1)
		for _, st := range s.staff {
			if r.IntN(100) >= 6 {
				continue
			}
			if st.teacher {
				if !next.teaches(st.disc) {
					continue
				}
				st.funcs = append(st.funcs, next.id+"$ENS$ENSEIGNEMENT$"+st.disc.code+"$"+st.disc.label)
				c := next.classes[r.IntN(len(next.classes))]
				for _, mat := range next.levels[c.level].subjects {
					if mat == st.disc.subjects[0] {
						st.classesMat = append(st.classesMat, next.id+"$"+c.code+"$"+mat)
					}
				}
			} else {
				f := st.funcs[0]
				st.funcs = append(st.funcs, next.id+f[strings.IndexByte(f, '$'):])
			}
			st.structs = append(st.structs, next.id)
			g.sum.StaffInTwoSchools++
		}
	}
	g.sum.Staff += len(s.staff)
}

func (s *genSchool) teaches(d *disciplineDef) bool {
	for _, lv := range s.levels {
		for _, m := range lv.subjects {
			for _, dm := range d.subjects {
				if m == dm {
					return true
				}
			}
		}
		if lv.lv2 && (d.code == "L0426" || d.code == "L0422") {
			return true
		}
	}
	return false
}

func (g *genWorld) writeNomenclatures() error {
	for _, sub := range g.t.genSubjects {
		if err := g.w[MatiereEducNat].write(OpAdd, sub.code, []attrKV{{"ENTMatJointure", []string{sub.code}}, {"ENTLibelleMatiere", []string{sub.label}}}); err != nil {
			return err
		}
	}
	for i, lv := range append(append([]levelDef(nil), g.t.collegeLevels...), g.t.lyceeLevels...) {
		if err := g.w[MefEducNat].write(OpAdd, lv.mef, []attrKV{{"ENTMefJointure", []string{lv.mef}}, {"ENTLibelleMef", []string{lv.mefLabel}},
			{"ENTMEFRattach", []string{lv.mef}}, {"ENTMEFSTAT11", []string{fmt.Sprintf("1%02d1001%04d", 11+i, 10+i)}}}); err != nil {
			return err
		}
	}
	return nil
}

func (g *genWorld) structureAttrs(s *genSchool) []attrKV {
	var classes []string
	for _, c := range s.classes {
		classes = append(classes, c.code+"$"+c.code+"$"+s.levels[c.level].mef)
	}
	var groups []string
	for _, grp := range s.groups {
		groups = append(groups, grp+"$"+grp)
	}
	v := func(x ...string) []string { return x }
	return []attrKV{
		{"ENTStructureJointure", v(s.id)}, {"ENTStructureUAI", v(s.uai)}, {"ENTEtablissementUAI", v(s.uai)},
		{"ENTStructureSIREN", v(fmt.Sprintf("1913%010d", s.k))}, {"ENTStructureNomCourant", v(s.name)},
		{"ENTStructureTypeStruct", v(s.typ)}, {"ENTStructureCodeTypeStruct", v(s.typeCode)},
		{"ENTEtablissementMinistereTutelle", v("MINISTERE DE L'EDUCATION NATIONALE")}, {"ENTEtablissementCodeMinistereTutelle", v("06")},
		{"ENTEtablissementContrat", v("PU")}, {"postOfficeBox", v("")},
		{"street", v(fmt.Sprintf("%d %s", 1+s.k%90, g.t.genStreets[s.k%len(g.t.genStreets)]))}, {"postalCode", v(s.pc)}, {"l", v(s.city)},
		{"telephoneNumber", v(fmt.Sprintf("+33 4 91 %02d %02d %02d", s.k/10000%100, s.k/100%100, s.k%100))}, {"facsimileTelephoneNumber", v("")},
		{"ENTStructureMailSI", v("ce." + strings.ToLower(s.uai) + "@ac-aix-marseille.fr")}, {"ENTEtablissementStructRattachFctl", v("")},
		{"ENTEtablissementBassin", v("13001$BASSIN " + s.city)}, {"ENTServAcAcademie", v("AIX-MARSEILLE")}, {"ENTServAcCodeAcademie", v("013")},
		{"ENTStructureClasses", classes}, {"ENTStructureGroupes", groups},
	}
}

func (g *genWorld) adultAttrs(f *genFamily, a *genAdult) []attrKV {
	v := func(x ...string) []string { return x }
	c := g.t.genCities[f.city]
	mail := ""
	if a.role <= 1 {
		mail = asciiLogin(a.given) + "." + asciiLogin(a.sn) + "@example.org"
	}
	return []attrKV{
		{"ENTPersonJointure", v(a.id)}, {"ENTPersonDateNaissance", v("")}, {"ENTPersonNomPatro", v(a.patro)},
		{"sn", v(a.sn)}, {"givenName", v(a.given)}, {"ENTPersonAutresPrenoms", v("")}, {"personalTitle", v(a.title)},
		{"homePhone", v("0491000000")}, {"telephoneNumber", v("")}, {"mobile", v(a.mobile)}, {"mail", v(mail)},
		{"ENTPersonAdresse", v(f.street + "$$$")}, {"ENTPersonCodePostal", v(c.postcode)}, {"ENTPersonVille", v(c.name)},
		{"ENTPersonPays", v("FRANCE")},
	}
}

func (g *genWorld) studentAttrs(s *genSchool, st *genStudent) []attrKV {
	v := func(x ...string) []string { return x }
	lv := s.levels[st.level]
	class := s.classes[st.class].code
	f := st.fam
	var links, parents, legal, contacts, quals []string
	pere, mere := "", ""
	for _, a := range f.adults {
		l := f.link(a)
		links = append(links, l)
		fields := SplitComposite(l)
		if fields[3] != "0" {
			parents = append(parents, a.id)
			legal = append(legal, a.id)
		} else {
			contacts, quals = append(contacts, a.id), append(quals, "CONTACT")
		}
		switch a.role {
		case 0:
			mere = a.id
		case 1:
			pere = a.id
		}
	}
	c1, q1, c2, q2 := "", "", "", ""
	if len(contacts) > 0 {
		c1, q1 = contacts[0], quals[0]
	}
	if len(contacts) > 1 {
		c2, q2 = contacts[1], quals[1]
	}
	subjects := append([]string(nil), lv.subjects...)
	for _, grp := range st.groups {
		switch {
		case strings.HasSuffix(grp, "-ESP"):
			subjects = append(subjects, "030602")
		case strings.HasSuffix(grp, "-ALL"):
			subjects = append(subjects, "030102")
		case strings.HasSuffix(grp, "-LAT"):
			subjects = append(subjects, "020100")
		}
	}
	labels := make([]string, len(subjects))
	for i, code := range subjects {
		for _, sub := range g.t.genSubjects {
			if sub.code == code {
				labels[i] = sub.label
			}
		}
	}
	groups := make([]string, len(st.groups))
	for i, grp := range st.groups {
		groups[i] = s.id + "$" + grp
	}
	title := "M."
	if st.sex == "F" {
		title = "Mlle"
	}
	c := g.t.genCities[f.city]
	num, _ := fmtAtoi(st.id)
	return []attrKV{
		{"ENTPersonJointure", v(st.id)}, {"ENTEleveINE", v(fmt.Sprintf("%09d%c%c", num, 'A'+rune(num%26), 'A'+rune(num/26%26)))},
		{"ENTEleveStructRattachId", v(fmt.Sprint(num - 1_200_000))}, {"ENTPersonDateNaissance", v(st.birth)},
		{"ENTPersonNomPatro", v(st.sn)}, {"sn", v(st.sn)}, {"givenName", v(st.given)}, {"ENTPersonAutresPrenoms", v("")},
		{"personalTitle", v(title)}, {"ENTEleveParents", parents}, {"ENTElevePere", v(pere)}, {"ENTEleveMere", v(mere)},
		{"ENTEleveAutoriteParentale", legal}, {"ENTElevePersRelEleve1", v(c1)}, {"ENTEleveQualitePersRelEleve1", v(q1)},
		{"ENTElevePersRelEleve2", v(c2)}, {"ENTEleveQualitePersRelEleve2", v(q2)}, {"ENTElevePersRelEleve", links},
		{"ENTEleveBoursier", v("N")}, {"ENTEleveRegime", v("DEMI-PENSIONNAIRE DANS L'ETABLISSEMENT")}, {"ENTEleveTransport", v("N")},
		{"ENTPersonAdresse", v(f.street + "$$$")}, {"ENTPersonCodePostal", v(c.postcode)}, {"ENTPersonVille", v(c.name)},
		{"ENTPersonPays", v("FRANCE")}, {"ENTEleveAdresseRel", v(f.adults[0].id)}, {"ENTEleveStatutEleve", v("SCOLAIRE")},
		{"ENTEleveMEF", v(lv.mef)}, {"ENTEleveLibelleMEF", v(lv.mefLabel)}, {"ENTEleveNivFormation", v(lv.niv)},
		{"ENTEleveFiliere", v(lv.niv)}, {"ENTEleveEnseignements", labels}, {"ENTEleveCodeEnseignements", subjects},
		{"ENTPersonStructRattach", v(s.id)}, {"ENTEleveDateEntreeClasses", v(s.id + "$02/09/" + fmt.Sprint(g.year) + "$" + class)},
		{"ENTEleveClasses", v(s.id + "$" + class)}, {"ENTEleveGroupes", groups},
	}
}

func fmtAtoi(s string) (int, error) {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("not a number: %q", s)
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}

func (g *genWorld) staffAttrs(st *genStaff) []attrKV {
	v := func(x ...string) []string { return x }
	var cat, poste, matEtab []string
	presence := "N"
	categ := "N"
	if st.teacher {
		presence, categ = "O", "O"
		cat = v(st.disc.cat + "$" + st.disc.catLabel)
		poste = v(st.disc.label + "$" + st.disc.cat)
		for _, sid := range st.structs {
			matEtab = append(matEtab, sid+"$"+st.disc.label)
		}
	}
	var classes, groups []string
	for _, cm := range st.classesMat {
		classes = append(classes, cm[:strings.LastIndexByte(cm, '$')])
	}
	for _, gm := range st.groupsMat {
		groups = append(groups, gm[:strings.LastIndexByte(gm, '$')])
	}
	return []attrKV{
		{"ENTPersonJointure", v(st.id)}, {"ENTPersonDateNaissance", v(st.birth)}, {"ENTPersonNomPatro", v(st.sn)},
		{"sn", v(st.sn)}, {"givenName", v(st.given)}, {"ENTPersonAutresPrenoms", v("")}, {"personalTitle", v(st.title)},
		{"mail", v(asciiLogin(st.given) + "." + asciiLogin(st.sn) + st.id[len(st.id)-3:] + "@ac-aix-marseille.fr")},
		{"ENTPersonStructRattach", v(st.structs[0])}, {"ENTAuxEnsCategoDiscipline", cat}, {"ENTAuxEnsDisciplinesPoste", poste},
		{"ENTAuxEnsMEF", v("")}, {"ENTAuxEnsMatiereEnseignEtab", matEtab}, {"ENTAuxEnsClasses", classes}, {"ENTAuxEnsGroupes", groups},
		{"ENTAuxEnsClassesMatieres", st.classesMat}, {"ENTAuxEnsGroupesMatieres", st.groupsMat},
		{"ENTAuxEnsClassesPrincipal", st.principal}, {"ENTPersonFonctions", st.funcs},
		{"ENTPersonCategorieEnseignant", v(categ)}, {"PersEducNatPresenceDevantEleves", v(presence)},
	}
}

// asciiLogin lower-cases and strips accents and non-letters (for e-mails).
func asciiLogin(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case strings.ContainsRune("àâä", r):
			b.WriteByte('a')
		case strings.ContainsRune("éèêë", r):
			b.WriteByte('e')
		case strings.ContainsRune("îï", r):
			b.WriteByte('i')
		case strings.ContainsRune("ôö", r):
			b.WriteByte('o')
		case strings.ContainsRune("ùûü", r):
			b.WriteByte('u')
		case r == 'ç':
			b.WriteByte('c')
		case r == '-':
			b.WriteByte('-')
		}
	}
	return b.String()
}

func (g *genWorld) writeComplet(s *genSchool) error {
	if err := g.w[EtabEducNat].write(OpAdd, s.id, g.structureAttrs(s)); err != nil {
		return err
	}
	for _, f := range s.families {
		for _, a := range f.adults {
			if err := g.w[PersRelEleve].write(OpAdd, a.id, g.adultAttrs(f, a)); err != nil {
				return err
			}
		}
	}
	for _, st := range s.students {
		if err := g.w[Eleve].write(OpAdd, st.id, g.studentAttrs(s, st)); err != nil {
			return err
		}
	}
	for _, st := range s.staff {
		if err := g.w[PersEducNat].write(OpAdd, st.id, g.staffAttrs(st)); err != nil {
			return err
		}
	}
	g.sum.Students += len(s.students)
	return nil
}

// writeDelta derives school s's changes from the same world the Complet
// describes: class moves (modify ENTEleveClasses/ENTEleveGroupes),
// departures (delete the student, and the adults of a one-child family
// living in this school only), arrivals (add a student and a new family),
// contact changes of adults (modify mobile/mail), staff changes (modify
// ENTAuxEnsClassesPrincipal / ENTAuxEnsClassesMatieres), a few staff
// departures, and a telephone change for some structures.
func (g *genWorld) writeDelta(s *genSchool) error {
	r := g.rng(3, uint64(s.k))
	rate := g.opts.DeltaRate
	hit := func(scale float64) bool { return r.Float64() < rate*scale }
	v := func(x ...string) []string { return x }
	if s.k%5 == 0 {
		if err := g.w[EtabEducNat].write(OpModify, s.id, []attrKV{{"telephoneNumber", v(fmt.Sprintf("+33 4 42 %02d %02d %02d", s.k/10000%100, s.k/100%100, s.k%100))}}); err != nil {
			return err
		}
	}
	for _, st := range s.students {
		switch {
		case hit(0.5) && !st.fam.twoSch && len(st.fam.children) == 1 && st.fam.children[0] == st:
			if err := g.w[Eleve].write(OpDelete, st.id, nil); err != nil {
				return err
			}
			for _, a := range st.fam.adults {
				if err := g.w[PersRelEleve].write(OpDelete, a.id, nil); err != nil {
					return err
				}
			}
		case hit(1) && len(s.byLevel[st.level]) > 1:
			cls := s.byLevel[st.level]
			nc := cls[r.IntN(len(cls))]
			if nc == st.class {
				nc = cls[(indexOf(cls, nc)+1)%len(cls)]
			}
			groups := make([]string, len(st.groups))
			for i, grp := range st.groups {
				groups[i] = s.id + "$" + grp
			}
			if err := g.w[Eleve].write(OpModify, st.id, []attrKV{{"ENTEleveClasses", v(s.id + "$" + s.classes[nc].code)}, {"ENTEleveGroupes", groups}}); err != nil {
				return err
			}
		}
	}
	for _, f := range s.families {
		for _, a := range f.adults {
			if hit(1) {
				if err := g.w[PersRelEleve].write(OpModify, a.id, []attrKV{{"mobile", v(fmt.Sprintf("07%08d", r.IntN(100_000_000)))}, {"mail", v("")}}); err != nil {
					return err
				}
			}
		}
	}
	arrivals := int(float64(len(s.students))*rate/2 + r.Float64())
	for i := 0; i < arrivals; i++ {
		saved, savedRel := g.nextRel, g.sum.Relatives
		fam := g.newFamily(r) // ids re-assigned below; the world's counters must not move
		g.nextRel, g.sum.Relatives = saved, savedRel
		li := r.IntN(len(s.levels))
		st := &genStudent{id: fmt.Sprint(g.nextNewStudent), level: li, class: s.byLevel[li][r.IntN(len(s.byLevel[li]))],
			sex: "F", given: pick(r, g.t.genGirls), sn: fam.surname, fam: fam}
		g.nextNewStudent++
		age := 11 + li
		if s.lycee {
			age = 15 + li
		}
		st.birth = g.date(r, g.year-age)
		fam.children = []*genStudent{st}
		for _, a := range fam.adults {
			a.id = fmt.Sprint(g.nextNewRel)
			g.nextNewRel++
			if err := g.w[PersRelEleve].write(OpAdd, a.id, g.adultAttrs(fam, a)); err != nil {
				return err
			}
		}
		if err := g.w[Eleve].write(OpAdd, st.id, g.studentAttrs(s, st)); err != nil {
			return err
		}
	}
	for _, st := range s.staff {
		switch {
		case hit(0.25) && st.teacher && len(st.principal) == 0:
			if err := g.w[PersEducNat].write(OpDelete, st.id, nil); err != nil {
				return err
			}
		case hit(1.5) && st.teacher:
			cm := st.classesMat
			if len(cm) > 1 {
				cm = cm[:len(cm)-1]
			}
			if err := g.w[PersEducNat].write(OpModify, st.id, []attrKV{{"ENTAuxEnsClassesMatieres", cm}, {"ENTAuxEnsClassesPrincipal", v("")}}); err != nil {
				return err
			}
		}
	}
	g.sum.Students += len(s.students)
	return nil
}

func indexOf(xs []int, x int) int {
	for i, y := range xs {
		if y == x {
			return i
		}
	}
	return 0
}

// writeZip writes names (relative to dir, in the given order) into a zip at
// path with fixed timestamps, so the archive is as reproducible as the files,
// and a coreutils-style "<path>.sha256" beside it.
func writeZip(path, dir string, names []string, date time.Time) (string, error) {
	sort.Strings(names)
	out, err := os.Create(path)
	if err != nil {
		return "", fmt.Errorf("aaf: generate zip: %w", err)
	}
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(out, h), 256<<10)
	zw := zip.NewWriter(bw)
	for _, name := range names {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: date})
		if err != nil {
			out.Close()
			return "", fmt.Errorf("aaf: generate zip: %w", err)
		}
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			out.Close()
			return "", fmt.Errorf("aaf: generate zip: %w", err)
		}
		_, err = io.Copy(w, f)
		f.Close()
		if err != nil {
			out.Close()
			return "", fmt.Errorf("aaf: generate zip: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		out.Close()
		return "", fmt.Errorf("aaf: generate zip: %w", err)
	}
	if err := bw.Flush(); err != nil {
		out.Close()
		return "", fmt.Errorf("aaf: generate zip: %w", err)
	}
	if err := out.Close(); err != nil {
		return "", fmt.Errorf("aaf: generate zip: %w", err)
	}
	digest := hex.EncodeToString(h.Sum(nil))
	if err := os.WriteFile(path+".sha256", []byte(digest+"  "+filepath.Base(path)+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("aaf: generate zip: %w", err)
	}
	return digest, nil
}
