package idp

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enthub/enthub/idp/sso"
	"github.com/enthub/enthub/test/peer"
)

// meetingSSO makes the first n reads of parked requests wait for one
// another: n requests answering the same parked request have all read it
// before any of them goes on, the worst interleaving of a real race.
type meetingSSO struct {
	sso.Store
	mu      sync.Mutex
	waiting int
	met     chan struct{}
}

func (s *meetingSSO) Pending(ctx context.Context, id string, now time.Time) (sso.Pending, error) {
	p, err := s.Store.Pending(ctx, id, now)
	s.mu.Lock()
	s.waiting--
	if s.waiting == 0 {
		close(s.met)
	}
	s.mu.Unlock()
	select {
	case <-s.met:
	case <-time.After(5 * time.Second): // a request that never comes: go on
	}
	return p, err
}

// A parked CAS request is answered once: when two requests complete it at
// the same instant — two upstream logins coming back to the ACS (two tabs,
// a double submit), or the same resume twice — one of them sends the
// browser to the service with a ticket, the other shows the "request
// expired or already used" page and issues nothing.
func TestParkedRequestAnsweredOnce(t *testing.T) {
	for _, store := range []struct {
		name string
		db   func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite:" + t.TempDir() + "/db" }},
		{"postgres", func(t *testing.T) string { return peer.Postgres(t) }},
	} {
		t.Run(store.name, func(t *testing.T) {
			for _, tc := range []struct {
				name string
				// answerers returns the two requests racing for the
				// parked request req of browser c.
				answerers func(f *fixture, c *http.Client, req string) [2]string
			}{
				{"two upstream logins at the ACS", func(f *fixture, c *http.Client, req string) [2]string {
					acc := f.ids["eleve.account"]
					f.srv.Config.Handler.(*http.ServeMux).HandleFunc("/test/upstream", func(w http.ResponseWriter, r *http.Request) {
						f.p.CompleteUpstreamLogin(w, r, UpstreamLogin{Upstream: "educonnect", Accounts: []string{acc}, Ref: "educonnect|x",
							Request: r.URL.Query().Get("req")})
					})
					u := f.base + "/test/upstream?req=" + url.QueryEscape(req)
					return [2]string{u, u}
				}},
				{"the same resume twice", func(f *fixture, c *http.Client, req string) [2]string {
					_, page := f.get(c, f.base+"/login?req="+url.QueryEscape(req))
					once := *c
					once.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
					resp, _ := f.submitLogin(&once, page, "emma.martin", testPassword)
					loc := resp.Header.Get("Location")
					if !strings.Contains(loc, "/cas/login?resume=") {
						t.Fatalf("login form: %d %q, want the resume redirect", resp.StatusCode, loc)
					}
					u, err := url.Parse(f.base)
					if err != nil {
						t.Fatal(err)
					}
					to, err := u.Parse(loc)
					if err != nil {
						t.Fatal(err)
					}
					return [2]string{to.String(), to.String()}
				}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					f := newFixtureAt(t, store.db(t))
					c := f.browser()
					resp, _ := f.get(c, f.base+"/cas/login?service="+url.QueryEscape(pronoteURL))
					req := resp.Request.URL.Query().Get("req")
					urls := tc.answerers(f, c, req)
					f.p.deps.SSO = &meetingSSO{Store: f.store, waiting: 2, met: make(chan struct{})}
					var wg sync.WaitGroup
					codes := make([]int, 2)
					locs := make([]string, 2)
					for i, u := range urls {
						wg.Add(1)
						go func() {
							defer wg.Done()
							once := *c // the same browser: its cookies
							once.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
							resp, err := once.Get(u)
							if err != nil {
								t.Error(err)
								return
							}
							resp.Body.Close()
							codes[i], locs[i] = resp.StatusCode, resp.Header.Get("Location")
						}()
					}
					wg.Wait()
					tickets, refused := 0, 0
					for i := range codes {
						switch {
						case codes[i] == http.StatusSeeOther && strings.HasPrefix(locs[i], pronoteURL) && strings.Contains(locs[i], "ticket=ST-"):
							tickets++
						case codes[i] == http.StatusBadRequest:
							refused++
						}
					}
					if tickets != 1 || refused != 1 {
						t.Fatalf("answers %v %q: %d tickets and %d refusals, want 1 and 1", codes, locs, tickets, refused)
					}
					if issued := f.events(EventTicketIssued); len(issued) != 1 {
						t.Fatalf("%d ticket events, want 1", len(issued))
					}
				})
			}
		})
	}
}
