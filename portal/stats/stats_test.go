package stats_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/portal/console"
	"github.com/enthub/enthub/portal/stats"
	"github.com/enthub/enthub/test/peer"
	"github.com/xuri/excelize/v2"
)

// fixture is a store with known activity over 2025-09-01 and 02 (Paris):
// 5 logins by 3 users in S1 (collège Jean Moulin) and S2, 2 CAS visits,
// 1 refused login; and the pages over it.
type fixture struct {
	mux    *http.ServeMux
	mu     sync.Mutex
	events []directory.Event
}

func newFixture(t *testing.T, dbURL string) *fixture {
	t.Helper()
	ctx := context.Background()
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlstore.Open(ctx, dbURL, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	at := func(day, hour int) time.Time { return time.Date(2025, 9, day, hour, 0, 0, 0, loc) }
	login := func(t time.Time, acc, st string, p directory.Profile, up string) directory.Event {
		return directory.Event{Time: t, Type: "login", AccountID: acc, StructureID: st, Profile: p, Outcome: "ok",
			Details: map[string]string{"upstream": up}}
	}
	err = s.Update(ctx, func(tx directory.Tx) error {
		for _, st := range []directory.Structure{{ID: "S1", UAI: "0130001A", Name: "Collège Jean Moulin", Source: directory.SourceAAF},
			{ID: "S2", UAI: "0130002B", Name: "Collège Marie Curie", Source: directory.SourceAAF}} {
			if err := tx.PutStructure(ctx, &st); err != nil {
				return err
			}
		}
		if err := tx.PutGroup(ctx, &directory.Group{ID: "g-admins", StructureID: "CD13", Kind: directory.GroupGroup, Code: "ADMINS_CD",
			Name: "Administrateurs", Source: directory.SourceCollectivite}); err != nil {
			return err
		}
		if err := tx.PutPerson(ctx, &directory.Person{ID: "p-grp", Source: directory.SourceCollectivite, LastName: "Admin", FirstName: "Groupe"}); err != nil {
			return err
		}
		if err := tx.SetMemberships(ctx, "p-grp", []directory.Membership{{GroupID: "g-admins", PersonID: "p-grp", Role: directory.RoleTeacher}}); err != nil {
			return err
		}
		return tx.AppendEvents(ctx,
			login(at(1, 8), "a1", "S1", directory.ProfileEleve, "educonnect"),
			login(at(1, 9), "a1", "S1", directory.ProfileEleve, "educonnect"),
			login(at(1, 10), "a2", "S1", directory.ProfileEnseignant, "agents"),
			login(at(2, 8), "a3", "S2", directory.ProfileParent, "educonnect"),
			login(at(2, 18), "a1", "S1", directory.ProfileEleve, "educonnect"),
			directory.Event{Time: at(2, 9), Type: "login", Outcome: "refused", Reason: "bad password"},
			directory.Event{Time: at(1, 8), Type: "cas.ticket.issued", AccountID: "a1", StructureID: "S1", Service: "pronote", Outcome: "ok"},
			directory.Event{Time: at(2, 8), Type: "cas.ticket.issued", AccountID: "a3", StructureID: "S2", Service: "pronote", Outcome: "ok"},
		)
	})
	if err != nil {
		t.Fatal(err)
	}
	now := at(3, 12)
	if _, err := s.FoldEvents(ctx, now, sqlstore.FoldOptions{Location: loc}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{mux: http.NewServeMux()}
	h, err := stats.New(stats.Options{
		Store: s,
		Viewer: func(r *http.Request) (stats.Viewer, bool) {
			switch r.Header.Get("X-Test-User") {
			case "admin.cd":
				return stats.Viewer{AccountID: "acc-admin", PersonID: "p-admin", Login: "admin.cd"}, true
			case "groupe.admin":
				return stats.Viewer{AccountID: "acc-grp", PersonID: "p-grp", Login: "groupe.admin"}, true
			case "eleve":
				return stats.Viewer{AccountID: "a1", PersonID: "p-a1", Login: "eleve"}, true
			}
			return stats.Viewer{}, false
		},
		Admins:       console.AdminRule{Logins: []string{"Admin.CD"}, Groups: []string{"ADMINS_CD"}},
		Audit:        func(_ context.Context, e directory.Event) { f.mu.Lock(); f.events = append(f.events, e); f.mu.Unlock() },
		ServiceNames: func() map[string]string { return map[string]string{"pronote": "Pronote"} },
		Location:     loc,
		Now:          func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	h.Routes(f.mux)
	return f
}

func (f *fixture) get(t *testing.T, user, target string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("GET", target, nil)
	if user != "" {
		r.Header.Set("X-Test-User", user)
	}
	w := httptest.NewRecorder()
	f.mux.ServeHTTP(w, r)
	return w
}

func (f *fixture) audited(t *testing.T) directory.Event {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.events) == 0 {
		t.Fatal("no audit event")
	}
	return f.events[len(f.events)-1]
}

const period = "from=2025-09-01&to=2025-09-02"

func TestConsoleStats(t *testing.T) {
	for name, dbURL := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + t.TempDir() + "/db" },
		"postgres": func(t *testing.T) string { return peer.Postgres(t) },
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, dbURL(t))

			t.Run("others are refused", func(t *testing.T) {
				for _, target := range []string{"/console/stats?" + period, "/console/stats/export?format=csv&" + period} {
					w := f.get(t, "eleve", target)
					if w.Code != http.StatusForbidden {
						t.Errorf("%s as a student: %d, want 403", target, w.Code)
					}
					if strings.Contains(w.Body.String(), "Collège") {
						t.Error("the refusal shows statistics")
					}
					if e := f.audited(t); e.Outcome != "refused" || e.AccountID != "a1" {
						t.Errorf("refusal audited as %+v", e)
					}
					if w := f.get(t, "", target); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/login" {
						t.Errorf("%s anonymous: %d to %q, want 303 to /login", target, w.Code, w.Header().Get("Location"))
					}
				}
			})

			t.Run("page", func(t *testing.T) {
				for _, user := range []string{"admin.cd", "groupe.admin"} {
					w := f.get(t, user, "/console/stats?"+period)
					if w.Code != http.StatusOK {
						t.Fatalf("%s: %d %s", user, w.Code, w.Body)
					}
					body := w.Body.String()
					for _, want := range []string{`lang="fr"`, `<dd id="total-logins">5</dd>`, `<dd id="total-users">3</dd>`,
						`<dd id="total-visits">2</dd>`, `<dd id="total-failed">1</dd>`,
						`<caption>Connexions par établissement</caption>`, `<th scope="row">Collège Jean Moulin (0130001A)</th><td>4</td><td>2</td>`,
						`<th scope="row">Élève</th><td>3</td><td>1</td>`, `<th scope="row">Pronote</th><td>2</td>`,
						`<th scope="row">08 h</th><td>2</td>`, `<title id="by-day-chart-title">Connexions par jour</title>`,
						`<label for="from">Du</label>`} {
						if !strings.Contains(body, want) {
							t.Errorf("%s: page lacks %s", user, want)
						}
					}
					for _, bad := range []string{"<script", "style=", "<style"} {
						if strings.Contains(body, bad) {
							t.Errorf("page has %s: the CSP forbids it", bad)
						}
					}
					if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
						t.Errorf("CSP %q", csp)
					}
					if e := f.audited(t); e.Type != stats.EventView || e.Outcome != "ok" || e.Details["from"] != "2025-09-01" {
						t.Errorf("view audited as %+v", e)
					}
				}
				en := f.get(t, "admin.cd", "/console/stats?lang=en&"+period).Body.String()
				if !strings.Contains(en, `<caption>Logins per school</caption>`) || !strings.Contains(en, `lang="en"`) {
					t.Error("English page not in English")
				}
				one := f.get(t, "admin.cd", "/console/stats?school=S2&"+period).Body.String()
				if !strings.Contains(one, `<dd id="total-logins">1</dd>`) || !strings.Contains(one, `<dd id="total-users">1</dd>`) {
					t.Error("the school filter is not applied")
				}
			})

			t.Run("bad filter", func(t *testing.T) {
				w := f.get(t, "admin.cd", "/console/stats?from=2025-13-01&to=2025-09-02&school=nope")
				if w.Code != http.StatusBadRequest {
					t.Fatalf("%d, want 400", w.Code)
				}
				body := w.Body.String()
				for _, want := range []string{`id="from-error"`, `aria-invalid="true"`, `Date de début invalide`, `Établissement inconnu.`, `role="alert"`} {
					if !strings.Contains(body, want) {
						t.Errorf("page lacks %s", want)
					}
				}
				if strings.Contains(body, `id="total-logins"`) {
					t.Error("figures shown for a bad filter")
				}
			})

			t.Run("csv", func(t *testing.T) {
				w := f.get(t, "admin.cd", "/console/stats/export?format=csv&by=profile&"+period)
				if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/csv") {
					t.Fatalf("%d %s", w.Code, w.Header().Get("Content-Type"))
				}
				recs, err := csv.NewReader(w.Body).ReadAll()
				if err != nil {
					t.Fatal(err)
				}
				want := [][]string{{"Profil", "Libellé", "Connexions", "Utilisateurs distincts"},
					{"eleve", "Élève", "3", "1"}, {"enseignant", "Enseignant", "1", "1"}, {"parent", "Parent", "1", "1"}}
				if !equal(recs, want) {
					t.Errorf("CSV %q, want %q", recs, want)
				}
				if e := f.audited(t); e.Type != stats.EventExport || e.Details["format"] != "csv" || e.Details["by"] != "profile" {
					t.Errorf("export audited as %+v", e)
				}
				days, err := csv.NewReader(f.get(t, "admin.cd", "/console/stats/export?format=csv&"+period).Body).ReadAll()
				if err != nil || !equal(days, [][]string{{"Jour", "Libellé", "Connexions", "Utilisateurs distincts"},
					{"2025-09-01", "2025-09-01", "3", "2"}, {"2025-09-02", "2025-09-02", "2", "2"}}) {
					t.Errorf("CSV by day %q %v", days, err)
				}
			})

			t.Run("xlsx", func(t *testing.T) {
				w := f.get(t, "admin.cd", "/console/stats/export?format=xlsx&"+period)
				if w.Code != http.StatusOK {
					t.Fatalf("%d %s", w.Code, w.Body)
				}
				x, err := excelize.OpenReader(bytes.NewReader(w.Body.Bytes()))
				if err != nil {
					t.Fatal(err)
				}
				defer x.Close()
				cell := func(sheet, ref string) string {
					t.Helper()
					v, err := x.GetCellValue(sheet, ref)
					if err != nil {
						t.Fatalf("%s!%s: %v", sheet, ref, err)
					}
					return v
				}
				for _, c := range [][3]string{{"Synthèse", "B3", "5"}, {"Synthèse", "B4", "3"}, {"Synthèse", "B6", "1"},
					{"Établissement", "A2", "S1"}, {"Établissement", "C2", "4"}, {"Établissement", "D2", "2"},
					{"Service", "B2", "Pronote"}, {"Service", "C2", "2"}, {"Heure", "C10", "2"}} {
					if got := cell(c[0], c[1]); got != c[2] {
						t.Errorf("%s!%s = %q, want %q", c[0], c[1], got, c[2])
					}
				}
				if bad := f.get(t, "admin.cd", "/console/stats/export?format=pdf&"+period); bad.Code != http.StatusBadRequest {
					t.Errorf("format=pdf: %d, want 400", bad.Code)
				}
			})
		})
	}
}

