package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Example is a complete, commented configuration file; `enthub config
// example` prints it and a test keeps it in step with the struct.
//
//go:embed example.yaml
var Example string

// Problems is every problem found in a configuration, each naming its key.
type Problems []string

func (p Problems) Error() string {
	if len(p) == 1 {
		return p[0]
	}
	return fmt.Sprintf("%d configuration problems:\n  %s", len(p), strings.Join(p, "\n  "))
}

// Load reads the file at path (none when path is empty) over the defaults,
// applies the ENTHUB_… variables found in environ (os.Environ() form) and
// validates the result. Every problem is reported at once, as Problems.
func Load(path string, environ []string) (Config, error) {
	cfg := Default()
	var problems Problems
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		problems = append(problems, decodeYAML(path, data, &cfg)...)
	}
	problems = append(problems, applyEnv(&cfg, environ)...)
	if len(problems) == 0 {
		problems = append(problems, cfg.Validate()...)
	}
	if len(problems) > 0 {
		return cfg, problems
	}
	return cfg, nil
}

// decodeYAML decodes data into cfg, reporting unknown keys with their line
// rather than ignoring them: a misspelt key silently falling back to a
// default is how outages start.
func decodeYAML(name string, data []byte, cfg *Config) Problems {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return Problems{fmt.Sprintf("%s: %v", name, err)}
	}
	if len(root.Content) == 0 {
		return nil // empty file: defaults
	}
	var problems Problems
	checkKeys(name, root.Content[0], reflect.TypeOf(*cfg), "", &problems)
	if len(problems) > 0 {
		return problems
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, e := range te.Errors {
				problems = append(problems, fmt.Sprintf("%s: %s", name, e))
			}
			return problems
		}
		return Problems{fmt.Sprintf("%s: %v", name, err)}
	}
	return nil
}

// checkKeys walks a mapping node against a struct type.
func checkKeys(file string, n *yaml.Node, t reflect.Type, prefix string, problems *Problems) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct && t != reflect.TypeOf(time.Duration(0)):
		if n.Kind != yaml.MappingNode {
			if n.Tag != "!!null" {
				*problems = append(*problems, fmt.Sprintf("%s:%d: %s: want a mapping", file, n.Line, strings.TrimSuffix(prefix, ".")))
			}
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fields[k.Value]
			if !ok {
				*problems = append(*problems, fmt.Sprintf("%s:%d: %s%s: unknown key", file, k.Line, prefix, k.Value))
				continue
			}
			checkKeys(file, v, f.Type, prefix+k.Value+".", problems)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, item := range n.Content {
			checkKeys(file, item, t.Elem(), fmt.Sprintf("%s[%d].", strings.TrimSuffix(prefix, "."), i), problems)
		}
	}
}

func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			out[name] = f
		}
	}
	return out
}

// EnvName is the environment variable that overrides a key path.
func EnvName(path string) string {
	return "ENTHUB_" + strings.ToUpper(strings.NewReplacer(".", "_").Replace(path))
}

// applyEnv sets every scalar or list key that has an ENTHUB_… variable.
// Lists are comma-separated. Variables that match no key are reported, so a
// typo in a deployment manifest is seen at start.
func applyEnv(cfg *Config, environ []string) Problems {
	env := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, "ENTHUB_") {
			env[k] = v
		}
	}
	// Variables the binary reads itself, not configuration keys.
	for _, k := range []string{"ENTHUB_CONFIG"} {
		delete(env, k)
	}
	var problems Problems
	used := map[string]bool{}
	walkLeaves(reflect.ValueOf(cfg).Elem(), "", func(path string, v reflect.Value) {
		name := EnvName(path)
		raw, ok := env[name]
		if !ok {
			return
		}
		used[name] = true
		if err := setFromString(v, raw); err != nil {
			problems = append(problems, fmt.Sprintf("%s (from %s): %v", path, name, err))
		}
	})
	var unknown []string
	for k := range env {
		if !used[k] && !strings.HasPrefix(k, "ENTHUB_TEST_") {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		problems = append(problems, fmt.Sprintf("%s: environment variable matches no configuration key", k))
	}
	return problems
}

// walkLeaves calls fn for every settable scalar or scalar-list field.
func walkLeaves(v reflect.Value, prefix string, fn func(path string, v reflect.Value)) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		fv := v.Field(i)
		path := prefix + name
		if f.Type.Kind() == reflect.Struct {
			walkLeaves(fv, path+".", fn)
			continue
		}
		if f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct {
			continue // lists of records are file-only
		}
		fn(path, fv)
	}
}

// Keys lists every scalar key path, for the example-coverage test and docs.
func Keys() []string {
	var keys []string
	cfg := Default()
	walkLeaves(reflect.ValueOf(&cfg).Elem(), "", func(path string, _ reflect.Value) { keys = append(keys, path) })
	return keys
}

func setFromString(v reflect.Value, raw string) error {
	if v.Type() == reflect.TypeOf(time.Duration(0)) {
		d, err := time.ParseDuration(raw)
		if err != nil {
			return fmt.Errorf("%q is not a duration (like 30s, 2h)", raw)
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("%q is not a boolean (true or false)", raw)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an integer", raw)
		}
		v.SetInt(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", raw)
		}
		v.SetFloat(f)
	case reflect.Slice:
		var parts []string
		if strings.TrimSpace(raw) != "" {
			parts = strings.Split(raw, ",")
		}
		s := reflect.MakeSlice(v.Type(), len(parts), len(parts))
		for i, p := range parts {
			if err := setFromString(s.Index(i), strings.TrimSpace(p)); err != nil {
				return fmt.Errorf("item %d: %w", i, err)
			}
		}
		v.Set(s)
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}
