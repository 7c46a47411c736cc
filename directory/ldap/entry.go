package ldap

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/enthub/enthub/directory"
)

// view is a model seen by one identity at one instant: what it may see and
// read, and the values of the entries it sees.
type view struct {
	m        *model
	acc      *access
	now      int64 // unix seconds
	startTLS bool  // StartTLS can be offered on this connection
}

// access is what one bound identity may read, resolved against one model.
type access struct {
	name        string
	dn          string
	read        bool            // may read the tree at all (false: rootDSE and schema only)
	self        int64           // person ordinal for a person's own bind, else -1
	ranges      [][2]uint32     // allowed subtrees; nil: the whole tree
	structs     []int32         // allowed structures; nil: all
	attrs       *[numAttrs]bool // readable attributes; nil: all
	seeDisabled bool
	model       *model // the model ranges and structs were resolved against
}

func (a *access) canReadAttr(id attrID) bool {
	if a.attrs == nil || id == aObjectClass {
		return true
	}
	return a.attrs[id]
}

func (v *view) active(p *person) bool {
	if p.status != statusActive {
		return false
	}
	if p.validUntil != 0 && v.now >= p.validUntil {
		return false
	}
	if p.validFrom != 0 && v.now < p.validFrom {
		return false
	}
	return true
}

// personVisible applies the disabled-account and structure rules.
func (v *view) personVisible(pi int32) bool {
	if !v.acc.seeDisabled {
		// The dense flags answer without touching the person (a cache
		// miss each when listing the members of a group).
		switch f := v.m.pflags[pi]; {
		case f&pfActive == 0:
			return false
		case f&pfWindow != 0 && !v.active(&v.m.persons[pi]):
			return false
		}
	}
	if v.acc.structs != nil {
		p := &v.m.persons[pi]
		ok := false
		for _, ps := range at(v.m.personas, p.personas) {
			if containsInt32(v.acc.structs, ps.str) {
				ok = true
				break
			}
		}
		if !ok && (p.rattach < 0 || !containsInt32(v.acc.structs, p.rattach)) {
			return false
		}
	}
	return true
}

func containsInt32(s []int32, x int32) bool {
	for _, y := range s {
		if x == y {
			return true
		}
	}
	return false
}

// visible reports whether the identity may see entry ord.
func (v *view) visible(ord uint32) bool {
	a := v.acc
	if !a.read {
		return false
	}
	k, i := v.m.locate(ord)
	if a.self >= 0 {
		return int64(ord) == a.self || k == kBase || k == kOU
	}
	if k == kBase || k == kOU {
		return true
	}
	if a.ranges != nil {
		in := false
		for _, r := range a.ranges {
			if ord >= r[0] && ord < r[1] {
				in = true
				break
			}
		}
		if !in {
			return false
		}
	}
	switch k {
	case kStructure:
		return a.structs == nil || containsInt32(a.structs, i)
	case kGroup:
		return a.structs == nil || containsInt32(a.structs, v.m.groups[i].str)
	case kPerson:
		return v.personVisible(i)
	}
	return false
}

// dn renders the DN of an entry.
func (v *view) dn(ord uint32) string {
	m := v.m
	switch k, i := m.locate(ord); k {
	case kBase:
		return m.base
	case kOU:
		return "ou=" + ouNames[i] + "," + m.base
	case kStructure:
		return m.structs[i].dn
	case kGroup:
		return m.groups[i].dn
	case kPerson:
		return m.personDN(i)
	}
	return ""
}

func (m *model) personDN(i int32) string {
	return "uid=" + escapeRDNValue(m.str(m.persons[i].id)) + "," + m.peopleDN
}

// appendPersonDN appends personDN(i) to b without building the string,
// from the dense RDN arena.
func (m *model) appendPersonDN(b []byte, i int32) []byte {
	b = append(b, m.rdnArena[m.rdnOff[i]:m.rdnOff[i+1]]...)
	b = append(b, ',')
	return append(b, m.peopleDN...)
}

