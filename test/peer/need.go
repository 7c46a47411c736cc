// Package peer starts real third-party peers for tests: a throwaway PostgreSQL cluster, an
// OpenLDAP slapd, an Apache httpd with the SSO modules, a headless Chromium, panva's openid-client
// (a certified OIDC relying party, on Node.js).
//
// It is imported only from _test.go files (and from test/ packages); production code never
// imports it (TestProductionCodeDoesNotImportPeer checks that).
//
// A missing peer skips the test with a loud reason on a developer's machine, and fails it when
// the environment variable CI is set (CI=true, as CI runs test/run.sh) or when test/run.sh
// exported ENTHUB_TEST_PEERS=1 after installing every peer: see Need.
package peer

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Strict reports whether a missing peer must fail a test instead of skipping it: when CI is set
// (to anything but "", "0" or "false") or ENTHUB_TEST_PEERS=1.
func Strict() bool {
	ci := os.Getenv("CI")
	return (ci != "" && ci != "0" && ci != "false") || os.Getenv("ENTHUB_TEST_PEERS") == "1"
}

var (
	noticed   sync.Map  // what -> true: one notice per missing peer and test binary
	noticeOut io.Writer = os.Stderr
)

// Need stops the test when ok is false: t.Fatal under Strict(), else t.Skip. what names the peer
// ("slapd", "PostgreSQL"), reason says what is missing and how to get it.
func Need(t testing.TB, what string, ok bool, reason string) {
	t.Helper()
	if ok {
		return
	}
	if Strict() {
		t.Fatalf("PEER MISSING: %s: %s (CI or ENTHUB_TEST_PEERS=1 is set, so this fails instead of skipping)", what, reason)
		return
	}
	if _, seen := noticed.LoadOrStore(what, true); !seen {
		// Printed outside the test log so that a run without -v shows it too.
		fmt.Fprintf(noticeOut, "!!! SKIP tests that need %s: %s (run ./test/run.sh as root to install peers)\n", what, reason)
	}
	t.Skipf("SKIP: peer %s missing: %s", what, reason)
}

// debianPackage names the package that ships a binary, for the reasons Need prints.
var debianPackage = map[string]string{
	"initdb": "postgresql", "pg_ctl": "postgresql", "postgres": "postgresql",
	"slapd": "slapd", "slapadd": "slapd", "slaptest": "slapd", "slapcat": "slapd",
	"ldapsearch": "ldap-utils", "ldapmodify": "ldap-utils", "ldapadd": "ldap-utils", "ldapwhoami": "ldap-utils",
	"apache2":                "apache2",
	"mellon_create_metadata": "libapache2-mod-auth-mellon",
	"chromium":               "chromium",
	"xmlsec1":                "xmlsec1",
	"php":                    "php-cli php-ldap",
	"openssl":                "openssl",
	"xmllint":                "libxml2-utils",
	"sshd":                   "openssh-server",
	"ssh-keygen":             "openssh-client",
}

// LookBinary finds an executable on PATH or in the sbin folders (which a non-root PATH lacks).
func LookBinary(name string) (string, bool) {
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

// RequireBinary returns the path of an executable, or stops the test through Need.
func RequireBinary(t testing.TB, name string) string {
	t.Helper()
	p, ok := LookBinary(name)
	reason := name + " not found on PATH or in /usr/sbin"
	if pkg, known := debianPackage[name]; known {
		reason += " (apt-get install " + pkg + ")"
	}
	Need(t, name, ok, reason)
	return p
}
