package main

import (
	"archive/zip"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/xuri/excelize/v2"

	"github.com/enthub/enthub/config"
	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/federation/simulate"
	"github.com/enthub/enthub/idp/demorp"
	"github.com/enthub/enthub/test/peer"
)

// The journeys of `enthub demo` in Chromium, on the whole server with the
// simulated upstreams: a student by keyboard alone from the chooser to a
// CAS service, a parent and a teacher switching persona, the
// département's statistics counting those logins and exported, and the
// student's data downloaded. Every page is screenshotted at 1280 and 360
// px and checked by axe-core.
func TestBrowserJourneysSQLite(t *testing.T) {
	testBrowserJourneys(t, "sqlite", "sqlite:"+filepath.Join(t.TempDir(), "enthub.db"))
}

func TestBrowserJourneysPostgres(t *testing.T) { testBrowserJourneys(t, "postgres", peer.Postgres(t)) }

// casTile is the demo CAS service's tile on the launcher.
const casTile = `a[data-service="` + demorp.CASServiceID + `"]`

func testBrowserJourneys(t *testing.T, store, db string) {
	chrome := peer.NewChrome(t, "enthub-"+store)
	// As in `enthub demo`: the demo guest is the collectivité's administrator.
	w := startFedWorld(t, db, func(cfg *config.Config) { cfg.Portal.Admins = []string{demorp.GuestLogin} })
	cas := func(c *peer.Chrome, tab context.Context) string {
		return peer.Value(c, tab, "CAS page", chromedp.Text(chromedp.CSS("table")))
	}

	student := chrome.Tab() // its session serves "my data" below
	t.Run("student by keyboard: chooser, EduConnect, launcher, CAS service and back", func(t *testing.T) {
		c := chrome.For(t)
		c.Do(student, "launcher", chromedp.Navigate(w.base+"/portail"), chromedp.WaitVisible(chromedp.ID("profiles-title")))
		c.Check(student, "chooser")
		c.TabTo(student, `e.matches('a[href$="/login?profile=eleve"]')`)
		c.Do(student, "step 2", chromedp.WaitVisible(chromedp.ID("methods-title")))
		c.Check(student, "chooser-eleve")
		reached := c.TabThrough(student, "chooser step 2")
		if !slices.ContainsFunc(reached, func(h string) bool { return strings.HasSuffix(h, "/login") }) {
			t.Errorf("Tab on step 2 never reaches the way back to step 1: %v", reached)
		}
		methods := peer.Value(c, student, "methods", chromedp.Evaluate[[]string](`[...document.querySelectorAll('nav .choices a')].map(a => a.getAttribute('href'))`))
		for _, m := range methods {
			if !slices.Contains(reached, m) {
				t.Errorf("Tab on step 2 never reaches the method %s: %v", m, reached)
			}
		}
		c.TabTo(student, `e.textContent.includes('EduConnect')`)
		last := w.cast.Student.Person.LastName
		c.Do(student, "simulated EduConnect", chromedp.WaitVisible(chromedp.Search(`//button[contains(., "`+last+`")]`)))
		c.Check(student, "educonnect")
		c.TabTo(student, `e.tagName === 'BUTTON' && e.textContent.includes(`+strconv.Quote(last)+`)`)
		c.Do(student, "back at the launcher", chromedp.WaitVisible(chromedp.CSS(casTile)))
		if u := peer.Value(c, student, "location", chromedp.Location()); u != w.base+"/portail" {
			t.Errorf("after EduConnect the student is at %s, want the launcher", u)
		}
		c.Check(student, "launcher-eleve")
		c.TabTo(student, `e.matches('`+casTile+`')`)
		c.Do(student, "CAS service", chromedp.WaitVisible(chromedp.CSS("table")))
		c.Check(student, "cas-eleve")
		got := cas(c, student)
		if !strings.Contains(got, w.cast.Student.Account.Login) || !strings.Contains(got, w.cast.Student.UAIs[0]) {
			t.Errorf("the CAS service received:\n%s", got)
		}
		// The launcher may come back from the back-forward cache, which
		// chromedp's DOM queries do not see: ask the page itself.
		c.Do(student, "back", chromedp.Evaluate[chromedp.Void](`history.back()`), chromedp.Sleep(time.Second))
		if !peer.Value(c, student, "launcher again", chromedp.Evaluate[bool](`document.querySelector('`+casTile+`') !== null`)) {
			t.Errorf("back from the service, the launcher shows no CAS tile")
		}
		if u := peer.Value(c, student, "location", chromedp.Location()); u != w.base+"/portail" {
			t.Errorf("back from the service, the student is at %s, want the launcher", u)
		}
	})

	// switching signs in through the chooser and upstream named, picks the
	// first persona, switches to the second from the launcher, and opens
	// the CAS service as that persona.
	switching := func(name, profile, method string, m simulate.Member, p directory.Profile) func(t *testing.T) {
		return func(t *testing.T) {
			c := chrome.For(t)
			first := uaiOfProfile(m, p, "")
			second := uaiOfProfile(m, p, first)
			if first == "" || second == "" {
				t.Fatalf("%s has no two schools as %s: %v", m.Account.Login, p, m.UAIs)
			}
			tab := c.Tab()
			c.Do(tab, "chooser", chromedp.Navigate(w.base+"/portail"), chromedp.WaitVisible(chromedp.ID("profiles-title")),
				chromedp.Click(chromedp.CSS(`a[href$="/login?profile=`+profile+`"]`)))
			if method != "" { // a profile with one method goes straight to it
				c.Do(tab, "methods", chromedp.WaitVisible(chromedp.ID("methods-title")))
				c.Check(tab, name+"-methods")
				c.Do(tab, "method", chromedp.Click(chromedp.Search(`//nav//a[contains(., "`+method+`")]`)))
			}
			c.Do(tab, "upstream", chromedp.WaitVisible(chromedp.Search(`//button[contains(., "`+m.Person.LastName+`")]`)))
			c.Check(tab, name+"-upstream")
			choose := func(uai string) {
				label := chromedp.Search(`//label[contains(., "` + uai + `")]`)
				// The label reads "Profile — School, Town (UAI)"; the launcher names the school.
				text := peer.Value(c, tab, "persona "+uai, chromedp.Text(label))
				school, _, _ := strings.Cut(strings.TrimSpace(strings.SplitN(strings.SplitN(text, " — ", 2)[1], " (", 2)[0]), ", ")
				c.Do(tab, "persona "+uai, chromedp.Click(label), chromedp.Click(chromedp.CSS(`main button[type=submit]`)),
					chromedp.WaitVisible(chromedp.CSS(casTile)))
				if txt := peer.Value(c, tab, "persona", chromedp.Text(chromedp.CSS(".persona"))); !strings.Contains(txt, school) {
					t.Errorf("the launcher, after choosing %s (%s), says %q", uai, school, txt)
				}
			}
			c.Do(tab, "upstream", chromedp.Click(chromedp.Search(`//button[contains(., "`+m.Person.LastName+`")]`)),
				chromedp.WaitVisible(chromedp.CSS("fieldset")))
			c.Check(tab, name+"-personas")
			choose(first)
			c.Check(tab, name+"-launcher-1")
			c.Do(tab, "persona page", chromedp.Click(chromedp.CSS(`a[href="/login/persona"]`)), chromedp.WaitVisible(chromedp.CSS("fieldset")))
			choose(second)
			c.Check(tab, name+"-launcher-2")
			c.Do(tab, "CAS service", chromedp.Click(chromedp.CSS(casTile)), chromedp.WaitVisible(chromedp.CSS("table")))
			c.Check(tab, name+"-cas")
			got := cas(c, tab)
			for _, want := range []string{m.Account.Login, second, string(p)} {
				if !strings.Contains(got, want) {
					t.Errorf("the CAS service, after the switch to %s, shows no %q:\n%s", second, want, got)
				}
			}
			if strings.Contains(got, first) {
				t.Errorf("the CAS service still receives the first school %s:\n%s", first, got)
			}
		}
	}
	t.Run("parent switching child", switching("parent", "parent", "", w.cast.Parent, directory.ProfileParent))
	t.Run("teacher switching school", switching("teacher", "personnel", "SAML", w.cast.Teacher, directory.ProfileEnseignant))

	t.Run("département statistics count those logins and export them", func(t *testing.T) {
		c := chrome.For(t)
		admin := c.Tab()
		c.Do(admin, "guest login", chromedp.Navigate(w.base+"/login?profile=invite"), chromedp.WaitVisible(chromedp.ID("login")))
		c.Check(admin, "login-invite")
		c.Do(admin, "guest login", chromedp.SendKeys(chromedp.ID("login"), demorp.GuestLogin), chromedp.SendKeys(chromedp.ID("password"), demorp.GuestPassword),
			chromedp.Submit(chromedp.ID("password")), chromedp.WaitVisible(chromedp.CSS("main")))
		// What `enthub stats fold` does, without its lag: the journeys'
		// events are all written (the audit batches within a second).
		want := map[string]int{simulate.EduConnectID: 2, "agents-saml": 1}
		waitEvent(t, w.store, "login", func(e directory.Event) bool { return e.Details["upstream"] == "agents-saml" })
		time.Sleep(1500 * time.Millisecond)
		if _, err := w.store.FoldEvents(context.Background(), time.Now(), sqlstore.FoldOptions{Lag: time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		c.Do(admin, "statistics", chromedp.Navigate(w.base+"/console/stats"), chromedp.WaitVisible(chromedp.ID("by-upstream-table")))
		c.Check(admin, "stats")
		rows := peer.Value(c, admin, "upstream table", chromedp.Evaluate[[][]string](`[...document.querySelectorAll('#by-upstream-table tbody tr')].map(r => [...r.cells].map(c => c.textContent.trim()))`))
		shown := map[string]int{}
		for _, r := range rows {
			n, _ := strconv.Atoi(strings.ReplaceAll(r[1], "\u202f", ""))
			shown[r[0]] = n
		}
		for up, n := range want {
			if shown[up] != n {
				t.Errorf("the page shows %d logins through %s, want %d (%v)", shown[up], up, n, rows)
			}
		}

		csvFile := c.Download(admin, "CSV", chromedp.Click(chromedp.CSS(`#by-upstream-title ~ p a[href*="format=csv"]`)))
		if !strings.HasSuffix(csvFile, "-upstream.csv") {
			t.Errorf("the CSV is saved as %s", filepath.Base(csvFile))
		}
		f, err := os.Open(csvFile)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		lines, err := csv.NewReader(f).ReadAll()
		if err != nil {
			t.Fatalf("CSV %s: %v", csvFile, err)
		}
		checkCounts(t, "CSV", lines, want)

		xlsxFile := c.Download(admin, "XLSX", chromedp.Click(chromedp.CSS(`#by-upstream-title ~ p a[href*="format=xlsx"]`)))
		x, err := excelize.OpenFile(xlsxFile)
		if err != nil {
			t.Fatalf("XLSX %s: %v", xlsxFile, err)
		}
		defer x.Close()
		sheet := x.GetSheetName(0)
		cells, err := x.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		checkCounts(t, "XLSX sheet "+sheet, cells, want)
	})

	t.Run("student downloads their data", func(t *testing.T) {
		c := chrome.For(t)
		c.Do(student, "my data", chromedp.Navigate(w.base+"/portail"), chromedp.WaitVisible(chromedp.CSS(casTile)),
			chromedp.Click(chromedp.CSS(`a[href="/mydata"]`)), chromedp.WaitVisible(chromedp.CSS(`a[href$=".zip"]`)))
		c.Check(student, "mydata")
		file := c.Download(student, "ZIP", chromedp.Click(chromedp.CSS(`a[href$=".zip"]`)))
		if !strings.HasSuffix(file, w.cast.Student.Account.Login+".zip") {
			t.Errorf("the archive is saved as %s", filepath.Base(file))
		}
		z, err := zip.OpenReader(file)
		if err != nil {
			t.Fatalf("ZIP %s: %v", file, err)
		}
		defer z.Close()
		r, err := z.Open("identite.json")
		if err != nil {
			t.Fatalf("ZIP %s: %v", file, err)
		}
		raw, _ := io.ReadAll(r)
		var id map[string]any
		if err := json.Unmarshal(raw, &id); err != nil {
			t.Fatalf("identite.json: %v\n%s", err, raw)
		}
		p := w.cast.Student.Person
		if !strings.Contains(string(raw), p.LastName) || !strings.Contains(string(raw), p.FirstName) {
			t.Errorf("identite.json does not name %s %s:\n%s", p.FirstName, p.LastName, raw)
		}
	})
}

// checkCounts finds, in a breakdown's rows (a header, then key, label,
// count…), the count of each key in want.
func checkCounts(t *testing.T, what string, rows [][]string, want map[string]int) {
	t.Helper()
	got := map[string]int{}
	for _, r := range rows[1:] {
		if len(r) >= 3 {
			got[r[0]], _ = strconv.Atoi(r[2])
		}
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d logins through %s, want %d (%v)", what, got[k], k, n, rows)
		}
	}
}