const timeFormat = "20060102150405Z"

func genTime(unix int64) string {
	return time.Unix(unix, 0).UTC().Format(timeFormat)
}

// objectClassesOf lists the object classes of an entry, structural chain
// first.
func (v *view) objectClassesOf(ord uint32, buf []ocID) []ocID {
	m := v.m
	switch k, i := m.locate(ord); k {
	case kBase:
		if len(m.baseRDNs) > 0 && m.baseRDNs[0].typ == "dc" {
			return append(buf, ocTop, ocDomain)
		}
		return append(buf, ocTop, ocExtensibleObject)
	case kOU:
		return append(buf, ocTop, ocOrganizationalUnit)
	case kStructure:
		if m.structs[i].s.UAI != "" {
			return append(buf, ocTop, ocOrganizationalUnit, ocENTStructure, ocENTEtablissement)
		}
		return append(buf, ocTop, ocOrganizationalUnit, ocENTStructure)
	case kGroup:
		switch m.groups[i].kind {
		case groupClass:
			return append(buf, ocTop, ocGroupOfNames, ocENTClasse)
		case groupGroup:
			return append(buf, ocTop, ocGroupOfNames, ocENTGroupe)
		case groupSpace:
			return append(buf, ocTop, ocGroupOfNames)
		default:
			return append(buf, ocTop, ocGroupOfNames, ocENTProfil)
		}
	case kPerson:
		p := &m.persons[i]
		out := append(buf, ocTop, ocPerson, ocOrganizationalPerson, ocInetOrgPerson, ocENTPerson)
		var aux [numOCs]bool
		for _, ps := range at(v.m.personas, p.personas) {
			aux[nationals[ps.profile].aux] = true
		}
		if aux[ocENTEleve] {
			out = append(out, ocENTEleve)
		}
		for _, oc := range auxOrder {
			if aux[oc] {
				out = append(out, oc)
			}
		}
		if p.members.n > 0 || p.profGroups.n > 0 {
			out = append(out, ocEduMember)
		}
		return out
	}
	return buf
}

var auxOrder = [...]ocID{ocENTAuxPersRelEleve, ocENTAuxEnseignant, ocENTAuxNonEnsEtab, ocENTAuxNonEnsCollLoc, ocENTAuxPersExt}

func (v *view) structuralClass(ord uint32) ocID {
	var buf [12]ocID
	ocs := v.objectClassesOf(ord, buf[:0])
	best := ocs[0]
	for _, oc := range ocs {
		if objectClasses[oc].kind == "STRUCTURAL" {
			best = oc
		}
	}
	return best
}

// values appends the values of attribute a of entry ord to dst.
func (v *view) values(dst []string, ord uint32, a attrID) []string {
	if ord >= ordRootDSE {
		return v.specialValues(dst, ord, a)
	}
	m := v.m
	k, i := m.locate(ord)
	switch a {
	case aObjectClass:
		var buf [12]ocID
		for _, oc := range v.objectClassesOf(ord, buf[:0]) {
			dst = append(dst, objectClasses[oc].name)
		}
		return dst
	case aEntryDN:
		return append(dst, v.dn(ord))
	case aSubschemaSubentry:
		return append(dst, subschemaDN)
	case aStructuralObjectClass:
		return append(dst, objectClasses[v.structuralClass(ord)].name)
	case aHasSubordinates:
		if k == kBase || k == kOU {
			return append(dst, "TRUE")
		}
		return append(dst, "FALSE")
	}
	switch k {
	case kBase:
		switch a {
		case aDC:
			if len(m.baseRDNs) > 0 && m.baseRDNs[0].typ == "dc" {
				dst = append(dst, m.baseRDNs[0].val)
			}
		case aEntryUUID:
			dst = append(dst, uuidFor("base", m.base))
		}
	case kOU:
		switch a {
		case aOU:
			dst = append(dst, ouNames[i])
		case aEntryUUID:
			dst = append(dst, uuidFor("ou", ouNames[i]))
		}
	case kStructure:
		dst = v.structureValues(dst, &m.structs[i], a)
	case kGroup:
		dst = v.groupValues(dst, &m.groups[i], a)
	case kPerson:
		if oc := classOfPersonAttr[a]; oc != ocTop && !m.personHasClass(&m.persons[i], oc) {
			return dst // e.g. an AAF ENTEleveMajeur on a person who is no student here
		}
		n := len(dst)
		dst = v.personValues(dst, i, a)
		if len(dst) == n && eleveMust[a] && m.personHasClass(&m.persons[i], ocENTEleve) {
			dst = append(dst, unknownValue) // a student the AAF (or a local entry) left without it
		}
	}
	return dst
}

