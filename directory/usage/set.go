package usage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"math/bits"
)

// Set is a set of account ordinals (small dense integers the store gives
// each account the first time it is counted), as a bitmap: a year of a
// département's daily sets unions in a few milliseconds, exactly.
type Set struct {
	words []uint64
}

// Add puts ord in the set.
func (s *Set) Add(ord uint32) {
	w := int(ord / 64)
	if w >= len(s.words) {
		s.words = append(s.words, make([]uint64, w+1-len(s.words))...)
	}
	s.words[w] |= 1 << (ord % 64)
}

// Has says whether ord is in the set.
func (s *Set) Has(ord uint32) bool {
	w := int(ord / 64)
	return w < len(s.words) && s.words[w]&(1<<(ord%64)) != 0
}

// All yields the members in increasing order.
func (s *Set) All() iter.Seq[uint32] {
	return func(yield func(uint32) bool) {
		for i, w := range s.words {
			for w != 0 {
				if !yield(uint32(i*64 + bits.TrailingZeros64(w))) {
					return
				}
				w &= w - 1
			}
		}
	}
}

// Len is the number of members.
func (s *Set) Len() int64 {
	var n int
	for _, w := range s.words {
		n += bits.OnesCount64(w)
	}
	return int64(n)
}

// Or adds every member of o.
func (s *Set) Or(o *Set) {
	if len(o.words) > len(s.words) {
		s.words = append(s.words, make([]uint64, len(o.words)-len(s.words))...)
	}
	for i, w := range o.words {
		s.words[i] |= w
	}
}

// The two encodings of a stored set; Encode picks the shorter. A school's
// day is a few hundred scattered ordinals (deltas of one or two bytes);
// the département's day is a third of all accounts (a bitmap of one bit
// each is shorter).
const (
	encDeltas byte = 1 // uvarint gaps between sorted members
	encBitmap byte = 2 // little-endian 64-bit words
)

// Encode returns the set's stored form.
func (s *Set) Encode() []byte {
	n := s.Len()
	last := len(s.words)
	for last > 0 && s.words[last-1] == 0 {
		last--
	}
	if n*2 >= int64(last*8) { // a member costs two bytes or so as a delta
		out := make([]byte, 1+8*last)
		out[0] = encBitmap
		for i, w := range s.words[:last] {
			binary.LittleEndian.PutUint64(out[1+8*i:], w)
		}
		return out
	}
	out := make([]byte, 1, 1+2*n)
	out[0] = encDeltas
	prev := uint64(0)
	for i, w := range s.words[:last] {
		for w != 0 {
			b := uint64(bits.TrailingZeros64(w))
			v := uint64(i)*64 + b
			out = binary.AppendUvarint(out, v-prev)
			prev = v
			w &= w - 1
		}
	}
	return out
}

// errSet is wrapped by DecodeSet's errors.
var errSet = errors.New("stored user set is damaged")

// OrEncoded adds the members of a stored set without building it first.
func (s *Set) OrEncoded(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	switch b[0] {
	case encBitmap:
		if (len(b)-1)%8 != 0 {
			return fmt.Errorf("%w: bitmap of %d bytes", errSet, len(b)-1)
		}
		n := (len(b) - 1) / 8
		if n > len(s.words) {
			s.words = append(s.words, make([]uint64, n-len(s.words))...)
		}
		for i := range n {
			s.words[i] |= binary.LittleEndian.Uint64(b[1+8*i:])
		}
		return nil
	case encDeltas:
		v := uint64(0)
		for i := 1; i < len(b); {
			d, k := binary.Uvarint(b[i:])
			if k <= 0 {
				return fmt.Errorf("%w: bad delta at byte %d", errSet, i)
			}
			v += d
			if v > 1<<32-1 {
				return fmt.Errorf("%w: member %d out of range", errSet, v)
			}
			s.Add(uint32(v))
			i += k
		}
		return nil
	}
	return fmt.Errorf("%w: unknown encoding %d", errSet, b[0])
}

// DecodeSet reads a stored set.
func DecodeSet(b []byte) (*Set, error) {
	s := &Set{}
	return s, s.OrEncoded(b)
}
