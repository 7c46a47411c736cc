package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/enthub/enthub/config"
	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/guests"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/spf13/cobra"
)

// guestService is the guest operations as configured; the console and
// the command line share it.
func guestService(cfg config.Config, store *sqlstore.Store) *guests.Service {
	return &guests.Service{Store: store, CodeTTL: cfg.Guests.CodeTTL, MaxPeriod: cfg.Guests.MaxPeriod, LoginPattern: cfg.AAF.LoginPattern}
}

// guestFlags maps the service's field names to the flags that carry them.
var guestFlags = map[string]string{
	"first_name": "--first-name", "last_name": "--last-name", "email": "--email", "role": "--role", "from": "--from", "until": "--until",
}

// guestProblems say what is wrong with a flag, for an operator.
var guestProblems = map[string]string{
	"required":        "is required",
	"too_long":        "is too long (128 characters at most)",
	"email":           "is not an e-mail address (name@example.fr)",
	"date_order":      "must come after --from",
	"until_past":      "must be in the future",
	"too_long_period": "is too far: a guest account lasts at most guests.max_period",
}

func (a *app) guestCommand() *cobra.Command {
	c := &cobra.Command{Use: "guest", Short: "Create, list, extend and revoke a school's guest accounts", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() }}
	var uai string
	c.PersistentFlags().StringVar(&uai, "uai", "", "the school acted for (UAI); only its guests are reachable")

	// withSchool runs fn as an operator acting for the --uai school.
	withSchool := func(cmd *cobra.Command, fn func(ctx context.Context, cfg config.Config, svc *guests.Service, actor guests.Actor, st directory.Structure) error) error {
		if uai == "" {
			return usageErr("%s: --uai is required", cmd.CommandPath())
		}
		return a.withStore(cmd.Context(), func(cfg config.Config, _ *slog.Logger, store *sqlstore.Store) error {
			ctx := cmd.Context()
			st, err := store.StructureByUAI(ctx, strings.ToUpper(uai))
			if errors.Is(err, directory.ErrNotFound) {
				fmt.Fprintf(a.stderr, "enthub: --uai: no structure with UAI %q\n", uai)
				return errRefused
			}
			if err != nil {
				return err
			}
			user := a.getenv("USER")
			if user == "" {
				user = "operator"
			}
			return fn(ctx, cfg, guestService(cfg, store), guests.Actor{ID: "cli:" + user, StructureID: st.ID}, st)
		})
	}

	var n struct{ first, last, email, role, from, until string }
	var createJSON bool
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a guest account and print its one-time activation code",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSchool(cmd, func(ctx context.Context, cfg config.Config, svc *guests.Service, actor guests.Actor, st directory.Structure) error {
				req := guests.NewGuest{FirstName: n.first, LastName: n.last, Email: n.email, Role: n.role}
				var err error
				from := n.from
				if from == "" {
					from = time.Now().In(cfg.Location()).Format(time.DateOnly)
				}
				if req.From, err = parseDay("--from", from, false, cfg.Location()); err != nil {
					return err
				}
				if n.until != "" {
					if req.Until, err = parseDay("--until", n.until, true, cfg.Location()); err != nil {
						return err
					}
				}
				iss, err := svc.Create(ctx, actor, req)
				if err := a.guestRefusal(err, ""); err != nil {
					return err
				}
				link := strings.TrimRight(cfg.PublicURL, "/") + "/activation?code=" + url.QueryEscape(iss.Code)
				if createJSON {
					return writeJSON(a.stdout, struct {
						guestJSON
						Code          string    `json:"code"`
						CodeExpiresAt time.Time `json:"code_expires_at"`
						Link          string    `json:"activation_link"`
					}{toGuestJSON(iss.Guest, st), iss.Code, iss.ExpiresAt, link})
				}
				fmt.Fprintf(a.stdout, "guest %s created in %s %s, valid %s\n  activation code: %s (until %s)\n  activation link: %s\n",
					iss.Guest.Login, st.UAI, st.Name, period(iss.Guest, cfg.Location()), iss.Code, iss.ExpiresAt.In(cfg.Location()).Format("2006-01-02 15:04"), link)
				return nil
			})
		},
	}
	f := create.Flags()
	f.StringVar(&n.first, "first-name", "", "first name")
	f.StringVar(&n.last, "last-name", "", "last name")
	f.StringVar(&n.email, "email", "", "e-mail address (optional)")
	f.StringVar(&n.role, "role", "", `role label, such as "responsable de stage"`)
	f.StringVar(&n.from, "from", "", "first day, YYYY-MM-DD (default today)")
	f.StringVar(&n.until, "until", "", "last day included, YYYY-MM-DD")
	f.BoolVar(&createJSON, "json", false, "print JSON")

	var listJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the school's guest accounts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSchool(cmd, func(ctx context.Context, cfg config.Config, svc *guests.Service, actor guests.Actor, st directory.Structure) error {
				gs, err := svc.List(ctx, actor)
				if err != nil {
					return err
				}
				if listJSON {
					out := make([]guestJSON, 0, len(gs))
					for _, g := range gs {
						out = append(out, toGuestJSON(g, st))
					}
					return writeJSON(a.stdout, out)
				}
				for _, g := range gs {
					fmt.Fprintf(a.stdout, "%-24s %-10s %s %s — %s — %s\n", g.Login, g.State(time.Now()), g.FirstName, g.LastName, g.Role, period(g, cfg.Location()))
				}
				if len(gs) == 0 {
					fmt.Fprintf(a.stdout, "no guest account in %s %s\n", st.UAI, st.Name)
				}
				return nil
			})
		},
	}
	list.Flags().BoolVar(&listJSON, "json", false, "print JSON")

	var extendUntil string
	extend := &cobra.Command{
		Use:   "extend LOGIN --until YYYY-MM-DD",
		Short: "Move a guest's last day",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSchool(cmd, func(ctx context.Context, cfg config.Config, svc *guests.Service, actor guests.Actor, st directory.Structure) error {
				until, err := parseDay("--until", extendUntil, true, cfg.Location())
				if err != nil {
					return err
				}
				id, err := a.guestID(ctx, svc, args[0])
				if err != nil {
					return err
				}
				g, err := svc.Extend(ctx, actor, id, until)
				if err := a.guestRefusal(err, args[0]+" in "+st.UAI); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "guest %s extended: valid %s\n", g.Login, period(g, cfg.Location()))
				return nil
			})
		},
	}
	extend.Flags().StringVar(&extendUntil, "until", "", "new last day included, YYYY-MM-DD")

	revoke := &cobra.Command{
		Use:   "revoke LOGIN",
		Short: "Disable a guest account for good",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSchool(cmd, func(ctx context.Context, _ config.Config, svc *guests.Service, actor guests.Actor, st directory.Structure) error {
				id, err := a.guestID(ctx, svc, args[0])
				if err != nil {
					return err
				}
				g, err := svc.Revoke(ctx, actor, id)
				if err := a.guestRefusal(err, args[0]+" in "+st.UAI); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "guest %s revoked\n", g.Login)
				return nil
			})
		},
	}
	c.AddCommand(create, list, extend, revoke)
	return c
}

