package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/enthub/enthub/config"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/idp"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func (a *app) configCommand() *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "Check or print the configuration", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() }}
	c.AddCommand(&cobra.Command{
		Use:   "check [FILE]",
		Short: "Validate a configuration file; exit 1 listing every problem",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := a.configPath
			if len(args) == 1 {
				path = args[0]
			}
			_, err := config.Load(path, a.environ)
			var p config.Problems
			switch {
			case errors.As(err, &p):
				fmt.Fprintf(a.stderr, "%s: %d problem(s):\n", displayName(path), len(p))
				for _, line := range p {
					fmt.Fprintf(a.stderr, "  %s\n", line)
				}
				return errRefused
			case err != nil:
				return err
			}
			fmt.Fprintf(a.stdout, "%s: ok\n", displayName(path))
			return nil
		},
	})
	c.AddCommand(&cobra.Command{
		Use:   "example",
		Short: "Print a complete, commented configuration file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := io.WriteString(a.stdout, config.Example)
			return err
		},
	})
	return c
}

func displayName(path string) string {
	if path == "" {
		return "defaults (no file)"
	}
	return path
}

func (a *app) dbCommand() *cobra.Command {
	c := &cobra.Command{Use: "db", Short: "Database operations", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() }}
	c.AddCommand(&cobra.Command{
		Use:   "migrate",
		Short: "Apply pending schema migrations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd.Context(), func(_ config.Config, _ *slog.Logger, s *sqlstore.Store) error {
				v, err := s.SchemaVersion(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "%s schema is current (step %d)\n", s.Dialect(), v)
				return nil
			})
		},
	})
	return c
}

// keysCommand rotates the SSO signing keys: the new key is published at
// once and signs after the overlap; the old one stays published as long.
func (a *app) keysCommand() *cobra.Command {
	c := &cobra.Command{Use: "keys", Short: "Manage the SSO signing keys", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() }}
	c.AddCommand(&cobra.Command{
		Use:   "rotate",
		Short: "Create a new signing key, published now, used after the overlap",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd.Context(), func(cfg config.Config, _ *slog.Logger, s *sqlstore.Store) error {
				info, err := idp.RotateKeys(cmd.Context(), s, time.Now, idp.KeyOptions{Secret: cfg.SSO.KeySecret, Overlap: cfg.SSO.KeyOverlap})
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "new signing key %s published; it signs from %s\n", info.ID, info.ActiveFrom.UTC().Format(time.RFC3339))
				return nil
			})
		},
	})
	return c
}

// hashPasswordCommand prints an argon2id hash for a service account or a
// guest, so clear passwords never sit in a configuration file.
func (a *app) hashPasswordCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "hash-password",
		Short: "Read a password on stdin and print its argon2id hash",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var pw []byte
			if f, ok := a.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				fmt.Fprint(a.stderr, "Password: ")
				b, err := term.ReadPassword(int(f.Fd()))
				fmt.Fprintln(a.stderr)
				if err != nil {
					return err
				}
				pw = b
			} else {
				b, err := io.ReadAll(io.LimitReader(a.stdin, 4096))
				if err != nil {
					return err
				}
				pw = []byte(strings.TrimRight(string(b), "\r\n"))
			}
			if len(pw) == 0 {
				return usageErr("empty password")
			}
			hash, err := idp.HashPassword(string(pw), rand.Reader, idp.DefaultArgon2)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, hash)
			return nil
		},
	}
}
