package sqlstore

import (
	"encoding/json"
	"slices"
	"unicode/utf8"
)

// marshalCol encodes a JSON column. The two shapes an import writes for
// every person — []string and map[string][]string (the raw AAF attributes)
// — take a direct path: encoding/json spends most of its time there in
// reflection and in sorting map keys through interfaces, and an import
// writes 300,000 of them. The output is byte for byte what encoding/json
// gives (sorted keys, HTML-safe escapes, U+FFFD for invalid UTF-8);
// FuzzMarshalColMatchesEncodingJSON holds it to that.
func marshalCol(v any) string {
	switch v := v.(type) {
	case []string:
		if v == nil {
			return "null"
		}
		return string(appendJSONStrings(nil, v))
	case map[string][]string:
		if v == nil {
			return "null"
		}
		return string(appendJSONStringsMap(make([]byte, 0, 256), v))
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain slices and maps reach here
	}
	return string(b)
}

func appendJSONStringsMap(b []byte, m map[string][]string) []byte {
	var keysBuf [32]string
	keys := keysBuf[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		if m[k] == nil {
			b = append(b, "null"...)
		} else {
			b = appendJSONStrings(b, m[k])
		}
	}
	return append(b, '}')
}

func appendJSONStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendJSONString follows encoding/json's appendString with HTML escaping.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
