// Package directory holds the domain model of the ENT directory — structures,
// persons, accounts, personas, classes and groups, parent/child relations,
// links to upstream identities — and the Store interface every backend
// implements. It knows nothing of XML, HTTP or LDAP: the AAF importer, the
// LDAP front and the identity provider all translate to and from these types.
package directory

import (
	"errors"
	"time"
)

// Profile is the national-agnostic profile code a persona carries. The AAF
// ones come from the rectorat; collectivite and invite are local.
type Profile string

// The profile codes. The LDAP front maps them to the SDET national codes
// (National_ELV, National_TUT, …).
const (
	ProfileEleve          Profile = "eleve"
	ProfileParent         Profile = "parent"
	ProfileEnseignant     Profile = "enseignant"
	ProfileDocumentaliste Profile = "documentaliste"
	ProfileDirection      Profile = "direction"
	ProfileVieScolaire    Profile = "vie_scolaire"
	ProfilePersonnel      Profile = "personnel"
	ProfileCollectivite   Profile = "collectivite"
	ProfileInvite         Profile = "invite"
)

// Profiles lists every profile in display order.
var Profiles = []Profile{
	ProfileEleve, ProfileParent, ProfileEnseignant, ProfileDocumentaliste,
	ProfileDirection, ProfileVieScolaire, ProfilePersonnel, ProfileCollectivite, ProfileInvite,
}

// Valid reports whether p is one of the known profile codes.
func (p Profile) Valid() bool {
	for _, q := range Profiles {
		if p == q {
			return true
		}
	}
	return false
}

// Source says who manages a record. An import only ever touches records whose
// source is its own: guest and manual accounts survive any AAF Complet.
type Source string

// The record sources.
const (
	SourceAAF          Source = "aaf"
	SourceGuest        Source = "guest"
	SourceCollectivite Source = "collectivite"
	SourceManual       Source = "manual"
)

// AccountStatus is the life-cycle state of an account.
type AccountStatus string

// The account states. An AAF account absent from a Complet becomes disabled
// with a disappearance date; after the grace period the purge deletes it.
const (
	StatusActive       AccountStatus = "active"
	StatusDisabled     AccountStatus = "disabled"
	StatusPendingPurge AccountStatus = "pending_purge"
)

