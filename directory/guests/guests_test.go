package guests_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/guests"
	"github.com/enthub/enthub/directory/password"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/test/peer"
)

// t0 is a Monday morning of the school year.
var t0 = time.Date(2026, 9, 7, 8, 0, 0, 0, time.UTC)

type fixture struct {
	store            *sqlstore.Store
	svc              *guests.Service
	clock            *time.Time
	schoolA, schoolB guests.Actor
}

func newFixture(t *testing.T, url string) *fixture {
	t.Helper()
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, url, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f := &fixture{store: s}
	now := t0
	f.clock = &now
	ids := map[string]string{}
	err = s.Update(ctx, func(tx directory.Tx) error {
		for _, uai := range []string{"0130001A", "0130002B"} {
			st := &directory.Structure{UAI: uai, Name: "Collège " + uai, Source: directory.SourceManual}
			if err := tx.PutStructure(ctx, st); err != nil {
				return err
			}
			ids[uai] = st.ID
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cheap := password.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}
	f.svc = &guests.Service{Store: s, Now: func() time.Time { return *f.clock }, Argon2: &cheap}
	f.schoolA = guests.Actor{ID: "acc-principal-a", StructureID: ids["0130001A"], Remote: "192.0.2.1"}
	f.schoolB = guests.Actor{ID: "acc-principal-b", StructureID: ids["0130002B"], Remote: "192.0.2.2"}
	return f
}

func stores(t *testing.T) map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "enthub.db") },
		"postgres": func(t *testing.T) string { return peer.Postgres(t) },
	}
}

func tutor() guests.NewGuest {
	return guests.NewGuest{FirstName: "Léa", LastName: "Dupré", Email: "lea.dupre@example.org", Role: "responsable de stage",
		From: t0, Until: t0.AddDate(0, 1, 0)}
}

// events returns the audit events of one type, oldest first.
func (f *fixture) events(t *testing.T, typ string) []directory.Event {
	t.Helper()
	es, err := f.store.Events(context.Background(), directory.EventFilter{Type: typ, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(es)-1; i < j; i, j = i+1, j-1 {
		es[i], es[j] = es[j], es[i]
	}
	return es
}

func TestGuestLife(t *testing.T) {
	for name, url := range stores(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, url(t))
			ctx := context.Background()
			iss, err := f.svc.Create(ctx, f.schoolA, tutor())
			if err != nil {
				t.Fatal(err)
			}
			g := iss.Guest
			if g.Login != "lea.dupre" || g.Role != "responsable de stage" || g.Activated || len(iss.Code) != 19 {
				t.Fatalf("created %+v with code %q", g, iss.Code)
			}
			if st := g.State(*f.clock); st != "pending" {
				t.Errorf("state after creation = %s, want pending", st)
			}
			pas, _ := f.store.Personas(ctx, g.PersonID)
			if len(pas) != 1 || pas[0].Profile != directory.ProfileInvite || pas[0].StructureID != f.schoolA.StructureID {
				t.Errorf("personas = %+v, want one invite persona in school A", pas)
			}
			// A second Léa Dupré gets her own login.
			iss2, err := f.svc.Create(ctx, f.schoolA, tutor())
			if err != nil || iss2.Guest.Login != "lea.dupre2" {
				t.Fatalf("second guest: %+v, %v", iss2.Guest, err)
			}

			// Lists are per school.
			if l, err := f.svc.List(ctx, f.schoolA); err != nil || len(l) != 2 {
				t.Fatalf("school A lists %d guests (%v), want 2", len(l), err)
			}
			if l, err := f.svc.List(ctx, f.schoolB); err != nil || len(l) != 0 {
				t.Fatalf("school B lists %+v (%v), want none", l, err)
			}

			// The guest sets a password; the code then no longer works.
			short := "court"
			if _, err := f.svc.Activate(ctx, iss.Code, short, short, "198.51.100.7"); !isField(err, "password", "password_short") {
				t.Fatalf("short password: %v", err)
			}
			if _, err := f.svc.Activate(ctx, iss.Code, "un mot de passe long", "un autre", ""); !isField(err, "confirm", "password_mismatch") {
				t.Fatalf("mismatch: %v", err)
			}
			lower := guests.NormalizeCode(iss.Code)
			act, err := f.svc.Activate(ctx, " "+lower[:8]+" "+lower[8:]+" ", "un mot de passe long", "un mot de passe long", "198.51.100.7")
			if err != nil {
				t.Fatalf("activation (code typed with spaces, after two refused passwords): %v", err)
			}
			acc, _ := f.store.Account(ctx, g.AccountID)
			if ok, _ := password.VerifyArgon2id(acc.PasswordHash, "un mot de passe long"); !ok || !act.Activated {
				t.Errorf("password not set after activation")
			}
			if _, err := f.svc.Activate(ctx, iss.Code, "encore un autre long", "encore un autre long", ""); !errors.Is(err, guests.ErrCodeInvalid) {
				t.Errorf("reused code: %v, want ErrCodeInvalid", err)
			}

			// Extend, then revoke.
			*f.clock = t0.AddDate(0, 0, 20)
			ext, err := f.svc.Extend(ctx, f.schoolA, g.AccountID, t0.AddDate(0, 2, 0))
			if err != nil || !ext.ValidUntil.Equal(t0.AddDate(0, 2, 0)) {
				t.Fatalf("extend: %+v, %v", ext, err)
			}
			rev, err := f.svc.Revoke(ctx, f.schoolA, g.AccountID)
			if err != nil || rev.State(*f.clock) != "revoked" || rev.Status != directory.StatusDisabled {
				t.Fatalf("revoke: %+v, %v", rev, err)
			}
			if _, err := f.svc.Extend(ctx, f.schoolA, g.AccountID, t0.AddDate(0, 3, 0)); !errors.Is(err, guests.ErrRevoked) {
				t.Errorf("extend after revocation: %v, want ErrRevoked", err)
			}
			if _, err := f.svc.Reissue(ctx, f.schoolA, g.AccountID); !errors.Is(err, guests.ErrRevoked) {
				t.Errorf("new code after revocation: %v, want ErrRevoked", err)
			}
			for typ, want := range map[string]int{guests.EventCreate: 2, guests.EventActivate: 2, guests.EventExtend: 2, guests.EventRevoke: 1, guests.EventReissue: 1} {
				if got := len(f.events(t, typ)); got != want {
					t.Errorf("%d %s events, want %d", got, typ, want)
				}
			}
			if e := f.events(t, guests.EventRevoke)[0]; e.AccountID != g.AccountID || e.StructureID != f.schoolA.StructureID || e.Details["actor"] != f.schoolA.ID || e.Outcome != "ok" {
				t.Errorf("revoke event = %+v", e)
			}
		})
	}
}

