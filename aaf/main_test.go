package aaf

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMain removes the delivery the benchmarks share (generated once per
// test binary, so no single benchmark can clean it up).
func TestMain(m *testing.M) {
	code := m.Run()
	if benchOnce.dir != "" {
		os.RemoveAll(filepath.Dir(benchOnce.dir))
	}
	os.Exit(code)
}
