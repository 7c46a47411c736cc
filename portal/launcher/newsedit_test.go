package launcher_test

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/portal/launcher"
	"github.com/enthub/enthub/test/peer"
)

// newsByTitle returns the stored message of that title.
func (s *site) newsByTitle(title string) (directory.News, bool) {
	s.t.Helper()
	ns, err := s.store.NewsList(context.Background(), "", time.Time{})
	if err != nil {
		s.t.Fatal(err)
	}
	i := slices.IndexFunc(ns, func(n directory.News) bool { return n.Title == title })
	if i < 0 {
		return directory.News{}, false
	}
	return ns[i], true
}

// events returns the audit events of a type.
func (a *auditLog) of(typ, outcome string) []directory.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []directory.Event
	for _, e := range a.events {
		if e.Type == typ && e.Outcome == outcome {
			out = append(out, e)
		}
	}
	return out
}

// A message is edited in place: text, audience and dates; a principal
// edits their school's messages only, and cannot move one to another
// school; bad input is refused field by field, in French and English,
// changing nothing; every change is audited with what it was and what it
// became.
func TestNewsEdit(t *testing.T) { testNewsEdit(t, newSite(t)) }

func TestNewsEditPostgres(t *testing.T) { testNewsEdit(t, newSiteOn(t, peer.Postgres(t))) }

