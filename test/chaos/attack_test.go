package chaos

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/enthub/enthub/test/peer"
)

// latencies measures n sequential calls of f; f's error fails the test.
func latencies(t testing.TB, n int, f func() error) (p50, worst time.Duration) {
	t.Helper()
	var ds []time.Duration
	for range n {
		start := time.Now()
		if err := f(); err != nil {
			t.Errorf("normal request: %v", err)
			return 0, 0
		}
		ds = append(ds, time.Since(start))
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2], ds[len(ds)-1]
}

// slowClients opens n connections to addr that each send first, then one
// byte of more every second, never finishing a request. It returns how
// long after opening each was closed by the server (0: still open at
// limit).
func slowClients(t testing.TB, n int, addr string, first []byte, more byte, limit time.Duration) func() []time.Duration {
	t.Helper()
	cut := make([]time.Duration, n)
	var wg sync.WaitGroup
	for i := range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("slow client %d: %v", i, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			start := time.Now()
			closed := make(chan struct{})
			go func() { _, _ = io.Copy(io.Discard, c); close(closed) }() // the server's answer, then EOF
			if _, err := c.Write(first); err != nil {
				cut[i] = time.Since(start)
				return
			}
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for time.Since(start) < limit {
				select {
				case <-closed:
					cut[i] = time.Since(start)
					return
				case <-tick.C:
					if _, err := c.Write([]byte{more}); err != nil {
						cut[i] = time.Since(start)
						return
					}
				}
			}
		}()
	}
	return func() []time.Duration { wg.Wait(); return cut }
}

func summarize(cut []time.Duration) (open int, worst time.Duration) {
	for _, d := range cut {
		if d == 0 {
			open++
		}
		worst = max(worst, d)
	}
	return open, worst
}

// 200 slow-loris clients on HTTP and on LDAP: a normal request still
// answers fast, and the server cuts them (HTTP: header read timeout;
// LDAP: an unfinished request past min(idle timeout, 30 s)). Oversized
// headers, bodies and LDAP messages are refused at once.
func TestSlowAndOversizedClients(t *testing.T) {
	db := peer.Postgres(t)
	migrate(t, db)
	ldapAddr := fmt.Sprintf("127.0.0.1:%d", peer.FreePort(t))
	e := startEnthub(t, "enthub", "ENTHUB_DB="+db, "ENTHUB_LDAP_ENABLED=true", "ENTHUB_LDAP_LISTEN="+ldapAddr,
		"ENTHUB_LDAP_IDLE_TIMEOUT=3s")
	httpAddr := strings.TrimPrefix(e.base, "http://")
	n := 200
	if long() {
		n = 1000
	}
	page := func() error {
		resp, err := http.Get(e.base + "/login")
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("GET /login: %d", resp.StatusCode)
		}
		return nil
	}
	rootDSE := func() error {
		c, err := goldap.DialURL("ldap://"+ldapAddr, goldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetTimeout(5 * time.Second)
		_, err = c.Search(goldap.NewSearchRequest("", goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{"namingContexts"}, nil))
		return err
	}
	if waitFor(10*time.Second, func() bool { return rootDSE() == nil }) < 0 {
		t.Fatalf("LDAP does not answer on %s", ldapAddr)
	}
	baseHTTP50, baseHTTPMax := latencies(t, 20, page)
	baseLDAP50, baseLDAPMax := latencies(t, 20, rootDSE)

	httpDone := slowClients(t, n, httpAddr, []byte("GET /login HTTP/1.1\r\nHost: x\r\nX-Slow: "), 'a', 40*time.Second)
	// An LDAP message announcing 4 KiB, sent a byte a second.
	ldapDone := slowClients(t, n, ldapAddr, []byte{0x30, 0x82, 0x10, 0x00, 0x02, 0x01, 0x01}, 0x04, 40*time.Second)
	time.Sleep(time.Second)
	http50, httpMax := latencies(t, 20, page)
	ldap50, ldapMax := latencies(t, 20, rootDSE)
	httpOpen, httpCut := summarize(httpDone())
	ldapOpen, ldapCut := summarize(ldapDone())
	figure(t, "%d slow HTTP clients: GET /login p50 %v max %v (alone: %v, %v); all cut by %v, %d left open",
		n, http50.Round(10*time.Microsecond), httpMax.Round(10*time.Microsecond), baseHTTP50.Round(10*time.Microsecond), baseHTTPMax.Round(10*time.Microsecond), httpCut.Round(time.Second), httpOpen)
	figure(t, "%d slow LDAP clients: rootDSE search p50 %v max %v (alone: %v, %v); all cut by %v, %d left open",
		n, ldap50.Round(10*time.Microsecond), ldapMax.Round(10*time.Microsecond), baseLDAP50.Round(10*time.Microsecond), baseLDAPMax.Round(10*time.Microsecond), ldapCut.Round(time.Second), ldapOpen)
	if httpMax > time.Second || ldapMax > time.Second {
		t.Errorf("a normal request took %v (HTTP) / %v (LDAP) beside the slow clients, want under 1 s", httpMax, ldapMax)
	}
	if httpOpen > 0 || httpCut > 15*time.Second {
		t.Errorf("slow HTTP clients: %d still open after 40 s, the last cut after %v (header timeout 10 s)", httpOpen, httpCut)
	}
	if ldapOpen > 0 || ldapCut > 8*time.Second {
		t.Errorf("slow LDAP clients: %d still open after 40 s, the last cut after %v (idle timeout 3 s)", ldapOpen, ldapCut)
	}

	// Oversized: a 2 MiB header, a 10 MiB login form, a 100 MiB LDAP message.
	c, err := net.Dial("tcp", httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	go func() {
		fmt.Fprintf(c, "GET /login HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", 2<<20))
	}()
	status := make([]byte, 12)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, status); err != nil || string(status[9:12]) != "431" {
		t.Errorf("a 2 MiB header: %q %v, want 431", status, err)
	}
	c.Close()
	bigHeader := time.Since(start)

	start = time.Now()
	resp, err := http.Post(e.base+"/login", "application/x-www-form-urlencoded", strings.NewReader("login=a&password="+strings.Repeat("x", 10<<20)))
	if err != nil {
		t.Fatalf("a 10 MiB login form: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a 10 MiB login form: status %d, want 400", resp.StatusCode)
	}
	bigForm := time.Since(start)

	c, err = net.Dial("tcp", ldapAddr)
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	_, _ = c.Write([]byte{0x30, 0x84, 0x06, 0x40, 0x00, 0x00, 0x02, 0x01, 0x01})
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.Copy(io.Discard, c) // the notice of disconnection, then EOF
	c.Close()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Error("an LDAP message announcing 100 MiB was not refused")
	}
	bigLDAP := time.Since(start)
	figure(t, "oversized: 2 MiB header 431 in %v; 10 MiB login form 400 in %v; LDAP message of 100 MiB cut in %v",
		bigHeader.Round(time.Millisecond), bigForm.Round(time.Millisecond), bigLDAP.Round(time.Millisecond))
	if ready(e.base, 5*time.Second) != 200 || rootDSE() != nil {
		t.Error("enthub is not healthy after the attack")
	}
}

