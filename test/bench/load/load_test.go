package load

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/directory/password"
	"github.com/enthub/enthub/test/peer"
)

// The short version of the load bench (test/bench/sso.sh runs the full
// one): an `enthub serve` process on PostgreSQL with a generated directory
// and a simulated EduConnect beside it; two thirds of the time complete
// password logins by many virtual users through the login chooser, mixed
// CAS, OIDC and SAML, each followed by one more service reached with the
// SSO session; one third brokered logins (chooser → simulated EduConnect,
// signed and encrypted assertion → enthub links the student → CAS, OIDC
// or SAML service). Every login ends with its relying party validating
// what it got (serviceValidate; token and userinfo; the SAML response
// checked as the SP would, NameID included). It fails on any failed
// journey, a journey kind that never completed, enthub dying, or memory
// growing past the bounds of memoryBounds. It prints the figures and
// asserts no timing (the machine is shared). ENTHUB_LOAD_SECONDS changes
// the duration (default 24 s; with the setup, about a minute);
// ENTHUB_LOAD_JSON, if set, receives the reports.
func TestMixedLoginsUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test: not in -short")
	}
	ctx := context.Background()
	db := peer.Postgres(t)
	dir := t.TempDir()
	bin := buildEnthub(t, dir)

	const students = 1500
	run(t, bin, "aaf", "generate", "--out", filepath.Join(dir, "complet"), "--students", strconv.Itoa(students), "--seed", "7")
	run(t, bin, "aaf", "import", filepath.Join(dir, "complet"), "--db", db, "--log-level", "warn")
	// enthub's own argon2id cost: the password check is most of a login's
	// CPU and must hold under concurrency too.
	users, err := SetPasswords(ctx, db, 0, students, "Banc-d-essai-2026!", password.Default)
	if err != nil {
		t.Fatal(err)
	}
	services, err := ServicesYAML()
	if err != nil {
		t.Fatal(err)
	}
	servicesPath := filepath.Join(dir, "services.yaml")
	if err := os.WriteFile(servicesPath, []byte(services), 0o600); err != nil {
		t.Fatal(err)
	}
	port, mport := peer.FreePort(t), peer.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	metrics := fmt.Sprintf("http://127.0.0.1:%d", mport)
	ect, err := StartEduConnect(base, filepath.Join(dir, "educonnect"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ect.Close() })
	cfg := fmt.Sprintf("public_url: %s\ndb: %s\nmemory_limit_mib: %d\nlog:\n  level: warn\nhttp:\n  listen: 127.0.0.1:%d\n  metrics_listen: 127.0.0.1:%d\n  pprof: true\n"+
		"sso:\n  services_file: %s\naaf:\n  inbox: \"\"\n%s",
		base, db, memoryLimitMiB, port, mport, servicesPath, ect.Federation)
	cfgPath := filepath.Join(dir, "enthub.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := peer.StartProcess(t, "enthub", exec.Command(bin, "serve", "--config", cfgPath))
	waitReady(t, srv, base+"/readyz")

	tgt, err := NewTarget(ctx, base, "Banc-d-essai-2026!")
	if err != nil {
		t.Fatal(err)
	}
	tgt.VerifySAML = true
	secs := 24
	if s, err := strconv.Atoi(os.Getenv("ENTHUB_LOAD_SECONDS")); err == nil && s > 0 {
		secs = s
	}
	pid := srv.Cmd.Process.Pid
	heap0 := liveHeapMB(t, metrics)
	rep, err := Run(ctx, tgt, PasswordJourney{Hops: 1}, users, Options{Scenario: "short mixed logins", VUs: 4 * runtime.NumCPU(),
		Duration: time.Duration(secs) * 2 / 3 * time.Second, PID: pid, MetricsURL: metrics + "/metrics"})
	if err != nil {
		t.Fatal(err)
	}
	brk, err := Run(ctx, tgt, BrokeredJourney{}, users, Options{Scenario: "short brokered logins", VUs: 2 * runtime.NumCPU(),
		Duration: time.Duration(secs) / 3 * time.Second, FirstUser: rep.Journeys + rep.Errors, PID: pid, MetricsURL: metrics + "/metrics"})
	if err != nil {
		t.Fatal(err)
	}
	heap1 := liveHeapMB(t, metrics)
	var table bytes.Buffer
	WriteTable(&table, rep, brk)
	for _, line := range strings.Split(strings.TrimRight(table.String(), "\n"), "\n") {
		t.Logf("[figures] %s", line)
	}
	t.Logf("[figures] live Go heap (after a forced collection): %.1f MB before the logins, %.1f MB after", heap0, heap1)
	if p := os.Getenv("ENTHUB_LOAD_JSON"); p != "" {
		b, _ := json.MarshalIndent([]*Report{rep, brk}, "", "  ")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Error(err)
		}
	}
	if exited, err := srv.Exited(); exited {
		t.Fatalf("enthub exited during the load: %v\n%s", err, srv.Tail(40))
	}
	if brk.Skipped != "" {
		t.Errorf("brokered logins did not run: %s", brk.Skipped)
	}
	for _, r := range []*Report{rep, brk} {
		if r.Errors > 0 || (r.Server != nil && r.Server.Error != "") {
			t.Errorf("%s: %d of %d journeys failed; enthub: %+v\n%s", r.Scenario, r.Errors, r.Errors+r.Journeys, r.Server, strings.Join(r.Samples, "\n"))
		}
		// Every kind of journey completed at least once, each validated
		// by its relying party (a journey counts only once it was).
		for _, want := range []string{"cas", "oidc", "saml"} {
			name := r.Journey + "/" + want
			if r.Journey == "password" {
				name += "+sso"
			}
			if n := variantCount(r, name); n == 0 {
				t.Errorf("%s: no %s journey completed in %.0f s", r.Scenario, name, r.Seconds)
			}
		}
	}
	if msg := memoryBounds(rep, brk, heap0, heap1); msg != "" {
		t.Error(msg)
	}
}

