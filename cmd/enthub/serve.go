package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"time"

	"github.com/enthub/enthub/aaf"
	"github.com/enthub/enthub/config"
	"github.com/enthub/enthub/directory/ldap"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/idp"
	"github.com/enthub/enthub/idp/demorp"
	"github.com/enthub/enthub/portal/console"
	"github.com/enthub/enthub/portal/server"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
)

// startScheduler runs the AAF inbox watcher and the purge of accounts
// disabled for longer than the grace period.
func (a *app) startScheduler(ctx context.Context, g *errgroup.Group, cfg config.Config, log *slog.Logger, store *sqlstore.Store, srv *server.Server) error {
	imports := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "enthub_aaf_imports_total", Help: "AAF deliveries handled, by outcome (applied, refused, failed, noop).",
	}, []string{"outcome"})
	purged := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "enthub_aaf_purged_total", Help: "AAF persons deleted after the grace period.",
	})
	srv.Registry.MustRegister(imports, purged)
	if cfg.AAF.Inbox != "" {
		if err := os.MkdirAll(cfg.AAF.Inbox, 0o750); err != nil {
			return &exitError{code: exitFailed, err: fmt.Errorf("aaf.inbox: %w", err)}
		}
		in := &aaf.Inbox{Dir: cfg.AAF.Inbox, Settle: cfg.AAF.SettleTime, Store: store, Options: importOptions(cfg),
			Logger: log.With("component", "aaf-inbox"),
			Lock: func(ctx context.Context) (func(), bool, error) {
				return store.TryLock(ctx, sqlstore.AdvisoryInbox)
			},
			OnResult: func(path string, rep *aaf.ImportReport, err error) {
				outcome := aaf.OutcomeFailed
				if rep != nil && rep.Outcome != "" {
					outcome = rep.Outcome
				}
				imports.WithLabelValues(outcome).Inc()
			}}
		g.Go(func() error { return in.Run(ctx) })
		log.Info("watching the AAF inbox", "dir", cfg.AAF.Inbox, "settle", cfg.AAF.SettleTime)
	}
	c := cron.New()
	_, err := c.AddFunc(cfg.AAF.PurgeSchedule, func() {
		cutoff := time.Now().Add(-cfg.AAF.GracePeriod)
		n, err := store.PurgeDisabled(ctx, cutoff)
		if err != nil {
			log.Error("purge failed", "err", err)
			return
		}
		purged.Add(float64(n))
		log.Info("purged disabled AAF accounts", "count", n, "disabled_before", cutoff.UTC().Format(time.RFC3339))
	})
	if err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("aaf.purge_schedule: %w", err)}
	}
	c.Start()
	g.Go(func() error {
		<-ctx.Done()
		<-c.Stop().Done()
		return nil
	})
	return startGARSchedule(ctx, g, cfg, log, store)
}

func (a *app) serveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run every service: HTTP (portal, SAML, OIDC, CAS), LDAP, scheduler",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd.Context(), func(cfg config.Config, log *slog.Logger, store *sqlstore.Store) error {
				for _, n := range a.origin.Notes {
					log.Warn(n)
				}
				if limit := serveMemoryLimit(a.getenv("GOMEMLIMIT"), cfg.MemoryLimitMiB); limit > 0 {
					log.Info("soft memory limit", "mib", limit>>20)
				}
				return a.runServices(cmd.Context(), cfg, log, store, nil)
			})
		},
	}
}

// serveMemoryLimit applies memory_limit_mib (config.Config.MemoryLimitMiB)
// as the runtime's soft memory limit unless GOMEMLIMIT (env) is set, which
// the runtime has read already; it returns the limit it set, 0 if none.
func serveMemoryLimit(env string, mib int) int64 {
	if env != "" || mib <= 0 {
		return 0
	}
	limit := int64(mib) << 20
	debug.SetMemoryLimit(limit)
	return limit
}

// stack is what runServices starts; the demo adds its own entries.
type stack struct {
	srv *server.Server
	// console is the consoles' shared page layout (mountConsole).
	console *console.Layout
	index   []server.Entry
	onReady func(httpAddr string)
	// demo registers the demo relying parties and seeds the demo guest.
	demo bool
	// publicURL, when set, gives the public URL from the listener's
	// address (the demo may listen on port 0).
	publicURL func(listenAddr string) string
	// upstreams, when set, gives connectors added to the configured ones
	// once the public URL is known (the demo's simulated upstreams).
	upstreams func(ctx context.Context, publicURL string) ([]config.Connector, error)
	// upstreamClient, when set, is the connectors' HTTP client (the demo
	// reaches its simulations by their listener, whatever name browsers
	// use for them).
	upstreamClient *http.Client
	metrics        *opsMetrics
}

