package aaf

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/test/peer"
)

// BenchmarkImport measures first imports, unchanged re-imports and Deltas
// of a generated delivery (ENTHUB_BENCH_STUDENTS is not read: the full-size
// figures come from test/bench/aaf.sh; this keeps a 5,000-student delivery so
// it runs in `go test -bench`). It reports records/s.
func BenchmarkImport(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	complet, delta := filepath.Join(dir, "complet"), filepath.Join(dir, "delta")
	if _, err := Generate(ctx, GenerateOptions{Out: complet, Students: 5000, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	if _, err := Generate(ctx, GenerateOptions{Out: delta, Students: 5000, Seed: 1, Delta: true}); err != nil {
		b.Fatal(err)
	}
	backends := map[string]func(b *testing.B) string{
		"sqlite":   func(b *testing.B) string { return "sqlite:" + filepath.Join(b.TempDir(), "e.db") },
		"postgres": func(b *testing.B) string { return peer.Postgres(b) },
	}
	for name, url := range backends {
		b.Run(name+"/first", func(b *testing.B) {
			var records int
			for b.Loop() {
				b.StopTimer()
				s, err := sqlstore.Open(ctx, url(b), sqlstore.Options{})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				rep, err := Import(ctx, s, []string{complet}, ImportOptions{})
				if err != nil {
					b.Fatal(err)
				}
				records += rep.Apply.Records
				s.Close()
			}
			b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
		})
		b.Run(name+"/unchanged", func(b *testing.B) {
			s, err := sqlstore.Open(ctx, url(b), sqlstore.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if _, err := Import(ctx, s, []string{complet}, ImportOptions{}); err != nil {
				b.Fatal(err)
			}
			var records int
			for b.Loop() {
				rep, err := Import(ctx, s, []string{complet}, ImportOptions{Force: true})
				if err != nil {
					b.Fatal(err)
				}
				records += rep.Apply.Records
			}
			b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
		})
		b.Run(name+"/delta", func(b *testing.B) {
			var records int
			for b.Loop() {
				b.StopTimer()
				s, err := sqlstore.Open(ctx, url(b), sqlstore.Options{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Import(ctx, s, []string{complet}, ImportOptions{}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				rep, err := Import(ctx, s, []string{delta}, ImportOptions{})
				if err != nil {
					b.Fatal(err)
				}
				records += rep.Apply.Records
				b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms/delta")
				s.Close()
			}
			b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
