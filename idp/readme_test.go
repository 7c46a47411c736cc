package idp

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// readmeExamples are the services files of the README's examples.
func readmeExamples(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(b), -1) {
		out = append(out, m[1])
	}
	return out
}

// Every documented example is a services file a start (and services
// import) accepts, and the README covers the partners it promises.
func TestReadmeExamplesAreAccepted(t *testing.T) {
	ids := map[string]bool{}
	for _, ex := range readmeExamples(t) {
		services, _, err := ReadServices("README.md", []byte(ex))
		if err != nil {
			t.Errorf("example refused: %v\n%s", err, ex)
		}
		for _, s := range services {
			ids[s.ID] = true
		}
	}
	for _, id := range []string{"pronote", "gar", "chamilo", "grr", "moodle"} {
		if !ids[id] {
			t.Errorf("no accepted %s example in the README", id)
		}
	}
}

// Every key of a service is documented, by its YAML name.
func TestReadmeDocumentsEveryServiceKey(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	var walk func(reflect.Type, string)
	walk = func(rt reflect.Type, prefix string) {
		for i := range rt.NumField() {
			name, _, _ := strings.Cut(rt.Field(i).Tag.Get("yaml"), ",")
			if name == "" {
				continue
			}
			ft := rt.Field(i).Type
			if ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				walk(ft, prefix+name+".")
				continue
			}
			key := prefix + name
			if strings.HasPrefix(prefix, "release.attributes.") {
				key = "  " + name // the rule's keys are indented under release.attributes
			}
			if !strings.Contains(doc, "`"+key+"`") {
				t.Errorf("key %s is not documented in README.md", prefix+name)
			}
		}
	}
	walk(reflect.TypeOf(Service{}), "")
}

// A services file's problems are all reported, each with its line, the
// service and the YAML key, never a Go name.
func TestReadServicesNamesLineAndKey(t *testing.T) {
	file := `- id: pronote
  protocol: cas
  cas:
    service_patterns: ['https://x/']
- id: gar
  protocol: saml
  saml:
    entity_id: https://gar
    metadata_file: /x.xml
    idp_initiated: yes please
- id: chamilo
  protocol: oidc
  oidc: {client_id: c, redirect_uris: [https://c/cb]}
  release:
    attributes:
      - {source: person.password, name: pw}
- id: pronote2
  protocol: cas
  cas: {service_patterns: ['^https://y/$']}
  profiles: [eleves]
`
	_, _, err := ReadServices("services.yaml", []byte(file))
	if err == nil {
		t.Fatal("accepted")
	}
	// A type error stops before the checks, as a start would.
	if want := `services.yaml:10: service "gar": saml.idp_initiated: "yes please" is not true or false`; !strings.Contains(err.Error(), want) {
		t.Errorf("%v\nlacks %s", err, want)
	}
	file = strings.Replace(file, "yes please", "true", 1)
	_, _, err = ReadServices("services.yaml", []byte(file))
	for _, want := range []string{
		`services.yaml:4: service "pronote": cas.service_patterns[0]: "https://x/": patterns must be anchored with ^ and $`,
		`services.yaml:16: service "chamilo": release.attributes[0].source: "person.password": unknown source; valid sources: account.id,`,
		`services.yaml:20: service "pronote2": profiles[0]: "eleves": unknown profile (want eleve,`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v\nlacks %s", err, want)
		}
	}
	if err != nil && regexp.MustCompile(`CAS\.|Release\.|Profiles|idp\.Service`).MatchString(err.Error()) {
		t.Errorf("Go names in %v", err)
	}
}

// The launcher's tile keys are checked at read, naming the YAML key; a
// good tile is accepted.
func TestReadServicesChecksTile(t *testing.T) {
	base := "- id: pronote\n  protocol: cas\n  cas: {service_patterns: ['^https://y/$']}\n  tile: "
	for _, c := range []struct{ tile, want string }{
		{`{icon: rocket}`, `services.yaml:4: service "pronote": tile.icon: "rocket": want one of app, book,`},
		{`{icon: "//evil.example/x.svg"}`, `tile.icon: "//evil.example/x.svg"`},
		{`{url: "javascript:alert(1)"}`, `tile.url: "javascript:alert(1)": want an absolute http(s) URL`},
		{`{category: "` + strings.Repeat("x", 41) + `"}`, `tile.category: 41 characters: 40 at most`},
		{`{icon: calendar, url: /cas/login, category: Vie scolaire}`, ""},
		{`{icon: /static/p.svg, url: "https://p.example/"}`, ""},
	} {
		_, _, err := ReadServices("services.yaml", []byte(base+c.tile+"\n"))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.tile, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v\nlacks %s", c.tile, err, c.want)
		}
	}
}
