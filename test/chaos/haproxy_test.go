package chaos

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/test/peer"
)

// haproxy starts Debian's HAProxy in front of backends, round-robin, and
// returns its base URL.
func haproxy(t testing.TB, port int, backends ...string) string {
	t.Helper()
	bin := peer.RequireBinary(t, "haproxy")
	var b strings.Builder
	fmt.Fprintf(&b, "global\n  maxconn 2000\ndefaults\n  mode http\n  option forwardfor\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n")
	fmt.Fprintf(&b, "frontend fe\n  bind 127.0.0.1:%d\n  default_backend be\nbackend be\n  balance roundrobin\n", port)
	for i, be := range backends {
		fmt.Fprintf(&b, "  server s%d %s\n", i, strings.TrimPrefix(be, "http://"))
	}
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	p := peer.StartProcess(t, "haproxy", exec.Command(bin, "-f", cfg, "-db"))
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if waitFor(10*time.Second, func() bool {
		resp, err := http.Get(base + "/healthz")
		ok := err == nil
		if ok {
			resp.Body.Close()
		}
		return ok
	}) < 0 {
		t.Fatalf("haproxy does not answer\n%s", p.Tail(20))
	}
	return base
}

// requests counts the HTTP requests an instance logged (its access log).
func (in *instance) requests() int { return strings.Count(in.log(), "msg=http ") }

// logout asks for the logout page and confirms it, as a browser does.
func logout(c *http.Client, base string) error {
	resp, err := c.Get(base + "/logout")
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfRE.FindStringSubmatch(string(b))
	if m == nil {
		return fmt.Errorf("no logout form: %d %.300s", resp.StatusCode, b)
	}
	resp, err = c.PostForm(base+"/logout", url.Values{"csrf": {html.UnescapeString(m[1])}})
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("logout: status %d", resp.StatusCode)
	}
	return nil
}

// Two instances on one PostgreSQL behind HAProxy (round-robin): a login
// started on one completes on the other, one logout reaches every service
// the session used whatever instance they were reached through, and a
// delivery in the shared inbox is applied once.
func TestTwoInstancesBehindHAProxy(t *testing.T) {
	db := peer.Postgres(t)
	migrate(t, db)
	users := seedGuests(t, db, 10)
	app0, app1 := newCASApp(t), newCASApp(t)
	services := servicesFile(t, app0, app1)
	work := t.TempDir()
	inbox, delivery := filepath.Join(work, "inbox"), filepath.Join(work, "d")
	if err := os.MkdirAll(inbox, 0o755); err != nil {
		t.Fatal(err)
	}
	generate(t, delivery, 300, 7)
	drop(t, delivery, inbox, "delivery")

	lbPort := peer.FreePort(t)
	lbURL := fmt.Sprintf("http://127.0.0.1:%d", lbPort)
	env := append(inboxEnv(db, inbox), "ENTHUB_SSO_SERVICES_FILE="+services, "ENTHUB_PUBLIC_URL="+lbURL,
		"ENTHUB_HTTP_TRUSTED_PROXIES=127.0.0.1/32")
	a := startEnthub(t, "enthub-a", env...)
	b := startEnthub(t, "enthub-b", env...)
	lb := haproxy(t, lbPort, a.base, b.base)

	// A login hop by hop, each request on the other instance.
	alternate := func(i int) string { return []string{a.base, b.base}[i%2] }
	if _, err := casLogin(browser(10*time.Second), alternate, localPassword, app0.URL, users[0], guestPassword); err != nil {
		t.Fatalf("login alternating between the instances: %v", err)
	}
	// Logins through HAProxy, which spreads every request.
	ra, rb := a.requests(), b.requests()
	n := 6
	if long() {
		n = 60
	}
	for i := range n {
		if _, err := casLogin(browser(10*time.Second), one(lb), localPassword, app0.URL, users[1+i%9], guestPassword); err != nil {
			t.Fatalf("login %d through HAProxy: %v", i, err)
		}
	}
	if da, db := a.requests()-ra, b.requests()-rb; da == 0 || db == 0 {
		t.Errorf("HAProxy sent %d requests to a and %d to b: not both in use", da, db)
	} else {
		figure(t, "%d complete logins through HAProxy: %d requests on instance a, %d on b, none failed", n, da, db)
	}

	// One session, two services reached through both instances; logout on one.
	c := browser(10 * time.Second)
	t0, err := casLogin(c, one(a.base), localPassword, app0.URL, users[0], guestPassword)
	if err != nil {
		t.Fatal(err)
	}
	t1, err := casLogin(c, one(b.base), localPassword, app1.URL, users[0], guestPassword)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := logout(c, a.base); err != nil {
		t.Fatal(err)
	}
	reached := waitFor(10*time.Second, func() bool { return app0.logoutsFor(t0) == 1 && app1.logoutsFor(t1) == 1 })
	if reached < 0 {
		t.Errorf("single logout: app0 got %d logoutRequest(s) for its ticket, app1 %d; want 1 each", app0.logoutsFor(t0), app1.logoutsFor(t1))
	} else {
		figure(t, "single logout on instance a reached both services (one reached through b) within %v", (time.Since(start)).Round(time.Millisecond))
	}
	if ok, _ := sessionWorks(c, b.base, app0.URL); ok {
		t.Error("the session still works on instance b after the logout on a")
	}

	// The shared inbox: one applies, the other finds it applied or gone.
	if waitFor(2*time.Minute, func() bool { return len(reports(t, inbox, "processed")) > 0 }) < 0 {
		t.Fatalf("the delivery was not imported\n%s\n%s", a.proc.Tail(20), b.proc.Tail(20))
	}
	time.Sleep(11 * time.Second) // one more scan of each instance (every 10 s)
	applied, other := 0, []string{}
	for _, o := range append(reports(t, inbox, "processed"), reports(t, inbox, "refused")...) {
		if o == "applied" {
			applied++
		} else if o != "noop" {
			other = append(other, o)
		}
	}
	la, lb2 := strings.Count(a.log(), "aaf inbox: done"), strings.Count(b.log(), "aaf inbox: done")
	if applied != 1 || len(other) > 0 {
		t.Errorf("shared inbox: %d applied, others %v (instance a logged %d imports, b %d); want one applied", applied, other, la, lb2)
	} else {
		figure(t, "shared inbox: applied once (instance a handled %d deliveries, b %d)", la, lb2)
	}
}
