package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"

	"github.com/enthub/enthub/config"
	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/dirdump"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/spf13/cobra"
)

func (a *app) dirCommand() *cobra.Command {
	c := &cobra.Command{Use: "dir", Short: "Inspect the directory", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() }}
	var asJSON bool
	stats := &cobra.Command{
		Use:   "stats",
		Short: "Counts per profile and per structure",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd.Context(), func(_ config.Config, _ *slog.Logger, s *sqlstore.Store) error {
				st, err := s.Stats(cmd.Context())
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(a.stdout, st)
				}
				fmt.Fprintf(a.stdout, "structures: %d\naccounts:   %d active, %d disabled\n", st.Structures, st.Accounts.Active, st.Accounts.Disabled)
				for _, p := range directory.Profiles {
					if n := st.ByProfile[p]; n > 0 {
						fmt.Fprintf(a.stdout, "  %-15s %8d\n", p, n)
					}
				}
				for _, s := range st.ByStructure {
					fmt.Fprintf(a.stdout, "%s %s (%s):", s.UAI, s.Name, s.AAFID)
					for _, p := range directory.Profiles {
						if n := s.ByProfile[p]; n > 0 {
							fmt.Fprintf(a.stdout, " %s=%d", p, n)
						}
					}
					fmt.Fprintln(a.stdout)
				}
				return nil
			})
		},
	}
	stats.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	var showJSON bool
	show := &cobra.Command{
		Use:   "show ID",
		Short: "One person with accounts, personas, links (ID = AAF id, login or internal id)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd.Context(), func(_ config.Config, _ *slog.Logger, s *sqlstore.Store) error {
				v, err := personView(cmd.Context(), s, args[0])
				if errors.Is(err, directory.ErrNotFound) {
					fmt.Fprintf(a.stderr, "enthub: no person with AAF id, login or id %q\n", args[0])
					return errRefused
				}
				if err != nil {
					return err
				}
				if showJSON {
					return writeJSON(a.stdout, v)
				}
				fmt.Fprintf(a.stdout, "%s %s (%s)\n  login: %s  status: %s  source: %s\n  AAF id: %s  id: %s\n",
					v.FirstName, v.LastName, strings.Join(v.Profiles, ", "), v.Login, v.Status, v.Source, v.AAFID, v.ID)
				for _, p := range v.Personas {
					fmt.Fprintf(a.stdout, "  persona: %s in %s %s", p.Profile, p.UAI, p.StructureName)
					for _, f := range p.Functions {
						fmt.Fprintf(a.stdout, " [%s %s]", f.Code, f.DisciplineLabel)
					}
					fmt.Fprintln(a.stdout)
				}
				if len(v.Classes) > 0 {
					fmt.Fprintf(a.stdout, "  classes: %s\n", strings.Join(v.Classes, ", "))
				}
				if len(v.Groups) > 0 {
					fmt.Fprintf(a.stdout, "  groups: %s\n", strings.Join(v.Groups, ", "))
				}
				if len(v.Parents) > 0 {
					fmt.Fprintf(a.stdout, "  parents: %s\n", strings.Join(v.Parents, ", "))
				}
				if len(v.Children) > 0 {
					fmt.Fprintf(a.stdout, "  children: %s\n", strings.Join(v.Children, ", "))
				}
				for _, l := range v.Links {
					fmt.Fprintf(a.stdout, "  linked: %s %s\n", l.Issuer, l.Subject)
				}
				return nil
			})
		},
	}
	show.Flags().BoolVar(&showJSON, "json", false, "print JSON")
	c.AddCommand(stats, show, a.dirExportCommand(), a.dirImportCommand())
	return c
}

// dirExportCommand writes the reversibility export (docs/export.md).
func (a *app) dirExportCommand() *cobra.Command {
	var format, out string
	var secrets bool
	c := &cobra.Command{
		Use:   "export --format ldif|csv|json --out DIR",
		Short: "Export the whole directory in an open format (reversibility)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != dirdump.FormatJSON && format != dirdump.FormatCSV && format != dirdump.FormatLDIF {
				return usageErr("--format %q: want ldif, csv or json", format)
			}
			if out == "" {
				return usageErr("--out is required")
			}
			return a.withStore(cmd.Context(), func(cfg config.Config, _ *slog.Logger, s *sqlstore.Store) error {
				res, err := dirdump.Export(cmd.Context(), s, format, out,
					dirdump.Options{WithSecrets: secrets, LDAP: ldapConfig(cfg.LDAP)})
				if err != nil {
					return err
				}
				for _, f := range res.Files {
					fmt.Fprintln(a.stdout, f)
				}
				printCounts(a.stdout, res.Counts)
				return nil
			})
		},
	}
	c.Flags().StringVar(&format, "format", "", "ldif, csv or json")
	c.Flags().StringVar(&out, "out", "", "folder the files are written to (created if missing)")
	c.Flags().BoolVar(&secrets, "with-secrets", false, "include the accounts' password hashes")
	return c
}

// dirImportCommand restores a JSON export into an empty store.
func (a *app) dirImportCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "import FILE|DIR",
		Short: "Import a JSON directory export into an empty store",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd.Context(), func(_ config.Config, _ *slog.Logger, s *sqlstore.Store) error {
				counts, err := dirdump.Import(cmd.Context(), s, args[0])
				if err != nil {
					fmt.Fprintf(a.stderr, "enthub: %v\n", err)
					return errRefused
				}
				printCounts(a.stdout, counts)
				return nil
			})
		},
	}
}

