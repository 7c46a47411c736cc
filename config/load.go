package config

import (
	_ "embed"
	"fmt"
	"math"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Example is a complete, commented configuration file; `enthub config
// example` prints it and a test keeps it in step with the struct.
//
//go:embed example.yaml
var Example string

// Options are what Read takes besides the file and the environment.
type Options struct {
	// Override applies the command line's flags, over the file and the
	// environment.
	Override func(*Config)
	// Check adds the checks of the packages config cannot import (the
	// wiring in cmd/enthub: password hashes, TLS key pairs, the services
	// file…), so that every command, and `enthub config check`, refuses
	// what `enthub serve` would. Read locates each problem by its Key.
	Check func(Config) Problems
	// Hostname names this machine, for a public_url derived from a wildcard
	// http.listen (default os.Hostname).
	Hostname func() (string, error)
}

// Origin says where the keys of a loaded configuration were set, and what
// Read decided on its own.
type Origin struct {
	File  string
	Lines Lines             // key path → its line in File
	Env   map[string]string // key path → the ENTHUB_… variable that set it
	// Notes are what an operator should read at start: a public_url derived
	// from http.listen, or one that disagrees with it.
	Notes []string
}

// Set reports whether key was written in the file or the environment.
func (o *Origin) Set(key string) bool {
	_, inFile := o.Lines[key]
	_, inEnv := o.Env[key]
	return inFile || inEnv
}

// locate adds to p where its key was set: the variable, else the line.
func (o *Origin) locate(p *Problem) {
	if p.Env != "" || p.Line != 0 {
		return
	}
	if env, ok := o.Env[p.Key]; ok {
		p.Env = env
		return
	}
	if line, ok := o.Lines[p.Key]; ok {
		p.File, p.Line = o.File, line
	}
}

// Load reads the file at path (none when path is empty) over the defaults,
// applies the ENTHUB_… variables found in environ (os.Environ() form) and
// validates the result. Every problem is reported at once, as Problems.
func Load(path string, environ []string) (Config, error) {
	cfg, _, err := Read(path, environ, Options{})
	return cfg, err
}

// Read is Load with options, returning where each key was set. All the
// problems of the file, the environment and the checks come in one
// Problems, each with its line or variable: a value of the wrong type keeps
// its default for the checks, so it is reported once, as itself.
func Read(path string, environ []string, o Options) (Config, *Origin, error) {
	cfg := Default()
	origin := &Origin{File: path, Lines: Lines{}, Env: map[string]string{}}
	var problems Problems
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, origin, fmt.Errorf("config: %w", err)
		}
		var p Problems
		origin.Lines, p = Decode(path, data, &cfg)
		problems = append(problems, p...)
	}
	problems = append(problems, applyEnv(&cfg, environ, origin)...)
	if origin.Set("stats.time_zone") {
		// The key of the first releases, when only the statistics had a
		// zone; it still sets the site's zone, and says it is deprecated.
		if !origin.Set("time_zone") {
			cfg.TimeZone = cfg.Stats.TimeZone
		}
		origin.Notes = append(origin.Notes, fmt.Sprintf("stats.time_zone is deprecated: write time_zone: %s at the top level (it is the zone of the whole site)", cfg.Stats.TimeZone))
	}
	if o.Override != nil {
		o.Override(&cfg)
	}
	if !origin.Set("public_url") {
		hostname := o.Hostname
		if hostname == nil {
			hostname = os.Hostname
		}
		u, note := PublicURLFor(cfg.HTTP.Listen, cfg.HTTP.TLSCert != "", hostname)
		if u != "" {
			cfg.PublicURL = u
		}
		if u != "" && origin.Set("http.listen") {
			origin.Notes = append(origin.Notes, "public_url is not set: derived from http.listen as "+u+note)
		}
	} else if w := cfg.publicURLMismatch(); w != "" {
		origin.Notes = append(origin.Notes, w)
	}
	checks := cfg.Validate()
	if o.Check != nil {
		for _, x := range o.Check(cfg) {
			if !reported(checks, x.Key) {
				checks = append(checks, x)
			}
		}
	}
	for i := range checks {
		if !reported(problems, checks[i].Key) { // a type error already said it
			origin.locate(&checks[i])
			problems = append(problems, checks[i])
		}
	}
	if len(problems) > 0 {
		// In the file's order, then the environment's and the defaults'.
		sort.SliceStable(problems, func(i, j int) bool { return problems[i].order() < problems[j].order() })
		return cfg, origin, problems
	}
	return cfg, origin, nil
}

func (p Problem) order() int {
	if p.File != "" && p.Line > 0 {
		return p.Line
	}
	return math.MaxInt
}

// reported says whether a problem of key is already in p: the wiring's
// checks repeat some of config's own (a DN, a hash), and one problem said
// twice reads as two.
func reported(p Problems, key string) bool {
	for _, x := range p {
		if x.Key == key {
			return true
		}
	}
	return false
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

// applyEnv sets every scalar or list key that has an ENTHUB_… variable,
// and records it in origin. Lists are comma-separated. Variables that match
// no key are reported, so a typo in a deployment manifest is seen at start.
func applyEnv(cfg *Config, environ []string, origin *Origin) Problems {
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
		origin.Env[path] = name
		if msg := setFromString(v, raw); msg != "" {
			problems = append(problems, Problem{Env: name, Key: path, Msg: msg})
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
		problems = append(problems, Problem{Key: k, Msg: "environment variable matches no configuration key"})
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

// setFromString sets v from an environment variable's value; it returns
// what is wrong with raw, in the words Decode uses for the file.
func setFromString(v reflect.Value, raw string) string {
	if v.Kind() == reflect.Slice {
		var parts []string
		if strings.TrimSpace(raw) != "" {
			parts = strings.Split(raw, ",")
		}
		s := reflect.MakeSlice(v.Type(), len(parts), len(parts))
		for i, p := range parts {
			if msg := setFromString(s.Index(i), strings.TrimSpace(p)); msg != "" {
				return fmt.Sprintf("item %d: %s", i+1, msg)
			}
		}
		v.Set(s)
		return ""
	}
	var err error
	switch {
	case v.Type() == durationType:
		var d time.Duration
		if d, err = time.ParseDuration(raw); err == nil {
			v.SetInt(int64(d))
		}
	case v.Kind() == reflect.String:
		v.SetString(raw)
	case v.Kind() == reflect.Bool:
		var b bool
		if b, err = strconv.ParseBool(raw); err == nil {
			v.SetBool(b)
		}
	case v.Kind() == reflect.Int, v.Kind() == reflect.Int64:
		var n int64
		if n, err = strconv.ParseInt(raw, 10, 64); err == nil {
			v.SetInt(n)
		}
	case v.Kind() == reflect.Float64:
		var f float64
		if f, err = strconv.ParseFloat(raw, 64); err == nil {
			v.SetFloat(f)
		}
	default:
		return "cannot be set from the environment"
	}
	if err != nil {
		return typeWords(v.Type(), raw)
	}
	return ""
}
