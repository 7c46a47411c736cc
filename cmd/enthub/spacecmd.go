package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/enthub/enthub/config"
	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/spaces"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/spf13/cobra"
)

// spaceArgs maps the service's field names to the arguments that carry
// them on the command line.
var spaceArgs = map[string]string{"code": "CODE", "name": "--name", "description": "--description"}

// spaceProblems say what is wrong with an argument, for an operator.
var spaceProblems = map[string]string{
	"required": "is required",
	"too_long": "is too long",
	"code":     "may hold only lower-case letters, digits and hyphens (espace-ati)",
}

func (a *app) spaceCommand() *cobra.Command {
	c := &cobra.Command{Use: "space", Short: "Manage the profile spaces across schools (Espace ATI, Espace Cuisine…)", Args: cobra.NoArgs,
		Long: `A profile space is a named group of accounts across schools — typically the
collectivité's agents — served by the LDAP front as cn=CODE,ou=groups and
released to services as account.spaces. It grants no administration right.`,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() }}

	// withSpaces runs fn as the operator, on the store of --db/--config;
	// loc is then the site's time zone, for the dates it prints.
	var loc *time.Location
	withSpaces := func(cmd *cobra.Command, fn func(ctx context.Context, svc *spaces.Service, actor spaces.Actor) error) error {
		return a.withStore(cmd.Context(), func(cfg config.Config, _ *slog.Logger, store *sqlstore.Store) error {
			loc = cfg.Location()
			user := a.getenv("USER")
			if user == "" {
				user = "operator"
			}
			return fn(cmd.Context(), &spaces.Service{Store: store}, spaces.Actor{ID: "cli:" + user})
		})
	}

	var name, desc string
	create := &cobra.Command{
		Use:   "create CODE --name NAME [--description TEXT]",
		Short: "Create a space; its code (espace-ati) never changes",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSpaces(cmd, func(ctx context.Context, svc *spaces.Service, actor spaces.Actor) error {
				sp, err := svc.Create(ctx, actor, args[0], name, desc)
				if err := a.spaceRefusal(err, args[0], ""); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "space %s created: %s\n", sp.ID, sp.Name)
				return nil
			})
		},
	}
	create.Flags().StringVar(&name, "name", "", `display name, such as "Espace ATI"`)
	create.Flags().StringVar(&desc, "description", "", "description (optional)")

	var newName, newDesc string
	rename := &cobra.Command{
		Use:   "rename CODE --name NAME [--description TEXT]",
		Short: "Change a space's name and description (the code stays)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSpaces(cmd, func(ctx context.Context, svc *spaces.Service, actor spaces.Actor) error {
				sp, err := svc.Update(ctx, actor, args[0], newName, newDesc)
				if err := a.spaceRefusal(err, args[0], ""); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "space %s renamed: %s\n", sp.ID, sp.Name)
				return nil
			})
		},
	}
	rename.Flags().StringVar(&newName, "name", "", "new display name")
	rename.Flags().StringVar(&newDesc, "description", "", "new description (empty clears it)")

	var listJSON bool
	list := &cobra.Command{
		Use:   "list [CODE]",
		Short: "List the spaces, or the members of one",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSpaces(cmd, func(ctx context.Context, svc *spaces.Service, _ spaces.Actor) error {
				if len(args) == 1 {
					return a.listSpaceMembers(ctx, svc.Store, args[0], listJSON, loc)
				}
				all, err := svc.Store.Spaces(ctx)
				if err != nil {
					return err
				}
				out := make([]spaceJSON, 0, len(all))
				for _, sp := range all {
					ms, err := svc.Store.SpaceMembers(ctx, sp.ID)
					if err != nil {
						return err
					}
					out = append(out, spaceJSON{ID: sp.ID, Name: sp.Name, Description: sp.Description, Members: len(ms),
						CreatedAt: sp.CreatedAt, UpdatedAt: sp.UpdatedAt})
				}
				if listJSON {
					return writeJSON(a.stdout, out)
				}
				for _, sp := range out {
					fmt.Fprintf(a.stdout, "%-24s %4d members  %s\n", sp.ID, sp.Members, sp.Name)
				}
				if len(out) == 0 {
					fmt.Fprintln(a.stdout, "no space")
				}
				return nil
			})
		},
	}
	list.Flags().BoolVar(&listJSON, "json", false, "print JSON")

	// members runs op on each LOGIN after CODE; every login is resolved
	// before the first change, so a mistyped one changes nothing.
	members := func(use, short, done string, op func(svc *spaces.Service, ctx context.Context, actor spaces.Actor, code, id string) error) *cobra.Command {
		return &cobra.Command{
			Use:   use + " CODE LOGIN...",
			Short: short,
			Args:  cobra.MinimumNArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				return withSpaces(cmd, func(ctx context.Context, svc *spaces.Service, actor spaces.Actor) error {
					if _, err := svc.Store.Space(ctx, args[0]); errors.Is(err, directory.ErrNotFound) {
						return a.spaceRefusal(spaces.ErrNotFound, args[0], "")
					}
					accs := make([]directory.Account, 0, len(args)-1)
					for _, login := range args[1:] {
						acc, err := svc.Store.AccountByLogin(ctx, login)
						if errors.Is(err, directory.ErrNotFound) {
							acc, err = svc.Store.Account(ctx, login) // an account id
						}
						if errors.Is(err, directory.ErrNotFound) {
							fmt.Fprintf(a.stderr, "enthub: LOGIN %q: no account with this login or id\n", login)
							return errRefused
						}
						if err != nil {
							return err
						}
						accs = append(accs, acc)
					}
					for i, acc := range accs {
						if err := a.spaceRefusal(op(svc, ctx, actor, args[0], acc.ID), args[0], args[i+1]); err != nil {
							return err
						}
						fmt.Fprintf(a.stdout, "%s %s %s\n", acc.Login, done, args[0])
					}
					return nil
				})
			},
		}
	}
	add := members("add", "Add accounts (by login or id) to a space", "added to",
		func(svc *spaces.Service, ctx context.Context, actor spaces.Actor, code, id string) error {
			return svc.AddMember(ctx, actor, code, id)
		})
	remove := members("remove", "Remove accounts (by login or id) from a space", "removed from",
		func(svc *spaces.Service, ctx context.Context, actor spaces.Actor, code, id string) error {
			return svc.RemoveMember(ctx, actor, code, id)
		})

	del := &cobra.Command{
		Use:   "delete CODE",
		Short: "Delete a space and its list of members (the accounts stay)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSpaces(cmd, func(ctx context.Context, svc *spaces.Service, actor spaces.Actor) error {
				if err := a.spaceRefusal(svc.Delete(ctx, actor, args[0]), args[0], ""); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "space %s deleted\n", args[0])
				return nil
			})
		},
	}
	c.AddCommand(create, rename, list, add, remove, del)
	return c
}

