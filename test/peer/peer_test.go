package peer_test

import (
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	_ "github.com/lib/pq"

	"github.com/enthub/enthub/test/peer"
)

// A fresh database per call: empty, usable for a real round trip, and gone after the test.
func TestPostgresFreshDatabaseIsDroppedAfterTest(t *testing.T) {
	var dbURL, dbName string
	t.Run("use", func(t *testing.T) {
		dbURL = peer.Postgres(t)
		db, err := sql.Open("postgres", dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var tables int
		if err := db.QueryRow(`SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'`).Scan(&tables); err != nil {
			t.Fatal(err)
		}
		if tables != 0 {
			t.Fatalf("fresh database has %d tables in public, want 0", tables)
		}
		if _, err := db.Exec(`CREATE TABLE account (id serial PRIMARY KEY, login text UNIQUE NOT NULL, display text)`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`INSERT INTO account (login, display) VALUES ($1, $2)`, "jdupont", "Jérôme Dupont"); err != nil {
			t.Fatal(err)
		}
		var display string
		if err := db.QueryRow(`SELECT display FROM account WHERE login = $1`, "jdupont").Scan(&display); err != nil {
			t.Fatal(err)
		}
		if display != "Jérôme Dupont" {
			t.Fatalf("read back %q, want %q", display, "Jérôme Dupont")
		}
		if err := db.QueryRow(`SELECT current_database()`).Scan(&dbName); err != nil {
			t.Fatal(err)
		}
		if other := peer.Postgres(t); other == dbURL {
			t.Fatalf("two calls gave the same database %s", other)
		}
		// db stays open on purpose: the cleanup must drop a database that still has a connection.
	})
	if dbName == "" {
		return // the subtest skipped or failed
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/postgres"
	admin, err := sql.Open("postgres", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var n int
	if err := admin.QueryRow(`SELECT count(*) FROM pg_database WHERE datname = $1`, dbName).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("database %s still exists after the test that made it ended", dbName)
	}
}

const people = `dn: ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: people

dn: uid=jdupont,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: jdupont
cn: Jérôme Dupont
sn: Dupont
givenName: Jérôme
mail: jerome.dupont@example.org
userPassword: s3cret-élève
`

// slapd answers the real OpenLDAP clients for entries bulk-loaded with Slapadd.
func TestSlapdServesSlapaddedEntries(t *testing.T) {
	s := peer.Slapd(t, peer.SlapdOptions{})
	ldif := filepath.Join(t.TempDir(), "people.ldif")
	if err := os.WriteFile(ldif, []byte(people), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Slapadd(ldif)

	ldapsearch := peer.RequireBinary(t, "ldapsearch")
	out, err := exec.Command(ldapsearch, "-x", "-LLL", "-o", "ldif-wrap=no", "-H", s.URL, "-b", s.Suffix,
		"(uid=jdupont)", "mail", "sn").CombinedOutput()
	if err != nil {
		t.Fatalf("ldapsearch: %v\n%s", err, out)
	}
	for _, want := range []string{"dn: uid=jdupont,ou=people,dc=example,dc=org", "mail: jerome.dupont@example.org", "sn: Dupont"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("ldapsearch output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "userPassword") {
		t.Errorf("anonymous ldapsearch shows userPassword:\n%s", out)
	}

	ldapwhoami := peer.RequireBinary(t, "ldapwhoami")
	userDN := "uid=jdupont,ou=people,dc=example,dc=org"
	out, err = exec.Command(ldapwhoami, "-x", "-H", s.URL, "-D", userDN, "-w", "s3cret-élève").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "dn:"+userDN {
		t.Errorf("ldapwhoami with the right password: %v %q", err, out)
	}
	out, err = exec.Command(ldapwhoami, "-x", "-H", s.URL, "-D", userDN, "-w", "wrong").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Invalid credentials (49)") {
		t.Errorf("ldapwhoami with a wrong password: %v %q, want Invalid credentials (49)", err, out)
	}

	// The go-ldap client sees the same entry.
	res, err := s.Conn().Search(ldap.NewSearchRequest(s.Suffix, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		0, 0, false, "(mail=jerome.dupont@example.org)", []string{"cn"}, nil))
	if err != nil || len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("cn") != "Jérôme Dupont" {
		t.Errorf("go-ldap search: %v %+v", err, res)
	}
}

// The SDET schema files (ENTStructure…) load as they are, and the SDET bootstrap LDIF applies.
func TestSlapdWithSDETSchemas(t *testing.T) {
	s := peer.Slapd(t, peer.SlapdOptions{
		Suffix:   "dc=esco-centre,dc=fr",
		RootDN:   "cn=admin,ou=administrateurs,dc=esco-centre,dc=fr",
		Schemas:  peer.SDETSchemas(t),
		Indexes:  []string{"objectClass eq", "uid eq", "ENTPersonLogin eq", "ENTStructureUAI eq", "ENTStructureSIREN eq"},
		LogLevel: "none",
	})
	s.LDAPModify(peer.SharedFile(t, "reference/sdet-ldap/recia-docker-openldap-test/01-ou.ldif"))
	s.LDAPModify(peer.SharedFile(t, "reference/sdet-ldap/recia-docker-openldap-test/21-structures.ldif"))

	ldapsearch := peer.RequireBinary(t, "ldapsearch")
	out, err := exec.Command(ldapsearch, "-x", "-LLL", "-o", "ldif-wrap=no", "-H", s.URL, "-b", "ou=structures,"+s.Suffix,
		"(ENTStructureUAI=0290009C)", "ENTStructureNomCourant", "ENTStructureSIREN").CombinedOutput()
	if err != nil {
		t.Fatalf("ldapsearch: %v\n%s", err, out)
	}
	for _, want := range []string{"ENTStructureNomCourant: LG-DE L'IROISE-ac-RENNES", "ENTStructureSIREN: 19290009000015"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("ldapsearch output lacks %q:\n%s", want, out)
		}
	}
}

// Apache serves a static page, and a confBody template sees the server's own values.
func TestApacheServesPage(t *testing.T) {
	a := peer.Apache(t, `Alias /static {{.DocRoot}}
Header always set X-Enthub-Port "{{.Port}}"
`)
	a.WriteFile("index.html", "<!doctype html><title>enthub</title><h1>Bienvenue sur l'ENT</h1>\n")
	code, body := a.Get("/")
	if code != http.StatusOK || !strings.Contains(body, "Bienvenue sur l'ENT") {
		t.Fatalf("GET /: %d %q", code, body)
	}
	code, body = a.Get("/static/index.html")
	if code != http.StatusOK || !strings.Contains(body, "Bienvenue") {
		t.Fatalf("GET /static/index.html: %d %q", code, body)
	}
	if code, _ := a.Get("/missing.html"); code != http.StatusNotFound {
		t.Fatalf("GET /missing.html: %d, want 404", code)
	}
	resp, err := http.Get(a.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Enthub-Port"); got != fmt.Sprint(a.Port) {
		t.Fatalf("X-Enthub-Port = %q, want %d", got, a.Port)
	}
}

// idpMetadata is a minimal SAML IdP description for mellon: a signing certificate (any will do
// until a response must be verified) and a Redirect-binding SSO endpoint.
func idpMetadata(t *testing.T, entityID, ssoURL, certPEM string) string {
	t.Helper()
	var b64 []string
	for _, l := range strings.Split(strings.TrimSpace(certPEM), "\n") {
		if !strings.HasPrefix(l, "-----") {
			b64 = append(b64, strings.TrimSpace(l))
		}
	}
	md := fmt.Sprintf(`<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="%s">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>%s</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="%s"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
`, entityID, strings.Join(b64, ""), ssoURL)
	p := filepath.Join(peer.PublicTempDir(t, "idp"), "idp.xml") // read by the www-data workers
	if err := os.WriteFile(p, []byte(md), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// mod_auth_mellon loads with SP files made by MellonSP, serves that SP metadata, and sends a
// visitor of a protected page to the IdP with a signed AuthnRequest.
func TestApacheMellonSP(t *testing.T) {
	port := peer.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	sp := peer.MellonSP(t, base+"/mellon/metadata", base+"/mellon")
	cert, err := os.ReadFile(sp.Cert)
	if err != nil {
		t.Fatal(err)
	}
	// No IdP listens there: the test only follows redirects up to it.
	idp := idpMetadata(t, "http://127.0.0.1:9/saml/idp", "http://127.0.0.1:9/saml/sso", string(cert))
	a := peer.ApacheAt(t, port, peer.ApacheModules(t, "auth_mellon")+fmt.Sprintf(`
<Location />
    MellonEnable info
    MellonEndpointPath /mellon
    MellonSPPrivateKeyFile %q
    MellonSPCertFile %q
    MellonSPMetadataFile %q
    MellonIdPMetadataFile %q
</Location>
<Location /protected>
    AuthType Mellon
    MellonEnable auth
    Require valid-user
</Location>
`, sp.Key, sp.Cert, sp.Metadata, idp))
	a.WriteFile("protected/index.html", "secret page\n")

	code, body := a.Get("/mellon/metadata")
	if code != http.StatusOK {
		t.Fatalf("GET /mellon/metadata: %d\n%s", code, body)
	}
	for _, want := range []string{`entityID="` + sp.EntityID + `"`, base + "/mellon/postResponse", "X509Certificate"} {
		if !strings.Contains(body, want) {
			t.Errorf("SP metadata lacks %q:\n%s", want, body)
		}
	}

	loc := redirect(t, a.URL+"/protected/")
	if !strings.Contains(loc, "/mellon/login?ReturnTo=") {
		t.Fatalf("GET /protected/ redirects to %q, want the mellon login", loc)
	}
	if !strings.HasPrefix(loc, "http") {
		loc = a.URL + loc
	}
	loc = redirect(t, loc)
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Host != "127.0.0.1:9" || u.Path != "/saml/sso" || q.Get("SAMLRequest") == "" || q.Get("Signature") == "" {
		t.Fatalf("mellon login redirects to %q, want a signed SAMLRequest to the IdP", loc)
	}
}

func redirect(t *testing.T, from string) string {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(from)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 3 {
		t.Fatalf("GET %s: %d, want a redirect", from, resp.StatusCode)
	}
	return resp.Header.Get("Location")
}

// Headless Chromium renders a page (scripts run) and takes a screenshot.
func TestChromiumDumpsDOMAndScreenshots(t *testing.T) {
	b := peer.Chromium(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html lang="fr"><title>Portail</title>
<body><h1>Choisissez votre profil</h1><p id="js"></p>
<script>document.getElementById("js").textContent = "rendu par " + "JavaScript";</script></body></html>`)
	}))
	defer srv.Close()
	dom := b.DumpDOM(srv.URL)
	for _, want := range []string{"Choisissez votre profil", `<p id="js">rendu par JavaScript</p>`} {
		if !strings.Contains(dom, want) {
			t.Errorf("DOM lacks %q:\n%s", want, dom)
		}
	}
	png := filepath.Join(t.TempDir(), "portail.png")
	b.Screenshot(srv.URL, png)
	data, err := os.ReadFile(png)
	if err != nil || len(data) < 1000 || string(data[1:4]) != "PNG" {
		t.Fatalf("screenshot: %v, %d bytes", err, len(data))
	}
}
