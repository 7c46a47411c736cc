package idp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/gar"
	"github.com/enthub/enthub/idp/sso"
)

// Subject is everything a release policy may draw from: the account, the
// person, the persona chosen for this session and every persona of the
// person. It is loaded per release and never cached across requests.
type Subject struct {
	Account   directory.Account
	Person    directory.Person
	Persona   directory.Persona   // zero when none is chosen
	Structure directory.Structure // of Persona
	Personas  []directory.Persona
	// Structures of every persona, by id.
	Structures map[string]directory.Structure
	Upstream   string
	AuthTime   time.Time
	// Spaces are the codes of the profile spaces the account is in.
	Spaces []string
	// gar is the GAR project when configured: the gar.* sources read it.
	gar *gar.Project
}

// Sources lists the attribute sources a release policy may name, with
// what they give. "const:VALUE" releases VALUE.
var Sources = map[string]string{
	"account.id":             "the internal account id (opaque, stable)",
	"account.login":          "the login",
	"person.id":              "the internal person id (opaque, stable; the LDAP uid)",
	"person.aaf_id":          "the AAF ENTPersonJointure",
	"person.last_name":       "sn (nom d'usage)",
	"person.first_name":      "givenName",
	"person.display_name":    "first name and last name",
	"person.birth_date":      "YYYY-MM-DD (reformat with DateLayout)",
	"person.email":           "the AAF e-mail, else the personal one",
	"person.academic_email":  "the AAF e-mail",
	"person.personal_email":  "the e-mail the user set",
	"person.postal_code":     "postal code",
	"person.city":            "city",
	"person.ine":             "student national id",
	"person.title":           "M., Mme",
	"person.mef":             "MEF code (students)",
	"persona.profile":        "profile of the chosen persona",
	"persona.structure_id":   "structure id of the chosen persona",
	"persona.uai":            "UAI of the chosen persona's school",
	"persona.structure_name": "name of the chosen persona's school",
	"persona.functions":      "function codes of the chosen persona",
	"personas.profile":       "profiles of every persona",
	"personas.uai":           "UAIs of every persona",
	"session.upstream":       "how the user logged in (local, educonnect, …)",
	"account.spaces":         "codes of the profile spaces across schools the account is in (espace-ati, …)",
	"gar.id_ent":             "the ENT's GAR project id (gar.id_ent)",
	"gar.person_id":          "GARPersonIdentifiant: opaque, stable, the GAR-ENT export's for the same person",
	"gar.profile":            "the chosen persona's GAR profile (National_elv, National_ens, …)",
}

// sourceNames lists the valid sources, for an error: an operator who
// mistyped one learns the right name without reading the code.
func sourceNames(proto Protocol) string {
	names := make([]string, 0, len(Sources)+2)
	for k := range Sources {
		names = append(names, k)
	}
	sort.Strings(names)
	names = append(names, "const:VALUE")
	if proto == ProtocolOIDC {
		names = append(names, "pairwise (principal only)")
	}
	return strings.Join(names, ", ")
}

func validSource(src string) bool {
	if strings.HasPrefix(src, "const:") {
		return true
	}
	_, ok := Sources[src]
	return ok
}

func (p ReleasePolicy) validate(proto Protocol) error {
	if p.Principal != "" && !validSource(p.Principal) && !(p.Principal == "pairwise" && proto == ProtocolOIDC) {
		return keyErr("release.principal", "%q: unknown source; valid sources: %s", p.Principal, sourceNames(proto))
	}
	names := map[string]bool{}
	for i, a := range p.Attributes {
		if !validSource(a.Source) {
			return keyErr(fmt.Sprintf("release.attributes[%d].source", i), "%q: unknown source; valid sources: %s", a.Source, sourceNames(""))
		}
		if a.Name == "" {
			return keyErr(fmt.Sprintf("release.attributes[%d].name", i), "a name is required (what %s is released as)", a.Source)
		}
		if names[a.Name] {
			return keyErr(fmt.Sprintf("release.attributes[%d].name", i), "%q released twice", a.Name)
		}
		names[a.Name] = true
		switch a.NameFormat {
		case "", "uri", "basic", "unspecified":
		default:
			return keyErr(fmt.Sprintf("release.attributes[%d].name_format", i), "%q: want uri, basic or unspecified", a.NameFormat)
		}
		if proto == ProtocolOIDC && slices.Contains(reservedClaims, a.Name) {
			return keyErr(fmt.Sprintf("release.attributes[%d].name", i), "claim %q is set by the protocol", a.Name)
		}
	}
	return nil
}

