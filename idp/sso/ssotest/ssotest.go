// Package ssotest is the conformance suite every sso.Store passes: the SQL
// store runs it on SQLite and on PostgreSQL.
package ssotest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/enthub/enthub/idp/sso"
)

// T0 is the fixed time the suite runs at; stores under test should use a
// clock that does not matter (the suite passes times explicitly).
var T0 = time.Date(2026, 9, 1, 7, 45, 0, 0, time.UTC)

// Run runs the suite; open returns an empty store for each subtest.
func Run(t *testing.T, open func(t *testing.T) sso.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s sso.Store)
	}{
		{"SessionLifecycle", testSessionLifecycle},
		{"SessionExpiredIsNotFound", testSessionExpired},
		{"SessionBrokered", testSessionBrokered},
		{"PendingLifecycle", testPending},
		{"PendingConcurrentDeleteOneWinner", testPendingConcurrent},
		{"TicketSingleUse", testTicketSingleUse},
		{"TicketConcurrentConsumeOneWinner", testTicketConcurrent},
		{"TicketExpiredRefused", testTicketExpired},
		{"CodeReuseReported", testCodeReuse},
		{"RefreshRotationAndReuse", testRefreshRotation},
		{"RevokeSessionTokens", testRevokeSessionTokens},
		{"MessageIDReplay", testMessageID},
		{"Keys", testKeys},
		{"Throttle", testThrottle},
		{"ServiceDefs", testServiceDefs},
		{"PurgeExpired", testPurge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func session(id string) sso.Session {
	return sso.Session{ID: id, AccountID: "acc-" + id, PersonID: "per-" + id, Upstream: "local",
		AuthTime: T0, CreatedAt: T0, LastSeen: T0, ExpiresAt: T0.Add(10 * time.Hour)}
}

func testSessionLifecycle(t *testing.T, s sso.Store) {
	ctx := context.Background()
	must(t, s.CreateSession(ctx, session("s1")))
	got, err := s.Session(ctx, "s1", T0.Add(time.Minute))
	must(t, err)
	if got.AccountID != "acc-s1" || !got.AuthTime.Equal(T0) || !got.ExpiresAt.Equal(T0.Add(10*time.Hour)) {
		t.Fatalf("session read back as %+v", got)
	}
	must(t, s.TouchSession(ctx, "s1", T0.Add(5*time.Minute)))
	must(t, s.SetSessionPersona(ctx, "s1", "pa1", "st1", "eleve"))
	got, _ = s.Session(ctx, "s1", T0.Add(6*time.Minute))
	if !got.LastSeen.Equal(T0.Add(5*time.Minute)) || got.PersonaID != "pa1" || got.StructureID != "st1" || got.Profile != "eleve" {
		t.Fatalf("after touch and persona: %+v", got)
	}
	must(t, s.AddSessionService(ctx, sso.SessionService{SessionID: "s1", ServiceID: "pronote", Protocol: "cas", Ref: "ST-1", URL: "https://p/", At: T0}))
	must(t, s.AddSessionService(ctx, sso.SessionService{SessionID: "s1", ServiceID: "pronote", Protocol: "cas", Ref: "ST-1", URL: "https://p/", At: T0.Add(time.Second)}))
	must(t, s.AddSessionService(ctx, sso.SessionService{SessionID: "s1", ServiceID: "gar", Protocol: "saml", Ref: "n|i", At: T0.Add(2 * time.Second)}))
	svcs, err := s.SessionServices(ctx, "s1")
	must(t, err)
	if len(svcs) != 2 {
		t.Fatalf("services: %+v", svcs)
	}
	must(t, s.PutTicket(ctx, sso.Ticket{ID: "ST-x", Kind: "ST", ServiceID: "pronote", Service: "https://p/", SessionID: "s1", AccountID: "a", CreatedAt: T0, ExpiresAt: T0.Add(time.Hour)}))
	n, err := s.CountSessions(ctx, T0)
	must(t, err)
	if n != 1 {
		t.Fatalf("CountSessions = %d", n)
	}
	del, svcs, err := s.DeleteSession(ctx, "s1")
	must(t, err)
	if del.ID != "s1" || len(svcs) != 2 {
		t.Fatalf("DeleteSession returned %+v %+v", del, svcs)
	}
	if _, err := s.Session(ctx, "s1", T0); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("deleted session: %v", err)
	}
	if _, err := s.ConsumeTicket(ctx, "ST-x", T0); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("ticket of a deleted session still valid: %v", err)
	}
	if _, _, err := s.DeleteSession(ctx, "s1"); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if err := s.TouchSession(ctx, "nope", T0); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("touch unknown: %v", err)
	}
}

