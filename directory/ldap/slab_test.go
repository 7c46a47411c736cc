package ldap

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestPersonIndex checks the pointer-free indexes against what the maps
// they replaced answered: case-insensitive keys (non-ASCII included), a
// later person winning a shared uid/login/jointure, every person of a
// shared mail in person order, nothing for an absent or empty key.
func TestPersonIndex(t *testing.T) {
	type in struct{ id, login, aafID, mail string }
	persons := []in{
		{"p0", "Jean.Dupont", "100", "Shared@Example.org"},
		{"p1", "", "", "shared@example.org"},
		{"Élève-2", "élève.deux", "", ""},
		{"p3", "jean.dupont", "101", "SHARED@EXAMPLE.ORG"},
		{"100", "x", "", "solo@example.org"}, // ENT$100 is not AAF$100
	}
	m := &model{jointure: "AAF"}
	b := newSlabBuilder()
	for _, p := range persons {
		m.persons = append(m.persons, person{id: b.add(p.id), login: b.add(p.login), aafID: b.add(p.aafID), mail: b.add(p.mail)})
	}
	m.jointureLower = strings.ToLower(m.jointure + "$")
	m.byUID = b.index(m, len(m.persons), ixUID)
	m.byLogin = b.index(m, len(m.persons), ixLogin)
	m.byJointure = b.index(m, len(m.persons), ixJointure)
	m.byMail = b.index(m, len(m.persons), ixMail)
	m.slab = b.b

	one := func(f func(string) (int32, bool), key string) int32 {
		if i, ok := f(key); ok {
			return i
		}
		return -1
	}
	for _, tc := range []struct {
		name string
		f    func(string) (int32, bool)
		key  string
		want int32
	}{
		{"uid", m.personByUID, "p0", 0},
		{"uid, non-ASCII", m.personByUID, "élève-2", 2},
		{"uid, not lower-cased by the caller", m.personByUID, "Élève-2", -1},
		{"uid, absent", m.personByUID, "p9", -1},
		{"uid, empty", m.personByUID, "", -1},
		{"login, the later wins", m.personByLogin, "jean.dupont", 3},
		{"login, empty is not indexed", m.personByLogin, "", -1},
		{"login, non-ASCII", m.personByLogin, "élève.deux", 2},
		{"jointure, AAF", m.personByJointure, "aaf$101", 3},
		{"jointure, ENT", m.personByJointure, "ent$p1", 1},
		{"jointure, ENT of a numeric id", m.personByJointure, "ent$100", 4},
		{"jointure, AAF id under ENT", m.personByJointure, "ent$101", -1},
		{"jointure, non-ASCII", m.personByJointure, "ent$élève-2", 2},
	} {
		if got := one(tc.f, tc.key); got != tc.want {
			t.Errorf("%s: %q gives %d, want %d", tc.name, tc.key, got, tc.want)
		}
	}
	if got, want := m.byMail.findAll(m, ixMail, "shared@example.org", nil),
		[]uint32{m.personOrd(0), m.personOrd(1), m.personOrd(3)}; !slices.Equal(got, want) {
		t.Errorf("shared mail gives %v, want %v", got, want)
	}
	if got := m.byMail.findAll(m, ixMail, "", nil); len(got) != 0 {
		t.Errorf("empty mail gives %v, want none", got)
	}
}

// BenchmarkPersonIndex compares the open-addressing table the model uses
// with the other pointer-free layout considered, a sorted array of
// (hash, person) searched by bisection, on 270,000 uids (the persons of
// 100,000 students) looked up in random order.
func BenchmarkPersonIndex(b *testing.B) {
	const n = 270000
	m := &model{}
	sb := newSlabBuilder()
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%08x-0000-4000-8000-%012x", i*2654435761%(1<<32), i)
		m.persons = append(m.persons, person{id: sb.add(keys[i])})
	}
	m.byUID = sb.index(m, n, ixUID)
	m.slab = sb.b
	order := rand.New(rand.NewPCG(1, 2)).Perm(n)
	b.Run("open-addressing", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, ok := m.personByUID(keys[order[i%n]]); !ok {
				b.Fatal("not found")
			}
		}
	})
	b.Run("sorted", func(b *testing.B) {
		seed := maphash.MakeSeed()
		sorted := make([]uint64, n)
		for i, k := range keys {
			sorted[i] = maphash.String(seed, k)&^0xffffffff | uint64(i)
		}
		slices.Sort(sorted)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			key := keys[order[i%n]]
			h := maphash.String(seed, key) &^ 0xffffffff
			j, _ := slices.BinarySearch(sorted, h)
			found := false
			for ; j < n && sorted[j]&^0xffffffff == h; j++ {
				if m.keyIs(m.slab, ixUID, int32(sorted[j]&0xffffffff), key) {
					found = true
					break
				}
			}
			if !found {
				b.Fatal("not found")
			}
		}
	})
	b.Run("map", func(b *testing.B) { // what the model had before
		idx := make(map[string]int32, n)
		for i, k := range keys {
			idx[strings.Clone(k)] = int32(i)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, ok := idx[keys[order[i%n]]]; !ok {
				b.Fatal("not found")
			}
		}
	})
}
