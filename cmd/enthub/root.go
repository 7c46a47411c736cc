package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/pprof"

	"github.com/enthub/enthub/config"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…"; otherwise
// the module version or VCS revision from the build info is used.
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "devel-" + s.Value[:12]
			}
		}
	}
	return "devel"
}

// app holds the streams and the global flags shared by every command.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	environ        []string

	configPath string
	dbURL      string
	logLevel   string
	logFormat  string
	cpuProfile string

	origin *config.Origin // of the loaded configuration: serve logs its notes

	progressShown bool
	stopProfile   func()
	// command is the path of the command running ("enthub dir stats"),
	// which decides how its store is opened (see storePolicy).
	command string
}

func (a *app) getenv(k string) string {
	for _, kv := range a.environ {
		if len(kv) > len(k) && kv[:len(k)] == k && kv[len(k)] == '=' {
			return kv[len(k)+1:]
		}
	}
	return ""
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "enthub",
		Short: "Identity federation and directory-sync hub of a school ENT",
		Long: `enthub imports the rectorat's AAF directory, serves it over LDAP, brokers the
upstream logins (EduConnect, agents portal, Entra ID, guests) and is the SAML2,
OIDC and CAS identity provider of every school application.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErr("unknown command %q", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &exitError{code: exitUsage, err: err}
	})
	pf := root.PersistentFlags()
	pf.StringVar(&a.configPath, "config", a.getenv("ENTHUB_CONFIG"), "configuration file (env ENTHUB_CONFIG)")
	pf.StringVar(&a.dbURL, "db", "", "store: sqlite:PATH or postgres://… (env ENTHUB_DB; default sqlite:./enthub.db)")
	pf.StringVar(&a.logLevel, "log-level", "", "debug, info, warn or error")
	pf.StringVar(&a.logFormat, "log-format", "", "text or json")
	// Hidden: for whoever chases a slow import or login on real data, where a
	// Go benchmark cannot reproduce the shape of the input.
	pf.StringVar(&a.cpuProfile, "cpu-profile", "", "write a Go CPU profile of the command to this file")
	pf.MarkHidden("cpu-profile")
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		a.command = cmd.CommandPath()
		if a.cpuProfile == "" {
			return nil
		}
		f, err := os.Create(a.cpuProfile)
		if err != nil {
			return usageErr("--cpu-profile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return usageErr("--cpu-profile: %w", err)
		}
		a.stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
		return nil
	}
	keys := a.keysCommand()
	keys.AddCommand(a.keysListCommand(), a.keysSealCommand())
	root.AddCommand(
		a.versionCommand(),
		a.serveCommand(),
		a.demoCommand(),
		a.configCommand(),
		a.dbCommand(),
		a.dirCommand(),
		a.aafCommand(),
		keys,
		a.auditCommand(),
		a.statsCommand(),
		a.servicesCommand(),
		a.garCommand(),
		a.hashPasswordCommand(),
		a.guestCommand(),
		a.spaceCommand(),
	)
	for _, c := range root.Commands() {
		wrapArgs(c)
	}
	return root
}

// wrapArgs turns cobra's argument-count errors into usage errors (exit 2),
// recursively.
func wrapArgs(c *cobra.Command) {
	if c.Args != nil {
		inner := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := inner(cmd, args); err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("%s: %w", cmd.CommandPath(), err)}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
}

// loadConfig reads the configuration: defaults, then the file, then the
// ENTHUB_… environment, then the global flags.
func (a *app) loadConfig() (config.Config, error) {
	cfg, origin, err := config.Read(a.configPath, a.environ, a.readOptions())
	if err != nil {
		return cfg, &exitError{code: a.configExit(err), err: err}
	}
	a.origin = origin
	return cfg, nil
}

// logger builds the process logger from the configuration.
func (a *app) logger(cfg config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	hopts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(a.stderr, hopts))
	}
	return slog.New(slog.NewTextHandler(a.stderr, hopts))
}

// withStore runs fn with the loaded configuration, its logger and the
// opened (migrated) store, closed afterwards: the frame of every command
// that works on the directory.
func (a *app) withStore(ctx context.Context, fn func(cfg config.Config, log *slog.Logger, store *sqlstore.Store) error) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	log := a.logger(cfg)
	store, err := a.openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer store.Close()
	return fn(cfg, log, store)
}

// storePolicy says whether a command may create and migrate its store,
// and whether it waits for a database that is not up yet. Only the
// commands that set a site up create: any other one meeting a missing
// SQLite file or an empty database is reading the wrong --db, and says so
// rather than answering from a new empty directory. The long-running
// ones wait, so that the boot order of a machine does not matter; the
// others fail at once, their user is watching.
func storePolicy(command string) (create, wait bool) {
	switch command {
	case "enthub serve", "enthub demo":
		return true, true
	case "enthub db migrate", "enthub aaf import", "enthub dir import":
		return true, false
	}
	return false, false
}

// openStore opens the configured store as storePolicy says for the
// running command: migrated, or refused unless it exists and is current.
func (a *app) openStore(ctx context.Context, cfg config.Config, log *slog.Logger) (*sqlstore.Store, error) {
	create, wait := storePolicy(a.command)
	opts := sqlstore.Options{Logger: log, Existing: !create}
	if wait {
		opts.ConnectTimeout = cfg.DBConnectTimeout
	}
	s, err := sqlstore.Open(ctx, cfg.DB, opts)
	if err != nil {
		return nil, &exitError{code: exitFailed, err: err}
	}
	return s, nil
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(a.stdout, "enthub %s\n", buildVersion())
			return nil
		},
	}
}
