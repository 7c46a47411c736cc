package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/enthub/enthub/config"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/idp"
	"github.com/enthub/enthub/portal/loginui"
)

// loadServices reads the relying-party registry: a YAML list of services
// whose keys are the idp.Service yaml names. Unknown keys are errors, with
// their line, as in the main configuration, and each service is checked
// as the start checks it; `enthub services import` reads its files the
// same way (idp.ReadServices).
func loadServices(path string) ([]idp.Service, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sso.services_file: %w", err)
	}
	out, _, err := idp.ReadServices(path, b)
	if err != nil {
		return nil, fmt.Errorf("sso.services_file %s: %w", path, err)
	}
	return out, nil
}

// idpConfig maps the configuration onto the identity provider's.
func idpConfig(cfg config.Config, services []idp.Service) idp.Config {
	c := idp.Config{
		PublicURL: cfg.PublicURL, SessionIdle: cfg.SSO.SessionIdle, SessionMax: cfg.SSO.SessionAbsolute,
		KeySecret: cfg.SSO.KeySecret, KeyOverlap: cfg.SSO.KeyOverlap, Services: services, ServicesReload: cfg.SSO.ServicesReload,
		PortalURL: strings.TrimRight(cfg.PublicURL, "/") + "/portail", // the launcher, where a login with no request lands
	}
	if p, err := garProject(cfg); err == nil { // unconfigured: no GAR profile; idp.New names what is wrong otherwise
		c.GAR = idp.GARConfig{Project: p, EntityID: cfg.GAR.EntityID}
	}
	return c
}

// startSSO builds the identity provider and mounts its routes; extra
// services (the demo's) are registered beside the configured ones.
func startSSO(ctx context.Context, cfg config.Config, log *slog.Logger, store *sqlstore.Store, st *stack, extra []idp.Service) (*idp.Provider, error) {
	services, err := loadServices(cfg.SSO.ServicesFile)
	if err != nil {
		return nil, &exitError{code: exitFailed, err: err}
	}
	pages, err := loginui.New(loginui.Options{SiteName: cfg.SSO.SiteName, Logger: log, News: chooserNews(store, log)})
	if err != nil {
		return nil, err
	}
	fed, err := buildFederation(ctx, cfg, log, store, st.upstreamClient)
	if err != nil {
		return nil, err
	}
	icfg := idpConfig(cfg, append(services, extra...))
	icfg.LoginMethods, icfg.UpstreamLogout = fed.methods, fed.broker.StartLogout
	if fed.localID != "" {
		icfg.LocalUpstream = fed.localID
	}
	p, err := idp.New(ctx, icfg, idp.Deps{Directory: store, SSO: store, Pages: pages,
		Logger: log.With("component", "sso"), OnEvent: st.metrics.loginEvent})
	if err != nil {
		return nil, &exitError{code: exitFailed, err: err}
	}
	p.Routes(st.srv.Mux)
	wireBroker(fed, p, pages, st.srv.Mux)
	st.srv.NotFound = http.HandlerFunc(pages.NotFound)
	return p, nil
}

// purgeSSO drops expired sessions, tickets and tokens every few minutes;
// it is idempotent, so every instance may run it.
func purgeSSO(ctx context.Context, p *idp.Provider, log *slog.Logger) error {
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if n, err := p.PurgeExpired(ctx); err != nil {
				log.Error("SSO purge failed", "err", err)
			} else if n > 0 {
				log.Info("SSO purge", "expired", n)
			}
		}
	}
}
