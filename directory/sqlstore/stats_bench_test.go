package sqlstore_test

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
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
// million service visits. The year goes straight into the rollups
// (Generator.FillMonths: what folding the same activity as audit events
// gives, TestGeneratedRollupsMatchFolding checks it); a week of the same
// intensity after it is written as raw audit events (LoadEvents: COPY on
// PostgreSQL, prepared multi-row INSERTs on SQLite) and folded by
// FoldEvents, both timed. Every view is timed query by query. It only
// runs with ENTHUB_STATS_BENCH=1:
//
//	ENTHUB_STATS_BENCH=1 ./test/run.sh --no-lint --no-install -run '^$' -bench UsageReport -benchtime 5x ./directory/sqlstore/
//
// ENTHUB_STATS_BENCH_LOGINS changes the number of logins;
// ENTHUB_STATS_BENCH_SQLITE names a SQLite file and
// ENTHUB_STATS_BENCH_POSTGRES a PostgreSQL database URL kept between
// runs: the generation stops at a month's end once
// ENTHUB_STATS_BENCH_BUDGET (default 8m) is spent, and the next run
// with the same database goes on from there.
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
		"postgres": func(b *testing.B) string {
			if u := os.Getenv("ENTHUB_STATS_BENCH_POSTGRES"); u != "" {
				return u
			}
			return peer.Postgres(b)
		},
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

// timedStore times each query of a report by what it reads.
type timedStore struct {
	s     *sqlstore.Store
	took  map[string]time.Duration
	calls map[string]int
}

func (t *timedStore) note(name string, start time.Time) {
	t.took[name] += time.Since(start)
	t.calls[name]++
}

func (t *timedStore) Counts(ctx context.Context, f usage.Filter, dim string, byDay bool) (map[string]int64, error) {
	name := "counts " + dim
	if byDay {
		name += " by day"
	}
	defer t.note(name, time.Now())
	return t.s.Counts(ctx, f, dim, byDay)
}

func (t *timedStore) Users(ctx context.Context, f usage.Filter, by string) (map[string]int64, error) {
	defer t.note("users by "+cmp.Or(by, "all"), time.Now())
	return t.s.Users(ctx, f, by)
}

func (t *timedStore) HealthSince(ctx context.Context) (time.Time, error) { return t.s.HealthSince(ctx) }

