package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/enthub/enthub/config"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/idp"
	"github.com/spf13/cobra"
)

// keysListCommand shows the stored SSO keys: what relying parties see
// published, which one signs, and whether the private keys are sealed.
func (a *app) keysListCommand() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List the SSO keys: algorithm, state, dates, sealed or not (never private material)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd.Context(), func(_ config.Config, _ *slog.Logger, s *sqlstore.Store) error {
				keys, err := idp.ListKeys(cmd.Context(), s, time.Now())
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(a.stdout, keys)
				}
				fmt.Fprintf(a.stdout, "%-34s %-11s %-9s %-20s %-20s %-20s %s\n", "ID", "ALGORITHM", "STATE", "CREATED", "ACTIVE FROM", "RETIRED AT", "SEALED")
				for _, k := range keys {
					retire, sealed := "-", "no"
					if k.RetireAt != nil {
						retire = k.RetireAt.UTC().Format(time.RFC3339)
					}
					if k.Sealed {
						sealed = "yes"
					}
					fmt.Fprintf(a.stdout, "%-34s %-11s %-9s %-20s %-20s %-20s %s\n", k.ID, k.Algorithm, k.State,
						k.CreatedAt.UTC().Format(time.RFC3339), k.ActiveFrom.UTC().Format(time.RFC3339), retire, sealed)
				}
				return nil
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// keysSealCommand seals the keys stored in clear once a key secret is set
// (serve and demo also do it at start).
func (a *app) keysSealCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "seal",
		Short: "Encrypt the private keys stored in clear with the key secret (ENTHUB_SSO_KEY_SECRET)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd.Context(), func(cfg config.Config, log *slog.Logger, s *sqlstore.Store) error {
				if cfg.SSO.KeySecret == "" {
					return &exitError{code: exitFailed, err: errors.New("keys seal: no key secret: set ENTHUB_SSO_KEY_SECRET (or sso.key_secret) first")}
				}
				ids, err := idp.SealKeys(cmd.Context(), s, idp.KeyOptions{Secret: cfg.SSO.KeySecret}, log)
				if err != nil {
					return &exitError{code: exitFailed, err: err}
				}
				if len(ids) == 0 {
					fmt.Fprintln(a.stdout, "every stored key is already sealed")
					return nil
				}
				fmt.Fprintf(a.stdout, "sealed %d keys: %s\n", len(ids), strings.Join(ids, ", "))
				return nil
			})
		},
	}
}
