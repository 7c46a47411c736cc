package main

import (
	"runtime/debug"
	"testing"
)

// memory_limit_mib becomes the runtime's soft limit, unless GOMEMLIMIT
// (read by the runtime itself) is set or the setting is 0.
func TestServeMemoryLimitYieldsToGOMEMLIMIT(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	for _, tc := range []struct {
		env  string
		mib  int
		want int64 // the limit in force after the call
	}{
		{"", 0, prev},
		{"512MiB", 256, prev},
		{"", 256, 256 << 20},
	} {
		debug.SetMemoryLimit(prev)
		set := serveMemoryLimit(tc.env, tc.mib)
		if got := debug.SetMemoryLimit(-1); got != tc.want {
			t.Errorf("env %q, memory_limit_mib %d: limit %d, want %d", tc.env, tc.mib, got, tc.want)
		}
		if (set != 0) != (tc.want != prev) {
			t.Errorf("env %q, memory_limit_mib %d: returned %d", tc.env, tc.mib, set)
		}
	}
}
