package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
)

// FederationStore is a store that also keeps upstream-login state.
type FederationStore interface {
	directory.Store
	directory.FederationStore
}

// RunFederation runs the conformance tests of directory.FederationStore;
// newStore returns an empty, migrated store. newStore2, when not nil,
// returns a second handle on the same database as the last store newStore
// returned (a second enthub instance): the replay cache must hold across.
func RunFederation(t *testing.T, newStore func(t *testing.T) FederationStore, sameDB func(t *testing.T, s FederationStore) FederationStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s FederationStore)
	}{
		{"LoginStateIsUsedOnce", testLoginStateOnce},
		{"LoginStateExpires", testLoginStateExpires},
		{"LoginStateIDIsUnique", testLoginStateUnique},
		{"AssertionReplayRefused", testAssertionReplay},
		{"PurgeFederation", testPurgeFederation},
		{"PersonsByINEAndEmail", testPersonsByINEAndEmail},
		{"TouchExternalLink", testTouchExternalLink},
		{"ExternalLinkGoesWithPerson", testLinkGoesWithPerson},
		{"CreateLinkedAccount", testCreateLinkedAccount},
		{"CreateLinkedAccountOnceForALink", testCreateLinkedAccountOnce},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
	if sameDB != nil {
		t.Run("AssertionReplayRefusedOnSecondInstance", func(t *testing.T) {
			s := newStore(t)
			testReplayAcross(t, s, sameDB(t, s))
		})
	}
}

var t0 = time.Date(2026, 9, 7, 7, 45, 0, 0, time.UTC)

func testLoginStateOnce(t *testing.T, s FederationStore) {
	ctx := context.Background()
	in := directory.LoginState{ID: "st-1", Connector: "educonnect", Data: []byte(`{"request_id":"id-42"}`), CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)}
	if err := s.PutLoginState(ctx, in); err != nil {
		t.Fatal(err)
	}
	got, err := s.TakeLoginState(ctx, "st-1", t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if got.Connector != in.Connector || string(got.Data) != string(in.Data) || !got.ExpiresAt.Equal(in.ExpiresAt) || !got.CreatedAt.Equal(in.CreatedAt) {
		t.Errorf("TakeLoginState = %+v, want %+v", got, in)
	}
	if _, err := s.TakeLoginState(ctx, "st-1", t0.Add(time.Minute)); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("second TakeLoginState = %v, want ErrNotFound", err)
	}
}

