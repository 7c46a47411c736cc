package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/idp/sso"
)

// GuestStore is a store that also keeps guest records.
type GuestStore interface {
	directory.Store
	directory.GuestStore
}

// RunGuests runs the conformance tests of directory.GuestStore; newStore
// returns an empty, migrated store.
func RunGuests(t *testing.T, newStore func(t *testing.T) GuestStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s GuestStore)
	}{
		{"GuestsByStructure", testGuestsByStructure},
		{"GuestsDue", testGuestsDue},
		{"ActivationIsUsedOnce", testActivationOnce},
		{"ActivationReplaced", testActivationReplaced},
		{"GuestGoesWithPerson", testGuestGoesWithPerson},
		{"EndSessions", testEndSessions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

// putGuest writes a guest person, account and record in structure st.
func putGuest(t *testing.T, s GuestStore, login, st string, until time.Time, status directory.AccountStatus) directory.Account {
	t.Helper()
	ctx := context.Background()
	var acc directory.Account
	err := s.UpdateGuests(ctx, func(tx directory.GuestTx) error {
		p := &directory.Person{FirstName: "Ada", LastName: login, Source: directory.SourceGuest}
		if err := tx.PutPerson(ctx, p); err != nil {
			return err
		}
		acc = directory.Account{PersonID: p.ID, Login: login, Status: status, Source: directory.SourceGuest, ValidUntil: &until}
		if err := tx.PutAccount(ctx, &acc); err != nil {
			return err
		}
		return tx.PutGuest(ctx, directory.GuestRecord{AccountID: acc.ID, StructureID: st, Role: "tuteur", CreatedBy: "acc-dir", CreatedAt: t0})
	})
	if err != nil {
		t.Fatal(err)
	}
	return acc
}

func testGuestsByStructure(t *testing.T, s GuestStore) {
	ctx := context.Background()
	a := putGuest(t, s, "a.guest", "st-A", t0.AddDate(0, 1, 0), directory.StatusActive)
	putGuest(t, s, "b.guest", "st-B", t0.AddDate(0, 1, 0), directory.StatusActive)
	gs, err := s.Guests(ctx, "st-A")
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 1 || gs[0].AccountID != a.ID || gs[0].Role != "tuteur" || !gs[0].CreatedAt.Equal(t0) || gs[0].RevokedAt != nil {
		t.Fatalf("Guests(st-A) = %+v, want only %s", gs, a.ID)
	}
	all, err := s.Guests(ctx, "")
	if err != nil || len(all) != 2 {
		t.Fatalf("Guests(\"\") = %d records, %v; want 2", len(all), err)
	}
	at := t0.Add(time.Hour)
	err = s.UpdateGuests(ctx, func(tx directory.GuestTx) error {
		g, err := tx.Guest(ctx, a.ID)
		if err != nil {
			return err
		}
		g.RevokedAt, g.RevokedBy = &at, "acc-dir"
		return tx.PutGuest(ctx, g)
	})
	if err != nil {
		t.Fatal(err)
	}
	gs, _ = s.Guests(ctx, "st-A")
	if gs[0].RevokedAt == nil || !gs[0].RevokedAt.Equal(at) || gs[0].RevokedBy != "acc-dir" {
		t.Errorf("after revocation: %+v", gs[0])
	}
	err = s.UpdateGuests(ctx, func(tx directory.GuestTx) error {
		_, err := tx.Guest(ctx, "nobody")
		return err
	})
	if !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("Guest(nobody) = %v, want ErrNotFound", err)
	}
}

func testGuestsDue(t *testing.T, s GuestStore) {
	ctx := context.Background()
	due := putGuest(t, s, "due", "st-A", t0, directory.StatusActive)
	putGuest(t, s, "later", "st-A", t0.Add(time.Minute), directory.StatusActive)
	putGuest(t, s, "gone", "st-A", t0.Add(-time.Hour), directory.StatusDisabled)
	var got []directory.GuestRecord
	err := s.UpdateGuests(ctx, func(tx directory.GuestTx) error {
		var err error
		got, err = tx.GuestsDue(ctx, t0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].AccountID != due.ID {
		t.Errorf("GuestsDue(t0) = %+v, want only the active guest ending at t0", got)
	}
}

func testActivationOnce(t *testing.T, s GuestStore) {
	ctx := context.Background()
	acc := putGuest(t, s, "act", "st-A", t0.AddDate(0, 1, 0), directory.StatusActive)
	in := directory.Activation{Hash: "h1", AccountID: acc.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := s.UpdateGuests(ctx, func(tx directory.GuestTx) error { return tx.PutActivation(ctx, in) }); err != nil {
		t.Fatal(err)
	}
	take := func() (directory.Activation, error) {
		var a directory.Activation
		err := s.UpdateGuests(ctx, func(tx directory.GuestTx) error {
			var err error
			a, err = tx.TakeActivation(ctx, "h1")
			return err
		})
		return a, err
	}
	got, err := take()
	if err != nil || got.AccountID != acc.ID || !got.ExpiresAt.Equal(in.ExpiresAt) || !got.CreatedAt.Equal(t0) {
		t.Fatalf("TakeActivation = %+v, %v; want %+v", got, err, in)
	}
	if _, err := take(); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("second TakeActivation = %v, want ErrNotFound", err)
	}
}

func testActivationReplaced(t *testing.T, s GuestStore) {
	ctx := context.Background()
	acc := putGuest(t, s, "rep", "st-A", t0.AddDate(0, 1, 0), directory.StatusActive)
	err := s.UpdateGuests(ctx, func(tx directory.GuestTx) error {
		if err := tx.PutActivation(ctx, directory.Activation{Hash: "old", AccountID: acc.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
			return err
		}
		return tx.PutActivation(ctx, directory.Activation{Hash: "new", AccountID: acc.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.UpdateGuests(ctx, func(tx directory.GuestTx) error {
		if _, err := tx.TakeActivation(ctx, "old"); !errors.Is(err, directory.ErrNotFound) {
			t.Errorf("replaced code: %v, want ErrNotFound", err)
		}
		if _, err := tx.TakeActivation(ctx, "new"); err != nil {
			t.Errorf("new code: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testGuestGoesWithPerson(t *testing.T, s GuestStore) {
	ctx := context.Background()
	acc := putGuest(t, s, "del", "st-A", t0.AddDate(0, 1, 0), directory.StatusActive)
	err := s.UpdateGuests(ctx, func(tx directory.GuestTx) error {
		if err := tx.PutActivation(ctx, directory.Activation{Hash: "d", AccountID: acc.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
			return err
		}
		return tx.DeletePerson(ctx, acc.PersonID)
	})
	if err != nil {
		t.Fatal(err)
	}
	if gs, err := s.Guests(ctx, "st-A"); err != nil || len(gs) != 0 {
		t.Errorf("Guests after the person's deletion = %+v, %v; want none", gs, err)
	}
}

func testEndSessions(t *testing.T, s GuestStore) {
	ss, ok := s.(sso.SessionStore)
	if !ok {
		t.Skip("the store keeps no SSO sessions")
	}
	ctx := context.Background()
	acc := putGuest(t, s, "sess", "st-A", t0.AddDate(0, 1, 0), directory.StatusActive)
	for _, id := range []string{"s1", "s2", "other"} {
		owner := acc.ID
		if id == "other" {
			owner = "someone-else"
		}
		err := ss.CreateSession(ctx, sso.Session{ID: id, AccountID: owner, AuthTime: t0, CreatedAt: t0, LastSeen: t0, ExpiresAt: t0.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if err := ss.AddSessionService(ctx, sso.SessionService{SessionID: id, ServiceID: "pronote", Protocol: "cas", Ref: "ST-" + id, At: t0}); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	err := s.UpdateGuests(ctx, func(tx directory.GuestTx) error {
		var err error
		n, err = tx.EndSessions(ctx, acc.ID)
		return err
	})
	if err != nil || n != 2 {
		t.Fatalf("EndSessions = %d, %v; want 2", n, err)
	}
	for _, id := range []string{"s1", "s2"} {
		if _, err := ss.Session(ctx, id, t0); !errors.Is(err, directory.ErrNotFound) {
			t.Errorf("session %s after EndSessions: %v", id, err)
		}
	}
	if _, err := ss.Session(ctx, "other", t0); err != nil {
		t.Errorf("another account's session went too: %v", err)
	}
}
