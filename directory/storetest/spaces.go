package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
)

// SpaceStore is a store that also keeps profile spaces.
type SpaceStore interface {
	directory.Store
	directory.SpaceStore
}

// RunSpaces runs the conformance tests of directory.SpaceStore; newStore
// returns an empty, migrated store.
func RunSpaces(t *testing.T, newStore func(t *testing.T) SpaceStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s SpaceStore)
	}{
		{"SpacesAndMembers", testSpacesAndMembers},
		{"SpaceMemberRefusals", testSpaceMemberRefusals},
		{"SpaceDeleteTakesMembers", testSpaceDelete},
		{"SpaceMemberGoesWithPerson", testSpaceMemberGoesWithPerson},
		{"SpaceWriteMovesGeneration", testSpaceGeneration},
		{"SpaceRolledBack", testSpaceRolledBack},
		{"SearchAccounts", testSearchAccounts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

// putAgent writes a collectivité agent (person, account, persona) and
// returns the account.
func putAgent(t *testing.T, s SpaceStore, login, first, last string) directory.Account {
	t.Helper()
	ctx := context.Background()
	var acc directory.Account
	err := s.Update(ctx, func(tx directory.Tx) error {
		p := &directory.Person{FirstName: first, LastName: last, Source: directory.SourceManual}
		if err := tx.PutPerson(ctx, p); err != nil {
			return err
		}
		acc = directory.Account{PersonID: p.ID, Login: login, Status: directory.StatusActive, Source: directory.SourceManual}
		return tx.PutAccount(ctx, &acc)
	})
	if err != nil {
		t.Fatal(err)
	}
	return acc
}

func spaces(t *testing.T, s SpaceStore, fn func(ctx context.Context, tx directory.SpaceTx) error) error {
	t.Helper()
	ctx := context.Background()
	return s.UpdateSpaces(ctx, func(tx directory.SpaceTx) error { return fn(ctx, tx) })
}

func testSpacesAndMembers(t *testing.T, s SpaceStore) {
	ctx := context.Background()
	ati := directory.Space{ID: "espace-ati", Name: "Espace ATI", Description: "Techniciens informatiques", CreatedAt: t0, UpdatedAt: t0}
	cuisine := directory.Space{ID: "espace-cuisine", Name: "Espace Cuisine", CreatedAt: t0, UpdatedAt: t0}
	a := putAgent(t, s, "agent.a", "Anne", "Technicienne")
	b := putAgent(t, s, "agent.b", "Bruno", "Cuisinier")
	err := spaces(t, s, func(ctx context.Context, tx directory.SpaceTx) error {
		for _, sp := range []directory.Space{cuisine, ati} {
			if err := tx.PutSpace(ctx, sp); err != nil {
				return err
			}
		}
		for _, m := range []directory.SpaceMember{
			{SpaceID: ati.ID, AccountID: a.ID, AddedBy: "cli:admin", AddedAt: t0},
			{SpaceID: cuisine.ID, AccountID: b.ID, AddedBy: "acc-admin", AddedAt: t0.Add(time.Minute)},
			{SpaceID: cuisine.ID, AccountID: a.ID, AddedBy: "acc-admin", AddedAt: t0},
		} {
			if err := tx.AddSpaceMember(ctx, m); err != nil {
				return err
			}
		}
		// The transaction reads its own writes.
		ms, err := tx.SpaceMembers(ctx, cuisine.ID)
		if err != nil || len(ms) != 2 {
			t.Errorf("SpaceMembers inside the transaction = %+v, %v; want 2", ms, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	all, err := s.Spaces(ctx)
	if err != nil || len(all) != 2 || all[0] != ati || all[1] != cuisine {
		t.Fatalf("Spaces = %+v, %v; want ATI then Cuisine as written", all, err)
	}
	got, err := s.Space(ctx, "espace-ati")
	if err != nil || got != ati {
		t.Errorf("Space(espace-ati) = %+v, %v", got, err)
	}
	if _, err := s.Space(ctx, "espace-absent"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("Space(absent) = %v, want ErrNotFound", err)
	}
	ms, err := s.SpaceMembers(ctx, cuisine.ID)
	if err != nil || len(ms) != 2 {
		t.Fatalf("SpaceMembers(cuisine) = %+v, %v", ms, err)
	}
	want := directory.SpaceMember{SpaceID: cuisine.ID, AccountID: a.ID, AddedBy: "acc-admin", AddedAt: t0, PersonID: a.PersonID, Login: "agent.a"}
	if ms[0] != want || ms[1].Login != "agent.b" || !ms[1].AddedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("SpaceMembers(cuisine) = %+v; want by login, first %+v", ms, want)
	}
	as, err := s.AccountSpaces(ctx, a.ID)
	if err != nil || len(as) != 2 || as[0].ID != "espace-ati" || as[1].ID != "espace-cuisine" {
		t.Errorf("AccountSpaces(a) = %+v, %v; want both, by id", as, err)
	}
	var walked []string
	err = s.EachSpaceMember(ctx, func(m directory.SpaceMember) error {
		walked = append(walked, m.SpaceID+"/"+m.Login)
		return nil
	})
	if err != nil || len(walked) != 3 || walked[0] != "espace-ati/agent.a" {
		t.Errorf("EachSpaceMember = %v, %v", walked, err)
	}

	// A rename replaces the name and description, keeping the members.
	renamed := ati
	renamed.Name, renamed.Description, renamed.UpdatedAt = "Espace des ATI", "", t0.Add(time.Hour)
	if err := spaces(t, s, func(ctx context.Context, tx directory.SpaceTx) error { return tx.PutSpace(ctx, renamed) }); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Space(ctx, ati.ID); got != renamed {
		t.Errorf("after rename: %+v, want %+v", got, renamed)
	}
	if ms, _ := s.SpaceMembers(ctx, ati.ID); len(ms) != 1 {
		t.Errorf("the rename lost members: %+v", ms)
	}

	err = spaces(t, s, func(ctx context.Context, tx directory.SpaceTx) error {
		return tx.RemoveSpaceMember(ctx, cuisine.ID, a.ID)
	})
	if err != nil {
		t.Fatal(err)
	}
	if as, _ := s.AccountSpaces(ctx, a.ID); len(as) != 1 || as[0].ID != ati.ID {
		t.Errorf("AccountSpaces(a) after removal = %+v", as)
	}
}

func testSpaceMemberRefusals(t *testing.T, s SpaceStore) {
	a := putAgent(t, s, "agent.a", "Anne", "Technicienne")
	sp := directory.Space{ID: "espace-ati", Name: "Espace ATI", CreatedAt: t0, UpdatedAt: t0}
	add := func(m directory.SpaceMember) error {
		return spaces(t, s, func(ctx context.Context, tx directory.SpaceTx) error { return tx.AddSpaceMember(ctx, m) })
	}
	if err := spaces(t, s, func(ctx context.Context, tx directory.SpaceTx) error { return tx.PutSpace(ctx, sp) }); err != nil {
		t.Fatal(err)
	}
	if err := add(directory.SpaceMember{SpaceID: sp.ID, AccountID: a.ID, AddedAt: t0}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		m    directory.SpaceMember
		want error
	}{
		{"twice", directory.SpaceMember{SpaceID: sp.ID, AccountID: a.ID, AddedAt: t0}, directory.ErrConflict},
		{"unknown space", directory.SpaceMember{SpaceID: "espace-x", AccountID: a.ID, AddedAt: t0}, directory.ErrNotFound},
		{"unknown account", directory.SpaceMember{SpaceID: sp.ID, AccountID: "nobody", AddedAt: t0}, directory.ErrNotFound},
	} {
		if err := add(tc.m); !errors.Is(err, tc.want) {
			t.Errorf("%s: AddSpaceMember = %v, want %v", tc.name, err, tc.want)
		}
	}
	err := spaces(t, s, func(ctx context.Context, tx directory.SpaceTx) error {
		return tx.RemoveSpaceMember(ctx, sp.ID, "nobody")
	})
	if !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("RemoveSpaceMember(not a member) = %v, want ErrNotFound", err)
	}
	err = spaces(t, s, func(ctx context.Context, tx directory.SpaceTx) error { return tx.DeleteSpace(ctx, "espace-x") })
	if !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("DeleteSpace(absent) = %v, want ErrNotFound", err)
	}
}

func testSpaceDelete(t *testing.T, s SpaceStore) {
	ctx := context.Background()
	a := putAgent(t, s, "agent.a", "Anne", "Technicienne")
	err := spaces(t, s, func(ctx context.Context, tx directory.SpaceTx) error {
		if err := tx.PutSpace(ctx, directory.Space{ID: "espace-ati", Name: "Espace ATI", CreatedAt: t0, UpdatedAt: t0}); err != nil {
			return err
		}
		return tx.AddSpaceMember(ctx, directory.SpaceMember{SpaceID: "espace-ati", AccountID: a.ID, AddedAt: t0})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := spaces(t, s, func(ctx context.Context, tx directory.SpaceTx) error { return tx.DeleteSpace(ctx, "espace-ati") }); err != nil {
		t.Fatal(err)
	}
	if as, err := s.AccountSpaces(ctx, a.ID); err != nil || len(as) != 0 {
		t.Errorf("AccountSpaces after the space's deletion = %+v, %v", as, err)
	}
	n := 0
	_ = s.EachSpaceMember(ctx, func(directory.SpaceMember) error { n++; return nil })
	if n != 0 {
		t.Errorf("%d memberships left after the space's deletion", n)
	}
}

func testSpaceMemberGoesWithPerson(t *testing.T, s SpaceStore) {
	ctx := context.Background()
	a := putAgent(t, s, "agent.a", "Anne", "Technicienne")
	err := spaces(t, s, func(ctx context.Context, tx directory.SpaceTx) error {
		if err := tx.PutSpace(ctx, directory.Space{ID: "espace-ati", Name: "Espace ATI", CreatedAt: t0, UpdatedAt: t0}); err != nil {
			return err
		}
		if err := tx.AddSpaceMember(ctx, directory.SpaceMember{SpaceID: "espace-ati", AccountID: a.ID, AddedAt: t0}); err != nil {
			return err
		}
		return tx.DeletePerson(ctx, a.PersonID)
	})
	if err != nil {
		t.Fatal(err)
	}
	if ms, err := s.SpaceMembers(ctx, "espace-ati"); err != nil || len(ms) != 0 {
		t.Errorf("members after the person's deletion = %+v, %v; want none", ms, err)
	}
}

func testSpaceGeneration(t *testing.T, s SpaceStore) {
	ctx := context.Background()
	before, err := s.Generation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = spaces(t, s, func(ctx context.Context, tx directory.SpaceTx) error {
		return tx.PutSpace(ctx, directory.Space{ID: "espace-ati", Name: "Espace ATI", CreatedAt: t0, UpdatedAt: t0})
	})
	if err != nil {
		t.Fatal(err)
	}
	if after, _ := s.Generation(ctx); after <= before {
		t.Errorf("generation %d after a space write, was %d: the LDAP front would not see it", after, before)
	}
}

func testSpaceRolledBack(t *testing.T, s SpaceStore) {
	ctx := context.Background()
	boom := errors.New("boom")
	err := spaces(t, s, func(ctx context.Context, tx directory.SpaceTx) error {
		if err := tx.PutSpace(ctx, directory.Space{ID: "espace-ati", Name: "Espace ATI", CreatedAt: t0, UpdatedAt: t0}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("UpdateSpaces = %v, want the function's error", err)
	}
	if all, err := s.Spaces(ctx); err != nil || len(all) != 0 {
		t.Errorf("Spaces after a failed transaction = %+v, %v; want none", all, err)
	}
}

func testSearchAccounts(t *testing.T, s SpaceStore) {
	ctx := context.Background()
	putAgent(t, s, "agent.a", "Anne", "Technicienne")
	putAgent(t, s, "agent_b", "Bruno", "Cuisinier")
	putAgent(t, s, "cuisto", "Chloé", "Martin")
	putAgent(t, s, "tl", "Théo", "LEFÈVRE") // AAF names often come in capitals
	putAgent(t, s, "ed", "ÉLODIE", "Dupré")
	putAgent(t, s, "lc", "Lætitia", "Cœur")
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"agent", []string{"agent.a", "agent_b"}},
		{"AGENT_", []string{"agent_b"}}, // "_" matches itself only
		{"cuisin", []string{"agent_b"}},
		{"chloé mar", []string{"cuisto"}},
		// Accents and case are ignored on both sides, as an administrator
		// types a name without its accents, or with them on a name the AAF
		// gave in capitals.
		{"Theo", []string{"tl"}},
		{"lefèvre", []string{"tl"}},
		{"LEFEVRE", []string{"tl"}},
		{"élodie", []string{"ed"}},
		{"Elodie dupre", []string{"ed"}},
		{"CHLOE", []string{"cuisto"}},
		{"laetitia coeur", []string{"lc"}},
		{"cœur", []string{"lc"}},
		{"%", nil},
		{"  ", nil},
	} {
		hits, err := s.SearchAccounts(ctx, tc.q, 10)
		if err != nil {
			t.Fatalf("SearchAccounts(%q): %v", tc.q, err)
		}
		var got []string
		for _, h := range hits {
			got = append(got, h.Login)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("SearchAccounts(%q) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if hits, _ := s.SearchAccounts(ctx, "agent", 1); len(hits) != 1 || hits[0].FirstName != "Anne" || hits[0].Status != directory.StatusActive {
		t.Errorf("SearchAccounts(agent, limit 1) = %+v", hits)
	}
}
