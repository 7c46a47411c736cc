package ldap

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Filters (RFC 4511 §4.5.1.7) are decoded straight from BER into a tree
// compiled against one view: attribute names resolved, assertion values
// normalised for the attribute's matching rule, DN assertions resolved to
// entry ordinals. Evaluation is three-valued.

type fop uint8

const (
	fAnd fop = iota
	fOr
	fNot
	fEq
	fSub
	fGE
	fLE
	fPresent
	fApprox
	fExt
	fUndef // unknown or unreadable attribute, unusable assertion
)

type tri uint8

const (
	tFalse tri = iota
	tTrue
	tUndef
)

type filter struct {
	op      fop
	kids    []filter
	at      *attrType
	rule    match
	raw     string
	norm    string
	ref     int64 // DN assertion resolved to an ordinal, -1 when it names no entry
	oc      int   // objectClass assertion: class id, -1 unknown
	sub     *substrings
	dnAttrs bool
	anyAttr bool // extensible match without a type
}

type substrings struct {
	initial, final string
	any            []string
}

// filterLimits bounds what a client may send.
type filterLimits struct {
	maxDepth, maxNodes int
}

var errFilterTooComplex = errors.New("filter too complex")

type filterDecoder struct {
	v      *view
	limits filterLimits
	nodes  int
}

// decodeFilter decodes and compiles the filter element (tag, content).
func (d *filterDecoder) decode(tag byte, c []byte, depth int) (filter, error) {
	d.nodes++
	if d.nodes > d.limits.maxNodes {
		return filter{}, fmt.Errorf("%w: more than %d items", errFilterTooComplex, d.limits.maxNodes)
	}
	if depth > d.limits.maxDepth {
		return filter{}, fmt.Errorf("%w: nested deeper than %d", errFilterTooComplex, d.limits.maxDepth)
	}
	switch tag {
	case ctxC0, classContext | constructed | 1: // and, or
		f := filter{op: fAnd}
		if tag&0x1f == 1 {
			f.op = fOr
		}
		r := berReader{c}
		for !r.empty() {
			t, cc, err := r.next()
			if err != nil {
				return filter{}, fmt.Errorf("filter: %w", err)
			}
			k, err := d.decode(t, cc, depth+1)
			if err != nil {
				return filter{}, err
			}
			f.kids = append(f.kids, k)
		}
		return f, nil
	case classContext | constructed | 2: // not
		r := berReader{c}
		t, cc, err := r.next()
		if err != nil {
			return filter{}, fmt.Errorf("filter: not: %w", err)
		}
		if !r.empty() {
			return filter{}, fmt.Errorf("%w: filter: not with more than one item", errBER)
		}
		k, err := d.decode(t, cc, depth+1)
		if err != nil {
			return filter{}, err
		}
		return filter{op: fNot, kids: []filter{k}}, nil
	case classContext | constructed | 3, classContext | constructed | 5, classContext | constructed | 6, classContext | constructed | 8:
		r := berReader{c}
		desc, err := r.expect(tagOctetString, "filter: attribute description")
		if err != nil {
			return filter{}, err
		}
		val, err := r.expect(tagOctetString, "filter: assertion value")
		if err != nil {
			return filter{}, err
		}
		op := map[byte]fop{3: fEq, 5: fGE, 6: fLE, 8: fApprox}[tag&0x1f]
		return d.compileAVA(op, string(desc), string(val)), nil
	case classContext | constructed | 4:
		return d.decodeSubstrings(c)
	case classContext | 7: // present
		return d.compilePresent(string(c)), nil
	case classContext | constructed | 9:
		return d.decodeExtensible(c)
	}
	return filter{}, fmt.Errorf("%w: filter: unknown choice 0x%02x", errBER, tag)
}

// attrFor resolves an attribute description for a filter item; nil when
// unknown, with options, or unreadable by the identity (so that a filter
// cannot probe values the identity may not read).
func (d *filterDecoder) attrFor(desc string) *attrType {
	if strings.IndexByte(desc, ';') >= 0 {
		return nil
	}
	at := lookupAttr(desc)
	if at == nil || !d.v.acc.canReadAttr(at.id) {
		return nil
	}
	return at
}

func (d *filterDecoder) compilePresent(desc string) filter {
	at := d.attrFor(desc)
	if at == nil {
		return filter{op: fUndef}
	}
	return filter{op: fPresent, at: at}
}

