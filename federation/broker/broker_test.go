package broker

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/federation"
	"github.com/enthub/enthub/federation/link"
)

// fake is a connector taking part in single logout: its callback answers
// the identity of ?who=, or refuses; its logout endpoint ends the session
// named by ?index=.
type fake struct {
	id      string
	refuse  error
	started []string
	logouts []federation.Logout
}

func (f *fake) ID() string { return f.id }

func (f *fake) Start(_ context.Context, w http.ResponseWriter, r *http.Request, next string) error {
	f.started = append(f.started, next)
	http.Redirect(w, r, "https://upstream.example/login?state=s", http.StatusFound)
	return nil
}

func (f *fake) Callback(_ context.Context, r *http.Request) (federation.Identity, string, error) {
	if f.refuse != nil {
		return federation.Identity{}, "", f.refuse
	}
	return federation.Identity{Connector: f.id, Issuer: "https://upstream.example", Subject: r.URL.Query().Get("who"),
		Attributes: map[string][]string{"mail": {r.URL.Query().Get("who")}, "rne": {"0130001B"}},
		Logout:     federation.Logout{NameID: "n-1", SessionIndex: "idx-1"}}, "parked-req", nil
}

func (f *fake) StartLogout(_ context.Context, w http.ResponseWriter, r *http.Request, lo federation.Logout, next string) error {
	f.logouts = append(f.logouts, lo)
	http.Redirect(w, r, "https://upstream.example/slo?back="+url.QueryEscape(next), http.StatusFound)
	return nil
}

func (f *fake) HandleLogout(ctx context.Context, w http.ResponseWriter, r *http.Request, end func(context.Context, federation.Logout) error) (string, error) {
	if idx := r.URL.Query().Get("index"); idx != "" {
		return "", end(ctx, federation.Logout{SessionIndex: idx})
	}
	return "https://ent.example/bye", nil
}

// linkStore is the part of the directory linking reads, over one person.
type linkStore struct {
	link.Store
	person directory.Person
}

func (s linkStore) PersonsByEmail(_ context.Context, email string) ([]directory.Person, error) {
	if email == s.person.Email {
		return []directory.Person{s.person}, nil
	}
	return nil, nil
}

func (s linkStore) ExternalLink(context.Context, string, string) (directory.ExternalLink, error) {
	return directory.ExternalLink{}, directory.ErrNotFound
}

func (s linkStore) AccountByPerson(context.Context, string) (directory.Account, error) {
	return directory.Account{ID: "acc-1", PersonID: s.person.ID, Status: directory.StatusActive}, nil
}

func (s linkStore) Personas(context.Context, string) ([]directory.Persona, error) { return nil, nil }

func (s linkStore) Update(ctx context.Context, fn func(directory.Tx) error) error { return nil }

type world struct {
	b        *Broker
	c        *fake
	logins   []Login
	refusals []Refused
	events   []directory.Event
	ended    []string
	srv      *httptest.Server
}

func newWorld(t *testing.T) *world {
	w := &world{c: &fake{id: "agents"}}
	reg, err := federation.NewRegistry(w.c)
	if err != nil {
		t.Fatal(err)
	}
	st := linkStore{person: directory.Person{ID: "p-1", Email: "paul.durand@ac-test.fr", AAFFamily: "PersEducNat"}}
	w.b = &Broker{Connectors: reg, Now: func() time.Time { return time.Unix(1e9, 0) },
		Links:  map[string]link.Config{"agents": {UAIAttribute: "rne", Rules: []link.Rule{{Name: "agent-mail", Kind: link.Email, Attributes: []string{"mail"}}}}},
		Linker: link.Linker{Store: st, Now: time.Now},
		Complete: func(rw http.ResponseWriter, r *http.Request, l Login) {
			w.logins = append(w.logins, l)
			rw.WriteHeader(http.StatusNoContent)
		},
		Refuse: func(rw http.ResponseWriter, r *http.Request, why Refused) {
			w.refusals = append(w.refusals, why)
			rw.WriteHeader(http.StatusForbidden)
		},
		Audit: func(_ context.Context, e directory.Event) { w.events = append(w.events, e) },
		EndSessions: func(_ context.Context, ref string) (int, error) {
			w.ended = append(w.ended, ref)
			return 1, nil
		},
	}
	mux := http.NewServeMux()
	w.b.Routes(mux)
	w.srv = httptest.NewServer(mux)
	t.Cleanup(w.srv.Close)
	return w
}

func noRedirect() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func TestStartPassesOnlyAParkedRequestID(t *testing.T) {
	w := newWorld(t)
	for _, req := range []string{"abc_DEF-123", "https://evil.example/", ""} {
		resp, err := noRedirect().Get(w.srv.URL + "/login/agents?req=" + url.QueryEscape(req))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("start: %d", resp.StatusCode)
		}
	}
	if strings.Join(w.c.started, "|") != "abc_DEF-123||" {
		t.Fatalf("next handed to Start: %q", w.c.started)
	}
	resp, _ := noRedirect().Get(w.srv.URL + "/login/nope")
	resp.Body.Close()
	if len(w.refusals) != 1 || !w.refusals[0].Unknown {
		t.Fatalf("unknown connector: %+v", w.refusals)
	}
}

