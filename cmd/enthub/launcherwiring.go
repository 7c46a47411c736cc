package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/enthub/enthub/config"
	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/idp"
	"github.com/enthub/enthub/portal/console"
	"github.com/enthub/enthub/portal/launcher"
	"github.com/enthub/enthub/portal/loginui"
)

// mountLauncher mounts the portal's launcher (/portail), its news and
// branding editors and the per-school stylesheets; "/" leads to the
// launcher except in the demo, whose "/" is its index. The demo's
// principal administers the portal too, so the demo shows the editors.
func mountLauncher(cfg config.Config, log *slog.Logger, store *sqlstore.Store, st *stack, sso *idp.Provider) error {
	layout, err := console.NewLayout(console.Options{SiteName: cfg.SSO.SiteName, Logger: log})
	if err != nil {
		return err
	}
	rule := console.PrincipalRule{Functions: cfg.Guests.PrincipalFunctions}
	for _, p := range cfg.Guests.PrincipalProfiles {
		rule.Profiles = append(rule.Profiles, directory.Profile(p))
	}
	banner := cfg.Portal.Banner
	if st.demo {
		if banner == "" {
			banner = "Département de démonstration : cet ENT ne contient que des données fictives."
		}
		if err := seedDemoPortal(context.Background(), store, time.Now().In(cfg.Location())); err != nil {
			return fmt.Errorf("demo portal: %w", err)
		}
	}
	l, err := launcher.New(layout, launcher.Options{Directory: store, Store: store, Sessions: sso, Registry: sso, Audit: sso,
		Admins: adminRule(cfg), Principal: rule, Banner: banner, PublicURL: cfg.PublicURL,
		Secure: strings.HasPrefix(cfg.PublicURL, "https:"), Location: cfg.Location(), Logger: log.With("component", "launcher")})
	if err != nil {
		return err
	}
	l.Routes(st.srv.Mux)
	if !st.demo {
		st.srv.Mux.Handle("GET /{$}", http.RedirectHandler(strings.TrimRight(cfg.PublicURL, "/")+"/portail", http.StatusSeeOther))
	}
	return nil
}

// chooserNews gives the login chooser the messages for everyone.
func chooserNews(store directory.PortalStore, log *slog.Logger) func(ctx context.Context) []loginui.News {
	return func(ctx context.Context) []loginui.News {
		ns, err := launcher.PublicNews(ctx, store, time.Now())
		if err != nil {
			log.Error("chooser news", "err", err)
			return nil
		}
		out := make([]loginui.News, len(ns))
		for i, n := range ns {
			out[i] = loginui.News{Title: n.Title, Body: n.Body}
		}
		return out
	}
}

// seedDemoPortal gives the demo a message for everyone and its first
// school a branding, on a fresh store, so the launcher looks lived-in;
// now is in the site's zone.
func seedDemoPortal(ctx context.Context, store *sqlstore.Store, now time.Time) error {
	ns, err := store.NewsList(ctx, "", time.Time{})
	if err != nil || len(ns) > 0 {
		return err
	}
	// Midnights of the site's zone, as the news editor would store them.
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
	if err := store.PutNews(ctx, &directory.News{Title: "Bienvenue sur l'ENT de démonstration",
		Body:  "Ouvrez un service, changez de profil, puis déconnectez-vous : tout passe par une seule connexion.",
		Start: day.AddDate(0, 0, -1).UTC(), End: day.AddDate(1, 0, 0).UTC(), CreatedAt: now.UTC()}); err != nil {
		return err
	}
	all, err := store.ListStructures(ctx)
	if err != nil || len(all) == 0 || all[0].UAI == "" {
		return err
	}
	return store.PutBranding(ctx, directory.Branding{UAI: all[0].UAI, Banner: "Bienvenue au " + all[0].Name,
		Primary: "#00466e", Accent: "#8a1538", Ink: "#161616", UpdatedAt: now.UTC()})
}