func isField(err error, field, code string) bool {
	var fe directory.FieldErrors
	if !errors.As(err, &fe) {
		return false
	}
	for _, e := range fe {
		if e.Field == field && e.Code == code {
			return true
		}
	}
	return false
}

// TestOtherSchoolRefused: a principal of school B reaches no guest of
// school A, whatever the id it sends, and the attempt is audited.
func TestOtherSchoolRefused(t *testing.T) {
	for name, url := range stores(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, url(t))
			ctx := context.Background()
			iss, err := f.svc.Create(ctx, f.schoolA, tutor())
			if err != nil {
				t.Fatal(err)
			}
			id := iss.Guest.AccountID
			if _, err := f.svc.Extend(ctx, f.schoolB, id, t0.AddDate(0, 2, 0)); !errors.Is(err, guests.ErrNotFound) {
				t.Errorf("extend from school B: %v, want ErrNotFound", err)
			}
			if _, err := f.svc.Revoke(ctx, f.schoolB, id); !errors.Is(err, guests.ErrNotFound) {
				t.Errorf("revoke from school B: %v, want ErrNotFound", err)
			}
			if _, err := f.svc.Reissue(ctx, f.schoolB, id); !errors.Is(err, guests.ErrNotFound) {
				t.Errorf("new code from school B: %v, want ErrNotFound", err)
			}
			if _, err := f.svc.Revoke(ctx, guests.Actor{ID: "x"}, id); !errors.Is(err, guests.ErrNotFound) {
				t.Errorf("revoke with no school: %v, want ErrNotFound", err)
			}
			acc, _ := f.store.Account(ctx, id)
			if acc.Status != directory.StatusActive || !acc.ValidUntil.Equal(t0.AddDate(0, 1, 0)) {
				t.Errorf("guest of school A changed by school B: %+v", acc)
			}
			refused := 0
			for _, typ := range []string{guests.EventExtend, guests.EventRevoke, guests.EventReissue} {
				for _, e := range f.events(t, typ) {
					if e.Outcome == "refused" && e.AccountID == id {
						refused++
					}
				}
			}
			if refused != 4 {
				t.Errorf("%d refusals audited, want 4", refused)
			}
		})
	}
}

