package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enthub/enthub/config"
	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/federation/simulate"
	"github.com/enthub/enthub/test/peer"
)

// casRecorder is a CAS relying party that keeps the tickets it is sent
// and the back-channel logout requests enthub posts to it.
type casRecorder struct {
	*httptest.Server
	mu      sync.Mutex
	tickets []string
	logouts []string
}

func newCASRecorder(t *testing.T) *casRecorder {
	rec := &casRecorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if r.Method == http.MethodPost {
			r.ParseForm()
			rec.logouts = append(rec.logouts, r.PostForm.Get("logoutRequest"))
			return
		}
		rec.tickets = append(rec.tickets, r.URL.Query().Get("ticket"))
		fmt.Fprintln(w, "service reached")
	}))
	t.Cleanup(rec.Close)
	return rec
}

// lastTicket is the last ticket the service was sent.
func (rec *casRecorder) lastTicket(t *testing.T) string {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.tickets) == 0 || rec.tickets[len(rec.tickets)-1] == "" {
		t.Fatalf("the CAS service got no ticket (%q)", rec.tickets)
	}
	return rec.tickets[len(rec.tickets)-1]
}

// waitLogout waits for the back-channel logout request of ticket.
func (rec *casRecorder) waitLogout(t *testing.T, ticket string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		rec.mu.Lock()
		for _, l := range rec.logouts {
			if strings.Contains(l, "<samlp:SessionIndex>"+ticket+"</samlp:SessionIndex>") {
				rec.mu.Unlock()
				return
			}
		}
		rec.mu.Unlock()
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no back-channel logout for ticket %s (got %q)", ticket, rec.logouts)
}

// startFedWorldWithCAS is startFedWorld with a CAS relying party that
// records back-channel logouts.
func startFedWorldWithCAS(t *testing.T, db string) (*fedWorld, *casRecorder) {
	rec := newCASRecorder(t)
	sf := filepath.Join(t.TempDir(), "services.yaml")
	services := fmt.Sprintf(`- id: recorder-cas
  name: CAS recorder
  protocol: cas
  release: {principal: account.login}
  cas: {service_patterns: ['^%s/app$'], single_logout: true}
`, rec.URL)
	if err := os.WriteFile(sf, []byte(services), 0o644); err != nil {
		t.Fatal(err)
	}
	return startFedWorld(t, db, func(c *config.Config) { c.SSO.ServicesFile = sf }), rec
}

// reachRecorder logs the browser's session into the recorder service and
// returns the ticket it got.
func (b *browser) reachRecorder(w *fedWorld, rec *casRecorder) string {
	b.t.Helper()
	b.get(w.base + "/cas/login?service=" + url.QueryEscape(rec.URL+"/app")).expect("service reached")
	return rec.lastTicket(b.t)
}

// loggedOut checks the browser's enthub session is gone: the CAS login
// asks who the person is again instead of issuing a ticket.
func (b *browser) loggedOut(w *fedWorld, rec *casRecorder) {
	b.t.Helper()
	b.get(w.base + "/cas/login?service=" + url.QueryEscape(rec.URL+"/app"))
	if strings.HasPrefix(b.url, rec.URL) {
		b.t.Fatalf("the session cookie still works: the CAS login went on to %s", b.url)
	}
	b.expect("Je suis")
}

func casValidate(t *testing.T, w *fedWorld, rec *casRecorder, ticket string) string {
	t.Helper()
	resp, err := http.Get(w.base + "/cas/p3/serviceValidate?service=" + url.QueryEscape(rec.URL+"/app") + "&ticket=" + url.QueryEscape(ticket))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return string(raw)
}

func testFederatedLogout(t *testing.T, db string) {
	w, rec := startFedWorldWithCAS(t, db)
	cas := w.base + "/demo/cas/"
	studentLogin := func(t *testing.T) *browser {
		b := newBrowser(t)
		b.get(cas).follow("un élève").method("EduConnect")
		b.submit(w.cast.Student.Person.LastName, nil).submit("", nil)
		b.atCAS(w, w.cast.Student.Account.Login, "eleve", w.cast.Student.UAIs[0])
		return b
	}

	t.Run("logout at enthub goes through EduConnect's SLO and back", func(t *testing.T) {
		b := studentLogin(t)
		ticket := b.reachRecorder(w, rec)
		if got := casValidate(t, w, rec, ticket); !strings.Contains(got, w.cast.Student.Account.Login) {
			t.Fatalf("ticket refused before logout:\n%s", got)
		}
		b.get(w.base+"/logout").submit("", nil)
		if !strings.HasPrefix(b.url, w.base+"/logout?done=1") {
			t.Fatalf("logout ended at %s (%d), want enthub's logged-out page:\n%s", b.url, b.code, b.body)
		}
		rec.waitLogout(t, ticket)
		waitEvent(t, w.store, "logout.upstream", func(e directory.Event) bool {
			return e.Outcome == "ok" && e.Details["connector"] == simulate.EduConnectID && e.Details["direction"] == "to upstream"
		})
		b.loggedOut(w, rec)
		// The simulation ended its session too: nobody left to log out.
		b.get(w.ups.Base + "/educonnect/slo").expect("Aucune session de simulation")
	})

	t.Run("logout at enthub goes through the agents portal's end_session_endpoint and back", func(t *testing.T) {
		b := newBrowser(t)
		b.get(cas).follow("un enseignant").method("OIDC").submit(w.cast.Principal.Person.LastName, nil)
		if strings.Contains(b.body, "Choisissez votre profil") {
			b.choosePersona("Direction")
		}
		ticket := b.reachRecorder(w, rec)
		b.get(w.base+"/logout").submit("", nil)
		if !strings.HasPrefix(b.url, w.base+"/logout?done=1") {
			t.Fatalf("logout ended at %s (%d), want enthub's logged-out page:\n%s", b.url, b.code, b.body)
		}
		rec.waitLogout(t, ticket)
		b.loggedOut(w, rec)
	})

	t.Run("EduConnect-initiated logout ends enthub's sessions", func(t *testing.T) {
		b := studentLogin(t)
		validated := b.reachRecorder(w, rec)
		casValidate(t, w, rec, validated)
		unused := b.reachRecorder(w, rec) // issued, not yet validated
		b.get(w.ups.Base + "/educonnect/slo").expect("Déconnecter partout")
		b.submit(w.cast.Student.Person.LastName, nil)
		if !strings.HasPrefix(b.url, w.ups.Base+"/educonnect/slo") {
			t.Fatalf("IdP-initiated logout ended at %s (%d):\n%s", b.url, b.code, b.body)
		}
		b.expect("Déconnexion terminée")
		rec.waitLogout(t, validated)
		if got := casValidate(t, w, rec, unused); !strings.Contains(got, "authenticationFailure") {
			t.Errorf("a ticket of the ended session still validates:\n%s", got)
		}
		waitEvent(t, w.store, "logout.upstream", func(e directory.Event) bool {
			return e.Outcome == "ok" && e.Details["direction"] == "from upstream" && e.Details["sessions"] == "1"
		})
		b.loggedOut(w, rec)
	})
}

func TestFederatedLogoutSQLite(t *testing.T) {
	testFederatedLogout(t, "sqlite:"+filepath.Join(t.TempDir(), "enthub.db"))
}

func TestFederatedLogoutPostgres(t *testing.T) {
	testFederatedLogout(t, peer.Postgres(t))
}
