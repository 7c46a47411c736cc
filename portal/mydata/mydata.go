// Package mydata is "my data" (RGPD, right of access): a signed-in user
// downloads what enthub holds about them — identity as the rectorat
// delivered it, account, personas, classes and groups, family relations,
// links to upstream identities, and the last year of their audit events
// (logins above all) — as a ZIP of JSON files for machines and a PDF for
// people. The password hash is never given out: the export says whether
// there is one.
package mydata

import (
	"archive/zip"
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/portal/console"
	"github.com/enthub/enthub/portal/lang"
)

//go:embed templates/*.html
var files embed.FS

// Reader is what Collect reads: the person's records and the profile
// spaces of their account.
type Reader interface {
	directory.Reader
	directory.SpaceReader
}

// Store is a Reader that also takes the audit event of each download.
type Store interface {
	directory.Store
	directory.SpaceReader
}

// Options wire the page.
type Options struct {
	// Directory gives the person's records and takes the audit event of
	// each download.
	Directory Store
	Sessions  console.Sessions
	SiteName  string
	// Period is how far back events go (default one year).
	Period time.Duration
	Now    func() time.Time
	Logger *slog.Logger
}

// Handler serves /mydata and its two downloads.
type Handler struct {
	o     Options
	pages *console.Pages
}

// New builds the page on the consoles' layout.
func New(l *console.Layout, o Options) (*Handler, error) {
	if o.Directory == nil || o.Sessions == nil {
		return nil, errors.New("mydata: Directory and Sessions are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Period <= 0 {
		o.Period = 365 * 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.SiteName == "" {
		o.SiteName = "ENT"
	}
	pages, err := l.Pages(files, texts, "templates/*.html")
	if err != nil {
		return nil, err
	}
	return &Handler{o: o, pages: pages}, nil
}

// Routes mounts:
//
//	GET /mydata                        what is held and the two downloads
//	GET /mydata/mes-donnees.zip        JSON files
//	GET /mydata/mes-donnees.pdf        the same, to read
func (h *Handler) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /mydata", h.page)
	mux.HandleFunc("GET /mydata/mes-donnees.zip", h.download(h.writeZIP, "application/zip", "zip"))
	mux.HandleFunc("GET /mydata/mes-donnees.pdf", h.download(h.writePDF, "application/pdf", "pdf"))
}

func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	sess := h.o.Sessions.CurrentSession(r)
	if sess == nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	name := ""
	if per, err := h.o.Directory.Person(r.Context(), sess.PersonID); err == nil {
		name = strings.TrimSpace(per.FirstName + " " + per.LastName)
	}
	h.pages.Render(w, r, "mydata.html", console.Page{TitleKey: "mydata.title", User: name,
		Nav:  []console.NavItem{{Href: "/mydata", Key: "mydata.nav", Current: true}},
		Data: struct{ ZIP, PDF string }{"/mydata/mes-donnees.zip", "/mydata/mes-donnees.pdf"}})
}

func (h *Handler) download(write func(*bytes.Buffer, Export, map[string]string) error, ctype, ext string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := h.o.Sessions.CurrentSession(r)
		if sess == nil {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		ctx := r.Context()
		ex, err := Collect(ctx, h.o.Directory, sess.AccountID, h.o.Now(), h.o.Period)
		if err != nil {
			h.o.Logger.Error("mydata: collect", "account", sess.AccountID, "err", err)
			http.Error(w, "service unavailable", http.StatusServiceUnavailable)
			return
		}
		var buf bytes.Buffer
		l := lang.Of(r)
		if err := write(&buf, ex, texts[l]); err != nil {
			h.o.Logger.Error("mydata: write "+ext, "account", sess.AccountID, "err", err)
			http.Error(w, "service unavailable", http.StatusServiceUnavailable)
			return
		}
		e := directory.Event{Time: h.o.Now().UTC(), Type: "mydata.export", AccountID: sess.AccountID, StructureID: sess.StructureID,
			Profile: directory.Profile(sess.Profile), Outcome: "ok", Remote: remote(r), Details: map[string]string{"format": ext}}
		if err := h.o.Directory.Update(ctx, func(tx directory.Tx) error { return tx.AppendEvents(ctx, e) }); err != nil {
			h.o.Logger.Error("mydata: audit event not recorded", "err", err)
		}
		console.SecurityHeaders(w)
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.%s"`, texts[l]["mydata.file"], ex.Account.Login, ext))
		_, _ = w.Write(buf.Bytes())
	}
}

