package ldap

import (
	"errors"
	"fmt"
	"strings"
)

// rdn is one attribute=value pair of a DN (RFC 4514). A multi-valued RDN
// (a+b) parses into several rdn with multi set on all but the last; no
// entry of ours has one, so such DNs never resolve.
type rdn struct {
	typ   string // canonical attribute name, or the lower-cased type when unknown
	val   string // unescaped
	multi bool
}

var errDN = errors.New("invalid DN")

// parseDN parses an RFC 4514 string DN. The empty string is the root (nil).
func parseDN(s string) ([]rdn, error) { return parseDNFast(s, true) }

// parseDNFast parses s; fast takes the values without escapes as slices of
// s (false: always unescape into a new string, the reference FuzzDN
// compares with).
func parseDNFast(s string, fast bool) ([]rdn, error) {
	i := 0
	n := len(s)
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	out := make([]rdn, 0, 1+strings.Count(s, ",")+strings.Count(s, "+"))
	for {
		// type
		for i < n && s[i] == ' ' {
			i++
		}
		j := i
		for i < n && s[i] != '=' {
			i++
		}
		if i >= n || i == j {
			return nil, fmt.Errorf("%w %q: missing attribute type before position %d", errDN, s, i)
		}
		typ := strings.TrimSpace(s[j:i])
		if typ == "" {
			return nil, fmt.Errorf("%w %q: empty attribute type", errDN, s)
		}
		i++ // '='
		for i < n && s[i] == ' ' {
			i++
		}
		// value
		var val []byte
		if i < n && s[i] == '#' {
			// BER-encoded value: keep it as written.
			j := i
			for i < n && s[i] != ',' && s[i] != '+' && s[i] != ';' {
				i++
			}
			val = []byte(strings.TrimSpace(s[j:i]))
		} else if i < n && s[i] == '"' {
			i++
			for i < n && s[i] != '"' {
				if s[i] == '\\' && i+1 < n {
					i++
				}
				val = append(val, s[i])
				i++
			}
			if i >= n {
				return nil, fmt.Errorf("%w %q: unterminated quoted value", errDN, s)
			}
			i++
			for i < n && s[i] == ' ' {
				i++
			}
		} else if j, end, ok := plainValue(s, i); ok && fast {
			// The common case, no escape: the value is a slice of s.
			r := rdn{typ: canonicalType(typ), val: s[j:end]}
			i = j
			for i < n && s[i] != ',' && s[i] != '+' && s[i] != ';' {
				i++
			}
			if i < n && s[i] == '+' {
				r.multi = true
			}
			out = append(out, r)
			if i >= n {
				break
			}
			i++ // separator
			if i >= n {
				return nil, fmt.Errorf("%w %q: trailing separator", errDN, s)
			}
			continue
		} else {
			lastNonSpace := 0
			for i < n && s[i] != ',' && s[i] != '+' && s[i] != ';' {
				c := s[i]
				if c == '\\' {
					if i+1 >= n {
						return nil, fmt.Errorf("%w %q: dangling escape", errDN, s)
					}
					if h, ok := unhex(s, i+1); ok {
						val = append(val, h)
						i += 3
					} else {
						val = append(val, s[i+1])
						i += 2
					}
					lastNonSpace = len(val)
					continue
				}
				val = append(val, c)
				if c != ' ' {
					lastNonSpace = len(val)
				}
				i++
			}
			val = val[:lastNonSpace]
		}
		r := rdn{typ: canonicalType(typ), val: string(val)}
		if i < n && s[i] == '+' {
			r.multi = true
		}
		out = append(out, r)
		if i >= n {
			break
		}
		i++ // separator
		if i >= n {
			return nil, fmt.Errorf("%w %q: trailing separator", errDN, s)
		}
	}
	return out, nil
}

// plainValue reports whether the string value starting at i runs to the
// next separator without an escape, and returns its bounds without
// trailing spaces.
func plainValue(s string, i int) (start, end int, ok bool) {
	end = i
	for k := i; k < len(s); k++ {
		switch c := s[k]; c {
		case ',', '+', ';':
			return i, end, true
		case '\\':
			return 0, 0, false
		case ' ':
		default:
			end = k + 1
		}
	}
	return i, end, true
}

