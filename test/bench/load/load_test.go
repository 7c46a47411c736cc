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

	"github.com/enthub/enthub/idp"
	"github.com/enthub/enthub/test/peer"
)

// The short version of the load bench (test/bench/sso.sh runs the full
// one): an `enthub serve` process on PostgreSQL with a generated directory,
// 30 s of complete logins by many virtual users, mixed CAS, OIDC and SAML,
// each followed by one more service reached with the SSO session. It fails
// on any failed journey or if enthub dies; it prints the figures and
// asserts no timing (the machine is shared). ENTHUB_LOAD_SECONDS changes
// the duration; ENTHUB_LOAD_JSON, if set, receives the reports.
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
	users, err := SetPasswords(ctx, db, 0, students, "Banc-d-essai-2026!", idp.DefaultArgon2)
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
	port := peer.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	cfg := fmt.Sprintf("public_url: %s\ndb: %s\nlog:\n  level: warn\nhttp:\n  listen: 127.0.0.1:%d\nsso:\n  services_file: %s\naaf:\n  inbox: \"\"\n",
		base, db, port, servicesPath)
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
	secs := 30
	if s, err := strconv.Atoi(os.Getenv("ENTHUB_LOAD_SECONDS")); err == nil && s > 0 {
		secs = s
	}
	pid := srv.Cmd.Process.Pid
	rep, err := Run(ctx, tgt, PasswordJourney{Hops: 1}, users, Options{Scenario: "short mixed logins", VUs: 4 * runtime.NumCPU(),
		Duration: time.Duration(secs) * time.Second, PID: pid, MetricsURL: base + "/metrics"})
	if err != nil {
		t.Fatal(err)
	}
	// The brokered journey runs only where enthub offers an upstream; a
	// few seconds of it then, else its reason is printed.
	brk, err := Run(ctx, tgt, BrokeredJourney{}, users, Options{Scenario: "short brokered logins", VUs: 4, Duration: 5 * time.Second,
		FirstUser: rep.Journeys + rep.Errors, PID: pid})
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	WriteTable(&table, rep, brk)
	for _, line := range strings.Split(strings.TrimRight(table.String(), "\n"), "\n") {
		t.Logf("[figures] %s", line)
	}
	if p := os.Getenv("ENTHUB_LOAD_JSON"); p != "" {
		b, _ := json.MarshalIndent([]*Report{rep, brk}, "", "  ")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Error(err)
		}
	}
	if exited, err := srv.Exited(); exited {
		t.Fatalf("enthub exited during the load: %v\n%s", err, srv.Tail(40))
	}
	for _, r := range []*Report{rep, brk} {
		if r.Errors > 0 || (r.Server != nil && r.Server.Error != "") {
			t.Errorf("%s: %d of %d journeys failed; enthub: %+v\n%s", r.Scenario, r.Errors, r.Errors+r.Journeys, r.Server, strings.Join(r.Samples, "\n"))
		}
	}
	if rep.Journeys == 0 {
		t.Errorf("no login completed in %d s", secs)
	}
	for _, v := range rep.Variants {
		if v.Count == 0 {
			t.Errorf("%s: no journey completed", v.Name)
		}
	}
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
