package gar_test

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enthub/enthub/directory/gar"
)

// BenchmarkExport exports every school of a generated directory of
// ENTHUB_BENCH_STUDENTS students (default 10,000, so that `go test -bench`
// stays short; test/bench/gar.sh runs 100,000 through the binary). It
// reports students/s, the peak Go heap sampled during the export and the
// process's peak RSS over the export (VmHWM, reset before it).
func BenchmarkExport(b *testing.B) {
	n := 10000
	if v := os.Getenv("ENTHUB_BENCH_STUDENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatalf("ENTHUB_BENCH_STUDENTS=%q: %v", v, err)
		}
	}
	s := openStore(b)
	importGenerated(b, s, n, 0, 1)
	p := gar.Project{IDEnt: "ENT-BENCH", Schools: uais(b, s), Secret: testSecret}
	ctx := context.Background()
	runtime.GC()
	resetHWM()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var m runtime.MemStats
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	})
	var students int
	for b.Loop() {
		res, err := gar.Export(ctx, s, gar.ExportOptions{Project: p, Out: b.TempDir(), Now: exportTime})
		if err != nil {
			b.Fatal(err)
		}
		students += res.Counts.Students
	}
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(students)/b.Elapsed().Seconds(), "students/s")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
	if kb := vmHWM(); kb > 0 {
		b.ReportMetric(float64(kb)/1024, "peak-RSS-MB")
	}
}

// resetHWM resets the process's peak RSS (Linux: clear_refs 5), so that
// VmHWM measures from here; elsewhere it does nothing.
func resetHWM() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// vmHWM is the process's peak RSS in KiB since the last reset, 0 when unknown.
func vmHWM() int {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return kb
		}
	}
	return 0
}