// eleveMust are the MUST attributes of ENTEleve, all strings, served as
// unknownValue when a student has no value.
var eleveMust = func() (out [numAttrs]bool) {
	for _, a := range objectClasses[ocENTEleve].must {
		out[a] = true
	}
	return out
}()

// classOfPersonAttr is, for an attribute a person entry may hold only
// through one of its optional classes (ENTEleve, an ENTAux… class,
// eduMember), that class; ocTop for the attributes every person entry
// allows. values serves an attribute only with its class, so an entry is
// always valid against the schema it publishes (and loads into an
// OpenLDAP that checks it), whatever the AAF attributes kept in Extra.
var classOfPersonAttr = func() (out [numAttrs]ocID) {
	var base [numAttrs]bool
	for _, oc := range []ocID{ocTop, ocPerson, ocOrganizationalPerson, ocInetOrgPerson, ocENTPerson} {
		for _, a := range slices.Concat(objectClasses[oc].must, objectClasses[oc].may) {
			base[a] = true
		}
	}
	for _, oc := range slices.Concat([]ocID{ocENTEleve, ocEduMember}, auxOrder[:]) {
		for _, a := range slices.Concat(objectClasses[oc].must, objectClasses[oc].may) {
			if !base[a] {
				out[a] = oc
			}
		}
	}
	return out
}()

// personHasClass reports whether objectClassesOf gives p the class oc.
func (m *model) personHasClass(p *person, oc ocID) bool {
	if oc == ocEduMember {
		return p.members.n > 0 || p.profGroups.n > 0
	}
	for _, ps := range at(m.personas, p.personas) {
		if nationals[ps.profile].aux == oc {
			return true
		}
	}
	return false
}

// unknownValue stands for a value the SDET schema requires (a MUST
// attribute) and the source left empty — the AAF delivers some structures
// with an empty ENTStructureSIREN or ENTEtablissementMinistereTutelle —
// so that every served entry is valid against the schema and loads into
// an OpenLDAP that checks it (the push mirror, the LDIF export). The word
// is the one SDET directories use for unknown values (ENT$INCONNU).
const unknownValue = "INCONNU"

// appendMust appends s, or unknownValue when s is empty.
func appendMust(dst []string, s string) []string {
	if s == "" {
		return append(dst, unknownValue)
	}
	return append(dst, s)
}

func appendNonEmpty(dst []string, s string) []string {
	if s != "" {
		dst = append(dst, s)
	}
	return dst
}

