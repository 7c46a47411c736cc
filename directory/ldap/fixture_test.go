package ldap

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/sqlstore"
	goldap "github.com/go-ldap/ldap/v3"
	"golang.org/x/crypto/argon2"
)

var testNow = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// Small, hand-written directory used by most tests.
const (
	uaiA = "0290009C" // lycée
	uaiB = "0291595B" // collège

	readerDN = "cn=reader,ou=services,dc=enthub"
	readerPW = "reader-secret"
	limitDN  = "cn=schoolb,ou=services,dc=enthub"
	limitPW  = "schoolb-secret"
	argonDN  = "cn=argon,ou=services,dc=enthub"
	argonPW  = "argon-secret"
	guestPW  = "guest-password"
)

// ssha makes an {SSHA} hash with a fixed salt (tests only).
func ssha(pw string) string {
	salt := []byte("saltsalt")
	h := sha1.Sum(append([]byte(pw), salt...))
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(h[:], salt...))
}

// cheapArgon makes an argon2id PHC hash with small parameters (tests only).
func cheapArgon(pw string) string {
	salt := []byte("0123456789abcdef")
	h := argon2.IDKey([]byte(pw), salt, 1, 1024, 1, 32)
	return fmt.Sprintf("$argon2id$v=19$m=1024,t=1,p=1$%s$%s", base64.RawStdEncoding.EncodeToString(salt),
		base64.RawStdEncoding.EncodeToString(h))
}

type fixture struct {
	store *sqlstore.Store
	srv   *Server
	addr  string
	audit *recAuditor
}

type recAuditor struct {
	mu     sync.Mutex
	events []directory.Event
}

