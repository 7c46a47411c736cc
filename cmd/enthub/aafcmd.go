package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"sort"
	"strconv"
	"time"

	"github.com/enthub/enthub/aaf"
	"github.com/enthub/enthub/config"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func (a *app) aafCommand() *cobra.Command {
	c := &cobra.Command{Use: "aaf", Short: "Check, import or generate AAF deliveries", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() }}

	var checkJSON, allowGaps bool
	check := &cobra.Command{
		Use:   "check PATH...",
		Short: "Integrity check only; exit 0 ok, 1 refused (reasons printed)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := aaf.Open(cmd.Context(), args...)
			if err != nil {
				fmt.Fprintf(a.stderr, "refused: %v\n", err)
				return errRefused
			}
			defer d.Close()
			rep, err := aaf.Check(cmd.Context(), d, aaf.CheckOptions{AllowMissingChunks: allowGaps})
			if rep == nil {
				return err
			}
			if checkJSON {
				writeJSON(a.stdout, rep)
			} else {
				printCheck(a.stdout, rep)
			}
			if !rep.OK {
				return errRefused
			}
			return nil
		},
	}
	check.Flags().BoolVar(&checkJSON, "json", false, "print the report as JSON")
	check.Flags().BoolVar(&allowGaps, "allow-missing-chunks", false, "accept gaps in chunk numbers (warning instead of refusal)")

	var dryRun, force, importJSON, importGaps bool
	imp := &cobra.Command{
		Use:   "import PATH...",
		Short: "Check then apply a delivery in one transaction",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd.Context(), func(cfg config.Config, log *slog.Logger, store *sqlstore.Store) error {
				importMemoryLimit(a.getenv("GOMEMLIMIT"))
				opts := importOptions(cfg)
				opts.DryRun, opts.Force = dryRun, force
				opts.Check.AllowMissingChunks = importGaps
				opts.Apply.Progress = a.progress(time.Now())
				rep, err := aaf.Import(cmd.Context(), store, args, opts)
				a.endProgress()
				if importJSON {
					writeJSON(a.stdout, rep)
				} else if rep != nil {
					printImport(a.stdout, rep)
				}
				switch {
				case errors.Is(err, aaf.ErrRefused):
					log.Error("AAF delivery refused", "paths", args, "reason", rep.Reason)
					return errRefused
				case err != nil:
					return err
				}
				return nil
			})
		},
	}
	imp.Flags().BoolVar(&dryRun, "dry-run", false, "check and compute the report without writing")
	imp.Flags().BoolVar(&force, "force", false, "apply despite the volumetry guard, or re-apply an applied delivery")
	imp.Flags().BoolVar(&importJSON, "json", false, "print the report as JSON")
	imp.Flags().BoolVar(&importGaps, "allow-missing-chunks", false, "accept gaps in chunk numbers")

	var gen aaf.GenerateOptions
	var date string
	var likeDemoFlag bool
	generate := &cobra.Command{
		Use:   "generate --out DIR --students N [--seed S] [--delta]",
		Short: "Write a realistic synthetic delivery (same seed, same bytes)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if likeDemoFlag {
				if err := likeDemo(cmd, &gen); err != nil {
					return err
				}
			}
			if gen.Out == "" || gen.Students <= 0 {
				return usageErr("aaf generate: --out and a positive --students are required")
			}
			if date != "" {
				t, err := time.Parse("2006-01-02", date)
				if err != nil {
					return usageErr("--date %q: want YYYY-MM-DD", date)
				}
				gen.Date = t
			}
			sum, err := aaf.Generate(cmd.Context(), gen)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s %s in %s: %d structures, %d students, %d related adults, %d staff, %d files, %d bytes\n",
				sum.Kind, sum.Date, sum.Dir, sum.Structures, sum.Students, sum.Relatives, sum.Staff, len(sum.Files), sum.Bytes)
			return nil
		},
	}
	gf := generate.Flags()
	gf.StringVar(&gen.Out, "out", "", "output folder")
	gf.IntVar(&gen.Students, "students", 0, "number of students")
	gf.Int64Var(&gen.Seed, "seed", 1, "random seed")
	gf.BoolVar(&gen.Delta, "delta", false, "write the Delta that follows the same seed's Complet")
	gf.Float64Var(&gen.DeltaRate, "delta-rate", 0.02, "with --delta: share of students moved, arriving, leaving… (0.01 gives about 5,000 records for 100,000 students)")
	gf.IntVar(&gen.Schools, "schools", 0, "number of schools (default: one per ~600 students)")
	gf.StringVar(&gen.ZipPath, "zip", "", "also write this zip archive with a .sha256 beside it")
	gf.BoolVar(&gen.Overwrite, "overwrite", false, "replace AAF files already in --out")
	gf.StringVar(&date, "date", "", "export date YYYY-MM-DD")
	gf.BoolVar(&likeDemoFlag, "like-demo", false, "the demo's students, schools and seed, so the delivery imports into the demo's directory: with --delta the Delta of 2024-09-17, else a Complet of 2024-09-18")

	c.AddCommand(check, imp, generate, a.aafJournalCommand())
	return c
}