// fromIP is a transport that says, as the trusted proxy would, that the
// request comes from ip.
type fromIP struct{ ip string }

func (f fromIP) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", f.ip)
	return http.DefaultTransport.RoundTrip(r)
}

// tryPassword opens the login page and posts one login and password from
// ip; it returns the status and the Retry-After header.
func tryPassword(t testing.TB, base, ip, login, password string) (int, string) {
	t.Helper()
	c := browser(10 * time.Second)
	c.Transport = fromIP{ip}
	resp, err := c.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp, err = localPassword(c, one(base), 0, string(b), login, password)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// Credential stuffing on local passwords: one address trying leaked pairs
// is slowed to a trickle (its failures are counted per address) and never
// gets in, even with a right password once throttled; users it did not
// target log in as usual; a victim targeted from many addresses waits the
// announced Retry-After and then gets in.
func TestCredentialStuffing(t *testing.T) {
	db := peer.Postgres(t)
	migrate(t, db)
	users := seedGuests(t, db, 40)
	e := startEnthub(t, "enthub", "ENTHUB_DB="+db, "ENTHUB_HTTP_TRUSTED_PROXIES=127.0.0.1/32")

	// One address, 150 leaked pairs over 30 accounts; the right password
	// of guest7 comes late in the list.
	attacker := "203.0.113.66"
	statuses := map[int]int{}
	var rightLate int
	start := time.Now()
	for i := range 150 {
		login, pw := users[i%30], fmt.Sprintf("Password%d!", i)
		if i == 120 {
			login, pw = users[7], guestPassword
		}
		code, _ := tryPassword(t, e.base, attacker, login, pw)
		statuses[code]++
		if i == 120 {
			rightLate = code
		}
	}
	stuffing := time.Since(start)
	if statuses[http.StatusSeeOther]+statuses[http.StatusOK] > 0 {
		t.Errorf("the attacker got in: statuses %v", statuses)
	}
	if rightLate != http.StatusTooManyRequests {
		t.Errorf("the right password from the throttled address: status %d, want 429 (not even checked)", rightLate)
	}
	checked := statuses[http.StatusUnauthorized]
	if checked > 40 {
		t.Errorf("%d of 150 attempts from one address had their password checked, want about 30 (3 free × 10 per address)", checked)
	}

	// Accounts the attacker did not target, from their own addresses.
	var worst time.Duration
	for i, u := range users[30:] {
		s := time.Now()
		code, _ := tryPassword(t, e.base, fmt.Sprintf("198.51.100.%d", i+1), u, guestPassword)
		worst = max(worst, time.Since(s))
		if code != http.StatusSeeOther {
			t.Errorf("%s, not targeted, from its own address: status %d", u, code)
		}
	}

	// A victim targeted from many addresses (a botnet), as fast as it can:
	// failures past the free ones land inside the backoff and are not even
	// counted, so the victim waits the backoff (Retry-After), then gets in.
	// Reaching the 15-minute lockout takes paced attempts (about two
	// minutes of doubling waits); idp's TestLoginRateLimitBackoffThenLockout
	// shows the right password working once it has passed.
	victim := users[35]
	for i := range 12 {
		tryPassword(t, e.base, fmt.Sprintf("192.0.2.%d", i+1), victim, "guess")
	}
	code, retry := tryPassword(t, e.base, "198.51.100.200", victim, guestPassword)
	secs := 0
	fmt.Sscan(retry, &secs)
	if code != http.StatusTooManyRequests || secs <= 0 || secs > 5 {
		t.Fatalf("victim after 12 quick failures from 12 addresses: status %d, Retry-After %q; want 429 for a short backoff", code, retry)
	}
	time.Sleep(time.Duration(secs)*time.Second + 100*time.Millisecond)
	if code, _ := tryPassword(t, e.base, "198.51.100.200", victim, guestPassword); code != http.StatusSeeOther {
		t.Errorf("victim after the Retry-After: status %d, want in", code)
	}
	figure(t, "credential stuffing, 150 pairs from one address in %v: %d passwords checked, %d throttled, 0 accepted (right password too); 10 untargeted users logged in, slowest %v; victim of 12 addresses waited %d s (Retry-After), then got in",
		stuffing.Round(time.Millisecond), checked, statuses[http.StatusTooManyRequests], worst.Round(time.Millisecond), secs)
}