// Structure is an établissement (or école, service, collectivité).
type Structure struct {
	ID           string // internal, opaque, stable
	AAFID        string // ENTStructureJointure; empty for local structures
	UAI          string // national school code (RNE)
	Name         string
	Type         string // COLLEGE, LYCEE, ECOLE…
	TypeCode     string
	City         string
	PostalCode   string
	Contract     string // PU, OO…
	Bassin       string // code$label as delivered
	Academie     string
	AcademieCode string
	Attached     []string // AAF ids of functionally attached structures
	Source       Source
	// Extra keeps the AAF attributes as delivered, so a Delta modifyRequest
	// (which replaces only the attributes it names) can be applied exactly.
	Extra     map[string][]string
	Checksum  string // of the AAF record, for change detection
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Person is an individual. A person has one account and one persona per
// (structure, profile); AAF fields are overwritten by each import, the
// locally managed ones (PersonalEmail) never are.
type Person struct {
	ID            string // internal, opaque, stable; the LDAP uid
	AAFID         string // ENTPersonJointure; empty for local persons
	Source        Source
	LastName      string // sn (nom d'usage)
	FirstName     string // givenName
	BirthName     string // ENTPersonNomPatro
	OtherNames    []string
	Title         string // personalTitle (M., Mme)
	BirthDate     string // YYYY-MM-DD, empty when unknown
	INE           string // national student id
	Email         string // e-mail delivered by the AAF (academic for staff)
	PersonalEmail string // set by the user; never touched by imports
	Phone         string
	Mobile        string
	Address       string
	PostalCode    string
	City          string
	Country       string
	MEF           string // students: MEF code
	Subjects      []string
	// AAFFamily is the AAF file family the person comes from (Eleve,
	// PersRelEleve, PersEducNat): a Complet disables only the absent persons
	// of the families it delivers.
	AAFFamily string
	// Extra keeps the AAF attributes as delivered: nothing the rectorat
	// sends is lost, later features can use it, and a Delta modifyRequest
	// (which replaces only the attributes it names) is applied exactly.
	Extra     map[string][]string
	Checksum  string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Account is how a person logs in. Logins are generated once and never
// change with the person's name.
type Account struct {
	ID            string
	PersonID      string
	Login         string
	Status        AccountStatus
	Source        Source
	ValidFrom     *time.Time
	ValidUntil    *time.Time // guests: the end date set by the principal
	DisappearedAt *time.Time // AAF: first Complet the person was absent from
	PasswordHash  string     // local password (guests), argon2id PHC string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Function is one ENTPersonFonctions entry of a staff member in a structure.
type Function struct {
	Code            string `json:"code"`
	Label           string `json:"label,omitempty"`
	DisciplineCode  string `json:"discipline_code,omitempty"`
	DisciplineLabel string `json:"discipline_label,omitempty"`
}

// Persona is a person acting in one structure with one profile: a teacher in
// three schools has three, a parent of children in two schools has two. It is
// what the user picks after login and what relying parties receive.
type Persona struct {
	ID          string
	PersonID    string
	StructureID string
	Profile     Profile
	Functions   []Function
	Source      Source
}

// GroupKind distinguishes classes from teaching groups.
type GroupKind string

// The group kinds.
const (
	GroupClass GroupKind = "class"
	GroupGroup GroupKind = "group"
)

// Group is a class or a teaching group of a structure; its natural key is
// (structure, code), as the AAF only names them as "structure$code".
type Group struct {
	ID          string
	StructureID string
	Kind        GroupKind
	Code        string
	Name        string
	Source      Source
}

// MemberRole says how a person belongs to a group.
type MemberRole string

// The member roles.
const (
	RoleStudent MemberRole = "student"
	RoleTeacher MemberRole = "teacher"
)

// Membership places a person in a group; teachers carry the subjects they
// teach there and whether they are the head teacher (professeur principal).
type Membership struct {
	GroupID     string
	PersonID    string
	Role        MemberRole
	Subjects    []string // subject codes (MatiereEducNat)
	HeadTeacher bool
}

// Relation is one ENTElevePersRelEleve entry: a related adult and a student,
// with the five fields the AAF delivers kept verbatim.
type Relation struct {
	ParentID      string // person id of the adult
	ChildID       string // person id of the student
	LienParente   string // relationship code, old (1–7) or new (10–90) nomenclature
	RespFinancier bool
	RespLegal     int // 0, 1 or 2
	Contact       bool
	Paiement      bool
}

// Subject is a MatiereEducNat nomenclature entry.
type Subject struct {
	Code  string
	Label string
}

// MEF is a MefEducNat nomenclature entry.
type MEF struct {
	Code    string
	Label   string
	Rattach string
	Stat11  string
}

// ExternalLink ties an upstream identity (EduConnect, agents portal, Entra
// ID) to an account. Links are local data: imports never touch them.
type ExternalLink struct {
	Issuer     string
	Subject    string
	AccountID  string
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

// ImportRecord is one entry of the import journal.
type ImportRecord struct {
	ID          string
	StartedAt   time.Time
	FinishedAt  time.Time
	Kind        string // Complet or Delta
	Files       []string
	ContentHash string
	ExportDate  string // YYYY-MM-DD, "" when the delivery carries no date
	// Scope is the perimeter deliveries are ordered within (académie,
	// degree, file prefix): a delivery older than the last one applied in
	// its scope is refused.
	Scope   string
	Outcome string // applied, refused, failed, noop
	Reason  string
	Report  []byte // the JSON report as printed by `enthub aaf import --json`
}

// Event is an audit event: logins, logouts, tickets issued or refused,
// failed binds. It is also the source of the portal's statistics.
type Event struct {
	ID          int64
	Time        time.Time
	Type        string // login, logout, ticket.issued, bind.failed…
	AccountID   string
	StructureID string
	Profile     Profile
	Service     string
	Outcome     string // ok, refused, error
	Reason      string
	Remote      string
	Details     map[string]string
}

// ErrNotFound is returned (wrapped) when a lookup finds nothing.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned (wrapped) when a write breaks a uniqueness rule,
// such as a login already taken.
var ErrConflict = errors.New("conflict")
