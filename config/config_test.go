package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "enthub.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsRunWithoutAFile(t *testing.T) {
	cfg, err := Load("", nil)
	if err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if cfg.HTTP.Listen != "127.0.0.1:8080" || cfg.DB != "sqlite:./enthub.db" || cfg.SSO.SessionIdle != 2*time.Hour {
		t.Errorf("unexpected defaults: %+v", cfg)
	}
}

func TestExampleIsCompleteAndValid(t *testing.T) {
	p := write(t, Example)
	cfg, err := Load(p, nil)
	if err != nil {
		t.Fatalf("the example does not load: %v", err)
	}
	if cfg.LDAP.BaseDN != "dc=ent,dc=example,dc=fr" || cfg.AAF.GracePeriod != 720*time.Hour {
		t.Errorf("example values not read: %+v", cfg)
	}
	// No credential anyone could know: the service account is a commented
	// model to fill with `enthub hash-password`, the database password
	// stays out of the file.
	if len(cfg.LDAP.ServiceAccounts) != 0 || !strings.Contains(Example, "enthub hash-password") {
		t.Errorf("the example declares service accounts %+v", cfg.LDAP.ServiceAccounts)
	}
	if u, err := url.Parse(cfg.DB); err != nil || u.User == nil {
		t.Errorf("db %q: %v", cfg.DB, err)
	} else if _, has := u.User.Password(); has {
		t.Errorf("the example's db URL holds a password: %s", cfg.DB)
	}
	// Every key of the struct is documented in the example.
	for _, key := range Keys() {
		leaf := key[strings.LastIndex(key, ".")+1:]
		if !strings.Contains(Example, leaf+":") {
			t.Errorf("key %s is missing from the example", key)
		}
	}
}

