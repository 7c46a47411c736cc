package idmap

import "testing"

// An id keeps its identity whichever way it is stored: "0123" and "123"
// are different AAF ids, and each comes back as it went in.
func TestMapKeepsIDsApart(t *testing.T) {
	var m Map[int]
	ids := []string{"123", "0123", "0", "00", "18446744073709551615", "99999999999999999999", "abc", "12a", ""}
	for i, id := range ids {
		m.Set(id, i)
	}
	if m.Len() != len(ids) {
		t.Fatalf("len = %d, want %d", m.Len(), len(ids))
	}
	for i, id := range ids {
		if v, ok := m.Get(id); !ok || v != i {
			t.Errorf("get(%q) = %d, %v; want %d", id, v, ok, i)
		}
	}
	seen := map[string]int{}
	m.Each(func(id string, v int) { seen[id] = v })
	for i, id := range ids {
		if seen[id] != i {
			t.Errorf("each gave %q → %d, want %d", id, seen[id], i)
		}
	}
	if m.Has("124") || m.Has("1230") {
		t.Error("has() found an id never set")
	}
}