func remote(r *http.Request) string {
	if i := strings.LastIndexByte(r.RemoteAddr, ':'); i > 0 {
		return strings.Trim(r.RemoteAddr[:i], "[]")
	}
	return r.RemoteAddr
}

// Export is everything enthub holds about one person.
//
// It is deliberately not built from the directory export's records
// (package directory/dirdump), though both turn a directory.Person and
// its Account into a document. dirdump writes whole tables for a machine
// to re-import: rows keyed by ids, the AAF family and checksum, the
// password hash with --with-secrets, its JSON names frozen by a format
// version. This is one person's view for that person to read (RGPD art.
// 15): ids resolved into school and relative names, the hash replaced by
// whether there is one, the AAF attributes under "aaf_attributes", and
// their audit events, which dirdump does not carry. Sharing one record
// type would tie the page to a versioned format, so that improving the
// one changes the other. What must stay in step is coverage: every field
// of directory.Person and Account is shown here or listed, with why, in
// fields_test.go; dirdump's records_test.go checks that every field is
// exported. A field added to the model fails both tests until it is
// placed.
type Export struct {
	GeneratedAt time.Time        `json:"generated_at"`
	Identity    Identity         `json:"identity"`
	Account     Account          `json:"account"`
	Personas    []Persona        `json:"personas"`
	Groups      []Group          `json:"groups"`
	Relations   []Relation       `json:"relations"`
	Links       []Link           `json:"upstream_links"`
	Events      []Event          `json:"events"`
	EventsSince time.Time        `json:"events_since"`
	Person      directory.Person `json:"-"`
}

// Identity is the person record.
type Identity struct {
	ID            string              `json:"id"`
	AAFID         string              `json:"aaf_id,omitempty"`
	Source        string              `json:"source"`
	Title         string              `json:"title,omitempty"`
	LastName      string              `json:"last_name"`
	FirstName     string              `json:"first_name"`
	BirthName     string              `json:"birth_name,omitempty"`
	OtherNames    []string            `json:"other_names,omitempty"`
	BirthDate     string              `json:"birth_date,omitempty"`
	INE           string              `json:"ine,omitempty"`
	Email         string              `json:"email,omitempty"`
	PersonalEmail string              `json:"personal_email,omitempty"`
	Phone         string              `json:"phone,omitempty"`
	Mobile        string              `json:"mobile,omitempty"`
	Address       string              `json:"address,omitempty"`
	PostalCode    string              `json:"postal_code,omitempty"`
	City          string              `json:"city,omitempty"`
	Country       string              `json:"country,omitempty"`
	MEF           string              `json:"mef,omitempty"`
	Subjects      []string            `json:"subjects,omitempty"`
	AsDelivered   map[string][]string `json:"aaf_attributes,omitempty"`
	CreatedAt     time.Time           `json:"created_at"`
	UpdatedAt     time.Time           `json:"updated_at"`
}

// Account is the login account, without its password hash.
type Account struct {
	ID          string     `json:"id"`
	Login       string     `json:"login"`
	Status      string     `json:"status"`
	Source      string     `json:"source"`
	ValidFrom   *time.Time `json:"valid_from,omitempty"`
	ValidUntil  *time.Time `json:"valid_until,omitempty"`
	HasPassword bool       `json:"has_local_password"`
	// AbsentFromAAFSince is the first AAF Complet the person was missing
	// from: the account is disabled, then purged, counting from it.
	AbsentFromAAFSince *time.Time `json:"absent_from_aaf_since,omitempty"`
	CreatedAt          time.Time  `json:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at"`
}

// Persona is a profile in a structure.
type Persona struct {
	Profile   string               `json:"profile"`
	UAI       string               `json:"uai"`
	Structure string               `json:"structure"`
	Functions []directory.Function `json:"functions,omitempty"`
}

// Group is a class or group the person is in.
type Group struct {
	Kind      string `json:"kind"`
	Code      string `json:"code"`
	Name      string `json:"name"`
	Role      string `json:"role"`
	Structure string `json:"structure"`
}

