// Package idmap holds a map keyed by AAF ids that stays small at académie
// scale.
package idmap

import "strconv"

// Map is a map keyed by AAF id, compact for the ids exports use: decimal
// numbers are kept as uint64 keys, about 20 bytes an entry against 60 for
// a string key and its separately allocated bytes; any other id (letters,
// a leading zero that a number would lose) goes to a string map. Memory
// matters here: the check keeps every id of a delivery and every id its
// records reference, the import every stored checksum, and a large
// académie has two million of each. The zero value is ready to use.
type Map[V any] struct {
	num map[uint64]V
	str map[string]V
}

// numericID reports whether id is a canonical decimal number that fits a
// uint64, so that formatting the number gives id back.
func numericID(id string) (uint64, bool) {
	if len(id) == 0 || len(id) > 19 || (id[0] == '0' && len(id) > 1) {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

func (m *Map[V]) Get(id string) (V, bool) {
	if n, ok := numericID(id); ok {
		v, ok := m.num[n]
		return v, ok
	}
	v, ok := m.str[id]
	return v, ok
}

func (m *Map[V]) Has(id string) bool {
	_, ok := m.Get(id)
	return ok
}

func (m *Map[V]) Set(id string, v V) {
	if n, ok := numericID(id); ok {
		if m.num == nil {
			m.num = map[uint64]V{}
		}
		m.num[n] = v
		return
	}
	if m.str == nil {
		m.str = map[string]V{}
	}
	m.str[id] = v
}

func (m *Map[V]) Len() int { return len(m.num) + len(m.str) }

// Each calls fn for every entry, in no particular order.
func (m *Map[V]) Each(fn func(id string, v V)) {
	for n, v := range m.num {
		fn(strconv.FormatUint(n, 10), v)
	}
	for id, v := range m.str {
		fn(id, v)
	}
}
