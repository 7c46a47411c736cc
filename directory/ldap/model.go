package ldap

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/enthub/enthub/directory"
)

// The read model is an immutable, in-memory image of the directory in the
// SDET shape, built from the store's streaming walks and swapped atomically
// when the store's generation moves: a search always runs on one complete
// model. Entries are addressed by an ordinal; each container is followed
// by its children, so a subtree is a contiguous range of ordinals:
//
//	0            base (dc=enthub)
//	1            ou=structures      2 … 1+S    structures
//	ouGroups     ou=groups          …          classes, groups, profile groups, then spaces
//	ouPeople     ou=people          …          persons, in id order
//
// Person entries keep only what is served, and no pointers: their strings
// are (offset, length) pairs into one byte slab, their lists runs of flat
// arrays shared by all persons, the uid/login/jointure/mail indexes tables
// of integers (slab.go). The collector marks every live pointer on every
// cycle: with the synthetic directory of 100,000 students (266,667
// persons, gen_test.go), the model was 228 MB in 2.5 million objects, 162
// MB of them to scan, and a forced collection took about 1 s of a loaded
// 2-core machine; it is now 100 MB in 32,000 objects, under 1 MB to scan,
// and the collection 8 ms (BenchmarkModelBuild, BenchmarkModelGC).

// national describes one national profile (SDET "Profils de l'accédant").
type national struct {
	profile directory.Profile
	code    string // ENTPersonProfils value
	legacy  string // SDET v1/v2 numeric code, served when Config.LegacyProfileCodes
	short   string // suffix of the profile group cn
	aux     ocID   // auxiliary class of the population
}

// nationals maps the enthub profiles to the SDET national codes. Sources:
// ../shared/reference/sdet-ldap.md §3.1–3.2 (confidence H for the trigrams).
// Unsure points: direction staff are given ENTAuxNonEnsEtab (RECIA sometimes
// uses ENTAuxEnseignant); "personnel" (administrative, technical, médico-
// social staff of a school) is National_ETA; guests (invite) have no national
// code and carry ENTAuxPersExt; National_ACA is not produced because enthub
// has no rectorat profile.
var nationals = []national{
	{directory.ProfileEleve, "National_ELV", "National_1", "ELV", ocENTEleve},
	{directory.ProfileParent, "National_TUT", "National_2", "TUT", ocENTAuxPersRelEleve},
	{directory.ProfileEnseignant, "National_ENS", "National_3", "ENS", ocENTAuxEnseignant},
	{directory.ProfileDocumentaliste, "National_DOC", "", "DOC", ocENTAuxEnseignant},
	{directory.ProfileDirection, "National_DIR", "National_4", "DIR", ocENTAuxNonEnsEtab},
	{directory.ProfileVieScolaire, "National_EVS", "National_5", "EVS", ocENTAuxNonEnsEtab},
	{directory.ProfilePersonnel, "National_ETA", "National_6", "ETA", ocENTAuxNonEnsEtab},
	{directory.ProfileCollectivite, "National_COL", "", "COL", ocENTAuxNonEnsCollLoc},
	{directory.ProfileInvite, "", "", "INV", ocENTAuxPersExt},
}

func profileIndex(p directory.Profile) (uint8, bool) {
	for i, n := range nationals {
		if n.profile == p {
			return uint8(i), true
		}
	}
	return 0, false
}

const (
	statusActive uint8 = iota
	statusDisabled
	statusPendingPurge
)

const (
	groupClass uint8 = iota
	groupGroup
	groupProfile
	groupSpace // a profile space across schools (directory.Space): no structure
)

type structure struct {
	s       directory.Structure
	rdn     string // ENTStructureUAI value of the RDN (the UAI, or the id for a structure without one)
	dn      string
	fctl    []int32 // functionally attached structures
	classes []int32 // group indexes
	groups  []int32
	// rattached lists the persons whose ENTPersonStructRattach is this
	// structure: the index behind "all people of a school".
	rattached []int32
}

