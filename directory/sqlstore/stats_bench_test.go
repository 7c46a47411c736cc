package sqlstore_test

import (
	"context"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/directory/usage"
	"github.com/enthub/enthub/test/peer"
)

// BenchmarkUsageReport measures the console's views over a generated year
// of a 300,000-account département: 20 million logins and about 30
// million service visits, generated straight into the rollups through
// usage.Batch (the same folding the store applies to audit events; only
// the raw events are skipped, which the "fold" sub-benchmark times on a
// sample). Generating takes minutes, so it only runs with
// ENTHUB_STATS_BENCH=1:
//
//	ENTHUB_STATS_BENCH=1 ./test/run.sh --no-lint --no-install -run '^$' -bench UsageReport -benchtime 5x ./directory/sqlstore/
//
// ENTHUB_STATS_BENCH_LOGINS changes the number of logins;
// ENTHUB_STATS_BENCH_SQLITE names a SQLite file kept between runs (filled
// once).
func BenchmarkUsageReport(b *testing.B) {
	if os.Getenv("ENTHUB_STATS_BENCH") == "" {
		b.Skip("set ENTHUB_STATS_BENCH=1: generating a year of logins takes minutes")
	}
	logins := 20_000_000
	if v := os.Getenv("ENTHUB_STATS_BENCH_LOGINS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("ENTHUB_STATS_BENCH_LOGINS=%q: %v", v, err)
		}
		logins = n
	}
	for name, dbURL := range map[string]func(b *testing.B) string{
		"sqlite": func(b *testing.B) string {
			if p := os.Getenv("ENTHUB_STATS_BENCH_SQLITE"); p != "" {
				return "sqlite:" + p
			}
			return "sqlite:" + b.TempDir() + "/db"
		},
		"postgres": func(b *testing.B) string { return peer.Postgres(b) },
	} {
		b.Run(name, func(b *testing.B) { benchUsage(b, dbURL(b), logins) })
	}
}

// cpuTime is the user and system time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchUsage(b *testing.B, dbURL string, logins int) {
	ctx := context.Background()
	loc := paris(b)
	s, err := sqlstore.Open(ctx, dbURL, sqlstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	g := usage.Generator{Logins: logins, Location: loc, Seed: 1}
	first := time.Date(2025, 9, 1, 0, 0, 0, 0, loc)
	last := first.AddDate(0, 0, g.DayCount()-1)
	have, err := s.Counts(ctx, usage.Filter{From: first.Format(usage.DayLayout), To: last.Format(usage.DayLayout)}, usage.DimLogins, false)
	if err != nil {
		b.Fatal(err)
	}
	if have[""] == 0 {
		start := time.Now()
		total, err := g.Fill(func(batch *usage.Batch) error { return s.ApplyUsage(ctx, batch) }, 0, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("generated %d logins over %d days into the rollups in %s", total, g.DayCount(), time.Since(start).Round(time.Second))
	}
	for _, v := range []struct {
		name string
		f    usage.Filter
	}{
		{"year", usage.Filter{From: first.Format(usage.DayLayout), To: last.Format(usage.DayLayout)}},
		{"30days", usage.Filter{From: last.AddDate(0, 0, -29).Format(usage.DayLayout), To: last.Format(usage.DayLayout)}},
		{"year-one-school", usage.Filter{From: first.Format(usage.DayLayout), To: last.Format(usage.DayLayout), Structure: "gen-school-042"}},
	} {
		b.Run(v.name, func(b *testing.B) {
			var r *usage.Report
			cpu0 := cpuTime()
			for b.Loop() {
				if r, err = usage.Build(ctx, s, v.f, usage.Options{Location: loc, Now: last.Add(24 * time.Hour)}); err != nil {
					b.Fatal(err)
				}
			}
			// On a shared machine the wall time is mostly waiting for a
			// core; the process's CPU time (SQLite runs in it; PostgreSQL's
			// server does not) says what the work costs.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
			b.ReportMetric(float64(r.Logins), "logins")
			b.ReportMetric(float64(r.Users), "users")
		})
	}
	// Folding raw events: one busy school day's worth of a 300-account
	// slice, as the identity provider writes them.
	// The benchmark framework calls a sub-benchmark more than once; the
	// sample is written and folded the first time only.
	var folded int
	var took time.Duration
	b.Run("fold", func(b *testing.B) {
		if took == 0 {
			sample := usage.Generator{Accounts: 300_000, Logins: 40_000, Days: 1, Location: loc, Seed: 2,
				Start: last.AddDate(0, 0, 1)}
			var sink usage.EventSink
			sample.Day(0, &sink)
			if err := s.Update(ctx, func(tx directory.Tx) error { return tx.AppendEvents(ctx, sink.Events...) }); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			if folded, err = s.FoldEvents(ctx, last.AddDate(0, 0, 3), sqlstore.FoldOptions{Location: loc}); err != nil {
				b.Fatal(err)
			}
			took = time.Since(start)
		}
		b.ReportMetric(float64(folded), "events")
		b.ReportMetric(float64(folded)/took.Seconds(), "events/s")
	})
}
