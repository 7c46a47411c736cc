package dirdump

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/enthub/enthub/directory"
)

// The records below are the export's contract (docs/export.md): their JSON
// names are the JSON Lines keys and the CSV column headers, in this order.
// They are separate from the domain types so that a rename inside enthub
// does not silently change a published format.
//
// "My data" (package portal/mydata) also turns a Person and its Account
// into a document, with its own types on purpose: it is one person's view
// for that person to read (school and relative names instead of ids, no
// password hash nor checksum, audit events added), free to change with
// the page, whereas these records are whole tables for a machine to
// re-import, frozen by the format version. Sharing them would tie either
// to the other. What must be kept in step is coverage: records_test.go
// fails when a field of Person or Account is not carried here, and
// mydata's fields_test.go when it is neither shown there nor listed as
// left out, with why.

type structureRec struct {
	ID           string              `json:"id"`
	AAFID        string              `json:"aaf_id,omitempty"`
	UAI          string              `json:"uai,omitempty"`
	Name         string              `json:"name,omitempty"`
	Type         string              `json:"type,omitempty"`
	TypeCode     string              `json:"type_code,omitempty"`
	City         string              `json:"city,omitempty"`
	PostalCode   string              `json:"postal_code,omitempty"`
	Contract     string              `json:"contract,omitempty"`
	Bassin       string              `json:"bassin,omitempty"`
	Academie     string              `json:"academie,omitempty"`
	AcademieCode string              `json:"academie_code,omitempty"`
	Attached     []string            `json:"attached,omitempty"`
	Source       directory.Source    `json:"source"`
	Extra        map[string][]string `json:"extra,omitempty"`
	Checksum     string              `json:"checksum,omitempty"`
	CreatedAt    time.Time           `json:"created_at"`
	UpdatedAt    time.Time           `json:"updated_at"`
}

type personRec struct {
	ID            string              `json:"id"`
	AAFID         string              `json:"aaf_id,omitempty"`
	AAFFamily     string              `json:"aaf_family,omitempty"`
	Source        directory.Source    `json:"source"`
	LastName      string              `json:"last_name,omitempty"`
	FirstName     string              `json:"first_name,omitempty"`
	BirthName     string              `json:"birth_name,omitempty"`
	OtherNames    []string            `json:"other_names,omitempty"`
	Title         string              `json:"title,omitempty"`
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
	Extra         map[string][]string `json:"extra,omitempty"`
	Checksum      string              `json:"checksum,omitempty"`
	CreatedAt     time.Time           `json:"created_at"`
	UpdatedAt     time.Time           `json:"updated_at"`
}

type accountRec struct {
	ID            string                  `json:"id"`
	PersonID      string                  `json:"person_id"`
	Login         string                  `json:"login"`
	Status        directory.AccountStatus `json:"status"`
	Source        directory.Source        `json:"source"`
	ValidFrom     *time.Time              `json:"valid_from,omitempty"`
	ValidUntil    *time.Time              `json:"valid_until,omitempty"`
	DisappearedAt *time.Time              `json:"disappeared_at,omitempty"`
	PasswordHash  string                  `json:"password_hash,omitempty"`
	CreatedAt     time.Time               `json:"created_at"`
	UpdatedAt     time.Time               `json:"updated_at"`
}

type personaRec struct {
	ID          string               `json:"id"`
	PersonID    string               `json:"person_id"`
	StructureID string               `json:"structure_id"`
	Profile     directory.Profile    `json:"profile"`
	Functions   []directory.Function `json:"functions,omitempty"`
	Source      directory.Source     `json:"source"`
}

type groupRec struct {
	ID          string              `json:"id"`
	StructureID string              `json:"structure_id"`
	Kind        directory.GroupKind `json:"kind"`
	Code        string              `json:"code"`
	Name        string              `json:"name,omitempty"`
	Source      directory.Source    `json:"source"`
}

type membershipRec struct {
	GroupID     string               `json:"group_id"`
	PersonID    string               `json:"person_id"`
	Role        directory.MemberRole `json:"role"`
	Subjects    []string             `json:"subjects,omitempty"`
	HeadTeacher bool                 `json:"head_teacher,omitempty"`
}

type relationRec struct {
	ParentID      string `json:"parent_id"`
	ChildID       string `json:"child_id"`
	LienParente   string `json:"lien_parente,omitempty"`
	RespFinancier bool   `json:"resp_financier,omitempty"`
	RespLegal     int    `json:"resp_legal,omitempty"`
	Contact       bool   `json:"contact,omitempty"`
	Paiement      bool   `json:"paiement,omitempty"`
}

