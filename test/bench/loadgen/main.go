// Command loadgen is the SSO load client of test/bench/sso.sh: complete
// logins over real HTTP against a running enthub (package test/bench/load).
//
//	loadgen setup -db URL -n 100000 -users users.tsv -services services.yaml
//	    gives up to N student accounts of an imported directory a password
//	    (the same argon2id hash; see load.SetPasswords), writes their logins
//	    and AAF ids, and writes the services file registering the bench's
//	    CAS, OIDC and SAML relying parties (for sso.services_file).
//
//	loadgen run -url http://127.0.0.1:8080 -users users.tsv -pid PID \
//	    -scenario wave -journey password -vus 32 -n 20000 [-duration 10m] [-rate R] \
//	    [-beside 'ldap=CMD'] [-json out.json]
//	    runs the journeys and prints a table; -json appends the report to a
//	    JSON list. With -beside NAME=CMD a shell command runs during the
//	    logins; its wall time (and, for ldapbench RESULT lines, its rate and
//	    p99) go into the report. Exit status 1 when a journey failed or the
//	    beside command failed, 0 when the journey was not available
//	    (reported as "not run").
//
//	loadgen educonnect -enthub http://127.0.0.1:8080 -dir DIR -config federation.yaml
//	    serves a simulated EduConnect (load.StartEduConnect) for the
//	    brokered journey until interrupted; writes the federation part of
//	    enthub.yaml trusting it (with the password form for the password
//	    journeys) to -config once it listens.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/enthub/enthub/directory/password"
	"github.com/enthub/enthub/test/bench/load"
)

const defaultPassword = "Banc-d-essai-2026!"

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "setup":
		err = setup(ctx, os.Args[2:])
	case "run":
		err = run(ctx, os.Args[2:])
	case "educonnect":
		err = educonnect(ctx, os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: loadgen setup|run|educonnect [flags] (loadgen run -h)")
	os.Exit(2)
}

