package peer

import (
	"bufio"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// SlapdOptions configures a throwaway OpenLDAP server. The zero value gives dc=example,dc=org
// with cn=admin,dc=example,dc=org / secret.
type SlapdOptions struct {
	Suffix string // default "dc=example,dc=org"
	RootDN string // default "cn=admin," + Suffix
	RootPW string // default "secret" (cleartext in the config: a test server)

	// Schemas are loaded after core, cosine, inetorgperson and nis from /etc/ldap/schema, in
	// order: a ".schema" file is included in slapd.conf (slaptest converts it), a ".ldif" file
	// holds cn=schema,cn=config entries and is slapadd-ed into the config database. Relative
	// paths are relative to the repository root; see SDETSchemas for the SDET (ENTPerson…) files.
	Schemas []string
	// Indexes are slapd.conf "index" values; default "objectClass eq", "uid eq", "cn,sn,mail eq,sub".
	Indexes []string
	// DatabaseConfig holds more slapd.conf lines for the mdb database (overlays, limits, access
	// rules). They come before the default access rules (userPassword for self and auth,
	// everything else readable by all), so an access rule here wins.
	DatabaseConfig string
	// LDIF files loaded with slapadd before the first start (see (*SlapdServer).Slapadd).
	LDIF []string
	// NoBaseEntry leaves the suffix entry out; by default it is created from the suffix's first
	// RDN (dc=, o= or ou=).
	NoBaseEntry bool
	// LogLevel is slapd's -d level; default "stats" (one line per operation, in the log that is
	// printed when the test fails). Use "none" for load tests.
	LogLevel string
}

// SlapdServer is a running throwaway slapd (mdb backend, cn=config in slapd.d).
type SlapdServer struct {
	URL    string // ldap://127.0.0.1:PORT
	Port   int
	LDAPI  string // ldapi:// URL; SASL EXTERNAL over it is the config database's rootDN
	Suffix string
	BindDN string // the rootDN
	BindPW string
	Dir    string // slapd.conf, slapd.d/, db/

	t        testing.TB
	opts     SlapdOptions
	slapd    string
	slapadd  string
	proc     *Process
	ldapiSok string
}

// Slapd starts a throwaway OpenLDAP slapd on a free port of 127.0.0.1, stopped and removed when
// the test ends. A missing slapd (or ldap-utils) stops the test through Need.
func Slapd(t testing.TB, opts SlapdOptions) *SlapdServer {
	t.Helper()
	s := &SlapdServer{t: t, opts: opts}
	s.slapd = RequireBinary(t, "slapd")
	s.slapadd = RequireBinary(t, "slapadd")
	slaptest := RequireBinary(t, "slaptest")
	_, err := os.Stat("/usr/lib/ldap/back_mdb.so")
	Need(t, "slapd back_mdb", err == nil, "/usr/lib/ldap/back_mdb.so missing (apt-get install slapd)")

	if s.opts.Suffix == "" {
		s.opts.Suffix = "dc=example,dc=org"
	}
	if s.opts.RootDN == "" {
		s.opts.RootDN = "cn=admin," + s.opts.Suffix
	}
	if s.opts.RootPW == "" {
		s.opts.RootPW = "secret"
	}
	if len(s.opts.Indexes) == 0 {
		s.opts.Indexes = []string{"objectClass eq", "uid eq", "cn,sn,mail eq,sub"}
	}
	if s.opts.LogLevel == "" {
		s.opts.LogLevel = "stats"
	}
	s.Suffix, s.BindDN, s.BindPW = s.opts.Suffix, s.opts.RootDN, s.opts.RootPW

	// A short folder under /tmp: the ldapi socket path must fit in 108 bytes.
	dir := PublicTempDir(t, "slapd")
	s.Dir = dir
	s.ldapiSok = filepath.Join(dir, "ldapi")
	s.LDAPI = "ldapi://" + url.PathEscape(s.ldapiSok)
	for _, sub := range []string{"slapd.d", "db"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}

	var conf strings.Builder
	var ldifSchemas []string
	for _, f := range []string{"core", "cosine", "inetorgperson", "nis"} {
		fmt.Fprintf(&conf, "include /etc/ldap/schema/%s.schema\n", f)
	}
	for _, f := range s.opts.Schemas {
		f = abs(t, f)
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("slapd schema: %v", err)
		}
		switch {
		case strings.HasSuffix(f, ".schema"):
			fmt.Fprintf(&conf, "include %s\n", f)
		case strings.HasSuffix(f, ".ldif"):
			ldifSchemas = append(ldifSchemas, f)
		default:
			t.Fatalf("slapd schema %s: want a .schema or .ldif file", f)
		}
	}
	fmt.Fprintf(&conf, `pidfile %[1]s/slapd.pid
argsfile %[1]s/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
sizelimit unlimited

database config
rootdn "gidNumber=%[2]d+uidNumber=%[3]d,cn=peercred,cn=external,cn=auth"

database mdb
suffix %[4]q
rootdn %[5]q
rootpw %[6]s
directory %[1]s/db
maxsize 4294967296
`, dir, os.Getegid(), os.Geteuid(), s.opts.Suffix, s.opts.RootDN, s.opts.RootPW)
	for _, ix := range s.opts.Indexes {
		fmt.Fprintf(&conf, "index %s\n", ix)
	}
	if s.opts.DatabaseConfig != "" {
		conf.WriteString(strings.TrimSpace(s.opts.DatabaseConfig) + "\n")
	}
	conf.WriteString(`access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read
`)
	confPath := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// slaptest converts slapd.conf (with its .schema includes) to cn=config. -n0 tests only the
	// config database: a full test would open the empty mdb read-only, which fails.
	run(t, slaptest, "-n0", "-f", confPath, "-F", filepath.Join(dir, "slapd.d"))
	for _, f := range ldifSchemas {
		run(t, s.slapadd, "-n0", "-F", filepath.Join(dir, "slapd.d"), "-l", f)
	}
	if !s.opts.NoBaseEntry {
		if base := baseEntry(s.opts.Suffix); base != "" {
			p := filepath.Join(dir, "base.ldif")
			if err := os.WriteFile(p, []byte(base), 0o644); err != nil {
				t.Fatal(err)
			}
			s.slapaddFile(p)
		}
	}
	for _, f := range s.opts.LDIF {
		s.slapaddFile(abs(t, f))
	}
	s.start()
	return s
}

