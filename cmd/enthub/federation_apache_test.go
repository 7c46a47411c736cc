package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/enthub/enthub/config"
	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/test/peer"
)

// The federated journeys against real relying parties of the SSO core:
// Apache mod_auth_cas for a student from the simulated EduConnect, Apache
// mod_auth_mellon for a teacher in two schools from the simulated agents
// portal, who then switches school: mellon's session of the old persona is
// logged out through the browser, and its next assertion names the new
// school.
func TestFederatedJourneysApache(t *testing.T) {
	port := peer.FreePort(t)
	apacheURL := fmt.Sprintf("http://127.0.0.1:%d", port)
	sp := peer.MellonSP(t, apacheURL+"/mellon/metadata", apacheURL+"/mellon")
	q := regexp.QuoteMeta(apacheURL)
	services := fmt.Sprintf(`- id: apache-cas
  name: Apache CAS
  protocol: cas
  release:
    principal: account.login
    attributes:
      - {source: persona.profile, name: profil}
      - {source: persona.uai, name: uai}
  cas: {service_patterns: ['^%[1]s/cas/.*$'], single_logout: true}
- id: apache-saml
  name: Apache SAML
  protocol: saml
  release:
    attributes:
      - {source: account.login, name: uid, name_format: basic}
      - {source: persona.profile, name: profil, name_format: basic}
      - {source: persona.uai, name: uai, name_format: basic}
  saml: {entity_id: "%[2]s/mellon/metadata", metadata_file: %[3]q}
`, q, apacheURL, sp.Metadata)
	sf := filepath.Join(t.TempDir(), "services.yaml")
	if err := os.WriteFile(sf, []byte(services), 0o644); err != nil {
		t.Fatal(err)
	}
	w := startFedWorld(t, "sqlite:"+filepath.Join(t.TempDir(), "enthub.db"), func(c *config.Config) { c.SSO.ServicesFile = sf })

	resp, err := http.Get(w.base + "/saml/idp/metadata")
	if err != nil {
		t.Fatal(err)
	}
	md, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	mdFile := filepath.Join(peer.PublicTempDir(t, "idp"), "idp.xml")
	if err := os.WriteFile(mdFile, md, 0o644); err != nil {
		t.Fatal(err)
	}
	cgi := peer.PublicTempDir(t, "cgi")
	if err := os.WriteFile(filepath.Join(cgi, "whoami"), []byte("#!/bin/sh\necho 'Content-Type: text/plain; charset=utf-8'\necho\necho \"REMOTE_USER=$REMOTE_USER\"\nenv | grep -E '^(MELLON_|HTTP_CAS_)' | sort\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(cgi, "whoami"), 0o755)
	cache := peer.PublicTempDir(t, "cascache")
	if os.Geteuid() == 0 {
		if err := os.Chown(cache, 33, 33); err != nil { // www-data on Debian
			t.Fatal(err)
		}
	}
	peer.ApacheAt(t, port, peer.ApacheModules(t, "cgi", "auth_mellon", "auth_cas")+fmt.Sprintf(`
<Directory %[1]q>
  Require all granted
</Directory>
ScriptAlias /saml/whoami %[1]s/whoami
ScriptAlias /cas/whoami %[1]s/whoami
<Location />
  MellonEnable info
  MellonSPPrivateKeyFile %[2]q
  MellonSPCertFile %[3]q
  MellonSPMetadataFile %[4]q
  MellonIdPMetadataFile %[5]q
  MellonEndpointPath /mellon
  MellonSecureCookie Off
</Location>
<Location /saml>
  MellonEnable auth
  AuthType Mellon
  Require valid-user
</Location>
# mod_auth_cas's reasoning (MAS debug) in the error log, which a failure prints
LogLevel warn auth_cas:debug
CASDebug On
CASCookiePath %[6]s/
CASLoginURL %[7]s/cas/login
CASValidateURL %[7]s/cas/serviceValidate
CASVersion 2
CASAttributePrefix CAS-
<Location /cas>
  MellonEnable off
  CASAuthNHeader CAS-User
  AuthType CAS
  Require valid-user
</Location>
`, cgi, sp.Key, sp.Cert, sp.Metadata, mdFile, cache, w.base))

	t.Run("student via EduConnect at mod_auth_cas", func(t *testing.T) {
		b := newBrowser(t)
		b.get(apacheURL + "/cas/whoami").follow("un élève").method("EduConnect")
		b.submit(w.cast.Student.Person.LastName, nil).submit("", nil)
		b.expect("REMOTE_USER="+w.cast.Student.Account.Login, "HTTP_CAS_PROFIL=eleve", "HTTP_CAS_UAI="+w.cast.Student.UAIs[0])
		// mod_auth_cas took the first ticket: a ticket it does not
		// recognise stays in its URL, and a later one got it there.
		if b.url != apacheURL+"/cas/whoami" {
			t.Errorf("mod_auth_cas ended at %s, want %s/cas/whoami", b.url, apacheURL)
		}
	})

	t.Run("teacher via agents portal at mod_auth_mellon, then switches school", func(t *testing.T) {
		first := uaiOfProfile(w.cast.Teacher, directory.ProfileEnseignant, "")
		second := uaiOfProfile(w.cast.Teacher, directory.ProfileEnseignant, first)
		b := newBrowser(t)
		b.get(apacheURL + "/saml/whoami").follow("un enseignant").method("SAML")
		b.submit(w.cast.Teacher.Person.LastName, nil).submit("", nil) // the simulation's Response to enthub
		b.choosePersona(first, "Enseignant").submit("", nil)          // enthub's assertion to mellon
		b.expect("MELLON_uid="+w.cast.Teacher.Account.Login, "MELLON_profil=enseignant", "MELLON_uai="+first)
		b.get(w.base+"/login/persona").choosePersona(second, "Enseignant")
		if b.url != w.base+"/portail" { // through mellon's logout, back to the launcher
			t.Fatalf("after the switch: %d at %s\n%s", b.code, b.url, b.body)
		}
		b.get(apacheURL + "/saml/whoami")
		if strings.Contains(b.body, "MELLON_uai="+first) {
			t.Fatalf("mellon still holds the old persona's session:\n%s", b.body)
		}
		b.submit("", nil)
		b.expect("MELLON_uid="+w.cast.Teacher.Account.Login, "MELLON_uai="+second)
		waitEvent(t, w.store, "persona.switched", func(e directory.Event) bool { return e.Details["services"] == "1" })
	})
}