func (r *recAuditor) Event(_ context.Context, e directory.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recAuditor) count(typ string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func openStore(t testing.TB) *sqlstore.Store {
	t.Helper()
	ctx := context.Background()
	url := "sqlite:" + t.TempDir() + "/db"
	st, err := sqlstore.Open(ctx, url, sqlstore.Options{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// fillSmall writes the hand-written directory:
//
//	lycée A: class TS2 (students eleve1, eleve2; teacher prof1, head teacher, subject 030201),
//	         group GRP-ANG (eleve1); parent1 of eleve1; direction dir1;
//	collège B: class 4EME6 (eleve3); prof1 also teaches there;
//	guest1 (local password, in A); disabled1 (disabled account, in A);
//	expired1 (guest whose end date has passed, in A).
func fillSmall(t testing.TB, st directory.Store) {
	t.Helper()
	ctx := context.Background()
	err := st.Update(ctx, func(tx directory.Tx) error {
		sa := &directory.Structure{ID: "s-a", AAFID: "2828", UAI: uaiA, Name: "LG-DE L'IROISE", Type: "LYCEE D ENSEIGNEMENT GENERAL",
			City: "BREST", PostalCode: "29200", Contract: "PU", Source: directory.SourceAAF}
		sb := &directory.Structure{ID: "s-b", AAFID: "3019", UAI: uaiB, Name: "CLG-DE L'IROISE", Type: "COLLEGE",
			Contract: "PU", Source: directory.SourceAAF, Attached: []string{"2828"}}
		for _, s := range []*directory.Structure{sa, sb} {
			if err := tx.PutStructure(ctx, s); err != nil {
				return err
			}
		}
		if err := tx.PutMEF(ctx, directory.MEF{Code: "20211010110", Label: "TERMINALE GENERALE"}); err != nil {
			return err
		}
		groups := []*directory.Group{
			{ID: "g-ts2", StructureID: "s-a", Kind: directory.GroupClass, Code: "TS2", Name: "Terminale S 2"},
			{ID: "g-ang", StructureID: "s-a", Kind: directory.GroupGroup, Code: "GRP-ANG", Name: "Anglais renforcé"},
			{ID: "g-4e6", StructureID: "s-b", Kind: directory.GroupClass, Code: "4EME6", Name: "4e 6"},
		}
		for _, g := range groups {
			if err := tx.PutGroup(ctx, g); err != nil {
				return err
			}
		}
		until := testNow.Add(-24 * time.Hour)
		type pdef struct {
			id, aaf, login, first, last, mail string
			src                               directory.Source
			status                            directory.AccountStatus
			hash                              string
			until                             *time.Time
			personas                          []directory.Persona
			ms                                []directory.Membership
			birth, mef                        string
		}
		ps := []pdef{
			{id: "eleve1", aaf: "1001", login: "corentin.colin", first: "Corentin", last: "Colin", mail: "corentin.colin@example.org",
				birth: "2008-07-09", mef: "20211010110",
				personas: []directory.Persona{{StructureID: "s-a", Profile: directory.ProfileEleve}},
				ms:       []directory.Membership{{GroupID: "g-ts2", Role: directory.RoleStudent}, {GroupID: "g-ang", Role: directory.RoleStudent}}},
			{id: "eleve2", aaf: "1002", login: "lea.martin", first: "Léa", last: "Martin", birth: "2007-01-02",
				personas: []directory.Persona{{StructureID: "s-a", Profile: directory.ProfileEleve}},
				ms:       []directory.Membership{{GroupID: "g-ts2", Role: directory.RoleStudent}}},
			{id: "eleve3", aaf: "1003", login: "noe.durand", first: "Noé", last: "Durand",
				personas: []directory.Persona{{StructureID: "s-b", Profile: directory.ProfileEleve}},
				ms:       []directory.Membership{{GroupID: "g-4e6", Role: directory.RoleStudent}}},
			{id: "parent1", aaf: "2001", login: "marie.colin", first: "Marie", last: "Colin", mail: "marie.colin@example.net",
				personas: []directory.Persona{{StructureID: "s-a", Profile: directory.ProfileParent}}},
			{id: "prof1", aaf: "3001", login: "jean.dupont", first: "Jean", last: "Dupont", mail: "jean.dupont@ac-rennes.fr",
				personas: []directory.Persona{
					{StructureID: "s-a", Profile: directory.ProfileEnseignant, Functions: []directory.Function{{Code: "ENS", Label: "ENSEIGNEMENT", DisciplineCode: "L1600", DisciplineLabel: "SCIENCES DE LA VIE ET DE LA TERRE"}}},
					{StructureID: "s-b", Profile: directory.ProfileEnseignant}},
				ms: []directory.Membership{{GroupID: "g-ts2", Role: directory.RoleTeacher, Subjects: []string{"030201"}, HeadTeacher: true},
					{GroupID: "g-4e6", Role: directory.RoleTeacher, Subjects: []string{"062900"}}}},
			{id: "dir1", aaf: "3002", login: "anne.proviseur", first: "Anne", last: "Proviseur",
				personas: []directory.Persona{{StructureID: "s-a", Profile: directory.ProfileDirection}}},
			{id: "guest1", login: "invite.stage", first: "Invité", last: "Stage", src: directory.SourceGuest, hash: cheapArgon(guestPW),
				personas: []directory.Persona{{StructureID: "s-a", Profile: directory.ProfileInvite}}},
			{id: "disabled1", aaf: "1009", login: "paul.parti", first: "Paul", last: "Parti", status: directory.StatusDisabled,
				personas: []directory.Persona{{StructureID: "s-a", Profile: directory.ProfileEleve}}},
			{id: "expired1", login: "invite.fini", first: "Invité", last: "Fini", src: directory.SourceGuest, hash: cheapArgon(guestPW), until: &until,
				personas: []directory.Persona{{StructureID: "s-a", Profile: directory.ProfileInvite}}},
		}
		for _, d := range ps {
			src := d.src
			if src == "" {
				src = directory.SourceAAF
			}
			p := &directory.Person{ID: d.id, AAFID: d.aaf, Source: src, FirstName: d.first, LastName: d.last, Email: d.mail,
				BirthDate: d.birth, MEF: d.mef, Extra: map[string][]string{}}
			if d.id == "eleve1" {
				p.Extra["ENTEleveStatutEleve"] = []string{"SCOLAIRE"}
				p.Extra["ENTPersonSexe"] = []string{"M"}
			}
			if d.id == "prof1" {
				p.Extra["ENTAuxEnsMatiereEnseignEtab"] = []string{"2828$SCIENCES DE LA VIE ET DE LA TERRE"}
			}
			if err := tx.PutPerson(ctx, p); err != nil {
				return err
			}
			status := d.status
			if status == "" {
				status = directory.StatusActive
			}
			if err := tx.PutAccount(ctx, &directory.Account{PersonID: d.id, Login: d.login, Status: status, Source: src,
				PasswordHash: d.hash, ValidUntil: d.until}); err != nil {
				return err
			}
			for i := range d.personas {
				d.personas[i].PersonID = d.id
				d.personas[i].Source = src
			}
			if err := tx.SetPersonas(ctx, d.id, src, d.personas); err != nil {
				return err
			}
			for i := range d.ms {
				d.ms[i].PersonID = d.id
			}
			if err := tx.SetMemberships(ctx, d.id, d.ms); err != nil {
				return err
			}
		}
		return tx.SetChildRelations(ctx, "eleve1", []directory.Relation{{ParentID: "parent1", ChildID: "eleve1",
			LienParente: "20", RespFinancier: true, RespLegal: 1, Contact: true}})
	})
	if err != nil {
		t.Fatalf("fill: %v", err)
	}
}

func testConfig() Config {
	return Config{
		ServiceAccounts: []ServiceAccount{
			{DN: readerDN, PasswordHash: ssha(readerPW), Access: Access{SeeDisabled: true}},
			{DN: limitDN, PasswordHash: ssha(limitPW), Access: Access{Structures: []string{uaiB},
				Attributes: []string{"uid", "cn", "sn", "givenName", "ENTPersonLogin", "member", "isMemberOf"}}},
			{DN: argonDN, PasswordHash: cheapArgon(argonPW)},
		},
		Limits: Limits{SizeLimit: 1000, BindBackoff: time.Second, MaxBindBackoff: time.Minute},
	}
}

// startServer serves st with cfg on a free port of 127.0.0.1.
func startServer(t testing.TB, st directory.Reader, cfg Config, opts ...Option) (*Server, string) {
	t.Helper()
	opts = append([]Option{WithClock(func() time.Time { return testNow }), WithLogger(testLogger(t))}, opts...)
	srv, err := NewServer(cfg, st, opts...)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		srv.Close()
		if err := <-errc; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	// Serve loads the model before accepting; wait for it.
	deadline := time.Now().Add(60 * time.Second)
	for srv.Generation() < 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return srv, l.Addr().String()
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("ENTHUB_LDAP_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	st := openStore(t)
	fillSmall(t, st)
	a := &recAuditor{}
	srv, addr := startServer(t, st, testConfig(), WithAuditor(a))
	return &fixture{store: st, srv: srv, addr: addr, audit: a}
}

func (f *fixture) dial(t testing.TB) *goldap.Conn {
	t.Helper()
	c, err := goldap.DialURL("ldap://" + f.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (f *fixture) reader(t testing.TB) *goldap.Conn {
	t.Helper()
	c := f.dial(t)
	if err := c.Bind(readerDN, readerPW); err != nil {
		t.Fatalf("bind reader: %v", err)
	}
	return c
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
