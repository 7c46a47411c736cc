package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/enthub/enthub/config"
	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/password"
	"github.com/enthub/enthub/directory/spaces"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/federation/simulate"
	"github.com/enthub/enthub/idp"
	"github.com/enthub/enthub/portal/console"
	"github.com/enthub/enthub/portal/mydata"
	"golang.org/x/sync/errgroup"
)

// mountConsole mounts the consoles' stylesheets, the principal's console,
// the département's page of profile spaces,
// the guests' activation page and "my data" on the HTTP server, and starts
// the job that disables guests past their end date. The login refuses an
// expired guest from its end date on by itself (idp checks ValidUntil);
// the job makes the directory, LDAP and the console say so too, every
// guests.expire_every on each instance (it is idempotent).
func mountConsole(ctx context.Context, g *errgroup.Group, cfg config.Config, log *slog.Logger, store *sqlstore.Store, st *stack, sso *idp.Provider) error {
	layout, err := console.NewLayout(console.Options{SiteName: cfg.SSO.SiteName, Logger: log})
	if err != nil {
		return err
	}
	st.console = layout
	st.srv.Mux.Handle("GET "+layout.AssetsPath(), layout.Assets())
	rule := console.PrincipalRule{Functions: cfg.Guests.PrincipalFunctions}
	for _, p := range cfg.Guests.PrincipalProfiles {
		rule.Profiles = append(rule.Profiles, directory.Profile(p))
	}
	svc := guestService(cfg, store)
	opts := console.PrincipalOptions{Guests: svc, Directory: store, Sessions: sso, Rule: &rule, PublicURL: cfg.PublicURL,
		Location: cfg.Location(), Logger: log.With("component", "console")}
	if s := cfg.Guests.SMTP; s.Addr != "" {
		opts.Mailer = console.SMTPMailer{Addr: s.Addr, From: s.From, Username: s.Username, Password: s.Password}
	}
	principal, err := console.NewPrincipal(layout, opts)
	if err != nil {
		return err
	}
	principal.Routes(st.srv.Mux)
	spacePages, err := console.NewSpaces(layout, console.SpacesOptions{Spaces: &spaces.Service{Store: store}, Sessions: sso,
		Admins: adminRule(cfg), PublicURL: cfg.PublicURL, Location: cfg.Location(), Logger: log.With("component", "console")})
	if err != nil {
		return err
	}
	spacePages.Routes(st.srv.Mux)
	my, err := mydata.New(layout, mydata.Options{Directory: store, Sessions: sso, SiteName: cfg.SSO.SiteName,
		Logger: log.With("component", "mydata")})
	if err != nil {
		return err
	}
	my.Routes(st.srv.Mux)
	if st.demo {
		if err := seedDemoPrincipal(ctx, store); err != nil {
			return fmt.Errorf("demo principal: %w", err)
		}
		if err := seedDemoSpaces(ctx, store, simulate.AgentLogin); err != nil {
			return fmt.Errorf("demo spaces: %w", err)
		}
	}
	g.Go(func() error {
		t := time.NewTicker(cfg.Guests.ExpireEvery)
		defer t.Stop()
		for {
			if n, err := svc.ExpireDue(ctx); err != nil {
				log.Error("guest expiry failed", "err", err)
			} else if n > 0 {
				log.Info("guests past their end date disabled", "count", n)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	})
	return nil
}

// The demo's principal: a local login, since the simulated upstreams give
// agents their own way in.
const (
	demoPrincipalLogin    = "demo.direction"
	demoPrincipalPassword = "demo"
)

// seedDemoPrincipal creates (or refreshes) a principal with a local
// password in the directory's first school, so that `enthub demo` shows
// the guest console at once.
func seedDemoPrincipal(ctx context.Context, store *sqlstore.Store) error {
	hash, err := password.Hash(demoPrincipalPassword, rand.Reader, password.Default)
	if err != nil {
		return err
	}
	return store.Update(ctx, func(tx directory.Tx) error {
		all, err := tx.ListStructures(ctx)
		if err != nil || len(all) == 0 {
			return err // the demo guest's seeding made one when there was none
		}
		acc, err := tx.AccountByLogin(ctx, demoPrincipalLogin)
		if errors.Is(err, directory.ErrNotFound) {
			per := &directory.Person{FirstName: "Claire", LastName: "Principale", Source: directory.SourceManual}
			if err := tx.PutPerson(ctx, per); err != nil {
				return err
			}
			acc = directory.Account{PersonID: per.ID, Login: demoPrincipalLogin, Source: directory.SourceManual}
		} else if err != nil {
			return err
		}
		acc.PasswordHash, acc.Status = hash, directory.StatusActive
		if err := tx.PutAccount(ctx, &acc); err != nil {
			return err
		}
		return tx.SetPersonas(ctx, acc.PersonID, directory.SourceManual, []directory.Persona{{StructureID: all[0].ID,
			Profile: directory.ProfileDirection, Functions: []directory.Function{{Code: "DIR", Label: "DIRECTION"}}}})
	})
}