func TestCreateRefusesBadInput(t *testing.T) {
	f := newFixture(t, "sqlite:"+filepath.Join(t.TempDir(), "enthub.db"))
	long := string(make([]byte, 200))
	tests := []struct {
		name        string
		edit        func(*guests.NewGuest)
		field, code string
	}{
		{"no first name", func(n *guests.NewGuest) { n.FirstName = " " }, "first_name", "required"},
		{"no last name", func(n *guests.NewGuest) { n.LastName = "" }, "last_name", "required"},
		{"bad e-mail", func(n *guests.NewGuest) { n.Email = "lea@" }, "email", "email"},
		{"e-mail with a name", func(n *guests.NewGuest) { n.Email = "Léa <lea@example.org>" }, "email", "email"},
		{"no role", func(n *guests.NewGuest) { n.Role = "" }, "role", "required"},
		{"long role", func(n *guests.NewGuest) { n.Role = long }, "role", "too_long"},
		{"no start", func(n *guests.NewGuest) { n.From = time.Time{} }, "from", "required"},
		{"no end", func(n *guests.NewGuest) { n.Until = time.Time{} }, "until", "required"},
		{"end in the past", func(n *guests.NewGuest) { n.From, n.Until = t0.AddDate(0, -2, 0), t0.AddDate(0, -1, 0) }, "until", "until_past"},
		{"end before start", func(n *guests.NewGuest) { n.From, n.Until = t0.AddDate(0, 2, 0), t0.AddDate(0, 1, 0) }, "until", "date_order"},
		{"more than a year", func(n *guests.NewGuest) { n.Until = t0.AddDate(1, 1, 0) }, "until", "too_long_period"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := tutor()
			tt.edit(&n)
			_, err := f.svc.Create(context.Background(), f.schoolA, n)
			if !isField(err, tt.field, tt.code) {
				t.Errorf("Create = %v, want %s %s", err, tt.field, tt.code)
			}
			// What the command line and the logs show when nothing translates it.
			if want := "invalid guest: " + tt.field + ": " + tt.code; err == nil || err.Error() != want {
				t.Errorf("message %v, want %q", err, want)
			}
		})
	}
	if l, _ := f.svc.List(context.Background(), f.schoolA); len(l) != 0 {
		t.Errorf("refused requests created %d guests", len(l))
	}
}

func TestActivationRefusals(t *testing.T) {
	f := newFixture(t, "sqlite:"+filepath.Join(t.TempDir(), "enthub.db"))
	ctx := context.Background()
	pw := "un mot de passe long"
	// An expired code.
	iss, err := f.svc.Create(ctx, f.schoolA, tutor())
	if err != nil {
		t.Fatal(err)
	}
	*f.clock = iss.ExpiresAt
	if _, err := f.svc.Activate(ctx, iss.Code, pw, pw, ""); !errors.Is(err, guests.ErrCodeExpired) {
		t.Errorf("expired code: %v, want ErrCodeExpired", err)
	}
	// A new code replaces it; the old one stays refused.
	re, err := f.svc.Reissue(ctx, f.schoolA, iss.Guest.AccountID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Activate(ctx, iss.Code, pw, pw, ""); !errors.Is(err, guests.ErrCodeInvalid) {
		t.Errorf("replaced code: %v, want ErrCodeInvalid", err)
	}
	// A revoked guest's code is void.
	if _, err := f.svc.Revoke(ctx, f.schoolA, iss.Guest.AccountID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Activate(ctx, re.Code, pw, pw, ""); !errors.Is(err, guests.ErrCodeInvalid) {
		t.Errorf("code of a revoked guest: %v, want ErrCodeInvalid", err)
	}
	if _, err := f.svc.Activate(ctx, "AAAA-BBBB-CCCC-DDDD", pw, pw, ""); !errors.Is(err, guests.ErrCodeInvalid) {
		t.Errorf("unknown code: %v, want ErrCodeInvalid", err)
	}
}

func TestExpireDue(t *testing.T) {
	for name, url := range stores(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, url(t))
			ctx := context.Background()
			short, long := tutor(), tutor()
			short.Until, long.LastName = t0.AddDate(0, 0, 7), "Martin"
			s, err := f.svc.Create(ctx, f.schoolA, short)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.Create(ctx, f.schoolB, long); err != nil {
				t.Fatal(err)
			}
			*f.clock = t0.AddDate(0, 0, 7)
			n, err := f.svc.ExpireDue(ctx)
			if err != nil || n != 1 {
				t.Fatalf("ExpireDue = %d, %v; want 1", n, err)
			}
			if n, _ := f.svc.ExpireDue(ctx); n != 0 {
				t.Errorf("second ExpireDue = %d, want 0", n)
			}
			l, _ := f.svc.List(ctx, f.schoolA)
			if len(l) != 1 || l[0].Status != directory.StatusDisabled || l[0].State(*f.clock) != "expired" {
				t.Fatalf("after expiry: %+v", l)
			}
			if es := f.events(t, guests.EventExpire); len(es) != 1 || es[0].AccountID != s.Guest.AccountID {
				t.Errorf("expire events = %+v", es)
			}
			// Extending an expired (not revoked) guest brings it back.
			g, err := f.svc.Extend(ctx, f.schoolA, s.Guest.AccountID, t0.AddDate(0, 1, 0))
			if err != nil || g.Status != directory.StatusActive {
				t.Errorf("extend an expired guest: %+v, %v", g, err)
			}
		})
	}
}
