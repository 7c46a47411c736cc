package aaf

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

var benchOnce struct {
	sync.Once
	dir string
	err error
}

// benchDelivery generates one 10,000-student Complet per test binary run.
func benchDelivery(b *testing.B) string {
	benchOnce.Do(func() {
		dir, err := mkBenchDir()
		if err != nil {
			benchOnce.err = err
			return
		}
		benchOnce.dir = filepath.Join(dir, "d10k")
		_, benchOnce.err = Generate(context.Background(), GenerateOptions{Out: benchOnce.dir, Students: 10_000, Seed: 1})
	})
	if benchOnce.err != nil {
		b.Fatal(benchOnce.err)
	}
	return benchOnce.dir
}

// BenchmarkParse reports records/s and MB/s for a generated 10k-student
// delivery (~27k records, ~50 MB), parsed file by file as the apply step does.
func BenchmarkParse(b *testing.B) {
	dir := benchDelivery(b)
	ctx := context.Background()
	d, err := Open(ctx, dir)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	var bytes int64
	for _, f := range d.Files {
		bytes += f.Size
	}
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			records := 0
			b.SetBytes(bytes)
			b.ReportAllocs()
			for b.Loop() {
				if err := d.Walk(ctx, ParseOptions{Workers: workers}, func(*Record) error { records++; return nil }); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkCheck is Parse plus every check (ids, references, arity, dates).
func BenchmarkCheck(b *testing.B) {
	dir := benchDelivery(b)
	ctx := context.Background()
	d, err := Open(ctx, dir)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	records := 0
	for b.Loop() {
		rep, err := Check(ctx, d, CheckOptions{})
		if err != nil {
			b.Fatal(err)
		}
		records += rep.Records
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkGenerate reports generated records/s and MB/s (10k students).
func BenchmarkGenerate(b *testing.B) {
	ctx := context.Background()
	root := b.TempDir()
	records := 0
	var bytes int64
	i := 0
	for b.Loop() {
		i++
		sum, err := Generate(ctx, GenerateOptions{Out: filepath.Join(root, "g", string(rune('a'+i%26))), Students: 10_000, Seed: 1, Overwrite: true})
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range sum.Records {
			records += n
		}
		bytes += sum.Bytes
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(bytes)/b.Elapsed().Seconds()/1e6, "MB/s")
}

func mkBenchDir() (string, error) { return os.MkdirTemp("", "enthub-aaf-bench-*") }

// TestLargeDelivery generates, then checks, a delivery of
// ENTHUB_AAF_BIG students (e.g. 100000) and logs throughput and the Go heap
// peak. Skipped unless the variable is set; measure RSS around the test
// binary with /usr/bin/time -v.
func TestLargeDelivery(t *testing.T) {
	n := 0
	if v := os.Getenv("ENTHUB_AAF_BIG"); v != "" {
		for _, c := range v {
			n = n*10 + int(c-'0')
		}
	}
	if n == 0 {
		t.Skip("set ENTHUB_AAF_BIG=100000 to run")
	}
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "big")
	var peak uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
		}
	}()
	start := time.Now()
	sum, err := Generate(ctx, GenerateOptions{Out: dir, Students: n, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	genDur := time.Since(start)
	total := 0
	for _, c := range sum.Records {
		total += c
	}
	t.Logf("generate: %d records, %.0f MB in %v: %.0f records/s, %.1f MB/s; heap peak so far %d MiB",
		total, float64(sum.Bytes)/1e6, genDur.Round(time.Millisecond), float64(total)/genDur.Seconds(), float64(sum.Bytes)/1e6/genDur.Seconds(), peak>>20)
	d, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	start = time.Now()
	rep, err := Check(ctx, d, CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	chkDur := time.Since(start)
	close(stop)
	<-done
	t.Logf("check: %d records in %v: %.0f records/s, %.1f MB/s; heap peak %d MiB", rep.Records, chkDur.Round(time.Millisecond),
		float64(rep.Records)/chkDur.Seconds(), float64(sum.Bytes)/1e6/chkDur.Seconds(), peak>>20)
}
