package idp

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/idp/sso"
)

// reads counts the store reads a login repeats: accounts, personas,
// parked requests and sessions.
type reads struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *reads) add(what string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[what]++
}

// take returns the counts so far and starts again from zero.
func (c *reads) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = map[string]int{}
	return n
}

type countingDirectory struct {
	directory.Store
	c *reads
}

func (d countingDirectory) Account(ctx context.Context, id string) (directory.Account, error) {
	d.c.add("account")
	return d.Store.Account(ctx, id)
}

func (d countingDirectory) Person(ctx context.Context, id string) (directory.Person, error) {
	d.c.add("person")
	return d.Store.Person(ctx, id)
}

func (d countingDirectory) Personas(ctx context.Context, personID string) ([]directory.Persona, error) {
	d.c.add("personas")
	return d.Store.Personas(ctx, personID)
}

type countingSSO struct {
	sso.Store
	c *reads
}

func (s countingSSO) Pending(ctx context.Context, id string, now time.Time) (sso.Pending, error) {
	s.c.add("pending")
	return s.Store.Pending(ctx, id, now)
}

func (s countingSSO) Session(ctx context.Context, id string, now time.Time) (sso.Session, error) {
	s.c.add("session")
	return s.Store.Session(ctx, id, now)
}

// A settled upstream login (one persona) answers the parked CAS request in
// its own response: the service gets its ticket without a detour through
// /cas/login?resume=, with the same audit events. That request (the
// broker's ACS) reads again neither the account, its person nor its
// personas when the linking hands over what it read in that request;
// without them, it reads them itself.
func TestUpstreamLoginUsesTheLinkingsReads(t *testing.T) {
	for _, tc := range []struct {
		name     string
		handOver bool
		want     map[string]int // reads of the ACS request
	}{
		{"linking's reads handed over", true, map[string]int{"pending": 1, "session": 0, "account": 0, "person": 0, "personas": 0}},
		// The login's account and persona, then the ticket's release.
		{"nothing handed over", false, map[string]int{"pending": 1, "session": 0, "account": 2, "person": 1, "personas": 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			acc, err := f.store.Account(ctx, f.ids["eleve.account"])
			if err != nil {
				t.Fatal(err)
			}
			per, err := f.store.Person(ctx, acc.PersonID)
			if err != nil {
				t.Fatal(err)
			}
			ps, err := f.store.Personas(ctx, acc.PersonID)
			if err != nil || len(ps) != 1 {
				t.Fatalf("personas of %s: %v %v", acc.Login, ps, err)
			}
			count := &reads{n: map[string]int{}}
			f.p.deps.Directory = countingDirectory{f.store, count}
			f.p.deps.SSO = countingSSO{f.store, count}
			var read []ReadAccount
			if tc.handOver {
				read = []ReadAccount{{Account: acc, Person: per, Personas: ps}}
			}
			f.srv.Config.Handler.(*http.ServeMux).HandleFunc("/test/upstream", func(w http.ResponseWriter, r *http.Request) {
				f.p.CompleteUpstreamLogin(w, r, UpstreamLogin{Upstream: "educonnect", Accounts: []string{acc.ID}, Ref: "educonnect|x",
					Request: r.URL.Query().Get("req"), Details: map[string]string{"rule": "test"}, Read: read})
			})
			c := f.browser()
			resp, _ := f.get(c, f.base+"/cas/login?service="+url.QueryEscape(pronoteURL))
			req := resp.Request.URL.Query().Get("req")
			count.take()
			once := *c
			once.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			resp, _ = f.get(&once, f.base+"/test/upstream?req="+url.QueryEscape(req))
			if got := count.take(); !equalCounts(got, tc.want) {
				t.Errorf("reads of the upstream login's request: %v, want %v", got, tc.want)
			}
			loc := resp.Header.Get("Location")
			u, _ := url.Parse(loc)
			if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, pronoteURL) || u.Query().Get("ticket") == "" {
				t.Fatalf("not sent straight back to the service with a ticket: %d %q", resp.StatusCode, loc)
			}
			if _, err := f.store.Pending(ctx, req, f.clock.Now()); !errors.Is(err, sso.ErrNotFound) {
				t.Errorf("the parked request outlives its answer: %v", err)
			}
			cr := f.validate("/cas/serviceValidate", pronoteURL, u.Query().Get("ticket"), "")
			if cr.Success == nil || cr.Success.User != acc.Login {
				t.Fatalf("ticket: %+v", cr)
			}
			logins := f.events(EventLogin)
			if len(logins) != 1 || logins[0].StructureID != ps[0].StructureID || logins[0].Profile != ps[0].Profile {
				t.Fatalf("login events: %+v, want one naming the school and profile of %+v", logins, ps[0])
			}
			if issued := f.events(EventTicketIssued); len(issued) != 1 || issued[0].Service != "pronote" || issued[0].AccountID != acc.ID {
				t.Fatalf("ticket events: %+v", issued)
			}
			// The session is this browser's: the next service needs no login.
			if tk := f.casTicketNoLogin(c); tk == "" {
				t.Error("no ticket for the session's browser afterwards")
			}
		})
	}
}

func equalCounts(got, want map[string]int) bool {
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}
