package sqlstore_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/directory/usage"
	"github.com/enthub/enthub/test/peer"
)

func backends() map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + t.TempDir() + "/db" },
		"postgres": func(t *testing.T) string { return peer.Postgres(t) },
	}
}

func openStats(t *testing.T, dbURL string) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), dbURL, sqlstore.Options{Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func paris(t testing.TB) *time.Location {
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// statsEvents is a small audit trail whose statistics are known: two
// schools, two days in Paris time (one login at 23:30 UTC on the 1st is
// 00:30 on the 2nd in Paris), refused logins, service visits, a proxy
// ticket that is not a visit, and users seen on both days.
func statsEvents(loc *time.Location) []directory.Event {
	at := func(day, hour, minute int) time.Time { return time.Date(2025, 9, day, hour, minute, 0, 0, loc) }
	login := func(t time.Time, acc, st string, p directory.Profile, up string) directory.Event {
		return directory.Event{Time: t, Type: "login", AccountID: acc, StructureID: st, Profile: p, Outcome: "ok",
			Details: map[string]string{"upstream": up, "protocol": "portal"}}
	}
	return []directory.Event{
		login(at(1, 8, 0), "a1", "S1", directory.ProfileEleve, "educonnect"),
		login(at(1, 8, 10), "a1", "S1", directory.ProfileEleve, "educonnect"), // same user again: 2 logins, 1 user
		login(at(1, 8, 20), "a2", "S1", directory.ProfileEnseignant, "agents"),
		login(at(1, 17, 0), "a3", "S2", directory.ProfileParent, "educonnect"),
		login(at(2, 0, 30), "a3", "S2", directory.ProfileParent, "educonnect"), // 22:30 UTC on the 1st
		login(at(2, 8, 0), "a4", "S2", directory.ProfileEleve, "local"),
		login(at(2, 9, 0), "a1", "S1", directory.ProfileEleve, "educonnect"),
		{Time: at(2, 9, 5), Type: "login", Outcome: "refused", Reason: "bad password", Details: map[string]string{"login": "x"}},
		{Time: at(2, 9, 6), Type: "login", AccountID: "a2", StructureID: "S1", Outcome: "refused", Reason: "bad password"},
		{Time: at(1, 8, 1), Type: "cas.ticket.issued", AccountID: "a1", StructureID: "S1", Service: "pronote", Outcome: "ok"},
		{Time: at(1, 8, 21), Type: "cas.ticket.issued", AccountID: "a2", StructureID: "S1", Service: "pronote", Outcome: "ok"},
		{Time: at(1, 8, 22), Type: "cas.ticket.issued", AccountID: "a2", Service: "pronote", Outcome: "ok", Details: map[string]string{"kind": "PT"}},
		{Time: at(2, 8, 1), Type: "saml.assertion.issued", AccountID: "a4", StructureID: "S2", Service: "gar", Outcome: "ok"},
		{Time: at(2, 8, 2), Type: "persona.chosen", AccountID: "a4", StructureID: "S2", Outcome: "ok"},
	}
}

func TestUsageRollups(t *testing.T) {
	for name, dbURL := range backends() {
		t.Run(name, func(t *testing.T) {
			ctx, loc, s := context.Background(), paris(t), openStats(t, dbURL(t))
			events := statsEvents(loc)
			late := directory.Event{Time: time.Date(2025, 9, 2, 18, 0, 0, 0, loc), Type: "login", AccountID: "a5", StructureID: "S1",
				Profile: directory.ProfileEleve, Outcome: "ok", Details: map[string]string{"upstream": "educonnect"}}
			if err := s.Update(ctx, func(tx directory.Tx) error { return tx.AppendEvents(ctx, append(events, late)...) }); err != nil {
				t.Fatal(err)
			}
			o := sqlstore.FoldOptions{Location: loc, Lag: 2 * time.Minute, Window: 5 * time.Hour}
			// Folded up to 17:59 on the 2nd: the 18:00 login is younger than the lag.
			n, err := s.FoldEvents(ctx, late.Time.Add(time.Minute), o)
			if err != nil {
				t.Fatal(err)
			}
			if n != 13 {
				t.Errorf("folded %d events, want 13 (logins and service events, not persona.chosen nor the late one)", n)
			}
			if n, err := s.FoldEvents(ctx, late.Time.Add(time.Minute), o); err != nil || n != 0 {
				t.Errorf("second fold: %d events, %v; want 0: nothing counted twice", n, err)
			}
			all := usage.Filter{From: "2025-09-01", To: "2025-09-02"}
			check := func(what string, got map[string]int64, want map[string]int64) {
				t.Helper()
				if !maps.Equal(got, want) {
					t.Errorf("%s = %v, want %v", what, got, want)
				}
			}
			counts := func(f usage.Filter, dim string, byDay bool) map[string]int64 {
				t.Helper()
				m, err := s.Counts(ctx, f, dim, byDay)
				if err != nil {
					t.Fatal(err)
				}
				return m
			}
			users := func(f usage.Filter, by string) map[string]int64 {
				t.Helper()
				m, err := s.Users(ctx, f, by)
				if err != nil {
					t.Fatal(err)
				}
				return m
			}
			check("logins by day", counts(all, usage.DimLogins, true), map[string]int64{"2025-09-01": 4, "2025-09-02": 3})
			check("logins by hour", counts(all, usage.DimHour, false), map[string]int64{"00": 1, "08": 4, "09": 1, "17": 1})
			check("logins by profile", counts(all, usage.DimProfile, false), map[string]int64{"eleve": 4, "enseignant": 1, "parent": 2})
			check("logins by school", counts(all, usage.DimSchool, false), map[string]int64{"S1": 4, "S2": 3})
			check("logins by upstream", counts(all, usage.DimUpstream, false), map[string]int64{"educonnect": 5, "agents": 1, "local": 1})
			check("visits by service", counts(all, usage.DimService, false), map[string]int64{"pronote": 2, "gar": 1})
			check("refused logins", counts(all, usage.DimFailed, false), map[string]int64{"": 2})
			check("users", users(all, ""), map[string]int64{"": 4})
			check("users by day", users(all, "day"), map[string]int64{"2025-09-01": 3, "2025-09-02": 3})
			check("users by profile", users(all, "profile"), map[string]int64{"eleve": 2, "enseignant": 1, "parent": 1})
			check("users by school", users(all, "school"), map[string]int64{"S1": 2, "S2": 2})
			s1 := usage.Filter{From: "2025-09-01", To: "2025-09-02", Structure: "S1"}
			check("S1 logins by day", counts(s1, usage.DimLogins, true), map[string]int64{"2025-09-01": 3, "2025-09-02": 1})
			check("S1 users", users(s1, ""), map[string]int64{"": 2})
			check("S1 users by school", users(s1, "school"), map[string]int64{"S1": 2})
			check("S1 refused", counts(s1, usage.DimFailed, false), map[string]int64{"": 1})
			day2 := usage.Filter{From: "2025-09-02", To: "2025-09-02"}
			check("users on the 2nd", users(day2, ""), map[string]int64{"": 3})
			// Whole months are read from the monthly rows, the edges from the daily ones.
			months := usage.Filter{From: "2025-08-20", To: "2025-10-31"}
			check("logins over months", counts(months, usage.DimLogins, false), map[string]int64{"": 7})
			check("users over months", users(months, ""), map[string]int64{"": 4})
			check("users by profile over months", users(months, "profile"), map[string]int64{"eleve": 2, "enseignant": 1, "parent": 1})
			check("logins by school over months", counts(months, usage.DimSchool, false), map[string]int64{"S1": 4, "S2": 3})
			check("users before any event", users(usage.Filter{From: "2024-01-01", To: "2024-01-02"}, ""), map[string]int64{"": 0})

			// The late login is folded once it is older than the lag, into the sets already stored.
			if n, err := s.FoldEvents(ctx, late.Time.Add(3*time.Minute), o); err != nil || n != 1 {
				t.Fatalf("fold of the late login: %d events, %v", n, err)
			}
			check("users after the late login", users(all, ""), map[string]int64{"": 5})
			check("S1 users by day after the late login", users(s1, "day"), map[string]int64{"2025-09-01": 2, "2025-09-02": 2})

			// A rebuild from the raw events gives the same figures.
			if n, err := s.RebuildUsage(ctx, late.Time.Add(3*time.Minute), o); err != nil || n != 14 {
				t.Fatalf("rebuild: %d events, %v", n, err)
			}
			check("logins by day after rebuild", counts(all, usage.DimLogins, true), map[string]int64{"2025-09-01": 4, "2025-09-02": 4})
			check("users after rebuild", users(all, ""), map[string]int64{"": 5})
		})
	}
}

func TestHealthAvailability(t *testing.T) {
	for name, dbURL := range backends() {
		t.Run(name, func(t *testing.T) {
			ctx, loc, s := context.Background(), paris(t), openStats(t, dbURL(t))
			start := time.Date(2025, 9, 1, 23, 50, 0, 0, loc)
			// Two instances for 20 minutes; the first one not ready for
			// minutes 5–9, the second one down for minutes 7–11: minutes
			// 7, 8 and 9 have nobody ready.
			for m := range 20 {
				at := start.Add(time.Duration(m)*time.Minute + 17*time.Second)
				if err := s.RecordHealth(ctx, "i1", at, true, m < 5 || m > 9, "", loc); err != nil {
					t.Fatal(err)
				}
				if m < 7 || m > 11 {
					if err := s.RecordHealth(ctx, "i2", at, true, true, "", loc); err != nil {
						t.Fatal(err)
					}
				}
			}
			now := start.Add(19*time.Minute + 30*time.Second)
			r, err := usage.Build(ctx, s, usage.Filter{From: "2025-09-01", To: "2025-09-03"}, usage.Options{Location: loc, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			want := []usage.Avail{{Day: "2025-09-01", ReadyMinutes: 7, Minutes: 10}, {Day: "2025-09-02", ReadyMinutes: 10, Minutes: 10}}
			if len(r.Availability) != len(want) {
				t.Fatalf("availability %+v, want %+v", r.Availability, want)
			}
			for i := range want {
				if r.Availability[i] != want[i] {
					t.Errorf("availability[%d] = %+v, want %+v", i, r.Availability[i], want[i])
				}
			}
		})
	}
}

// The benchmark fills the rollups straight from the generator; that must
// give what folding the same activity as audit events gives, or the
// benchmark would measure other data than production's.
func TestGeneratedRollupsMatchFolding(t *testing.T) {
	for name, dbURL := range backends() {
		t.Run(name, func(t *testing.T) {
			ctx, loc := context.Background(), paris(t)
			// 60 days: the clocks go back on 26 October.
			g := usage.Generator{Accounts: 2000, Schools: 7, Logins: 20_000, Days: 60, Location: loc, Seed: 3}
			direct, folded := openStats(t, dbURL(t)), openStats(t, dbURL(t))
			n1, err := g.Fill(func(b *usage.Batch) error { return direct.ApplyUsage(ctx, b) }, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			n2, err := g.Fill(nil, g.Days, func(es []directory.Event) error {
				return folded.Update(ctx, func(tx directory.Tx) error { return tx.AppendEvents(ctx, es...) })
			})
			if err != nil {
				t.Fatal(err)
			}
			if n1 != n2 || n1 < 19_000 {
				t.Fatalf("%d and %d logins generated", n1, n2)
			}
			if _, err := folded.FoldEvents(ctx, time.Date(2026, 1, 1, 0, 0, 0, 0, loc), sqlstore.FoldOptions{Location: loc}); err != nil {
				t.Fatal(err)
			}
			for _, f := range []usage.Filter{{From: "2025-09-01", To: "2025-10-30"}, {From: "2025-09-10", To: "2025-10-02", Structure: "gen-school-003"}} {
				a, err := usage.Build(ctx, direct, f, usage.Options{Location: loc})
				if err != nil {
					t.Fatal(err)
				}
				b, err := usage.Build(ctx, folded, f, usage.Options{Location: loc})
				if err != nil {
					t.Fatal(err)
				}
				if a.Logins == 0 || a.Users == 0 || a.Visits == 0 {
					t.Errorf("%+v: nothing generated: %+v", f, a)
				}
				if a.Logins != b.Logins || a.Users != b.Users || a.Visits != b.Visits || !slices.Equal(a.ByProfile, b.ByProfile) ||
					!slices.Equal(a.ByHour, b.ByHour) || !slices.Equal(a.BySchool, b.BySchool) || !slices.Equal(a.ByDay, b.ByDay) ||
					!slices.Equal(a.ByUpstream, b.ByUpstream) || !slices.Equal(a.ByService, b.ByService) {
					t.Errorf("%+v: generated %d logins %d users %+v, folded %d logins %d users %+v", f, a.Logins, a.Users, a.ByProfile,
						b.Logins, b.Users, b.ByProfile)
				}
			}
		})
	}
}