type group struct {
	id      string
	cn      string
	dn      string
	code    string
	name    string
	kind    uint8
	profile uint8 // profile groups: index in nationals
	str     int32 // structure index; -1 for a space
	members []int32
	// allActive: every member is active with no validity window, so the
	// members an identity seeing no disabled account sees do not depend
	// on the time (see memberValues).
	allActive bool
}

// sref addresses a string of the model's slab (model.str), span a run of
// one of its flat arrays (at). Person entries hold these instead of Go
// strings and slices: a person and everything it lists is then free of
// pointers, which the garbage collector does not scan (see model).
type sref struct{ off, n uint32 }

type span struct{ off, n uint32 }

// at returns the run s of a.
func at[T any](a []T, s span) []T { return a[s.off : s.off+s.n : s.off+s.n] }

type persona struct {
	str       int32
	profile   uint8
	functions span // in model.funcs
}

// function is a directory.Function in the slab.
type function struct {
	code, label, disciplineCode, disciplineLabel sref
}

type membership struct {
	group    int32
	teacher  bool
	head     bool
	subjects span // in model.strs
}

type relation struct {
	parent       int32
	lien         sref
	fin, contact bool
	paiement     bool
	legal        int8
}

type person struct {
	id, login, aafID sref
	sn, givenName    sref
	mail             sref
	more             uint32 // index in model.mores; 0: none (mores[0] is empty)
	personas         span   // in model.personas
	members          span   // in model.members
	profGroups       span   // in model.refs: profile groups, then spaces: the groups not from memberships
	children         span   // in model.refs
	rels             span   // in model.rels: as the child
	rattach          int32
	status           uint8
	validFrom        int64 // unix seconds, 0: none
	validUntil       int64
	created          int64
	modified         int64
}

// personMore holds what most persons lack.
type personMore struct {
	birthName, title, birthDate, ine sref
	personalEmail, phone, mobile     sref
	address, postalCode, city        sref
	country, mef, mefLabel           sref
	passwordHash                     sref
	otherNames                       span // in model.strs
	extra                            span // in model.extras
}

type extraValue struct {
	attr attrID
	vals span // in model.strs
}

// model is one immutable image of the directory.
type model struct {
	gen   int64
	built time.Time

	base       string // as configured, normalised (lower-case types)
	baseRDNs   []rdn
	structsDN  string
	groupsDN   string
	peopleDN   string
	jointure   string // source prefix of ENTPersonJointure for AAF persons
	legacy     bool
	ouGroups   uint32
	ouPeople   uint32
	total      uint32
	structs    []structure
	groups     []group
	persons    []person
	byUID      personIndex      // lower-case person id
	byLogin    personIndex      // lower-case login
	byJointure personIndex      // lower-case ENTPersonJointure
	byMail     personIndex      // lower-case mail, several persons per key
	byUAI      map[string]int32 // lower-case structure RDN value
	byGroupCN  map[string]int32 // lower-case cn
	byAAFStr   map[string]int32 // structure AAF id

	// What the persons point into, all of pointer-free types: the
	// strings' bytes (slab, never written once built), the personas,
	// memberships, relations, children and groups, functions, strings
	// of lists (subjects, other names, extra values) and rarely filled
	// fields of every person, each person's run contiguous.
	slab          []byte
	personas      []persona
	members       []membership
	rels          []relation
	refs          []int32
	funcs         []function
	strs          []sref
	extras        []extraValue
	mores         []personMore
	jointureLower string // lower-case "<jointure>$", the prefix of AAF persons' ENTPersonJointure

	// memberBER caches, per group, the encoded values of member (the
	// content of its SET OF, every member's DN) once a search asked for
	// it: the members of a class are read far more often than the model
	// changes. Filled lazily, so only the groups read cost memory.
	memberBER []atomic.Pointer[[]byte]

	// Dense, pointer-free copies of what listing many persons reads, so
	// that a group's members or a page of persons do not touch each
	// person's scattered struct and strings: pflags (pfActive, pfWindow)
	// and the RDN "uid=<escaped id>" of person i at
	// rdnArena[rdnOff[i]:rdnOff[i+1]].
	pflags   []uint8
	rdnArena []byte
	rdnOff   []uint32
}