// baseEntry returns the LDIF of the suffix entry, from its first RDN.
func baseEntry(suffix string) string {
	dn, err := ldap.ParseDN(suffix)
	if err != nil || len(dn.RDNs) == 0 || len(dn.RDNs[0].Attributes) == 0 {
		return ""
	}
	a := dn.RDNs[0].Attributes[0]
	switch strings.ToLower(a.Type) {
	case "dc":
		return fmt.Sprintf("dn: %s\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\ndc: %s\no: %s\n", suffix, a.Value, a.Value)
	case "o":
		return fmt.Sprintf("dn: %s\nobjectClass: top\nobjectClass: organization\no: %s\n", suffix, a.Value)
	case "ou":
		return fmt.Sprintf("dn: %s\nobjectClass: top\nobjectClass: organizationalUnit\nou: %s\n", suffix, a.Value)
	}
	return ""
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
}

// start runs slapd in the foreground on s.Port (a new free port when 0, retried if taken).
func (s *SlapdServer) start() {
	t := s.t
	t.Helper()
	fixed := s.Port != 0
	for attempt := 1; ; attempt++ {
		if !fixed {
			s.Port = FreePort(t)
		}
		s.URL = fmt.Sprintf("ldap://127.0.0.1:%d", s.Port)
		os.Remove(s.ldapiSok)
		cmd := exec.Command(s.slapd, "-d", s.opts.LogLevel, "-F", filepath.Join(s.Dir, "slapd.d"),
			"-h", s.URL+"/ "+s.LDAPI+"/")
		s.proc = StartProcess(t, "slapd", cmd)
		err := waitTCP(s.proc, fmt.Sprintf("127.0.0.1:%d", s.Port), 30*time.Second)
		if err == nil {
			err = s.ping()
		}
		if err == nil {
			return
		}
		s.proc.Stop()
		if !fixed && attempt < 3 && portTaken(s.proc) {
			continue
		}
		t.Fatalf("slapd: %v\n%s", err, s.proc.Tail(40))
	}
}