func TestProblemsNameTheKey(t *testing.T) {
	tests := []struct {
		name, yaml string
		env        []string
		want       []string
	}{
		{"bad ldap address", "ldap:\n  listen: 300.1.1.1:389\n", nil, []string{`ldap.listen: address "300.1.1.1:389" is not valid`}},
		{"unknown key with line", "http:\n  listen: 127.0.0.1:80\n  lisen: x\n", nil, []string{"enthub.yaml:3: http.lisen: unknown key"}},
		{"unknown top key", "\n\nfoo: 1\n", nil, []string{":3: foo: unknown key"}},
		{"unknown key in list", "ldap:\n  service_accounts:\n    - dn: cn=a,dc=x\n      pasword_hash: x\n", nil, []string{":4: ldap.service_accounts[0].pasword_hash: unknown key"}},
		{"wrong type", "ldap:\n  size_limit: lots\n", nil, []string{`enthub.yaml:2: ldap.size_limit: "lots" is not a whole number`}},
		{"clear password refused", "ldap:\n  service_accounts:\n    - dn: cn=a,dc=x\n      password_hash: secret\n", nil, []string{"ldap.service_accounts[0].password_hash: want an argon2id"}},
		{"several at once", "log:\n  level: loud\n  format: xml\npublic_url: ftp://x\n", nil, []string{"log.level", "log.format", "public_url"}},
		{"env override bad", "", []string{"ENTHUB_HTTP_SHUTDOWN_TIMEOUT=soon"}, []string{"http.shutdown_timeout (from ENTHUB_HTTP_SHUTDOWN_TIMEOUT)", "not a duration"}},
		{"env typo", "", []string{"ENTHUB_HTTP_LISTN=1"}, []string{"ENTHUB_HTTP_LISTN: environment variable matches no configuration key"}},
		{"bad cron", "aaf:\n  purge_schedule: every night\n", nil, []string{"aaf.purge_schedule"}},
		{"idle longer than absolute", "sso:\n  session_idle: 12h\n", nil, []string{"sso.session_idle: 12h0m0s is longer than sso.session_absolute"}},
		{"bad db", "db: mysql://x\n", nil, []string{"db: \"mysql://x\""}},
		{"bad site zone", "time_zone: Europe/Marseille\n", nil, []string{`enthub.yaml:1: time_zone: "Europe/Marseille" is not a time zone`}},
		{"deprecated zone disagrees", "time_zone: Europe/Paris\nstats:\n  time_zone: America/Cayenne\n", nil,
			[]string{`enthub.yaml:3: stats.time_zone: "America/Cayenne" differs from time_zone "Europe/Paris"`}},
		{"bad statistics zone", "stats:\n  time_zone: Mars/Olympus\n  fold_every: 10ms\n", nil, []string{`stats.time_zone: "Mars/Olympus" is not a time zone`, "stats.fold_every: 10ms: at least 1s"}},
		{"profiles on the public listener", "http:\n  pprof: true\n", nil, []string{"http.pprof: needs http.metrics_listen"}},
		{"memory limit too small", "memory_limit_mib: 16\n", nil, []string{"memory_limit_mib: 16: want 0 (no limit) or at least 64"}},
		{"portal admin not a login", "portal:\n  admins: [ok, \"a b\"]\n", nil, []string{`portal.admins[1]: "a b": want a login`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.yaml != "" {
				path = write(t, tt.yaml)
			}
			_, err := Load(path, tt.env)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestEnvOverridesFile(t *testing.T) {
	p := write(t, "http:\n  listen: 127.0.0.1:9000\n")
	cfg, err := Load(p, []string{"ENTHUB_HTTP_LISTEN=127.0.0.1:9100", "ENTHUB_AAF_PARENT_RESP_LEGAL=1", "ENTHUB_LDAP_ANONYMOUS=true", "ENTHUB_DB=postgres://x/y", "PATH=/bin"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Listen != "127.0.0.1:9100" || len(cfg.AAF.ParentRespLegal) != 1 || !cfg.LDAP.Anonymous || cfg.DB != "postgres://x/y" {
		t.Errorf("env not applied: listen %s resp %v anon %v db %s", cfg.HTTP.Listen, cfg.AAF.ParentRespLegal, cfg.LDAP.Anonymous, cfg.DB)
	}
}

// A file with every kind of problem is reported in one pass, each problem
// with its line and key path, in the configuration's words.
func TestEveryProblemOfAFileAtOnce(t *testing.T) {
	body := `public_url: ftp://ent.example.fr
http:
  listen: 127.0.0.1:8080
  shutdown_timeout: ten seconds
  read_timeout: 30
  trusted_proxys: [10.0.0.0/8]
ldap:
  enabled: maybe
  size_limit: lots
  base_dn: [dc=x]
  service_accounts:
    - dn: cn=grr,ou=services,dc=x
      password_hash: secret
      structures: 0131234A
aaf:
  volumetry_threshold: 200
  parent_resp_legal: [1, two]
sso:
  session_idle: 12h
  services_reload: 1s
log: debug
`
	p := write(t, body)
	_, err := Load(p, []string{"ENTHUB_SSO_SESSION_ABSOLUTE=soon"})
	var problems Problems
	if !errors.As(err, &problems) {
		t.Fatalf("Load = %v, want Problems", err)
	}
	want := []string{
		`enthub.yaml:1: public_url: "ftp://ent.example.fr" is not an http(s) URL`,
		`enthub.yaml:4: http.shutdown_timeout: "ten seconds" is not a duration such as 10s, 5m or 2h`,
		`enthub.yaml:5: http.read_timeout: "30" is not a duration such as 10s: a unit is required (s, m or h)`,
		`enthub.yaml:6: http.trusted_proxys: unknown key (did you mean trusted_proxies?)`,
		`enthub.yaml:8: ldap.enabled: "maybe" is not true or false`,
		`enthub.yaml:9: ldap.size_limit: "lots" is not a whole number`,
		`enthub.yaml:10: ldap.base_dn: found a list: want a single value`,
		`enthub.yaml:13: ldap.service_accounts[0].password_hash: want an argon2id`,
		`enthub.yaml:14: ldap.service_accounts[0].structures: "0131234A": want a list`,
		`enthub.yaml:16: aaf.volumetry_threshold: 200: want a percentage`,
		`enthub.yaml:17: aaf.parent_resp_legal[1]: "two" is not a whole number`,
		`sso.session_absolute (from ENTHUB_SSO_SESSION_ABSOLUTE): "soon" is not a duration`,
		`enthub.yaml:19: sso.session_idle: 12h0m0s is longer than sso.session_absolute`,
		`enthub.yaml:21: log: "debug": want indented keys (a mapping)`,
	}
	text := err.Error()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("problems lack %q", w)
		}
	}
	if len(problems) != len(want) {
		t.Errorf("%d problems, want %d:\n%s", len(problems), len(want), text)
	}
	// Never Go's words.
	for _, goWord := range []string{"time.Duration", "!!str", "unmarshal", "config.", "int64", "[]string"} {
		if strings.Contains(text, goWord) {
			t.Errorf("problems speak Go (%q):\n%s", goWord, text)
		}
	}
}

// The checks of the packages config cannot import (Options.Check) come in
// the same list, located by their key, and a key already refused by config
// is not said twice.
func TestReadLocatesTheWiringsProblems(t *testing.T) {
	p := write(t, "ldap:\n  jointure_source: AC$X\n  service_accounts:\n    - dn: cn=a,dc=x\n      password_hash: secret\n")
	check := func(c Config) Problems {
		return Problems{
			{Key: "ldap.jointure_source", Msg: "must not contain '$'"},
			{Key: "ldap.service_accounts[0].password_hash", Msg: "said twice"},
		}
	}
	_, _, err := Read(p, nil, Options{Check: check})
	text := fmt.Sprint(err)
	if !strings.Contains(text, "enthub.yaml:2: ldap.jointure_source: must not contain '$'") || strings.Contains(text, "said twice") ||
		!strings.Contains(text, "enthub.yaml:5: ldap.service_accounts[0].password_hash: want an argon2id") {
		t.Errorf("problems:\n%s", text)
	}
}

func TestPublicURLFollowsListen(t *testing.T) {
	host := func() (string, error) { return "ent-test", nil }
	noHost := func() (string, error) { return "", errors.New("no name") }
	tests := []struct {
		name, yaml string
		hostname   func() (string, error)
		url, note  string
	}{
		{"defaults", "", host, "http://127.0.0.1:8080", ""},
		{"only listen changed", "http:\n  listen: 127.0.0.1:9000\n", host, "http://127.0.0.1:9000", "derived from http.listen as http://127.0.0.1:9000"},
		{"wildcard listen uses the machine name", "http:\n  listen: 0.0.0.0:9000\n", host, "http://ent-test:9000", "the machine's name ent-test is used"},
		{"IPv6 wildcard", "http:\n  listen: '[::]:9000'\n", host, "http://ent-test:9000", "ent-test"},
		{"no machine name", "http:\n  listen: 0.0.0.0:9000\n", noHost, "http://127.0.0.1:9000", "works on this machine only"},
		{"explicit and matching", "public_url: http://ent.lan:9000\nhttp:\n  listen: 0.0.0.0:9000\n", host, "http://ent.lan:9000", ""},
		{"explicit on another port", "public_url: http://ent.lan:8080\nhttp:\n  listen: 0.0.0.0:9000\n", host, "http://ent.lan:8080", "is on port 8080 but http.listen is 0.0.0.0:9000"},
		{"https behind a proxy", "public_url: https://ent.example.fr\nhttp:\n  listen: 0.0.0.0:8080\n  trusted_proxies: [10.0.0.0/8]\n", host, "https://ent.example.fr", ""},
		{"loopback listen, public name", "public_url: http://ent.lan:8080\n", host, "http://ent.lan:8080", "loopback address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.yaml != "" {
				path = write(t, tt.yaml)
			}
			cfg, origin, err := Read(path, nil, Options{Hostname: tt.hostname})
			if err != nil {
				t.Fatal(err)
			}
			notes := strings.Join(origin.Notes, "\n")
			if cfg.PublicURL != tt.url || (tt.note == "") != (notes == "") || !strings.Contains(notes, tt.note) {
				t.Errorf("public_url %q notes %q; want %q and a note containing %q", cfg.PublicURL, notes, tt.url, tt.note)
			}
		})
	}
	// The environment sets it as well as the file.
	cfg, origin, err := Read("", []string{"ENTHUB_HTTP_LISTEN=127.0.0.1:9100"}, Options{Hostname: host})
	if err != nil || cfg.PublicURL != "http://127.0.0.1:9100" || len(origin.Notes) != 1 {
		t.Errorf("from the environment: %v %q %q", err, cfg.PublicURL, origin.Notes)
	}
}