// Person flags (model.pflags).
const (
	pfActive uint8 = 1 << iota // account status active
	pfWindow                   // has a validity window: check the dates too
)

// ordinal layout helpers.
func (m *model) structOrd(i int32) uint32 { return 2 + uint32(i) }
func (m *model) groupOrd(i int32) uint32  { return m.ouGroups + 1 + uint32(i) }
func (m *model) personOrd(i int32) uint32 { return m.ouPeople + 1 + uint32(i) }

type kind uint8

const (
	kBase kind = iota
	kOU
	kStructure
	kGroup
	kPerson
	kNone
)

// locate returns the kind of an ordinal and its index within that kind
// (for kOU: 0 structures, 1 groups, 2 people).
func (m *model) locate(ord uint32) (kind, int32) {
	switch {
	case ord == 0:
		return kBase, 0
	case ord == 1:
		return kOU, 0
	case ord < m.ouGroups:
		return kStructure, int32(ord - 2)
	case ord == m.ouGroups:
		return kOU, 1
	case ord < m.ouPeople:
		return kGroup, int32(ord - m.ouGroups - 1)
	case ord == m.ouPeople:
		return kOU, 2
	case ord < m.total:
		return kPerson, int32(ord - m.ouPeople - 1)
	}
	return kNone, 0
}

// subtreeEnd is the first ordinal after the subtree rooted at ord.
func (m *model) subtreeEnd(ord uint32) uint32 {
	switch k, i := m.locate(ord); k {
	case kBase:
		return m.total
	case kOU:
		switch i {
		case 0:
			return m.ouGroups
		case 1:
			return m.ouPeople
		default:
			return m.total
		}
	}
	return ord + 1
}

var ouNames = [3]string{"structures", "groups", "people"}

func (m *model) ouOrd(i int32) uint32 {
	switch i {
	case 0:
		return 1
	case 1:
		return m.ouGroups
	}
	return m.ouPeople
}

// buildOptions carries what shapes the model besides the store.
type buildOptions struct {
	base     string
	jointure string
	legacy   bool
	now      time.Time
}