// runServices starts the HTTP server with the SSO fronts, LDAP and the
// scheduler, and blocks until ctx is cancelled and everything drained.
func (a *app) runServices(ctx context.Context, cfg config.Config, log *slog.Logger, store *sqlstore.Store, st *stack) error {
	if st == nil {
		st = &stack{}
	}
	if st.srv == nil {
		var proxies []netip.Prefix
		for _, c := range cfg.HTTP.TrustedProxies {
			proxies = append(proxies, netip.MustParsePrefix(c)) // validated by config
		}
		st.srv = server.New(server.Options{
			Logger: log, Store: store, Version: buildVersion(), TrustedProxies: proxies,
			ShutdownTimeout: cfg.HTTP.ShutdownTimeout, ReadTimeout: cfg.HTTP.ReadTimeout, WriteTimeout: cfg.HTTP.WriteTimeout,
			SeparateMetrics: cfg.HTTP.MetricsListen != "", Pprof: cfg.HTTP.Pprof,
		})
	}
	st.metrics = newOpsMetrics(st.srv.Registry, cfg, store, log)
	l, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("http.listen %s: %w", cfg.HTTP.Listen, err)}
	}
	if cfg.HTTP.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.HTTP.TLSCert, cfg.HTTP.TLSKey)
		if err != nil {
			l.Close()
			return &exitError{code: exitFailed, err: fmt.Errorf("http.tls_cert: %w", err)}
		}
		l = tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	if st.publicURL != nil {
		cfg.PublicURL = st.publicURL(l.Addr().String())
	}
	if st.upstreams != nil {
		more, err := st.upstreams(ctx, cfg.PublicURL)
		if err != nil {
			l.Close()
			return &exitError{code: exitFailed, err: fmt.Errorf("simulated upstreams: %w", err)}
		}
		cfg.Federation.Connectors = append(cfg.Federation.Connectors, more...)
		for _, c := range more {
			st.metrics.upstreams[c.ID] = true
		}
	}
	var demo *demorp.Demo
	var extra []idp.Service
	if st.demo {
		if demo, err = demorp.New(cfg.PublicURL, nil); err != nil {
			l.Close()
			return err
		}
		extra = demo.Services()
	}
	sso, err := startSSO(ctx, cfg, log, store, st, extra)
	if err != nil {
		l.Close()
		return err
	}
	defer sso.Close()
	if demo != nil {
		demo.Routes(st.srv.Mux)
		if err := demorp.SeedGuest(ctx, store, time.Now()); err != nil {
			l.Close()
			return fmt.Errorf("demo guest: %w", err)
		}
	}
	log.Info("enthub started", "version", buildVersion(), "http", l.Addr().String(), "store", store.Dialect(), "public_url", cfg.PublicURL)
	if st.onReady != nil {
		st.onReady(l.Addr().String())
	}
	if len(st.index) > 0 {
		st.srv.Mux.Handle("GET /{$}", server.Index("enthub — démonstration",
			"Ce qui tourne sur cette instance de démonstration :", st.index))
	}
	var ml net.Listener
	if cfg.HTTP.MetricsListen != "" {
		if ml, err = net.Listen("tcp", cfg.HTTP.MetricsListen); err != nil {
			l.Close()
			return &exitError{code: exitFailed, err: fmt.Errorf("http.metrics_listen %s: %w", cfg.HTTP.MetricsListen, err)}
		}
		log.Info("metrics served apart", "metrics_listen", ml.Addr().String())
	}
	g, gctx := errgroup.WithContext(ctx)
	if err := mountConsole(gctx, g, cfg, log, store, st, sso); err != nil {
		l.Close()
		return err
	}
	if err := startStats(gctx, g, cfg, log, store, st, sso, l.Addr().String()); err != nil {
		l.Close()
		return err
	}
	if err := mountLauncher(cfg, log, store, st, sso); err != nil {
		l.Close()
		return err
	}
	g.Go(func() error {
		// Requests (and their connections, which inherit the label) are
		// told apart in a CPU profile from start-up, background jobs and
		// the demo's simulated upstreams (go tool pprof -tags).
		pprof.SetGoroutineLabels(pprof.WithLabels(gctx, pprof.Labels("component", "enthub-http")))
		return st.srv.Serve(gctx, l)
	})
	if ml != nil {
		g.Go(func() error { return st.srv.ServeMetrics(gctx, ml) })
	}
	g.Go(func() error { return purgeSSO(gctx, sso, log) })
	if err := a.startScheduler(gctx, g, cfg, log, store, st.srv); err != nil {
		return err
	}
	serveLDAP := cfg.LDAP.Enabled && (cfg.LDAP.Listen != "" || cfg.LDAP.LDAPSListen != "")
	if serveLDAP || cfg.LDAP.Push.URL != "" {
		lsrv, err := ldap.NewServer(ldapConfig(cfg.LDAP), store, ldap.WithLogger(log.With("component", "ldap")),
			ldap.WithAuditor(storeAuditor{store: store, log: log}), st.metrics.ldapObserver())
		if err != nil {
			return &exitError{code: exitFailed, err: err}
		}
		registerLDAP(st.srv.Registry, lsrv)
		if serveLDAP {
			g.Go(func() error { return lsrv.ListenAndServe(gctx) })
			log.Info("LDAP started", "listen", cfg.LDAP.Listen, "ldaps", cfg.LDAP.LDAPSListen, "base", cfg.LDAP.BaseDN)
		}
		if pc := cfg.LDAP.Push; pc.URL != "" {
			pusher, err := ldap.NewPusher(lsrv, ldap.PushConfig{URL: pc.URL, BindDN: pc.BindDN, Password: pc.Password,
				StartTLS: pc.StartTLS, SeeDisabled: pc.SeeDisabled, Attributes: pc.Attributes})
			if err != nil {
				return &exitError{code: exitFailed, err: fmt.Errorf("ldap.push: %w", err)}
			}
			g.Go(func() error { return pusher.Run(gctx) })
			log.Info("LDAP push started", "url", pc.URL)
		}
	}
	err = g.Wait()
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	log.Info("enthub stopped", "at", time.Now().UTC().Format(time.RFC3339))
	return nil
}
