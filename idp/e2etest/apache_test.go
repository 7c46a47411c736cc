package e2etest

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
	pwhash "github.com/enthub/enthub/directory/password"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/idp"
	"github.com/enthub/enthub/portal/loginui"
	"github.com/enthub/enthub/test/peer"
)

const password = "Mot-de-passe-2026"

// hub is an enthub identity provider on a real port, over SQLite, with
// the portal's login pages.
type hub struct {
	url   string
	p     *idp.Provider
	store *sqlstore.Store
}

func startHub(t *testing.T, ln net.Listener, services []idp.Service, mount ...func(*http.ServeMux)) *hub {
	t.Helper()
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, "sqlite:"+t.TempDir()+"/db", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	hash, err := pwhash.Hash(password, rand.Reader, pwhash.Default)
	if err != nil {
		t.Fatal(err)
	}
	err = store.Update(ctx, func(tx directory.Tx) error {
		st := &directory.Structure{UAI: "0451462V", Name: "Lycée Jean Zay", Source: directory.SourceAAF}
		if err := tx.PutStructure(ctx, st); err != nil {
			return err
		}
		per := &directory.Person{LastName: "Martin", FirstName: "Emma", BirthDate: "2010-03-14", PostalCode: "45000",
			Email: "emma.martin@example.org", Source: directory.SourceGuest}
		if err := tx.PutPerson(ctx, per); err != nil {
			return err
		}
		if err := tx.PutAccount(ctx, &directory.Account{PersonID: per.ID, Login: "emma.martin", Source: directory.SourceGuest, PasswordHash: hash}); err != nil {
			return err
		}
		return tx.SetPersonas(ctx, per.ID, directory.SourceGuest, []directory.Persona{{StructureID: st.ID, Profile: directory.ProfileEleve}})
	})
	if err != nil {
		t.Fatal(err)
	}
	pages, err := loginui.New(loginui.Options{SiteName: "ENT de test"})
	if err != nil {
		t.Fatal(err)
	}
	h := &hub{url: "http://" + ln.Addr().String(), store: store}
	h.p, err = idp.New(ctx, idp.Config{PublicURL: h.url, Services: services}, idp.Deps{Directory: store, SSO: store, Pages: pages})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.p.Routes(mux)
	for _, m := range mount {
		m(mux)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close(); h.p.Close() })
	return h
}

// apache is an httpd with the three SSO modules, in a folder www-data can read.
type apache struct {
	url string
	dir string
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

const whoami = `#!/bin/sh
echo "Content-Type: text/plain; charset=utf-8"
echo
echo "REMOTE_USER=$REMOTE_USER"
env | grep -E '^(MELLON_|OIDC_CLAIM_|HTTP_CAS_)' | sort
`

func prepareApache(t *testing.T) *apache {
	t.Helper()
	peer.RequireBinary(t, "apache2")
	peer.RequireBinary(t, "mellon_create_metadata")
	for _, m := range []string{"mod_auth_cas.so", "mod_auth_openidc.so", "mod_auth_mellon.so", "mod_cgi.so"} {
		_, err := os.Stat("/usr/lib/apache2/modules/" + m)
		peer.Need(t, m, err == nil, "apt-get install libapache2-mod-auth-cas libapache2-mod-auth-openidc libapache2-mod-auth-mellon apache2")
	}
	dir, err := os.MkdirTemp("", "enthub-e2e-apache-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, d := range []string{"", "run", "logs", "cgi", "htdocs", "mellon", "cascache"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
		os.Chmod(filepath.Join(dir, d), 0o755)
	}
	exec.Command("chown", "www-data:www-data", filepath.Join(dir, "cascache")).Run()
	writeFile(t, filepath.Join(dir, "cgi", "whoami"), whoami, 0o755)
	port := peer.FreePort(t)
	a := &apache{url: fmt.Sprintf("http://127.0.0.1:%d", port), dir: dir}
	cmd := exec.Command("mellon_create_metadata", a.url+"/mellon/metadata", a.url+"/mellon")
	cmd.Dir = filepath.Join(dir, "mellon")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mellon_create_metadata: %v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "mellon", "*"))
	for _, f := range files {
		os.Chmod(f, 0o644)
	}
	return a
}

func (a *apache) mellonFile(t *testing.T, ext string) string {
	m, _ := filepath.Glob(filepath.Join(a.dir, "mellon", "http_*."+ext))
	if len(m) != 1 {
		t.Fatalf("mellon %s file: %v", ext, m)
	}
	return m[0]
}