func (d *filterDecoder) compileAVA(op fop, desc, val string) filter {
	at := d.attrFor(desc)
	if at == nil {
		return filter{op: fUndef}
	}
	if op == fApprox {
		op = fEq
	}
	f := filter{op: op, at: at, rule: at.match, raw: val, ref: -1, oc: -1}
	if !d.normalise(&f) {
		return filter{op: fUndef}
	}
	if op != fEq && (f.rule == mDN || f.rule == mOID) {
		return filter{op: fUndef} // no ordering rule
	}
	return f
}

// normalise prepares f.norm (and f.ref / f.oc) for f.rule; false when the
// value cannot be an assertion for that rule.
func (d *filterDecoder) normalise(f *filter) bool {
	switch f.rule {
	case mCaseIgnore:
		f.norm = normIgnore(f.raw)
	case mCaseExact:
		f.norm = collapseSpaces(f.raw)
	case mTel:
		f.norm = normTel(f.raw)
	case mOID:
		f.norm = strings.ToLower(strings.TrimSpace(f.raw))
		if id, ok := ocByName[f.norm]; ok {
			f.oc = int(id)
			f.norm = strings.ToLower(objectClasses[id].name)
		}
	case mDN:
		n, ok := normDN(f.raw)
		if !ok {
			return false
		}
		f.norm = n
		if ord, ok := d.v.m.resolveString(f.raw); ok {
			f.ref = int64(ord)
		}
	case mTime:
		t, ok := parseGeneralizedTime(f.raw)
		if !ok {
			return false
		}
		f.norm = t
	case mInteger:
		if _, err := strconv.ParseInt(strings.TrimSpace(f.raw), 10, 64); err != nil {
			return false
		}
		f.norm = strings.TrimSpace(f.raw)
	}
	return true
}

func (d *filterDecoder) decodeSubstrings(c []byte) (filter, error) {
	r := berReader{c}
	desc, err := r.expect(tagOctetString, "filter: substrings type")
	if err != nil {
		return filter{}, err
	}
	seq, err := r.expect(tagSequence, "filter: substrings")
	if err != nil {
		return filter{}, err
	}
	s := &substrings{}
	sr := berReader{seq}
	n := 0
	for !sr.empty() {
		t, v, err := sr.next()
		if err != nil {
			return filter{}, fmt.Errorf("filter: substrings: %w", err)
		}
		d.nodes++
		if d.nodes > d.limits.maxNodes {
			return filter{}, fmt.Errorf("%w: more than %d items", errFilterTooComplex, d.limits.maxNodes)
		}
		switch t {
		case ctx0:
			if n != 0 {
				return filter{}, fmt.Errorf("%w: substrings: initial must come first", errBER)
			}
			s.initial = string(v)
		case classContext | 1:
			s.any = append(s.any, string(v))
		case classContext | 2:
			if !sr.empty() {
				return filter{}, fmt.Errorf("%w: substrings: final must come last", errBER)
			}
			s.final = string(v)
		default:
			return filter{}, fmt.Errorf("%w: substrings: unknown choice 0x%02x", errBER, t)
		}
		n++
	}
	if n == 0 {
		return filter{}, fmt.Errorf("%w: substrings: no substring", errBER)
	}
	at := d.attrFor(string(desc))
	if at == nil || at.match == mOID || at.match == mInteger || at.match == mTime {
		return filter{op: fUndef}, nil
	}
	f := filter{op: fSub, at: at, rule: at.match, sub: s, ref: -1, oc: -1}
	norm := func(x string) string { return substrNorm(at.match, x) }
	s.initial, s.final = norm(s.initial), norm(s.final)
	for i := range s.any {
		s.any[i] = norm(s.any[i])
	}
	return f, nil
}

func (d *filterDecoder) decodeExtensible(c []byte) (filter, error) {
	r := berReader{c}
	var rule, typ, val string
	var dnAttrs, haveVal bool
	for !r.empty() {
		t, v, err := r.next()
		if err != nil {
			return filter{}, fmt.Errorf("filter: extensible: %w", err)
		}
		switch t {
		case classContext | 1:
			rule = string(v)
		case classContext | 2:
			typ = string(v)
		case classContext | 3:
			val, haveVal = string(v), true
		case classContext | 4:
			b, err := parseBool(v)
			if err != nil {
				return filter{}, fmt.Errorf("filter: extensible dnAttributes: %w", err)
			}
			dnAttrs = b
		default:
			return filter{}, fmt.Errorf("%w: extensible: unknown element 0x%02x", errBER, t)
		}
	}
	if !haveVal || (rule == "" && typ == "") {
		return filter{}, fmt.Errorf("%w: extensible match needs a value and a rule or a type", errBER)
	}
	f := filter{op: fExt, raw: val, dnAttrs: dnAttrs, ref: -1, oc: -1}
	if typ != "" {
		f.at = d.attrFor(typ)
		if f.at == nil {
			return filter{op: fUndef}, nil
		}
		f.rule = f.at.match
	} else {
		f.anyAttr = true
	}
	if rule != "" {
		k, ok := ruleByName[strings.ToLower(rule)]
		if !ok {
			return filter{op: fUndef}, nil
		}
		f.rule = k
	}
	if !d.normalise(&f) {
		return filter{op: fUndef}, nil
	}
	return f, nil
}

