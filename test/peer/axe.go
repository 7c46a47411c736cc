package peer

import (
	"os"
	"path/filepath"
	"testing"
)

// AxeCore returns the source of axe-core (axe.min.js), the accessibility
// rules engine browser tests inject into a page and run there, or stops
// the test through Need when ./test/run.sh has not installed it (npm ci in
// test/peer/axe, the exact version of its package-lock.json).
func AxeCore(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(RepoRoot(t), "test", "peer", "axe", "node_modules", "axe-core", "axe.min.js"))
	Need(t, "axe-core", err == nil, "npm package not installed in test/peer/axe (./test/run.sh runs npm ci there)")
	return string(b)
}