func (a *apache) start(t *testing.T, hubURL string) {
	t.Helper()
	resp, err := http.Get(hubURL + "/saml/idp/metadata")
	if err != nil {
		t.Fatal(err)
	}
	md, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	writeFile(t, filepath.Join(a.dir, "mellon", "idp.xml"), string(md), 0o644)
	u, _ := url.Parse(a.url)
	mods := "/usr/lib/apache2/modules/"
	conf := fmt.Sprintf(`ServerRoot %[1]s
ServerName 127.0.0.1
Listen %[2]s
PidFile %[1]s/run/httpd.pid
DefaultRuntimeDir %[1]s/run
Mutex file:%[1]s/run default
User www-data
Group www-data
ErrorLog %[1]s/logs/error.log
LogLevel warn auth_mellon:info auth_openidc:info auth_cas:info
LoadModule mpm_prefork_module %[3]smod_mpm_prefork.so
LoadModule authz_core_module %[3]smod_authz_core.so
LoadModule authn_core_module %[3]smod_authn_core.so
LoadModule authz_user_module %[3]smod_authz_user.so
LoadModule mime_module %[3]smod_mime.so
LoadModule alias_module %[3]smod_alias.so
LoadModule cgi_module %[3]smod_cgi.so
LoadModule env_module %[3]smod_env.so
LoadModule auth_mellon_module %[3]smod_auth_mellon.so
LoadModule auth_openidc_module %[3]smod_auth_openidc.so
LoadModule auth_cas_module %[3]smod_auth_cas.so
TypesConfig /etc/mime.types
DocumentRoot %[1]s/htdocs
<Directory %[1]s/cgi>
  Require all granted
</Directory>
ScriptAlias /saml/whoami %[1]s/cgi/whoami
ScriptAlias /oidc/whoami %[1]s/cgi/whoami
ScriptAlias /cas/whoami %[1]s/cgi/whoami

<Location />
  MellonEnable info
  MellonSPPrivateKeyFile %[4]s
  MellonSPCertFile %[5]s
  MellonSPMetadataFile %[6]s
  MellonIdPMetadataFile %[1]s/mellon/idp.xml
  MellonEndpointPath /mellon
  MellonSecureCookie Off
</Location>
<Location /saml>
  MellonEnable auth
  AuthType Mellon
  Require valid-user
</Location>

OIDCProviderMetadataURL %[7]s/.well-known/openid-configuration
OIDCClientID apache
OIDCClientSecret apache-secret
OIDCRedirectURI %[8]s/oidc/redirect_uri
OIDCCryptoPassphrase 0123456789abcdef0123456789abcdef
OIDCScope "openid profile email offline_access"
OIDCCacheType shm
OIDCPKCEMethod S256
# Refresh the access token on every request (it lives 10 minutes): the
# refresh response carries no ID token unless the client asks for one.
OIDCRefreshAccessTokenBeforeExpiry 3600
<Location /oidc>
  MellonEnable off
  AuthType openid-connect
  Require valid-user
</Location>

CASCookiePath %[1]s/cascache/
CASLoginURL %[7]s/cas/login
CASValidateURL %[7]s/cas/serviceValidate
CASVersion 2
CASSSOEnabled On
CASAttributePrefix CAS-
<Location /cas>
  MellonEnable off
  CASAuthNHeader CAS-User
  AuthType CAS
  Require valid-user
</Location>
`, a.dir, u.Host, mods, a.mellonFile(t, "key"), a.mellonFile(t, "cert"), a.mellonFile(t, "xml"), hubURL, a.url)
	writeFile(t, filepath.Join(a.dir, "httpd.conf"), conf, 0o644)
	bin := peer.RequireBinary(t, "apache2")
	if out, err := exec.Command(bin, "-t", "-f", filepath.Join(a.dir, "httpd.conf")).CombinedOutput(); err != nil {
		t.Fatalf("apache2 -t: %v\n%s", err, out)
	}
	p := peer.StartProcess(t, "apache2", exec.Command(bin, "-f", filepath.Join(a.dir, "httpd.conf"), "-DFOREGROUND"))
	p.Logs = append(p.Logs, filepath.Join(a.dir, "logs", "error.log"))
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.Dial("tcp", u.Host)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("apache did not listen on %s\n%s", u.Host, p.Tail(40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// browser follows redirects, fills the enthub login form and submits
// auto-post forms (SAML), as a user's browser would.
type browser struct {
	t               *testing.T
	c               *http.Client
	login, password string
	retries         int // starts over after a redirect loop (see play)
	restarts        int // how many times it did: each is one more login
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, login: "emma.martin", password: password,
		c: &http.Client{Jar: jar, Timeout: 20 * time.Second, Transport: browserHeaders{http.DefaultTransport}}}
}

// browserHeaders makes requests look like a browser's (mod_auth_openidc
// answers 401 instead of redirecting to requests that do not accept HTML).
type browserHeaders struct{ rt http.RoundTripper }

func (b browserHeaders) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) enthub-e2e")
	r.Header.Set("Accept-Language", "fr-FR,fr;q=0.9")
	return b.rt.RoundTrip(r)
}

