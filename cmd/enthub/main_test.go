package main

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// syncBuffer is a bytes.Buffer safe for a command writing while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func enthub(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb syncBuffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb, env)
	return code, out.String(), errb.String()
}

func TestExitCodes(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "e.db")
	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"version", []string{"version"}, 0, "enthub "},
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"unknown flag", []string{"version", "--nope"}, 2, "unknown flag: --nope"},
		{"missing argument", []string{"dir", "show"}, 2, "accepts 1 arg"},
		{"db migrate", []string{"db", "migrate", "--db", db}, 0, "schema is current"},
		{"dir show unknown", []string{"dir", "show", "nobody", "--db", db}, 1, `no person with AAF id, login or id "nobody"`},
		{"bad db flag", []string{"dir", "stats", "--db", "mysql://x"}, 2, "db: \"mysql://x\""},
		{"dir stats empty", []string{"dir", "stats", "--json", "--db", db}, 0, `"structures": 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := enthub(t, nil, tt.args...)
			if code != tt.code || !strings.Contains(out+errs, tt.out) {
				t.Errorf("enthub %v = %d, stdout %q stderr %q; want %d containing %q", tt.args, code, out, errs, tt.code, tt.out)
			}
		})
	}
}

func TestConfigCheckListsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("ldap:\n  listen: 300.1.1.1:389\nlog:\n  level: loud\nhttp:\n  lisen: x\n"), 0o600)
	code, _, errs := enthub(t, nil, "config", "check", bad)
	if code != 1 {
		t.Fatalf("config check of a bad file exited %d, want 1", code)
	}
	// Unknown keys, values and the checks serve makes, in one round.
	for _, want := range []string{"bad.yaml:6: http.lisen: unknown key (did you mean listen?)",
		`bad.yaml:2: ldap.listen: address "300.1.1.1:389" is not valid`, `bad.yaml:4: log.level: "loud"`, "3 problem(s)"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr %q lacks %q", errs, want)
		}
	}
	// The printed example is a valid file.
	_, example, _ := enthub(t, nil, "config", "example")
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte(example), 0o600)
	if code, out, errs := enthub(t, nil, "config", "check", good); code != 0 || !strings.Contains(out, "ok") {
		t.Errorf("config check of the example = %d %q %q", code, out, errs)
	}
}

func TestHashPassword(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"hash-password"}, strings.NewReader("s3cret\n"), &out, &errb, nil)
	if code != 0 || !regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}\n$`).MatchString(out.String()) {
		t.Errorf("hash-password = %d %q", code, out.String())
	}
}

