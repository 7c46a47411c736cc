package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/enthub/enthub/aaf"
	"github.com/enthub/enthub/config"
	"github.com/enthub/enthub/directory/ldap"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/idp/demorp"
	"github.com/enthub/enthub/portal/server"
	"github.com/spf13/cobra"
)

func (a *app) demoCommand() *cobra.Command {
	var httpAddr, ldapAddr, dataDir, publicURL string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run everything on an embedded store with sample data (no configuration needed)",
		Long: `demo runs enthub on an embedded SQLite store under --data, on loopback
addresses, so a newcomer sees it work with no configuration file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			if _, _, err := net.SplitHostPort(httpAddr); err != nil {
				return usageErr("--http %q: want host:port", httpAddr)
			}
			cfg.HTTP.Listen = httpAddr
			cfg.LDAP.Listen = ldapAddr
			if publicURL != "" {
				cfg.PublicURL = strings.TrimRight(publicURL, "/")
			}
			// --public-url, else public_url of the file or environment,
			// else the address the demo listens at, made reachable.
			explicit := publicURL != "" || a.origin.Set("public_url")
			if !cmd.Flags().Changed("db") && a.getenv("ENTHUB_DB") == "" {
				cfg.DB = "sqlite:" + filepath.Join(dataDir, "enthub.db")
			}
			if len(cfg.LDAP.ServiceAccounts) == 0 {
				// Demo only: a read-only account with a printed password.
				hash, err := ldap.HashPassword("demo")
				if err != nil {
					return err
				}
				cfg.LDAP.ServiceAccounts = []config.ServiceAccount{{DN: "cn=reader," + cfg.LDAP.BaseDN, PasswordHash: hash}}
			}
			if cfg.AAF.Inbox == "" {
				cfg.AAF.Inbox = filepath.Join(dataDir, "aaf-inbox")
			}
			if len(cfg.Portal.Admins) == 0 && len(cfg.Portal.AdminGroups) == 0 {
				// Demo only: the guest is the collectivité's administrator
				// (statistics, every school's news and branding); the demo
				// principal edits its own school's news.
				cfg.Portal.Admins = []string{demorp.GuestLogin}
			}
			if p := cfg.Validate(); len(p) > 0 {
				return usageErr("%v", p)
			}
			log := a.logger(cfg)
			store, err := a.openStore(cmd.Context(), cfg, log)
			if err != nil {
				return err
			}
			defer store.Close()
			if err := a.seedDemo(cmd.Context(), store, dataDir, cfg); err != nil {
				return err
			}
			st := &stack{demo: true}
			var journeys []server.Entry
			if len(cfg.Federation.Connectors) == 0 {
				st.upstreams = func(ctx context.Context, public string) ([]config.Connector, error) {
					return demoUpstreams(ctx, store, httpAddr, public, dataDir, st, &journeys)
				}
			}
			var base, note string
			st.publicURL = func(addr string) string {
				base = cfg.PublicURL
				if !explicit {
					base, note = config.PublicURLFor(addr, false, os.Hostname)
				}
				return base
			}
			st.onReady = func(addr string) {
				shown := cfg
				shown.LDAP.Listen = reachable(cfg.LDAP.Listen)
				st.index = append(demoIndex(base, shown), journeys...)
				fmt.Fprintf(a.stdout, "enthub demo is running: %s\n", base)
				if note != "" {
					fmt.Fprintf(a.stdout, "  public URL:%s\n", note)
				}
				fmt.Fprintf(a.stdout, "  store:  %s\n", cfg.DB)
				for _, e := range st.index {
					fmt.Fprintf(a.stdout, "  %-28s %s\n", e.Name, e.URL)
					if e.Command != "" {
						fmt.Fprintf(a.stdout, "  %-28s %s\n", "", e.Command)
					}
				}
				fmt.Fprintf(a.stdout, "  demo guest login:            %s / %s\n", demorp.GuestLogin, demorp.GuestPassword)
				fmt.Fprintf(a.stdout, "  demo LDAP reader:            cn=reader,%s / demo\n", cfg.LDAP.BaseDN)
				fmt.Fprintln(a.stdout, "Press Ctrl-C to stop. (Demo credentials only: never use enthub demo in production.)")
			}
			st.index = demoIndex("http://"+httpAddr, cfg)
			return a.runServices(cmd.Context(), cfg, log, store, st)
		},
	}
	cmd.Flags().StringVar(&httpAddr, "http", "127.0.0.1:8080", "HTTP listen address")
	cmd.Flags().StringVar(&ldapAddr, "ldap", "127.0.0.1:3389", "LDAP listen address")
	cmd.Flags().StringVar(&dataDir, "data", "enthub-demo", "folder of the demo's embedded store")
	cmd.Flags().StringVar(&publicURL, "public-url", "", "URL browsers reach the demo at (e.g. http://my-pc.lan:8080 for a colleague's browser; default: public_url, else the --http address)")
	return cmd
}

// reachable is addr as another program can dial it: a wildcard host
// (0.0.0.0, ::) becomes this machine's name.
func reachable(addr string) string {
	u, _ := config.PublicURLFor(addr, false, os.Hostname)
	if u == "" {
		return addr
	}
	return strings.TrimPrefix(u, "http://")
}

// demoIndex lists what the demo runs, for its start page and its banner.
func demoIndex(base string, cfg config.Config) []server.Entry {
	return []server.Entry{
		{Name: "Connexion unique (SSO)", URL: base + "/login?profile=invite",
			Description: "Compte invité de démonstration : demo.invite / demo (démonstration seulement)."},
		{Name: "Portail (lanceur)", URL: base + "/portail",
			Description: "Après connexion : les services du profil, les actualités, la personnalisation de l'établissement, le changement de profil. " +
				"demo.direction / demo y gère aussi les actualités de son collège ; demo.invite / demo, administrateur de la collectivité, les statistiques, les actualités et la personnalisation de tous les établissements."},
		{Name: "Services de démonstration", URL: base + "/demo/",
			Description: "Un client SAML, un client OIDC et un service CAS qui affichent ce qu'ils reçoivent : une connexion, trois services."},
		{Name: "Statistiques d'utilisation", URL: base + "/console/stats",
			Description: "Console de la collectivité : connexions, utilisateurs, disponibilité (avec le compte invité de démonstration)."},
		{Name: "Espaces de la collectivité", URL: base + "/console/spaces",
			Description: "Espace ATI et Espace Cuisine : des agents de plusieurs collèges, publiés dans l'annuaire LDAP (cn=espace-ati,ou=groups," + cfg.LDAP.BaseDN +
				") et transmis aux services qui demandent account.spaces ; sans droit d'administration (avec le compte invité de démonstration, administrateur)."},
		{Name: "Métadonnées SAML de l'IdP", URL: base + "/saml/idp/metadata"},
		{Name: "Découverte OIDC", URL: base + "/.well-known/openid-configuration"},
		{Name: "Santé (healthz)", URL: base + "/healthz", Description: "Le processus répond."},
		{Name: "Disponibilité (readyz)", URL: base + "/readyz", Description: "L'annuaire est joignable et son schéma est à jour."},
		{Name: "Métriques Prometheus", URL: base + "/metrics"},
		{Name: "Annuaire (base de données)", URL: cfg.DB, Description: "SQLite embarqué, rempli au premier démarrage par un export AAF généré (4 collèges)."},
		{Name: "Annuaire LDAP", URL: "ldap://" + cfg.LDAP.Listen + "/" + cfg.LDAP.BaseDN,
			Description: "Compte de lecture (démonstration) : cn=reader," + cfg.LDAP.BaseDN + " / demo. ldapsearch montre les valeurs accentuées en base64 (sn:: …) : décodez-les avec base64 -d.",
			Command:     "ldapsearch -o ldif-wrap=no -x -H ldap://" + cfg.LDAP.Listen + " -D cn=reader," + cfg.LDAP.BaseDN + " -w demo -b ou=people," + cfg.LDAP.BaseDN + " '(ENTPersonProfils=National_ENS)' cn"},
		{Name: "Dépôt AAF", URL: cfg.AAF.Inbox,
			Description: "Déposez-y une archive AAF (avec son .sha256) : elle est vérifiée puis importée. La livraison qui convient à cet annuaire " +
				"est le Delta du 17/09/2024 qui suit l'import de démonstration ; sans --delta, et avec …/ENT2D.20240918.Complet.zip, " +
				"un Complet du 18/09/2024 (à déposer après le Delta) :",
			Command: "enthub aaf generate --like-demo --delta --out " + filepath.Join(os.TempDir(), "aaf-delta") +
				" --zip " + filepath.Join(cfg.AAF.Inbox, "ENT2D.20240917.Delta.zip")},
	}
}

// seedDemo imports, on the demo's first start, a generated delivery of a
// few schools (parents with children in two schools, teachers in two
// schools included), so every feature has a realistic directory to show.
func (a *app) seedDemo(ctx context.Context, store *sqlstore.Store, dataDir string, cfg config.Config) error {
	st, err := store.Stats(ctx)
	if err != nil || st.Structures > 0 {
		return err
	}
	out := filepath.Join(dataDir, "aaf-demo")
	gen := demoDelivery()
	gen.Out, gen.Overwrite = out, true
	if _, err := aaf.Generate(ctx, gen); err != nil {
		return fmt.Errorf("demo data: %w", err)
	}
	rep, err := aaf.Import(ctx, store, []string{out}, importOptions(cfg))
	if err != nil {
		return fmt.Errorf("demo data: %w", err)
	}
	fmt.Fprintf(a.stdout, "demo directory imported: %d records, %d accounts (try: enthub dir stats --db %s)\n",
		rep.Apply.Records, rep.Apply.AccountsCreated, cfg.DB)
	return nil
}

// demoDelivery is the delivery the demo builds its directory from. `enthub
// aaf generate --like-demo` starts from it, so that what it writes fits the
// demo's directory: the Delta that follows it, or a later Complet.
func demoDelivery() aaf.GenerateOptions {
	return aaf.GenerateOptions{Students: 2400, Schools: 4, Seed: 2026}
}

// likeDemoCompletDate dates a --like-demo Complet after the demo's own
// (16/09/2024, which would be the same bytes, "already applied") and after
// the Delta that follows it (17/09/2024), so it is applied in either order.
var likeDemoCompletDate = time.Date(2024, 9, 18, 0, 0, 0, 0, time.UTC)

// likeDemo sets gen to the demo's parameters for `aaf generate
// --like-demo`; it refuses the flags it would override rather than
// silently ignore them.
func likeDemo(cmd *cobra.Command, gen *aaf.GenerateOptions) error {
	for _, f := range []string{"students", "schools", "seed"} {
		if cmd.Flags().Changed(f) {
			return usageErr("aaf generate: --like-demo sets --%s itself; drop one of them", f)
		}
	}
	d := demoDelivery()
	gen.Students, gen.Schools, gen.Seed = d.Students, d.Schools, d.Seed
	if !gen.Delta {
		gen.Date = likeDemoCompletDate // --date, parsed after, still wins
	}
	return nil
}
