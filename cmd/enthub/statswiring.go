package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/enthub/enthub/config"
	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/directory/usage"
	"github.com/enthub/enthub/idp"
	"github.com/enthub/enthub/portal/console"
	"github.com/enthub/enthub/portal/stats"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
)

// startStats mounts the console's statistics pages and starts, on this
// instance, the folding of audit events into the statistics and the
// health record of every minute (the availability figures).
func startStats(ctx context.Context, g *errgroup.Group, cfg config.Config, log *slog.Logger, store *sqlstore.Store, st *stack, sso *idp.Provider, listen string) error {
	loc, err := statsLocation(cfg)
	if err != nil {
		return err
	}
	log = log.With("component", "stats")
	frame, err := st.console.Frame()
	if err != nil {
		return err
	}
	h, err := stats.New(stats.Options{
		Layout: consoleFrame{pages: frame},
		Store:  store,
		Viewer: func(r *http.Request) (stats.Viewer, bool) {
			s := sso.CurrentSession(r)
			if s == nil {
				return stats.Viewer{}, false
			}
			v := stats.Viewer{AccountID: s.AccountID, PersonID: s.PersonID}
			if acc, err := store.Account(r.Context(), s.AccountID); err == nil {
				v.Login = acc.Login
			}
			return v, true
		},
		Admins:       adminRule(cfg),
		Audit:        storeAuditor{store: store, log: log}.Event,
		ServiceNames: func() map[string]string { return serviceNames(sso.Services()) },
		Location:     loc, Logger: log,
	})
	if err != nil {
		return err
	}
	h.Routes(st.srv.Mux)
	host, _ := os.Hostname()
	instance := host + "/" + listen
	g.Go(func() error {
		return statsEvery(ctx, cfg.Stats.FoldEvery, func() {
			if n, err := store.FoldEvents(ctx, time.Now(), sqlstore.FoldOptions{Location: loc}); err != nil {
				log.Error("statistics not updated", "err", err)
			} else if n > 0 {
				log.Debug("statistics updated", "events", n)
			}
		})
	})
	g.Go(func() error {
		return statsEvery(ctx, cfg.Stats.HealthEvery, func() {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			perr := store.Ping(pctx)
			detail := ""
			if perr != nil {
				detail = statsTruncate(perr.Error(), 200)
			}
			if err := store.RecordHealth(pctx, instance, time.Now(), true, perr == nil, detail, loc); err != nil {
				log.Warn("health not recorded", "err", err) // the store is the likely culprit: the gap is the record
			}
		})
	})
	return nil
}

// statsLocation is the zone of the statistics' days and hours.
func statsLocation(cfg config.Config) (*time.Location, error) {
	loc, err := time.LoadLocation(cfg.TimeZone)
	if err != nil {
		return nil, &exitError{code: exitFailed, err: fmt.Errorf("time_zone: %w", err)}
	}
	return loc, nil
}