func testSessionExpired(t *testing.T, s sso.Store) {
	ctx := context.Background()
	must(t, s.CreateSession(ctx, session("s2")))
	if _, err := s.Session(ctx, "s2", T0.Add(10*time.Hour)); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("session at its absolute end: %v", err)
	}
}

func testPending(t *testing.T, s sso.Store) {
	ctx := context.Background()
	p := sso.Pending{ID: "p1", Kind: "cas", ServiceID: "pronote", Payload: []byte(`{"service":"https://x/"}`), CreatedAt: T0, ExpiresAt: T0.Add(30 * time.Minute)}
	must(t, s.PutPending(ctx, p))
	got, err := s.Pending(ctx, "p1", T0)
	must(t, err)
	if string(got.Payload) != string(p.Payload) || got.Kind != "cas" || got.SessionID != "" {
		t.Fatalf("pending read back as %+v", got)
	}
	must(t, s.CompletePending(ctx, "p1", "s9"))
	got, _ = s.Pending(ctx, "p1", T0)
	if got.SessionID != "s9" {
		t.Fatalf("completed pending: %+v", got)
	}
	if _, err := s.Pending(ctx, "p1", T0.Add(31*time.Minute)); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("expired pending: %v", err)
	}
	must(t, s.DeletePending(ctx, "p1"))
	if _, err := s.Pending(ctx, "p1", T0); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("deleted pending: %v", err)
	}
	if err := s.DeletePending(ctx, "p1"); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("second delete of a pending request: %v, want ErrNotFound", err)
	}
	if err := s.PutPending(ctx, sso.Pending{ID: "p2", Kind: "saml", CreatedAt: T0, ExpiresAt: T0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
}

// Two logins completing one parked request at the same instant: taking
// it out tells exactly one of them that it answers the request.
func testPendingConcurrent(t *testing.T, s sso.Store) {
	ctx := context.Background()
	must(t, s.PutPending(ctx, sso.Pending{ID: "p-race", Kind: "cas", ServiceID: "pronote", CreatedAt: T0, ExpiresAt: T0.Add(time.Minute)}))
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, lost := 0, 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.DeletePending(ctx, "p-race")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, sso.ErrNotFound):
				lost++
			default:
				t.Errorf("delete pending: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || lost != 7 {
		t.Fatalf("%d callers took the same parked request, %d were told it was gone; want 1 and 7", wins, lost)
	}
}

func ticket(id string) sso.Ticket {
	return sso.Ticket{ID: id, Kind: "ST", ServiceID: "pronote", Service: "https://0451462V.index-education.net/pronote/",
		SessionID: "s1", AccountID: "a1", PersonaID: "pa1", Renewed: true, Proxies: []string{"https://p1/"},
		Released: []byte(`{"u":"emma.martin","a":[{"n":"nom","v":["Martin"]}]}`), CreatedAt: T0, ExpiresAt: T0.Add(time.Minute)}
}

