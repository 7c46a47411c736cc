package dirdump_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/enthub/enthub/aaf"
	"github.com/enthub/enthub/directory/dirdump"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/test/peer"
)

// BenchmarkExport exports a generated directory in each format and reports
// the time and the peak heap. ENTHUB_DIRDUMP_BENCH_STUDENTS sets its size
// (default 2,000; the figures of docs/export.md are for 100,000), and
// ENTHUB_DIRDUMP_BENCH_DB keeps the SQLite store between runs.
//
//	ENTHUB_DIRDUMP_BENCH_STUDENTS=100000 ENTHUB_DIRDUMP_BENCH_DB=/tmp/dirdump-100k.db \
//	  go test -run XXX -bench Export -benchtime 1x ./directory/dirdump/
func BenchmarkExport(b *testing.B) {
	st := benchStore(b)
	for _, format := range []string{dirdump.FormatJSON, dirdump.FormatCSV, dirdump.FormatLDIF} {
		b.Run(format, func(b *testing.B) {
			var res dirdump.Result
			peak := peakHeap(func() {
				for range b.N {
					var err error
					res, err = dirdump.Export(context.Background(), st, format, b.TempDir(), dirdump.Options{})
					if err != nil {
						b.Fatal(err)
					}
				}
			})
			var size int64
			for _, f := range res.Files {
				if fi, err := os.Stat(f); err == nil {
					size += fi.Size()
				}
			}
			b.ReportMetric(float64(peak)/1e6, "peak-heap-MB")
			b.ReportMetric(float64(size)/1e6, "file-MB")
			b.ReportMetric(float64(res.Counts["person"]+res.Counts["entry"]), "persons|entries")
		})
	}
}

// peakHeap runs fn and returns the highest heap in use seen meanwhile,
// sampled every 10 ms, above what was in use before.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	fn()
	close(done)
	wg.Wait()
	if peak < base {
		return 0
	}
	return peak - base
}

func benchStore(b *testing.B) *sqlstore.Store {
	b.Helper()
	n := 2000
	if v := os.Getenv("ENTHUB_DIRDUMP_BENCH_STUDENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatalf("ENTHUB_DIRDUMP_BENCH_STUDENTS: %v", err)
		}
	}
	path := os.Getenv("ENTHUB_DIRDUMP_BENCH_DB")
	if path == "" {
		path = filepath.Join(b.TempDir(), "bench.db")
	}
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, "sqlite:"+path, sqlstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	stats, err := st.Stats(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if stats.Structures == 0 {
		out := filepath.Join(b.TempDir(), "aaf")
		if _, err := aaf.Generate(ctx, aaf.GenerateOptions{Out: out, Students: n, Seed: 1}); err != nil {
			b.Fatal(err)
		}
		if _, err := aaf.Import(ctx, st, []string{out}, aaf.ImportOptions{}); err != nil {
			b.Fatal(err)
		}
		os.RemoveAll(out)
	}
	b.ResetTimer()
	return st
}

// BenchmarkImport restores the JSON export of the benchmark directory into
// a new store (SQLite; PostgreSQL too when ENTHUB_TEST_POSTGRES is set)
// and reports the time and the peak heap, which must not grow with the
// directory: records are read and written one at a time.
func BenchmarkImport(b *testing.B) {
	st := benchStore(b)
	dir := b.TempDir()
	if _, err := dirdump.Export(context.Background(), st, dirdump.FormatJSON, dir, dirdump.Options{WithSecrets: true}); err != nil {
		b.Fatal(err)
	}
	targets := map[string]func(b *testing.B) string{
		"sqlite": func(b *testing.B) string { return "sqlite:" + filepath.Join(b.TempDir(), "restored.db") },
	}
	if os.Getenv("ENTHUB_TEST_POSTGRES") != "" {
		targets["postgres"] = func(b *testing.B) string { return peer.Postgres(b) }
	}
	for name, url := range targets {
		b.Run(name, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				dst, err := sqlstore.Open(context.Background(), url(b), sqlstore.Options{})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				var counts dirdump.Counts
				peak := peakHeap(func() {
					counts, err = dirdump.Import(context.Background(), dst, dir)
				})
				if err != nil {
					b.Fatal(err)
				}
				dst.Close()
				b.ReportMetric(float64(peak)/1e6, "peak-heap-MB")
				b.ReportMetric(float64(counts["person"]), "persons")
			}
		})
	}
}