// eval evaluates f on entry ord. scratch is reused between calls.
func (v *view) eval(f *filter, ord uint32, scratch *[]string) tri {
	switch f.op {
	case fAnd:
		res := tTrue
		for i := range f.kids {
			switch v.eval(&f.kids[i], ord, scratch) {
			case tFalse:
				return tFalse
			case tUndef:
				res = tUndef
			}
		}
		return res
	case fOr:
		res := tFalse
		for i := range f.kids {
			switch v.eval(&f.kids[i], ord, scratch) {
			case tTrue:
				return tTrue
			case tUndef:
				res = tUndef
			}
		}
		return res
	case fNot:
		switch v.eval(&f.kids[0], ord, scratch) {
		case tTrue:
			return tFalse
		case tFalse:
			return tTrue
		}
		return tUndef
	case fUndef:
		return tUndef
	case fPresent:
		if f.at.id == aObjectClass {
			return tTrue
		}
		vals := v.values((*scratch)[:0], ord, f.at.id)
		*scratch = vals
		return boolTri(len(vals) > 0)
	case fEq:
		if f.at.id == aObjectClass {
			return boolTri(v.hasClass(ord, f))
		}
		if f.at.match == mDN {
			if r, ok := v.refEqual(f, ord); ok {
				return r
			}
		}
		vals := v.values((*scratch)[:0], ord, f.at.id)
		*scratch = vals
		for _, x := range vals {
			if valueEqual(f.rule, x, f.norm) {
				return tTrue
			}
		}
		return tFalse
	case fGE, fLE:
		vals := v.values((*scratch)[:0], ord, f.at.id)
		*scratch = vals
		res := tFalse
		for _, x := range vals {
			c, ok := compareValues(f.rule, x, f.norm)
			if !ok {
				res = tUndef
				continue
			}
			if f.op == fGE && c >= 0 || f.op == fLE && c <= 0 {
				return tTrue
			}
		}
		return res
	case fSub:
		vals := v.values((*scratch)[:0], ord, f.at.id)
		*scratch = vals
		for _, x := range vals {
			if substrMatch(f.sub, substrNorm(f.rule, x)) {
				return tTrue
			}
		}
		return tFalse
	case fExt:
		return v.evalExt(f, ord, scratch)
	}
	return tUndef
}

func boolTri(b bool) tri {
	if b {
		return tTrue
	}
	return tFalse
}

// hasClass answers (objectClass=X) without rendering values.
func (v *view) hasClass(ord uint32, f *filter) bool {
	if ord >= ordRootDSE {
		for _, n := range v.specialValues(nil, ord, aObjectClass) {
			if strings.EqualFold(n, f.norm) {
				return true
			}
		}
		return false
	}
	var buf [12]ocID
	for _, oc := range v.objectClassesOf(ord, buf[:0]) {
		if f.oc >= 0 {
			if int(oc) == f.oc {
				return true
			}
		} else if strings.EqualFold(objectClasses[oc].name, f.norm) {
			return true
		}
	}
	return false
}

// refEqual answers equality on the DN-valued attributes the model stores
// as references, comparing ordinals instead of strings.
func (v *view) refEqual(f *filter, ord uint32) (tri, bool) {
	m := v.m
	k, i := m.locate(ord)
	if f.ref < 0 {
		switch {
		case k == kGroup && f.at.id == aMember, k == kPerson && (f.at.id == aIsMemberOf || f.at.id == aMemberOf ||
			f.at.id == aENTPersonStructRattach || f.at.id == aENTAuxPersRelEleveEleve):
			return tFalse, true
		}
		return 0, false
	}
	rk, ri := m.locate(uint32(f.ref))
	switch {
	case k == kGroup && f.at.id == aMember:
		return boolTri(rk == kPerson && contains32(m.groups[i].members, ri) && v.personVisible(ri)), true
	case k == kPerson && (f.at.id == aIsMemberOf || f.at.id == aMemberOf):
		if rk != kGroup {
			return tFalse, true
		}
		p := &m.persons[i]
		for _, ms := range at(m.members, p.members) {
			if ms.group == ri {
				return tTrue, true
			}
		}
		for _, g := range at(m.refs, p.profGroups) {
			if g == ri {
				return tTrue, true
			}
		}
		return tFalse, true
	case k == kPerson && f.at.id == aENTPersonStructRattach:
		return boolTri(rk == kStructure && m.persons[i].rattach == ri), true
	case k == kPerson && f.at.id == aENTAuxPersRelEleveEleve:
		if rk != kPerson || !v.personVisible(ri) {
			return tFalse, true
		}
		for _, c := range at(m.refs, m.persons[i].children) {
			if c == ri {
				return tTrue, true
			}
		}
		return tFalse, true
	}
	return 0, false
}

