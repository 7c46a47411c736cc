package load

import (
	"fmt"
	"io"
	"strings"
)

// WriteTable prints reports as a human table: one block per run with its
// journeys, then its slowest steps.
func WriteTable(w io.Writer, reports ...*Report) {
	for _, r := range reports {
		fmt.Fprintf(w, "== %s: %s journey, %d virtual users", r.Scenario, r.Journey, r.VUs)
		if r.TargetRate > 0 {
			fmt.Fprintf(w, ", arrivals capped at %.0f/s", r.TargetRate)
		}
		fmt.Fprintln(w)
		if r.Skipped != "" {
			fmt.Fprintf(w, "   not run: %s\n", r.Skipped)
			continue
		}
		fmt.Fprintf(w, "   %-22s %8s %7s %9s %8s %8s %8s %8s\n", "journey", "done", "errors", "per s", "p50 ms", "p95 ms", "p99 ms", "max ms")
		row := func(name string, count, errs int, rate float64, p Percentiles) {
			fmt.Fprintf(w, "   %-22s %8d %7d %9.1f %8.1f %8.1f %8.1f %8.1f\n", name, count, errs, rate, p.P50, p.P95, p.P99, p.Max)
		}
		row("all", r.Journeys, r.Errors, r.Rate, r.Latency)
		for _, v := range r.Variants {
			row(v.Name, v.Count, v.Errors, float64(v.Count)/r.Seconds, v.Percentiles)
		}
		fmt.Fprintf(w, "   %-40s %8s %7s %8s %8s\n", "HTTP step", "count", "errors", "p50 ms", "p99 ms")
		for _, s := range r.Steps {
			fmt.Fprintf(w, "   %-40s %8d %7d %8.1f %8.1f\n", s.Name, s.Count, s.Errors, s.P50, s.P99)
		}
		fmt.Fprintf(w, "   %.1f s", r.Seconds)
		if s := r.Server; s != nil {
			fmt.Fprintf(w, "; server (pid %d and children): CPU %.0f %% of a core, %.1f ms CPU per journey; RSS %.0f → %.0f (after a fifth) → %.0f MB (max %.0f), slope %+.2f MB/min over %d samples",
				s.PID, s.CPUPercent, s.CPUMsPerJourney, s.RSSStartMB, s.RSSFifthMB, s.RSSEndMB, s.RSSMaxMB, s.RSSSlopeMBPerMin, s.SlopeSamples)
			if s.HeapEndMB > 0 {
				fmt.Fprintf(w, "; Go heap in use %.0f → %.0f MB", s.HeapStartMB, s.HeapEndMB)
			}
			if s.Error != "" {
				fmt.Fprintf(w, "; PROCESS LOST: %s", s.Error)
			}
		}
		fmt.Fprintln(w)
		for _, x := range r.Extra {
			fmt.Fprintf(w, "   beside: %s %.1f %s\n", x.Name, x.Value, x.Unit)
		}
		if r.BesideOutput != "" {
			fmt.Fprintf(w, "   beside, it printed:\n      %s\n", strings.ReplaceAll(r.BesideOutput, "\n", "\n      "))
		}
		if len(r.Samples) > 0 {
			fmt.Fprintf(w, "   errors (first of each kind):\n      %s\n", strings.Join(r.Samples, "\n      "))
		}
	}
}