func testTicketSingleUse(t *testing.T, s sso.Store) {
	ctx := context.Background()
	must(t, s.PutTicket(ctx, ticket("ST-1")))
	got, err := s.ConsumeTicket(ctx, "ST-1", T0.Add(time.Second))
	must(t, err)
	if got.Service != ticket("ST-1").Service || !got.Renewed || got.PersonaID != "pa1" || len(got.Proxies) != 1 ||
		string(got.Released) != string(ticket("ST-1").Released) {
		t.Fatalf("ticket read back as %+v", got)
	}
	if _, err := s.ConsumeTicket(ctx, "ST-1", T0.Add(time.Second)); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("second consume: %v", err)
	}
	pgt := ticket("PGT-1")
	pgt.Kind, pgt.Released, pgt.Proxies = "PGT", nil, nil
	must(t, s.PutTicket(ctx, pgt))
	if got, err := s.Ticket(ctx, "PGT-1", T0); err != nil || got.Released != nil || len(got.Proxies) != 0 {
		t.Fatalf("PGT read back as %+v, %v", got, err)
	}
	for i := 0; i < 2; i++ {
		if _, err := s.Ticket(ctx, "PGT-1", T0); err != nil {
			t.Fatalf("PGT read %d: %v", i, err)
		}
	}
	must(t, s.DeleteSessionTickets(ctx, "s1"))
	if _, err := s.Ticket(ctx, "PGT-1", T0); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("PGT after session tickets deleted: %v", err)
	}
}

func testTicketConcurrent(t *testing.T, s sso.Store) {
	ctx := context.Background()
	must(t, s.PutTicket(ctx, ticket("ST-race")))
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.ConsumeTicket(ctx, "ST-race", T0); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d validators consumed the same ticket", wins)
	}
}

func testTicketExpired(t *testing.T, s sso.Store) {
	ctx := context.Background()
	must(t, s.PutTicket(ctx, ticket("ST-old")))
	if _, err := s.ConsumeTicket(ctx, "ST-old", T0.Add(time.Minute)); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("expired ticket: %v", err)
	}
}

func testCodeReuse(t *testing.T, s sso.Store) {
	ctx := context.Background()
	must(t, s.PutCode(ctx, sso.Code{ID: "c1", Family: "f1", ClientID: "chamilo", SessionID: "s1", Data: []byte(`{"a":1}`), CreatedAt: T0, ExpiresAt: T0.Add(time.Minute)}))
	c, err := s.ConsumeCode(ctx, "c1", T0.Add(time.Second))
	must(t, err)
	if c.Family != "f1" || string(c.Data) != `{"a":1}` {
		t.Fatalf("code read back as %+v", c)
	}
	c, err = s.ConsumeCode(ctx, "c1", T0.Add(2*time.Second))
	if !errors.Is(err, sso.ErrReused) || c.Family != "f1" {
		t.Fatalf("second exchange: %v (family %q)", err, c.Family)
	}
	if _, err := s.ConsumeCode(ctx, "nope", T0); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("unknown code: %v", err)
	}
	must(t, s.PutCode(ctx, sso.Code{ID: "c2", Family: "f2", ClientID: "x", CreatedAt: T0, ExpiresAt: T0.Add(time.Minute)}))
	if _, err := s.ConsumeCode(ctx, "c2", T0.Add(time.Minute)); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("expired code: %v", err)
	}
}

func token(id, kind, family string) sso.Token {
	return sso.Token{ID: id, Kind: kind, Family: family, ClientID: "chamilo", AccountID: "a1", SessionID: "s1",
		Data: []byte(`{}`), CreatedAt: T0, ExpiresAt: T0.Add(time.Hour)}
}