func (v *view) evalExt(f *filter, ord uint32, scratch *[]string) tri {
	test := func(x string) bool {
		switch f.rule {
		case mDN:
			n, ok := normDN(x)
			return ok && n == f.norm
		case mOID:
			return strings.EqualFold(strings.TrimSpace(x), f.norm)
		}
		return valueEqual(f.rule, x, f.norm)
	}
	if f.anyAttr {
		for id := attrID(0); id < aEntryUUID; id++ {
			if !v.acc.canReadAttr(id) {
				continue
			}
			vals := v.values((*scratch)[:0], ord, id)
			*scratch = vals
			for _, x := range vals {
				if test(x) {
					return tTrue
				}
			}
		}
	} else {
		vals := v.values((*scratch)[:0], ord, f.at.id)
		*scratch = vals
		for _, x := range vals {
			if test(x) {
				return tTrue
			}
		}
	}
	if f.dnAttrs {
		rdns, err := parseDN(v.dn(ord))
		if err == nil {
			for _, r := range rdns {
				if (f.anyAttr || r.typ == f.at.name) && test(r.val) {
					return tTrue
				}
			}
		}
	}
	return tFalse
}

// normIgnore lower-cases and removes insignificant spaces (RFC 4518,
// simplified: leading, trailing and repeated spaces).
func normIgnore(s string) string {
	return collapseSpaces(strings.ToLower(s))
}