// importOptions maps the configuration onto the importer's options.
func importOptions(cfg config.Config) aaf.ImportOptions {
	return aaf.ImportOptions{
		Check: aaf.CheckOptions{Volumetry: aaf.VolumetryOptions{
			MaxDisabledPercent: cfg.AAF.VolumetryThreshold, MinStructureAccounts: cfg.AAF.VolumetryMinAccounts}},
		Apply: aaf.ApplyOptions{ParentRespLegal: cfg.AAF.ParentRespLegal, LoginPattern: cfg.AAF.LoginPattern},
		Order: aaf.OrderOptions{Off: !cfg.AAF.OrderGuard, ScopeBy: cfg.AAF.OrderScope},
	}
}

// progress shows records/s: a live line on a terminal, a plain line every
// 50,000 records otherwise (logs and CI).
func (a *app) progress(start time.Time) func(int) {
	f, ok := a.stderr.(*os.File)
	tty := ok && term.IsTerminal(int(f.Fd()))
	last := time.Time{}
	return func(n int) {
		if tty {
			if time.Since(last) < 200*time.Millisecond {
				return
			}
			last = time.Now()
			rate := float64(n) / time.Since(start).Seconds()
			fmt.Fprintf(a.stderr, "\r\033[Kimport: %d records, %.0f records/s", n, rate)
			a.progressShown = true
			return
		}
		if n%50000 == 0 {
			fmt.Fprintf(a.stderr, "import: %d records, %.0f records/s\n", n, float64(n)/time.Since(start).Seconds())
		}
	}
}

func (a *app) endProgress() {
	if a.progressShown {
		fmt.Fprintln(a.stderr)
		a.progressShown = false
	}
}

func printCheck(w io.Writer, r *aaf.Report) {
	verdict := "ok"
	if !r.OK {
		verdict = "REFUSED"
	}
	fmt.Fprintf(w, "%s: %s delivery of %s, %d records in %d files, %d error(s), %d warning(s)\n",
		verdict, r.Kind, r.Date, r.Records, len(r.Files), r.ErrorCount, r.WarningCount)
	// The volumetry's reasons are problems too: they are printed once,
	// below, whatever the cap on the warnings shown.
	for _, p := range r.Errors {
		if p.Code != aaf.CodeVolumetry {
			fmt.Fprintf(w, "  error: %s\n", p)
		}
	}
	if r.Volumetry != nil {
		for _, reason := range r.Volumetry.Reasons {
			fmt.Fprintf(w, "  volumetry: %s\n", reason)
		}
	}
	shown := 0
	for _, p := range r.Warnings {
		if p.Code == aaf.CodeVolumetry {
			continue
		}
		if shown == 20 {
			fmt.Fprintf(w, "  … more warnings (%d in all; --json lists them)\n", r.WarningCount)
			break
		}
		shown++
		fmt.Fprintf(w, "  warning: %s\n", p)
	}
}