func testRefreshRotation(t *testing.T, s sso.Store) {
	ctx := context.Background()
	must(t, s.PutToken(ctx, token("at1", "access", "f")))
	must(t, s.PutToken(ctx, token("rt1", "refresh", "f")))
	must(t, s.RotateRefresh(ctx, "rt1", T0.Add(time.Minute), token("at2", "access", "f"), token("rt2", "refresh", "f")))
	rt1, err := s.Token(ctx, "rt1", T0.Add(time.Minute))
	must(t, err)
	if rt1.UsedAt == nil {
		t.Fatal("rotated refresh token has no UsedAt")
	}
	if _, err := s.Token(ctx, "rt2", T0.Add(time.Minute)); err != nil {
		t.Fatalf("successor: %v", err)
	}
	err = s.RotateRefresh(ctx, "rt1", T0.Add(2*time.Minute), token("rt3", "refresh", "f"))
	if !errors.Is(err, sso.ErrReused) {
		t.Fatalf("second rotation of rt1: %v", err)
	}
	if _, err := s.Token(ctx, "rt3", T0); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("a refused rotation stored its successor: %v", err)
	}
	n, err := s.RevokeFamily(ctx, "f")
	must(t, err)
	if n != 4 {
		t.Fatalf("RevokeFamily removed %d tokens, want 4", n)
	}
	if err := s.RotateRefresh(ctx, "rt2", T0.Add(3*time.Minute)); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("rotation after revocation: %v", err)
	}
	if _, err := s.Token(ctx, "at2", T0); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("access token after revocation: %v", err)
	}
	must(t, s.PutToken(ctx, token("at9", "access", "g")))
	if _, err := s.Token(ctx, "at9", T0.Add(time.Hour)); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("expired token: %v", err)
	}
	must(t, s.RevokeToken(ctx, "at9"))
}

func testRevokeSessionTokens(t *testing.T, s sso.Store) {
	ctx := context.Background()
	must(t, s.PutToken(ctx, token("a", "access", "f1")))
	must(t, s.PutToken(ctx, token("b", "refresh", "f2")))
	other := token("c", "access", "f3")
	other.SessionID = "s2"
	must(t, s.PutToken(ctx, other))
	n, err := s.RevokeSessionTokens(ctx, "s1")
	must(t, err)
	if n != 2 {
		t.Fatalf("revoked %d, want 2", n)
	}
	if _, err := s.Token(ctx, "c", T0); err != nil {
		t.Fatalf("token of another session: %v", err)
	}
}

func testMessageID(t *testing.T, s sso.Store) {
	ctx := context.Background()
	must(t, s.RememberMessageID(ctx, "https://sp/", "id-1", T0.Add(time.Hour), T0))
	if err := s.RememberMessageID(ctx, "https://sp/", "id-1", T0.Add(time.Hour), T0.Add(time.Minute)); !errors.Is(err, sso.ErrReused) {
		t.Fatalf("replayed id: %v", err)
	}
	must(t, s.RememberMessageID(ctx, "https://other-sp/", "id-1", T0.Add(time.Hour), T0))
	// After expiry the id may come again (the request itself is stale by then).
	must(t, s.RememberMessageID(ctx, "https://sp/", "id-1", T0.Add(3*time.Hour), T0.Add(2*time.Hour)))
}

func testKeys(t *testing.T, s sso.Store) {
	ctx := context.Background()
	k := sso.Key{ID: "k1", Kind: "rsa", Private: []byte("PEM"), Certificate: []byte("CERT"), CreatedAt: T0, ActiveFrom: T0}
	must(t, s.PutKey(ctx, k))
	if err := s.PutKey(ctx, k); !errors.Is(err, sso.ErrReused) {
		t.Fatalf("duplicate key id: %v", err)
	}
	must(t, s.PutKey(ctx, sso.Key{ID: "k2", Kind: "rsa", Private: []byte("P2"), CreatedAt: T0, ActiveFrom: T0.Add(time.Hour)}))
	must(t, s.RetireKey(ctx, "k1", T0.Add(2*time.Hour)))
	keys, err := s.Keys(ctx)
	must(t, err)
	if len(keys) != 2 || keys[0].ID != "k1" || keys[0].RetireAt == nil || !keys[0].RetireAt.Equal(T0.Add(2*time.Hour)) ||
		string(keys[0].Private) != "PEM" || keys[1].RetireAt != nil {
		t.Fatalf("keys read back as %+v", keys)
	}
	must(t, s.SealKey(ctx, "k1", []byte("PEM"), []byte("enc:PEM")))
	if err := s.SealKey(ctx, "k1", []byte("PEM"), []byte("enc:other")); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("sealing a key sealed meanwhile: %v", err)
	}
	if keys, _ := s.Keys(ctx); string(keys[0].Private) != "enc:PEM" || string(keys[1].Private) != "P2" {
		t.Fatalf("after sealing k1: %+v", keys)
	}
}

