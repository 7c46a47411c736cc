package simulate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/enthub/enthub/directory"
)

// Member is one person of the demo cast, as the directory knows them.
type Member struct {
	Person   directory.Person
	Account  directory.Account
	Personas []directory.Persona
	// UAIs of the personas' schools, in persona order.
	UAIs []string
}

// Cast is who the simulations offer: people taken from the directory the
// demo imported, one of each journey.
type Cast struct {
	Student   Member // an élève
	Parent    Member // a parent of children in two schools
	Teacher   Member // a teacher in two schools
	Principal Member // a chef d'établissement
	// PrincipalAsParent is the principal's other AAF record, as a parent
	// (PersRelEleve) carrying the principal's academic address (see
	// SeedPrincipalParent); empty when not seeded.
	PrincipalAsParent Member
	Agent             Member // a collectivité agent (not in the AAF: seeded)
}

// AgentLogin is the login of the seeded collectivité agent.
const AgentLogin = "demo.agent.ati"

// AgentEmail is the agent's address, what the Entra ID simulation
// releases as upn and the linking rules match.
const AgentEmail = "camille.ati@eduprovence.example"

// SeedAgent creates (once) the demo's collectivité agent: a non-AAF
// account with a collectivite persona in the first school, that logs in
// through the Entra ID simulation only (no password).
func SeedAgent(ctx context.Context, store directory.Store) error {
	return store.Update(ctx, func(tx directory.Tx) error {
		if _, err := tx.AccountByLogin(ctx, AgentLogin); err == nil {
			return nil
		} else if !errors.Is(err, directory.ErrNotFound) {
			return err
		}
		all, err := tx.ListStructures(ctx)
		if err != nil {
			return err
		}
		if len(all) == 0 {
			return errors.New("demo agent: the directory has no school")
		}
		per := &directory.Person{LastName: "Ati", FirstName: "Camille", Email: AgentEmail, Source: directory.SourceCollectivite}
		if err := tx.PutPerson(ctx, per); err != nil {
			return err
		}
		acc := directory.Account{PersonID: per.ID, Login: AgentLogin, Source: directory.SourceCollectivite, Status: directory.StatusActive}
		if err := tx.PutAccount(ctx, &acc); err != nil {
			return fmt.Errorf("demo agent account: %w", err)
		}
		return tx.SetPersonas(ctx, per.ID, directory.SourceCollectivite, []directory.Persona{{StructureID: all[0].ID, Profile: directory.ProfileCollectivite}})
	})
}

// Directory is what the cast is read from: the directory and its lookup
// by e-mail (directory.FederationStore).
type Directory interface {
	directory.Store
	PersonsByEmail(ctx context.Context, email string) ([]directory.Person, error)
}

// FindCast picks the cast from the directory: the first (by person id)
// student, parent with personas in two schools, teacher in two schools,
// principal, and the seeded agent. It reads every persona once: meant for
// the demo's directory, not a département's.
func FindCast(ctx context.Context, dir Directory) (Cast, error) {
	by := map[string][]directory.Persona{}
	var order []string
	err := dir.EachPersona(ctx, func(p directory.Persona) error {
		if _, ok := by[p.PersonID]; !ok {
			order = append(order, p.PersonID)
		}
		by[p.PersonID] = append(by[p.PersonID], p)
		return nil
	})
	if err != nil {
		return Cast{}, err
	}
	slices.Sort(order)
	schools := func(ps []directory.Persona, profile directory.Profile) int {
		seen := map[string]bool{}
		for _, p := range ps {
			if p.Profile == profile {
				seen[p.StructureID] = true
			}
		}
		return len(seen)
	}
	var c Cast
	pick := func(m *Member, want func([]directory.Persona) bool, needEmail bool) error {
		for _, id := range order {
			if !want(by[id]) || (c.Teacher.Person.ID == id) {
				continue
			}
			mem, err := member(ctx, dir, id, by[id])
			if err != nil {
				return err
			}
			if mem.Account.Status != directory.StatusActive || (needEmail && mem.Person.Email == "") || mem.Person.Source == directory.SourceGuest {
				continue
			}
			*m = mem
			return nil
		}
		return nil
	}
	for _, step := range []struct {
		m     *Member
		what  string
		want  func([]directory.Persona) bool
		email bool
	}{
		{&c.Student, "student", func(ps []directory.Persona) bool { return schools(ps, directory.ProfileEleve) > 0 }, false},
		{&c.Parent, "parent of children in two schools", func(ps []directory.Persona) bool { return schools(ps, directory.ProfileParent) >= 2 }, false},
		{&c.Teacher, "teacher in two schools", func(ps []directory.Persona) bool { return schools(ps, directory.ProfileEnseignant) >= 2 }, true},
		{&c.Principal, "principal", func(ps []directory.Persona) bool { return schools(ps, directory.ProfileDirection) > 0 }, true},
	} {
		if err := pick(step.m, step.want, step.email); err != nil {
			return c, err
		}
		if step.m.Person.ID == "" {
			return c, fmt.Errorf("demo cast: the directory has no %s", step.what)
		}
	}
	same, err := dir.PersonsByEmail(ctx, c.Principal.Person.Email)
	if err != nil {
		return c, err
	}
	for _, p := range same {
		if p.AAFFamily == "PersRelEleve" {
			if c.PrincipalAsParent, err = member(ctx, dir, p.ID, by[p.ID]); err != nil {
				return c, err
			}
		}
	}
	acc, err := dir.AccountByLogin(ctx, AgentLogin)
	if err != nil {
		return c, fmt.Errorf("demo cast: agent %s: %w", AgentLogin, err)
	}
	ps, err := dir.Personas(ctx, acc.PersonID)
	if err != nil {
		return c, err
	}
	c.Agent, err = member(ctx, dir, acc.PersonID, ps)
	return c, err
}