func setup(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("setup", flag.ExitOnError)
	db := fs.String("db", "", "enthub store URL (sqlite:PATH or postgres://…) holding an imported directory")
	n := fs.Int("n", 100000, "number of student accounts to give the password")
	skip := fs.Int("skip", 0, "leave out the first students (a second set of accounts, with another cost)")
	pw := fs.String("password", defaultPassword, "the password")
	cost := fs.String("argon2", "default", "argon2id cost of the hash: default (enthub's: 19 MiB, 2 passes) or light (1 MiB, 1 pass: to measure the SSO without the password hash)")
	usersPath := fs.String("users", "users.tsv", "where to write the logins and AAF ids")
	services := fs.String("services", "", "where to write the services file (none if empty)")
	fs.Parse(args)
	params := password.Default
	switch *cost {
	case "default":
	case "light":
		params = password.Params{Memory: 1024, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}
	default:
		return fmt.Errorf("-argon2 %q: default or light", *cost)
	}
	t0 := time.Now()
	users, err := load.SetPasswords(ctx, *db, *skip, *n, *pw, params)
	if err != nil {
		return err
	}
	if err := load.WriteUsers(*usersPath, users); err != nil {
		return err
	}
	fmt.Printf("%d student accounts given a password (argon2 %s) in %.1f s; logins in %s\n", len(users), *cost, time.Since(t0).Seconds(), *usersPath)
	if *services != "" {
		y, err := load.ServicesYAML()
		if err != nil {
			return err
		}
		if err := os.WriteFile(*services, []byte(y), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func educonnect(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("educonnect", flag.ExitOnError)
	public := fs.String("enthub", "http://127.0.0.1:8080", "enthub's public URL (the service provider)")
	dir := fs.String("dir", "educonnect", "where to write keys and metadata")
	out := fs.String("config", "federation.yaml", "where to write the federation part of enthub.yaml")
	fs.Parse(args)
	e, err := load.StartEduConnect(*public, *dir)
	if err != nil {
		return err
	}
	defer e.Close()
	// Written whole then renamed: the script waits for the file.
	if err := os.WriteFile(*out+".tmp", []byte(e.Federation), 0o644); err != nil {
		return err
	}
	if err := os.Rename(*out+".tmp", *out); err != nil {
		return err
	}
	fmt.Println("simulated EduConnect at", e.URL)
	<-ctx.Done()
	return nil
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	base := fs.String("url", "http://127.0.0.1:8080", "enthub public URL")
	usersPath := fs.String("users", "users.tsv", "logins and AAF ids (loadgen setup)")
	pw := fs.String("password", defaultPassword, "the accounts' password")
	scenario := fs.String("scenario", "logins", "name of the scenario in the report")
	journey := fs.String("journey", "password", "password, brokered, cas-full or cas-ticket (the anchor's: CAS only, any CAS server)")
	loginField := fs.String("login-field", "login", "name of the login form's user field (LemonLDAP::NG: user)")
	upstream := fs.String("upstream", "educonnect", "brokered: what the address of the login page's upstream link contains")
	protocols := fs.String("protocols", "cas,oidc,saml", "relying-party protocols, taken in turn")
	hops := fs.Int("hops", 0, "password: services opened after the login with the SSO session")
	vus := fs.Int("vus", 16, "virtual users at once")
	n := fs.Int("n", 0, "journeys to run (0: until -duration)")
	dur := fs.Duration("duration", 0, "how long to run (0: until -n)")
	rate := fs.Float64("rate", 0, "journeys started per second at most (0: as fast as the virtual users go)")
	first := fs.Int("first-user", 0, "index of the first identity used")
	pid := fs.Int("pid", 0, "server process id: CPU and RSS (with its children's) sampled from /proc")
	metrics := fs.Bool("metrics", true, "read the Go heap in use from enthub's /metrics before and after")
	metricsAt := fs.String("metrics-url", "", "enthub's /metrics when served apart (http.metrics_listen); default -url's")
	verify := fs.Bool("verify-saml", false, "check each SAML response as the SP would (costs client CPU)")
	jsonPath := fs.String("json", "", "append the report to the JSON list in this file")
	beside := fs.String("beside", "", "NAME=SHELL-COMMAND run during the logins")
	fs.Parse(args)

	users, err := load.ReadUsers(*usersPath)
	if err != nil {
		return err
	}
	var t *load.Target
	if strings.HasPrefix(*journey, "cas-") {
		t, err = load.NewCASTarget(*base, *pw)
	} else {
		t, err = load.NewTarget(ctx, *base, *pw)
	}
	if err != nil {
		return err
	}
	t.VerifySAML, t.LoginField = *verify, *loginField
	ps := strings.Split(*protocols, ",")
	var j load.Journey
	switch *journey {
	case "password":
		j = load.PasswordJourney{Protocols: ps, Hops: *hops}
	case "brokered":
		j = load.BrokeredJourney{Upstream: *upstream, Protocols: ps}
	case "cas-full":
		j = load.CASJourney{}
	case "cas-ticket":
		j = load.CASJourney{Session: true}
	default:
		return fmt.Errorf("-journey %q: password, brokered, cas-full or cas-ticket", *journey)
	}
	var side *sideJob
	if *beside != "" {
		name, cmd, ok := strings.Cut(*beside, "=")
		if !ok {
			return fmt.Errorf("-beside %q: NAME=COMMAND", *beside)
		}
		side = startSide(ctx, name, cmd)
	}
	rep, err := load.Run(ctx, t, j, users, load.Options{Scenario: *scenario, VUs: *vus, Total: *n, Duration: *dur, Rate: *rate, FirstUser: *first, PID: *pid, MetricsURL: metricsURL(*metrics, *journey, *base, *metricsAt),
		KeepBrowser: *journey == "cas-ticket"})
	if err != nil {
		return err
	}
	var sideErr error
	if side != nil {
		rep.Extra, sideErr = side.wait()
		rep.BesideOutput = lastLines(side.out.String(), 3)
	}
	load.WriteTable(os.Stdout, rep)
	if *jsonPath != "" {
		if err := appendJSON(*jsonPath, rep); err != nil {
			return err
		}
	}
	switch {
	case sideErr != nil:
		return sideErr
	case rep.Errors > 0:
		return fmt.Errorf("%s: %d journeys failed", *scenario, rep.Errors)
	case rep.Server != nil && rep.Server.Error != "":
		return fmt.Errorf("%s: enthub process lost: %s", *scenario, rep.Server.Error)
	}
	return nil
}

// metricsURL is enthub's /metrics (at, else base's), unless off or the
// target may be another server (the anchor's CAS journeys).
func metricsURL(on bool, journey, base, at string) string {
	if !on || strings.HasPrefix(journey, "cas-") {
		return ""
	}
	if at != "" {
		return at
	}
	return strings.TrimSuffix(base, "/") + "/metrics"
}

// sideJob is a command run beside the logins (an ldapbench, an import).
type sideJob struct {
	name string
	t0   time.Time
	out  bytes.Buffer
	done chan error
}

func startSide(ctx context.Context, name, command string) *sideJob {
	s := &sideJob{name: name, t0: time.Now(), done: make(chan error, 1)}
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Stdout, cmd.Stderr = &s.out, &s.out
	go func() { s.done <- cmd.Run() }()
	return s
}

// wait waits for the side command and returns its figures: its wall time,
// and the rate and p99 of each ldapbench RESULT line it printed.
func (s *sideJob) wait() ([]load.ExtraFigure, error) {
	err := <-s.done
	figs := []load.ExtraFigure{{Name: s.name + " wall time", Value: time.Since(s.t0).Seconds(), Unit: "s"}}
	sc := bufio.NewScanner(bytes.NewReader(s.out.Bytes()))
	for sc.Scan() {
		// RESULT <label> <mode> <workers> <ops> <ops/s> <p50 ms> <p99 ms> …
		f := strings.Fields(sc.Text())
		if len(f) >= 8 && f[0] == "RESULT" {
			rate, _ := strconv.ParseFloat(f[5], 64)
			p99, _ := strconv.ParseFloat(f[7], 64)
			figs = append(figs, load.ExtraFigure{Name: fmt.Sprintf("%s %s %s clients", s.name, f[2], f[3]), Value: rate, Unit: "ops/s"},
				load.ExtraFigure{Name: fmt.Sprintf("%s %s %s clients p99", s.name, f[2], f[3]), Value: p99, Unit: "ms"})
		}
	}
	if err != nil {
		return figs, fmt.Errorf("beside %s: %w\n%s", s.name, err, lastLines(s.out.String(), 15))
	}
	return figs, nil
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

// appendJSON adds rep to the JSON list in path (created if missing).
func appendJSON(path string, rep *load.Report) error {
	var list []json.RawMessage
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return err
	default:
		if err := json.Unmarshal(b, &list); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	one, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	list = append(list, one)
	out, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(out, '\n'), 0o644)
}