var reservedClaims = []string{"iss", "sub", "aud", "exp", "iat", "nbf", "auth_time", "nonce", "acr", "amr", "azp", "at_hash", "c_hash", "sid", "jti"}

// subjectNeeds says which parts of the subject a policy reads, so that a
// validation loads only those (the personas and their structures cost one
// query each).
type subjectNeeds struct{ personas, structures, spaces bool }

var allNeeds = subjectNeeds{personas: true, structures: true, spaces: true}

func (pol ReleasePolicy) needs() subjectNeeds {
	var n subjectNeeds
	for _, src := range append([]string{pol.Principal}, pol.sources()...) {
		if strings.HasPrefix(src, "persona.") || strings.HasPrefix(src, "personas.") || src == "gar.profile" {
			n.personas = true
		}
		switch src {
		case "persona.uai", "persona.structure_name", "personas.uai":
			n.structures = true
		case "account.spaces":
			n.spaces = true
		}
	}
	return n
}

func (pol ReleasePolicy) sources() []string {
	out := make([]string, 0, len(pol.Attributes))
	for _, a := range pol.Attributes {
		out = append(out, a.Source)
	}
	return out
}

// loadSubject reads the subject of a session from the directory: the
// account and person always, personas and structures when need says so
// (default: everything).
func (p *Provider) loadSubject(ctx context.Context, s sso.Session, need ...subjectNeeds) (*Subject, error) {
	n := allNeeds
	if len(need) > 0 {
		n = need[0]
	}
	d := p.deps.Directory
	// An upstream login answering the relying party in its own request
	// has these rows from its linking (readOf).
	ra, read := readOf(ctx, s.AccountID)
	read = read && ra.Person.ID != "" && ra.Person.ID == ra.Account.PersonID
	acc, per := ra.Account, ra.Person
	if !read {
		var err error
		if acc, err = d.Account(ctx, s.AccountID); err != nil {
			return nil, fmt.Errorf("subject of session: account %s: %w", s.AccountID, err)
		}
		if per, err = d.Person(ctx, acc.PersonID); err != nil {
			return nil, fmt.Errorf("subject of session: person %s: %w", acc.PersonID, err)
		}
	}
	sub := &Subject{Account: acc, Person: per, Structures: map[string]directory.Structure{}, Upstream: s.Upstream, AuthTime: s.AuthTime}
	if p.cfg.GAR.enabled() {
		sub.gar = &p.cfg.GAR.Project
	}
	if sl, ok := d.(spaceLister); ok && n.spaces {
		spaces, err := sl.AccountSpaces(ctx, acc.ID)
		if err != nil {
			return nil, fmt.Errorf("subject of session: spaces of %s: %w", acc.ID, err)
		}
		for _, s := range spaces {
			sub.Spaces = append(sub.Spaces, s.ID)
		}
	}
	if !n.personas {
		return sub, nil
	}
	personas := ra.Personas
	if !read {
		var err error
		if personas, err = d.Personas(ctx, per.ID); err != nil {
			return nil, fmt.Errorf("subject of session: personas of %s: %w", per.ID, err)
		}
	}
	sub.Personas = personas
	for _, pa := range personas {
		if pa.ID == s.PersonaID {
			sub.Persona = pa
		}
		if _, ok := sub.Structures[pa.StructureID]; ok || !n.structures {
			continue
		}
		st, err := d.Structure(ctx, pa.StructureID)
		if err != nil && !errors.Is(err, directory.ErrNotFound) {
			return nil, fmt.Errorf("subject of session: structure %s: %w", pa.StructureID, err)
		}
		sub.Structures[pa.StructureID] = st
	}
	if sub.Persona.ID != "" {
		sub.Structure = sub.Structures[sub.Persona.StructureID]
	}
	return sub, nil
}

// spaceLister is what a release reads of the profile spaces; a directory
// without them releases no account.spaces values.
type spaceLister interface {
	AccountSpaces(ctx context.Context, accountID string) ([]directory.Space, error)
}