func printImport(w io.Writer, r *aaf.ImportReport) {
	if r.DryRun {
		fmt.Fprint(w, "dry run, nothing written; the import would end: ")
	}
	fmt.Fprintf(w, "%s", r.Outcome)
	if r.Reason != "" {
		fmt.Fprintf(w, ": %s", r.Reason)
	}
	fmt.Fprintln(w)
	if o := r.Origin; o != nil && o.Date != "" {
		fmt.Fprintf(w, "  %s of %s (%s)\n", r.Kind, o.Date, o.Scope)
	}
	if r.Check != nil && r.Outcome == aaf.OutcomeRefused {
		printCheck(w, r.Check)
	}
	if r.Apply == nil {
		return
	}
	fams := make([]string, 0, len(r.Apply.Families))
	for f := range r.Apply.Families {
		fams = append(fams, string(f))
	}
	sort.Strings(fams)
	fmt.Fprintf(w, "  %-15s %8s %8s %9s %8s %8s %8s\n", "family", "added", "updated", "unchanged", "disabled", "restored", "deleted")
	for _, f := range fams {
		c := r.Apply.Families[aaf.Family(f)]
		fmt.Fprintf(w, "  %-15s %8d %8d %9d %8d %8d %8d\n", f, c.Added, c.Updated, c.Unchanged, c.Disabled, c.Restored, c.Deleted)
	}
	fmt.Fprintf(w, "  accounts created: %d; %d records in %.1f s (%.0f records/s; hash %.1f s, parse %.1f s, merge %.1f s)\n",
		r.Apply.AccountsCreated, r.Apply.Records, float64(r.DurationMS)/1000, r.RecordsPerSecond,
		float64(r.PhasesMS["hash"])/1000, float64(r.PhasesMS["parse"])/1000, float64(r.PhasesMS["merge"])/1000)
	if r.Check != nil && r.Check.WarningCount > 0 {
		fmt.Fprintf(w, "  %d warning(s) (--json lists them)\n", r.Check.WarningCount)
	}
}

// aafJournalCommand reads the import journal: what each delivery came to
// and why, without SQL.
func (a *app) aafJournalCommand() *cobra.Command {
	var asJSON bool
	var limit int
	c := &cobra.Command{
		Use:   "journal [--json] [--limit N]",
		Short: "List the deliveries imported or refused, newest first, with counts and reasons",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit <= 0 {
				return usageErr("--limit %d: want a positive number", limit)
			}
			return a.withStore(cmd.Context(), func(cfg config.Config, log *slog.Logger, store *sqlstore.Store) error {
				entries, err := aaf.Journal(cmd.Context(), store, limit)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(a.stdout, entries)
				}
				printJournal(a.stdout, entries)
				return nil
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the entries as JSON")
	c.Flags().IntVar(&limit, "limit", 50, "how many deliveries to list")
	return c
}

// printJournal prints one line per delivery, its reason and what --force
// overrode on the lines below it.
func printJournal(w io.Writer, entries []aaf.JournalEntry) {
	if len(entries) == 0 {
		fmt.Fprintln(w, "no delivery journalled yet")
		return
	}
	// Fixed widths rather than a tabwriter: the reason lines between the
	// rows would reset its columns.
	const row = "%-19s  %-7s  %-11s  %-7s  %8s  %8s  %8s  %8s  %8s  %16s\n"
	fmt.Fprintf(w, row, "started (UTC)", "kind", "export date", "outcome", "records", "added", "updated", "disabled", "restored", "accounts created")
	for _, e := range entries {
		date := e.ExportDate
		if date == "" {
			date = "-"
		}
		fmt.Fprintf(w, row, e.StartedAt.Format("2006-01-02 15:04:05"), e.Kind, date, e.Outcome, strconv.Itoa(e.Records),
			strconv.Itoa(e.Totals.Added), strconv.Itoa(e.Totals.Updated), strconv.Itoa(e.Totals.Disabled),
			strconv.Itoa(e.Totals.Restored), strconv.Itoa(e.AccountsCreated))
		if e.Scope != "" {
			fmt.Fprintf(w, "    scope: %s\n", e.Scope)
		}
		if e.Reason != "" {
			fmt.Fprintf(w, "    reason: %s\n", e.Reason)
		}
	}
}

// importMemoryLimit gives a one-shot import a soft memory limit of 200 MiB
// unless GOMEMLIMIT says otherwise. Its live heap is about half that (the
// check's id sets, the stored checksums); left to the default pacing the
// collector lets garbage grow to as much again before it runs, and the
// process's peak crosses 256 MB on a 300,000-account delivery. The limit
// is soft: past it the collector works harder, it never fails an
// allocation. serve is left alone, its LDAP read model is larger by design.
func importMemoryLimit(env string) {
	if env != "" {
		return // the runtime has read it already
	}
	debug.SetMemoryLimit(200 << 20)
}
