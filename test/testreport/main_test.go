package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// A real `go test -json` stream of a sample module (testdata/sample) with a passing, a failing,
// a skipped test, a subtest and a package that does not build.
func TestReportOfRealStream(t *testing.T) {
	cmd := exec.Command("go", "test", "-json", "-count=1", "./...")
	cmd.Dir = "testdata/sample"
	cmd.Env = append(cmd.Environ(), "GOFLAGS=", "GOWORK=off", "GOTOOLCHAIN=local")
	stream, err := cmd.Output()
	if err == nil {
		t.Fatal("go test of the sample passed; it has a failing test")
	}
	var out bytes.Buffer
	if err := report(bytes.NewReader(stream), &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"the visible failure",
		"--- FAIL: TestFails",
		"FAIL\tsample",
		"undefinedThing",
		"sample_test.go:5: [figures] 42 logins/s",
		"skipped tests (1):\n  sample TestSkips: sample_test.go:9: SKIP: peer frobnicator missing\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	for _, unwanted := range []string{"quiet when passing", "=== RUN", "\nPASS\n"} {
		if strings.Contains(got, unwanted) {
			t.Errorf("report shows %q:\n%s", unwanted, got)
		}
	}
	// TestPasses, TestParent, TestParent/child pass; TestFails and the broken package fail.
	if last := lastLine(got); last != "tests: 3 passed, 2 failed, 1 skipped" {
		t.Errorf("closing line %q, want %q", last, "tests: 3 passed, 2 failed, 1 skipped")
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}