// memoryLimitMiB is the short test's memory_limit_mib: four times the
// live heap it runs with (about 50 MB: the LDAP read model of 1,500
// students, in-flight password hashes of 19 MiB each, buffers).
const memoryLimitMiB = 192

// memoryBounds says what is wrong with enthub's memory over the short run,
// "" when nothing. The bounds are generous, for a smoke test on a shared
// machine, and each has its reason:
//   - RSS at most memory_limit_mib + 96 MiB: the soft limit covers what the
//     Go runtime manages (heap, stacks, its metadata); the rest of the
//     resident size is the binary's code and data, read as it runs
//     (the binary is about 60 MB), and the C-free runtime's few other
//     mappings. Without the limit, or with garbage kept, the resident size
//     follows the collector's pacing and the hashes' high-water mark.
//   - The live heap after a forced collection grows by at most 24 MiB
//     between before and after the logins (about 1,500 of them): what
//     legitimately stays is bounded caches (accounts' logins, prepared
//     statements) and idle connections; sessions, tickets and codes live
//     in PostgreSQL. 24 MiB is about 16 KiB kept per login: a real leak
//     (a session, a response or a hash buffer kept per login) passes it.
//     On top of it, the login form's password pool: one 19 MiB argon2id
//     buffer per core, kept once a burst has filled it (by design, see
//     password.Checker) — bounded by the cores, not by the logins.
func memoryBounds(rep, brk *Report, heap0, heap1 float64) string {
	const rssSlack = 96
	pool := float64(runtime.NumCPU()) * float64(password.Default.Memory) / 1024 * 1.048576 // MiB → MB
	var msgs []string
	for _, r := range []*Report{rep, brk} {
		if r.Server != nil && r.Server.RSSMaxMB > memoryLimitMiB+rssSlack {
			msgs = append(msgs, fmt.Sprintf("%s: enthub's RSS reached %.0f MB, over memory_limit_mib %d + %d", r.Scenario, r.Server.RSSMaxMB, memoryLimitMiB, rssSlack))
		}
	}
	if bound := 24 + pool; heap1-heap0 > bound {
		msgs = append(msgs, fmt.Sprintf("enthub's live heap grew from %.1f to %.1f MB over the logins (bound: %.0f MB, of which %.0f MB the password pool)", heap0, heap1, bound, pool))
	}
	return strings.Join(msgs, "; ")
}

func variantCount(r *Report, name string) int {
	for _, v := range r.Variants {
		if v.Name == name {
			return v.Count
		}
	}
	return 0
}

// liveHeapMB is enthub's live Go heap: a heap profile with gc=1 runs a
// collection first, then /metrics tells the heap allocated (the objects
// that survived it, and the few allocated since).
func liveHeapMB(t *testing.T, metrics string) float64 {
	t.Helper()
	resp, err := http.Get(metrics + "/debug/pprof/heap?gc=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/debug/pprof/heap: status %d", metrics, resp.StatusCode)
	}
	return goMetricMB(context.Background(), metrics+"/metrics", "go_memstats_heap_alloc_bytes")
}

// buildEnthub builds the binary under test, as an operator runs it.
func buildEnthub(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "enthub")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/enthub/enthub/cmd/enthub")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func run(t *testing.T, bin string, args ...string) {
	t.Helper()
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("enthub %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func waitReady(t *testing.T, srv *peer.Process, url string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if exited, err := srv.Exited(); exited {
			t.Fatalf("enthub exited at start: %v\n%s", err, srv.Tail(40))
		}
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("enthub not ready at %s within 60 s\n%s", url, srv.Tail(40))
}