func testNewsEdit(t *testing.T, s *site) {
	admin := s.signIn("admin.dept", "0130001A")
	admin.get("/portail/news")
	admin.post("/portail/news", url.Values{"title": {"Pour tous"}, "start": {"2026-09-07"}, "end": {"2026-09-08"}})
	principal := s.signIn("principal.a", "0130001A")
	principal.get("/portail/news")
	principal.post("/portail/news", url.Values{"title": {"Sortie 6e"}, "body": {"Départ 8 h"}, "start": {"2026-09-07"}, "end": {"2026-09-07"}})
	forAll, _ := s.newsByTitle("Pour tous")
	own, ok := s.newsByTitle("Sortie 6e")
	if !ok {
		t.Fatal("the principal's message was not published")
	}

	// The list links each message to its form, filled with it.
	_, body, _ := principal.get("/portail/news")
	if !strings.Contains(body, `href="/portail/news/`+own.ID+`/edit"`) || !strings.Contains(body, `aria-label="Modifier le message « Sortie 6e »"`) {
		t.Errorf("the list has no edit link for the principal's message:\n%s", body)
	}
	code, body, _ := principal.get("/portail/news/" + own.ID + "/edit")
	for _, want := range []string{`action="/portail/news/` + own.ID + `"`, `value="Sortie 6e"`, `>Départ 8 h</textarea>`,
		`name="start" value="2026-09-07"`, `name="end" value="2026-09-07"`, "Enregistrer les modifications", `href="/portail/news">Annuler`} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("edit form (%d) lacks %s", code, want)
		}
	}

	// Another school's message, or the all-schools one, is out of reach.
	for _, path := range []string{"/portail/news/" + forAll.ID + "/edit", "/portail/news/nope/edit"} {
		if code, _, _ := principal.get(path); code != http.StatusNotFound {
			t.Errorf("principal GET %s: %d, want 404", path, code)
		}
	}
	if code, _, _ := principal.post("/portail/news/"+forAll.ID, url.Values{"title": {"Piraté"}, "start": {"2026-09-07"}, "end": {"2026-09-08"}}); code != http.StatusNotFound {
		t.Errorf("principal POST the all-schools message: %d, want 404", code)
	}
	if len(s.audit.of("portal.news.update", "refused")) == 0 {
		t.Error("refused edit not audited")
	}
	// A student may not edit at all; a form without its token is refused.
	if code, _, _ := s.signIn("eleve.a", "0130001A").post("/portail/news/"+own.ID, url.Values{"title": {"x"}, "start": {"2026-09-07"}, "end": {"2026-09-08"}}); code != http.StatusForbidden {
		t.Errorf("student POST edit: %d", code)
	}
	if code, _, _ := principal.post("/portail/news/"+own.ID, url.Values{"csrf": {"forged"}, "title": {"x"}, "start": {"2026-09-07"}, "end": {"2026-09-08"}}); code != http.StatusForbidden {
		t.Errorf("edit without its token: %d", code)
	}

	// Bad input: each problem tied to its field, nothing changed.
	for _, c := range []struct {
		lang, field, text string
		form              url.Values
	}{
		{"fr", "title", "Indiquez un titre de 120 caractères au plus.", url.Values{"title": {""}, "start": {"2026-09-07"}, "end": {"2026-09-08"}}},
		{"fr", "end", "La date de fin précède la date de début.", url.Values{"title": {"x"}, "start": {"2026-09-09"}, "end": {"2026-09-08"}}},
		{"en", "start", "Enter a date as YYYY-MM-DD.", url.Values{"title": {"x"}, "start": {"9/7/2026"}, "end": {"2026-09-08"}}},
		{"en", "profile", "This profile does not exist.", url.Values{"title": {"x"}, "start": {"2026-09-07"}, "end": {"2026-09-08"}, "profile": {"pirate"}}},
	} {
		code, body, _ := principal.post("/portail/news/"+own.ID+"?lang="+c.lang, c.form)
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, `href="#`+c.field+`"`) ||
			!strings.Contains(body, `id="`+c.field+`-error">`+c.text) || !strings.Contains(body, `action="/portail/news/`+own.ID+`"`) {
			t.Errorf("%s %v: %d, the error is not tied to %s with %q", c.lang, c.form, code, c.field, c.text)
		}
	}
	if got, _ := s.newsByTitle("Sortie 6e"); got != own {
		t.Fatalf("a refused edit changed the message: %+v", got)
	}

	// A good edit: new text, parents only, a longer window; the school
	// stays the principal's whatever the form says; author kept. (French
	// chosen again: the English of the cases above is kept by the cookie.)
	code, body, _ = principal.post("/portail/news/"+own.ID+"?lang=fr", url.Values{"title": {"Sortie des 6e"}, "body": {"Départ 9 h"},
		"start": {"2026-09-08"}, "end": {"2026-09-10"}, "profile": {"parent"}, "school": {s.schools["0130002B"]}})
	if code != http.StatusOK || !strings.Contains(body, "Le message est modifié.") {
		t.Fatalf("edit: %d\n%s", code, body)
	}
	got, ok := s.newsByTitle("Sortie des 6e")
	paris, _ := time.LoadLocation("Europe/Paris")
	want := directory.News{ID: own.ID, StructureID: s.schools["0130001A"], Profile: directory.ProfileParent, Title: "Sortie des 6e",
		Body: "Départ 9 h", Start: time.Date(2026, 9, 8, 0, 0, 0, 0, paris).UTC(), End: time.Date(2026, 9, 11, 0, 0, 0, 0, paris).UTC(),
		CreatedBy: own.CreatedBy, CreatedAt: own.CreatedAt}
	if !ok || !got.Start.Equal(want.Start) || !got.End.Equal(want.End) {
		t.Fatalf("after the edit: %+v, want %+v", got, want)
	}
	got.Start, got.End = want.Start, want.End
	if got != want {
		t.Errorf("after the edit: %+v, want %+v", got, want)
	}
	ev := s.audit.of("portal.news.update", "success")
	if len(ev) != 1 {
		t.Fatalf("update events: %+v", ev)
	}
	for k, v := range map[string]string{"news": own.ID, "title.before": "Sortie 6e", "title.after": "Sortie des 6e",
		"body.before": "Départ 8 h", "body.after": "Départ 9 h", "start.before": "2026-09-07", "start.after": "2026-09-08",
		"end.before": "2026-09-07", "end.after": "2026-09-10", "profile.before": "", "profile.after": "parent"} {
		if ev[0].Details[k] != v {
			t.Errorf("audit detail %s = %q, want %q (%v)", k, ev[0].Details[k], v, ev[0].Details)
		}
	}
	if _, moved := ev[0].Details["structure.after"]; moved {
		t.Errorf("the audit says the school changed: %v", ev[0].Details)
	}
	// What the readers see follows: parents of school A from the 8th.
	s.clock.Set(t0.Add(24 * time.Hour))
	if _, body, _ := s.signIn("eleve.a", "0130001A").get("/portail"); slices.Contains(newsTitles(body), "Sortie des 6e") {
		t.Error("a student sees the message now for parents")
	}
	s.clock.Set(t0)

	// The administrator may move a message to another school.
	admin.get("/portail/news/" + own.ID + "/edit")
	if code, _, _ := admin.post("/portail/news/"+own.ID, url.Values{"title": {"Sortie des 6e"}, "body": {"Départ 9 h"},
		"start": {"2026-09-08"}, "end": {"2026-09-10"}, "profile": {"parent"}, "school": {s.schools["0130002B"]}}); code != http.StatusOK {
		t.Fatalf("admin edit: %d", code)
	}
	if got, _ := s.newsByTitle("Sortie des 6e"); got.StructureID != s.schools["0130002B"] {
		t.Errorf("the administrator could not move the message: %+v", got)
	}
	if ev := s.audit.of("portal.news.update", "success"); len(ev) != 2 || ev[1].Details["structure.before"] != s.schools["0130001A"] ||
		ev[1].Details["structure.after"] != s.schools["0130002B"] || ev[1].Details["title.before"] != "" {
		t.Errorf("the move's audit: %+v", ev)
	}
}