func testServiceDefs(t *testing.T, s sso.Store) {
	ctx := context.Background()
	g0, err := s.ServicesGeneration(ctx)
	must(t, err)
	if defs, err := s.ServiceDefs(ctx); err != nil || len(defs) != 0 {
		t.Fatalf("fresh store lists %v, %v", defs, err)
	}
	must(t, s.PutServices(ctx, sso.ServiceDef{ID: "pronote", Definition: []byte("id: pronote\n"), UpdatedAt: T0},
		sso.ServiceDef{ID: "chamilo", Definition: []byte("id: chamilo\n"), UpdatedAt: T0}))
	g1, err := s.ServicesGeneration(ctx)
	must(t, err)
	if g1 == g0 {
		t.Fatal("PutServices left the generation as it was")
	}
	if g, _ := s.ServicesGeneration(ctx); g != g1 {
		t.Fatalf("generation moved without a change: %d then %d", g1, g)
	}
	// Putting an existing ID replaces its definition.
	must(t, s.PutServices(ctx, sso.ServiceDef{ID: "pronote", Definition: []byte("id: pronote\nname: Pronote\n"), UpdatedAt: T0.Add(time.Hour)}))
	g2, err := s.ServicesGeneration(ctx)
	must(t, err)
	if g2 == g1 {
		t.Fatal("replacing a definition left the generation as it was")
	}
	defs, err := s.ServiceDefs(ctx)
	must(t, err)
	if len(defs) != 2 || defs[0].ID != "chamilo" || defs[1].ID != "pronote" ||
		string(defs[1].Definition) != "id: pronote\nname: Pronote\n" || !defs[1].UpdatedAt.Equal(T0.Add(time.Hour)) {
		t.Fatalf("definitions read back as %+v", defs)
	}
	must(t, s.DeleteService(ctx, "chamilo"))
	if err := s.DeleteService(ctx, "chamilo"); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("deleting an absent service: %v", err)
	}
	g3, err := s.ServicesGeneration(ctx)
	must(t, err)
	if g3 == g2 {
		t.Fatal("DeleteService left the generation as it was")
	}
	if defs, _ = s.ServiceDefs(ctx); len(defs) != 1 || defs[0].ID != "pronote" {
		t.Fatalf("after delete: %+v", defs)
	}
}

func testThrottle(t *testing.T, s sso.Store) {
	ctx := context.Background()
	th, err := s.LoginThrottle(ctx, "login:x")
	must(t, err)
	if th.Failures != 0 {
		t.Fatalf("fresh throttle: %+v", th)
	}
	for i := 1; i <= 3; i++ {
		th, err = s.AddLoginFailure(ctx, "login:x", T0.Add(time.Duration(i)*time.Second), T0.Add(-time.Hour))
		must(t, err)
		if th.Failures != i {
			t.Fatalf("failure %d counted as %d", i, th.Failures)
		}
	}
	th, _ = s.LoginThrottle(ctx, "login:x")
	if th.Failures != 3 || !th.LastFailure.Equal(T0.Add(3*time.Second)) {
		t.Fatalf("throttle: %+v", th)
	}
	// A failure long after the last one starts a new count.
	th, err = s.AddLoginFailure(ctx, "login:x", T0.Add(2*time.Hour), T0.Add(time.Hour))
	must(t, err)
	if th.Failures != 1 {
		t.Fatalf("count after the window: %d", th.Failures)
	}
	must(t, s.ClearLoginFailures(ctx, "login:x"))
	th, _ = s.LoginThrottle(ctx, "login:x")
	if th.Failures != 0 {
		t.Fatalf("after clear: %+v", th)
	}
}

