package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Problem is one problem of a configuration, said in the configuration's
// words: the key path as written in the file (ldap.service_accounts[0].dn)
// and, when it is known, the line or the environment variable that set it.
type Problem struct {
	File string // the file, when the value was read from one
	Line int    // its line in File; 0 when the key is not written there
	Env  string // the ENTHUB_… variable, when the value came from it
	Key  string
	Msg  string
}

func (p Problem) String() string {
	key := p.Key
	if p.Env != "" {
		key += " (from " + p.Env + ")"
	}
	if key != "" {
		key += ": "
	}
	switch {
	case p.File != "" && p.Line > 0:
		return fmt.Sprintf("%s:%d: %s%s", p.File, p.Line, key, p.Msg)
	case p.File != "" && p.Key == "":
		return p.File + ": " + p.Msg
	case p.Line > 0:
		return fmt.Sprintf("line %d: %s%s", p.Line, key, p.Msg)
	}
	return key + p.Msg
}

// Problems is every problem found in a configuration.
type Problems []Problem

func (p Problems) Error() string {
	if len(p) == 1 {
		return p[0].String()
	}
	lines := make([]string, len(p))
	for i, x := range p {
		lines[i] = x.String()
	}
	return fmt.Sprintf("%d configuration problems:\n  %s", len(p), strings.Join(lines, "\n  "))
}

// Lines maps each key path written in a file to the line of its value.
type Lines map[string]int

// Decode reads YAML data into out (a pointer) as strictly as a
// configuration is read, and as fully: every unknown key and every value of
// the wrong type is a Problem with its line and key path, all of them in one
// pass, and every value that is right is set (a wrong one leaves what out
// held, the default). file names data in the problems.
func Decode(file string, data []byte, out any) (Lines, Problems) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Problems{{File: file, Msg: yamlSyntax(err)}}
	}
	lines := Lines{}
	if len(root.Content) == 0 {
		return lines, nil // empty file
	}
	d := decoder{file: file, lines: lines}
	d.value(root.Content[0], reflect.ValueOf(out).Elem(), "")
	return lines, d.problems
}

// DecodeNode is Decode of one node already parsed, for a file whose parts
// are read separately (each service of a services file); key paths are
// relative to n.
func DecodeNode(file string, n *yaml.Node, out any) (Lines, Problems) {
	d := decoder{file: file, lines: Lines{}}
	d.value(n, reflect.ValueOf(out).Elem(), "")
	return d.lines, d.problems
}

// yamlSyntax words a syntax error of the YAML parser without its "yaml: "
// prefix, which names the library rather than the problem.
func yamlSyntax(err error) string {
	return "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")
}

type decoder struct {
	file     string
	lines    Lines
	problems Problems
}

func (d *decoder) bad(n *yaml.Node, key, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.file, Line: n.Line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

var durationType = reflect.TypeOf(time.Duration(0))

// value decodes n into v, whose key path is key.
func (d *decoder) value(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if key != "" {
		d.lines[key] = n.Line
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // "key:" with nothing after it keeps the default
	}
	t := v.Type()
	switch {
	case t.Kind() == reflect.Pointer:
		p := reflect.New(t.Elem())
		if !v.IsNil() {
			p.Elem().Set(v.Elem())
		}
		d.value(n, p.Elem(), key)
		v.Set(p)
	case t.Kind() == reflect.Struct && t != durationType:
		if n.Kind != yaml.MappingNode {
			d.bad(n, key, "%s: want indented keys (a mapping)", shown(n))
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			f, ok := fields[k.Value]
			if !ok {
				d.bad(k, join(key, k.Value), "unknown key%s", suggest(k.Value, fields))
				continue
			}
			d.lines[join(key, k.Value)] = k.Line
			d.value(val, v.FieldByIndex(f.Index), join(key, k.Value))
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8:
		if n.Kind != yaml.SequenceNode {
			d.bad(n, key, "%s: want a list (one \"- item\" a line, or [a, b])", shown(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			if i < v.Len() {
				s.Index(i).Set(v.Index(i))
			}
			d.value(item, s.Index(i), fmt.Sprintf("%s[%d]", key, i))
		}
		v.Set(s)
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.bad(n, key, "%s: want indented keys (a mapping)", shown(n))
			return
		}
		m := reflect.MakeMapWithSize(t, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			kv := reflect.New(t.Key()).Elem()
			if err := k.Decode(kv.Addr().Interface()); err != nil {
				d.bad(k, join(key, k.Value), "%s", typeWords(t.Key(), k.Value))
				continue
			}
			ev := reflect.New(t.Elem()).Elem()
			d.value(val, ev, join(key, k.Value))
			m.SetMapIndex(kv, ev)
		}
		v.Set(m)
	default:
		if n.Kind != yaml.ScalarNode {
			d.bad(n, key, "%s: want a single value", shown(n))
			return
		}
		x := reflect.New(t)
		if err := n.Decode(x.Interface()); err != nil {
			d.bad(n, key, "%s", typeWords(t, n.Value))
			return
		}
		v.Set(x.Elem())
	}
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// shown describes what a node holds, for a value of the wrong shape.
func shown(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "found indented keys"
	case yaml.SequenceNode:
		return "found a list"
	}
	return strconv.Quote(n.Value)
}

// typeWords says why raw is not a value of type t, in the words of the
// configuration, never Go's.
func typeWords(t reflect.Type, raw string) string {
	if t == durationType {
		if _, err := strconv.ParseFloat(raw, 64); err == nil {
			return fmt.Sprintf("%q is not a duration such as 10s: a unit is required (s, m or h)", raw)
		}
		return fmt.Sprintf("%q is not a duration such as 10s, 5m or 2h", raw)
	}
	switch t.Kind() {
	case reflect.Bool:
		return fmt.Sprintf("%q is not true or false", raw)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return fmt.Sprintf("%q is not a whole number", raw)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return fmt.Sprintf("%q is not a whole number of zero or more", raw)
	case reflect.Float32, reflect.Float64:
		return fmt.Sprintf("%q is not a number", raw)
	case reflect.String:
		return fmt.Sprintf("%q is not text", raw)
	}
	return fmt.Sprintf("%q is not a value this key takes", raw)
}

// suggest names the known key closest to a misspelt one.
func suggest(key string, fields map[string]reflect.StructField) string {
	best, bestD := "", 3
	for name := range fields {
		if d := distance(key, name); d < bestD || (d == bestD && best != "" && name < best) {
			best, bestD = name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// distance is the Levenshtein distance, enough to catch a typo.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