// The news window follows the site's zone: in Cayenne (UTC−3) a message
// from the 7th to the 7th is shown from 03:00 UTC on the 7th until 02:59
// UTC on the 8th, and its edit form shows the same days back.
func TestNewsWindowInTheSiteZone(t *testing.T) {
	cayenne, err := time.LoadLocation("America/Cayenne")
	if err != nil {
		t.Skip("no zone database:", err)
	}
	s := newSiteWith(t, "sqlite:"+filepath.Join(t.TempDir(), "enthub.db"), func(o *launcher.Options) { o.Location = cayenne })
	admin := s.signIn("admin.dept", "0130001A")
	admin.get("/portail/news")
	admin.post("/portail/news", url.Values{"title": {"Journée en Guyane"}, "start": {"2026-09-07"}, "end": {"2026-09-07"}})
	n, ok := s.newsByTitle("Journée en Guyane")
	if !ok || !n.Start.Equal(time.Date(2026, 9, 7, 3, 0, 0, 0, time.UTC)) || !n.End.Equal(time.Date(2026, 9, 8, 3, 0, 0, 0, time.UTC)) {
		t.Fatalf("stored window %s – %s, want Cayenne's midnights", n.Start, n.End)
	}
	if _, body, _ := admin.get("/portail/news/" + n.ID + "/edit"); !strings.Contains(body, `name="start" value="2026-09-07"`) ||
		!strings.Contains(body, `name="end" value="2026-09-07"`) {
		t.Errorf("the edit form shows other days:\n%s", body)
	}
	for _, c := range []struct {
		at    time.Time
		shown bool
	}{
		{time.Date(2026, 9, 7, 2, 59, 0, 0, time.UTC), false},
		{time.Date(2026, 9, 7, 3, 0, 0, 0, time.UTC), true},
		{time.Date(2026, 9, 8, 2, 59, 0, 0, time.UTC), true}, // 23:59 on the 7th in Cayenne
		{time.Date(2026, 9, 8, 3, 0, 0, 0, time.UTC), false},
	} {
		s.clock.Set(c.at)
		_, body, _ := s.signIn("eleve.a", "0130001A").get("/portail")
		if got := slices.Contains(newsTitles(body), "Journée en Guyane"); got != c.shown {
			t.Errorf("at %s: shown %v, want %v", c.at, got, c.shown)
		}
	}
}