func testLoginStateExpires(t *testing.T, s FederationStore) {
	ctx := context.Background()
	if err := s.PutLoginState(ctx, directory.LoginState{ID: "st-2", Connector: "c", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TakeLoginState(ctx, "st-2", t0.Add(time.Minute)); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("TakeLoginState at expiry = %v, want ErrNotFound", err)
	}
}

func testLoginStateUnique(t *testing.T, s FederationStore) {
	ctx := context.Background()
	st := directory.LoginState{ID: "st-3", Connector: "c", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
	if err := s.PutLoginState(ctx, st); err != nil {
		t.Fatal(err)
	}
	if err := s.PutLoginState(ctx, st); !errors.Is(err, directory.ErrConflict) {
		t.Errorf("second PutLoginState = %v, want ErrConflict", err)
	}
}

func testAssertionReplay(t *testing.T, s FederationStore) {
	ctx := context.Background()
	const iss = "https://educonnect.education.gouv.fr/idp/shibboleth"
	if err := s.RememberAssertion(ctx, iss, "_a1", t0.Add(5*time.Minute), t0); err != nil {
		t.Fatal(err)
	}
	if err := s.RememberAssertion(ctx, iss, "_a1", t0.Add(5*time.Minute), t0.Add(time.Minute)); !errors.Is(err, directory.ErrReplayed) {
		t.Errorf("replayed assertion id = %v, want ErrReplayed", err)
	}
	// The same id from another issuer is another assertion.
	if err := s.RememberAssertion(ctx, "https://other/idp", "_a1", t0.Add(5*time.Minute), t0); err != nil {
		t.Errorf("same id, other issuer = %v, want nil", err)
	}
	// Once expired the entry no longer matters (the assertion itself is
	// refused by its NotOnOrAfter by then).
	if err := s.RememberAssertion(ctx, iss, "_a1", t0.Add(time.Hour), t0.Add(6*time.Minute)); err != nil {
		t.Errorf("id after expiry = %v, want nil", err)
	}
}

func testReplayAcross(t *testing.T, a, b FederationStore) {
	ctx := context.Background()
	if err := a.RememberAssertion(ctx, "idp", "_x", t0.Add(5*time.Minute), t0); err != nil {
		t.Fatal(err)
	}
	if err := b.RememberAssertion(ctx, "idp", "_x", t0.Add(5*time.Minute), t0); !errors.Is(err, directory.ErrReplayed) {
		t.Errorf("replay on second instance = %v, want ErrReplayed", err)
	}
	if err := a.PutLoginState(ctx, directory.LoginState{ID: "across", Connector: "c", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.TakeLoginState(ctx, "across", t0); err != nil {
		t.Errorf("state started on one instance, taken on the other: %v", err)
	}
}

func testPurgeFederation(t *testing.T, s FederationStore) {
	ctx := context.Background()
	if err := s.PutLoginState(ctx, directory.LoginState{ID: "old", Connector: "c", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutLoginState(ctx, directory.LoginState{ID: "live", Connector: "c", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.RememberAssertion(ctx, "idp", "_old", t0.Add(time.Minute), t0); err != nil {
		t.Fatal(err)
	}
	n, err := s.PurgeFederation(ctx, t0.Add(2*time.Minute))
	if err != nil || n != 2 {
		t.Errorf("PurgeFederation = %d, %v; want 2", n, err)
	}
	if _, err := s.TakeLoginState(ctx, "live", t0.Add(2*time.Minute)); err != nil {
		t.Errorf("live state purged: %v", err)
	}
}

func testPersonsByINEAndEmail(t *testing.T, s FederationStore) {
	ctx := context.Background()
	var twin directory.Person
	update(t, s, func(ctx context.Context, tx directory.Tx) error {
		for _, p := range []directory.Person{
			{AAFID: "100", Source: directory.SourceAAF, LastName: "A", INE: "070123456AB"},
			{AAFID: "101", Source: directory.SourceAAF, LastName: "B", Email: "Anne.Durand@ac-test.fr"},
			{AAFID: "102", Source: directory.SourceAAF, LastName: "C"},
		} {
			if err := tx.PutPerson(ctx, &p); err != nil {
				return err
			}
			if p.AAFID == "101" {
				twin = p
			}
		}
		return nil
	})
	ps, err := s.PersonsByINE(ctx, "070123456AB")
	if err != nil || len(ps) != 1 || ps[0].AAFID != "100" {
		t.Errorf("PersonsByINE = %+v, %v", ps, err)
	}
	ps, err = s.PersonsByEmail(ctx, "anne.durand@AC-TEST.fr")
	if err != nil || len(ps) != 1 || ps[0].ID != twin.ID {
		t.Errorf("PersonsByEmail (other case) = %+v, %v", ps, err)
	}
	// Persons without an INE or an e-mail never match an empty one.
	for name, fn := range map[string]func(context.Context, string) ([]directory.Person, error){"INE": s.PersonsByINE, "email": s.PersonsByEmail} {
		if ps, err := fn(ctx, ""); err != nil || len(ps) != 0 {
			t.Errorf("PersonsBy%s(\"\") = %d persons, %v; want none", name, len(ps), err)
		}
	}
}

func testTouchExternalLink(t *testing.T, s FederationStore) {
	f := seed(t, s)
	ctx := context.Background()
	update(t, s, func(ctx context.Context, tx directory.Tx) error {
		return tx.PutExternalLink(ctx, directory.ExternalLink{Issuer: "https://sts.windows.net/t/", Subject: "oid-1", AccountID: f.teachAc.ID, CreatedAt: t0})
	})
	if err := s.TouchExternalLink(ctx, "https://sts.windows.net/t/", "oid-1", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	l, err := s.ExternalLink(ctx, "https://sts.windows.net/t/", "oid-1")
	if err != nil || l.LastUsedAt == nil || !l.LastUsedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("after touch: %+v, %v", l, err)
	}
	if err := s.TouchExternalLink(ctx, "https://sts.windows.net/t/", "nobody", t0); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("touch of a missing link = %v, want ErrNotFound", err)
	}
}

// When the AAF deletes the person, the upstream link goes with the account:
// a later login from that upstream identity is not linked to anything.
func testLinkGoesWithPerson(t *testing.T, s FederationStore) {
	f := seed(t, s)
	ctx := context.Background()
	update(t, s, func(ctx context.Context, tx directory.Tx) error {
		return tx.PutExternalLink(ctx, directory.ExternalLink{Issuer: "ect", Subject: "s1", AccountID: f.studentAcc.ID, CreatedAt: t0})
	})
	update(t, s, func(ctx context.Context, tx directory.Tx) error { return tx.DeletePerson(ctx, f.student.ID) })
	if _, err := s.ExternalLink(ctx, "ect", "s1"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("link after the person's deletion = %v, want ErrNotFound", err)
	}
}

func jitAccount(school directory.Structure, login string) (*directory.Person, *directory.Account, []directory.Persona) {
	return &directory.Person{Source: directory.SourceCollectivite, LastName: "Cantine", FirstName: "Agent", Email: login},
		&directory.Account{Login: login, Source: directory.SourceCollectivite},
		[]directory.Persona{{StructureID: school.ID, Profile: directory.ProfileCollectivite, Source: directory.SourceCollectivite}}
}

// A just-in-time account: person, account, persona, link and audit event
// in one go, readable at once through the link.
func testCreateLinkedAccount(t *testing.T, s FederationStore) {
	f := seed(t, s)
	ctx := context.Background()
	p, a, ps := jitAccount(f.school, "agent.cantine@eduprovence.test")
	link := directory.ExternalLink{Issuer: "https://login.microsoftonline.com/t/v2.0", Subject: "oid-a1", CreatedAt: t0, LastUsedAt: &t0}
	ev := directory.Event{Time: t0, Type: "federation.jit", Outcome: "ok", Reason: "rule entra-jit"}
	if err := s.CreateLinkedAccount(ctx, p, a, ps, link, ev); err != nil {
		t.Fatal(err)
	}
	if p.ID == "" || a.ID == "" || a.PersonID != p.ID {
		t.Fatalf("ids not assigned: person %q account %+v", p.ID, a)
	}
	l, err := s.ExternalLink(ctx, link.Issuer, link.Subject)
	if err != nil || l.AccountID != a.ID {
		t.Fatalf("link = %+v, %v", l, err)
	}
	got, err := s.Account(ctx, a.ID)
	if err != nil || got.Login != "agent.cantine@eduprovence.test" || got.Status != directory.StatusActive || got.Source != directory.SourceCollectivite {
		t.Errorf("account = %+v, %v", got, err)
	}
	per, err := s.Personas(ctx, p.ID)
	if err != nil || len(per) != 1 || per[0].StructureID != f.school.ID || per[0].Profile != directory.ProfileCollectivite {
		t.Errorf("personas = %+v, %v", per, err)
	}
	es, err := s.Events(ctx, directory.EventFilter{Type: "federation.jit"})
	if err != nil || len(es) != 1 || es[0].AccountID != a.ID || es[0].Reason != "rule entra-jit" {
		t.Errorf("events = %+v, %v", es, err)
	}
}

// Two instances creating the same upstream person: the second finds the
// link taken and creates nothing (no orphan person or account); a login
// already used is refused alike.
func testCreateLinkedAccountOnce(t *testing.T, s FederationStore) {
	f := seed(t, s)
	ctx := context.Background()
	before, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	link := directory.ExternalLink{Issuer: "https://login.microsoftonline.com/t/v2.0", Subject: "oid-a1", CreatedAt: t0}
	p, a, ps := jitAccount(f.school, "agent.cantine@eduprovence.test")
	if err := s.CreateLinkedAccount(ctx, p, a, ps, link); err != nil {
		t.Fatal(err)
	}
	p2, a2, ps2 := jitAccount(f.school, "agent.cantine.2@eduprovence.test")
	if err := s.CreateLinkedAccount(ctx, p2, a2, ps2, link, directory.Event{Time: t0, Type: "federation.jit"}); !errors.Is(err, directory.ErrConflict) {
		t.Fatalf("second creation for the same link = %v, want ErrConflict", err)
	}
	p3, a3, ps3 := jitAccount(f.school, "lea.martin") // the student's login
	link.Subject = "oid-a3"
	if err := s.CreateLinkedAccount(ctx, p3, a3, ps3, link); !errors.Is(err, directory.ErrConflict) {
		t.Fatalf("creation with a login in use = %v, want ErrConflict", err)
	}
	after, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Accounts.Active != before.Accounts.Active+1 || after.ByProfile[directory.ProfileCollectivite] != before.ByProfile[directory.ProfileCollectivite]+1 {
		t.Errorf("accounts %+v -> %+v, collectivite personas %d -> %d: the refused creations left something behind",
			before.Accounts, after.Accounts, before.ByProfile[directory.ProfileCollectivite], after.ByProfile[directory.ProfileCollectivite])
	}
	if es, _ := s.Events(ctx, directory.EventFilter{Type: "federation.jit"}); len(es) != 0 {
		t.Errorf("a refused creation left its event: %+v", es)
	}
	if _, err := s.ExternalLink(ctx, link.Issuer, "oid-a3"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("link of a refused creation = %v", err)
	}
}
