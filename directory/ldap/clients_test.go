package ldap

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/test/peer"
	goldap "github.com/go-ldap/ldap/v3"
)

// Real clients: the OpenLDAP tools and PHP's ldap extension (what GRR, PMB
// and SPIP use). They skip on a machine without them and fail under CI.

func runTool(t *testing.T, name string, args ...string) (string, int) {
	t.Helper()
	bin := peer.RequireBinary(t, name)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "LDAPNOINIT=1")
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return string(out), code
}

func TestOpenLDAPTools(t *testing.T) {
	f := newFixture(t)
	uri := "ldap://" + f.addr
	tests := []struct {
		name     string
		tool     string
		args     []string
		wantCode int
		want     []string
	}{
		{"whoami as the reader", "ldapwhoami", []string{"-x", "-H", uri, "-D", readerDN, "-w", readerPW}, 0,
			[]string{"dn:" + readerDN}},
		{"whoami anonymous", "ldapwhoami", []string{"-x", "-H", uri}, 0, []string{"anonymous"}},
		{"bad password", "ldapwhoami", []string{"-x", "-H", uri, "-D", readerDN, "-w", "nope"}, 49,
			[]string{"Invalid credentials (49)"}},
		{"search by uid", "ldapsearch", []string{"-x", "-LLL", "-H", uri, "-D", readerDN, "-w", readerPW, "-b", base,
			"(uid=eleve1)", "ENTPersonLogin", "ENTPersonProfils", "cn"}, 0,
			[]string{"dn: uid=eleve1,ou=people,dc=enthub", "ENTPersonLogin: corentin.colin", "ENTPersonProfils: National_ELV"}},
		{"UTF-8 value is base64 in LDIF", "ldapsearch", []string{"-x", "-LLL", "-H", uri, "-D", readerDN, "-w", readerPW, "-b", people,
			"(uid=eleve2)", "givenName"}, 0, []string{"givenName:: TMOpYQ=="}},
		{"one level, paged", "ldapsearch", []string{"-x", "-LLL", "-H", uri, "-D", readerDN, "-w", readerPW, "-b", people,
			"-s", "one", "-E", "pr=2/noprompt", "(objectClass=ENTEleve)", "1.1"}, 0,
			[]string{"dn: uid=eleve1,", "dn: uid=eleve3,", "dn: uid=disabled1,"}},
		{"rootDSE", "ldapsearch", []string{"-x", "-LLL", "-H", uri, "-b", "", "-s", "base", "+"}, 0,
			[]string{"namingContexts: dc=enthub", "supportedLDAPVersion: 3", "subschemaSubentry: cn=subschema"}},
		{"schema", "ldapsearch", []string{"-x", "-LLL", "-o", "ldif-wrap=no", "-H", uri, "-b", "cn=subschema", "-s", "base", "objectClasses"}, 0,
			[]string{"NAME 'ENTEleve'"}},
		{"anonymous search refused", "ldapsearch", []string{"-x", "-LLL", "-H", uri, "-b", base, "(uid=eleve1)"}, 50,
			[]string{"Insufficient access (50)"}},
		{"size limit", "ldapsearch", []string{"-x", "-LLL", "-H", uri, "-D", readerDN, "-w", readerPW, "-b", people,
			"-z", "2", "(objectClass=*)", "1.1"}, 4, []string{"Size limit exceeded (4)"}},
		{"compare true", "ldapcompare", []string{"-x", "-H", uri, "-D", readerDN, "-w", readerPW, personDN("eleve1"),
			"ENTPersonLogin:corentin.colin"}, 6, []string{"TRUE"}},
		{"compare false", "ldapcompare", []string{"-x", "-H", uri, "-D", readerDN, "-w", readerPW, personDN("eleve1"),
			"sn:Dupont"}, 5, []string{"FALSE"}},
		{"write refused", "ldapdelete", []string{"-x", "-H", uri, "-D", readerDN, "-w", readerPW, personDN("eleve1")}, 53,
			[]string{"Server is unwilling to perform (53)", "AAF"}},
		{"critical unknown control", "ldapsearch", []string{"-x", "-LLL", "-H", uri, "-D", readerDN, "-w", readerPW, "-b", base,
			"-e", "!1.2.3.4.5", "(uid=eleve1)"}, 12, []string{"(12)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := runTool(t, tt.tool, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("%s exited %d, want %d:\n%s", tt.tool, code, tt.wantCode, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestPHPLDAP(t *testing.T) {
	php := peer.RequireBinary(t, "php")
	if out, err := exec.Command(php, "-r", `echo function_exists("ldap_connect") ? "yes" : "no";`).Output(); err != nil || string(out) != "yes" {
		peer.Need(t, "php-ldap", false, "the PHP ldap extension is not loaded (apt-get install php-ldap)")
	}
	f := newFixture(t)
	// What GRR/SPIP do: search the user's DN with a service account, then
	// bind as the user to check the password.
	script := `
$c = ldap_connect("ldap://` + f.addr + `");
ldap_set_option($c, LDAP_OPT_PROTOCOL_VERSION, 3);
ldap_set_option($c, LDAP_OPT_REFERRALS, 0);
if (!ldap_bind($c, "` + readerDN + `", "` + readerPW + `")) { echo "bind-failed\n"; exit(1); }
$r = ldap_search($c, "` + people + `", "(ENTPersonLogin=invite.stage)", ["uid", "cn", "mail", "ENTPersonProfils"]);
$e = ldap_get_entries($c, $r);
echo "count=", $e["count"], "\n";
$dn = $e[0]["dn"];
echo "dn=", $dn, "\n";
echo "cn=", $e[0]["cn"][0], "\n";
$u = ldap_connect("ldap://` + f.addr + `");
ldap_set_option($u, LDAP_OPT_PROTOCOL_VERSION, 3);
echo "user-bind=", @ldap_bind($u, $dn, "` + guestPW + `") ? "ok" : "refused", "\n";
echo "bad-bind=", @ldap_bind($u, $dn, "wrong") ? "ok" : ldap_error($u), "\n";
$r = ldap_search($c, "` + people + `", "(isMemberOf=cn=0290009C\$TS2,` + groups + `)", ["uid"]);
echo "members=", ldap_count_entries($c, $r), "\n";
`
	dir := t.TempDir()
	path := filepath.Join(dir, "t.php")
	if err := os.WriteFile(path, []byte("<?php\n"+script), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(php, path).CombinedOutput()
	if err != nil {
		t.Fatalf("php: %v\n%s", err, out)
	}
	for _, w := range []string{"count=1", "dn=uid=guest1,ou=people,dc=enthub", "cn=Invité Stage", "user-bind=ok",
		"bad-bind=Invalid credentials", "members=3"} {
		if !strings.Contains(string(out), w) {
			t.Errorf("php output lacks %q:\n%s", w, out)
		}
	}
}

// TestOnPostgres serves the same small directory from PostgreSQL, the
// production store.
func TestOnPostgres(t *testing.T) {
	url := peer.Postgres(t)
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, url, sqlstore.Options{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fillSmall(t, st)
	_, addr := startServer(t, st, testConfig())
	c, err := goldap.DialURL("ldap://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Bind(readerDN, readerPW); err != nil {
		t.Fatal(err)
	}
	for filter, want := range map[string]int{
		"(uid=eleve1)": 1, "(isMemberOf=cn=0290009C$TS2,ou=groups,dc=enthub)": 3, "(objectClass=ENTPerson)": 9,
		"(ENTPersonProfils=National_ENS)": 1,
	} {
		if got := len(search(t, c, people, goldap.ScopeSingleLevel, filter, "uid").Entries); got != want {
			t.Errorf("%s: %d entries, want %d", filter, got, want)
		}
	}
}
