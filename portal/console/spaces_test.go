package console_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/spaces"
	"github.com/enthub/enthub/portal/console"
)

// withSpaces adds to the site a collectivité administrator (admin.cd, by
// login in the admin rule), an ATI agent (agent.ati) and the spaces' pages.
func (s *site) withSpaces() *site {
	s.t.Helper()
	ctx := context.Background()
	err := s.store.Update(ctx, func(tx directory.Tx) error {
		for _, p := range []struct{ login, first, last string }{
			{"admin.cd", "Agnès", "Administratrice"},
			{"agent.ati", "Théo", "Technicien"},
		} {
			per := &directory.Person{FirstName: p.first, LastName: p.last, Source: directory.SourceManual}
			if err := tx.PutPerson(ctx, per); err != nil {
				return err
			}
			acc := &directory.Account{PersonID: per.ID, Login: p.login, Status: directory.StatusActive, Source: directory.SourceManual}
			if err := tx.PutAccount(ctx, acc); err != nil {
				return err
			}
			if err := tx.SetPersonas(ctx, per.ID, directory.SourceManual, []directory.Persona{{StructureID: s.schools["0130001A"],
				Profile: directory.ProfileCollectivite}}); err != nil {
				return err
			}
			s.persons[p.login] = per.ID
		}
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
	layout, err := console.NewLayout(console.Options{SiteName: "ENT test"})
	if err != nil {
		s.t.Fatal(err)
	}
	sp, err := console.NewSpaces(layout, console.SpacesOptions{Spaces: &spaces.Service{Store: s.store, Now: s.clock.Now},
		Sessions: s.idp, Admins: console.AdminRule{Logins: []string{"Admin.CD"}}, PublicURL: s.srv.URL})
	if err != nil {
		s.t.Fatal(err)
	}
	sp.Routes(s.mux)
	return s
}

func (s *site) accountID(login string) string {
	s.t.Helper()
	acc, err := s.store.AccountByLogin(context.Background(), login)
	if err != nil {
		s.t.Fatal(err)
	}
	return acc.ID
}

// An administrator creates a space, finds an agent by name and adds them,
// renames the space, removes the agent and deletes the space; each change
// is audited with who made it.
func TestSpacesConsole(t *testing.T) {
	s := newSite(t, "sqlite:"+t.TempDir()+"/e.db", false).withSpaces()
	b := s.signIn("admin.cd")
	if st, body, _ := b.get("/console/spaces"); st != http.StatusOK || !strings.Contains(body, "Aucun espace") {
		t.Fatalf("empty list: %d\n%s", st, body)
	}
	b.get("/console/spaces/new")
	// A bad code comes back with its error tied to the field, nothing made.
	st, body, _ := b.post("/console/spaces", url.Values{"code": {"Espace ATI"}, "name": {""}})
	if st != http.StatusBadRequest || !strings.Contains(body, `id="code-error"`) || !strings.Contains(body, `id="name-error"`) ||
		!strings.Contains(body, `aria-describedby="code-hint code-error"`) ||
		!strings.Contains(body, `<p class="field-error" id="code-error">Le code ne peut contenir que des lettres minuscules sans accent`) ||
		!strings.Contains(body, `<p class="field-error" id="name-error">Indiquez le nom de l&#39;espace.</p>`) {
		t.Fatalf("refused creation: %d\n%s", st, body)
	}
	st, _, h := b.post("/console/spaces", url.Values{"code": {"espace-ati"}, "name": {"Espace ATI"}, "description": {"Techniciens des collèges"}})
	if st != http.StatusSeeOther || h.Get("Location") != "/console/spaces/espace-ati?done=created" {
		t.Fatalf("creation: %d %s", st, h.Get("Location"))
	}
	if st, body, _ := b.post("/console/spaces", url.Values{"code": {"espace-ati"}, "name": {"Autre"}}); st != http.StatusBadRequest ||
		!strings.Contains(body, "Un espace porte déjà ce code.") {
		t.Fatalf("second creation with the code: %d\n%s", st, body)
	}

	// The search finds the agent by part of the name; adding them.
	st, body, _ = b.get("/console/spaces/espace-ati?q=techni")
	agent := s.accountID("agent.ati")
	if st != http.StatusOK || !strings.Contains(body, `name="account" value="`+agent+`"`) || !strings.Contains(body, "Théo Technicien (agent.ati)") {
		t.Fatalf("search: %d\n%s", st, body)
	}
	// Typed without the accent, in capitals: the same agent.
	if _, body, _ := b.get("/console/spaces/espace-ati?q=THEO+TECHNICIEN"); !strings.Contains(body, "Théo Technicien (agent.ati)") {
		t.Errorf("search without accents finds nothing:\n%s", body)
	}
	if st, _, h := b.post("/console/spaces/espace-ati/members", url.Values{"account": {agent}}); st != http.StatusSeeOther ||
		!strings.HasSuffix(h.Get("Location"), "?done=added") {
		t.Fatalf("add member: %d %s", st, h.Get("Location"))
	}
	if st, body, _ := b.post("/console/spaces/espace-ati/members", url.Values{"account": {agent}}); st != http.StatusBadRequest ||
		!strings.Contains(body, "déjà membre") {
		t.Fatalf("added twice: %d\n%s", st, body)
	}
	_, body, _ = b.get("/console/spaces/espace-ati?q=techni")
	if !strings.Contains(body, "<td data-label=\"Identifiant\">agent.ati</td>") || strings.Contains(body, `name="account" value="`+agent+`"`) {
		t.Errorf("the member is listed and no longer offered:\n%s", body)
	}
	if _, body, _ := b.get("/console/spaces?lang=en"); !regexp.MustCompile(`(?s)Espace ATI</th>.*espace-ati.*<td data-label="Members">1</td>`).MatchString(body) {
		t.Errorf("English list lacks the space with one member:\n%s", body)
	}

	if st, _, _ := b.post("/console/spaces/espace-ati", url.Values{"name": {"Espace des ATI"}, "description": {""}}); st != http.StatusSeeOther {
		t.Fatalf("rename: %d", st)
	}
	if sp, _ := s.store.Space(context.Background(), "espace-ati"); sp.Name != "Espace des ATI" || sp.Description != "" {
		t.Errorf("after rename: %+v", sp)
	}
	if st, _, _ := b.post("/console/spaces/espace-ati/members/"+agent+"/remove", url.Values{}); st != http.StatusSeeOther {
		t.Fatalf("remove: %d", st)
	}
	if st, _, _ := b.post("/console/spaces/espace-ati/members/"+agent+"/remove", url.Values{}); st != http.StatusNotFound {
		t.Errorf("removing a non-member: %d, want 404", st)
	}
	if st, _, h := b.post("/console/spaces/espace-ati/delete", url.Values{}); st != http.StatusSeeOther || h.Get("Location") != "/console/spaces?done=deleted" {
		t.Fatalf("delete: %d %s", st, h.Get("Location"))
	}
	if st, _, _ := b.get("/console/spaces/espace-ati"); st != http.StatusNotFound {
		t.Errorf("deleted space: %d, want 404", st)
	}

	admin := s.accountID("admin.cd")
	for _, typ := range []string{spaces.EventCreate, spaces.EventMemberAdd, spaces.EventUpdate, spaces.EventMemberRemove, spaces.EventDelete} {
		es := s.events(typ)
		if len(es) != 1 || es[0].AccountID != admin || es[0].Details["space"] != "espace-ati" || es[0].Remote != "127.0.0.1" {
			t.Errorf("%s events: %+v, want one by the administrator", typ, es)
		}
	}
}

// Being in a space grants no right on the console: a member of a space
// (even one named like an admin group), a teacher and a principal are
// refused every page and every change, each refusal audited; a visitor
// without a session is sent to the login; a form without its token is
// refused.
func TestSpacesConsoleRefusals(t *testing.T) {
	s := newSite(t, "sqlite:"+t.TempDir()+"/e.db", false).withSpaces()
	ctx := context.Background()
	svc := &spaces.Service{Store: s.store, Now: s.clock.Now}
	if _, err := svc.Create(ctx, spaces.Actor{ID: "cli:t"}, "admins", "Administrateurs", ""); err != nil {
		t.Fatal(err)
	}
	if err := svc.AddMember(ctx, spaces.Actor{ID: "cli:t"}, "admins", s.accountID("agent.ati")); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"agent.ati", "teacher.a", "principal.a"} {
		b := s.signIn(who)
		for _, path := range []string{"/console/spaces", "/console/spaces/new", "/console/spaces/admins"} {
			if st, body, _ := b.get(path); st != http.StatusForbidden || !strings.Contains(body, "ne donne aucun droit") {
				t.Errorf("%s GET %s: %d, want 403 with the reason", who, path, st)
			}
		}
		b.csrf = console.SessionCSRF("whatever") // no page gave a token
		for _, path := range []string{"/console/spaces", "/console/spaces/admins/delete", "/console/spaces/admins/members"} {
			if st, _, _ := b.post(path, url.Values{"code": {"x"}, "name": {"x"}, "account": {s.accountID(who)}}); st != http.StatusForbidden {
				t.Errorf("%s POST %s: %d, want 403", who, path, st)
			}
		}
	}
	if ms, _ := s.store.SpaceMembers(ctx, "admins"); len(ms) != 1 {
		t.Errorf("refused requests changed the members: %+v", ms)
	}
	if all, _ := s.store.Spaces(ctx); len(all) != 1 {
		t.Errorf("refused requests changed the spaces: %+v", all)
	}
	if n := len(s.events("console.denied")); n != 18 {
		t.Errorf("%d console.denied events, want 18 (one per refused request)", n)
	}
	if st, _, h := s.browser().get("/console/spaces"); st != http.StatusSeeOther || h.Get("Location") != "/login" {
		t.Errorf("anonymous: %d %s, want the login", st, h.Get("Location"))
	}
	b := s.signIn("admin.cd")
	b.get("/console/spaces/admins")
	b.csrf = "forged"
	if st, _, _ := b.post("/console/spaces/admins/delete", url.Values{}); st != http.StatusForbidden {
		t.Errorf("delete without the token: %d, want 403", st)
	}
	if _, err := s.store.Space(ctx, "admins"); err != nil || len(s.events("console.csrf")) != 1 {
		t.Errorf("the forged form deleted the space (%v) or was not audited", err)
	}
}

// Wired without a zone, the page dates as the principal's console does, in
// the site's default zone (Europe/Paris), not UTC: a member added at
// 22:30 UTC on 7 September was added on the 8th in Paris.
func TestSpacesDefaultZone(t *testing.T) {
	if _, err := time.LoadLocation("Europe/Paris"); err != nil {
		t.Skipf("no zone database: %v", err)
	}
	s := newSite(t, "sqlite:"+t.TempDir()+"/e.db", false).withSpaces()
	s.clock.Set(time.Date(2026, 9, 7, 22, 30, 0, 0, time.UTC))
	b := s.signIn("admin.cd")
	b.get("/console/spaces/new")
	if st, _, _ := b.post("/console/spaces", url.Values{"code": {"espace-ati"}, "name": {"Espace ATI"}}); st != http.StatusSeeOther {
		t.Fatalf("creation: %d", st)
	}
	b.get("/console/spaces/espace-ati")
	if st, _, _ := b.post("/console/spaces/espace-ati/members", url.Values{"account": {s.accountID("agent.ati")}}); st != http.StatusSeeOther {
		t.Fatalf("add member: %d", st)
	}
	for lang, want := range map[string]string{"fr": ">08/09/2026</td>", "en": ">2026-09-08</td>"} {
		if _, body, _ := b.get("/console/spaces/espace-ati?lang=" + lang); !strings.Contains(body, want) {
			t.Errorf("%s: the member's date is not %s in Paris:\n%s", lang, want, body)
		}
	}
}
