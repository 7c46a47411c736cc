package spaces_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/spaces"
	"github.com/enthub/enthub/directory/sqlstore"
)

var t0 = time.Date(2026, 9, 7, 8, 0, 0, 0, time.UTC)

func newService(t *testing.T) (*spaces.Service, *sqlstore.Store, directory.Account) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "e.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var acc directory.Account
	err = st.Update(ctx, func(tx directory.Tx) error {
		p := &directory.Person{FirstName: "Anne", LastName: "Technicienne", Source: directory.SourceManual}
		if err := tx.PutPerson(ctx, p); err != nil {
			return err
		}
		acc = directory.Account{PersonID: p.ID, Login: "anne.technicienne", Status: directory.StatusActive, Source: directory.SourceManual}
		return tx.PutAccount(ctx, &acc)
	})
	if err != nil {
		t.Fatal(err)
	}
	return &spaces.Service{Store: st, Now: func() time.Time { return t0 }}, st, acc
}

func TestCreateRefusesBadFields(t *testing.T) {
	svc, st, _ := newService(t)
	ctx := context.Background()
	long := string(make([]rune, 129))
	for _, tc := range []struct {
		name, code, title, desc string
		want                    []string // field: code
	}{
		{"empty", "", " ", "", []string{"code: required", "name: required"}},
		{"capitals", "Espace-ATI", "Espace ATI", "", []string{"code: code"}},
		{"dollar", "0561234a$ati", "Espace ATI", "", []string{"code: code"}},
		{"underscore", "espace_ati", "Espace ATI", "", []string{"code: code"}},
		{"trailing hyphen", "espace-", "Espace ATI", "", []string{"code: code"}},
		{"long name", "espace-ati", long, "", []string{"name: too_long"}},
	} {
		_, err := svc.Create(ctx, spaces.Actor{ID: "cli:t"}, tc.code, tc.title, tc.desc)
		var fe directory.FieldErrors
		if !errors.As(err, &fe) || len(fe) != len(tc.want) {
			t.Errorf("%s: Create = %v, want %v", tc.name, err, tc.want)
			continue
		}
		for i, w := range tc.want {
			if fe[i].Error() != w {
				t.Errorf("%s: error %d = %s, want %s", tc.name, i, fe[i], w)
			}
		}
		// What the command line and the logs show when nothing translates it.
		if want := "invalid space: " + strings.Join(tc.want, ", "); err.Error() != want {
			t.Errorf("%s: message %q, want %q", tc.name, err, want)
		}
	}
	if all, _ := st.Spaces(ctx); len(all) != 0 {
		t.Errorf("refused creations left %v", all)
	}
}

func TestOperationsAreAudited(t *testing.T) {
	svc, st, acc := newService(t)
	ctx := context.Background()
	admin := spaces.Actor{ID: "acc-admin", Remote: "192.0.2.1"}
	if _, err := svc.Create(ctx, admin, "espace-ati", " Espace ATI ", "Techniciens"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Create(ctx, admin, "espace-ati", "Autre", ""); !errors.Is(err, spaces.ErrExists) {
		t.Errorf("second Create = %v, want ErrExists", err)
	}
	if err := svc.AddMember(ctx, admin, "espace-ati", acc.ID); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		code, acc string
		want      error
	}{
		{"twice", "espace-ati", acc.ID, spaces.ErrMember},
		{"no account", "espace-ati", "ghost", spaces.ErrNoAccount},
		{"no space", "espace-x", acc.ID, spaces.ErrNotFound},
	} {
		if err := svc.AddMember(ctx, admin, tc.code, tc.acc); !errors.Is(err, tc.want) {
			t.Errorf("AddMember %s = %v, want %v", tc.name, err, tc.want)
		}
	}
	sp, err := svc.Update(ctx, admin, "espace-ati", "Espace des ATI", "")
	if err != nil || sp.Name != "Espace des ATI" || sp.ID != "espace-ati" {
		t.Fatalf("Update = %+v, %v", sp, err)
	}
	if err := svc.RemoveMember(ctx, admin, "espace-ati", acc.ID); err != nil {
		t.Fatal(err)
	}
	if err := svc.RemoveMember(ctx, admin, "espace-ati", acc.ID); !errors.Is(err, spaces.ErrNotFound) {
		t.Errorf("second RemoveMember = %v, want ErrNotFound", err)
	}
	if err := svc.Delete(ctx, admin, "espace-ati"); err != nil {
		t.Fatal(err)
	}
	if err := svc.Delete(ctx, admin, "espace-ati"); !errors.Is(err, spaces.ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
	es, err := st.Events(ctx, directory.EventFilter{AccountID: "acc-admin"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		if e.Details["space"] != "espace-ati" || e.Remote != "192.0.2.1" || e.Outcome != "ok" {
			t.Errorf("event %+v lacks the space, the address or the outcome", e)
		}
		got = append(got, e.Type)
	}
	want := []string{spaces.EventCreate, spaces.EventMemberAdd, spaces.EventUpdate, spaces.EventMemberRemove, spaces.EventDelete}
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v (refusals write none)", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("events %v, want %v", got, want)
			break
		}
	}
}