func printCounts(w interface{ Write([]byte) (int, error) }, counts dirdump.Counts) {
	for _, k := range append([]string{"entry"}, dirdump.Kinds...) {
		if n, ok := counts[k]; ok {
			fmt.Fprintf(w, "%-14s %8d\n", k, n)
		}
	}
}

// view is the `dir show --json` contract: operators and acceptance checks
// read these names.
type view struct {
	ID            string                   `json:"id"`
	AAFID         string                   `json:"aaf_id"`
	Login         string                   `json:"login"`
	Status        string                   `json:"status"`
	Source        string                   `json:"source"`
	LastName      string                   `json:"last_name"`
	FirstName     string                   `json:"first_name"`
	BirthDate     string                   `json:"birth_date,omitempty"`
	Email         string                   `json:"email,omitempty"`
	DisappearedAt string                   `json:"disappeared_at,omitempty"`
	ValidUntil    string                   `json:"valid_until,omitempty"`
	Profiles      []string                 `json:"profiles"`
	Structures    []string                 `json:"structures"`
	Classes       []string                 `json:"classes"`
	Groups        []string                 `json:"groups"`
	Parents       []string                 `json:"parents"`
	Children      []string                 `json:"children"`
	Functions     []string                 `json:"functions"`
	Personas      []personaView            `json:"personas"`
	Links         []directory.ExternalLink `json:"links"`
}

type personaView struct {
	Profile       directory.Profile    `json:"profile"`
	StructureAAF  string               `json:"structure"`
	UAI           string               `json:"uai"`
	StructureName string               `json:"structure_name"`
	Functions     []directory.Function `json:"functions,omitempty"`
}

// personView gathers a person by AAF id, login or internal id.
func personView(ctx context.Context, r directory.Reader, id string) (view, error) {
	var p directory.Person
	var acc directory.Account
	var err error
	if p, err = r.PersonByAAFID(ctx, id); err == nil {
		acc, err = r.AccountByPerson(ctx, p.ID)
	} else if acc, err = r.AccountByLogin(ctx, id); err == nil {
		p, err = r.Person(ctx, acc.PersonID)
	} else if p, err = r.Person(ctx, id); err == nil {
		acc, err = r.AccountByPerson(ctx, p.ID)
	}
	if err != nil {
		return view{}, err
	}
	v := view{ID: p.ID, AAFID: p.AAFID, Login: acc.Login, Status: string(acc.Status), Source: string(p.Source),
		LastName: p.LastName, FirstName: p.FirstName, BirthDate: p.BirthDate, Email: p.Email,
		Profiles: []string{}, Structures: []string{}, Classes: []string{}, Groups: []string{},
		Parents: []string{}, Children: []string{}, Functions: []string{}, Personas: []personaView{}, Links: []directory.ExternalLink{}}
	if acc.DisappearedAt != nil {
		v.DisappearedAt = acc.DisappearedAt.UTC().Format("2006-01-02T15:04:05Z")
	}
	if acc.ValidUntil != nil {
		v.ValidUntil = acc.ValidUntil.UTC().Format("2006-01-02T15:04:05Z")
	}
	structKey := map[string]directory.Structure{}
	structure := func(id string) directory.Structure {
		if s, ok := structKey[id]; ok {
			return s
		}
		s, _ := r.Structure(ctx, id)
		structKey[id] = s
		return s
	}
	keyOf := func(s directory.Structure) string {
		if s.AAFID != "" {
			return s.AAFID
		}
		return s.UAI
	}
	personas, err := r.Personas(ctx, p.ID)
	if err != nil {
		return v, err
	}
	for _, ps := range personas {
		s := structure(ps.StructureID)
		v.Personas = append(v.Personas, personaView{Profile: ps.Profile, StructureAAF: s.AAFID, UAI: s.UAI, StructureName: s.Name, Functions: ps.Functions})
		addUnique(&v.Profiles, string(ps.Profile))
		addUnique(&v.Structures, keyOf(s))
		for _, f := range ps.Functions {
			addUnique(&v.Functions, strings.Join([]string{keyOf(s), f.Code, f.Label, f.DisciplineCode, f.DisciplineLabel}, "$"))
		}
	}
	ms, err := r.Memberships(ctx, p.ID)
	if err != nil {
		return v, err
	}
	for _, m := range ms {
		g, err := r.Group(ctx, m.GroupID)
		if err != nil {
			return v, err
		}
		key := keyOf(structure(g.StructureID)) + "$" + g.Code
		if g.Kind == directory.GroupClass {
			addUnique(&v.Classes, key)
		} else {
			addUnique(&v.Groups, key)
		}
	}
	rels, err := r.Relations(ctx, p.ID)
	if err != nil {
		return v, err
	}
	for _, rel := range rels {
		other, list := rel.ParentID, &v.Parents
		if rel.ParentID == p.ID {
			other, list = rel.ChildID, &v.Children
		}
		o, err := r.Person(ctx, other)
		if err != nil {
			return v, err
		}
		id := o.AAFID
		if id == "" {
			id = o.ID
		}
		addUnique(list, id)
	}
	if links, err := r.ExternalLinks(ctx, acc.ID); err == nil && links != nil {
		v.Links = links
	}
	for _, l := range [][]string{v.Profiles, v.Structures, v.Classes, v.Groups, v.Parents, v.Children, v.Functions} {
		sort.Strings(l)
	}
	return v, nil
}

func addUnique(list *[]string, s string) {
	if !slices.Contains(*list, s) {
		*list = append(*list, s)
	}
}

func writeJSON(w interface{ Write([]byte) (int, error) }, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
