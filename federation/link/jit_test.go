package link

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/enthub/enthub/directory"
)

const (
	jitTenant = "9188040d-6c67-4c5b-b112-36a304b66dad"
	kitchen   = "0f4c2b1e-cuisine"
)

var entra = Config{Rules: []Rule{
	{Name: "lien-enregistre", Kind: StoredLink},
	{Name: "entra-upn-mail", Kind: Email, Attributes: []string{"upn", "email"}},
	{Name: "entra-jit-collectivite", Kind: JustInTime, JIT: &JIT{Tenants: []string{jitTenant}, Groups: []string{kitchen},
		StructureAttribute: "extension_UAI", Structure: "0131234A"}},
}}

func entraAgent(oid string, attrs map[string][]string) map[string][]string {
	base := map[string][]string{"tid": {jitTenant}, "oid": {oid}, "upn": {"agent." + oid + "@eduprovence.test"},
		"given_name": {"Agent"}, "family_name": {"Cantine"}, "groups": {"autre-groupe", kitchen}}
	for k, v := range attrs {
		if v == nil {
			delete(base, k)
		} else {
			base[k] = v
		}
	}
	return base
}

func TestJustInTimeAccount(t *testing.T) {
	stores(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		l := w.linker()
		id := ident("eduprovence", "oid-a1", entraAgent("a1", nil))
		d, err := l.Link(ctx, entra, id)
		if err != nil {
			t.Fatal(err)
		}
		if d.Rule != "entra-jit-collectivite" || !d.Created || !d.Stored || len(d.Candidates) != 1 {
			t.Fatalf("decision = %+v", d)
		}
		c := d.Candidates[0]
		if c.Account.Login != "agent.a1@eduprovence.test" || c.Account.Source != directory.SourceCollectivite || c.Person.LastName != "Cantine" ||
			len(c.Personas) != 1 || c.Personas[0].Profile != directory.ProfileCollectivite {
			t.Errorf("created %+v", c)
		}
		st, _ := w.s.StructureByUAI(ctx, "0131234A")
		if c.Personas[0].StructureID != st.ID {
			t.Errorf("attached to %s, want the configured structure %s", c.Personas[0].StructureID, st.ID)
		}
		// Audited with the rule, in the same transaction.
		es, err := w.s.Events(ctx, directory.EventFilter{Type: "federation.jit"})
		if err != nil || len(es) != 1 || es[0].AccountID != c.Account.ID || es[0].Details["rule"] != "entra-jit-collectivite" ||
			es[0].Details["tenant"] != jitTenant || es[0].Details["groups"] != kitchen || es[0].Details["structure"] != "0131234A" {
			t.Errorf("audit = %+v, %v", es, err)
		}
		if e := Event(id, d, nil, t0); e.Details["account_created"] != "true" || e.Details["rule"] != "entra-jit-collectivite" {
			t.Errorf("link event = %+v", e)
		}
		// The next login finds the stored link; nothing more is created.
		d2, err := l.Link(ctx, entra, id)
		if err != nil || d2.Rule != "lien-enregistre" || d2.Created || d2.Candidates[0].Account.ID != c.Account.ID {
			t.Errorf("second login = %+v, %v", d2, err)
		}
	})
}

func TestJustInTimeStructureFromClaim(t *testing.T) {
	stores(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		d, err := w.linker().Link(ctx, entra, ident("eduprovence", "oid-b2", entraAgent("b2", map[string][]string{"extension_UAI": {"0135678b"}})))
		if err != nil {
			t.Fatal(err)
		}
		st, _ := w.s.StructureByUAI(ctx, "0135678B")
		if got := d.Candidates[0].Personas[0].StructureID; got != st.ID {
			t.Errorf("attached to %s, want the claim's school %s", got, st.ID)
		}
		// A claim naming a school the directory does not know falls back on
		// the configured structure.
		d, err = w.linker().Link(ctx, entra, ident("eduprovence", "oid-b3", entraAgent("b3", map[string][]string{"extension_UAI": {"0999999Z"}})))
		if err != nil {
			t.Fatal(err)
		}
		st, _ = w.s.StructureByUAI(ctx, "0131234A")
		if got := d.Candidates[0].Personas[0].StructureID; got != st.ID {
			t.Errorf("attached to %s, want the configured %s", got, st.ID)
		}
	})
}

