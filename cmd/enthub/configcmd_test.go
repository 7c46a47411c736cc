package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// waitFor polls url until it answers 200, or the command ends.
func waitFor(t *testing.T, url string, done <-chan int, errb *syncBuffer) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case code := <-done:
			t.Fatalf("exited %d early: %s", code, errb.String())
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	t.Fatalf("%s never answered 200: %s", url, errb.String())
}

// The printed example passes `config check` and `serve` starts on it as
// printed, only its addresses, store and inbox moved to the test's.
func TestServeStartsOnTheExample(t *testing.T) {
	dir := t.TempDir()
	_, example, _ := enthub(t, nil, "config", "example")
	file := filepath.Join(dir, "enthub.yaml")
	if err := os.WriteFile(file, []byte(example), 0o600); err != nil {
		t.Fatal(err)
	}
	httpAddr := freeAddr(t)
	env := []string{"ENTHUB_DB=sqlite:" + filepath.Join(dir, "e.db"), "ENTHUB_HTTP_LISTEN=" + httpAddr,
		"ENTHUB_LDAP_LISTEN=" + freeAddr(t), "ENTHUB_AAF_INBOX=" + filepath.Join(dir, "inbox")}
	if code, out, errs := enthub(t, env, "config", "check", file); code != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("config check of the example = %d %q %q", code, out, errs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve", "--config", file}, strings.NewReader(""), &out, &errb, env) }()
	waitFor(t, "http://"+httpAddr+"/readyz", done, &errb)
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exited %d: %s", code, errb.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// What serve refuses, config check refuses, with the line: an {SSHA}
// value that is not a salted hash (the example's before), an LDAP
// attribute the front does not serve, a push over ldaps with StartTLS.
func TestConfigCheckRunsServesChecks(t *testing.T) {
	file := writeFile(t, "enthub.yaml", `ldap:
  jointure_source: AC$AIX
  service_accounts:
    - dn: cn=grr,ou=services,dc=enthub
      password_hash: "{SSHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="
      attributes: [uid, shoeSize]
  push:
    url: ldaps://ldap.example.fr
    bind_dn: cn=enthub,dc=example,dc=fr
    start_tls: true
`)
	want := []string{
		`enthub.yaml:2: ldap.jointure_source: "AC$AIX" must not contain '$'`,
		`enthub.yaml:5: ldap.service_accounts[0].password_hash: unsupported password hash: salted SHA value is not base64 of digest and salt`,
		`enthub.yaml:6: ldap.service_accounts[0].attributes[1]: unknown attribute type "shoeSize"`,
		`ldap.push.start_tls: the URL is ldaps:// already`,
	}
	code, _, errs := enthub(t, nil, "config", "check", file)
	if code != 1 {
		t.Fatalf("config check = %d %q", code, errs)
	}
	for _, w := range want {
		if !strings.Contains(errs, w) {
			t.Errorf("config check lacks %q:\n%s", w, errs)
		}
	}
	// serve refuses it the same way, before opening anything.
	db := filepath.Join(t.TempDir(), "e.db")
	code, _, serveErrs := enthub(t, nil, "serve", "--config", file, "--db", "sqlite:"+db)
	if code != 1 || !strings.Contains(serveErrs, want[1]) {
		t.Errorf("serve = %d %q", code, serveErrs)
	}
	if _, err := os.Stat(db); err == nil {
		t.Errorf("serve created the store of a refused configuration")
	}
}

func TestConfigShowMasksSecrets(t *testing.T) {
	file := writeFile(t, "enthub.yaml", `db: postgres://enthub:hunter2@db.example.fr/enthub?sslmode=require
http:
  listen: 127.0.0.1:9000
ldap:
  service_accounts:
    - dn: cn=grr,ou=services,dc=enthub
      password_hash: "{SSHA}MzZhNmE0YjA4ZjM0ZmY4N2Q4ZDBhZmZjNDQ1NzQ3ZDVzYWx0"
`)
	secret := "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	code, out, errs := enthub(t, []string{"ENTHUB_SSO_KEY_SECRET=" + secret, "ENTHUB_LDAP_PUSH_PASSWORD=pushpw"}, "config", "show", "--config", file)
	if code != 0 {
		t.Fatalf("config show = %d %q", code, errs)
	}
	for _, leak := range []string{"hunter2", secret, "pushpw", "MzZhNmE0"} {
		if strings.Contains(out, leak) {
			t.Errorf("config show prints the secret %q:\n%s", leak, out)
		}
	}
	for _, re := range []string{
		`db: postgres://enthub:\*+@db\.example\.fr/enthub\?sslmode=require`,
		`key_secret: '?\*+'? # from ENTHUB_SSO_KEY_SECRET`,
		`password: '?\*+'? # from ENTHUB_LDAP_PUSH_PASSWORD`,
		`password_hash: '?\{SSHA\} \*+'?`,
		`public_url: http://127\.0\.0\.1:9000 # derived from http\.listen`,
		`shutdown_timeout: 10s # default`,
		`listen: 127\.0\.0\.1:9000\n`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("config show lacks %s:\n%s", re, out)
		}
	}
}

// demo --public-url is what the demo publishes (banner, OIDC issuer, CAS
// and SAML URLs), so a colleague's browser, reaching this machine by its
// name, gets links it can open; so is public_url from the environment.
func TestDemoPublishesItsPublicURL(t *testing.T) {
	data := t.TempDir()
	httpAddr := freeAddr(t)
	_, port, _ := net.SplitHostPort(httpAddr)
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"flag", []string{"--public-url", "http://colleague-visible.lan:" + port + "/"}, nil, "http://colleague-visible.lan:" + port},
		{"environment", nil, []string{"ENTHUB_PUBLIC_URL=http://ent-demo.lan:" + port}, "http://ent-demo.lan:" + port},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var out, errb syncBuffer
			done := make(chan int, 1)
			args := append([]string{"demo", "--http", httpAddr, "--ldap", freeAddr(t), "--data", data}, tc.args...)
			go func() { done <- run(ctx, args, strings.NewReader(""), &out, &errb, tc.env) }()
			waitFor(t, "http://"+httpAddr+"/readyz", done, &errb)
			for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "Press Ctrl-C") && time.Now().Before(deadline); {
				time.Sleep(20 * time.Millisecond)
			}
			if !strings.Contains(out.String(), "enthub demo is running: "+tc.want+"\n") || strings.Contains(out.String(), "http://"+httpAddr+"/login") {
				t.Errorf("banner does not publish %s:\n%s", tc.want, out.String())
			}
			resp, err := http.Get("http://" + httpAddr + "/.well-known/openid-configuration")
			if err != nil {
				t.Fatal(err)
			}
			b := new(strings.Builder)
			_, _ = io.Copy(b, resp.Body)
			resp.Body.Close()
			if !strings.Contains(b.String(), `"issuer":"`+tc.want+`"`) {
				t.Errorf("OIDC issuer is not %s: %s", tc.want, b)
			}
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("demo exited %d: %s", code, errb.String())
			}
		})
	}
}

