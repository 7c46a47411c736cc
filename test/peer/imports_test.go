package peer_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/enthub/enthub/test/peer"
)

// Production code must not depend on the test harness: only _test.go files and packages under
// test/ may import test/peer.
func TestProductionCodeDoesNotImportPeer(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not on PATH")
	}
	const self = "github.com/enthub/enthub/test/peer"
	cmd := exec.Command(goBin, "list", "-e", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...")
	cmd.Dir = peer.RepoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "github.com/enthub/enthub/test") {
			continue
		}
		for _, imp := range fields[1:] {
			if imp == self {
				t.Errorf("%s imports %s in non-test code", fields[0], self)
			}
		}
	}
}
