package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/config"
	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/sqlstore"
)

// One time zone for the whole site: with time_zone America/Cayenne (UTC−3
// all year), a guest's last day and a day of statistics end at Cayenne's
// midnight, not Paris's; the launcher's news windows follow the zone it is
// given (portal/launcher's TestNewsEdit), cfg.Location(). The deprecated stats.time_zone still sets it, with a
// warning from config check.
func TestSiteTimeZone(t *testing.T) {
	cayenne, err := time.LoadLocation("America/Cayenne")
	if err != nil {
		t.Skip("no zone database:", err)
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name, yaml, warning string
	}{
		{"time_zone", "time_zone: America/Cayenne\n", ""},
		{"deprecated stats.time_zone", "stats:\n  time_zone: America/Cayenne\n", "stats.time_zone is deprecated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".yaml")
			if err := os.WriteFile(file, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out, errs := enthub(t, nil, "config", "check", file)
			if code != 0 || !strings.Contains(out, "ok") || (tc.warning != "") != strings.Contains(errs, "warning:") ||
				!strings.Contains(errs, tc.warning) {
				t.Errorf("config check = %d %q %q, want ok and warning %q", code, out, errs, tc.warning)
			}
			db := guestDB(t)
			// The guest's last day: --until 2027-01-31 ends at the next
			// midnight in Cayenne, 03:00 UTC (Paris would give 23:00 UTC).
			code, out, errs = enthub(t, nil, "guest", "create", "--config", file, "--db", db, "--uai", "0130001A",
				"--first-name", "Maëlle", "--last-name", "Horth", "--role", "intervenante", "--until", "2027-01-31", "--json")
			var g struct {
				ValidUntil time.Time `json:"valid_until"`
			}
			if code != 0 || json.Unmarshal([]byte(out), &g) != nil {
				t.Fatalf("guest create = %d %s %s", code, out, errs)
			}
			if want := time.Date(2027, 2, 1, 0, 0, 0, 0, cayenne); !g.ValidUntil.Equal(want) {
				t.Errorf("valid_until = %s, want %s (Cayenne's midnight)", g.ValidUntil.UTC(), want.UTC())
			}
			_, out, _ = enthub(t, nil, "guest", "list", "--config", file, "--db", db, "--uai", "0130001A")
			if !strings.Contains(out, "to 2027-01-31") {
				t.Errorf("guest list shows the last day in another zone: %s", out)
			}

			// A login at 02:30 UTC on 2 September is on 1 September in
			// Cayenne (23:30), on 2 September in Paris.
			s, err := sqlstore.Open(context.Background(), db, sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Update(context.Background(), func(tx directory.Tx) error {
				return tx.AppendEvents(context.Background(), directory.Event{Time: time.Date(2025, 9, 2, 2, 30, 0, 0, time.UTC),
					Type: "login", AccountID: "a1", Profile: directory.ProfileEleve, Outcome: "ok"})
			})
			s.Close()
			if err != nil {
				t.Fatal(err)
			}
			if code, out, errs := enthub(t, nil, "stats", "fold", "--config", file, "--db", db); code != 0 {
				t.Fatalf("stats fold = %d %s %s", code, out, errs)
			}
			code, out, errs = enthub(t, nil, "stats", "--config", file, "--db", db, "--since", "2025-09-01", "--until", "2025-09-02", "--csv")
			if code != 0 || !strings.Contains(out, "2025-09-01,,1,1") || strings.Contains(out, "2025-09-02,") {
				t.Errorf("stats by day = %d %q %s, want the login on 2025-09-01", code, out, errs)
			}

			// The launcher and the principal's console are given
			// cfg.Location() (launcherwiring.go, consolewiring.go).
			cfg, _, err := config.Read(file, nil, config.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Location().String(); got != "America/Cayenne" {
				t.Errorf("the site's zone = %s", got)
			}
		})
	}
}