// `enthub services import` accepts every example of idp/README.md, and a
// bad file is refused with its line and YAML key.
func TestServicesImportAcceptsTheDocumentedExamples(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "idp", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	db := "sqlite:" + filepath.Join(t.TempDir(), "e.db")
	if code, _, errs := enthub(t, nil, "db", "migrate", "--db", db); code != 0 {
		t.Fatalf("db migrate = %d %q", code, errs)
	}
	examples := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(b), -1)
	if len(examples) < 5 {
		t.Fatalf("%d examples in idp/README.md", len(examples))
	}
	for i, m := range examples {
		file := writeFile(t, "services.yaml", m[1])
		if code, out, errs := enthub(t, nil, "services", "import", file, "--db", db); code != 0 || !strings.Contains(out, "imported") {
			t.Errorf("example %d: import = %d %q %q", i+1, code, out, errs)
		}
	}
	file := writeFile(t, "bad.yaml", "- id: grr\n  protocol: cas\n  cas:\n    service_pattern: ['^https://grr/.*$']\n")
	code, _, errs := enthub(t, nil, "services", "import", file, "--db", db)
	if code != 1 || !strings.Contains(errs, `bad.yaml:4: service "grr": cas.service_pattern: unknown key (did you mean service_patterns?)`) {
		t.Errorf("bad import = %d %q", code, errs)
	}
}

// A wildcard address is never what the demo prints for others to dial.
func TestDemoNeverPublishesAWildcard(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:3389", "[::]:3389", ":3389"} {
		if got := reachable(addr); strings.Contains(got, "0.0.0.0") || strings.Contains(got, "[::]") || strings.HasPrefix(got, ":") || !strings.HasSuffix(got, ":3389") {
			t.Errorf("reachable(%s) = %s", addr, got)
		}
	}
	if got := reachable("127.0.0.1:3389"); got != "127.0.0.1:3389" {
		t.Errorf("reachable(127.0.0.1:3389) = %s", got)
	}
}