var (
	formRE  = regexp.MustCompile(`(?s)<form[^>]*method="post"[^>]*action="([^"]+)"[^>]*>(.*?)</form>`)
	inputRE = regexp.MustCompile(`<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"`)
)

func unescape(s string) string {
	return strings.NewReplacer("&#43;", "+", "&amp;", "&", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">", "&#x2B;", "+", "&#61;", "=", "&#x3D;", "=").Replace(s)
}

// visit opens u and plays the login: the enthub form gets the password,
// auto-post forms are posted, until a page without a form.
func (b *browser) visit(u string) (*http.Response, string) {
	b.t.Helper()
	return b.play(u, true)
}

// play is visit; with login false it stops at the enthub login form.
func (b *browser) play(u string, login bool) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.Get(u)
	for i := 0; i < 10; i++ {
		if err != nil && b.retries > 0 && strings.Contains(err.Error(), "stopped after 10 redirects") {
			// Seen once in ~10 CI runs on a loaded machine: mod_auth_cas
			// looping on ticket validation, not reproduced since. Start over
			// once with a fresh browser, loudly; the audit log is dumped if
			// the test still fails.
			b.retries--
			b.restarts++
			b.t.Logf("RETRY: %s looped (%v); starting over once with a fresh browser", u, err)
			b.c.Jar, _ = cookiejar.New(nil)
			resp, err = b.c.Get(u)
			i = 0
		}
		if err != nil {
			b.t.Fatalf("GET %s: %v", u, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page := string(body)
		m := formRE.FindStringSubmatch(page)
		if m == nil {
			return resp, page
		}
		action := unescape(m[1])
		if !strings.HasPrefix(action, "http") {
			base := resp.Request.URL
			ref, _ := url.Parse(action)
			action = base.ResolveReference(ref).String()
		}
		form := url.Values{}
		for _, in := range inputRE.FindAllStringSubmatch(m[2], -1) {
			form.Set(in[1], unescape(in[2]))
		}
		if strings.Contains(m[2], `name="password"`) {
			if !login {
				return resp, page
			}
			form.Set("login", b.login)
			form.Set("password", b.password)
		}
		resp, err = b.c.PostForm(action, form)
	}
	b.t.Fatalf("too many forms from %s", u)
	return nil, ""
}

func TestApacheRelyingPartiesSingleSignOn(t *testing.T) {
	a := prepareApache(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	aHost := regexp.QuoteMeta(a.url)
	services := []idp.Service{
		{ID: "apache-cas", Name: "Apache CAS", Protocol: idp.ProtocolCAS,
			Release: idp.ReleasePolicy{Attributes: []idp.AttributeRule{
				{Source: "person.last_name", Name: "nom"}, {Source: "person.first_name", Name: "prenom"},
				{Source: "personas.profile", Name: "categories", Map: map[string]string{"eleve": "National_1"}, MapStrict: true}}},
			CAS: idp.CASService{ServicePatterns: []string{"^" + aHost + "/cas/.*$"}, SingleLogout: true}},
		{ID: "apache-oidc", Name: "Apache OIDC", Protocol: idp.ProtocolOIDC,
			Release: idp.ReleasePolicy{Attributes: []idp.AttributeRule{
				{Source: "person.first_name", Name: "given_name", Scope: "profile"}, {Source: "person.email", Name: "email", Scope: "email"}}},
			OIDC: idp.OIDCService{ClientID: "apache", ClientSecret: "apache-secret", RedirectURIs: []string{a.url + "/oidc/redirect_uri"},
				BackChannelLogoutURI: a.url + "/oidc/redirect_uri?logout=backchannel"}},
		{ID: "apache-saml", Name: "Apache SAML", Protocol: idp.ProtocolSAML,
			Release: idp.ReleasePolicy{Attributes: []idp.AttributeRule{
				{Source: "account.login", Name: "uid", NameFormat: "basic"}, {Source: "person.last_name", Name: "sn", NameFormat: "basic"}}},
			SAML: idp.SAMLService{EntityID: a.url + "/mellon/metadata", MetadataFile: a.mellonFile(t, "xml")}},
	}
	h := startHub(t, ln, services)
	a.start(t, h.url)
	// A failure here has happened once under CI load (mod_auth_cas looping
	// on ticket validation); on failure, say what enthub refused and why.
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		h.p.FlushAudit()
		evs, _ := h.store.Events(context.Background(), directory.EventFilter{Limit: 200})
		for _, e := range evs {
			t.Logf("audit: %s %s outcome=%s reason=%q service=%s details=%v", e.Time.Format("15:04:05.000"), e.Type, e.Outcome, e.Reason, e.Service, e.Details)
		}
	})

	b := newBrowser(t)
	b.retries = 1
	resp, page := b.visit(a.url + "/cas/whoami")
	if resp.StatusCode != 200 || !strings.Contains(page, "REMOTE_USER=emma.martin") || !strings.Contains(page, "HTTP_CAS_NOM=Martin") ||
		!strings.Contains(page, "HTTP_CAS_CATEGORIES=National_1") {
		t.Fatalf("mod_auth_cas: %d at %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	t.Logf("mod_auth_cas page:\n%s", page)
	resp, page = b.visit(a.url + "/oidc/whoami")
	if resp.StatusCode != 200 || !strings.Contains(page, "OIDC_CLAIM_given_name=Emma") || !strings.Contains(page, "OIDC_CLAIM_email=emma.martin@example.org") {
		t.Fatalf("mod_auth_openidc: %d at %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	t.Logf("mod_auth_openidc page:\n%s", page)
	resp, page = b.visit(a.url + "/oidc/whoami")
	if resp.StatusCode != 200 || !strings.Contains(page, "OIDC_CLAIM_given_name=Emma") {
		t.Fatalf("mod_auth_openidc after a refresh: %d at %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	h.p.FlushAudit()
	issued, _ := h.store.Events(context.Background(), directory.EventFilter{Type: idp.EventTokenIssued})
	refreshed := 0
	for _, e := range issued {
		if e.Details["refresh"] == "true" && e.Outcome == "ok" {
			refreshed++
		}
	}
	if refreshed == 0 {
		t.Fatalf("mod_auth_openidc did not refresh its access token: %+v", issued)
	}
	resp, page = b.visit(a.url + "/saml/whoami")
	if resp.StatusCode != 200 || !strings.Contains(page, "MELLON_uid=emma.martin") || !strings.Contains(page, "MELLON_sn=Martin") {
		t.Fatalf("mod_auth_mellon: %d at %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	t.Logf("mod_auth_mellon page:\n%s", page)
	h.p.FlushAudit()
	logins, _ := h.store.Events(context.Background(), directory.EventFilter{Type: idp.EventLogin})
	// A browser started over after a loop logged in once more, and only
	// once: the three applications still share its one session.
	if len(logins) != 1+b.restarts {
		t.Fatalf("%d logins for three applications, want one (and one per restart: %d)", len(logins), b.restarts)
	}

	// One logout at enthub ends all three: CAS and OIDC through the back
	// channel, mellon through the browser (signed LogoutRequest).
	resp, page = b.visit(h.url + "/logout")
	if resp.Request.URL.Host != strings.TrimPrefix(h.url, "http://") || !strings.Contains(page, "Vous êtes déconnecté") {
		t.Fatalf("logout ended at %s:\n%s", resp.Request.URL, page)
	}
	for _, path := range []string{"/cas/whoami", "/oidc/whoami", "/saml/whoami"} {
		resp, page = b.play(a.url+path, false)
		if !strings.Contains(page, `name="password"`) {
			t.Errorf("%s after logout: still served without a login (%d at %s)\n%s", path, resp.StatusCode, resp.Request.URL, page)
		}
	}
	h.p.FlushAudit()
	bcl, _ := h.store.Events(context.Background(), directory.EventFilter{Type: idp.EventBackchannel})
	told := map[string]bool{}
	for _, e := range bcl {
		if e.Outcome != "ok" {
			t.Errorf("logout of %s: %s %s", e.Service, e.Outcome, e.Reason)
		}
		told[e.Service] = true // CAS: one logoutRequest per service ticket
	}
	if len(told) != 3 {
		t.Errorf("%d services told of the logout, want 3: %+v", len(told), bcl)
	}
}