// values returns what a source gives for the subject.
func (sub *Subject) values(src string) []string {
	one := func(v string) []string {
		if v == "" {
			return nil
		}
		return []string{v}
	}
	if v, ok := strings.CutPrefix(src, "const:"); ok {
		return one(v)
	}
	pe := sub.Person
	switch src {
	case "account.id":
		return one(sub.Account.ID)
	case "account.login":
		return one(sub.Account.Login)
	case "person.id":
		return one(pe.ID)
	case "person.aaf_id":
		return one(pe.AAFID)
	case "person.last_name":
		return one(pe.LastName)
	case "person.first_name":
		return one(pe.FirstName)
	case "person.display_name":
		return one(strings.TrimSpace(pe.FirstName + " " + pe.LastName))
	case "person.birth_date":
		return one(pe.BirthDate)
	case "person.email":
		if pe.Email != "" {
			return one(pe.Email)
		}
		return one(pe.PersonalEmail)
	case "person.academic_email":
		return one(pe.Email)
	case "person.personal_email":
		return one(pe.PersonalEmail)
	case "person.postal_code":
		return one(pe.PostalCode)
	case "person.city":
		return one(pe.City)
	case "person.ine":
		return one(pe.INE)
	case "person.title":
		return one(pe.Title)
	case "person.mef":
		return one(pe.MEF)
	case "persona.profile":
		return one(string(sub.Persona.Profile))
	case "persona.structure_id":
		return one(sub.Persona.StructureID)
	case "persona.uai":
		return one(sub.Structure.UAI)
	case "persona.structure_name":
		return one(sub.Structure.Name)
	case "persona.functions":
		var out []string
		for _, f := range sub.Persona.Functions {
			out = append(out, f.Code)
		}
		return out
	case "personas.profile":
		var out []string
		for _, pa := range sub.Personas {
			out = append(out, string(pa.Profile))
		}
		return out
	case "personas.uai":
		var out []string
		for _, pa := range sub.Personas {
			out = append(out, sub.Structures[pa.StructureID].UAI)
		}
		return out
	case "session.upstream":
		return one(sub.Upstream)
	case "account.spaces":
		return sub.Spaces
	case "gar.id_ent", "gar.person_id", "gar.profile":
		return sub.garValues(src)
	}
	return nil
}

// needsSession reports whether the policy releases session data.
func (pol ReleasePolicy) needsSession() bool {
	if strings.HasPrefix(pol.Principal, "session.") {
		return true
	}
	for _, a := range pol.Attributes {
		if strings.HasPrefix(a.Source, "session.") {
			return true
		}
	}
	return false
}

// Attribute is one released attribute.
type Attribute struct {
	Rule   AttributeRule
	Values []string
}

// release applies a policy's attribute rules: only the named attributes,
// only non-empty values, formatted as the rule says. scopes, when not nil,
// filters rules that require an OIDC scope.
func (pol ReleasePolicy) release(sub *Subject, scopes []string) []Attribute {
	var out []Attribute
	for _, r := range pol.Attributes {
		if scopes != nil && r.Scope != "" && !slices.Contains(scopes, r.Scope) {
			continue
		}
		vals := r.apply(sub.values(r.Source))
		if len(vals) == 0 {
			continue
		}
		out = append(out, Attribute{Rule: r, Values: vals})
	}
	return out
}

func (r AttributeRule) apply(in []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range in {
		if v == "" {
			continue
		}
		if r.DateLayout != "" {
			t, err := time.Parse("2006-01-02", v)
			if err != nil {
				continue
			}
			v = t.Format(r.DateLayout)
		}
		if r.Map != nil {
			m, ok := r.Map[v]
			if !ok && r.MapStrict {
				continue
			}
			if ok {
				v = m
			}
		}
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	if r.Join != "" && len(out) > 1 {
		sort.Strings(out)
		return []string{strings.Join(out, r.Join)}
	}
	return out
}

// principal returns the subject's identifier for a service.
func (p *Provider) principal(svc *Service, sub *Subject) string {
	src := svc.Release.Principal
	switch src {
	case "":
		src = "account.login"
	case "pairwise":
		return p.pairwise(svc.ID, sub.Person.ID)
	}
	v := sub.values(src)
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// pairwise is a stable, per-service opaque identifier: HMAC of the person
// under the instance-shared secret.
func (p *Provider) pairwise(serviceID, personID string) string {
	m := hmac.New(sha256.New, p.keys.secret())
	m.Write([]byte("pairwise\x00" + serviceID + "\x00" + personID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:24])
}
