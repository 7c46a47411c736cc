package main

import (
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/enthub/enthub/config"
	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/ldap"
	"github.com/enthub/enthub/directory/password"
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
			_, origin, err := config.Read(path, a.environ, a.readOptions())
			var p config.Problems
			switch {
			case errors.As(err, &p):
				fmt.Fprintf(a.stderr, "%s: %d problem(s):\n", displayName(path), len(p))
				for _, x := range p {
					fmt.Fprintf(a.stderr, "  %s\n", x)
				}
				return errRefused
			case err != nil:
				return err
			}
			for _, n := range origin.Notes {
				fmt.Fprintf(a.stderr, "warning: %s\n", n)
			}
			fmt.Fprintf(a.stdout, "%s: ok\n", displayName(path))
			return nil
		},
	})
	c.AddCommand(&cobra.Command{
		Use:   "show",
		Short: "Print the effective configuration (file, environment, defaults), secrets masked",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, origin, err := config.Read(a.configPath, a.environ, a.readOptions())
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			b, err := config.Show(cfg, origin)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "# effective configuration of %s; secrets masked\n", displayName(a.configPath))
			_, err = a.stdout.Write(b)
			return err
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

// readOptions are how every command reads the configuration: the global
// flags over file and environment, and the checks serve's wiring makes, so
// that `config check` and every command refuse what serve would.
func (a *app) readOptions() config.Options {
	return config.Options{
		Override: func(cfg *config.Config) {
			if a.dbURL != "" {
				cfg.DB = a.dbURL
			}
			if a.logLevel != "" {
				cfg.Log.Level = a.logLevel
			}
			if a.logFormat != "" {
				cfg.Log.Format = a.logFormat
			}
		},
		Check: wiringChecks,
	}
}

// configExit is the exit code of a configuration refused: a usage error
// when a flag of the command line holds a bad value, a refusal otherwise.
func (a *app) configExit(err error) int {
	var p config.Problems
	errors.As(err, &p)
	flags := map[string]string{"db": a.dbURL, "log.level": a.logLevel, "log.format": a.logFormat}
	for _, x := range p {
		if flags[x.Key] != "" {
			return exitUsage
		}
	}
	return exitFailed
}

// wiringChecks are the checks of the packages config cannot import, made
// the way serve makes them: the LDAP front's (password hashes, DNs under
// the base, attribute names), the push's, the TLS key pairs, the services
// file and the identity provider's.
func wiringChecks(cfg config.Config) config.Problems {
	var p config.Problems
	if cfg.LDAP.Enabled || cfg.LDAP.Push.URL != "" {
		// The server is built, never served: its store is never read.
		srv, err := ldap.NewServer(ldapConfig(cfg.LDAP), unreadStore{})
		p = append(p, keyed(err, "ldap")...)
		if srv == nil {
			// The push's own checks, whatever the front's problems.
			srv, _ = ldap.NewServer(ldap.Config{BaseDN: "dc=enthub"}, unreadStore{})
		}
		if srv != nil && cfg.LDAP.Push.URL != "" {
			pc := cfg.LDAP.Push
			_, err := ldap.NewPusher(srv, ldap.PushConfig{URL: pc.URL, BindDN: pc.BindDN, Password: pc.Password,
				StartTLS: pc.StartTLS, SeeDisabled: pc.SeeDisabled, Attributes: pc.Attributes})
			p = append(p, keyed(err, "ldap.push")...)
		}
	}
	if cfg.HTTP.TLSCert != "" && cfg.HTTP.TLSKey != "" {
		if _, err := tls.LoadX509KeyPair(cfg.HTTP.TLSCert, cfg.HTTP.TLSKey); err != nil {
			p = append(p, config.Problem{Key: "http.tls_cert", Msg: err.Error()})
		}
	}
	services, err := loadServices(cfg.SSO.ServicesFile)
	var sp config.Problems
	switch {
	case errors.As(err, &sp):
		p = append(p, sp...)
	case err != nil:
		p = append(p, config.Problem{Key: "sso.services_file", Msg: err.Error()})
	}
	if len(cfg.Validate()) == 0 && err == nil {
		if err := idpConfig(cfg, services).Validate(); err != nil {
			p = append(p, config.Problem{Key: "sso", Msg: err.Error()})
		}
	}
	return p
}

// keyed splits the errors of a package's Validate ("ldap.base_dn: …",
// joined) into problems keyed by the configuration key they name.
func keyed(err error, fallback string) config.Problems {
	if err == nil {
		return nil
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var p config.Problems
	for _, e := range errs {
		key, msg, ok := strings.Cut(e.Error(), ": ")
		if !ok || strings.ContainsAny(key, " \"") {
			key, msg = fallback, e.Error()
		}
		p = append(p, config.Problem{Key: key, Msg: msg})
	}
	return p
}

// unreadStore stands for the store of an LDAP server built only for its
// checks; no method is ever called.
type unreadStore struct{ directory.Reader }

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
			hash, err := password.Hash(string(pw), rand.Reader, password.Default)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, hash)
			return nil
		},
	}
}