// guestID resolves a login (or an account id) to the account id; the
// service then checks that it is a guest of the school.
func (a *app) guestID(ctx context.Context, svc *guests.Service, login string) (string, error) {
	acc, err := svc.Store.AccountByLogin(ctx, login)
	if errors.Is(err, directory.ErrNotFound) {
		return login, nil // perhaps an account id; the service says if not
	}
	return acc.ID, err
}

// guestRefusal prints why the service refused, naming the flag or the
// guest, and turns it into exit status 1.
func (a *app) guestRefusal(err error, what string) error {
	var fe directory.FieldErrors
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fe):
		for _, e := range fe {
			fmt.Fprintf(a.stderr, "enthub: %s %s\n", guestFlags[e.Field], guestProblems[e.Code])
		}
	case errors.Is(err, guests.ErrNotFound):
		fmt.Fprintf(a.stderr, "enthub: no guest %s\n", what)
	case errors.Is(err, guests.ErrRevoked):
		fmt.Fprintf(a.stderr, "enthub: guest %s is revoked: a revocation is final\n", what)
	default:
		return err
	}
	return errRefused
}

// parseDay reads YYYY-MM-DD in the site's zone (time_zone); end gives the
// next midnight, so the day is included.
func parseDay(flag, v string, end bool, loc *time.Location) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation(time.DateOnly, v, loc)
	if err != nil {
		return t, usageErr("%s %q: want a date YYYY-MM-DD", flag, v)
	}
	if end {
		t = t.AddDate(0, 0, 1)
	}
	return t, nil
}

// period writes a guest's first and last days.
func period(g guests.Guest, loc *time.Location) string {
	return g.ValidFrom.In(loc).Format(time.DateOnly) + " to " + g.ValidUntil.In(loc).Add(-time.Nanosecond).Format(time.DateOnly)
}

// guestJSON is a guest as `enthub guest list --json` prints it.
type guestJSON struct {
	AccountID  string     `json:"account_id"`
	Login      string     `json:"login"`
	FirstName  string     `json:"first_name"`
	LastName   string     `json:"last_name"`
	Email      string     `json:"email,omitempty"`
	Role       string     `json:"role"`
	UAI        string     `json:"uai"`
	ValidFrom  time.Time  `json:"valid_from"`
	ValidUntil time.Time  `json:"valid_until"`
	State      string     `json:"state"`
	CreatedBy  string     `json:"created_by"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

func toGuestJSON(g guests.Guest, st directory.Structure) guestJSON {
	return guestJSON{AccountID: g.AccountID, Login: g.Login, FirstName: g.FirstName, LastName: g.LastName, Email: g.Email, Role: g.Role,
		UAI: st.UAI, ValidFrom: g.ValidFrom, ValidUntil: g.ValidUntil, State: g.State(time.Now()), CreatedBy: g.CreatedBy, RevokedAt: g.RevokedAt}
}
