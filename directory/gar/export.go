package gar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"time"

	"github.com/enthub/enthub/directory"
)

// Source is the part of the directory the export reads: whole tables
// walked in streams, and the two nomenclatures looked up by code.
type Source interface {
	ListStructures(ctx context.Context) ([]directory.Structure, error)
	EachPerson(ctx context.Context, fn func(directory.Person, directory.Account) error) error
	EachPersona(ctx context.Context, fn func(directory.Persona) error) error
	EachGroup(ctx context.Context, fn func(directory.Group) error) error
	EachMembership(ctx context.Context, fn func(directory.Membership) error) error
	Subject(ctx context.Context, code string) (directory.Subject, error)
	MEF(ctx context.Context, code string) (directory.MEF, error)
}

// DefaultMaxElements is the GAR's limit of elements in one file.
const DefaultMaxElements = 10000

// ExportOptions says what to export and where.
type ExportOptions struct {
	Project Project
	// Out is the folder the files are written to (created if missing).
	Out string
	// UAIs restricts the export to these subscribing schools; empty: all.
	UAIs []string
	// Now dates the file names (the export's own clock, in its location).
	Now time.Time
	// MaxElements per file (default DefaultMaxElements).
	MaxElements int
	Logger      *slog.Logger
}

// Counts says what an export holds.
type Counts struct {
	Schools      int `json:"schools"`
	Students     int `json:"students"`
	Staff        int `json:"staff"`
	Groups       int `json:"groups"`
	Memberships  int `json:"memberships"`
	RespAff      int `json:"resp_aff"`
	RespAffNoMal int `json:"resp_aff_without_mail,omitempty"` // left out: the schema requires an e-mail
	Elements     int `json:"elements"`
}

// Result is what an export wrote.
type Result struct {
	// Base is the common start of the file names:
	// <idENT>_GAR-ENT_Complet_<yyyyMMdd_HHmmss>.
	Base   string   `json:"base"`
	Files  []string `json:"files"`
	Counts Counts   `json:"counts"`
}

// The element kinds and their sections, in the schemas' order.
const (
	kindEtab = iota
	kindEleve
	kindEnseignant
	kindGroupe
	kindRespAff
	nKinds
)

var kindNames = [nKinds]string{"Etab", "Eleve", "Enseignant", "Groupe", "RespAff"}

// Sections of the second-degree Groupe file; the first degree has the
// first two only.
const (
	secGroupe = iota
	secPersonGroupe
	secEnsGroupeMatiere
	secEnsClasseMatiere
)

// school is one exported structure with the nomenclature codes its
// people use (its GARMEF and GARMatiere lists).
type school struct {
	st       directory.Structure
	deg      int // 0 second degree, 1 first degree
	mefs     map[string]bool
	subjects map[string]bool
}

// ref is one persona of an exported person, reduced to what the export uses.
type ref struct {
	school  int32
	profile directory.Profile
	disc    []string // discipline codes (staff)
}

type person struct {
	refs []ref
	gid  string // GARPersonIdentifiant, once exported
}

type groupRef struct {
	school int32
	code   string
	class  bool
}

type exporter struct {
	ctx     context.Context
	src     Source
	opts    ExportOptions
	log     *slog.Logger
	schools []*school
	sets    [2][nKinds]*fileSet
	persons map[string]*person
	groups  map[string]groupRef
	mefs    map[string]*directory.MEF
	f       *frag
	res     Result
}

