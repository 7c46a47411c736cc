package chaos

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/password"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/test/peer"
	_ "github.com/lib/pq" // the admin connections to the test's own clusters
)

// enthubBin is the enthub binary built once for the package (TestMain).
var enthubBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "enthub-chaos-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	enthubBin = filepath.Join(dir, "enthub")
	build := exec.Command("go", "build", "-o", enthubBin, "github.com/enthub/enthub/cmd/enthub")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./cmd/enthub: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// long says whether the long versions run (ENTHUB_TEST_CHAOS_LONG=1).
func long() bool { return os.Getenv("ENTHUB_TEST_CHAOS_LONG") != "" }

// figure logs a measured figure where go test -v and the report show it.
func figure(t testing.TB, format string, args ...any) {
	t.Helper()
	t.Logf("figure: "+format, args...)
}

// --- a PostgreSQL cluster the test owns (stop, start, replicate, promote) ---

type pgCluster struct {
	t    testing.TB
	bin  string
	dir  string // owned by postgres; data/ inside
	port int
	cred *syscall.Credential
}

func (c *pgCluster) data() string { return filepath.Join(c.dir, "data") }

// newCluster runs initdb and starts a cluster on a free port; it is
// stopped and removed when the test ends.
func newCluster(t testing.TB) *pgCluster {
	t.Helper()
	c := emptyCluster(t)
	c.run("initdb", "-D", c.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale")
	c.start()
	return c
}

func emptyCluster(t testing.TB) *pgCluster {
	t.Helper()
	bin := peer.PostgresBinDir()
	peer.Need(t, "PostgreSQL", bin != "", "no /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql)")
	c := &pgCluster{t: t, bin: bin, port: peer.FreePort(t)}
	dir, err := os.MkdirTemp("", "enthub-chaos-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c.dir = dir
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		peer.Need(t, "postgres user", err == nil, "running as root and there is no postgres user (initdb refuses root)")
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(c.data(), "postmaster.pid")); err == nil {
			_ = c.try("pg_ctl", "-D", c.data(), "-m", "immediate", "-w", "stop")
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
			t.Logf("PostgreSQL on %d, server.log:\n%s", c.port, lastLines(string(b), 30))
		}
		os.RemoveAll(c.dir)
	})
	return c
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (c *pgCluster) try(name string, args ...string) error {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	cmd.Dir = c.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

func (c *pgCluster) run(name string, args ...string) {
	c.t.Helper()
	if err := c.try(name, args...); err != nil {
		c.t.Fatal(err)
	}
}

// start starts the server on its port (the same one after a stop).
func (c *pgCluster) start() {
	c.t.Helper()
	c.run("pg_ctl", "-D", c.data(), "-l", filepath.Join(c.dir, "server.log"), "-w", "-t", "30",
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=100", c.port, c.dir),
		"start")
}

// stop stops the server: fast (clients cut, clean) or immediate (a crash).
func (c *pgCluster) stop(mode string) {
	c.t.Helper()
	c.run("pg_ctl", "-D", c.data(), "-m", mode, "-w", "stop")
}

func (c *pgCluster) hostPort() string { return fmt.Sprintf("127.0.0.1:%d", c.port) }

// url is the URL of database db on this cluster.
func (c *pgCluster) url(db string) string {
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", c.hostPort(), db)
}

// createDB creates database name and returns its URL.
func (c *pgCluster) createDB(name string) string {
	c.t.Helper()
	db, err := sql.Open("postgres", c.url("postgres"))
	if err != nil {
		c.t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		c.t.Fatal(err)
	}
	return c.url(name)
}

// standby makes a streaming replica of c with pg_basebackup -R and starts it.
func (c *pgCluster) standby() *pgCluster {
	c.t.Helper()
	s := emptyCluster(c.t)
	s.run("pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(c.port), "-U", "postgres", "-D", s.data(), "-R", "-X", "stream", "-c", "fast")
	s.start()
	return s
}

// --- enthub serve as a child process ---

type instance struct {
	t    testing.TB
	name string
	base string // http://127.0.0.1:PORT
	proc *peer.Process
}

// startEnthub starts `enthub serve` with env (ENTHUB_… settings) on a free
// port and waits until it answers /healthz. LDAP is off unless env turns
// it on; the public URL is the instance's own unless env sets one.
func startEnthub(t testing.TB, name string, env ...string) *instance {
	t.Helper()
	port := peer.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	full := append(os.Environ(), "ENTHUB_HTTP_LISTEN=127.0.0.1:"+strconv.Itoa(port), "ENTHUB_LDAP_ENABLED=false",
		"ENTHUB_PUBLIC_URL="+base, "ENTHUB_LOG_LEVEL=info", "ENTHUB_DB_CONNECT_TIMEOUT=30s")
	full = append(full, env...) // later entries win
	cmd := exec.Command(enthubBin, "serve")
	cmd.Env = full
	in := &instance{t: t, name: name, base: base, proc: peer.StartProcess(t, name, cmd)}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return in
			}
		}
		if exited, werr := in.proc.Exited(); exited {
			t.Fatalf("%s exited before serving: %v\n%s", name, werr, in.proc.Tail(40))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not answer /healthz after 60 s\n%s", name, in.proc.Tail(40))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// log returns the instance's output so far.
func (in *instance) log() string {
	b, _ := os.ReadFile(in.proc.LogPath)
	return string(b)
}

// kill sends SIGKILL and waits for the process to end.
func (in *instance) kill() {
	_ = syscall.Kill(in.proc.Cmd.Process.Pid, syscall.SIGKILL)
	<-in.proc.Done()
}

// ready returns /readyz's status (0 when no answer came within timeout).
func ready(base string, timeout time.Duration) int {
	c := &http.Client{Timeout: timeout}
	resp, err := c.Get(base + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// migrate creates enthub's schema in db.
func migrate(t testing.TB, db string) {
	t.Helper()
	out, err := exec.Command(enthubBin, "db", "migrate", "--db", db).CombinedOutput()
	if err != nil {
		t.Fatalf("enthub db migrate: %v\n%s", err, out)
	}
}

// --- accounts and services ---

const guestPassword = "Chaos-pass-2026"

var (
	hashOnce sync.Once
	theHash  string
)

// seedGuests creates n guest accounts guest0…guest{n-1} with guestPassword
// (one argon2id hash for all: hashing is not what these tests measure).
func seedGuests(t testing.TB, db string, n int) []string {
	t.Helper()
	hashOnce.Do(func() {
		h, err := password.Hash(guestPassword, rand.Reader, password.Default)
		if err != nil {
			panic(err)
		}
		theHash = h
	})
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, db, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	until := time.Now().AddDate(1, 0, 0)
	var logins []string
	err = s.Update(ctx, func(tx directory.Tx) error {
		st := directory.Structure{UAI: "0450000X", Name: "Collège du chaos", Type: "COLLEGE", City: "Orléans",
			PostalCode: "45000", Source: directory.SourceManual}
		if err := tx.PutStructure(ctx, &st); err != nil {
			return err
		}
		for i := range n {
			p := &directory.Person{LastName: "Invité", FirstName: fmt.Sprint("N", i), BirthDate: "1990-01-01", Source: directory.SourceGuest}
			if err := tx.PutPerson(ctx, p); err != nil {
				return err
			}
			login := fmt.Sprint("guest", i)
			a := directory.Account{PersonID: p.ID, Login: login, Source: directory.SourceGuest, PasswordHash: theHash,
				ValidUntil: &until, Status: directory.StatusActive}
			if err := tx.PutAccount(ctx, &a); err != nil {
				return err
			}
			if err := tx.SetPersonas(ctx, p.ID, directory.SourceGuest, []directory.Persona{{StructureID: st.ID, Profile: directory.ProfileInvite}}); err != nil {
				return err
			}
			logins = append(logins, login)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed guests: %v", err)
	}
	return logins
}

// casApp is a CAS relying party: its URL is the service; it records the
// single-logout requests enthub posts to it.
type casApp struct {
	URL     string
	mu      sync.Mutex
	logouts []string // session indexes of the logoutRequests received
}

var sessionIndexRE = regexp.MustCompile(`<samlp:SessionIndex>([^<]*)</samlp:SessionIndex>`)

func newCASApp(t testing.TB) *casApp {
	t.Helper()
	a := &casApp{}
	srv := startHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			_ = r.ParseForm()
			if m := sessionIndexRE.FindStringSubmatch(r.PostFormValue("logoutRequest")); m != nil {
				a.mu.Lock()
				a.logouts = append(a.logouts, m[1])
				a.mu.Unlock()
			}
		}
		w.WriteHeader(http.StatusOK)
	}))
	a.URL = srv + "/app/"
	return a
}

func (a *casApp) logoutsFor(ticket string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, l := range a.logouts {
		if l == ticket {
			n++
		}
	}
	return n
}

// servicesFile writes a services file with one CAS service per app (single
// logout on) and returns its path.
func servicesFile(t testing.TB, apps ...*casApp) string {
	t.Helper()
	var b strings.Builder
	for i, a := range apps {
		fmt.Fprintf(&b, "- id: app%d\n  name: App %d\n  protocol: cas\n  cas:\n    service_patterns: ['^%s.*$']\n    single_logout: true\n  release:\n    principal: account.login\n",
			i, i, regexp.QuoteMeta(a.URL))
	}
	p := filepath.Join(t.TempDir(), "services.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// --- the login flow ---

// hopper gives the base URL the i-th request of a flow goes to: one
// instance, or another one each time as a round-robin balancer would.
type hopper func(i int) string

func one(base string) hopper { return func(int) string { return base } }

// signIn authenticates on the login page enthub sent the browser to
// (page is its HTML, at pageURL) and returns the response to the form's
// post. The local password form today; a brokered login (EduConnect, the
// agents portal) plugs in here as another signIn.
type signIn func(c *http.Client, hop hopper, step int, page, user, password string) (*http.Response, error)

var (
	csrfRE = regexp.MustCompile(`name="csrf" value="([^"]*)"`)
	reqRE  = regexp.MustCompile(`name="req" value="([^"]*)"`)
)

// localPassword posts the login form with the guest's password.
func localPassword(c *http.Client, hop hopper, step int, page, user, password string) (*http.Response, error) {
	m, r := csrfRE.FindStringSubmatch(page), reqRE.FindStringSubmatch(page)
	if m == nil || r == nil {
		return nil, fmt.Errorf("no login form: %.300s", page)
	}
	return c.PostForm(hop(step)+"/login", url.Values{"csrf": {html.UnescapeString(m[1])}, "req": {html.UnescapeString(r[1])},
		"login": {user}, "password": {password}})
}

// browser is a client with its own cookies that does not follow redirects.
func browser(timeout time.Duration) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// errStatus is a flow step that answered an unexpected status, or a CAS
// validation that failed with a code.
type errStatus struct {
	step    string
	status  int
	body    string
	casCode string
}

// clean says whether the refusal is the server saying it cannot serve now:
// a 5xx page, or CAS's INTERNAL_ERROR (the protocol's way, with 200).
func (e *errStatus) clean() bool { return e.status >= 500 || e.casCode == "INTERNAL_ERROR" }

func (e *errStatus) Error() string {
	return fmt.Sprintf("%s: status %d: %.300s", e.step, e.status, e.body)
}

// casLogin drives one complete CAS login of user at service: /cas/login,
// the login page, signIn, the redirects back to the service with a ticket,
// and the ticket's validation. Each request goes where hop says; the
// redirects' paths are followed on that base. It returns the ticket.
func casLogin(c *http.Client, hop hopper, sign signIn, service, user, password string) (string, error) {
	step := 0
	get := func(path string) (*http.Response, string, error) {
		resp, err := c.Get(hop(step) + path)
		step++
		if err != nil {
			return nil, "", err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b), nil
	}
	resp, page, err := get("/cas/login?service=" + url.QueryEscape(service))
	if err != nil {
		return "", err
	}
	for i := 0; ; i++ {
		loc := resp.Header.Get("Location")
		if resp.StatusCode/100 == 3 && strings.HasPrefix(loc, service) {
			u, _ := url.Parse(loc)
			ticket := u.Query().Get("ticket")
			if ticket == "" {
				return "", fmt.Errorf("back at the service without a ticket: %s", loc)
			}
			return ticket, validate(c, hop(step), service, ticket, user)
		}
		if i > 6 {
			return "", fmt.Errorf("no way back to the service after %d steps (last: %d %s)", i, resp.StatusCode, loc)
		}
		switch {
		case resp.StatusCode/100 == 3:
			u, err := url.Parse(loc)
			if err != nil {
				return "", err
			}
			resp, page, err = get(u.RequestURI())
			if err != nil {
				return "", err
			}
			if resp.StatusCode != 200 || !strings.Contains(page, `name="password"`) {
				continue
			}
			// the login page: sign in
			resp, err = sign(c, hop, step, page, user, password)
			step++
			if err != nil {
				return "", err
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 != 3 {
				return "", &errStatus{step: "login form", status: resp.StatusCode, body: string(b)}
			}
		default:
			return "", &errStatus{step: "CAS login", status: resp.StatusCode, body: page}
		}
	}
}

var (
	casUserRE = regexp.MustCompile(`<cas:user>([^<]*)</cas:user>`)
	casCodeRE = regexp.MustCompile(`<cas:authenticationFailure code="([A-Z_]+)"`)
)

// validate checks a service ticket on /cas/p3/serviceValidate.
func validate(c *http.Client, base, service, ticket, user string) error {
	resp, err := c.Get(base + "/cas/p3/serviceValidate?service=" + url.QueryEscape(service) + "&ticket=" + url.QueryEscape(ticket))
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if m := casUserRE.FindStringSubmatch(string(b)); m != nil && m[1] == user {
		return nil
	}
	e := &errStatus{step: "ticket validation", status: resp.StatusCode, body: string(b)}
	if m := casCodeRE.FindStringSubmatch(string(b)); m != nil {
		e.casCode = m[1]
	}
	return e
}

// sessionWorks says whether the browser's SSO session still gives a ticket
// at service without a login form (the session is alive).
func sessionWorks(c *http.Client, base, service string) (bool, error) {
	resp, err := c.Get(base + "/cas/login?service=" + url.QueryEscape(service))
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 3 {
		return false, &errStatus{step: "CAS login with a session", status: resp.StatusCode}
	}
	return strings.HasPrefix(resp.Header.Get("Location"), service) && strings.Contains(resp.Header.Get("Location"), "ticket="), nil
}

// startHTTP serves h on loopback until the test ends and returns its URL.
func startHTTP(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