// Relation is a parent/child link the directory holds.
type Relation struct {
	As        string `json:"as"` // parent or child
	Other     string `json:"other_person"`
	RespLegal int    `json:"resp_legal"`
}

// Link is an upstream identity tied to the account.
type Link struct {
	Issuer     string     `json:"issuer"`
	Subject    string     `json:"subject"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// Event is an audit event about the account.
type Event struct {
	Time    time.Time `json:"time"`
	Type    string    `json:"type"`
	Service string    `json:"service,omitempty"`
	Outcome string    `json:"outcome"`
	Reason  string    `json:"reason,omitempty"`
	Remote  string    `json:"remote,omitempty"`
	Via     string    `json:"upstream,omitempty"`
}

// identityOf is the person as "my data" shows it: every field of
// directory.Person but the AAF family and the checksum (fields_test.go
// lists what is left out, and why).
func identityOf(per directory.Person) Identity {
	return Identity{ID: per.ID, AAFID: per.AAFID, Source: string(per.Source), Title: per.Title, LastName: per.LastName,
		FirstName: per.FirstName, BirthName: per.BirthName, OtherNames: per.OtherNames, BirthDate: per.BirthDate, INE: per.INE,
		Email: per.Email, PersonalEmail: per.PersonalEmail, Phone: per.Phone, Mobile: per.Mobile, Address: per.Address,
		PostalCode: per.PostalCode, City: per.City, Country: per.Country, MEF: per.MEF, Subjects: per.Subjects,
		AsDelivered: per.Extra, CreatedAt: per.CreatedAt, UpdatedAt: per.UpdatedAt}
}

// accountOf is the account as "my data" shows it: whether there is a local
// password, never its hash.
func accountOf(acc directory.Account) Account {
	return Account{ID: acc.ID, Login: acc.Login, Status: string(acc.Status), Source: string(acc.Source), ValidFrom: acc.ValidFrom,
		ValidUntil: acc.ValidUntil, HasPassword: acc.PasswordHash != "", AbsentFromAAFSince: acc.DisappearedAt,
		CreatedAt: acc.CreatedAt, UpdatedAt: acc.UpdatedAt}
}

// maxEvents bounds the events of one export: a year of logins of the
// busiest user is a few thousand.
const maxEvents = 20000

// Collect reads everything held about the account's person.
func Collect(ctx context.Context, dir Reader, accountID string, now time.Time, period time.Duration) (Export, error) {
	var ex Export
	acc, err := dir.Account(ctx, accountID)
	if err != nil {
		return ex, fmt.Errorf("account %s: %w", accountID, err)
	}
	per, err := dir.Person(ctx, acc.PersonID)
	if err != nil {
		return ex, fmt.Errorf("person %s: %w", acc.PersonID, err)
	}
	ex.GeneratedAt, ex.Person, ex.EventsSince = now.UTC(), per, now.Add(-period).UTC()
	ex.Identity, ex.Account = identityOf(per), accountOf(acc)
	structures := map[string]directory.Structure{}
	structure := func(id string) directory.Structure {
		if s, ok := structures[id]; ok {
			return s
		}
		s, _ := dir.Structure(ctx, id)
		structures[id] = s
		return s
	}
	pas, err := dir.Personas(ctx, per.ID)
	if err != nil {
		return ex, fmt.Errorf("personas of %s: %w", per.ID, err)
	}
	for _, pa := range pas {
		st := structure(pa.StructureID)
		ex.Personas = append(ex.Personas, Persona{Profile: string(pa.Profile), UAI: st.UAI, Structure: st.Name, Functions: pa.Functions})
	}
	ms, err := dir.Memberships(ctx, per.ID)
	if err != nil {
		return ex, fmt.Errorf("groups of %s: %w", per.ID, err)
	}
	for _, m := range ms {
		g, err := dir.Group(ctx, m.GroupID)
		if err != nil {
			continue // a group deleted meanwhile
		}
		ex.Groups = append(ex.Groups, Group{Kind: string(g.Kind), Code: g.Code, Name: g.Name, Role: string(m.Role), Structure: structure(g.StructureID).Name})
	}
	// Profile spaces are the account's groups across schools.
	sps, err := dir.AccountSpaces(ctx, acc.ID)
	if err != nil {
		return ex, fmt.Errorf("spaces of %s: %w", acc.ID, err)
	}
	for _, sp := range sps {
		ex.Groups = append(ex.Groups, Group{Kind: "space", Code: sp.ID, Name: sp.Name, Role: "member"})
	}
	rels, err := dir.Relations(ctx, per.ID)
	if err != nil {
		return ex, fmt.Errorf("relations of %s: %w", per.ID, err)
	}
	for _, rel := range rels {
		as, other := "parent", rel.ChildID
		if rel.ChildID == per.ID {
			as, other = "child", rel.ParentID
		}
		name := other
		if o, err := dir.Person(ctx, other); err == nil {
			name = strings.TrimSpace(o.FirstName + " " + o.LastName)
		}
		ex.Relations = append(ex.Relations, Relation{As: as, Other: name, RespLegal: rel.RespLegal})
	}
	links, err := dir.ExternalLinks(ctx, acc.ID)
	if err != nil {
		return ex, fmt.Errorf("links of %s: %w", acc.ID, err)
	}
	for _, l := range links {
		ex.Links = append(ex.Links, Link{Issuer: l.Issuer, Subject: l.Subject, CreatedAt: l.CreatedAt, LastUsedAt: l.LastUsedAt})
	}
	es, err := dir.Events(ctx, directory.EventFilter{AccountID: acc.ID, Since: ex.EventsSince, Until: now, Limit: maxEvents})
	if err != nil {
		return ex, fmt.Errorf("events of %s: %w", acc.ID, err)
	}
	for _, e := range es {
		ex.Events = append(ex.Events, Event{Time: e.Time, Type: e.Type, Service: e.Service, Outcome: e.Outcome, Reason: e.Reason,
			Remote: e.Remote, Via: e.Details["upstream"]})
	}
	sort.SliceStable(ex.Events, func(i, j int) bool { return ex.Events[i].Time.After(ex.Events[j].Time) })
	return ex, nil
}

// writeZIP writes one JSON file per part, and a README saying what each is.
func (h *Handler) writeZIP(buf *bytes.Buffer, ex Export, t map[string]string) error {
	zw := zip.NewWriter(buf)
	parts := []struct {
		name string
		v    any
	}{
		{"identite.json", ex.Identity},
		{"compte.json", ex.Account},
		{"profils.json", nonNil(ex.Personas)},
		{"groupes.json", nonNil(ex.Groups)},
		{"relations.json", nonNil(ex.Relations)},
		{"liens.json", nonNil(ex.Links)},
		{"connexions.json", struct {
			Since  time.Time `json:"since"`
			Events []Event   `json:"events"`
		}{ex.EventsSince, nonNil(ex.Events)}},
	}
	for _, p := range parts {
		f, err := zw.CreateHeader(&zip.FileHeader{Name: p.name, Method: zip.Deflate, Modified: ex.GeneratedAt})
		if err != nil {
			return err
		}
		enc := json.NewEncoder(f)
		enc.SetIndent("", "  ")
		if err := enc.Encode(p.v); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
	}
	f, err := zw.CreateHeader(&zip.FileHeader{Name: "LISEZMOI.txt", Method: zip.Deflate, Modified: ex.GeneratedAt})
	if err != nil {
		return err
	}
	fmt.Fprintf(f, t["mydata.readme"], h.o.SiteName, ex.GeneratedAt.Format(time.RFC3339))
	return zw.Close()
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// writePDF writes the export as a document to read, in the page's language.
func (h *Handler) writePDF(buf *bytes.Buffer, ex Export, t map[string]string) error {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetTitle(t["mydata.title"], true)
	pdf.SetCreator(h.o.SiteName, true)
	pdf.SetCreationDate(ex.GeneratedAt)
	pdf.SetModificationDate(ex.GeneratedAt)
	pdf.SetAutoPageBreak(true, 15)
	tr := pdf.UnicodeTranslatorFromDescriptor("") // cp1252: French accents in the core fonts
	pdf.SetFooterFunc(func() {
		pdf.SetY(-12)
		pdf.SetFont("Helvetica", "", 8)
		pdf.CellFormat(0, 5, tr(fmt.Sprintf("%s — %s — %d", h.o.SiteName, ex.GeneratedAt.Format(time.DateOnly), pdf.PageNo())), "", 0, "C", false, 0, "")
	})
	pdf.AddPage()
	pdf.SetFont("Helvetica", "B", 16)
	pdf.MultiCell(0, 8, tr(t["mydata.title"]+" — "+ex.Identity.FirstName+" "+ex.Identity.LastName), "", "L", false)
	pdf.SetFont("Helvetica", "", 10)
	pdf.MultiCell(0, 5, tr(fmt.Sprintf(t["mydata.pdf.generated"], ex.GeneratedAt.Format("2006-01-02 15:04 MST"))), "", "L", false)
	heading := func(key string) {
		pdf.Ln(4)
		pdf.SetFont("Helvetica", "B", 13)
		pdf.MultiCell(0, 7, tr(t[key]), "", "L", false)
		pdf.SetFont("Helvetica", "", 10)
	}
	line := func(label, value string) {
		if value == "" {
			return
		}
		pdf.SetFont("Helvetica", "B", 10)
		pdf.CellFormat(50, 5, tr(label), "", 0, "L", false, 0, "")
		pdf.SetFont("Helvetica", "", 10)
		pdf.MultiCell(0, 5, tr(value), "", "L", false)
	}
	none := func(n int) {
		if n == 0 {
			pdf.MultiCell(0, 5, tr(t["mydata.none"]), "", "L", false)
		}
	}
	id := ex.Identity
	heading("mydata.identity")
	line(t["mydata.f.last_name"], id.LastName)
	line(t["mydata.f.first_name"], id.FirstName)
	line(t["mydata.f.birth_name"], id.BirthName)
	line(t["mydata.f.birth_date"], id.BirthDate)
	line(t["mydata.f.email"], id.Email)
	line(t["mydata.f.personal_email"], id.PersonalEmail)
	line(t["mydata.f.phone"], strings.TrimSpace(id.Phone+" "+id.Mobile))
	line(t["mydata.f.address"], strings.TrimSpace(id.Address+" "+id.PostalCode+" "+id.City+" "+id.Country))
	line("INE", id.INE)
	line(t["mydata.f.aaf_id"], id.AAFID)
	line(t["mydata.f.source"], id.Source)
	heading("mydata.account")
	a := ex.Account
	line(t["mydata.f.login"], a.Login)
	line(t["mydata.f.status"], a.Status)
	if a.ValidUntil != nil {
		line(t["mydata.f.valid_until"], a.ValidUntil.Format(time.DateOnly))
	}
	if a.AbsentFromAAFSince != nil {
		line(t["mydata.f.absent_since"], a.AbsentFromAAFSince.Format(time.DateOnly))
	}
	yes := t["mydata.no"]
	if a.HasPassword {
		yes = t["mydata.yes"]
	}
	line(t["mydata.f.password"], yes)
	heading("mydata.personas")
	none(len(ex.Personas))
	for _, p := range ex.Personas {
		line(p.Profile, strings.TrimSpace(p.Structure+" ("+p.UAI+")"))
	}
	heading("mydata.groups")
	none(len(ex.Groups))
	for _, g := range ex.Groups {
		name := g.Name
		if g.Structure != "" { // a profile space belongs to no school
			name += " — " + g.Structure
		}
		line(g.Code, name)
	}
	heading("mydata.relations")
	none(len(ex.Relations))
	for _, r := range ex.Relations {
		line(t["mydata.rel."+r.As], r.Other)
	}
	heading("mydata.links")
	none(len(ex.Links))
	for _, l := range ex.Links {
		line(l.Issuer, l.Subject)
	}
	heading("mydata.events")
	pdf.MultiCell(0, 5, tr(fmt.Sprintf(t["mydata.events.since"], ex.EventsSince.Format(time.DateOnly), len(ex.Events))), "", "L", false)
	none(len(ex.Events))
	pdf.SetFont("Helvetica", "", 9)
	for _, e := range ex.Events {
		s := strings.Join(compact(e.Type, e.Outcome, e.Service, e.Via, e.Remote, e.Reason), " · ")
		pdf.CellFormat(40, 4.5, e.Time.Format("2006-01-02 15:04:05"), "", 0, "L", false, 0, "")
		pdf.MultiCell(0, 4.5, tr(s), "", "L", false)
	}
	return pdf.Output(buf)
}

func compact(vs ...string) []string {
	out := vs[:0]
	for _, v := range vs {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}