// Export writes the GAR-ENT export of the subscribing schools (or of
// opts.UAIs among them) into opts.Out, streaming the directory: what it
// keeps in memory is one entry per exported person (its personas) and one
// per group, never the persons themselves. On error the files written are
// removed.
func Export(ctx context.Context, src Source, opts ExportOptions) (*Result, error) {
	if err := opts.Project.Validate(); err != nil {
		return nil, err
	}
	if opts.MaxElements <= 0 {
		opts.MaxElements = DefaultMaxElements
	}
	if opts.Now.IsZero() {
		return nil, errors.New("gar export: Now is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	x := &exporter{ctx: ctx, src: src, opts: opts, log: opts.Logger, persons: map[string]*person{},
		groups: map[string]groupRef{}, mefs: map[string]*directory.MEF{}, f: newFrag()}
	x.res.Base = opts.Project.IDEnt + "_GAR-ENT_Complet_" + opts.Now.Format("20060102_150405")
	if err := os.MkdirAll(opts.Out, 0o750); err != nil {
		return nil, fmt.Errorf("gar export: --out %s: %w", opts.Out, err)
	}
	if err := x.run(); err != nil {
		for _, sets := range x.sets {
			for _, fs := range sets {
				if fs != nil {
					fs.abort()
				}
			}
		}
		return nil, err
	}
	return &x.res, nil
}

func (x *exporter) run() error {
	if err := x.scope(); err != nil {
		return err
	}
	for _, step := range []func() error{x.personas, x.groupsPass, x.personsPass, x.membershipsPass, x.etab} {
		if err := step(); err != nil {
			return err
		}
	}
	for deg := range x.sets {
		for _, fs := range x.sets[deg] {
			if fs == nil {
				continue
			}
			if err := fs.finish(); err != nil {
				return err
			}
			x.res.Files = append(x.res.Files, fs.files...)
			x.res.Counts.Elements += fs.total
		}
	}
	sort.Strings(x.res.Files)
	return nil
}

// scope picks the schools: subscribing, present in the directory, and in
// opts.UAIs when given.
func (x *exporter) scope() error {
	p := x.opts.Project
	for _, u := range x.opts.UAIs {
		if !p.Subscribes(u) {
			return fmt.Errorf("gar export: --uai %s: this school does not subscribe to the GAR (gar.schools)", u)
		}
	}
	sts, err := x.src.ListStructures(x.ctx)
	if err != nil {
		return fmt.Errorf("gar export: structures: %w", err)
	}
	found := map[string]bool{}
	for _, st := range sts {
		if !p.Subscribes(st.UAI) || (len(x.opts.UAIs) > 0 && !slices.Contains(x.opts.UAIs, st.UAI)) || found[st.UAI] {
			continue
		}
		found[st.UAI] = true
		s := &school{st: st, mefs: map[string]bool{}, subjects: map[string]bool{}}
		if FirstDegree(st) {
			s.deg = 1
		}
		x.schools = append(x.schools, s)
	}
	for _, u := range x.opts.UAIs {
		if !found[u] {
			return fmt.Errorf("gar export: --uai %s: no such school in the directory", u)
		}
	}
	for _, u := range p.Schools {
		if !found[u] && len(x.opts.UAIs) == 0 {
			x.log.Warn("GAR export: a subscribing school is not in the directory", "uai", u)
		}
	}
	x.res.Counts.Schools = len(x.schools)
	for _, s := range x.schools {
		deg := s.deg
		if x.sets[deg][0] != nil {
			continue
		}
		sch := schema2D
		sections := [nKinds]int{3, 3, 2, 4, 1}
		if deg == 1 {
			sch, sections = schema1D, [nKinds]int{1, 2, 2, 2, 1}
		}
		for k := range nKinds {
			x.sets[deg][k] = newFileSet(x.opts.Out, x.res.Base+"_", kindNames[k], sch, x.opts.MaxElements, sections[k])
		}
	}
	return nil
}

// personas indexes the personas of the exported schools whose profile the
// GAR knows.
func (x *exporter) personas() error {
	byID := map[string]int32{}
	for i, s := range x.schools {
		byID[s.st.ID] = int32(i)
	}
	return x.src.EachPersona(x.ctx, func(pa directory.Persona) error {
		i, ok := byID[pa.StructureID]
		if !ok {
			return nil
		}
		if _, ok := NationalProfile(pa.Profile); !ok {
			return nil
		}
		r := ref{school: i, profile: pa.Profile}
		for _, f := range pa.Functions {
			if f.DisciplineCode != "" && f.DisciplineCode != "-" && !slices.Contains(r.disc, f.DisciplineCode) {
				r.disc = append(r.disc, f.DisciplineCode)
			}
		}
		p := x.persons[pa.PersonID]
		if p == nil {
			p = &person{}
			x.persons[pa.PersonID] = p
		}
		p.refs = append(p.refs, r)
		return nil
	})
}

func (x *exporter) put(deg, kind, section int) error {
	b, err := x.f.bytes()
	if err != nil {
		return fmt.Errorf("gar export: %s: %w", kindNames[kind], err)
	}
	return x.sets[deg][kind].add(section, b)
}

// groupsPass writes the classes and groups of the exported schools. The
// GAR keys them by (code, UAI) while the AAF may name a class and a group
// alike: such a group is exported as <code>_GRP (its label unchanged), so
// that neither it nor its members are lost. Classes come first in the walk,
// so a class always keeps its code.
func (x *exporter) groupsPass() error {
	byID := map[string]int32{}
	for i, s := range x.schools {
		byID[s.st.ID] = int32(i)
	}
	seen := map[string]bool{}
	return x.src.EachGroup(x.ctx, func(g directory.Group) error {
		i, ok := byID[g.StructureID]
		if !ok {
			return nil
		}
		s := x.schools[i]
		if seen[s.st.ID+"\x00"+g.Code] {
			x.log.Info("GAR export: a group has the code of a class of its school; exported with _GRP", "uai", s.st.UAI, "code", g.Code)
			g.Code += "_GRP"
		}
		seen[s.st.ID+"\x00"+g.Code] = true
		x.groups[g.ID] = groupRef{school: i, code: g.Code, class: g.Kind == directory.GroupClass}
		f := x.f
		f.reset()
		f.start("GARGroupe")
		f.leaf("GARGroupeCode", g.Code, 255)
		f.leaf("GARStructureUAI", s.st.UAI, 45)
		name := g.Name
		if name == "" {
			name = g.Code
		}
		f.leaf("GARGroupeLibelle", name, 255)
		statut := "GROUPE"
		if g.Kind == directory.GroupClass {
			statut = "DIVISION"
		}
		f.leaf("GARGroupeStatut", statut, 31)
		f.end("GARGroupe")
		x.res.Counts.Groups++
		return x.put(s.deg, kindGroupe, secGroupe)
	})
}

// personsPass writes students, staff and responsables d'affectation, one
// person at a time as the directory streams them.
func (x *exporter) personsPass() error {
	err := x.eachPerson(func(p directory.Person, status directory.AccountStatus) error {
		e := x.persons[p.ID]
		if e == nil {
			return nil
		}
		if status != directory.StatusActive {
			delete(x.persons, p.ID)
			return nil
		}
		e.gid = x.opts.Project.PersonID(p.ID)
		for deg := range 2 {
			var students, staff []ref
			for _, r := range e.refs {
				if x.schools[r.school].deg != deg {
					continue
				}
				if r.profile == directory.ProfileEleve {
					students = append(students, r)
				} else {
					staff = append(staff, r)
				}
			}
			if len(students) > 0 {
				if err := x.student(deg, e.gid, p, students); err != nil {
					return err
				}
			}
			if len(staff) > 0 {
				if err := x.staff(deg, e.gid, p, staff); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("gar export: persons: %w", err)
	}
	// Persons without an account or with one disabled were never met.
	for id, e := range x.persons {
		if e.gid == "" {
			delete(x.persons, id)
		}
	}
	return nil
}

// GARPersonWalker is what a store may offer for a faster export: the
// persons the GAR may need (not parents), with the fields it reads only
// (the SQL store has it).
type GARPersonWalker interface {
	EachGARPerson(ctx context.Context, fn func(directory.Person, directory.AccountStatus) error) error
}

// eachPerson walks the persons with the store's faster walk when it has
// one, else with EachPerson.
func (x *exporter) eachPerson(fn func(directory.Person, directory.AccountStatus) error) error {
	if w, ok := x.src.(GARPersonWalker); ok {
		return w.EachGARPerson(x.ctx, fn)
	}
	return x.src.EachPerson(x.ctx, func(p directory.Person, a directory.Account) error { return fn(p, a.Status) })
}

// identity writes the GARIdentite block shared by students and staff.
func (x *exporter) identity(gid string, p directory.Person, refs []ref) {
	f := x.f
	f.leaf("GARPersonIdentifiant", gid, 64)
	for _, r := range refs {
		code, _ := NationalProfile(r.profile)
		f.start("GARPersonProfils")
		f.leaf("GARStructureUAI", x.schools[r.school].st.UAI, 45)
		f.leaf("GARPersonProfil", code, 31)
		f.end("GARPersonProfils")
	}
	f.opt("GARPersonNomPatro", p.BirthName, 500)
	f.leaf("GARPersonNom", p.LastName, 500)
	f.leaf("GARPersonPrenom", p.FirstName, 500)
	others := 0
	for _, o := range p.OtherNames {
		if o != "" {
			f.leaf("GARPersonAutresPrenoms", o, 500)
			others++
		}
	}
	if others == 0 { // required by the schema: the first name is the one there is
		f.leaf("GARPersonAutresPrenoms", p.FirstName, 500)
	}
	f.opt("GARPersonCivilite", p.Title, 30)
	f.leaf("GARPersonStructRattach", x.schools[refs[0].school].st.UAI, 45)
}

// uais lists the distinct schools of refs, in order.
func (x *exporter) uais(refs []ref) []int32 {
	var out []int32
	for _, r := range refs {
		if !slices.Contains(out, r.school) {
			out = append(out, r.school)
		}
	}
	return out
}

// person starts a student or staff element: the identity block, the
// schools and the birth date, which both schemas put first. It returns the
// schools.
func (x *exporter) person(name, gid string, p directory.Person, refs []ref) []int32 {
	f := x.f
	f.reset()
	f.start(name)
	x.identity(gid, p, refs)
	schools := x.uais(refs)
	for _, i := range schools {
		f.leaf("GARPersonEtab", x.schools[i].st.UAI, 45)
	}
	if validDate(p.BirthDate) {
		f.leaf("GARPersonDateNaissance", p.BirthDate, 0)
	}
	return schools
}

// link writes the many small elements that tie a person to a code in a
// school: <name><GARStructureUAI/><GARPersonIdentifiant/><codeName/>…; the
// caller ends it (after more codes, for a teacher's subjects).
func (x *exporter) link(name, uai, gid, codeName, code string) {
	f := x.f
	f.reset()
	f.start(name)
	f.leaf("GARStructureUAI", uai, 45)
	f.leaf("GARPersonIdentifiant", gid, 64)
	f.leaf(codeName, code, 255)
}

func validDate(s string) bool {
	_, err := time.Parse("2006-01-02", s)
	return err == nil
}

func (x *exporter) student(deg int, gid string, p directory.Person, refs []ref) error {
	f := x.f
	schools := x.person("GAREleve", gid, p, refs)
	f.end("GAREleve")
	x.res.Counts.Students++
	if err := x.put(deg, kindEleve, 0); err != nil {
		return err
	}
	for _, i := range schools {
		s := x.schools[i]
		if p.MEF != "" {
			if err := x.personMEF(deg, s, gid, p.MEF, kindEleve); err != nil {
				return err
			}
		}
		if deg == 1 {
			continue // the first-degree schema has no subjects
		}
		var done []string
		for _, code := range p.Subjects {
			if code == "" || slices.Contains(done, code) {
				continue
			}
			done = append(done, code)
			s.subjects[code] = true
			x.link("GAREleveEnseignement", s.st.UAI, gid, "GARMatiereCode", code)
			f.end("GAREleveEnseignement")
			if err := x.put(deg, kindEleve, 2); err != nil {
				return err
			}
		}
	}
	return nil
}

// personMEF writes GARPersonMEF (second degree) or GARPersonMEFSTAT4
// (first degree: the first four characters of the MEF's MEFSTAT11).
func (x *exporter) personMEF(deg int, s *school, gid, code string, kind int) error {
	f := x.f
	if deg == 0 {
		s.mefs[code] = true
		x.link("GARPersonMEF", s.st.UAI, gid, "GARMEFCode", code)
		f.end("GARPersonMEF")
		return x.put(deg, kind, 1)
	}
	m, err := x.mef(code)
	if err != nil {
		return err
	}
	if m == nil || len(m.Stat11) < 4 {
		return nil
	}
	x.link("GARPersonMEFSTAT4", s.st.UAI, gid, "GARMEFSTAT4Code", m.Stat11[:4])
	f.end("GARPersonMEFSTAT4")
	return x.put(deg, kind, 1)
}

// mef looks a MEF up once; nil when the nomenclature lacks it.
func (x *exporter) mef(code string) (*directory.MEF, error) {
	if m, ok := x.mefs[code]; ok {
		return m, nil
	}
	m, err := x.src.MEF(x.ctx, code)
	switch {
	case errors.Is(err, directory.ErrNotFound):
		x.mefs[code] = nil
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("gar export: MEF %s: %w", code, err)
	}
	x.mefs[code] = &m
	return &m, nil
}

func (x *exporter) staff(deg int, gid string, p directory.Person, refs []ref) error {
	f := x.f
	schools := x.person("GAREnseignant", gid, p, refs)
	block, code := "GAREnsDisciplinesPostes", "GAREnsDisciplinePosteCode"
	if deg == 1 {
		block, code = "GAREnsSpecialitesPostes", "GAREnsSpecialitePosteCode"
	}
	for _, i := range schools {
		var disc []string
		for _, r := range refs {
			if r.school == i {
				for _, d := range r.disc {
					if !slices.Contains(disc, d) {
						disc = append(disc, d)
					}
				}
			}
		}
		if len(disc) == 0 {
			continue
		}
		f.start(block)
		f.leaf("GARStructureUAI", x.schools[i].st.UAI, 45)
		for _, d := range disc {
			f.leaf(code, d, 255)
		}
		f.end(block)
	}
	if deg == 0 && p.Email != "" {
		f.leaf("GARPersonMail", p.Email, 255)
	}
	f.end("GAREnseignant")
	x.res.Counts.Staff++
	if err := x.put(deg, kindEnseignant, 0); err != nil {
		return err
	}
	return x.respAff(deg, gid, p, refs)
}

// respAff writes the person as a responsable d'affectation of the schools
// where a persona has one of the configured profiles.
func (x *exporter) respAff(deg int, gid string, p directory.Person, refs []ref) error {
	want := x.opts.Project.RespAffProfiles
	if len(want) == 0 {
		want = []directory.Profile{directory.ProfileDirection}
	}
	var etabs []int32
	for _, r := range refs {
		if slices.Contains(want, r.profile) && !slices.Contains(etabs, r.school) {
			etabs = append(etabs, r.school)
		}
	}
	if len(etabs) == 0 {
		return nil
	}
	mail := p.Email
	if mail == "" {
		mail = p.PersonalEmail
	}
	if mail == "" {
		x.res.Counts.RespAffNoMal++
		x.log.Warn("GAR export: a responsable d'affectation without e-mail is left out (the GAR requires one)", "person", p.ID)
		return nil
	}
	f := x.f
	f.reset()
	f.start("GARRespAff")
	f.leaf("GARPersonIdentifiant", gid, 64)
	f.leaf("GARPersonNom", p.LastName, 500)
	f.leaf("GARPersonPrenom", p.FirstName, 500)
	f.opt("GARPersonCivilite", p.Title, 30)
	f.leaf("GARPersonMail", mail, 255)
	for _, i := range etabs {
		f.leaf("GARRespAffEtab", x.schools[i].st.UAI, 45)
	}
	f.end("GARRespAff")
	x.res.Counts.RespAff++
	return x.put(deg, kindRespAff, 0)
}

// membershipsPass writes who is in which class or group and, in the second
// degree, the subjects each teacher teaches there.
func (x *exporter) membershipsPass() error {
	var lastGroup, lastPerson string
	err := x.src.EachMembership(x.ctx, func(m directory.Membership) error {
		g, ok := x.groups[m.GroupID]
		if !ok {
			return nil
		}
		e := x.persons[m.PersonID]
		if e == nil || !slices.ContainsFunc(e.refs, func(r ref) bool { return r.school == g.school }) {
			return nil
		}
		s := x.schools[g.school]
		f := x.f
		if m.GroupID != lastGroup || m.PersonID != lastPerson { // one per (group, person) whatever the roles
			lastGroup, lastPerson = m.GroupID, m.PersonID
			x.link("GARPersonGroupe", s.st.UAI, e.gid, "GARGroupeCode", g.code)
			f.end("GARPersonGroupe")
			x.res.Counts.Memberships++
			if err := x.put(s.deg, kindGroupe, secPersonGroupe); err != nil {
				return err
			}
		}
		if s.deg == 1 || m.Role != directory.RoleTeacher || len(m.Subjects) == 0 {
			return nil
		}
		name, sec := "GAREnsGroupeMatiere", secEnsGroupeMatiere
		if g.class {
			name, sec = "GAREnsClasseMatiere", secEnsClasseMatiere
		}
		x.link(name, s.st.UAI, e.gid, "GARGroupeCode", g.code)
		var done []string
		for _, c := range m.Subjects {
			if c != "" && !slices.Contains(done, c) {
				done = append(done, c)
				s.subjects[c] = true
				f.leaf("GARMatiereCode", c, 255)
			}
		}
		f.end(name)
		if len(done) == 0 {
			return nil
		}
		return x.put(s.deg, kindGroupe, sec)
	})
	if err != nil {
		return fmt.Errorf("gar export: memberships: %w", err)
	}
	return nil
}

// etab writes the schools, then (second degree) the MEFs and subjects each
// one uses, labels from the nomenclatures.
func (x *exporter) etab() error {
	byAAF := map[string]string{}
	for _, s := range x.schools {
		if s.st.AAFID != "" {
			byAAF[s.st.AAFID] = s.st.UAI
		}
	}
	f := x.f
	for _, s := range x.schools {
		st := s.st
		f.reset()
		f.start("GAREtab")
		f.leaf("GARStructureUAI", st.UAI, 45)
		name := st.Name
		if name == "" {
			name = st.UAI
		}
		f.leaf("GARStructureNomCourant", name, 500)
		if s.deg == 0 {
			for _, a := range st.Attached {
				if u := byAAF[a]; u != "" && u != st.UAI {
					f.leaf("GAREtablissementStructRattachFctl", u, 255)
					break
				}
			}
		}
		f.opt("GARStructureContrat", st.Contract, 45)
		if tel := firstExtra(st.Extra, "ENTStructureTelephone", "telephoneNumber"); tel != "" {
			f.leaf("GARStructureTelephone", tel, 20)
		}
		f.end("GAREtab")
		if err := x.put(s.deg, kindEtab, 0); err != nil {
			return err
		}
	}
	for _, s := range x.schools {
		if s.deg != 0 {
			continue
		}
		for _, code := range sortedKeys(s.mefs) {
			m, err := x.mef(code)
			if err != nil {
				return err
			}
			f.reset()
			f.start("GARMEF")
			f.leaf("GARStructureUAI", s.st.UAI, 45)
			f.leaf("GARMEFCode", code, 255)
			label := code
			if m != nil && m.Label != "" {
				label = m.Label
			}
			f.leaf("GARMEFLibelle", label, 255)
			if m != nil {
				f.opt("GARMEFRattach", m.Rattach, 255)
				f.opt("GARMEFSTAT11", m.Stat11, 255)
			}
			f.end("GARMEF")
			if err := x.put(0, kindEtab, 0); err != nil {
				return err
			}
		}
	}
	labels := map[string]string{}
	for _, s := range x.schools {
		if s.deg != 0 {
			continue
		}
		for _, code := range sortedKeys(s.subjects) {
			label, ok := labels[code]
			if !ok {
				sub, err := x.src.Subject(x.ctx, code)
				if err != nil && !errors.Is(err, directory.ErrNotFound) {
					return fmt.Errorf("gar export: subject %s: %w", code, err)
				}
				label = sub.Label
				if label == "" {
					label = code
				}
				labels[code] = label
			}
			f.reset()
			f.start("GARMatiere")
			f.leaf("GARStructureUAI", s.st.UAI, 45)
			f.leaf("GARMatiereCode", code, 255)
			f.leaf("GARMatiereLibelle", label, 255)
			f.end("GARMatiere")
			if err := x.put(0, kindEtab, 0); err != nil {
				return err
			}
		}
	}
	return nil
}

func firstExtra(extra map[string][]string, keys ...string) string {
	for _, k := range keys {
		for _, v := range extra[k] {
			if v != "" {
				return v
			}
		}
	}
	return ""
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
