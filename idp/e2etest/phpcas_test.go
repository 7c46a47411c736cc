package e2etest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/idp"
	"github.com/enthub/enthub/test/peer"
)

// phpCASApp is a page protected by phpCAS as GRR, SPIP and most PHP
// school applications use it: CAS 3.0 validation (attributes), enthub
// reached over http on 127.0.0.1, which phpCAS only takes through its
// explicit URL setters (it builds https URLs itself).
const phpCASApp = `<?php
require_once 'CAS.php';
$hub = getenv('ENTHUB_HUB');
$app = getenv('ENTHUB_APP');
$u = parse_url($hub);
phpCAS::client(CAS_VERSION_3_0, $u['host'], $u['port'], '/cas', $app, true);
phpCAS::setNoCasServerValidation();
phpCAS::setServerLoginURL($hub . '/cas/login?service=' . urlencode(phpCAS::getServiceURL()));
phpCAS::setServerServiceValidateURL($hub . '/cas/p3/serviceValidate');
phpCAS::forceAuthentication();
header('Content-Type: text/plain; charset=utf-8');
echo 'user=' . phpCAS::getUser() . "\n";
$a = phpCAS::getAttributes();
ksort($a);
foreach ($a as $k => $v) {
	echo 'attr.' . $k . '=' . (is_array($v) ? implode(',', $v) : $v) . "\n";
}
`

// TestPhpCASClient logs in through phpCAS (Debian php-cas), served by
// PHP's built-in web server: the redirect to enthub's login, the ticket
// back, its validation by phpCAS over /cas/p3/serviceValidate, the user
// and the release policy's attributes as phpCAS hands them to the app.
func TestPhpCASClient(t *testing.T) {
	php := peer.RequireBinary(t, "php")
	_, err := os.Stat("/usr/share/php/CAS.php")
	peer.Need(t, "php-cas", err == nil, "phpCAS not installed (apt-get install php-cas php-xml)")
	out, _ := exec.Command(php, "-m").Output()
	peer.Need(t, "php-xml", regexp.MustCompile(`(?m)^dom$`).Match(out), "PHP DOM extension missing (apt-get install php-xml)")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := peer.FreePort(t)
	app := fmt.Sprintf("http://127.0.0.1:%d", port)
	h := startHub(t, ln, []idp.Service{{ID: "grr", Name: "GRR", Protocol: idp.ProtocolCAS,
		Release: idp.ReleasePolicy{Attributes: []idp.AttributeRule{
			{Source: "person.last_name", Name: "user_nom_ldap"}, {Source: "person.first_name", Name: "user_prenom_ldap"},
			{Source: "persona.uai", Name: "ENTPersonStructRattachRNE"}}},
		CAS: idp.CASService{ServicePatterns: []string{"^" + regexp.QuoteMeta(app) + "/.*$"}}}})

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "index.php"), phpCASApp, 0o644)
	os.MkdirAll(filepath.Join(dir, "sessions"), 0o700)
	cmd := exec.Command(php, "-d", "session.save_path="+filepath.Join(dir, "sessions"), "-d", "include_path=.:/usr/share/php",
		"-S", fmt.Sprintf("127.0.0.1:%d", port), "-t", dir)
	cmd.Env = append(os.Environ(), "ENTHUB_HUB="+h.url, "ENTHUB_APP="+app)
	proc := peer.StartProcess(t, "php -S phpCAS", cmd)
	waitHTTP(t, proc, app+"/index.php")

	resp, page := newBrowser(t).visit(app + "/index.php")
	if resp.StatusCode != 200 || !strings.Contains(page, "user=emma.martin\n") {
		t.Fatalf("phpCAS login: %d at %s\n%s\n%s", resp.StatusCode, resp.Request.URL, page, proc.Tail(30))
	}
	for _, want := range []string{"attr.user_nom_ldap=Martin", "attr.user_prenom_ldap=Emma", "attr.ENTPersonStructRattachRNE=0451462V"} {
		if !strings.Contains(page, want+"\n") {
			t.Errorf("phpCAS attributes lack %q:\n%s", want, page)
		}
	}
}

// waitHTTP waits until a server answers on u.
func waitHTTP(t *testing.T, proc *peer.Process, u string) {
	t.Helper()
	host := strings.TrimPrefix(u, "http://")
	host = host[:strings.Index(host, "/")]
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", host); err == nil {
			c.Close()
			return
		}
		if exited, err := proc.Exited(); exited {
			t.Fatalf("%s exited: %v\n%s", proc.Name, err, proc.Tail(30))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s does not answer at %s", proc.Name, u)
}
