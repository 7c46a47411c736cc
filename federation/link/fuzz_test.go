package link

import (
	"strings"
	"testing"
)

// FuzzParseVector feeds arbitrary FrEduCtRefId values to the vector parser.
func FuzzParseVector(f *testing.F) {
	for _, s := range []string{"{AAF}02|x|2397001", "ECT-ENT2", "{AAF}||", "{AAF}14|a|b|c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		a, ok := parseVector(v)
		if ok && (a.id == "" || strings.Contains(a.id, "|")) {
			t.Fatalf("parseVector(%q) = %+v", v, a)
		}
		for _, k := range expandKeys([]string{"{id}", "{academie}-{id}"}, a, Academies) {
			if ok && !strings.Contains(k, a.id) {
				t.Fatalf("key %q lost the id %q", k, a.id)
			}
		}
	})
}