func testPurge(t *testing.T, s sso.Store) {
	ctx := context.Background()
	must(t, s.CreateSession(ctx, session("old")))
	must(t, s.PutTicket(ctx, ticket("ST-p")))
	must(t, s.PutPending(ctx, sso.Pending{ID: "pp", Kind: "cas", CreatedAt: T0, ExpiresAt: T0.Add(time.Minute)}))
	must(t, s.PutToken(ctx, token("tp", "access", "f")))
	n, err := s.PurgeExpired(ctx, T0.Add(11*time.Hour))
	must(t, err)
	if n < 4 {
		t.Fatalf("purged %d records, want at least 4", n)
	}
	if c, _ := s.CountSessions(ctx, T0); c != 0 {
		t.Fatalf("%d sessions left", c)
	}
}

// Bench is a helper for store benchmarks: it fills n sessions.
func Bench(ctx context.Context, s sso.Store, n int) error {
	for i := 0; i < n; i++ {
		if err := s.CreateSession(ctx, session(fmt.Sprintf("bench-%d", i))); err != nil {
			return err
		}
	}
	return nil
}

// testSessionBrokered: a session from an upstream login keeps its candidate
// accounts and upstream logout data, switches account, detaches the
// services reached as the old persona, and is found by its upstream ref.
func testSessionBrokered(t *testing.T, s sso.Store) {
	ctx := context.Background()
	v := session("b1")
	v.Upstream, v.Accounts, v.UpstreamRef, v.UpstreamLogout = "educonnect", []string{"acc-b1", "acc-b2"}, "educonnect|idx-1", []byte(`{"session_index":"idx-1"}`)
	must(t, s.CreateSession(ctx, v))
	must(t, s.CreateSession(ctx, session("other")))
	got, err := s.Session(ctx, "b1", T0)
	must(t, err)
	if fmt.Sprint(got.Accounts) != "[acc-b1 acc-b2]" || got.UpstreamRef != "educonnect|idx-1" || string(got.UpstreamLogout) != `{"session_index":"idx-1"}` {
		t.Fatalf("brokered session read back as %+v", got)
	}
	must(t, s.SetSessionPersona(ctx, "b1", "pa1", "st1", "parent"))
	must(t, s.AddSessionService(ctx, sso.SessionService{SessionID: "b1", ServiceID: "pronote", Protocol: "cas", Ref: "ST-1", URL: "https://p/", At: T0}))
	must(t, s.PutTicket(ctx, sso.Ticket{ID: "ST-b", Kind: "ST", ServiceID: "pronote", Service: "https://p/", SessionID: "b1", AccountID: "acc-b1", CreatedAt: T0, ExpiresAt: T0.Add(time.Hour)}))
	must(t, s.SwitchSessionAccount(ctx, "b1", "acc-b2", "per-b2"))
	got, _ = s.Session(ctx, "b1", T0)
	if got.AccountID != "acc-b2" || got.PersonID != "per-b2" || got.PersonaID != "" || got.Profile != "" {
		t.Fatalf("after switch: %+v", got)
	}
	svcs, err := s.DetachSessionServices(ctx, "b1")
	must(t, err)
	if len(svcs) != 1 || svcs[0].ServiceID != "pronote" {
		t.Fatalf("detached %+v", svcs)
	}
	if left, _ := s.SessionServices(ctx, "b1"); len(left) != 0 {
		t.Fatalf("services left after detach: %+v", left)
	}
	if _, err := s.ConsumeTicket(ctx, "ST-b", T0); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("ticket of the old persona still valid: %v", err)
	}
	found, err := s.SessionsByUpstream(ctx, "educonnect|idx-1", T0)
	must(t, err)
	if len(found) != 1 || found[0].ID != "b1" {
		t.Fatalf("sessions by upstream: %+v", found)
	}
	if found, _ := s.SessionsByUpstream(ctx, "educonnect|idx-1", T0.Add(11*time.Hour)); len(found) != 0 {
		t.Fatalf("expired session found by upstream: %+v", found)
	}
	if err := s.SwitchSessionAccount(ctx, "nope", "a", "p"); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("switch of unknown session: %v", err)
	}
}
