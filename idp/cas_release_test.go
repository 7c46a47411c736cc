package idp

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/idp/sso"
)

func TestCASTicketCarriesItsReleaseAndValidatesOnce(t *testing.T) {
	f := newFixture(t)
	tk := f.casTicket(f.browser(), pronoteURL, "")
	stored, err := f.store.Ticket(context.Background(), tk, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(stored.Released), `"emma.martin"`) || !strings.Contains(string(stored.Released), `"Martin"`) {
		t.Fatalf("ticket stored without its release: %q", stored.Released)
	}
	resp, err := http.Get(f.base + "/cas/validate?service=" + url.QueryEscape(pronoteURL) + "&ticket=" + url.QueryEscape(tk))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(resp.Body); string(b) != "yes\nemma.martin\n" {
		t.Fatalf("CAS 1.0 validation: %q", b)
	}
	resp.Body.Close()
	if cr := f.validate("/cas/p3/serviceValidate", pronoteURL, tk, ""); cr.Failure == nil || cr.Failure.Code != "INVALID_TICKET" {
		t.Fatalf("second validation, other endpoint: %+v", cr)
	}
	ev := f.events("cas.ticket.validated")
	if len(ev) != 1 || ev[0].Profile != "eleve" || ev[0].StructureID != f.ids["lycee"] || ev[0].AccountID != f.ids["eleve.account"] {
		t.Fatalf("validation events: %+v", ev)
	}
}

// A ticket issued by an older binary, without its release, is validated
// from the directory, as it was then.
func TestCASTicketWithoutReleaseStillValidates(t *testing.T) {
	f := newFixture(t)
	c := f.loginAs("emma.martin")
	sess := f.p.currentSession(reqWithCookies(f, c))
	now := f.clock.Now()
	if err := f.store.PutTicket(context.Background(), sso.Ticket{ID: "ST-old-binary", Kind: "ST", ServiceID: "pronote", Service: pronoteURL,
		SessionID: sess.ID, AccountID: sess.AccountID, PersonaID: sess.PersonaID, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	cr := f.validate("/cas/serviceValidate", pronoteURL, "ST-old-binary", "")
	if cr.Success == nil || cr.Success.User != "emma.martin" || attrs(cr)["categories"] != "National_1" {
		t.Fatalf("ticket without release: %+v", cr)
	}
}

func TestCASTicketNeverOutlivesItsSession(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.SessionMax, c.SessionIdle = time.Hour, time.Hour })
	c := f.loginAs("emma.martin")
	f.clock.Advance(time.Hour - 30*time.Second)
	tk := f.casTicket(c, pronoteURL, "")
	f.clock.Advance(45 * time.Second) // the ticket's minute has not passed, the session's hour has
	if cr := f.validate("/cas/serviceValidate", pronoteURL, tk, ""); cr.Failure == nil || cr.Failure.Code != "INVALID_TICKET" {
		t.Fatalf("ticket validated after its session ended: %+v", cr)
	}
}

func TestCASNoAttributesOnV2(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Services[0].CAS.NoAttributesOnV2 = true })
	c := f.browser()
	if cr := f.validate("/cas/serviceValidate", pronoteURL, f.casTicket(c, pronoteURL, ""), ""); cr.Success == nil || len(attrs(cr)) != 0 {
		t.Fatalf("CAS 2.0 with NoAttributesOnV2: %+v", cr)
	}
	if cr := f.validate("/cas/p3/serviceValidate", pronoteURL, f.casTicket(c, pronoteURL, ""), ""); cr.Success == nil || attrs(cr)["nom"] != "Martin" {
		t.Fatalf("CAS 3.0 with NoAttributesOnV2: %+v", cr)
	}
}

// A proxy ticket carries the release of the service it is for.
func TestCASProxyTicketCarriesTargetRelease(t *testing.T) {
	pgts := make(chan url.Values, 1)
	cb := newTLSServer(t, func(w http.ResponseWriter, r *http.Request) { pgts <- r.URL.Query() })
	f := newFixture(t, func(c *Config) {
		c.Services[0].CAS.ProxyCallbackPatterns = []string{"^" + strings.ReplaceAll(cb.URL, ".", `\.`) + "/pgt$"}
		c.Services = append(c.Services, Service{ID: "backend", Name: "Backend", Protocol: ProtocolCAS,
			Release: ReleasePolicy{Principal: "person.id", Attributes: []AttributeRule{{Source: "person.first_name", Name: "prenom"}}},
			CAS:     CASService{ServicePatterns: []string{`^https://backend\.example\.org/.*$`}}})
	})
	f.p.deps.HTTPClient = cb.Client()
	tk := f.casTicket(f.browser(), pronoteURL, "")
	if cr := f.validate("/cas/serviceValidate", pronoteURL, tk, "&pgtUrl="+url.QueryEscape(cb.URL+"/pgt")); cr.Success == nil || cr.Success.PGT == "" {
		t.Fatalf("proxy granting: %+v", cr)
	}
	q := <-pgts
	resp, err := http.Get(f.base + "/cas/proxy?pgt=" + url.QueryEscape(q.Get("pgtId")) + "&targetService=" + url.QueryEscape("https://backend.example.org/api"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var pr struct {
		Ticket string `xml:"proxySuccess>proxyTicket"`
	}
	xml.Unmarshal(b, &pr)
	cr := f.validate("/cas/proxyValidate", "https://backend.example.org/api", pr.Ticket, "")
	if cr.Success == nil || cr.Success.User != f.ids["eleve"] || attrs(cr)["prenom"] != "Emma" || len(attrs(cr)) != 1 {
		t.Fatalf("proxy ticket validation: %+v", cr)
	}
}