// spaceJSON is a space as `enthub space list --json` prints it.
type spaceJSON struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Members     int       `json:"members"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func (a *app) listSpaceMembers(ctx context.Context, st spaces.Store, code string, asJSON bool, loc *time.Location) error {
	if _, err := st.Space(ctx, code); errors.Is(err, directory.ErrNotFound) {
		return a.spaceRefusal(spaces.ErrNotFound, code, "")
	}
	ms, err := st.SpaceMembers(ctx, code)
	if err != nil {
		return err
	}
	type memberJSON struct {
		Login     string    `json:"login"`
		AccountID string    `json:"account_id"`
		Name      string    `json:"name"`
		AddedBy   string    `json:"added_by"`
		AddedAt   time.Time `json:"added_at"`
	}
	out := make([]memberJSON, 0, len(ms))
	for _, m := range ms {
		mj := memberJSON{Login: m.Login, AccountID: m.AccountID, AddedBy: m.AddedBy, AddedAt: m.AddedAt}
		if p, err := st.Person(ctx, m.PersonID); err == nil {
			mj.Name = p.FirstName + " " + p.LastName
		}
		out = append(out, mj)
	}
	if asJSON {
		return writeJSON(a.stdout, out)
	}
	for _, m := range out {
		fmt.Fprintf(a.stdout, "%-24s %-32s added %s by %s\n", m.Login, m.Name, m.AddedAt.In(loc).Format(time.DateOnly), m.AddedBy)
	}
	if len(out) == 0 {
		fmt.Fprintf(a.stdout, "no member in %s\n", code)
	}
	return nil
}

// spaceRefusal prints why the service refused, naming the argument, and
// turns it into exit status 1.
func (a *app) spaceRefusal(err error, code, login string) error {
	var fe directory.FieldErrors
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fe):
		for _, e := range fe {
			what := spaceArgs[e.Field]
			if e.Field == "code" {
				what = fmt.Sprintf("CODE %q", code)
			}
			fmt.Fprintf(a.stderr, "enthub: %s %s\n", what, spaceProblems[e.Code])
		}
	case errors.Is(err, spaces.ErrExists):
		fmt.Fprintf(a.stderr, "enthub: CODE %q: a space with this code exists already\n", code)
	case errors.Is(err, spaces.ErrNotFound) && login != "":
		fmt.Fprintf(a.stderr, "enthub: LOGIN %q: not a member of space %s\n", login, code)
	case errors.Is(err, spaces.ErrNotFound):
		fmt.Fprintf(a.stderr, "enthub: CODE %q: no such space (enthub space list shows them)\n", code)
	case errors.Is(err, spaces.ErrMember):
		fmt.Fprintf(a.stderr, "enthub: LOGIN %q: already a member of space %s\n", login, code)
	case errors.Is(err, spaces.ErrNoAccount):
		fmt.Fprintf(a.stderr, "enthub: LOGIN %q: no such account\n", login)
	default:
		return err
	}
	return errRefused
}

// The demo's spaces: the tender's two examples.
var demoSpaces = []struct{ code, name, desc string }{
	{"espace-ati", "Espace ATI", "Les assistants techniques informatiques des collèges"},
	{"espace-cuisine", "Espace Cuisine", "Les équipes de restauration des collèges"},
}

// demoCookLogin is the demo's kitchen agent, in the Espace Cuisine.
const demoCookLogin = "demo.agent.cuisine"

// seedDemoSpaces creates (once) the Espace ATI with the demo's ATI agent
// and the Espace Cuisine with a kitchen agent working in two collèges, so
// that the console and LDAP show them at once.
func seedDemoSpaces(ctx context.Context, store *sqlstore.Store, atiLogin string) error {
	svc := &spaces.Service{Store: store}
	actor := spaces.Actor{ID: "cli:demo"}
	for _, d := range demoSpaces {
		if _, err := store.Space(ctx, d.code); err == nil {
			return nil // seeded at an earlier start; the operator may have changed them since
		}
		if _, err := svc.Create(ctx, actor, d.code, d.name, d.desc); err != nil {
			return err
		}
	}
	err := store.Update(ctx, func(tx directory.Tx) error {
		all, err := tx.ListStructures(ctx)
		if err != nil || len(all) == 0 {
			return err
		}
		per := &directory.Person{FirstName: "Dominique", LastName: "Cuisine", Source: directory.SourceCollectivite}
		if err := tx.PutPerson(ctx, per); err != nil {
			return err
		}
		acc := directory.Account{PersonID: per.ID, Login: demoCookLogin, Source: directory.SourceCollectivite, Status: directory.StatusActive}
		if err := tx.PutAccount(ctx, &acc); err != nil {
			return err
		}
		var ps []directory.Persona
		for _, st := range all[:min(2, len(all))] {
			ps = append(ps, directory.Persona{StructureID: st.ID, Profile: directory.ProfileCollectivite,
				Functions: []directory.Function{{Code: "RES", Label: "RESTAURATION"}}})
		}
		return tx.SetPersonas(ctx, per.ID, directory.SourceCollectivite, ps)
	})
	if err != nil {
		return fmt.Errorf("demo kitchen agent: %w", err)
	}
	for _, m := range []struct{ code, login string }{{"espace-ati", atiLogin}, {"espace-cuisine", demoCookLogin}} {
		acc, err := store.AccountByLogin(ctx, m.login)
		if errors.Is(err, directory.ErrNotFound) {
			continue // no simulated upstreams, no ATI agent
		}
		if err != nil {
			return err
		}
		if err := svc.AddMember(ctx, actor, m.code, acc.ID); err != nil {
			return err
		}
	}
	return nil
}
