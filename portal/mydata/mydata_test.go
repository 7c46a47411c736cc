package mydata_test

import (
	"archive/zip"
	"bytes"
	"compress/zlib"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/idp"
	"github.com/enthub/enthub/idp/sso"
	"github.com/enthub/enthub/portal/console"
	"github.com/enthub/enthub/portal/mydata"
	"github.com/enthub/enthub/test/peer"
)

var now = time.Date(2026, 9, 7, 8, 0, 0, 0, time.UTC)

type site struct {
	store   *sqlstore.Store
	srv     *httptest.Server
	client  *http.Client
	account string
}

// newSite: a parent with an EduConnect link, a child in a class, logins
// over 13 months, and a browser signed in as the parent.
func newSite(t *testing.T, dbURL string) *site {
	t.Helper()
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, dbURL, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	st := &site{store: s}
	var parent directory.Person
	var persona directory.Persona
	err = s.Update(ctx, func(tx directory.Tx) error {
		school := &directory.Structure{UAI: "0130001A", Name: "Collège Émile Zola", Source: directory.SourceManual}
		if err := tx.PutStructure(ctx, school); err != nil {
			return err
		}
		parent = directory.Person{AAFID: "P1", FirstName: "Hélène", LastName: "Dupré", Email: "helene.dupre@example.org",
			Address: "3 rue des Écoles", PostalCode: "13001", City: "Marseille", Source: directory.SourceAAF,
			Extra: map[string][]string{"ENTPersonAutresPrenoms": {"Marie"}}}
		child := directory.Person{AAFID: "E1", FirstName: "Noé", LastName: "Dupré", INE: "123456789AB", Source: directory.SourceAAF}
		for _, p := range []*directory.Person{&parent, &child} {
			if err := tx.PutPerson(ctx, p); err != nil {
				return err
			}
		}
		absent := now.AddDate(0, 0, -3)
		acc := &directory.Account{PersonID: parent.ID, Login: "helene.dupre", Status: directory.StatusActive, Source: directory.SourceAAF,
			PasswordHash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", DisappearedAt: &absent}
		if err := tx.PutAccount(ctx, acc); err != nil {
			return err
		}
		st.account = acc.ID
		persona = directory.Persona{StructureID: school.ID, Profile: directory.ProfileParent}
		if err := tx.SetPersonas(ctx, parent.ID, directory.SourceAAF, []directory.Persona{persona}); err != nil {
			return err
		}
		if err := tx.SetChildRelations(ctx, child.ID, []directory.Relation{{ParentID: parent.ID, ChildID: child.ID, RespLegal: 1}}); err != nil {
			return err
		}
		if err := tx.PutExternalLink(ctx, directory.ExternalLink{Issuer: "https://educonnect.education.gouv.fr", Subject: "fr-ec-abc123",
			AccountID: acc.ID, CreatedAt: now.AddDate(0, -6, 0)}); err != nil {
			return err
		}
		var es []directory.Event
		for m := 0; m <= 13; m++ {
			es = append(es, directory.Event{Time: now.AddDate(0, -m, 0).Add(-time.Hour), Type: "login", AccountID: acc.ID, Outcome: "ok",
				Remote: "192.0.2.7", Details: map[string]string{"upstream": "educonnect"}})
		}
		es = append(es, directory.Event{Time: now.Add(-time.Hour), Type: "login", AccountID: "someone-else", Outcome: "ok"})
		return tx.AppendEvents(ctx, es...)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.UpdateSpaces(ctx, func(tx directory.SpaceTx) error {
		if err := tx.PutSpace(ctx, directory.Space{ID: "espace-parents", Name: "Espace Parents délégués", CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		return tx.AddSpaceMember(ctx, directory.SpaceMember{SpaceID: "espace-parents", AccountID: st.account, AddedBy: "cli:test", AddedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	pas, _ := s.Personas(ctx, parent.ID)
	mux := http.NewServeMux()
	st.srv = httptest.NewServer(mux)
	t.Cleanup(st.srv.Close)
	clock := func() time.Time { return now }
	p, err := idp.New(ctx, idp.Config{PublicURL: st.srv.URL}, idp.Deps{Directory: s, SSO: s, Now: clock, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	layout, err := console.NewLayout(console.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := mydata.New(layout, mydata.Options{Directory: s, Sessions: p, SiteName: "ENT test", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	h.Routes(mux)
	token := "parent-session-token-0123456789abcdef"
	sum := sha256.Sum256([]byte(token))
	err = s.CreateSession(ctx, sso.Session{ID: hex.EncodeToString(sum[:]), AccountID: st.account, PersonID: parent.ID,
		PersonaID: pas[0].ID, StructureID: pas[0].StructureID, Profile: "parent", AuthTime: now, CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(st.srv.URL)
	jar.SetCookies(u, []*http.Cookie{{Name: "enthub_sso", Value: token, Path: "/"}})
	st.client = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return st
}

func (s *site) get(t *testing.T, c *http.Client, path string) (*http.Response, []byte) {
	t.Helper()
	res, err := c.Get(s.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

func TestMyData(t *testing.T) {
	for name, db := range map[string]func() string{
		"sqlite":   func() string { return "sqlite:" + filepath.Join(t.TempDir(), "enthub.db") },
		"postgres": func() string { return peer.Postgres(t) },
	} {
		t.Run(name, func(t *testing.T) {
			s := newSite(t, db())
			res, body := s.get(t, s.client, "/mydata")
			if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "mes-donnees.zip") || !strings.Contains(string(body), "Hélène Dupré") {
				t.Fatalf("page: %d\n%s", res.StatusCode, body)
			}
			checkZIP(t, s)
			checkPDF(t, s)
			es, _ := s.store.Events(context.Background(), directory.EventFilter{Type: "mydata.export"})
			if len(es) != 2 || es[0].AccountID != s.account {
				t.Errorf("downloads audited: %+v", es)
			}
			// Without a session, nothing.
			anon := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			for _, p := range []string{"/mydata", "/mydata/mes-donnees.zip", "/mydata/mes-donnees.pdf"} {
				if res, _ := s.get(t, anon, p); res.StatusCode != http.StatusSeeOther {
					t.Errorf("%s without a session: %d, want 303", p, res.StatusCode)
				}
			}
		})
	}
}

func checkZIP(t *testing.T, s *site) {
	res, body := s.get(t, s.client, "/mydata/mes-donnees.zip")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/zip" ||
		!strings.Contains(res.Header.Get("Content-Disposition"), `filename="mes-donnees-helene.dupre.zip"`) {
		t.Fatalf("zip: %d %v", res.StatusCode, res.Header)
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		files[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	var id struct {
		FirstName string              `json:"first_name"`
		Email     string              `json:"email"`
		City      string              `json:"city"`
		AAF       map[string][]string `json:"aaf_attributes"`
	}
	if err := json.Unmarshal(files["identite.json"], &id); err != nil || id.FirstName != "Hélène" || id.City != "Marseille" || id.AAF["ENTPersonAutresPrenoms"][0] != "Marie" {
		t.Errorf("identite.json = %s (%v)", files["identite.json"], err)
	}
	if c := string(files["compte.json"]); !strings.Contains(c, `"login": "helene.dupre"`) || !strings.Contains(c, `"has_local_password": true`) || strings.Contains(c, "argon2") {
		t.Errorf("compte.json = %s", c)
	}
	// The date the person went missing from the AAF starts the account's
	// disabling and purge: it is theirs to know. So is a profile space.
	if c := string(files["compte.json"]); !strings.Contains(c, `"absent_from_aaf_since": "2026-09-04T08:00:00Z"`) {
		t.Errorf("compte.json does not say since when the person is absent from the AAF: %s", c)
	}
	if c := string(files["groupes.json"]); !strings.Contains(c, `"kind": "space"`) || !strings.Contains(c, `"code": "espace-parents"`) || !strings.Contains(c, "Espace Parents délégués") {
		t.Errorf("groupes.json does not list the profile space: %s", c)
	}
	if c := string(files["profils.json"]); !strings.Contains(c, `"profile": "parent"`) || !strings.Contains(c, "Collège Émile Zola") {
		t.Errorf("profils.json = %s", c)
	}
	if c := string(files["relations.json"]); !strings.Contains(c, `"other_person": "Noé Dupré"`) {
		t.Errorf("relations.json = %s", c)
	}
	if c := string(files["liens.json"]); !strings.Contains(c, "fr-ec-abc123") {
		t.Errorf("liens.json = %s", c)
	}
	var logins struct {
		Events []struct {
			Time time.Time `json:"time"`
			Type string    `json:"type"`
			Via  string    `json:"upstream"`
		} `json:"events"`
	}
	if err := json.Unmarshal(files["connexions.json"], &logins); err != nil {
		t.Fatal(err)
	}
	// Of the 14 monthly logins (an hour before now, 0 to 13 months ago),
	// the 12 of months 0–11 are within the year.
	for _, e := range logins.Events {
		if e.Time.Before(now.AddDate(-1, 0, 0)) || e.Type != "login" || e.Via != "educonnect" {
			t.Errorf("event %+v outside the year or not the user's", e)
		}
	}
	if n := len(logins.Events); n != 12 {
		t.Errorf("%d logins in the last year, want 12", n)
	}
	if _, ok := files["LISEZMOI.txt"]; !ok {
		t.Errorf("no LISEZMOI.txt in %v", files)
	}
}

// pdfText extracts the text shown by the PDF's (Flate) content streams,
// decoded from the core fonts' cp1252.
func pdfText(t *testing.T, b []byte) string {
	t.Helper()
	streams := regexp.MustCompile(`(?s)stream\r?\n(.*?)\r?\nendstream`).FindAllSubmatch(b, -1)
	tj := regexp.MustCompile(`\(((?:\\.|[^\\)])*)\)\s*Tj`)
	var out strings.Builder
	for _, s := range streams {
		zr, err := zlib.NewReader(bytes.NewReader(s[1]))
		if err != nil {
			continue // not a Flate stream (fonts, images)
		}
		raw, err := io.ReadAll(zr)
		if err != nil {
			continue
		}
		for _, m := range tj.FindAllSubmatch(raw, -1) {
			txt := regexp.MustCompile(`\\(.)`).ReplaceAll(m[1], []byte("$1"))
			dec, _ := charmap.Windows1252.NewDecoder().Bytes(txt)
			out.Write(dec)
			out.WriteByte('\n')
		}
	}
	return out.String()
}

func checkPDF(t *testing.T, s *site) {
	res, body := s.get(t, s.client, "/mydata/mes-donnees.pdf")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(body, []byte("%PDF-")) {
		t.Fatalf("pdf: %d %v", res.StatusCode, res.Header)
	}
	text := pdfText(t, body)
	for _, want := range []string{"Mes données — Hélène Dupré", "Identité", "helene.dupre", "3 rue des Écoles 13001 Marseille",
		"Collège Émile Zola (0130001A)", "Noé Dupré", "fr-ec-abc123", "Connexions et autres événements", "login · ok · educonnect · 192.0.2.7"} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF does not say %q; it says:\n%s", want, text)
		}
	}
	if strings.Contains(text, "argon2") {
		t.Errorf("the PDF gives out the password hash")
	}
}
