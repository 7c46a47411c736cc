package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"time"

	"github.com/enthub/enthub/config"
	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/gar"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/robfig/cron/v3"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
)

func (a *app) garCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "gar",
		Short: "The GAR (digital resources): daily GAR-ENT export, delivery and its journal",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c.AddCommand(a.garExportCommand(), a.garJournalCommand())
	return c
}

// garProject is the GAR section of the configuration as the gar package
// takes it; an unconfigured GAR is an error naming the key.
func garProject(cfg config.Config) (gar.Project, error) {
	g := cfg.GAR
	if g.IDEnt == "" {
		return gar.Project{}, &exitError{code: exitFailed, err: errors.New("gar.id_ent is not set: the GAR is not configured (see enthub config example)")}
	}
	secret, err := base64.StdEncoding.DecodeString(g.IDSecret)
	if err != nil {
		return gar.Project{}, &exitError{code: exitFailed, err: fmt.Errorf("gar.id_secret: not base64: %w", err)}
	}
	p := gar.Project{IDEnt: g.IDEnt, Schools: g.Schools, Secret: secret}
	for _, pr := range g.RespAffProfiles {
		p.RespAffProfiles = append(p.RespAffProfiles, directory.Profile(pr))
	}
	if err := p.Validate(); err != nil {
		return p, &exitError{code: exitFailed, err: err}
	}
	return p, nil
}

// garSFTP is the configured delivery, nil when gar.sftp.address is empty.
func garSFTP(cfg config.Config, log *slog.Logger) (*gar.SFTP, error) {
	s := cfg.GAR.SFTP
	if s.Address == "" {
		return nil, nil
	}
	d, err := gar.NewSFTP(s.Address, s.User, s.KeyFile, s.KnownHosts, s.Dir)
	if err != nil {
		return nil, &exitError{code: exitFailed, err: err}
	}
	d.Attempts, d.Backoff, d.Timeout, d.Logger = s.Attempts, s.Backoff, s.Timeout, log
	return d, nil
}