func (v *view) structureValues(dst []string, s *structure, a attrID) []string {
	m := v.m
	switch a {
	case aOU:
		dst = appendNonEmpty(dst, s.s.Name)
		if s.s.Name == "" {
			dst = append(dst, s.rdn)
		}
	case aENTStructureUAI:
		dst = append(dst, s.rdn)
	case aENTStructureNomCourant: // MUST: named by its RDN value when nameless, like ou
		dst = appendNonEmpty(dst, s.s.Name)
		if s.s.Name == "" {
			dst = append(dst, s.rdn)
		}
	case aENTStructureJointure:
		if s.s.AAFID != "" {
			dst = append(dst, m.jointure+"$"+s.s.AAFID)
		} else {
			dst = append(dst, "ENT$"+s.s.ID)
		}
	case aENTStructureTypeStruct:
		dst = appendNonEmpty(dst, s.s.Type)
	case aENTEtablissementContrat:
		if s.s.UAI != "" {
			dst = appendMust(dst, s.s.Contract)
		} else {
			dst = appendNonEmpty(dst, s.s.Contract)
		}
	case aENTEtablissementBassin:
		dst = appendNonEmpty(dst, s.s.Bassin)
	case aENTStructureSIREN, aENTEtablissementMinistereTutelle:
		// Kept by the AAF importer in Extra (the SDET makes both MUST
		// attributes; a local structure has none). The second belongs to
		// ENTEtablissement, the class of structures with a UAI.
		if a == aENTEtablissementMinistereTutelle && s.s.UAI == "" {
			break
		}
		var v string
		if vs := s.s.Extra[attrTypes[a].name]; len(vs) > 0 {
			v = vs[0]
		}
		dst = appendMust(dst, v)
	case aENTEtablissementStructRattachFctl:
		for _, j := range s.fctl {
			dst = append(dst, m.structs[j].dn)
		}
	case aENTStructureClasses:
		for _, g := range s.classes {
			dst = append(dst, m.groups[g].code+"$"+m.groups[g].name)
		}
	case aENTStructureGroupes:
		for _, g := range s.groups {
			dst = append(dst, m.groups[g].code+"$"+m.groups[g].name)
		}
	case aL:
		dst = appendNonEmpty(dst, s.s.City)
	case aPostalCode:
		dst = appendNonEmpty(dst, s.s.PostalCode)
	case aDescription:
		dst = appendNonEmpty(dst, s.s.Type)
	case aEntryUUID:
		dst = append(dst, uuidFor("structure", s.s.ID))
	case aCreateTimestamp:
		if !s.s.CreatedAt.IsZero() {
			dst = append(dst, genTime(s.s.CreatedAt.Unix()))
		}
	case aModifyTimestamp:
		if !s.s.UpdatedAt.IsZero() {
			dst = append(dst, genTime(s.s.UpdatedAt.Unix()))
		}
	}
	return dst
}

func (v *view) groupValues(dst []string, g *group, a attrID) []string {
	m := v.m
	switch a {
	case aCN:
		dst = append(dst, g.cn)
	case aDescription:
		dst = appendNonEmpty(dst, g.name)
	case aOU:
		if g.str >= 0 {
			dst = append(dst, m.structs[g.str].rdn)
		}
	case aMember:
		for _, pi := range g.members {
			if v.personVisible(pi) {
				dst = append(dst, m.personDN(pi))
			}
		}
	case aEntryUUID:
		dst = append(dst, uuidFor("group", g.id))
	}
	return dst
}

// structPrefix renders "<structure DN>$" for the SDET multi-field strings.
func (m *model) structPrefix(si int32) string { return m.structs[si].dn + "$" }

