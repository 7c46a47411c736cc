package ldap

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestEncodeMatchesValues checks that the encoder's direct paths (person
// DNs, member lists, "Prénom Nom") write exactly what the generic path
// (values) gives, for every entry, under several identities, with and
// without typesOnly.
func TestEncodeMatchesValues(t *testing.T) {
	st := openStore(t)
	fillSmall(t, st)
	fillSynthetic(t, st, 300, 7)
	srv, err := NewServer(testConfig(), st, WithClock(func() time.Time { return testNow }))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	m := srv.cur.Load()
	ids := map[string]*identity{"anonymous": anonymous}
	for i := range srv.cfg.ServiceAccounts {
		sa := &srv.cfg.ServiceAccounts[i]
		ids[sa.DN] = &identity{dn: sa.DN, svc: sa, display: sa.DN}
	}
	ids["default access"] = &identity{dn: "cn=x", svc: &ServiceAccount{DN: "cn=x"}, display: "x"}
	ids["person eleve1"] = &identity{dn: m.personDN(uidIndex(m, "eleve1")), person: "eleve1", display: "eleve1"}
	ords := []uint32{ordRootDSE, ordSubschema}
	for o := uint32(0); o < m.total; o++ {
		ords = append(ords, o)
	}
	sel := attrSel{allUser: true, allOp: true}
	checked := 0
	for name, id := range ids {
		v := view{m: m, acc: srv.accessFor(id, m), now: testNow.Unix()}
		for _, typesOnly := range []bool{false, true} {
			var scratch []string
			for _, ord := range ords {
				w := berWriter{}
				v.encodeEntry(&w, 7, ord, &sel, typesOnly, &scratch)
				dn, got := decodeEntry(t, w.b)
				if want := v.entryDN(ord); dn != want {
					t.Fatalf("%s: entry %d: DN %q, want %q", name, ord, dn, want)
				}
				for a := attrID(0); a < numAttrs; a++ {
					var want []string
					if ord >= ordRootDSE || v.acc.canReadAttr(a) {
						want = v.values(nil, ord, a)
					}
					g, ok := got[attrTypes[a].name]
					if len(want) == 0 {
						if ok {
							t.Fatalf("%s: %s: %s present (%q), want absent", name, dn, attrTypes[a].name, g)
						}
						continue
					}
					if !ok {
						t.Fatalf("%s: %s: %s absent, want %q", name, dn, attrTypes[a].name, want)
					}
					if typesOnly {
						want = nil
					}
					if !slices.Equal(g, want) && !(len(g) == 0 && len(want) == 0) {
						t.Fatalf("%s: %s: %s = %q, want %q", name, dn, attrTypes[a].name, g, want)
					}
					checked++
				}
			}
		}
	}
	if checked < 10000 {
		t.Fatalf("only %d attributes checked", checked)
	}
}

// decodeEntry decodes one SearchResultEntry message.
func decodeEntry(t *testing.T, b []byte) (string, map[string][]string) {
	t.Helper()
	r := berReader{b}
	msg, err := r.expect(tagSequence, "message")
	if err != nil {
		t.Fatal(err)
	}
	mr := berReader{msg}
	if _, err := mr.expect(tagInteger, "id"); err != nil {
		t.Fatal(err)
	}
	e, err := mr.expect(opSearchEntry, "entry")
	if err != nil {
		t.Fatal(err)
	}
	er := berReader{e}
	dn, err := er.expect(tagOctetString, "dn")
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := er.expect(tagSequence, "attributes")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	ar := berReader{attrs}
	for !ar.empty() {
		a, err := ar.expect(tagSequence, "attribute")
		if err != nil {
			t.Fatal(err)
		}
		pr := berReader{a}
		typ, err := pr.expect(tagOctetString, "type")
		if err != nil {
			t.Fatal(err)
		}
		set, err := pr.expect(tagSet, "values")
		if err != nil {
			t.Fatal(err)
		}
		sr := berReader{set}
		vals := []string{}
		for !sr.empty() {
			x, err := sr.expect(tagOctetString, "value")
			if err != nil {
				t.Fatal(err)
			}
			vals = append(vals, string(x))
		}
		if _, dup := out[string(typ)]; dup {
			t.Fatalf("%s: %s twice", dn, typ)
		}
		out[string(typ)] = vals
	}
	if !r.empty() || !mr.empty() || !er.empty() {
		t.Fatalf("%s: trailing data", dn)
	}
	return string(dn), out
}

// FuzzDN checks that parseDN's fast path (values without escapes taken as
// slices) parses exactly as the general path.
func FuzzDN(f *testing.F) {
	for _, s := range []string{"uid=eleve1,ou=people,dc=enthub", " cn = a b  , ou=x ", `cn=a\,b,dc=x`, `cn="q,u",dc=x`,
		"cn=#04024869,dc=x", "a=1+b=2,c=3", "cn=,dc=x", "cn=a;dc=x", "cn=a,", "=x", `cn=\41\42 ,dc=x`, "ENTStructureUAI=0290009C,ou=structures,dc=enthub"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, errA := parseDNFast(s, true)
		b, errB := parseDNFast(s, false)
		if (errA == nil) != (errB == nil) || !slices.Equal(a, b) {
			t.Fatalf("%q: fast %#v, %v; general %#v, %v", s, a, errA, b, errB)
		}
	})
}

// uidIndex is the index of the person with id in m (0 when none, as the
// map the model had before returned).
func uidIndex(m *model, id string) int32 {
	i, _ := m.personByUID(strings.ToLower(id))
	return i
}