type subjectRec struct {
	Code  string `json:"code"`
	Label string `json:"label,omitempty"`
}

type mefRec struct {
	Code    string `json:"code"`
	Label   string `json:"label,omitempty"`
	Rattach string `json:"rattach,omitempty"`
	Stat11  string `json:"stat11,omitempty"`
}

type linkRec struct {
	Issuer     string     `json:"issuer"`
	Subject    string     `json:"subject"`
	AccountID  string     `json:"account_id"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// guestRec is what makes an account a guest's (package directory/guests):
// the school that owns it, its role label, who created and revoked it.
// The guest's name, e-mail and dates are its person and account records.
type guestRec struct {
	AccountID   string     `json:"account_id"`
	StructureID string     `json:"structure_id"`
	Role        string     `json:"role,omitempty"`
	CreatedBy   string     `json:"created_by,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
	RevokedBy   string     `json:"revoked_by,omitempty"`
}

// spaceRec is a profile space across schools (directory.Space).
type spaceRec struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// spaceMemberRec places an account in a space, with who put it there.
type spaceMemberRec struct {
	SpaceID   string    `json:"space_id"`
	AccountID string    `json:"account_id"`
	AddedBy   string    `json:"added_by,omitempty"`
	AddedAt   time.Time `json:"added_at"`
}

type serviceRec struct {
	ID         string          `json:"id"`
	Definition json.RawMessage `json:"definition"`
	UpdatedAt  time.Time       `json:"updated_at"`
}

// utc keeps every exported instant in UTC, so that two exports of the same
// directory are equal byte for byte whatever the backend's time zone.
func utc(t time.Time) time.Time { return t.UTC() }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func fromStructure(s directory.Structure) structureRec {
	return structureRec{ID: s.ID, AAFID: s.AAFID, UAI: s.UAI, Name: s.Name, Type: s.Type, TypeCode: s.TypeCode,
		City: s.City, PostalCode: s.PostalCode, Contract: s.Contract, Bassin: s.Bassin, Academie: s.Academie,
		AcademieCode: s.AcademieCode, Attached: s.Attached, Source: s.Source, Extra: s.Extra, Checksum: s.Checksum,
		CreatedAt: utc(s.CreatedAt), UpdatedAt: utc(s.UpdatedAt)}
}