func TestDemoServesAndStopsCleanly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	data := t.TempDir()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	ldapAddr := l.Addr().String()
	l.Close()
	go func() {
		done <- run(ctx, []string{"demo", "--http", "127.0.0.1:0", "--ldap", ldapAddr, "--data", data}, strings.NewReader(""), &out, &errb, nil)
	}()
	re := regexp.MustCompile(`running: (http://127\.0\.0\.1:\d+)`)
	var base string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil && strings.Contains(out.String(), "Press Ctrl-C") {
			base = m[1]
			break
		}
		select {
		case code := <-done:
			t.Fatalf("demo exited %d early: %s", code, errb.String())
		default:
		}
	}
	if base == "" {
		t.Fatalf("demo did not announce its address: %q %q", out.String(), errb.String())
	}
	for _, want := range []string{"demo.invite / demo", "cn=reader,dc=enthub / demo"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo banner lacks %q", want)
		}
	}
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready", "/": "demo.invite",
		"/.well-known/openid-configuration": `"issuer":"` + base + `"`, "/saml/idp/metadata": "IDPSSODescriptor",
		"/login": "Je suis…", "/login?profile=invite": "csrf", "/login?profile=eleve": "EduConnect (simulation)", "/demo/": "CAS"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("GET %s = %d %q, want 200 containing %q", path, resp.StatusCode, b, want)
		}
	}
	// The statistics are in the consoles' frame (stylesheet, headers, the
	// status kept): the demo guest is a statistics administrator, the
	// demo principal is not.
	for _, tc := range []struct {
		login string
		code  int
	}{{"demo.invite", 200}, {"demo.direction", 403}} {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar}
		_, page := get(t, c, base+"/login?profile=invite")
		m := regexp.MustCompile(`action="([^"]*)"[\s\S]*name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no password form at /login?profile=invite: %s", page)
		}
		action, err := url.Parse(base + "/login")
		if err == nil {
			action, err = action.Parse(html.UnescapeString(m[1]))
		}
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.PostForm(action.String(), url.Values{"csrf": {m[2]}, "login": {tc.login}, "password": {"demo"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		resp, err = c.Get(base + "/console/stats")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(b), "/console/assets/console.css") ||
			!strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") || !strings.Contains(string(b), tc.login) {
			t.Errorf("%s: GET /console/stats = %d (want %d), CSP %q:\n%s", tc.login, resp.StatusCode, tc.code, resp.Header.Get("Content-Security-Policy"), b)
		}
		// The seeded spaces are on the console's page, for the
		// administrator only.
		if code, page := get(t, c, base+"/console/spaces"); code != tc.code ||
			(code == 200 && (!strings.Contains(page, "Espace ATI") || !strings.Contains(page, "Espace Cuisine"))) {
			t.Errorf("%s: GET /console/spaces = %d (want %d):\n%s", tc.login, code, tc.code, page)
		}
	}
	// The start page lists the federated journeys, the multi-account one
	// and single logout from either side included.
	if resp, err := http.Get(base + "/"); err != nil {
		t.Fatal(err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{"aussi parent d", "Déconnexion unique", "Déconnexion initiée par EduConnect"} {
			if !strings.Contains(string(b), want) {
				t.Errorf("the demo page does not list %q", want)
			}
		}
	}
	if resp, err := http.Get(base + "/nulle/part"); err != nil {
		t.Fatal(err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 404 || !strings.Contains(string(b), "Page introuvable") {
			t.Errorf("GET /nulle/part = %d %q, want the French 404 page", resp.StatusCode, b)
		}
	}
	// The demo's LDAP answers its printed reader account.
	var conn *goldap.Conn
	var err error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if conn, err = goldap.DialURL("ldap://" + ldapAddr); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("demo LDAP: %v", err)
	}
	if err := conn.Bind("cn=reader,dc=enthub", "demo"); err != nil {
		t.Fatalf("bind as the demo reader: %v", err)
	}
	res, err := conn.Search(goldap.NewSearchRequest("ou=people,dc=enthub", goldap.ScopeSingleLevel, goldap.NeverDerefAliases, 0, 0, false,
		"(ENTPersonProfils=National_ENS)", []string{"ENTPersonLogin"}, nil))
	if err != nil || len(res.Entries) < 100 {
		t.Errorf("teachers over LDAP: %v, %d entries", err, len(res.Entries))
	}
	// The seeded spaces are groups with members (the LDAP front sees them
	// at its next poll of the store).
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		res, err = conn.Search(goldap.NewSearchRequest("ou=groups,dc=enthub", goldap.ScopeSingleLevel, goldap.NeverDerefAliases, 0, 0, false,
			"(|(cn=espace-ati)(cn=espace-cuisine))", []string{"member"}, nil))
		if err == nil && len(res.Entries) == 2 && len(res.Entries[0].GetAttributeValues("member")) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the demo's spaces over LDAP: %v, %d entries", err, len(res.Entries))
			break
		}
	}
	conn.Close()
	if _, err := os.Stat(filepath.Join(data, "enthub.db")); err != nil {
		t.Errorf("demo store not under --data: %v", err)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("demo exited %d after SIGTERM, want 0: %s", code, errb.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("demo did not stop")
	}
	// The demo seeded a realistic directory at its first start.
	db := "sqlite:" + filepath.Join(data, "enthub.db")
	code, out2, _ := enthub(t, nil, "dir", "stats", "--json", "--db", db)
	var st struct {
		Structures int            `json:"structures"`
		ByProfile  map[string]int `json:"by_profile"`
	}
	if code != 0 || json.Unmarshal([]byte(out2), &st) != nil || st.Structures != 4 || st.ByProfile["eleve"] != 2400 ||
		st.ByProfile["parent"] < 2000 || st.ByProfile["enseignant"] < 100 {
		t.Errorf("demo directory = %d %+v", code, st)
	}
}