func (v *view) personValues(dst []string, pi int32, a attrID) []string {
	m := v.m
	p := &m.persons[pi]
	mr := m.more(p)
	sn, givenName, login := m.str(p.sn), m.str(p.givenName), m.str(p.login)
	switch a {
	case aUID:
		return append(dst, m.str(p.id))
	case aCN, aDisplayName:
		switch {
		case givenName != "" && sn != "":
			return append(dst, givenName+" "+sn)
		case sn != "":
			return append(dst, sn)
		case givenName != "":
			return append(dst, givenName)
		}
		return append(dst, login)
	case aSN:
		if sn == "" {
			return append(dst, login) // sn is required by person
		}
		return append(dst, sn)
	case aGivenName:
		return appendNonEmpty(dst, givenName)
	case aMail:
		return appendNonEmpty(dst, m.str(p.mail))
	case aPersonalTitle:
		return appendNonEmpty(dst, m.str(mr.title))
	case aTelephoneNumber:
		return appendNonEmpty(dst, m.str(mr.phone))
	case aMobile:
		return appendNonEmpty(dst, m.str(mr.mobile))
	case aStreet, aENTPersonAdresse:
		return appendNonEmpty(dst, m.str(mr.address))
	case aPostalCode, aENTPersonCodePostal:
		return appendNonEmpty(dst, m.str(mr.postalCode))
	case aL, aENTPersonVille:
		return appendNonEmpty(dst, m.str(mr.city))
	case aENTPersonPays:
		return appendNonEmpty(dst, m.str(mr.country))
	case aENTPersonLogin:
		return appendNonEmpty(dst, login)
	case aENTPersonJointure:
		return append(dst, m.jointureOf(p))
	case aENTPersonStructRattach:
		if p.rattach >= 0 {
			dst = append(dst, m.structs[p.rattach].dn)
		}
		return dst
	case aENTPersonProfils:
		var seen [16]bool
		for _, ps := range at(v.m.personas, p.personas) {
			if seen[ps.profile] {
				continue
			}
			seen[ps.profile] = true
			n := nationals[ps.profile]
			dst = appendNonEmpty(dst, n.code)
			if m.legacy {
				dst = appendNonEmpty(dst, n.legacy)
			}
		}
		return dst
	case aENTPersonFonctions:
		for _, ps := range at(v.m.personas, p.personas) {
			for _, f := range at(m.funcs, ps.functions) {
				dst = append(dst, m.structPrefix(ps.str)+m.str(f.code)+"$"+m.str(f.label)+"$"+m.str(f.disciplineCode)+"$"+
					m.str(f.disciplineLabel))
			}
		}
		return dst
	case aENTPersonDateNaissance:
		if d := m.str(mr.birthDate); len(d) == 10 && d[4] == '-' && d[7] == '-' {
			return append(dst, d[8:10]+"/"+d[5:7]+"/"+d[0:4])
		}
		return appendNonEmpty(dst, m.str(mr.birthDate))
	case aENTPersonNomPatro:
		return appendNonEmpty(dst, m.str(mr.birthName))
	case aENTPersonAutresPrenoms:
		return m.appendStrs(dst, at(m.strs, mr.otherNames))
	case aENTPersonAutresMails:
		return appendNonEmpty(dst, m.str(mr.personalEmail))
	case aENTEleveClasses, aENTEleveGroupes, aENTAuxEnsClasses, aENTAuxEnsGroupes, aENTAuxEnsClassesPrincipal:
		wantKind, teacher := groupClass, false
		switch a {
		case aENTEleveGroupes:
			wantKind = groupGroup
		case aENTAuxEnsClasses, aENTAuxEnsClassesPrincipal:
			teacher = true
		case aENTAuxEnsGroupes:
			wantKind, teacher = groupGroup, true
		}
		for _, ms := range at(m.members, p.members) {
			g := &m.groups[ms.group]
			if g.kind != wantKind || ms.teacher != teacher || (a == aENTAuxEnsClassesPrincipal && !ms.head) {
				continue
			}
			dst = append(dst, m.structPrefix(g.str)+g.code)
		}
		return dst
	case aENTAuxEnsClassesMatieres, aENTAuxEnsGroupesMatieres:
		wantKind := groupClass
		if a == aENTAuxEnsGroupesMatieres {
			wantKind = groupGroup
		}
		for _, ms := range at(m.members, p.members) {
			g := &m.groups[ms.group]
			if g.kind != wantKind || !ms.teacher {
				continue
			}
			for _, s := range at(m.strs, ms.subjects) {
				dst = append(dst, m.structPrefix(g.str)+g.code+"$"+m.str(s))
			}
		}
		return dst
	case aENTEleveMEF:
		if v.isStudent(p) {
			dst = appendNonEmpty(dst, m.str(mr.mef))
		}
		return dst
	case aENTEleveLibelleMEF:
		if v.isStudent(p) {
			dst = appendNonEmpty(dst, m.str(mr.mefLabel))
		}
		return dst
	case aENTEleveINE:
		return appendNonEmpty(dst, m.str(mr.ine))
	case aENTElevePersRelEleve:
		for _, r := range at(m.rels, p.rels) {
			parent := &m.persons[r.parent]
			key := m.str(parent.aafID)
			if key == "" {
				key = m.str(parent.id)
			}
			dst = append(dst, key+"$"+m.str(r.lien)+"$"+b01(r.fin)+"$"+strconv.Itoa(int(r.legal))+"$"+b01(r.contact)+"$"+b01(r.paiement))
		}
		return dst
	case aENTEleveMajeur:
		if vs := m.extraValues(mr, a); len(vs) > 0 {
			return m.appendStrs(dst, vs)
		}
		if v.isStudent(p) {
			if adult, ok := isAdult(m.str(mr.birthDate), v.now); ok {
				if adult {
					return append(dst, "O")
				}
				return append(dst, "N")
			}
		}
		return dst
	case aENTAuxPersRelEleveEleve:
		for _, c := range at(m.refs, p.children) {
			if v.personVisible(c) {
				dst = append(dst, m.personDN(c))
			}
		}
		return dst
	case aIsMemberOf, aMemberOf:
		for _, ms := range at(m.members, p.members) {
			dst = append(dst, m.groups[ms.group].dn)
		}
		for _, g := range at(m.refs, p.profGroups) {
			dst = append(dst, m.groups[g].dn)
		}
		return dst
	case aEntryUUID:
		return append(dst, uuidFor("person", m.str(p.id)))
	case aCreateTimestamp:
		if p.created > 0 {
			dst = append(dst, genTime(p.created))
		}
		return dst
	case aModifyTimestamp:
		if p.modified > 0 {
			dst = append(dst, genTime(p.modified))
		}
		return dst
	}
	if attrTypes[a].extra {
		vs := m.extraValues(mr, a)
		if attrTypes[a].structPrefixed {
			for _, x := range vs {
				dst = append(dst, m.prefixStruct(m.str(x)))
			}
			return dst
		}
		return m.appendStrs(dst, vs)
	}
	return dst
}

