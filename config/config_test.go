package config

import (
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
	if cfg.LDAP.BaseDN != "dc=ent,dc=example,dc=fr" || len(cfg.LDAP.ServiceAccounts) != 1 || cfg.AAF.GracePeriod != 720*time.Hour {
		t.Errorf("example values not read: %+v", cfg)
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
		{"wrong type", "ldap:\n  size_limit: lots\n", nil, []string{"line 2", "lots"}},
		{"clear password refused", "ldap:\n  service_accounts:\n    - dn: cn=a,dc=x\n      password_hash: secret\n", nil, []string{"ldap.service_accounts[0].password_hash: want an argon2id"}},
		{"several at once", "log:\n  level: loud\n  format: xml\npublic_url: ftp://x\n", nil, []string{"log.level", "log.format", "public_url"}},
		{"env override bad", "", []string{"ENTHUB_HTTP_SHUTDOWN_TIMEOUT=soon"}, []string{"http.shutdown_timeout (from ENTHUB_HTTP_SHUTDOWN_TIMEOUT)", "not a duration"}},
		{"env typo", "", []string{"ENTHUB_HTTP_LISTN=1"}, []string{"ENTHUB_HTTP_LISTN: environment variable matches no configuration key"}},
		{"bad cron", "aaf:\n  purge_schedule: every night\n", nil, []string{"aaf.purge_schedule"}},
		{"idle longer than absolute", "sso:\n  session_idle: 12h\n", nil, []string{"sso.session_idle: 12h0m0s is longer than sso.session_absolute"}},
		{"bad db", "db: mysql://x\n", nil, []string{"db: \"mysql://x\""}},
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