// SeedPrincipalParent makes the cast's principal also a parent, the way
// the AAF shows it: a chef d'établissement who is a parent has two records
// — PersEducNat from the académie's HR, PersRelEleve from the child's
// school — hence two accounts, and neither EduConnect (parents only) nor
// the agents portal (agents only) names both. The one key they can share
// is the e-mail: the parent record carries the address the parent gave
// the school, here the principal's academic one. The seed gives that
// address, and the principal's name, to a parent record (of one child, not the cast's parent); a
// later AAF import puts the delivered address back. Run it after the
// import and before FindCast; it does nothing when a parent record
// already carries the address.
func SeedPrincipalParent(ctx context.Context, store Directory) error {
	c, err := FindCast(ctx, store)
	if err != nil {
		return err
	}
	if c.PrincipalAsParent.Person.ID != "" {
		return nil
	}
	var pick string
	err = store.EachPersona(ctx, func(p directory.Persona) error {
		if pick == "" && p.Profile == directory.ProfileParent && p.PersonID != c.Parent.Person.ID {
			pick = p.PersonID
		}
		return nil
	})
	if err != nil {
		return err
	}
	if pick == "" {
		return errors.New("demo principal who is also a parent: the directory has no other parent")
	}
	return store.Update(ctx, func(tx directory.Tx) error {
		per, err := tx.Person(ctx, pick)
		if err != nil {
			return err
		}
		// The same person: her name, her academic address.
		per.Email, per.LastName, per.FirstName = c.Principal.Person.Email, c.Principal.Person.LastName, c.Principal.Person.FirstName
		return tx.PutPerson(ctx, &per)
	})
}

func member(ctx context.Context, dir directory.Store, personID string, ps []directory.Persona) (Member, error) {
	m := Member{Personas: ps}
	var err error
	if m.Person, err = dir.Person(ctx, personID); err != nil {
		return m, err
	}
	if m.Account, err = dir.AccountByPerson(ctx, personID); err != nil && !errors.Is(err, directory.ErrNotFound) {
		return m, err
	}
	for _, p := range ps {
		st, err := dir.Structure(ctx, p.StructureID)
		if err != nil && !errors.Is(err, directory.ErrNotFound) {
			return m, err
		}
		m.UAIs = append(m.UAIs, st.UAI)
	}
	return m, nil
}

func opaque(prefix, id string) string {
	h := sha256.Sum256([]byte(prefix + "|" + id))
	return prefix + "-" + hex.EncodeToString(h[:8])
}

func (m Member) label(role string) string {
	var uais []string
	for _, u := range m.UAIs {
		if u != "" && !slices.Contains(uais, u) {
			uais = append(uais, u)
		}
	}
	return fmt.Sprintf("%s — %s %s (%s)", role, m.Person.FirstName, m.Person.LastName, strings.Join(uais, ", "))
}

// EduConnect OIDs (federation.md §1.2; preset.EduConnectAttributes maps
// them back: the simulation must not import the preset, whose tests use
// the simulation).
const (
	oidEduConnect = "urn:oid:1.3.6.1.4.1.20326.10.999.1."
	oidSN         = "urn:oid:2.5.4.4"
	oidGivenName  = "urn:oid:2.5.4.42"
	oidMail       = "urn:oid:0.9.2342.19200300.100.1.3"
)