// Only a login from a listed tenant, by a member of a listed group, creates
// an account; a person the directory knows is linked, never duplicated.
func TestJustInTimeRefusals(t *testing.T) {
	stores(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		for name, attrs := range map[string]map[string][]string{
			"another tenant":  {"tid": {"72f988bf-86f1-41af-91ab-2d7cd011db47"}},
			"no listed group": {"groups": {"autre-groupe"}},
			"groups overage":  {"groups": nil, "groups_overage": {"true"}},
		} {
			t.Run(name, func(t *testing.T) {
				_, err := w.linker().Link(ctx, entra, ident("eduprovence", "oid-"+name, entraAgent("x", attrs)))
				var nm *NoMatchError
				if !errors.As(err, &nm) {
					t.Errorf("Link = %v, want no match", err)
				}
			})
		}
		t.Run("no structure", func(t *testing.T) {
			cfg := Config{Rules: []Rule{{Name: "jit", Kind: JustInTime, JIT: &JIT{Tenants: []string{jitTenant}, Groups: []string{kitchen}, Structure: "0999999Z"}}}}
			if _, err := w.linker().Link(ctx, cfg, ident("eduprovence", "oid-ns", entraAgent("ns", nil))); !errors.As(err, new(*NoMatchError)) {
				t.Errorf("Link = %v, want no match", err)
			}
		})
		t.Run("known teacher is linked, not created", func(t *testing.T) {
			d, err := w.linker().Link(ctx, entra, ident("eduprovence", "oid-anne", entraAgent("anne", map[string][]string{"upn": {"anne.durand@ac-aix-marseille.fr"}})))
			if err != nil || d.Created || d.Candidates[0].Person.ID != w.anne.ID {
				t.Errorf("decision = %+v, %v", d, err)
			}
		})
		if es, _ := w.s.Events(ctx, directory.EventFilter{Type: "federation.jit"}); len(es) != 0 {
			t.Errorf("accounts created: %+v", es)
		}
	})
}

// Two instances receiving the first login of the same person at once create
// one account; both logins land on it.
func TestJustInTimeConcurrentFirstLogins(t *testing.T) {
	stores(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		id := ident("eduprovence", "oid-c1", entraAgent("c1", nil))
		var wg sync.WaitGroup
		got := make([]Decision, 4)
		errs := make([]error, 4)
		for i := range got {
			wg.Add(1)
			go func() { defer wg.Done(); got[i], errs[i] = w.linker().Link(ctx, entra, id) }()
		}
		wg.Wait()
		created := 0
		for i := range got {
			if errs[i] != nil {
				t.Fatalf("login %d: %v", i, errs[i])
			}
			if got[i].Candidates[0].Account.ID != got[0].Candidates[0].Account.ID {
				t.Errorf("logins landed on different accounts: %v", got)
			}
			if got[i].Created {
				created++
			}
		}
		if es, _ := w.s.Events(ctx, directory.EventFilter{Type: "federation.jit"}); len(es) != 1 || created > 1 {
			t.Errorf("%d accounts created (%d events)", created, len(es))
		}
	})
}

func TestJustInTimeConfig(t *testing.T) {
	for name, tc := range map[string]struct {
		jit  *JIT
		want string
	}{
		"missing":      {nil, "jit: needed"},
		"no tenant":    {&JIT{Groups: []string{"g"}, Structure: "0131234A"}, "jit.tenants"},
		"no group":     {&JIT{Tenants: []string{"t"}, Structure: "0131234A"}, "jit.groups"},
		"no structure": {&JIT{Tenants: []string{"t"}, Groups: []string{"g"}}, "structure or structure_attribute"},
		"bad profile":  {&JIT{Tenants: []string{"t"}, Groups: []string{"g"}, Structure: "0131234A", Profile: "chef"}, "jit.profile"},
	} {
		err := Config{Rules: []Rule{{Kind: JustInTime, JIT: tc.jit}}}.Validate("eduprovence")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v, want %q", name, err, tc.want)
		}
	}
	if err := entra.Validate("eduprovence"); err != nil {
		t.Errorf("valid config: %v", err)
	}
}
