package sqlstore

import (
	"encoding/json"
	"testing"
)

// The direct encoder must write what encoding/json writes, or a stored
// column would change under an upgrade and a re-import would rewrite it.
func TestMarshalColMatchesEncodingJSON(t *testing.T) {
	for _, v := range []any{
		[]string(nil), []string{}, []string{"a", "b"},
		[]string{`quote " backslash \ tab 	 nl` + "\n\r\b\f\x00\x1f"},
		[]string{"<script>&amp;</script>", "é à ç", "\u2028\u2029", "bad \xff utf8 \xc3"},
		map[string][]string(nil), map[string][]string{},
		map[string][]string{"ENTPersonNom": {"Dupont"}, "ENTEleveClasses": {"123$3A", "123$3B"}, "empty": {}, "nil": nil},
		map[string][]string{"z": {"1"}, "a": {"2"}, "é": {"3"}, "A": {"4"}},
	} {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := marshalCol(v); got != string(want) {
			t.Errorf("marshalCol(%#v)\n got %s\nwant %s", v, got, want)
		}
	}
}

func FuzzMarshalColMatchesEncodingJSON(f *testing.F) {
	f.Add("ENTPersonNom", "Dupont", "x", "<&>\u2028\xff")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		m := map[string][]string{k1: {v1, v2}, k2: {v2}}
		want, _ := json.Marshal(m)
		if got := marshalCol(m); got != string(want) {
			t.Fatalf("map: got %s want %s", got, want)
		}
		s := []string{k1, v1, k2, v2}
		want, _ = json.Marshal(s)
		if got := marshalCol(s); got != string(want) {
			t.Fatalf("slice: got %s want %s", got, want)
		}
	})
}