func (a *app) garExportCommand() *cobra.Command {
	var out string
	var uais []string
	var deliver, asJSON bool
	c := &cobra.Command{
		Use:   "export --out DIR [--uai UAI]... [--deliver] [--json]",
		Short: "Export the subscribing schools for the GAR: XML files, .tar.gz and .md5; --deliver sends them by SFTP",
		Long: `Writes DIR/<idENT>_GAR-ENT_Complet_<yyyyMMdd_HHmmss>/ (the GAR-ENT XML files, at most
10,000 elements each), DIR/<…>.tar.gz and DIR/<…>.tar.gz.md5, and journals the run
(enthub gar journal). --deliver sends the archive and its .md5 to gar.sftp.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usageErr("--out DIR is required")
			}
			return a.withStore(cmd.Context(), func(cfg config.Config, log *slog.Logger, store *sqlstore.Store) error {
				opts, err := garRunOptions(cfg, log, store, out, deliver)
				if err != nil {
					return err
				}
				opts.Export.UAIs = uais
				res, err := gar.Run(cmd.Context(), store, opts)
				if asJSON {
					if jerr := writeJSON(a.stdout, garJournalJSON(res.Delivery)); jerr != nil {
						return jerr
					}
				} else {
					printGARRun(a.stdout, res)
				}
				if err != nil {
					return &exitError{code: exitFailed, err: err}
				}
				return nil
			})
		},
	}
	c.Flags().StringVar(&out, "out", "", "folder the export, its archive and checksum are written to")
	c.Flags().StringSliceVar(&uais, "uai", nil, "export only these subscribing schools (repeat or comma-separate)")
	c.Flags().BoolVar(&deliver, "deliver", false, "deliver the archive and its .md5 by SFTP (gar.sftp)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the journal entry as JSON")
	return c
}

// garRunOptions wires a run from the configuration; deliver requires
// gar.sftp.
func garRunOptions(cfg config.Config, log *slog.Logger, store *sqlstore.Store, out string, deliver bool) (gar.RunOptions, error) {
	p, err := garProject(cfg)
	if err != nil {
		return gar.RunOptions{}, err
	}
	opts := gar.RunOptions{Export: gar.ExportOptions{Project: p, Out: out, Now: time.Now(), Logger: log}, Journal: store}
	if deliver {
		d, err := garSFTP(cfg, log)
		if err != nil {
			return opts, err
		}
		if d == nil {
			return opts, usageErr("--deliver: gar.sftp.address is not set")
		}
		opts.Deliver = d
	}
	return opts, nil
}

func printGARRun(w io.Writer, res *gar.RunResult) {
	d := res.Delivery
	if res.Export != nil {
		c := res.Export.Counts
		fmt.Fprintf(w, "exported %d schools: %d students, %d staff, %d classes and groups, %d memberships, %d responsables d'affectation; %d elements in %d files\n",
			c.Schools, c.Students, c.Staff, c.Groups, c.Memberships, c.RespAff, c.Elements, len(res.Export.Files))
		if c.RespAffNoMal > 0 {
			fmt.Fprintf(w, "left out: %d responsables d'affectation without e-mail (the GAR requires one)\n", c.RespAffNoMal)
		}
		if len(res.Export.Files) > 0 {
			fmt.Fprintf(w, "files: %s\n", filepath.Dir(res.Export.Files[0]))
		}
	}
	if res.Archive != "" {
		fmt.Fprintf(w, "archive: %s (md5 %s)\n", res.Archive, res.MD5)
	}
	switch d.Outcome {
	case gar.OutcomeDelivered:
		fmt.Fprintf(w, "delivered to %s (%d attempt(s))\n", d.Target, d.Attempts)
	case gar.OutcomePacked:
		fmt.Fprintln(w, "not delivered (no --deliver)")
	default:
		fmt.Fprintf(w, "%s: %s\n", d.Outcome, d.Reason)
	}
}

// garJournalEntry is a journal entry as `enthub gar journal --json` prints it.
type garJournalEntry struct {
	ID         string          `json:"id"`
	StartedAt  time.Time       `json:"started_at"`
	FinishedAt time.Time       `json:"finished_at"`
	Outcome    string          `json:"outcome"`
	Reason     string          `json:"reason,omitempty"`
	Archive    string          `json:"archive,omitempty"`
	MD5        string          `json:"md5,omitempty"`
	Files      int             `json:"files"`
	Elements   int             `json:"elements"`
	Target     string          `json:"target,omitempty"`
	Attempts   int             `json:"attempts"`
	Counts     json.RawMessage `json:"counts,omitempty"`
}

func garJournalJSON(d directory.GARDelivery) garJournalEntry {
	e := garJournalEntry{ID: d.ID, StartedAt: d.StartedAt, FinishedAt: d.FinishedAt, Outcome: d.Outcome, Reason: d.Reason,
		Archive: d.Archive, MD5: d.MD5, Files: d.Files, Elements: d.Elements, Target: d.Target, Attempts: d.Attempts}
	if len(d.Counts) > 0 {
		e.Counts = d.Counts
	}
	return e
}

func (a *app) garJournalCommand() *cobra.Command {
	var asJSON bool
	var limit int
	c := &cobra.Command{
		Use:   "journal [--json] [--limit N]",
		Short: "List the GAR exports and deliveries, newest first, with their outcome and reason",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit <= 0 {
				return usageErr("--limit %d: want a positive number", limit)
			}
			return a.withStore(cmd.Context(), func(cfg config.Config, log *slog.Logger, store *sqlstore.Store) error {
				ds, err := store.GARDeliveries(cmd.Context(), limit)
				if err != nil {
					return &exitError{code: exitFailed, err: err}
				}
				if asJSON {
					out := make([]garJournalEntry, 0, len(ds))
					for _, d := range ds {
						out = append(out, garJournalJSON(d))
					}
					return writeJSON(a.stdout, out)
				}
				printGARJournal(a.stdout, ds)
				return nil
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the entries as JSON")
	c.Flags().IntVar(&limit, "limit", 50, "how many entries to list")
	return c
}

func printGARJournal(w io.Writer, ds []directory.GARDelivery) {
	if len(ds) == 0 {
		fmt.Fprintln(w, "no GAR export journalled yet")
		return
	}
	const row = "%-19s  %-9s  %5s  %8s  %8s  %s\n"
	fmt.Fprintf(w, row, "started (UTC)", "outcome", "files", "elements", "attempts", "archive")
	for _, d := range ds {
		fmt.Fprintf(w, row, d.StartedAt.Format("2006-01-02 15:04:05"), d.Outcome, strconv.Itoa(d.Files),
			strconv.Itoa(d.Elements), strconv.Itoa(d.Attempts), d.Archive)
		if d.Target != "" {
			fmt.Fprintf(w, "    to: %s\n", d.Target)
		}
		if d.Reason != "" {
			fmt.Fprintf(w, "    reason: %s\n", d.Reason)
		}
	}
}

// startGARSchedule runs the export and delivery on gar.schedule. Of several
// instances whose schedule fires together, the one holding the store's GAR
// lock runs it; the others log and skip.
func startGARSchedule(ctx context.Context, g *errgroup.Group, cfg config.Config, log *slog.Logger, store *sqlstore.Store) error {
	if cfg.GAR.IDEnt == "" || cfg.GAR.Schedule == "" {
		return nil
	}
	log = log.With("component", "gar")
	opts, err := garRunOptions(cfg, log, store, cfg.GAR.WorkDir, cfg.GAR.SFTP.Address != "")
	if err != nil {
		return err
	}
	c := cron.New()
	_, err = c.AddFunc(cfg.GAR.Schedule, func() {
		release, ok, err := store.TryGARLock(ctx)
		if err != nil || !ok {
			log.Info("GAR export skipped: another instance runs it", "err", err)
			return
		}
		defer release()
		o := opts
		o.Export.Now = time.Now()
		res, err := gar.Run(ctx, store, o)
		if err != nil {
			log.Error("GAR export", "outcome", res.Delivery.Outcome, "err", err)
			return
		}
		log.Info("GAR export", "outcome", res.Delivery.Outcome, "archive", res.Archive, "elements", res.Delivery.Elements,
			"target", res.Delivery.Target, "attempts", res.Delivery.Attempts)
	})
	if err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("gar.schedule: %w", err)}
	}
	c.Start()
	g.Go(func() error {
		<-ctx.Done()
		<-c.Stop().Done()
		return nil
	})
	log.Info("GAR export scheduled", "schedule", cfg.GAR.Schedule, "schools", len(cfg.GAR.Schools), "deliver", cfg.GAR.SFTP.Address != "")
	return nil
}