func equal(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if strings.Join(a[i], "\x00") != strings.Join(b[i], "\x00") {
			return false
		}
	}
	return true
}

// recordingLayout keeps the pages it is given.
type recordingLayout struct{ pages []stats.Page }

func (l *recordingLayout) Render(w http.ResponseWriter, _ *http.Request, p stats.Page) error {
	l.pages = append(l.pages, p)
	w.WriteHeader(cmp.Or(p.Status, http.StatusOK))
	return nil
}

// The frame names the signed-in person from the page: the guard's Viewer
// has read the account, and the layout reading it again doubled the
// account reads of every console request.
func TestLayoutGetsViewer(t *testing.T) {
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, "sqlite:"+t.TempDir()+"/db", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	layout := &recordingLayout{}
	h, err := stats.New(stats.Options{
		Store:  s,
		Layout: layout,
		Viewer: func(r *http.Request) (stats.Viewer, bool) {
			return stats.Viewer{AccountID: "acc-" + r.Header.Get("X-Test-User"), Login: r.Header.Get("X-Test-User")}, true
		},
		Admins: console.AdminRule{Logins: []string{"admin.cd"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Routes(mux)
	for _, c := range []struct {
		user   string
		status int
	}{{"admin.cd", http.StatusOK}, {"eleve", http.StatusForbidden}} {
		r := httptest.NewRequest("GET", "/console/stats?"+period, nil)
		r.Header.Set("X-Test-User", c.user)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		if w.Code != c.status || len(layout.pages) == 0 {
			t.Fatalf("%s: %d and %d pages, want %d and a page", c.user, w.Code, len(layout.pages), c.status)
		}
		if p := layout.pages[len(layout.pages)-1]; p.User != c.user {
			t.Errorf("%s: the layout got user %q", c.user, p.User)
		}
	}
}

// Wired without a zone, the pages count days as the other console pages
// do, in the site's default zone (Europe/Paris), not UTC: at 22:30 UTC on
// 2 September it is the 3rd in Paris, the default period's last day.
func TestDefaultZone(t *testing.T) {
	if _, err := time.LoadLocation("Europe/Paris"); err != nil {
		t.Skipf("no zone database: %v", err)
	}
	s, err := sqlstore.Open(context.Background(), "sqlite:"+t.TempDir()+"/db", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	h, err := stats.New(stats.Options{
		Store: s,
		Viewer: func(r *http.Request) (stats.Viewer, bool) {
			return stats.Viewer{AccountID: "acc-admin", Login: "admin.cd"}, true
		},
		Admins: console.AdminRule{Logins: []string{"admin.cd"}},
		Now:    func() time.Time { return time.Date(2025, 9, 2, 22, 30, 0, 0, time.UTC) },
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Routes(mux)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/console/stats", nil))
	if body := w.Body.String(); w.Code != http.StatusOK || !strings.Contains(body, `name="to" type="date" value="2025-09-03"`) {
		t.Errorf("%d, want the period to end on 2025-09-03:\n%s", w.Code, body)
	}
}