func (m *model) extraValues(mr *personMore, a attrID) []sref {
	for _, e := range at(m.extras, mr.extra) {
		if e.attr == a {
			return at(m.strs, e.vals)
		}
	}
	return nil
}

func (m *model) appendStrs(dst []string, rs []sref) []string {
	for _, r := range rs {
		dst = append(dst, m.str(r))
	}
	return dst
}

// prefixStruct turns the AAF form "<structure AAF id>$rest" into the SDET
// form "<structure DN>$rest"; other values are kept as delivered.
func (m *model) prefixStruct(x string) string {
	j := strings.IndexByte(x, '$')
	if j <= 0 {
		return x
	}
	if si, ok := m.byAAFStr[x[:j]]; ok {
		return m.structs[si].dn + x[j:]
	}
	return x
}

func (v *view) isStudent(p *person) bool {
	for _, ps := range at(v.m.personas, p.personas) {
		if nationals[ps.profile].profile == directory.ProfileEleve {
			return true
		}
	}
	return p.personas.n == 0
}

func b01(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// isAdult computes ENTEleveMajeur from a YYYY-MM-DD birth date.
func isAdult(birth string, now int64) (bool, bool) {
	t, err := time.Parse("2006-01-02", birth)
	if err != nil {
		return false, false
	}
	return !time.Unix(now, 0).UTC().Before(t.AddDate(18, 0, 0)), true
}