func collapseSpaces(s string) string {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	sp := false
	for _, r := range s {
		if r == ' ' {
			if sp {
				continue
			}
			sp = true
		} else {
			sp = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

func normTel(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == ' ' || r == '-' {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

func substrNorm(k match, s string) string {
	switch k {
	case mCaseExact:
		return collapseSpaces(s)
	case mTel:
		return normTel(s)
	}
	return normIgnore(s)
}

// valueEqual compares a stored value with a normalised assertion.
func valueEqual(k match, v, norm string) bool {
	switch k {
	case mCaseIgnore:
		return foldEqualNorm(v, norm)
	case mCaseExact:
		return v == norm || collapseSpaces(v) == norm
	case mTel:
		return normTel(v) == norm
	case mDN:
		n, ok := normDN(v)
		return ok && n == norm
	case mOID:
		return strings.EqualFold(v, norm)
	case mTime:
		t, ok := parseGeneralizedTime(v)
		return ok && t == norm
	case mInteger:
		return strings.TrimSpace(v) == norm
	}
	return false
}

// foldEqualNorm reports whether v, lower-cased with insignificant spaces
// removed, equals norm; it does not allocate.
func foldEqualNorm(v, norm string) bool {
	i := 0
	for i < len(v) && v[i] == ' ' {
		i++
	}
	j := 0
	for i < len(v) {
		r, n := utf8.DecodeRuneInString(v[i:])
		i += n
		if r == ' ' {
			k := i
			for k < len(v) && v[k] == ' ' {
				k++
			}
			if k == len(v) {
				break // trailing spaces
			}
			i = k
		}
		if j >= len(norm) {
			return false
		}
		q, m := utf8.DecodeRuneInString(norm[j:])
		j += m
		if r != q && unicode.ToLower(r) != q {
			return false
		}
	}
	return j == len(norm)
}

// compareValues orders a stored value against a normalised assertion.
func compareValues(k match, v, norm string) (int, bool) {
	switch k {
	case mCaseIgnore:
		return strings.Compare(normIgnore(v), norm), true
	case mCaseExact:
		return strings.Compare(collapseSpaces(v), norm), true
	case mTel:
		return strings.Compare(normTel(v), norm), true
	case mTime:
		t, ok := parseGeneralizedTime(v)
		if !ok {
			return 0, false
		}
		return strings.Compare(t, norm), true
	case mInteger:
		a, err1 := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		b, err2 := strconv.ParseInt(norm, 10, 64)
		if err1 != nil || err2 != nil {
			return 0, false
		}
		switch {
		case a < b:
			return -1, true
		case a > b:
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

func substrMatch(s *substrings, v string) bool {
	if !strings.HasPrefix(v, s.initial) {
		return false
	}
	v = v[len(s.initial):]
	for _, a := range s.any {
		i := strings.Index(v, a)
		if i < 0 {
			return false
		}
		v = v[i+len(a):]
	}
	return strings.HasSuffix(v, s.final)
}

// parseGeneralizedTime canonicalises a GeneralizedTime to UTC
// YYYYMMDDHHMMSSZ (fractions dropped).
func parseGeneralizedTime(s string) (string, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"20060102150405Z0700", "20060102150405.999999999Z0700", "200601021504Z0700", "2006010215Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Format(timeFormat), true
		}
	}
	return "", false
}

// plan returns the candidate ordinals for f from the indexes, sorted, or
// ok=false when f needs a scan. A candidate still goes through eval. The
// slice is new (never an index of the model): the caller may modify it.
func (v *view) plan(f *filter) ([]uint32, bool) {
	m := v.m
	switch f.op {
	case fEq:
		key := f.norm
		switch f.at.id {
		case aUID:
			if i, ok := m.personByUID(key); ok {
				return []uint32{m.personOrd(i)}, true
			}
			return nil, true
		case aENTPersonLogin:
			if i, ok := m.personByLogin(key); ok {
				return []uint32{m.personOrd(i)}, true
			}
			return nil, true
		case aENTPersonJointure:
			if i, ok := m.personByJointure(key); ok {
				return []uint32{m.personOrd(i)}, true
			}
			return nil, true
		case aMail:
			return m.byMail.findAll(m, ixMail, key, nil), true
		case aENTStructureUAI:
			if i, ok := m.byUAI[key]; ok {
				return []uint32{m.structOrd(i)}, true
			}
			return nil, true
		case aCN:
			// Group cns are indexed; persons' cn is not, so this only
			// helps when the scope is ou=groups (see search).
			return nil, false
		case aMember:
			if f.ref < 0 {
				return nil, true
			}
			if k, i := m.locate(uint32(f.ref)); k == kPerson {
				p := &m.persons[i]
				out := make([]uint32, 0, p.members.n+p.profGroups.n)
				for _, ms := range at(m.members, p.members) {
					out = append(out, m.groupOrd(ms.group))
				}
				for _, g := range at(m.refs, p.profGroups) {
					out = append(out, m.groupOrd(g))
				}
				return sortOrds(out), true
			}
			return nil, true
		case aIsMemberOf, aMemberOf:
			if f.ref < 0 {
				return nil, true
			}
			if k, i := m.locate(uint32(f.ref)); k == kGroup {
				g := &m.groups[i]
				out := make([]uint32, len(g.members))
				for j, pi := range g.members {
					out[j] = m.personOrd(pi)
				}
				return out, true
			}
			return nil, true
		case aENTPersonStructRattach:
			if f.ref < 0 {
				return nil, true
			}
			if k, i := m.locate(uint32(f.ref)); k == kStructure {
				s := &m.structs[i]
				out := make([]uint32, len(s.rattached))
				for j, pi := range s.rattached {
					out[j] = m.personOrd(pi)
				}
				return out, true
			}
			return nil, true
		case aENTAuxPersRelEleveEleve:
			if f.ref < 0 {
				return nil, true
			}
			if k, i := m.locate(uint32(f.ref)); k == kPerson {
				var out []uint32
				for _, r := range at(m.rels, m.persons[i].rels) {
					out = append(out, m.personOrd(r.parent))
				}
				return sortOrds(out), true
			}
			return nil, true
		}
	case fAnd:
		var best []uint32
		found := false
		for i := range f.kids {
			c, ok := v.plan(&f.kids[i])
			if ok && (!found || len(c) < len(best)) {
				best, found = c, true
			}
		}
		return best, found
	case fOr:
		var all []uint32
		for i := range f.kids {
			c, ok := v.plan(&f.kids[i])
			if !ok {
				return nil, false
			}
			all = append(all, c...)
		}
		return sortOrds(all), true
	}
	return nil, false
}

func sortOrds(s []uint32) []uint32 {
	if len(s) < 2 {
		return s
	}
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	out := s[:1]
	for _, x := range s[1:] {
		if x != out[len(out)-1] {
			out = append(out, x)
		}
	}
	return out
}
