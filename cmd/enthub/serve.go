package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/enthub/enthub/config"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/portal/server"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
)

func (a *app) serveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run every service: HTTP (portal, SAML, OIDC, CAS), LDAP, scheduler",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			log := a.logger(cfg)
			store, err := a.openStore(cmd.Context(), cfg, log)
			if err != nil {
				return err
			}
			defer store.Close()
			return a.runServices(cmd.Context(), cfg, log, store, nil)
		},
	}
}

// stack is what runServices starts; the demo adds its own entries.
type stack struct {
	srv     *server.Server
	index   []server.Entry
	onReady func(httpAddr string)
}

// runServices starts the HTTP server (and, as later issues land, LDAP and
// the scheduler) and blocks until ctx is cancelled and everything drained.
func (a *app) runServices(ctx context.Context, cfg config.Config, log *slog.Logger, store *sqlstore.Store, st *stack) error {
	if st == nil {
		st = &stack{}
	}
	if st.srv == nil {
		st.srv = server.New(server.Options{
			Logger: log, Store: store, Version: buildVersion(),
			ShutdownTimeout: cfg.HTTP.ShutdownTimeout, ReadTimeout: cfg.HTTP.ReadTimeout, WriteTimeout: cfg.HTTP.WriteTimeout,
		})
	}
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
	log.Info("enthub started", "version", buildVersion(), "http", l.Addr().String(), "store", store.Dialect(), "public_url", cfg.PublicURL)
	if st.onReady != nil {
		st.onReady(l.Addr().String())
	}
	if len(st.index) > 0 {
		st.srv.Mux.Handle("GET /{$}", server.Index("enthub — démonstration",
			"Ce qui tourne sur cette instance de démonstration :", st.index))
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return st.srv.Serve(gctx, l) })
	err = g.Wait()
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	log.Info("enthub stopped", "at", time.Now().UTC().Format(time.RFC3339))
	return nil
}