func TestCallbackLinksAndCompletes(t *testing.T) {
	w := newWorld(t)
	resp, err := http.Get(w.srv.URL + "/federation/agents/oidc/callback?who=paul.durand@ac-test.fr")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(w.logins) != 1 {
		t.Fatalf("logins %+v, refusals %+v", w.logins, w.refusals)
	}
	l := w.logins[0]
	var lo federation.Logout
	_ = json.Unmarshal(l.Logout, &lo)
	if l.Connector != "agents" || strings.Join(l.Accounts, ",") != "acc-1" || l.Request != "parked-req" || l.Ref != "agents|idx-1" ||
		lo.SessionIndex != "idx-1" || l.Details["rule"] != "agent-mail" {
		t.Fatalf("login %+v", l)
	}
	if len(w.events) != 1 || w.events[0].Type != "federation.link" || w.events[0].Details["rule"] != "agent-mail" || w.events[0].Outcome != "ok" {
		t.Fatalf("events %+v", w.events)
	}
}

func TestCallbackNoMatchNamesTheSchoolAndIsAudited(t *testing.T) {
	w := newWorld(t)
	resp, _ := http.Get(w.srv.URL + "/federation/agents/saml/acs?who=someone@else.fr")
	resp.Body.Close()
	if len(w.logins) != 0 || len(w.refusals) != 1 || !w.refusals[0].NoAccount || w.refusals[0].UAI != "0130001B" {
		t.Fatalf("logins %+v refusals %+v", w.logins, w.refusals)
	}
	var link, login bool
	for _, e := range w.events {
		link = link || (e.Type == "federation.link" && e.Outcome == "refused" && e.Details["rules_tried"] == "agent-mail")
		login = login || (e.Type == "login" && e.Outcome == "refused" && e.Details["upstream"] == "agents")
	}
	if !link || !login {
		t.Fatalf("events %+v", w.events)
	}
}

func TestCallbackRefusalIsAuditedWithItsReason(t *testing.T) {
	w := newWorld(t)
	w.c.refuse = federation.Refusef("agents", federation.ReasonReplayed, "assertion _x already used")
	resp, _ := http.Get(w.srv.URL + "/federation/agents/saml/acs")
	resp.Body.Close()
	if len(w.logins) != 0 || len(w.refusals) != 1 || w.refusals[0].Reason != federation.ReasonReplayed {
		t.Fatalf("refusals %+v", w.refusals)
	}
	if len(w.events) != 1 || w.events[0].Details["refusal"] != "replayed" || w.events[0].Details["upstream"] != "agents" {
		t.Fatalf("events %+v", w.events)
	}
	w.c.refuse = errors.New("upstream down")
	resp, _ = http.Get(w.srv.URL + "/federation/agents/saml/acs")
	resp.Body.Close()
	if w.refusals[1].Reason != federation.ReasonUnavailable {
		t.Fatalf("a plain error: %+v", w.refusals[1])
	}
}

func TestLogoutBothWays(t *testing.T) {
	w := newWorld(t)
	// enthub's logout sends the browser to the upstream with the stored data.
	rec := httptest.NewRecorder()
	lo, _ := json.Marshal(federation.Logout{NameID: "n-1", SessionIndex: "idx-1"})
	if !w.b.StartLogout(rec, httptest.NewRequest("POST", "/logout", nil), "agents", lo, "https://ent.example/logout?done=1") {
		t.Fatal("StartLogout declined a Logouter")
	}
	if rec.Code != http.StatusFound || len(w.c.logouts) != 1 || w.c.logouts[0].SessionIndex != "idx-1" {
		t.Fatalf("StartLogout: %d %+v", rec.Code, w.c.logouts)
	}
	if w.b.StartLogout(httptest.NewRecorder(), httptest.NewRequest("POST", "/logout", nil), "unknown", lo, "") {
		t.Fatal("StartLogout for an unknown connector")
	}
	// The upstream's LogoutRequest ends the matching sessions here.
	resp, _ := noRedirect().Get(w.srv.URL + "/federation/agents/slo?index=idx-1")
	resp.Body.Close()
	if strings.Join(w.ended, ",") != "agents|idx-1" {
		t.Fatalf("sessions ended: %q", w.ended)
	}
	// Its LogoutResponse to ours sends the browser on.
	resp, _ = noRedirect().Get(w.srv.URL + "/federation/agents/slo")
	resp.Body.Close()
	if resp.Header.Get("Location") != "https://ent.example/bye" {
		t.Fatalf("after the upstream's answer: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}
