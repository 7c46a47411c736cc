package ldap

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// A lean BER layer for the subset LDAP uses (RFC 4511 §5.1): definite
// lengths only, low tag numbers only. Decoding walks a byte slice without
// building a tree (no allocation per element); encoding appends to a byte
// slice and patches lengths in place. Both are fuzzed (FuzzMessage).

// BER identifier bits.
const (
	classUniversal   = 0x00
	classApplication = 0x40
	classContext     = 0x80
	constructed      = 0x20
)

// Universal tags.
const (
	tagBoolean     = 0x01
	tagInteger     = 0x02
	tagOctetString = 0x04
	tagNull        = 0x05
	tagEnumerated  = 0x0a
	tagSequence    = 0x30 // constructed
	tagSet         = 0x31 // constructed
)

// Context-specific tags, numbered, for readability where 0 is a tag.
const (
	ctx0  = classContext               // [0] primitive
	ctxC0 = classContext | constructed // [0] constructed
)

// errBER is wrapped by every decoding error: the connection that sent it is
// closed, the server goes on.
var errBER = errors.New("malformed BER")

// berReader reads consecutive elements from a byte slice.
type berReader struct {
	b []byte
}

func (r *berReader) empty() bool { return len(r.b) == 0 }

// peek returns the identifier octet of the next element, or 0 when empty.
func (r *berReader) peek() byte {
	if len(r.b) == 0 {
		return 0
	}
	return r.b[0]
}

// next returns the identifier octet and the content of the next element.
func (r *berReader) next() (byte, []byte, error) {
	if len(r.b) < 2 {
		return 0, nil, fmt.Errorf("%w: truncated element header", errBER)
	}
	tag := r.b[0]
	if tag&0x1f == 0x1f {
		return 0, nil, fmt.Errorf("%w: high tag number form is not used by LDAP", errBER)
	}
	n, hl, err := parseLength(r.b[1:])
	if err != nil {
		return 0, nil, err
	}
	start := 1 + hl
	if n > len(r.b)-start {
		return 0, nil, fmt.Errorf("%w: element of %d bytes overruns its container (%d left)", errBER, n, len(r.b)-start)
	}
	content := r.b[start : start+n]
	r.b = r.b[start+n:]
	return tag, content, nil
}

// expect reads the next element and checks its identifier.
func (r *berReader) expect(tag byte, what string) ([]byte, error) {
	t, c, err := r.next()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if t != tag {
		return nil, fmt.Errorf("%w: %s: tag 0x%02x, want 0x%02x", errBER, what, t, tag)
	}
	return c, nil
}

// parseLength decodes a definite length; it returns the length and the
// number of octets it took.
func parseLength(b []byte) (int, int, error) {
	if len(b) == 0 {
		return 0, 0, fmt.Errorf("%w: missing length", errBER)
	}
	l := b[0]
	if l < 0x80 {
		return int(l), 1, nil
	}
	if l == 0x80 {
		return 0, 0, fmt.Errorf("%w: indefinite length is not allowed in LDAP", errBER)
	}
	k := int(l & 0x7f)
	if k > 4 {
		return 0, 0, fmt.Errorf("%w: length of %d octets", errBER, k)
	}
	if len(b) < 1+k {
		return 0, 0, fmt.Errorf("%w: truncated length", errBER)
	}
	n := 0
	for i := 1; i <= k; i++ {
		n = n<<8 | int(b[i])
	}
	if n < 0 || n > 1<<30 {
		return 0, 0, fmt.Errorf("%w: length %d", errBER, n)
	}
	return n, 1 + k, nil
}

// parseInt decodes a two's complement INTEGER or ENUMERATED of at most 8
// octets.
func parseInt(c []byte) (int64, error) {
	if len(c) == 0 || len(c) > 8 {
		return 0, fmt.Errorf("%w: integer of %d octets", errBER, len(c))
	}
	v := int64(int8(c[0]))
	for _, x := range c[1:] {
		v = v<<8 | int64(x)
	}
	return v, nil
}

func parseBool(c []byte) (bool, error) {
	if len(c) != 1 {
		return false, fmt.Errorf("%w: boolean of %d octets", errBER, len(c))
	}
	return c[0] != 0, nil
}

// readMessage reads one whole LDAPMessage (outer SEQUENCE) from r into buf,
// refusing anything larger than max bytes before reading its content.
func readMessage(r *bufio.Reader, buf []byte, max int) ([]byte, error) {
	tag, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	if tag != tagSequence {
		return nil, fmt.Errorf("%w: message starts with 0x%02x, want a SEQUENCE", errBER, tag)
	}
	l, err := r.ReadByte()
	if err != nil {
		return nil, unexpectedEOF(err)
	}
	n := int(l)
	if l >= 0x80 {
		k := int(l & 0x7f)
		if k == 0 || k > 4 {
			return nil, fmt.Errorf("%w: message length of %d octets", errBER, k)
		}
		n = 0
		for i := 0; i < k; i++ {
			x, err := r.ReadByte()
			if err != nil {
				return nil, unexpectedEOF(err)
			}
			n = n<<8 | int(x)
		}
	}
	if n > max || n < 0 {
		return nil, fmt.Errorf("%w: message of %d bytes exceeds the limit of %d", errMessageTooLarge, n, max)
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, unexpectedEOF(err)
	}
	return buf, nil
}

var errMessageTooLarge = errors.New("message too large")

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// berWriter appends BER to a byte slice. Constructed elements are opened
// with begin and closed with end, which writes the final length and moves
// the content when the length needs more than one octet.
type berWriter struct {
	b []byte
}

func (w *berWriter) begin(tag byte) int {
	w.b = append(w.b, tag, 0)
	return len(w.b)
}

func (w *berWriter) end(start int) {
	n := len(w.b) - start
	if n < 0x80 {
		w.b[start-1] = byte(n)
		return
	}
	k := lenOctets(n)
	for i := 0; i < k; i++ {
		w.b = append(w.b, 0)
	}
	copy(w.b[start+k:], w.b[start:start+n])
	w.b[start-1] = 0x80 | byte(k)
	for i := k - 1; i >= 0; i-- {
		w.b[start+i] = byte(n)
		n >>= 8
	}
}

func lenOctets(n int) int {
	k := 1
	for n > 0xff {
		n >>= 8
		k++
	}
	return k
}

func (w *berWriter) header(tag byte, n int) {
	w.b = append(w.b, tag)
	if n < 0x80 {
		w.b = append(w.b, byte(n))
		return
	}
	k := lenOctets(n)
	w.b = append(w.b, 0x80|byte(k))
	for i := k - 1; i >= 0; i-- {
		w.b = append(w.b, byte(n>>(8*i)))
	}
}

func (w *berWriter) str(tag byte, s string) {
	w.header(tag, len(s))
	w.b = append(w.b, s...)
}

func (w *berWriter) integer(tag byte, v int64) {
	n := 1
	for x := v; x > 127 || x < -128; x >>= 8 {
		n++
	}
	w.b = append(w.b, tag, byte(n))
	for i := n - 1; i >= 0; i-- {
		w.b = append(w.b, byte(v>>(8*i)))
	}
}
