package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/guests"
	"github.com/enthub/enthub/directory/sqlstore"
)

// guestDB is a store with two schools, for the guest commands.
func guestDB(t *testing.T) string {
	t.Helper()
	db := "sqlite:" + filepath.Join(t.TempDir(), "e.db")
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, db, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Update(ctx, func(tx directory.Tx) error {
		for _, uai := range []string{"0130001A", "0130002B"} {
			if err := tx.PutStructure(ctx, &directory.Structure{UAI: uai, Name: "Collège " + uai, Source: directory.SourceManual}); err != nil {
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

func TestGuestCommands(t *testing.T) {
	db := guestDB(t)
	env := []string{"USER=secretariat"}
	until := time.Now().AddDate(0, 1, 0).Format(time.DateOnly)
	code, out, errs := enthub(t, env, "guest", "create", "--db", db, "--uai", "0130001A", "--first-name", "Léa", "--last-name", "Dupré",
		"--role", "responsable de stage", "--until", until, "--json")
	if code != 0 {
		t.Fatalf("create = %d %s %s", code, out, errs)
	}
	var created struct {
		Login, Code, UAI, State, Link string
		CreatedBy                     string `json:"created_by"`
		ActivationLink                string `json:"activation_link"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatal(err)
	}
	if created.Login != "lea.dupre" || len(created.Code) != 19 || created.UAI != "0130001A" || created.State != "pending" ||
		created.CreatedBy != "cli:secretariat" || !strings.HasSuffix(created.ActivationLink, "/activation?code="+created.Code) {
		t.Errorf("created = %+v", created)
	}

	code, out, _ = enthub(t, env, "guest", "list", "--db", db, "--uai", "0130001A")
	if code != 0 || !strings.Contains(out, "lea.dupre") || !strings.Contains(out, "responsable de stage") {
		t.Errorf("list A = %d %s", code, out)
	}
	code, out, _ = enthub(t, env, "guest", "list", "--db", db, "--uai", "0130002B")
	if code != 0 || strings.Contains(out, "lea.dupre") {
		t.Errorf("list B = %d %s", code, out)
	}

	// The operator acting for school B reaches none of A's guests.
	later := time.Now().AddDate(0, 2, 0).Format(time.DateOnly)
	for _, args := range [][]string{
		{"guest", "extend", "lea.dupre", "--uai", "0130002B", "--until", later},
		{"guest", "revoke", "lea.dupre", "--uai", "0130002B"},
	} {
		code, _, errs := enthub(t, env, append(args, "--db", db)...)
		if code != 1 || !strings.Contains(errs, "no guest lea.dupre in 0130002B") {
			t.Errorf("%v = %d %s, want 1", args, code, errs)
		}
	}
	code, out, errs = enthub(t, env, "guest", "extend", "lea.dupre", "--db", db, "--uai", "0130001A", "--until", later)
	if code != 0 || !strings.Contains(out, "to "+later) {
		t.Errorf("extend = %d %s %s", code, out, errs)
	}
	code, out, errs = enthub(t, env, "guest", "revoke", "lea.dupre", "--db", db, "--uai", "0130001A")
	if code != 0 || !strings.Contains(out, "guest lea.dupre revoked") {
		t.Errorf("revoke = %d %s %s", code, out, errs)
	}
	code, _, errs = enthub(t, env, "guest", "revoke", "lea.dupre", "--db", db, "--uai", "0130001A")
	if code != 1 || !strings.Contains(errs, "revocation is final") {
		t.Errorf("second revoke = %d %s", code, errs)
	}

	// Every action is in the audit log, with the operator.
	s, err := sqlstore.Open(context.Background(), db, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for typ, want := range map[string][2]int{guests.EventCreate: {1, 0}, guests.EventExtend: {1, 1}, guests.EventRevoke: {1, 2}} {
		es, _ := s.Events(context.Background(), directory.EventFilter{Type: typ})
		var ok, refused int
		for _, e := range es {
			if e.Outcome == "ok" && e.Details["actor"] == "cli:secretariat" {
				ok++
			} else if e.Outcome == "refused" {
				refused++
			}
		}
		if ok != want[0] || refused != want[1] {
			t.Errorf("%s: %d ok, %d refused; want %v", typ, ok, refused, want)
		}
	}
}

func TestGuestCommandRefusals(t *testing.T) {
	db := guestDB(t)
	until := time.Now().AddDate(0, 1, 0).Format(time.DateOnly)
	tests := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"no school", []string{"guest", "list"}, 2, "--uai is required"},
		{"unknown school", []string{"guest", "list", "--uai", "9999999Z"}, 1, `no structure with UAI "9999999Z"`},
		{"bad date", []string{"guest", "create", "--uai", "0130001A", "--first-name", "A", "--last-name", "B", "--role", "r", "--until", "31/12/2026"}, 2, `--until "31/12/2026": want a date YYYY-MM-DD`},
		{"missing fields", []string{"guest", "create", "--uai", "0130001A", "--until", until}, 1, "--first-name is required\nenthub: --last-name is required\nenthub: --role is required"},
		{"end in the past", []string{"guest", "create", "--uai", "0130001A", "--first-name", "A", "--last-name", "B", "--role", "r", "--until", "2020-01-01"}, 1, "--until must be in the future"},
		{"bad e-mail", []string{"guest", "create", "--uai", "0130001A", "--first-name", "A", "--last-name", "B", "--role", "r", "--until", until, "--email", "nope"}, 1, "--email is not an e-mail address"},
		{"unknown guest", []string{"guest", "revoke", "nobody", "--uai", "0130001A"}, 1, "no guest nobody in 0130001A"},
		{"no login", []string{"guest", "revoke", "--uai", "0130001A"}, 2, "accepts 1 arg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := enthub(t, nil, append(tt.args, "--db", db)...)
			if code != tt.code || !strings.Contains(errs, tt.err) {
				t.Errorf("= %d %q, want %d %q", code, errs, tt.code, tt.err)
			}
		})
	}
	if code, out, _ := enthub(t, nil, "guest", "list", "--uai", "0130001A", "--db", db); code != 0 || !strings.Contains(out, "no guest account") {
		t.Errorf("refused commands created guests: %s", out)
	}
}