func (s *SlapdServer) ping() error {
	var err error
	for i := 0; i < 50; i++ {
		var c *ldap.Conn
		if c, err = ldap.DialURL(s.URL); err == nil {
			err = c.Bind(s.BindDN, s.BindPW)
			c.Close()
			if err == nil {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("bind as %s: %v", s.BindDN, err)
}

// Stop stops slapd (also done when the test ends).
func (s *SlapdServer) Stop() { s.proc.Stop() }

// Slapadd bulk-loads a content LDIF offline: it stops slapd, runs slapadd -q, and starts slapd
// again on the same port. "version:" lines and "changetype: add" lines are dropped, so files
// written for ldapadd load too. Use LDAPModify for other changes.
func (s *SlapdServer) Slapadd(ldifPath string) {
	s.t.Helper()
	s.proc.Stop()
	s.slapaddFile(abs(s.t, ldifPath))
	s.start()
}

func (s *SlapdServer) slapaddFile(path string) {
	t := s.t
	t.Helper()
	in, err := os.Open(path)
	if err != nil {
		t.Fatalf("slapadd: %v", err)
	}
	defer in.Close()
	filtered, err := os.CreateTemp(s.Dir, "slapadd-*.ldif")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(filtered.Name())
	w := bufio.NewWriter(filtered)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Text()
		l := strings.ToLower(strings.TrimSpace(line))
		if strings.HasPrefix(l, "version:") || strings.ReplaceAll(l, " ", "") == "changetype:add" {
			continue
		}
		w.WriteString(line)
		w.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("slapadd %s: %v", path, err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	filtered.Close()
	out, err := exec.Command(s.slapadd, "-q", "-b", s.opts.Suffix, "-F", filepath.Join(s.Dir, "slapd.d"),
		"-l", filtered.Name()).CombinedOutput()
	if err != nil {
		t.Fatalf("slapadd %s: %v\n%s", path, err, out)
	}
}

// LDAPModify applies an LDIF online with ldapmodify -a as the rootDN: change records
// (changetype: add/modify/delete/modrdn), and plain entries, which are added.
func (s *SlapdServer) LDAPModify(ldifPath string) {
	s.t.Helper()
	bin := RequireBinary(s.t, "ldapmodify")
	run(s.t, bin, "-a", "-x", "-H", s.URL, "-D", s.BindDN, "-w", s.BindPW, "-f", abs(s.t, ldifPath))
}

// ConfigModify applies an LDIF to cn=config online (SASL EXTERNAL over ldapi, as the process
// owner), e.g. to change olcDbIndex or olcAccess of olcDatabase={1}mdb,cn=config.
func (s *SlapdServer) ConfigModify(ldifPath string) {
	s.t.Helper()
	bin := RequireBinary(s.t, "ldapmodify")
	run(s.t, bin, "-Q", "-Y", "EXTERNAL", "-H", s.LDAPI, "-f", abs(s.t, ldifPath))
}

// Conn returns a go-ldap connection bound as the rootDN, closed when the test ends.
func (s *SlapdServer) Conn() *ldap.Conn {
	s.t.Helper()
	c, err := ldap.DialURL(s.URL)
	if err != nil {
		s.t.Fatalf("dial %s: %v", s.URL, err)
	}
	s.t.Cleanup(func() { c.Close() })
	if err := c.Bind(s.BindDN, s.BindPW); err != nil {
		s.t.Fatalf("bind %s: %v", s.BindDN, err)
	}
	return c
}

// SDETSchemas returns the SDET / ESCO schema files (ENTPerson, ENTEleve, ENTStructure, ENTClasse…)
// from shared/reference/sdet-ldap/recia-docker-openldap-test, in load order (the OID macros first).
// slapd accepts them as they are, including the stray ")" in 13-esco-personne.schema.
func SDETSchemas(t testing.TB) []string {
	t.Helper()
	dir := SharedFile(t, "reference/sdet-ldap/recia-docker-openldap-test")
	var out []string
	for _, f := range []string{"11-esco-const", "05-ldappc", "13-esco-personne", "16-esco-addons",
		"17-esco-structure", "21-esco-groupe", "31-esco-mail", "51-esco-application"} {
		out = append(out, filepath.Join(dir, f+".schema"))
	}
	return out
}
