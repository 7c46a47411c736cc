package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/sqlstore"
)

// `enthub stats` reads the statistics folded from the audit trail: the
// figures of a known trail, by breakdown, per school, as CSV and JSON.
func TestStatsCommand(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "e.db")
	if code, out, errs := enthub(t, nil, "db", "migrate", "--db", db); code != 0 {
		t.Fatalf("migrate = %d %s %s", code, out, errs)
	}
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, db, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation("Europe/Paris")
	at := func(day, hour int) time.Time { return time.Date(2025, 9, day, hour, 0, 0, 0, loc) }
	login := func(t time.Time, acc, st string, p directory.Profile) directory.Event {
		return directory.Event{Time: t, Type: "login", AccountID: acc, StructureID: st, Profile: p, Outcome: "ok",
			Details: map[string]string{"upstream": "educonnect"}}
	}
	err = s.Update(ctx, func(tx directory.Tx) error {
		if err := tx.PutStructure(ctx, &directory.Structure{ID: "S1", UAI: "0130001A", Name: "Collège Jean Moulin", Source: directory.SourceAAF}); err != nil {
			return err
		}
		return tx.AppendEvents(ctx, login(at(1, 8), "a1", "S1", directory.ProfileEleve), login(at(1, 9), "a1", "S1", directory.ProfileEleve),
			login(at(2, 8), "a2", "S2", directory.ProfileParent))
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if code, out, errs := enthub(t, nil, "stats", "fold", "--db", db); code != 0 || !strings.Contains(out, "3 events counted") {
		t.Fatalf("stats fold = %d %s %s", code, out, errs)
	}
	period := []string{"--since", "2025-09-01", "--until", "2025-09-02", "--db", db}
	code, out, errs := enthub(t, nil, append([]string{"stats", "--by", "profile", "--csv"}, period...)...)
	if code != 0 || out != "Profil,Libellé,Connexions,Utilisateurs distincts\neleve,,2,1\nparent,,1,1\n" {
		t.Errorf("stats --by profile --csv = %d %q %s", code, out, errs)
	}
	code, out, errs = enthub(t, nil, append([]string{"stats", "--uai", "0130001A", "--json"}, period...)...)
	var rep struct {
		Logins int64 `json:"logins"`
		Users  int64 `json:"users"`
		By     string
		Rows   []struct {
			Key    string `json:"key"`
			Logins int64  `json:"logins"`
		} `json:"rows"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil {
		t.Fatalf("stats --json = %d %s %s", code, out, errs)
	}
	if rep.Logins != 2 || rep.Users != 1 || rep.By != "day" || len(rep.Rows) != 1 || rep.Rows[0].Key != "2025-09-01" {
		t.Errorf("stats --uai 0130001A --json = %+v", rep)
	}
	code, out, _ = enthub(t, nil, append([]string{"stats", "--by", "school"}, period...)...)
	if code != 0 || !strings.Contains(out, "connexions 3 · utilisateurs distincts 2") || !strings.Contains(out, "S1 Collège Jean Moulin (0130001A)") {
		t.Errorf("stats --by school = %d %s", code, out)
	}
	for _, bad := range [][]string{{"--by", "week"}, {"--since", "yesterday"}, {"--csv", "--json"}} {
		if code, _, errs := enthub(t, nil, append(append([]string{"stats"}, bad...), "--db", db)...); code != 2 {
			t.Errorf("stats %v = %d %s, want 2", bad, code, errs)
		}
	}
	if code, _, errs := enthub(t, nil, "stats", "--uai", "9999999Z", "--db", db); code != 1 || !strings.Contains(errs, "9999999Z") {
		t.Errorf("stats --uai unknown = %d %s, want 1 naming the UAI", code, errs)
	}
}