// sampleDays are the days of raw events the benchmark writes and folds.
const sampleDays = 7

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
	// The rollups, generated month by month (whole months are kept
	// between runs, so a long generation spreads over several).
	next := 0
	for d := 0; d < g.DayCount(); {
		m := first.AddDate(0, 0, d)
		end := m.AddDate(0, 1, -1)
		have, err := s.Counts(ctx, usage.Filter{From: m.Format(usage.DayLayout), To: end.Format(usage.DayLayout)}, usage.DimLogins, false)
		if err != nil {
			b.Fatal(err)
		}
		if have[""] == 0 {
			break
		}
		d = int(end.AddDate(0, 0, 1).Sub(first).Hours()+12) / 24
		next = d
	}
	if next < g.DayCount() {
		// A run stopped in the middle of a month leaves some of its days.
		if err := s.ForgetUsageFrom(ctx, first.AddDate(0, 0, next)); err != nil {
			b.Fatal(err)
		}
		budget := 8 * time.Minute
		if v := os.Getenv("ENTHUB_STATS_BENCH_BUDGET"); v != "" {
			if budget, err = time.ParseDuration(v); err != nil {
				b.Fatalf("ENTHUB_STATS_BENCH_BUDGET=%q: %v", v, err)
			}
		}
		start, cpu0 := time.Now(), cpuTime()
		made, upTo, err := g.FillMonths(func(batch *usage.Batch) error { return s.ApplyUsage(ctx, batch) }, next, func() bool {
			fmt.Fprintf(os.Stderr, "%s: rollups generated, %s, %s CPU\n", b.Name(), time.Since(start).Round(time.Second), (cpuTime() - cpu0).Round(time.Second))
			return time.Since(start) < budget
		})
		if err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(os.Stderr, "%s: generated %d logins into the rollups, days %d to %d of %d, in %s (%s CPU in this process)\n",
			b.Name(), made, next, upTo, g.DayCount(), time.Since(start).Round(time.Second), (cpuTime() - cpu0).Round(time.Second))
		if upTo < g.DayCount() {
			b.Skipf("the rollups are generated up to day %d of %d: run again with the same database to go on", upTo, g.DayCount())
		}
	}
	// Folding raw audit events at the year's intensity: a school week
	// after the year, written as the identity provider writes them (the
	// events table holds nothing else), then folded on top of the year's
	// rollups (the views below do not reach those days).
	if empty, err := s.EventsEmpty(ctx); err != nil {
		b.Fatal(err)
	} else if empty {
		week := usage.Generator{Logins: logins, Location: loc, Seed: 2, Start: first.AddDate(1, 0, 0)}
		start, cpu0 := time.Now(), cpuTime()
		made := 0
		n, err := s.LoadEvents(ctx, func(add func(directory.Event) error) error {
			for d := range sampleDays {
				var sink usage.EventSink
				made += week.Day(d, &sink)
				for _, e := range sink.Events {
					if err := add(e); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		fmt.Fprintf(os.Stderr, "%s: wrote %d logins as %d audit events (%d days from %s) in %s: %.0f events/s, %s CPU in this process\n",
			b.Name(), made, n, sampleDays, week.Start.Format(usage.DayLayout), took.Round(time.Second), float64(n)/took.Seconds(), (cpuTime() - cpu0).Round(time.Second))
		start, cpu0 = time.Now(), cpuTime()
		folded, err := s.FoldEvents(ctx, week.Start.AddDate(0, 0, sampleDays+1), sqlstore.FoldOptions{Location: loc})
		if err != nil {
			b.Fatal(err)
		}
		took = time.Since(start)
		fmt.Fprintf(os.Stderr, "%s: folded %d events in %s: %.0f events/s, %s CPU in this process\n",
			b.Name(), folded, took.Round(time.Second), float64(folded)/took.Seconds(), (cpuTime() - cpu0).Round(time.Second))
	}
	sizes, err := s.StatsSizes(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for _, k := range slices.Sorted(maps.Keys(sizes)) {
		fmt.Fprintf(os.Stderr, "%s: %-22s %d\n", b.Name(), k, sizes[k])
	}
	day := func(t time.Time) string { return t.Format(usage.DayLayout) }
	school := "gen-school-042"
	for _, v := range []struct {
		name string
		f    usage.Filter
	}{
		// The console opens on the last 30 days (here the summer's, so
		// also 30 school days); a school year and a calendar month are the
		// other periods people pick.
		{"30days", usage.Filter{From: day(last.AddDate(0, 0, -29)), To: day(last)}},
		{"30days-school", usage.Filter{From: day(last.AddDate(0, 0, -29)), To: day(last), Structure: school}},
		{"30days-busy", usage.Filter{From: "2026-03-05", To: "2026-04-03"}}, // school days, not the summer's
		{"30days-busy-school", usage.Filter{From: "2026-03-05", To: "2026-04-03", Structure: school}},
		{"month", usage.Filter{From: "2026-03-01", To: "2026-03-31"}},
		{"year", usage.Filter{From: day(first), To: day(last)}},
		{"year-school", usage.Filter{From: day(first), To: day(last), Structure: school}},
		{"year-unaligned", usage.Filter{From: day(first.AddDate(0, 0, 10)), To: day(last.AddDate(0, 0, -10))}},
	} {
		b.Run(v.name, func(b *testing.B) {
			ts := &timedStore{s: s, took: map[string]time.Duration{}, calls: map[string]int{}}
			var r *usage.Report
			cpu0 := cpuTime()
			for b.Loop() {
				if r, err = usage.Build(ctx, ts, v.f, usage.Options{Location: loc, Now: last.Add(24 * time.Hour)}); err != nil {
					b.Fatal(err)
				}
			}
			// On a shared machine the wall time is mostly waiting for a
			// core; the process's CPU time (SQLite runs in it; PostgreSQL's
			// server does not) says what the work costs.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
			b.ReportMetric(float64(r.Logins), "logins")
			b.ReportMetric(float64(r.Users), "users")
			for _, k := range slices.Sorted(maps.Keys(ts.took)) {
				b.Logf("%-22s %7.2f ms", k, float64(ts.took[k])/float64(time.Millisecond)/float64(ts.calls[k]))
			}
		})
	}
}