// statsEvery runs fn now and then every period until ctx ends.
func statsEvery(ctx context.Context, period time.Duration, fn func()) error {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		fn()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func statsTruncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func serviceNames(list []idp.Service) map[string]string {
	out := make(map[string]string, len(list))
	for _, s := range list {
		if s.Name != "" {
			out[s.ID] = s.Name
		}
	}
	return out
}

// statsCommand prints the usage statistics from the store's rollups.
func (a *app) statsCommand() *cobra.Command {
	var since, until, uai, by string
	var asCSV, asJSON bool
	c := &cobra.Command{
		Use:   "stats",
		Short: "Usage statistics: logins, distinct users, by day, hour, profile, school, upstream or service",
		Long: `stats prints the logins (and distinct users where counted) of the period, broken down
by --by: day, hour, profile, school, upstream or service (visits). --since and --until take
a date (2025-09-01) or a duration back from now (7d, 24h); the default is the last 30 days.
The figures are the statistics the running instances keep up to date from the audit trail
(every stats.fold_every); 'enthub stats fold' brings them up to date now.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if asCSV && asJSON {
				return usageErr("--csv and --json: choose one")
			}
			if !slices.Contains(usage.Breakdowns, by) {
				return usageErr("--by %q: want one of %s", by, strings.Join(usage.Breakdowns, ", "))
			}
			return a.withStore(cmd.Context(), func(cfg config.Config, _ *slog.Logger, s *sqlstore.Store) error {
				ctx := cmd.Context()
				loc, err := statsLocation(cfg)
				if err != nil {
					return err
				}
				now := time.Now().In(loc)
				f := usage.Filter{From: now.AddDate(0, 0, -29).Format(usage.DayLayout), To: now.Format(usage.DayLayout)}
				for _, v := range []struct {
					flag, val string
					out       *string
				}{{"--since", since, &f.From}, {"--until", until, &f.To}} {
					if v.val == "" {
						continue
					}
					t, err := parseSince(v.val, now)
					if err != nil {
						return usageErr("%s: %w", v.flag, err)
					}
					*v.out = t.In(loc).Format(usage.DayLayout)
				}
				if err := f.Validate(); err != nil {
					return usageErr("--since/--until: %w", err)
				}
				names := map[string]string{}
				list, err := s.ListStructures(ctx)
				if err != nil {
					return err
				}
				for _, st := range list {
					names[st.ID] = st.Name + " (" + st.UAI + ")"
				}
				if uai != "" {
					st, err := s.StructureByUAI(ctx, uai)
					if err != nil {
						return &exitError{code: exitFailed, err: fmt.Errorf("--uai %s: %w", uai, err)}
					}
					f.Structure = st.ID
				}
				rep, err := usage.Build(ctx, s, f, usage.Options{Location: loc, Now: time.Now(), Names: names})
				if err != nil {
					return err
				}
				rows, _ := rep.By(by)
				switch {
				case asJSON:
					return writeJSON(a.stdout, struct {
						*usage.Report
						By   string      `json:"by"`
						Rows []usage.Row `json:"rows"`
					}{rep, by, rows})
				case asCSV:
					return stats.WriteCSV(a.stdout, "fr", by, rows)
				}
				fmt.Fprintf(a.stdout, "%s → %s", f.From, f.To)
				if uai != "" {
					fmt.Fprintf(a.stdout, ", %s", names[f.Structure])
				}
				fmt.Fprintf(a.stdout, "\nconnexions %d · utilisateurs distincts %d · accès aux services %d · connexions refusées %d\n\n",
					rep.Logins, rep.Users, rep.Visits, rep.Failed)
				for _, r := range rows {
					label := r.Key
					if r.Label != "" && r.Label != r.Key {
						label += " " + r.Label
					}
					if label == "" {
						label = "(non précisé)"
					}
					if r.HasUsers {
						fmt.Fprintf(a.stdout, "%-40s %10d %10d\n", label, r.Logins, r.Users)
					} else {
						fmt.Fprintf(a.stdout, "%-40s %10d\n", label, r.Logins)
					}
				}
				return nil
			})
		},
	}
	c.Flags().StringVar(&since, "since", "", "first day: a date (2025-09-01) or a duration back from now (30d)")
	c.Flags().StringVar(&until, "until", "", "last day: a date or a duration back from now (default today)")
	c.Flags().StringVar(&uai, "uai", "", "only this school (UAI)")
	c.Flags().StringVar(&by, "by", "day", "breakdown: day, hour, profile, school, upstream or service")
	c.Flags().BoolVar(&asCSV, "csv", false, "print CSV")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON (the whole report)")
	c.AddCommand(a.statsFoldCommand(), a.statsGenerateCommand())
	return c
}

// statsFoldCommand folds the audit events now (or, with --rebuild,
// again from the first one).
func (a *app) statsFoldCommand() *cobra.Command {
	var rebuild bool
	c := &cobra.Command{
		Use:   "fold",
		Short: "Add the audit events not yet counted to the statistics (--rebuild: count them all again)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd.Context(), func(cfg config.Config, _ *slog.Logger, s *sqlstore.Store) error {
				loc, err := statsLocation(cfg)
				if err != nil {
					return err
				}
				fold := s.FoldEvents
				if rebuild {
					fold = s.RebuildUsage
				}
				n, err := fold(cmd.Context(), time.Now(), sqlstore.FoldOptions{Location: loc})
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "%d events counted\n", n)
				return nil
			})
		},
	}
	c.Flags().BoolVar(&rebuild, "rebuild", false, "forget the counts and count every event again")
	return c
}

// statsGenerateCommand fills the statistics with a generated year (for
// benchmarks and demonstrations; never on a production store).
func (a *app) statsGenerateCommand() *cobra.Command {
	g := usage.Generator{}
	var start string
	var rawDays int
	c := &cobra.Command{
		Use:    "generate",
		Short:  "Fill the statistics with generated activity (benchmarks, demonstrations)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd.Context(), func(cfg config.Config, log *slog.Logger, s *sqlstore.Store) error {
				ctx := cmd.Context()
				loc, err := statsLocation(cfg)
				if err != nil {
					return err
				}
				g.Location = loc
				if start != "" {
					if g.Start, err = time.ParseInLocation(usage.DayLayout, start, loc); err != nil {
						return usageErr("--start %q: want a date such as 2025-09-01", start)
					}
				}
				began := time.Now()
				total, err := g.Fill(func(b *usage.Batch) error { return s.ApplyUsage(ctx, b) }, rawDays, func(es []directory.Event) error {
					return s.Update(ctx, func(tx directory.Tx) error { return tx.AppendEvents(ctx, es...) })
				})
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "%d logins over %d days generated in %s\n", total, g.DayCount(), time.Since(began).Round(time.Second))
				return nil
			})
		},
	}
	c.Flags().IntVar(&g.Accounts, "accounts", 300_000, "accounts")
	c.Flags().IntVar(&g.Schools, "schools", 150, "schools")
	c.Flags().IntVar(&g.Logins, "logins", 20_000_000, "logins over the whole period")
	c.Flags().IntVar(&g.Days, "days", 365, "days")
	c.Flags().StringVar(&start, "start", "", "first day (default 2025-09-01)")
	c.Flags().Uint64Var(&g.Seed, "seed", 1, "seed")
	c.Flags().IntVar(&rawDays, "raw-days", 0, "write the last N days as raw audit events (then run enthub stats fold)")
	return c
}

// adminRule is who the collectivité's administrators are, the same for
// every console (portal.admins, portal.admin_groups).
func adminRule(cfg config.Config) console.AdminRule {
	return console.AdminRule{Logins: cfg.Portal.Admins, Groups: cfg.Portal.AdminGroups}
}

// consoleFrame puts the statistics pages in the consoles' shared layout:
// the same header, navigation, stylesheets and security headers as the
// principal's console and "my data". The viewer's login comes with the
// page (the Viewer read the account once).
type consoleFrame struct {
	pages *console.Pages
}

func (f consoleFrame) Render(w http.ResponseWriter, r *http.Request, p stats.Page) error {
	pg := console.Page{Status: p.Status, Title: p.Title, Data: p.Body, User: p.User}
	f.pages.Render(w, r, "frame.html", pg)
	return nil
}