// EduConnectPerson is how EduConnect would describe m: FrEduCtId, the
// {AAF} vector of FrEduCtRefId, the student's school; logoutURL goes in
// FrEduUrlRetour.
func EduConnectPerson(m Member, role, affiliation, logoutURL string) Person {
	attrs := []Attr{
		{Name: oidEduConnect + "57", FriendlyName: "FrEduCtId", Values: []string{opaque("ect", m.Person.ID)}},
		{Name: oidEduConnect + "7", FriendlyName: "FrEduCtPersonAffiliation", Values: []string{affiliation}},
		{Name: "FrEduCtRefId", FriendlyName: "FrEduCtRefId", Values: []string{"{AAF}02|1|" + m.Person.AAFID}},
		{Name: oidSN, FriendlyName: "sn", Values: []string{m.Person.LastName}},
		{Name: oidGivenName, FriendlyName: "givenName", Values: []string{m.Person.FirstName}},
	}
	if affiliation == "eleve" && len(m.UAIs) > 0 {
		attrs = append(attrs, Attr{Name: oidEduConnect + "72", FriendlyName: "FrEduCtEleveUAI", Values: []string{m.UAIs[0]}})
	}
	if logoutURL != "" {
		attrs = append(attrs, Attr{Name: oidEduConnect + "5", FriendlyName: "FrEduUrlRetour", Values: []string{logoutURL}})
	}
	return Person{Key: opaque("k", m.Person.ID), Label: m.label(role), Attributes: attrs}
}

// UnknownEduConnectPerson is a student EduConnect knows and the directory
// does not: the journey that ends on the "no account" page.
func UnknownEduConnectPerson(uai string) Person {
	return Person{Key: "inconnu", Label: "Élève absent de l'annuaire (" + uai + ")", Attributes: []Attr{
		{Name: oidEduConnect + "57", FriendlyName: "FrEduCtId", Values: []string{"ect-inconnu"}},
		{Name: oidEduConnect + "7", FriendlyName: "FrEduCtPersonAffiliation", Values: []string{"eleve"}},
		{Name: "FrEduCtRefId", FriendlyName: "FrEduCtRefId", Values: []string{"{AAF}02|1|9999999999"}},
		{Name: oidEduConnect + "72", FriendlyName: "FrEduCtEleveUAI", Values: []string{uai}},
	}}
}

// fonctAdm is FrEduFonctAdm: DIR for a principal, ENS for a teacher.
func fonctAdm(m Member) string {
	for _, p := range m.Personas {
		if p.Profile == directory.ProfileDirection {
			return "DIR"
		}
	}
	return "ENS"
}

// AgentSAMLPerson is how the agents portal (SAML) would describe m.
func AgentSAMLPerson(m Member, role string) Person {
	var rne []string
	for _, u := range m.UAIs {
		if u != "" && !slices.Contains(rne, u+"$UAJ$PU$N$T3$CLG") {
			rne = append(rne, u+"$UAJ$PU$N$T3$CLG")
		}
	}
	return Person{Key: opaque("k", m.Person.ID), Label: m.label(role), NameID: opaque("agent", m.Person.ID), Attributes: []Attr{
		{Name: oidMail, FriendlyName: "mail", Values: []string{m.Person.Email}},
		{Name: "ctemail", FriendlyName: "ctemail", Values: []string{m.Person.Email}},
		{Name: "FrEduRne", FriendlyName: "FrEduRne", Values: rne},
		{Name: "FrEduFonctAdm", FriendlyName: "FrEduFonctAdm", Values: []string{fonctAdm(m)}},
		{Name: oidSN, FriendlyName: "sn", Values: []string{m.Person.LastName}},
		{Name: oidGivenName, FriendlyName: "givenName", Values: []string{m.Person.FirstName}},
	}}
}

// AgentOIDCClaims is how the agents portal's FIM (OIDC) would describe m.
func AgentOIDCClaims(m Member) map[string]any {
	return map[string]any{"sub": opaque("fim", m.Person.ID), "email": m.Person.Email, "rne": m.UAIs, "FrEduFonctAdm": fonctAdm(m),
		"given_name": m.Person.FirstName, "family_name": m.Person.LastName}
}

// EntraClaims is how the département's Entra ID tenant would describe m;
// aafIDClaim, when set, carries m's AAF id (a student's school device).
func EntraClaims(m Member, email, aafIDClaim string) map[string]any {
	c := map[string]any{"oid": uuidOf(m.Person.ID), "name": m.Person.FirstName + " " + m.Person.LastName, "preferred_username": email, "upn": email}
	if email != "" {
		c["email"] = email
	}
	if aafIDClaim != "" {
		c[aafIDClaim] = m.Person.AAFID
	}
	return c
}

func uuidOf(s string) string {
	h := sha256.Sum256([]byte("oid|" + s))
	x := hex.EncodeToString(h[:16])
	return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}