func (r structureRec) domain() directory.Structure {
	return directory.Structure{ID: r.ID, AAFID: r.AAFID, UAI: r.UAI, Name: r.Name, Type: r.Type, TypeCode: r.TypeCode,
		City: r.City, PostalCode: r.PostalCode, Contract: r.Contract, Bassin: r.Bassin, Academie: r.Academie,
		AcademieCode: r.AcademieCode, Attached: r.Attached, Source: r.Source, Extra: r.Extra, Checksum: r.Checksum,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func fromPerson(p directory.Person) personRec {
	return personRec{ID: p.ID, AAFID: p.AAFID, AAFFamily: p.AAFFamily, Source: p.Source, LastName: p.LastName,
		FirstName: p.FirstName, BirthName: p.BirthName, OtherNames: p.OtherNames, Title: p.Title, BirthDate: p.BirthDate,
		INE: p.INE, Email: p.Email, PersonalEmail: p.PersonalEmail, Phone: p.Phone, Mobile: p.Mobile, Address: p.Address,
		PostalCode: p.PostalCode, City: p.City, Country: p.Country, MEF: p.MEF, Subjects: p.Subjects, Extra: p.Extra,
		Checksum: p.Checksum, CreatedAt: utc(p.CreatedAt), UpdatedAt: utc(p.UpdatedAt)}
}

func (r personRec) domain() directory.Person {
	return directory.Person{ID: r.ID, AAFID: r.AAFID, AAFFamily: r.AAFFamily, Source: r.Source, LastName: r.LastName,
		FirstName: r.FirstName, BirthName: r.BirthName, OtherNames: r.OtherNames, Title: r.Title, BirthDate: r.BirthDate,
		INE: r.INE, Email: r.Email, PersonalEmail: r.PersonalEmail, Phone: r.Phone, Mobile: r.Mobile, Address: r.Address,
		PostalCode: r.PostalCode, City: r.City, Country: r.Country, MEF: r.MEF, Subjects: r.Subjects, Extra: r.Extra,
		Checksum: r.Checksum, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func fromAccount(a directory.Account, secrets bool) accountRec {
	r := accountRec{ID: a.ID, PersonID: a.PersonID, Login: a.Login, Status: a.Status, Source: a.Source,
		ValidFrom: utcPtr(a.ValidFrom), ValidUntil: utcPtr(a.ValidUntil), DisappearedAt: utcPtr(a.DisappearedAt),
		CreatedAt: utc(a.CreatedAt), UpdatedAt: utc(a.UpdatedAt)}
	if secrets {
		r.PasswordHash = a.PasswordHash
	}
	return r
}

func (r accountRec) domain() directory.Account {
	return directory.Account{ID: r.ID, PersonID: r.PersonID, Login: r.Login, Status: r.Status, Source: r.Source,
		ValidFrom: r.ValidFrom, ValidUntil: r.ValidUntil, DisappearedAt: r.DisappearedAt, PasswordHash: r.PasswordHash,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func fromPersona(p directory.Persona) personaRec {
	return personaRec{ID: p.ID, PersonID: p.PersonID, StructureID: p.StructureID, Profile: p.Profile,
		Functions: p.Functions, Source: p.Source}
}

func (r personaRec) domain() directory.Persona {
	return directory.Persona{ID: r.ID, PersonID: r.PersonID, StructureID: r.StructureID, Profile: r.Profile,
		Functions: r.Functions, Source: r.Source}
}

func fromGroup(g directory.Group) groupRec {
	return groupRec{ID: g.ID, StructureID: g.StructureID, Kind: g.Kind, Code: g.Code, Name: g.Name, Source: g.Source}
}

func (r groupRec) domain() directory.Group {
	return directory.Group{ID: r.ID, StructureID: r.StructureID, Kind: r.Kind, Code: r.Code, Name: r.Name, Source: r.Source}
}

func fromMembership(m directory.Membership) membershipRec {
	return membershipRec(m)
}

func (r membershipRec) domain() directory.Membership { return directory.Membership(r) }

func fromRelation(r directory.Relation) relationRec { return relationRec(r) }

func (r relationRec) domain() directory.Relation { return directory.Relation(r) }

func fromLink(l directory.ExternalLink) linkRec {
	return linkRec{Issuer: l.Issuer, Subject: l.Subject, AccountID: l.AccountID, CreatedAt: utc(l.CreatedAt),
		LastUsedAt: utcPtr(l.LastUsedAt)}
}

func (r linkRec) domain() directory.ExternalLink {
	return directory.ExternalLink{Issuer: r.Issuer, Subject: r.Subject, AccountID: r.AccountID, CreatedAt: r.CreatedAt,
		LastUsedAt: r.LastUsedAt}
}

func fromGuest(g directory.GuestRecord) guestRec {
	return guestRec{AccountID: g.AccountID, StructureID: g.StructureID, Role: g.Role, CreatedBy: g.CreatedBy,
		CreatedAt: utc(g.CreatedAt), RevokedAt: utcPtr(g.RevokedAt), RevokedBy: g.RevokedBy}
}

func (r guestRec) domain() directory.GuestRecord {
	return directory.GuestRecord{AccountID: r.AccountID, StructureID: r.StructureID, Role: r.Role, CreatedBy: r.CreatedBy,
		CreatedAt: r.CreatedAt, RevokedAt: r.RevokedAt, RevokedBy: r.RevokedBy}
}

func fromSpace(s directory.Space) spaceRec {
	return spaceRec{ID: s.ID, Name: s.Name, Description: s.Description, CreatedAt: utc(s.CreatedAt), UpdatedAt: utc(s.UpdatedAt)}
}

func (r spaceRec) domain() directory.Space {
	return directory.Space{ID: r.ID, Name: r.Name, Description: r.Description, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func fromSpaceMember(m directory.SpaceMember) spaceMemberRec {
	return spaceMemberRec{SpaceID: m.SpaceID, AccountID: m.AccountID, AddedBy: m.AddedBy, AddedAt: utc(m.AddedAt)}
}

func (r spaceMemberRec) domain() directory.SpaceMember {
	return directory.SpaceMember{SpaceID: r.SpaceID, AccountID: r.AccountID, AddedBy: r.AddedBy, AddedAt: r.AddedAt}
}

func fromService(s directory.ServiceRecord) (serviceRec, error) {
	if !json.Valid(s.Definition) {
		return serviceRec{}, fmt.Errorf("service %s: its stored definition is not JSON", s.ID)
	}
	return serviceRec{ID: s.ID, Definition: json.RawMessage(s.Definition), UpdatedAt: utc(s.UpdatedAt)}, nil
}

func (r serviceRec) domain() directory.ServiceRecord {
	return directory.ServiceRecord{ID: r.ID, Definition: []byte(r.Definition), UpdatedAt: r.UpdatedAt}
}