func unhex(s string, i int) (byte, bool) {
	if i+1 >= len(s) {
		return 0, false
	}
	h, ok1 := hexVal(s[i])
	l, ok2 := hexVal(s[i+1])
	return h<<4 | l, ok1 && ok2
}

func hexVal(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func canonicalType(t string) string {
	if a := lookupAttr(t); a != nil {
		return a.name
	}
	return strings.ToLower(t)
}

// formatDN renders rdns back to a string with canonical types.
func formatDN(rdns []rdn) string {
	var b strings.Builder
	for i, r := range rdns {
		if i > 0 {
			if rdns[i-1].multi {
				b.WriteByte('+')
			} else {
				b.WriteByte(',')
			}
		}
		b.WriteString(r.typ)
		b.WriteByte('=')
		b.WriteString(escapeRDNValue(r.val))
	}
	return b.String()
}

// escapeRDNValue escapes a value for use in a string DN (RFC 4514 §2.4).
func escapeRDNValue(v string) string {
	need := false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case ',', '+', '"', '\\', '<', '>', ';', '=', 0:
			need = true
		case ' ':
			if i == 0 || i == len(v)-1 {
				need = true
			}
		case '#':
			if i == 0 {
				need = true
			}
		}
	}
	if !need {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == 0:
			b.WriteString(`\00`)
			continue
		case c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' || c == ';' || c == '=':
			b.WriteByte('\\')
		case c == ' ' && (i == 0 || i == len(v)-1):
			b.WriteByte('\\')
		case c == '#' && i == 0:
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// normDN returns a comparison key for a DN: canonical types, lower-cased
// values. It returns "" and false for an unparsable DN.
func normDN(s string) (string, bool) {
	rdns, err := parseDN(s)
	if err != nil {
		return "", false
	}
	for i := range rdns {
		rdns[i].val = strings.ToLower(rdns[i].val)
		rdns[i].typ = strings.ToLower(rdns[i].typ)
	}
	return formatDN(rdns), true
}

// resolve maps a parsed DN to the ordinal of the entry it names. It returns
// ok=false and the number of trailing RDNs that did match (for matchedDN)
// when no entry has that DN.
func (m *model) resolve(rdns []rdn) (ord uint32, matched int, ok bool) {
	nb := len(m.baseRDNs)
	if len(rdns) < nb {
		return 0, 0, false
	}
	off := len(rdns) - nb
	for i, b := range m.baseRDNs {
		r := rdns[off+i]
		if r.multi || r.typ != b.typ || !strings.EqualFold(r.val, b.val) {
			return 0, 0, false
		}
	}
	switch off {
	case 0:
		return 0, nb, true
	case 1, 2:
	default:
		return 0, nb + 1, false // at most one level below an ou
	}
	ou := rdns[off-1]
	if ou.multi || ou.typ != "ou" {
		return 0, nb, false
	}
	var oi int32 = -1
	for i, name := range ouNames {
		if strings.EqualFold(ou.val, name) {
			oi = int32(i)
		}
	}
	if oi < 0 {
		return 0, nb, false
	}
	if off == 1 {
		return m.ouOrd(oi), nb + 1, true
	}
	leaf := rdns[0]
	if leaf.multi {
		return 0, nb + 1, false
	}
	key := strings.ToLower(leaf.val)
	switch oi {
	case 0:
		if leaf.typ == "ENTStructureUAI" {
			if i, ok := m.byUAI[key]; ok {
				return m.structOrd(i), nb + 2, true
			}
		}
	case 1:
		if leaf.typ == "cn" {
			if i, ok := m.byGroupCN[key]; ok {
				return m.groupOrd(i), nb + 2, true
			}
		}
	case 2:
		if leaf.typ == "uid" {
			if i, ok := m.personByUID(key); ok {
				return m.personOrd(i), nb + 2, true
			}
		}
	}
	return 0, nb + 1, false
}

// resolveString parses and resolves a string DN.
func (m *model) resolveString(s string) (uint32, bool) {
	rdns, err := parseDN(s)
	if err != nil || len(rdns) == 0 {
		return 0, false
	}
	ord, _, ok := m.resolve(rdns)
	return ord, ok
}

// matchedDN renders the last n RDNs of rdns.
func matchedDN(rdns []rdn, n int) string {
	if n <= 0 || n > len(rdns) {
		return ""
	}
	return formatDN(rdns[len(rdns)-n:])
}
