package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/enthub/enthub/config"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/idp"
	"github.com/enthub/enthub/idp/sso"
	"github.com/spf13/cobra"
)

// servicesCommand manages the relying parties registered in the store,
// beside those of sso.services_file: every instance picks changes up within
// sso.services_reload, without restart.
func (a *app) servicesCommand() *cobra.Command {
	c := &cobra.Command{Use: "services", Short: "Manage the relying parties registered in the store", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() }}
	c.AddCommand(&cobra.Command{
		Use:   "import FILE",
		Short: "Register or replace the services of a YAML list (the sso.services_file format), all or none",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd.Context(), func(cfg config.Config, _ *slog.Logger, s *sqlstore.Store) error {
				return a.importServices(cmd.Context(), cfg, s, args[0])
			})
		},
	})
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the services of sso.services_file and of the store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd.Context(), func(cfg config.Config, _ *slog.Logger, s *sqlstore.Store) error {
				rows, err := serviceRows(cmd.Context(), cfg, s)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(a.stdout, rows)
				}
				for _, r := range rows {
					fmt.Fprintf(a.stdout, "%-20s %-5s %-6s %-8s %s", r.ID, r.Protocol, r.Source, r.Status, r.Name)
					if r.Problem != "" {
						fmt.Fprintf(a.stdout, " (%s)", r.Problem)
					}
					fmt.Fprintln(a.stdout)
				}
				return nil
			})
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.AddCommand(list, &cobra.Command{
		Use:   "remove ID",
		Short: "Remove a service from the store",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd.Context(), func(cfg config.Config, _ *slog.Logger, s *sqlstore.Store) error {
				err := s.DeleteService(cmd.Context(), args[0])
				if errors.Is(err, sso.ErrNotFound) {
					fmt.Fprintf(a.stderr, "enthub: no service %q in the store\n", args[0])
					if file, _ := loadServices(cfg.SSO.ServicesFile); hasID(file, args[0]) {
						fmt.Fprintf(a.stderr, "enthub: %q is in sso.services_file (%s): remove it there\n", args[0], cfg.SSO.ServicesFile)
					}
					return errRefused
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "service %s removed; instances drop it within %s\n", args[0], cfg.SSO.ServicesReload)
				return nil
			})
		},
	})
	return c
}

// importServices stores the services of a file after the checks a start
// makes: the file is read strictly (unknown keys refused, with their line),
// the services validated with idp.ValidateServices together with the
// stored ones they would sit beside, so that nothing is stored that an
// instance would skip. Any problem stores nothing.
func (a *app) importServices(ctx context.Context, cfg config.Config, s *sqlstore.Store, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	services, raw, err := idp.ReadServices(path, b)
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	if len(services) == 0 {
		return &exitError{code: exitFailed, err: fmt.Errorf("%s: no services", path)}
	}
	file, err := loadServices(cfg.SSO.ServicesFile)
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	stored, err := s.ServiceDefs(ctx)
	if err != nil {
		return err
	}
	// What the new services will sit beside: the file's (unless shadowed,
	// see below) and the stored ones this import does not replace.
	var beside []idp.Service
	for _, f := range file {
		if !hasID(services, f.ID) {
			beside = append(beside, f)
		}
	}
	for _, d := range stored {
		if hasID(services, d.ID) {
			continue
		}
		if sv, err := idp.ParseService(d.Definition); err == nil && !hasID(file, sv.ID) {
			beside = append(beside, sv)
		}
	}
	if err := idp.ValidateServices(append(beside, services...)); err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("%s: beside the registered services: %w", path, err)}
	}
	now := time.Now().UTC()
	defs := make([]sso.ServiceDef, len(services))
	for i, sv := range services {
		defs[i] = sso.ServiceDef{ID: sv.ID, Definition: raw[i], UpdatedAt: now}
		if hasID(file, sv.ID) {
			fmt.Fprintf(a.stderr, "enthub: warning: %q is also in sso.services_file, which wins: the stored one is ignored while it is there\n", sv.ID)
		}
	}
	if err := s.PutServices(ctx, defs...); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "%d services imported; instances pick them up within %s\n", len(defs), cfg.SSO.ServicesReload)
	return nil
}

// serviceRow is the `services list --json` contract.
type serviceRow struct {
	ID        string `json:"id"`
	Name      string `json:"name,omitempty"`
	Protocol  string `json:"protocol,omitempty"`
	Source    string `json:"source"`            // file or store
	Status    string `json:"status"`            // active, shadowed (a file service has its ID), invalid
	Problem   string `json:"problem,omitempty"` // why invalid
	UpdatedAt string `json:"updated_at,omitempty"`
}

func serviceRows(ctx context.Context, cfg config.Config, s *sqlstore.Store) ([]serviceRow, error) {
	file, err := loadServices(cfg.SSO.ServicesFile)
	if err != nil {
		return nil, &exitError{code: exitFailed, err: err}
	}
	stored, err := s.ServiceDefs(ctx)
	if err != nil {
		return nil, err
	}
	rows := []serviceRow{}
	for _, f := range file {
		rows = append(rows, serviceRow{ID: f.ID, Name: f.Name, Protocol: string(f.Protocol), Source: "file", Status: "active"})
	}
	for _, d := range stored {
		r := serviceRow{ID: d.ID, Source: "store", Status: "active", UpdatedAt: d.UpdatedAt.UTC().Format(time.RFC3339)}
		sv, err := idp.ParseService(d.Definition)
		if err == nil {
			err = idp.ValidateServices([]idp.Service{sv})
		}
		r.Name, r.Protocol = sv.Name, string(sv.Protocol)
		switch {
		case err != nil:
			r.Status, r.Problem = "invalid", err.Error()
		case hasID(file, d.ID):
			r.Status = "shadowed"
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func hasID(services []idp.Service, id string) bool {
	for _, s := range services {
		if s.ID == id {
			return true
		}
	}
	return false
}
