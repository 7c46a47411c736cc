package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/enthub/enthub/config"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/federation/simulate"
	"github.com/enthub/enthub/portal/server"
)

// demoUpstreams starts the simulated upstreams on their own listener (their
// own origin, as real upstreams are) beside the demo, and returns the
// connectors that trust them plus the demo page's journeys. The simulation
// server stops with ctx.
func demoUpstreams(ctx context.Context, store *sqlstore.Store, listen, public, dataDir string, st *stack, journeys *[]server.Entry) ([]config.Connector, error) {
	if err := simulate.SeedAgent(ctx, store); err != nil {
		return nil, fmt.Errorf("demo agent: %w", err)
	}
	if err := simulate.SeedPrincipalParent(ctx, store); err != nil {
		return nil, fmt.Errorf("demo principal who is also a parent: %w", err)
	}
	cast, err := simulate.FindCast(ctx, store)
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(listen)
	sl, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, err
	}
	pu, _ := url.Parse(public)
	_, port, _ := net.SplitHostPort(sl.Addr().String())
	base := "http://" + net.JoinHostPort(pu.Hostname(), port)
	// Browsers reach the simulations by the public name; enthub's back
	// channel (OIDC discovery, token, userinfo) dials their listener, as
	// the public name may not resolve on this machine.
	simHost, simAddr := net.JoinHostPort(pu.Hostname(), port), sl.Addr().String()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == simHost {
			addr = simAddr
		}
		return dial(ctx, network, addr)
	}
	st.upstreamClient = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	ups, err := simulate.NewUpstreams(base, public, filepath.Join(dataDir, "simulation"), cast)
	if err != nil {
		sl.Close()
		return nil, err
	}
	srv := &http.Server{Handler: ups.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		// The simulation stands for EduConnect and the other upstreams,
		// which run on their own machines: its goroutines (connections
		// included, they inherit the label) carry a profiler label so a
		// CPU profile of the demo (--cpu-profile) tells its cost from
		// enthub's (go tool pprof -tags). Labels cost nothing unprofiled.
		pprof.SetGoroutineLabels(pprof.WithLabels(ctx, pprof.Labels("component", "upstream-simulation")))
		if err := srv.Serve(sl); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Println("simulation server:", err)
		}
	}()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	name := func(m simulate.Member) string { return m.Person.FirstName + " " + m.Person.LastName }
	*journeys = []server.Entry{
		{Name: "Connexion : choix du profil", URL: public + "/login",
			Description: "« Je suis… » puis la méthode. Les fournisseurs d'identité ci-dessous sont SIMULÉS (pages « Simulation — … »)."},
		{Name: "Élève via EduConnect (simulé)", URL: public + "/login?profile=eleve",
			Description: "Choisissez EduConnect, puis « Élève — " + name(cast.Student) + " » : réponse SAML signée et chiffrée."},
		{Name: "Parent de deux enfants (EduConnect simulé)", URL: public + "/login?profile=parent",
			Description: name(cast.Parent) + " : un profil par établissement, à choisir puis à changer via /login/persona sans se reconnecter."},
		{Name: "Enseignant dans deux établissements (portail agents simulé)", URL: public + "/login?profile=personnel",
			Description: name(cast.Teacher) + ", par le portail agents en SAML ou en OIDC ; même page pour le chef d'établissement " + name(cast.Principal) + "."},
		{Name: "Chef d'établissement, aussi parent d'élève (portail agents simulé)", URL: public + "/login?profile=personnel",
			Description: name(cast.Principal) + " a deux fiches AAF (personnel et parent), donc deux comptes ; l'adresse académique les relie : une connexion, puis le choix entre « Direction » et « Parent » (réglage de la démo, pas des préréglages)."},
		{Name: "Agent de la collectivité (EduProvence / Entra ID simulé)", URL: public + "/login?profile=collectivite",
			Description: name(cast.Agent) + " (compte hors AAF, lié par son adresse)."},
		{Name: "Élève inconnu de l'annuaire", URL: public + "/login?profile=eleve",
			Description: "EduConnect puis « Élève absent de l'annuaire » : la page dit à qui s'adresser (le secrétariat, avec l'UAI)."},
		{Name: "Déconnexion unique (jusqu'au fournisseur d'identité)", URL: public + "/logout",
			Description: "Après une connexion EduConnect ou portail agents : l'ENT envoie une LogoutRequest signée à la simulation, qui répond et renvoie ici ; en OIDC, le end_session_endpoint renvoie à l'ENT."},
		{Name: "Déconnexion initiée par EduConnect (simulé)", URL: base + "/educonnect/slo",
			Description: "La simulation envoie une LogoutRequest signée à l'ENT : les sessions ouvertes avec ce compte sont fermées (cookie, tickets CAS, jetons), les applications prévenues par canal arrière."},
		{Name: "Simulations (origine séparée)", URL: base + "/",
			Description: "Simulation — EduConnect, Simulation — portail agents (SAML, OIDC), Simulation — EduProvence (Entra ID)."},
		{Name: "Métadonnées SP d'enthub pour EduConnect", URL: public + "/federation/" + simulate.EduConnectID + "/saml/metadata"},
	}
	return ups.Connectors, nil
}
