package directory

import (
	"context"
	"time"
)

// Store is the directory's persistence. Every implementation runs the
// conformance suite in package directory/storetest, so the AAF importer, the
// LDAP front, the identity provider and the portal can rely on one behaviour
// whatever the backend (embedded SQLite or PostgreSQL).
//
// Reads see committed data only. Writes happen inside Update, which runs its
// function in one transaction: either everything it did is visible
// afterwards, or nothing is (a failed import leaves the directory as it was).
type Store interface {
	Reader

	// Update runs fn in one read-write transaction and commits if fn
	// returns nil. Implementations may retry fn on serialization failures,
	// so fn must not have side effects outside tx.
	Update(ctx context.Context, fn func(tx Tx) error) error

	// Ping checks that the backend answers and that its schema is the one
	// this binary expects; /readyz reports its error.
	Ping(ctx context.Context) error

	// Close releases the backend's resources.
	Close() error
}

// Reader is the read side of the store, also available inside a Tx.
type Reader interface {
	Structure(ctx context.Context, id string) (Structure, error)
	StructureByAAFID(ctx context.Context, aafID string) (Structure, error)
	StructureByUAI(ctx context.Context, uai string) (Structure, error)
	ListStructures(ctx context.Context) ([]Structure, error)

	Person(ctx context.Context, id string) (Person, error)
	PersonByAAFID(ctx context.Context, aafID string) (Person, error)
	Account(ctx context.Context, id string) (Account, error)
	AccountByLogin(ctx context.Context, login string) (Account, error)
	AccountByPerson(ctx context.Context, personID string) (Account, error)

	// Personas lists a person's personas; Memberships the groups they are in.
	Personas(ctx context.Context, personID string) ([]Persona, error)
	Memberships(ctx context.Context, personID string) ([]Membership, error)
	Group(ctx context.Context, id string) (Group, error)
	GroupByCode(ctx context.Context, structureID string, kind GroupKind, code string) (Group, error)
	ListGroups(ctx context.Context, structureID string) ([]Group, error)
	GroupMembers(ctx context.Context, groupID string) ([]Membership, error)

	// Relations lists the relations where the person is the parent or the
	// child.
	Relations(ctx context.Context, personID string) ([]Relation, error)

	Subject(ctx context.Context, code string) (Subject, error)
	MEF(ctx context.Context, code string) (MEF, error)

	ExternalLink(ctx context.Context, issuer, subject string) (ExternalLink, error)
	ExternalLinks(ctx context.Context, accountID string) ([]ExternalLink, error)

	// Stats counts accounts by profile, status and structure.
	Stats(ctx context.Context) (Stats, error)

	// Imports lists the import journal, newest first, at most limit entries.
	Imports(ctx context.Context, limit int) ([]ImportRecord, error)
	ImportByHash(ctx context.Context, contentHash string) (ImportRecord, error)
	// LastApplied is the import of that scope, carrying an export date,
	// applied last; ErrNotFound when there is none. An older delivery
	// applied with --force is the last one: what follows it is compared
	// with it, as the directory is then of its day.
	LastApplied(ctx context.Context, scope string) (ImportRecord, error)

	// Events lists audit events matching the filter, newest first.
	Events(ctx context.Context, f EventFilter) ([]Event, error)

	// EachPerson calls fn for every person with their account, in id order,
	// streaming: the LDAP front and the exporters read the whole directory
	// through it without holding it in memory. The Each* family walks whole
	// tables the same way, so a read model is built in a handful of queries
	// rather than one per person.
	EachPerson(ctx context.Context, fn func(Person, Account) error) error
	EachPersona(ctx context.Context, fn func(Persona) error) error
	EachGroup(ctx context.Context, fn func(Group) error) error
	EachMembership(ctx context.Context, fn func(Membership) error) error
	EachRelation(ctx context.Context, fn func(Relation) error) error

	// Generation is a counter that every committed change to the directory
	// (not to the journal, the audit log or the external identity links,
	// which no read model holds) increases; read models compare it to know
	// when to rebuild.
	Generation(ctx context.Context) (int64, error)
}

// Tx is a read-write transaction.
type Tx interface {
	Reader

	PutStructure(ctx context.Context, s *Structure) error
	DeleteStructure(ctx context.Context, id string) error

	// PutPerson inserts (empty ID: a new id is assigned) or replaces a person.
	PutPerson(ctx context.Context, p *Person) error
	DeletePerson(ctx context.Context, id string) error

	// PutAccount inserts or replaces an account; a login already used by
	// another account is ErrConflict.
	PutAccount(ctx context.Context, a *Account) error

	// SetPersonas replaces every persona of the person with the given source.
	SetPersonas(ctx context.Context, personID string, source Source, ps []Persona) error

	PutGroup(ctx context.Context, g *Group) error
	DeleteGroup(ctx context.Context, id string) error
	// SetMemberships replaces every membership of the person.
	SetMemberships(ctx context.Context, personID string, ms []Membership) error
	// SetChildRelations replaces every relation where childID is the child.
	SetChildRelations(ctx context.Context, childID string, rs []Relation) error

	PutSubject(ctx context.Context, s Subject) error
	PutMEF(ctx context.Context, m MEF) error

	PutExternalLink(ctx context.Context, l ExternalLink) error
	DeleteExternalLink(ctx context.Context, issuer, subject string) error

	PutImport(ctx context.Context, r *ImportRecord) error
	AppendEvents(ctx context.Context, es ...Event) error
}

// Stats is what `enthub dir stats` prints and the admin statistics start from.
type Stats struct {
	Structures  int              `json:"structures"`
	ByProfile   map[Profile]int  `json:"by_profile"`
	Accounts    AccountCounts    `json:"accounts"`
	ByStructure []StructureStats `json:"by_structure"`
	BySource    map[Source]int   `json:"by_source,omitempty"`
}

// AccountCounts counts accounts by status.
type AccountCounts struct {
	Active       int `json:"active"`
	Disabled     int `json:"disabled"`
	PendingPurge int `json:"pending_purge,omitempty"`
}

// StructureStats counts the active personas of one structure by profile.
type StructureStats struct {
	AAFID     string          `json:"aaf_id"`
	UAI       string          `json:"uai"`
	Name      string          `json:"name"`
	ByProfile map[Profile]int `json:"by_profile"`
}

// EventFilter selects audit events.
type EventFilter struct {
	Type      string
	AccountID string
	Since     time.Time
	Until     time.Time
	Limit     int
}