// buildModel walks the store into a new model. The walks are not one
// transaction: a change committed meanwhile shows up partly, which the
// generation read first catches (the next poll rebuilds); dangling
// references are skipped.
func buildModel(ctx context.Context, r directory.Reader, o buildOptions) (*model, error) {
	gen, err := r.Generation(ctx)
	if err != nil {
		return nil, fmt.Errorf("read model: %w", err)
	}
	baseRDNs, err := parseDN(o.base)
	if err != nil {
		return nil, fmt.Errorf("read model: base DN %q: %w", o.base, err)
	}
	m := &model{
		gen: gen, built: o.now, base: formatDN(baseRDNs), baseRDNs: baseRDNs,
		jointure: o.jointure, legacy: o.legacy,
		byUAI: map[string]int32{}, byGroupCN: map[string]int32{},
		byAAFStr: map[string]int32{},
	}
	m.structsDN = "ou=structures," + m.base
	m.groupsDN = "ou=groups," + m.base
	m.peopleDN = "ou=people," + m.base

	// Structures.
	list, err := r.ListStructures(ctx)
	if err != nil {
		return nil, fmt.Errorf("read model: structures: %w", err)
	}
	sort.Slice(list, func(i, j int) bool {
		return list[i].UAI < list[j].UAI || list[i].UAI == list[j].UAI && list[i].ID < list[j].ID
	})
	byStrID := make(map[string]int32, len(list))
	for _, s := range list {
		rdnv := s.UAI
		if rdnv == "" {
			rdnv = s.ID
		}
		if _, dup := m.byUAI[strings.ToLower(rdnv)]; dup {
			rdnv = s.ID
		}
		i := int32(len(m.structs))
		m.structs = append(m.structs, structure{s: s, rdn: rdnv, dn: "ENTStructureUAI=" + escapeRDNValue(rdnv) + "," + m.structsDN})
		m.byUAI[strings.ToLower(rdnv)] = i
		byStrID[s.ID] = i
		if s.AAFID != "" {
			m.byAAFStr[s.AAFID] = i
		}
	}
	for i := range m.structs {
		for _, a := range m.structs[i].s.Attached {
			if j, ok := m.byAAFStr[a]; ok {
				m.structs[i].fctl = append(m.structs[i].fctl, j)
			}
		}
	}

	// Classes and groups.
	byGroupID := map[string]int32{}
	err = r.EachGroup(ctx, func(g directory.Group) error {
		si, ok := byStrID[g.StructureID]
		if !ok {
			return nil
		}
		k := groupClass
		if g.Kind == directory.GroupGroup {
			k = groupGroup
		}
		i := int32(len(m.groups))
		m.groups = append(m.groups, group{id: g.ID, code: g.Code, name: g.Name, kind: k, str: si})
		byGroupID[g.ID] = i
		if k == groupClass {
			m.structs[si].classes = append(m.structs[si].classes, i)
		} else {
			m.structs[si].groups = append(m.structs[si].groups, i)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read model: groups: %w", err)
	}

	// Persons and accounts.
	b := newSlabBuilder()
	m.mores = []personMore{{}} // mores[0]: a person without any
	mefs := map[string]sref{}
	err = r.EachPerson(ctx, func(p directory.Person, a directory.Account) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		x := person{id: b.add(p.ID), login: b.add(a.Login), aafID: b.add(p.AAFID), sn: b.intern(p.LastName),
			givenName: b.intern(p.FirstName), mail: b.add(p.Email),
			rattach: -1, created: p.CreatedAt.Unix(), modified: p.UpdatedAt.Unix()}
		if a.UpdatedAt.After(p.UpdatedAt) {
			x.modified = a.UpdatedAt.Unix()
		}
		switch a.Status {
		case directory.StatusActive:
			x.status = statusActive
		case directory.StatusPendingPurge:
			x.status = statusPendingPurge
		default:
			x.status = statusDisabled
		}
		if a.ValidFrom != nil {
			x.validFrom = a.ValidFrom.Unix()
		}
		if a.ValidUntil != nil {
			x.validUntil = a.ValidUntil.Unix()
		}
		more := personMore{birthName: b.intern(p.BirthName), title: b.intern(p.Title), birthDate: b.intern(p.BirthDate),
			ine: b.add(p.INE), personalEmail: b.add(p.PersonalEmail), phone: b.add(p.Phone), mobile: b.add(p.Mobile),
			address: b.add(p.Address), postalCode: b.intern(p.PostalCode), city: b.intern(p.City),
			country: b.intern(p.Country), mef: b.intern(p.MEF), passwordHash: b.add(a.PasswordHash),
			otherNames: m.addStrs(b, p.OtherNames)}
		if p.MEF != "" {
			if _, seen := mefs[p.MEF]; !seen {
				mefs[p.MEF] = sref{}
			}
		}
		if vs := p.Extra[rattachStructKey]; len(vs) > 0 {
			if si, ok := m.byAAFStr[vs[0]]; ok {
				x.rattach = si
			}
		}
		var extra []extraValue
		for k, vs := range p.Extra {
			at := lookupAttr(strings.ToLower(k))
			if at == nil || !at.extra || len(vs) == 0 {
				continue
			}
			extra = append(extra, extraValue{attr: at.id, vals: m.addStrs(b, vs)})
		}
		sort.Slice(extra, func(i, j int) bool { return extra[i].attr < extra[j].attr })
		more.extra = span{uint32(len(m.extras)), uint32(len(extra))}
		m.extras = append(m.extras, extra...)
		if more != (personMore{}) {
			x.more = uint32(len(m.mores))
			m.mores = append(m.mores, more)
		}
		m.persons = append(m.persons, x)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read model: persons: %w", err)
	}
	for code := range mefs {
		if mef, err := r.MEF(ctx, code); err == nil {
			mefs[code] = b.intern(mef.Label)
		} else if !errors.Is(err, directory.ErrNotFound) {
			return nil, fmt.Errorf("read model: MEF %q: %w", code, err)
		}
	}
	// The slab holds every person's strings from here on; later strings
	// (functions, subjects, lien values) are appended to it, so what reads
	// it before the end (the indexes) goes through b.str.
	for i := 1; i < len(m.mores); i++ {
		if mr := &m.mores[i]; mr.mef.n != 0 {
			mr.mefLabel = mefs[b.str(mr.mef)]
		}
	}
	m.jointureLower = strings.ToLower(m.jointure + "$")
	m.byUID = b.index(m, len(m.persons), ixUID)
	m.byLogin = b.index(m, len(m.persons), ixLogin)
	m.byJointure = b.index(m, len(m.persons), ixJointure)
	m.byMail = b.index(m, len(m.persons), ixMail)
	uid := func(id string) (int32, bool) { return m.byUID.find(m, b.b, ixUID, strings.ToLower(id)) }

	// Personas, and the profile groups they make.
	type pgKey struct {
		str     int32
		profile uint8
	}
	profMembers := map[pgKey][]int32{}
	var personas []owned[persona]
	err = r.EachPersona(ctx, func(ps directory.Persona) error {
		pi, ok := uid(ps.PersonID)
		if !ok {
			return nil
		}
		si, ok := byStrID[ps.StructureID]
		if !ok {
			return nil
		}
		prof, ok := profileIndex(ps.Profile)
		if !ok {
			return nil
		}
		fs := span{uint32(len(m.funcs)), uint32(len(ps.Functions))}
		for _, f := range ps.Functions {
			m.funcs = append(m.funcs, function{code: b.intern(f.Code), label: b.intern(f.Label),
				disciplineCode: b.intern(f.DisciplineCode), disciplineLabel: b.intern(f.DisciplineLabel)})
		}
		personas = append(personas, owned[persona]{pi, persona{str: si, profile: prof, functions: fs}})
		k := pgKey{si, prof}
		profMembers[k] = append(profMembers[k], pi)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read model: personas: %w", err)
	}
	m.personas = flatten(m.persons, personas, func(p *person, s span) { p.personas = s })
	personas = nil
	keys := make([]pgKey, 0, len(profMembers))
	for k := range profMembers {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].str < keys[j].str || keys[i].str == keys[j].str && keys[i].profile < keys[j].profile
	})
	var profGroups []owned[int32]
	for _, k := range keys {
		gi := int32(len(m.groups))
		members := profMembers[k]
		sortDedupe32(&members)
		n := nationals[k.profile]
		name := n.code
		if name == "" {
			name = string(n.profile)
		}
		m.groups = append(m.groups, group{id: "profile:" + m.structs[k.str].s.ID + ":" + n.short, code: n.short, name: name,
			kind: groupProfile, profile: k.profile, str: k.str, members: members})
		for _, pi := range members {
			profGroups = append(profGroups, owned[int32]{pi, gi})
		}
	}

	// Memberships.
	var members []owned[membership]
	err = r.EachMembership(ctx, func(ms directory.Membership) error {
		gi, ok := byGroupID[ms.GroupID]
		if !ok {
			return nil
		}
		pi, ok := uid(ms.PersonID)
		if !ok {
			return nil
		}
		members = append(members, owned[membership]{pi, membership{group: gi, teacher: ms.Role == directory.RoleTeacher,
			head: ms.HeadTeacher, subjects: m.addStrs(b, ms.Subjects)}})
		m.groups[gi].members = append(m.groups[gi].members, pi)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read model: memberships: %w", err)
	}
	m.members = flatten(m.persons, members, func(p *person, s span) { p.members = s })
	members = nil

	// Relations.
	var children []owned[int32]
	var rels []owned[relation]
	err = r.EachRelation(ctx, func(rel directory.Relation) error {
		pi, ok := uid(rel.ParentID)
		if !ok {
			return nil
		}
		ci, ok := uid(rel.ChildID)
		if !ok {
			return nil
		}
		children = append(children, owned[int32]{pi, ci})
		rels = append(rels, owned[relation]{ci, relation{parent: pi, lien: b.intern(rel.LienParente),
			fin: rel.RespFinancier, legal: int8(rel.RespLegal), contact: rel.Contact, paiement: rel.Paiement}})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read model: relations: %w", err)
	}
	m.rels = flatten(m.persons, rels, func(p *person, s span) { p.rels = s })
	rels = nil

	spaces, err := m.addSpaces(ctx, r, uid)
	if err != nil {
		return nil, err
	}
	profGroups = append(profGroups, spaces...)
	m.refs = flatten(m.persons, profGroups, func(p *person, s span) { p.profGroups = s })
	n := uint32(len(m.refs))
	m.refs = append(m.refs, flatten(m.persons, children, func(p *person, s span) { p.children = span{n + s.off, s.n} })...)
	// Complete: from here on, m.str reads the slab. The arrays grown by
	// append are copied to their length, which the model keeps for as
	// long as it serves (append leaves up to half of them spare).
	m.slab = slices.Clone(b.b)
	m.persons = slices.Clone(m.persons)
	m.mores = slices.Clone(m.mores)
	m.funcs = slices.Clone(m.funcs)
	m.strs = slices.Clone(m.strs)
	m.extras = slices.Clone(m.extras)

	// Group names, DNs and sorted member lists.
	for gi := range m.groups {
		g := &m.groups[gi]
		var cn string
		switch g.kind {
		case groupSpace:
			cn = g.code // no "$" or "_" in a space code: never a school group's cn
		case groupProfile:
			cn = m.structs[g.str].rdn + "_" + g.code
		default:
			cn = m.structs[g.str].rdn + "$" + g.code
		}
		if _, dup := m.byGroupCN[strings.ToLower(cn)]; dup {
			cn += "$" + [...]string{"classe", "groupe", "profil", "espace"}[g.kind]
		}
		if _, dup := m.byGroupCN[strings.ToLower(cn)]; dup {
			cn += "$" + g.id
		}
		g.cn = cn
		g.dn = "cn=" + escapeRDNValue(cn) + "," + m.groupsDN
		m.byGroupCN[strings.ToLower(cn)] = int32(gi)
		sortDedupe32(&g.members)
		g.allActive = true
		for _, pi := range g.members {
			if p := &m.persons[pi]; p.status != statusActive || p.validFrom != 0 || p.validUntil != 0 {
				g.allActive = false
				break
			}
		}
	}
	m.memberBER = make([]atomic.Pointer[[]byte], len(m.groups))
	m.pflags = make([]uint8, len(m.persons))
	m.rdnOff = make([]uint32, len(m.persons)+1)
	arena := 0
	for pi := range m.persons {
		arena += len("uid=") + int(m.persons[pi].id.n) // escaping rarely adds
	}
	m.rdnArena = make([]byte, 0, arena)
	for pi := range m.persons {
		p := &m.persons[pi]
		if p.status == statusActive {
			m.pflags[pi] |= pfActive
		}
		if p.validFrom != 0 || p.validUntil != 0 {
			m.pflags[pi] |= pfWindow
		}
		m.rdnArena = append(m.rdnArena, "uid="...)
		m.rdnArena = append(m.rdnArena, escapeRDNValue(m.str(p.id))...)
		m.rdnOff[pi+1] = uint32(len(m.rdnArena))
	}

	// Structure of attachment: the AAF's ENTPersonStructRattach when
	// delivered (as a structure AAF id), else the structure of the first
	// persona, preferring a student's school.
	for pi := range m.persons {
		p := &m.persons[pi]
		if p.rattach < 0 {
			p.rattach = m.rattachOf(p)
		}
		if p.rattach >= 0 {
			m.structs[p.rattach].rattached = append(m.structs[p.rattach].rattached, int32(pi))
		}
	}

	m.ouGroups = 2 + uint32(len(m.structs))
	m.ouPeople = m.ouGroups + 1 + uint32(len(m.groups))
	m.total = m.ouPeople + 1 + uint32(len(m.persons))
	return m, nil
}

// spaceWalker is what the model reads of the profile spaces; a store
// without spaces (one that does not implement it) serves none.
type spaceWalker interface {
	Spaces(ctx context.Context) ([]directory.Space, error)
	EachSpaceMember(ctx context.Context, fn func(directory.SpaceMember) error) error
}

// addSpaces adds the profile spaces as groups after the schools' ones,
// and each space to its members' groups (memberOf/isMemberOf). The SDET
// defines no entry for a group across schools: a space is served under
// ou=groups, at the département's level, as a plain groupOfNames named by
// its code (cn=espace-ati), its name in description. A space without
// members is not served, as a profile group without members is not:
// groupOfNames requires a member, and a checking server (the push's slapd)
// would refuse the entry.
func (m *model) addSpaces(ctx context.Context, r directory.Reader, uid func(string) (int32, bool)) ([]owned[int32], error) {
	sw, ok := r.(spaceWalker)
	if !ok {
		return nil, nil
	}
	members := map[string][]int32{}
	err := sw.EachSpaceMember(ctx, func(sm directory.SpaceMember) error {
		if pi, ok := uid(sm.PersonID); ok {
			members[sm.SpaceID] = append(members[sm.SpaceID], pi)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read model: space members: %w", err)
	}
	list, err := sw.Spaces(ctx)
	if err != nil {
		return nil, fmt.Errorf("read model: spaces: %w", err)
	}
	var out []owned[int32]
	for _, s := range list {
		ms := members[s.ID]
		if len(ms) == 0 {
			continue
		}
		gi := int32(len(m.groups))
		m.groups = append(m.groups, group{id: "space:" + s.ID, code: s.ID, name: s.Name, kind: groupSpace, str: -1, members: ms})
		for _, pi := range ms {
			out = append(out, owned[int32]{pi, gi})
		}
	}
	return out, nil
}

// rattachStructKey is the Extra key the AAF importer keeps the delivered
// ENTPersonStructRattach under (a structure AAF id).
const rattachStructKey = "ENTPersonStructRattach"

func (m *model) rattachOf(p *person) int32 {
	best := int32(-1)
	for _, ps := range at(m.personas, p.personas) {
		if nationals[ps.profile].profile == directory.ProfileEleve {
			return ps.str
		}
		if best < 0 {
			best = ps.str
		}
	}
	return best
}

// jointureOf renders ENTPersonJointure in the SDET form <source>$<id>: the
// configured source for AAF persons, "ENT" (the SDET value for manual
// entries) for guests and local persons.
func (m *model) jointureOf(p *person) string {
	if p.aafID.n != 0 {
		return m.jointure + "$" + m.str(p.aafID)
	}
	return "ENT$" + m.str(p.id)
}

// more returns the rarely filled fields of p (all empty for most).
func (m *model) more(p *person) *personMore { return &m.mores[p.more] }

func sortDedupe32(s *[]int32) {
	x := *s
	if len(x) < 2 {
		return
	}
	if !sort.SliceIsSorted(x, func(i, j int) bool { return x[i] < x[j] }) {
		sort.Slice(x, func(i, j int) bool { return x[i] < x[j] })
	}
	out := x[:1]
	for _, v := range x[1:] {
		if v != out[len(out)-1] {
			out = append(out, v)
		}
	}
	*s = out
}

func contains32(sorted []int32, v int32) bool {
	i := sort.Search(len(sorted), func(i int) bool { return sorted[i] >= v })
	return i < len(sorted) && sorted[i] == v
}

// uuidFor returns id when it already is a UUID, else a name-based (v5)
// UUID derived from kind and id, so entryUUID is stable across rebuilds.
func uuidFor(kind, id string) string {
	if isUUID(id) {
		return strings.ToLower(id)
	}
	h := sha1.Sum([]byte("enthub:" + kind + ":" + id))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	const hexd = "0123456789abcdef"
	b := make([]byte, 0, 36)
	for i := 0; i < 16; i++ {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexd[h[i]>>4], hexd[h[i]&15])
	}
	return string(b)
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
