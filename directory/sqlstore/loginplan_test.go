package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/test/peer"
)

// The directory lookups of a login — the brokered linking's (its link, the
// student by INE or the agent by e-mail, the account and personas) and the
// releases' (person, school, spaces, news) — each find their rows through
// an index, on both dialects. A demo-sized directory never shows a lookup
// that reads a table whole; at 100,000 students it is milliseconds of
// PostgreSQL a login. The statements checked are the ones the calls left
// in the statement cache, so a changed query is checked as it now reads.
func TestLoginLookupsUseAnIndexSQLite(t *testing.T) {
	testLoginLookupsUseAnIndex(t, "sqlite:"+filepath.Join(t.TempDir(), "s.db"))
}

func TestLoginLookupsUseAnIndexPostgres(t *testing.T) {
	testLoginLookupsUseAnIndex(t, peer.Postgres(t))
}

func testLoginLookupsUseAnIndex(t *testing.T, url string) {
	ctx := context.Background()
	s, err := Open(ctx, url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var acc directory.Account
	var school directory.Structure
	err = s.Update(ctx, func(dt directory.Tx) error {
		school = directory.Structure{AAFID: "S1", UAI: "0130001A", Name: "Collège Test", Source: directory.SourceAAF}
		if err := dt.PutStructure(ctx, &school); err != nil {
			return err
		}
		p := directory.Person{AAFID: "P1", Source: directory.SourceAAF, LastName: "Martin", INE: "123456789AB", Email: "lea.martin@ac-test.fr"}
		if err := dt.PutPerson(ctx, &p); err != nil {
			return err
		}
		acc = directory.Account{PersonID: p.ID, Login: "lea.martin", Status: directory.StatusActive, Source: directory.SourceAAF}
		if err := dt.PutAccount(ctx, &acc); err != nil {
			return err
		}
		return dt.SetPersonas(ctx, p.ID, directory.SourceAAF, []directory.Persona{
			{PersonID: p.ID, StructureID: school.ID, Profile: directory.ProfileEleve, Source: directory.SourceAAF}})
	})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
	link := directory.ExternalLink{Issuer: "https://educonnect.example", Subject: "s1", AccountID: acc.ID}
	for _, call := range []struct {
		what string
		run  func() error
	}{
		{"link", func() error { _, err := s.ExternalLink(ctx, link.Issuer, link.Subject); return ignoreNotFound(err) }},
		{"persons by INE", func() error { _, err := s.PersonsByINE(ctx, "123456789AB"); return err }},
		{"persons by e-mail", func() error { _, err := s.PersonsByEmail(ctx, "Lea.Martin@ac-test.fr"); return err }},
		{"person by AAF id", func() error { _, err := s.PersonByAAFID(ctx, "P1"); return err }},
		{"account by person", func() error { _, err := s.AccountByPerson(ctx, acc.PersonID); return err }},
		{"new link", func() error {
			// Committed once so that the next one runs through the cache.
			for _, sub := range []string{"s1", "s2"} {
				l := link
				l.Subject = sub
				if err := s.Update(ctx, func(dt directory.Tx) error { return dt.PutExternalLink(ctx, l) }); err != nil {
					return err
				}
			}
			return nil
		}},
		{"link used", func() error { return s.TouchExternalLink(ctx, link.Issuer, link.Subject, now) }},
		{"account", func() error { _, err := s.Account(ctx, acc.ID); return err }},
		{"account by login", func() error { _, err := s.AccountByLogin(ctx, acc.Login); return err }},
		{"personas", func() error { _, err := s.Personas(ctx, acc.PersonID); return err }},
		{"person", func() error { _, err := s.Person(ctx, acc.PersonID); return err }},
		{"school", func() error { _, err := s.Structure(ctx, school.ID); return err }},
		{"school by UAI", func() error { _, err := s.StructureByUAI(ctx, school.UAI); return err }},
		{"account's links", func() error { _, err := s.ExternalLinks(ctx, acc.ID); return err }},
		{"account's spaces", func() error { _, err := s.AccountSpaces(ctx, acc.ID); return err }},
		{"news", func() error { _, err := s.NewsList(ctx, school.ID, now); return err }},
	} {
		if err := call.run(); err != nil {
			t.Fatalf("%s: %v", call.what, err)
		}
	}
	s.sso.mu.RLock()
	var stmts []string
	for q := range s.sso.stmts {
		stmts = append(stmts, q)
	}
	s.sso.mu.RUnlock()
	sort.Strings(stmts)
	if len(stmts) < 15 {
		t.Fatalf("%d statements cached, want at least the 15 lookups': %q", len(stmts), stmts)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The probe proves the check sees a lookup without an index.
	probe := `SELECT id FROM persons WHERE last_name = $1`
	if whole, err := tablesReadWhole(ctx, conn, s.d.name, probe); err != nil || len(whole) == 0 {
		t.Fatalf("the check missed a lookup by an unindexed column (%s): %v, %v", probe, whole, err)
	}
	for _, q := range stmts {
		whole, err := tablesReadWhole(ctx, conn, s.d.name, q)
		if err != nil {
			t.Errorf("plan of %s: %v", q, err)
		} else if len(whole) > 0 {
			t.Errorf("reads %s whole, no index serves it: %s", strings.Join(whole, ", "), q)
		}
	}
}

func ignoreNotFound(err error) error {
	if errors.Is(err, directory.ErrNotFound) {
		return nil
	}
	return err
}

var (
	paramRE    = regexp.MustCompile(`\$(\d+)`)
	liteScanRE = regexp.MustCompile(`^SCAN (\w+)`)
)

// tablesReadWhole names the tables q's plan reads whole: by a sequential
// scan, or by walking an index from end to end (PostgreSQL does that for an
// ORDER BY on the primary key when no index serves the WHERE). On
// PostgreSQL the plan is the generic one (any parameter values) with
// sequential scans priced out, so that a plan still reading a table whole
// has no index to use; on a few rows the planner would otherwise rightly
// prefer the scan. SQLite's planner, without statistics, takes any usable
// index.
func tablesReadWhole(ctx context.Context, conn *sql.Conn, dialect, q string) ([]string, error) {
	n := 0
	for _, m := range paramRE.FindAllStringSubmatch(q, -1) {
		if v, _ := strconv.Atoi(m[1]); v > n {
			n = v
		}
	}
	if dialect != "postgres" {
		rows, err := conn.QueryContext(ctx, `EXPLAIN QUERY PLAN `+q, make([]any, n)...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var whole []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				return nil, err
			}
			// SEARCH t USING INDEX i (col=?) is a lookup; SCAN t, with or
			// without USING INDEX, reads every row.
			if m := liteScanRE.FindStringSubmatch(detail); m != nil {
				whole = append(whole, m[1])
			}
		}
		return whole, rows.Err()
	}
	for _, set := range []string{`SET enable_seqscan = off`, `SET plan_cache_mode = force_generic_plan`, `PREPARE login_probe AS ` + q} {
		if _, err := conn.ExecContext(ctx, set); err != nil {
			return nil, fmt.Errorf("%s: %w", set, err)
		}
	}
	defer conn.ExecContext(ctx, `DEALLOCATE login_probe`) //nolint:errcheck // the next PREPARE fails loudly if it did not
	explain := `EXPLAIN (FORMAT JSON) EXECUTE login_probe`
	if n > 0 {
		explain += `(` + strings.TrimSuffix(strings.Repeat("NULL, ", n), ", ") + `)`
	}
	var out []byte
	if err := conn.QueryRowContext(ctx, explain).Scan(&out); err != nil {
		return nil, err
	}
	var plans []struct{ Plan pgPlan }
	if err := json.Unmarshal(out, &plans); err != nil {
		return nil, fmt.Errorf("EXPLAIN output %s: %w", out, err)
	}
	var whole []string
	var walk func(p pgPlan)
	walk = func(p pgPlan) {
		switch p.NodeType {
		case "Seq Scan":
			whole = append(whole, p.Relation)
		case "Index Scan", "Index Only Scan":
			if p.IndexCond == "" {
				whole = append(whole, p.Relation+" (index "+p.IndexName+" end to end)")
			}
		}
		for _, c := range p.Plans {
			walk(c)
		}
	}
	for _, p := range plans {
		walk(p.Plan)
	}
	return whole, nil
}

// pgPlan is the part of a node of EXPLAIN (FORMAT JSON) the check reads.
type pgPlan struct {
	NodeType  string   `json:"Node Type"`
	Relation  string   `json:"Relation Name"`
	IndexName string   `json:"Index Name"`
	IndexCond string   `json:"Index Cond"`
	Plans     []pgPlan `json:"Plans"`
}
