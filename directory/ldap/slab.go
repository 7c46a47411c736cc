package ldap

import (
	"hash/maphash"
	"math/bits"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// The read model keeps persons free of pointers: their strings are
// (offset, length) pairs into one byte slab, their lists runs of flat
// arrays of pointer-free structs, their indexes open-addressing tables of
// integers. The garbage collector then neither marks nor scans the bulk of
// a model (a few large noscan arrays instead of millions of small
// objects), which every collection cycle paid for before, and which
// dominated the CPU of a process serving 100,000 students.

// str returns the string r of the slab, without copying.
//
// unsafe.String is sound here because the slab is never written once
// buildModel has set it (the model is immutable and a rebuild makes a new
// slab): the strings handed out are as immutable as Go's. They keep the
// whole slab alive, like any substring keeps its string's bytes.
func (m *model) str(r sref) string { return slabString(m.slab, r) }

func slabString(slab []byte, r sref) string {
	if r.n == 0 {
		return ""
	}
	return unsafe.String(&slab[r.off], int(r.n))
}

// slabBuilder appends the strings of a model being built, interning the
// values that repeat (names, functions, subjects, lien values…).
type slabBuilder struct {
	b    []byte
	seen map[string]sref
}

func newSlabBuilder() *slabBuilder { return &slabBuilder{seen: map[string]sref{}} }

// add appends s, for values unique to one person (ids, logins, mails).
func (b *slabBuilder) add(s string) sref {
	if s == "" {
		return sref{}
	}
	r := sref{uint32(len(b.b)), uint32(len(s))}
	b.b = append(b.b, s...)
	return r
}

// intern appends s unless an equal value is already in the slab.
func (b *slabBuilder) intern(s string) sref {
	if s == "" {
		return sref{}
	}
	if r, ok := b.seen[s]; ok {
		return r
	}
	r := b.add(s)
	b.seen[s] = r
	return r
}

// str reads the slab being built (a copy-free view that appends may
// leave behind: only for comparisons made during the build).
func (b *slabBuilder) str(r sref) string { return slabString(b.b, r) }

// addStrs interns vs into model.strs.
func (m *model) addStrs(b *slabBuilder, vs []string) span {
	if len(vs) == 0 {
		return span{}
	}
	s := span{uint32(len(m.strs)), uint32(len(vs))}
	for _, v := range vs {
		m.strs = append(m.strs, b.intern(v))
	}
	return s
}

// owned is a record of a person's list as the store's walks deliver it,
// in no particular order of persons.
type owned[T any] struct {
	pi int32
	x  T
}

// flatten lays recs out person by person (keeping each person's records
// in walk order) and gives each person its run.
func flatten[T any](persons []person, recs []owned[T], set func(p *person, s span)) []T {
	if len(recs) == 0 {
		return nil
	}
	start := make([]uint32, len(persons)+1)
	for _, r := range recs {
		start[r.pi+1]++
	}
	for i := 1; i < len(start); i++ {
		start[i] += start[i-1]
	}
	out := make([]T, len(recs))
	next := start[:len(persons)]
	for i := range persons {
		if n := start[i+1] - start[i]; n > 0 {
			set(&persons[i], span{start[i], n})
		}
	}
	for _, r := range recs {
		out[next[r.pi]] = r.x
		next[r.pi]++
	}
	return out
}

// ixKind names what a personIndex is keyed by.
type ixKind uint8

const (
	ixUID ixKind = iota
	ixLogin
	ixJointure
	ixMail
)

// personIndex maps a lower-case key to persons: an open-addressing table
// (linear probing, at most two thirds full) of slots holding the key's hash in
// the high 32 bits and the person index + 1 in the low ones, 0 when free.
// The key itself is not stored: a candidate whose hash matches is checked
// against the person's string in the slab.
type personIndex struct {
	seed  maphash.Seed
	slots []uint64
}

// keyOf returns the indexed (not lower-cased) string of person i, or of
// its jointure's id part, in slab.
func (m *model) keyOf(slab []byte, k ixKind, i int32) string {
	p := &m.persons[i]
	switch k {
	case ixUID:
		return slabString(slab, p.id)
	case ixLogin:
		return slabString(slab, p.login)
	case ixMail:
		return slabString(slab, p.mail)
	}
	if p.aafID.n != 0 {
		return slabString(slab, p.aafID)
	}
	return slabString(slab, p.id)
}

// keyIs reports whether key is the lower-case key of person i.
func (m *model) keyIs(slab []byte, k ixKind, i int32, key string) bool {
	if k == ixJointure {
		prefix := "ent$"
		if m.persons[i].aafID.n != 0 {
			prefix = m.jointureLower
		}
		if !strings.HasPrefix(key, prefix) {
			return false
		}
		key = key[len(prefix):]
	}
	return isLower(key, m.keyOf(slab, k, i))
}

// isLower reports whether key == strings.ToLower(s), without allocating
// for ASCII s.
func isLower(key, s string) bool {
	if !isASCII(s) {
		return key == strings.ToLower(s)
	}
	if len(key) != len(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if key[i] != c {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// index builds the index k of the n persons of m, whose strings are in
// b. A later person replaces an earlier one with the same key (as a map
// assignment would), except for mail, which keeps them all.
func (b *slabBuilder) index(m *model, n int, k ixKind) personIndex {
	size := 1 << bits.Len(uint(n+n/2)) // at most two thirds full
	ix := personIndex{seed: maphash.MakeSeed(), slots: make([]uint64, size)}
	mask := uint64(size - 1)
	for i := 0; i < n; i++ {
		var key string
		switch {
		case k == ixJointure:
			if m.persons[i].aafID.n != 0 {
				key = m.jointureLower + strings.ToLower(b.str(m.persons[i].aafID))
			} else {
				key = "ent$" + strings.ToLower(b.str(m.persons[i].id))
			}
		case k == ixUID:
			key = strings.ToLower(m.keyOf(b.b, k, int32(i)))
		default:
			s := m.keyOf(b.b, k, int32(i))
			if s == "" {
				continue // no login, no mail: not indexed
			}
			key = strings.ToLower(s)
		}
		h := maphash.String(ix.seed, key)
		tag := h &^ 0xffffffff
		slot := uint64(i + 1)
		for j := h & mask; ; j = (j + 1) & mask {
			e := ix.slots[j]
			if e == 0 {
				ix.slots[j] = tag | slot
				break
			}
			if k != ixMail && e&^0xffffffff == tag && m.keyIs(b.b, k, int32(e&0xffffffff)-1, key) {
				ix.slots[j] = tag | slot
				break
			}
		}
	}
	return ix
}

// each calls fn with the persons with key (lower-case), in person order
// (linear probing keeps equal keys in insertion order), until fn returns
// false; slab holds the persons' strings.
func (ix *personIndex) each(m *model, slab []byte, k ixKind, key string, fn func(i int32) bool) {
	if len(ix.slots) == 0 {
		return
	}
	h := maphash.String(ix.seed, key)
	tag := h &^ 0xffffffff
	mask := uint64(len(ix.slots) - 1)
	for j := h & mask; ; j = (j + 1) & mask {
		e := ix.slots[j]
		if e == 0 {
			return
		}
		if i := int32(e&0xffffffff) - 1; e&^0xffffffff == tag && m.keyIs(slab, k, i, key) && !fn(i) {
			return
		}
	}
}

// find returns the person with key (lower-case).
func (ix *personIndex) find(m *model, slab []byte, k ixKind, key string) (found int32, ok bool) {
	ix.each(m, slab, k, key, func(i int32) bool {
		found, ok = i, true
		return false
	})
	return found, ok
}

// findAll appends to dst the ordinals of the persons with key, in order.
func (ix *personIndex) findAll(m *model, k ixKind, key string, dst []uint32) []uint32 {
	ix.each(m, m.slab, k, key, func(i int32) bool {
		dst = append(dst, m.personOrd(i))
		return true
	})
	return dst
}

// personByUID, personByLogin and personByJointure look a person up by the
// lower-case value.
func (m *model) personByUID(key string) (int32, bool) { return m.byUID.find(m, m.slab, ixUID, key) }

func (m *model) personByLogin(key string) (int32, bool) {
	return m.byLogin.find(m, m.slab, ixLogin, key)
}

func (m *model) personByJointure(key string) (int32, bool) {
	return m.byJointure.find(m, m.slab, ixJointure, key)
}
