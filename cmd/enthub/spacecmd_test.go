package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/spaces"
	"github.com/enthub/enthub/directory/sqlstore"
)

// spaceDB is guestDB with two collectivité agents.
func spaceDB(t *testing.T) string {
	t.Helper()
	db := guestDB(t)
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, db, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Update(ctx, func(tx directory.Tx) error {
		for _, login := range []string{"camille.ati", "dominique.cuisine"} {
			p := &directory.Person{FirstName: "Agent", LastName: login, Source: directory.SourceCollectivite}
			if err := tx.PutPerson(ctx, p); err != nil {
				return err
			}
			if err := tx.PutAccount(ctx, &directory.Account{PersonID: p.ID, Login: login, Status: directory.StatusActive, Source: directory.SourceCollectivite}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestSpaceCommands(t *testing.T) {
	db := spaceDB(t)
	env := []string{"USER=dsi"}
	run := func(args ...string) (int, string, string) {
		t.Helper()
		return enthub(t, env, append(args, "--db", db)...)
	}
	if code, out, errs := run("space", "create", "espace-ati", "--name", "Espace ATI", "--description", "Techniciens"); code != 0 ||
		!strings.Contains(out, "space espace-ati created: Espace ATI") {
		t.Fatalf("create = %d %s %s", code, out, errs)
	}
	if code, out, errs := run("space", "add", "espace-ati", "camille.ati", "dominique.cuisine"); code != 0 ||
		!strings.Contains(out, "camille.ati added to espace-ati") || !strings.Contains(out, "dominique.cuisine added to espace-ati") {
		t.Fatalf("add = %d %s %s", code, out, errs)
	}
	if code, out, errs := run("space", "remove", "espace-ati", "dominique.cuisine"); code != 0 || !strings.Contains(out, "removed from") {
		t.Fatalf("remove = %d %s %s", code, out, errs)
	}
	if code, out, errs := run("space", "rename", "espace-ati", "--name", "Espace des ATI"); code != 0 || !strings.Contains(out, "Espace des ATI") {
		t.Fatalf("rename = %d %s %s", code, out, errs)
	}
	code, out, _ := run("space", "list", "--json")
	var list []struct {
		ID, Name string
		Members  int
	}
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || len(list) != 1 || list[0].Members != 1 || list[0].Name != "Espace des ATI" {
		t.Fatalf("list = %d %s (%v)", code, out, err)
	}
	if code, out, _ := run("space", "list", "espace-ati"); code != 0 || !strings.Contains(out, "camille.ati") || !strings.Contains(out, "by cli:dsi") {
		t.Errorf("members = %d %s", code, out)
	}
	if code, out, errs := run("space", "delete", "espace-ati"); code != 0 || !strings.Contains(out, "space espace-ati deleted") {
		t.Fatalf("delete = %d %s %s", code, out, errs)
	}

	// Every change is in the audit log, with the operator.
	s, err := sqlstore.Open(context.Background(), db, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for typ, n := range map[string]int{spaces.EventCreate: 1, spaces.EventMemberAdd: 2, spaces.EventMemberRemove: 1, spaces.EventUpdate: 1, spaces.EventDelete: 1} {
		es, _ := s.Events(context.Background(), directory.EventFilter{Type: typ, AccountID: "cli:dsi"})
		if len(es) != n {
			t.Errorf("%s: %d events by cli:dsi, want %d", typ, len(es), n)
		}
	}
}

// A refusal names the failing argument, exits 1 (2 for a usage error)
// and changes nothing.
func TestSpaceCommandRefusals(t *testing.T) {
	db := spaceDB(t)
	run := func(args ...string) (int, string) {
		t.Helper()
		code, _, errs := enthub(t, nil, append(args, "--db", db)...)
		return code, errs
	}
	if code, errs := run("space", "create", "espace-ati", "--name", "Espace ATI"); code != 0 {
		t.Fatalf("create = %d %s", code, errs)
	}
	if code, errs := run("space", "add", "espace-ati", "camille.ati"); code != 0 {
		t.Fatalf("add = %d %s", code, errs)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"space", "create", "Espace ATI", "--name", "x"}, 1, `CODE "Espace ATI" may hold only lower-case letters, digits and hyphens`},
		{[]string{"space", "create", "espace-x"}, 1, "--name is required"},
		{[]string{"space", "create", "espace-ati", "--name", "Autre"}, 1, `CODE "espace-ati": a space with this code exists already`},
		{[]string{"space", "add", "espace-x", "camille.ati"}, 1, `CODE "espace-x": no such space`},
		{[]string{"space", "add", "espace-ati", "dominique.cuisine", "nobody"}, 1, `LOGIN "nobody": no account with this login or id`},
		{[]string{"space", "add", "espace-ati", "camille.ati"}, 1, `LOGIN "camille.ati": already a member of space espace-ati`},
		{[]string{"space", "remove", "espace-ati", "dominique.cuisine"}, 1, `LOGIN "dominique.cuisine": not a member of space espace-ati`},
		{[]string{"space", "delete", "espace-x"}, 1, `CODE "espace-x": no such space`},
		{[]string{"space", "list", "espace-x"}, 1, `CODE "espace-x": no such space`},
		{[]string{"space", "add", "espace-ati"}, 2, "requires at least 2 arg(s)"},
	} {
		if code, errs := run(tc.args...); code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v = %d %q, want %d and %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
	// The refused add with a mistyped login added nobody.
	code, out, _ := enthub(t, nil, "space", "list", "espace-ati", "--db", db)
	if code != 0 || strings.Contains(out, "dominique.cuisine") {
		t.Errorf("members after the refusals = %d %s", code, out)
	}
}
