package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/aaf"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/directory/storetest"
	"github.com/enthub/enthub/test/peer"
)

// TestMain lets a test run this binary as enthub itself, so a real process
// can be killed mid-import.
func TestMain(m *testing.M) {
	if os.Getenv("ENTHUB_TEST_AS_MAIN") == "1" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Environ()))
	}
	os.Exit(m.Run())
}

// A SIGKILL in the middle of an apply leaves the directory as the previous
// import left it: the delivery is one transaction.
func TestKillDuringImportLeavesPreviousState(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	day1, day2 := filepath.Join(dir, "day1"), filepath.Join(dir, "day2")
	if _, err := aaf.Generate(ctx, aaf.GenerateOptions{Out: day1, Students: 500, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := aaf.Generate(ctx, aaf.GenerateOptions{Out: day2, Students: 20000, Seed: 2}); err != nil {
		t.Fatal(err)
	}
	dbs := map[string]string{"sqlite": "sqlite:" + filepath.Join(dir, "e.db")}
	if !testing.Short() {
		dbs["postgres"] = peer.Postgres(t)
	}
	for name, url := range dbs {
		t.Run(name, func(t *testing.T) {
			if code, out, errs := enthub(t, nil, "aaf", "import", day1, "--db", url); code != 0 {
				t.Fatalf("day 1 import = %d %s %s", code, out, errs)
			}
			s, err := sqlstore.Open(ctx, url, sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			before := storetest.Dump(t, s.DB())

			cmd := exec.Command(os.Args[0], "aaf", "import", day2, "--force", "--db", url)
			cmd.Env = append(os.Environ(), "ENTHUB_TEST_AS_MAIN=1")
			stderr, _ := cmd.StderrPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Progress lines come every 50,000 records (not a terminal): the
			// first one means the apply is under way; kill it there.
			sc := bufio.NewScanner(stderr)
			killed := false
			deadline := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
			defer deadline.Stop()
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "import: ") {
					cmd.Process.Kill()
					killed = true
					break
				}
			}
			cmd.Wait()
			if !killed {
				t.Fatal("the import finished before it could be killed")
			}
			if after := storetest.Dump(t, s.DB()); after != before {
				t.Error("a killed import changed the directory")
			}
			// And the next import runs normally (no leftover lock or staging).
			if code, out, errs := enthub(t, nil, "aaf", "import", day1, "--force", "--db", url); code != 0 {
				t.Errorf("import after the kill = %d %s %s", code, out, errs)
			}
		})
	}
}
