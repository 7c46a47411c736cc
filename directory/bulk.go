package directory

import (
	"context"
	"errors"
	"time"
)

// Bulk is the store side of an AAF import: a whole delivery applied in one
// transaction, fast (PostgreSQL COPY into staging tables, then set-based
// merges), all or nothing. Records are addressed by their AAF ids; the store
// resolves them to internal ids.
type Bulk interface {
	// BeginImport opens the import transaction. On PostgreSQL it takes the
	// import advisory lock, so two instances never apply at once; a second
	// one gets ErrImportRunning.
	BeginImport(ctx context.Context, opts ImportOptions) (ImportTx, error)

	// ActiveAAFAccounts calls fn for every active AAF account with each
	// structure it has a persona in (an account without persona is passed
	// once with an empty structure): the baseline of the volumetry guard.
	ActiveAAFAccounts(ctx context.Context, fn func(aafID, structureAAFID string) error) error

	// PurgeDisabled deletes the AAF persons whose account was disabled
	// before cutoff, and returns how many.
	PurgeDisabled(ctx context.Context, cutoff time.Time) (int, error)
}

// ErrImportRunning is returned when another instance holds the import lock.
var ErrImportRunning = errors.New("another import is running")

// ImportOptions tunes an import.
type ImportOptions struct {
	// Now stamps created, updated and disappearance dates.
	Now time.Time
	// LoginPattern builds new logins from {prenom} and {nom}.
	LoginPattern string
	// RelationAccountFamily is the AAF family whose persons get an account
	// only while a relation names them with one of ParentRespLegal (the AAF's
	// PersRelEleve: related adults who are not legal representatives get
	// none). It is decided set-based at Finish, because the relations come
	// from the children's records, not from the adult's own.
	RelationAccountFamily string
	ParentRespLegal       []int
	// Complet says the delivery is a full export, each person put once and
	// New. Into an empty directory the store may then take its first-import
	// path (ImportTx.Fresh).
	Complet bool
}

// ImportTx receives a delivery. The caller streams records through Put* and
// Seen, then calls Finish, or Rollback on any error: nothing is visible
// before Finish returns.
type ImportTx interface {
	// Fresh reports that the import writes into an empty directory (a first
	// Complet): the store resolves every reference itself and writes each row
	// once, straight into its table, and may hold the directory's tables
	// locked until Finish. The volumetry guard then has no baseline, and must
	// not read one through another connection: it would wait on those locks.
	Fresh() bool

	// Checksums calls fn for every stored AAF structure and person: the
	// caller skips records whose checksum did not change, so an unchanged
	// delivery costs no write. For a person it also gives the family and
	// whether their account is active: an unchanged person with an active
	// account needs nothing more (no Seen), and the caller knows which stored
	// persons a Complet no longer carries (it reports them with Delete).
	Checksums(ctx context.Context, fn func(StoredSum)) error

	PutStructure(ctx context.Context, s BulkStructure) error
	// PutSubject and PutMEF insert or replace one nomenclature entry and
	// say which it was: the report counts them like records, and an entry
	// that did not change costs no write.
	PutSubject(ctx context.Context, s Subject) (Change, error)
	PutMEF(ctx context.Context, m MEF) (Change, error)
	// PutPerson inserts or replaces a person and everything derived from
	// their record (personas, memberships, relations as a child).
	PutPerson(ctx context.Context, p BulkPerson) error
	// Seen marks an unchanged person as present in the delivery, which
	// makes their account active again (or gives them one) when entitled.
	// A person whose account is active needs no Seen.
	Seen(ctx context.Context, aafID string) error
	// Delete disables the account of a person the delivery removes: one a
	// Delta deleteRequest names, or a stored person of a family a Complet
	// carries whose record it no longer has.
	Delete(ctx context.Context, aafID string) error
	// Stored returns the delivered AAF attributes stored for the persons
	// (kind "person") or structures ("structure") of the given AAF ids, for
	// applying modifyRequests; an unknown id is absent from the result. It
	// takes many ids because a Delta's modifyRequests are thousands, and one
	// query each would cost more than the rest of the import.
	Stored(ctx context.Context, kind string, aafIDs []string) (map[string]map[string][]string, error)

	// Finish merges everything and commits. Accounts of deleted persons, and
	// of persons no longer entitled to one, are disabled with a
	// disappearance date.
	Finish(ctx context.Context, f FinishOptions) (BulkCounts, error)
	Rollback() error
}

// Change says what a Put did to the stored row.
type Change int

// What a Put did.
const (
	Unchanged Change = iota
	Added
	Updated
)

// StoredSum is a stored AAF record as Checksums gives it.
type StoredSum struct {
	Kind     string // "structure" or "person"
	AAFID    string
	Checksum string
	Family   string // persons: the AAF family
	Active   bool   // persons: their account is active
}

// BulkStructure is a structure as delivered.
type BulkStructure struct {
	Structure
}

// BulkPerson is a person record as delivered, with what derives from it.
type BulkPerson struct {
	Person
	// CreateAccount is false for a person kept without an account. For the
	// RelationAccountFamily it is ignored: the relations decide.
	CreateAccount bool
	// New says the caller knows that no stored person carries this AAF id
	// (it has read them all, as a Complet does). The store may then write
	// the person directly instead of merging it; a caller that is wrong
	// gets a conflict error and the import fails whole.
	New         bool
	Personas    []BulkPersona
	Memberships []BulkMembership
	// Relations lists the student's related adults (students only).
	Relations []BulkRelation
}

// BulkPersona is a persona by structure AAF id.
type BulkPersona struct {
	StructureAAFID string
	Profile        Profile
	Functions      []Function
}

// BulkMembership is a class or group membership by natural key.
type BulkMembership struct {
	StructureAAFID string
	Kind           GroupKind
	Code           string
	Role           MemberRole
	Subjects       []string
	HeadTeacher    bool
}

// BulkRelation is an ENTElevePersRelEleve entry by parent AAF id.
type BulkRelation struct {
	ParentAAFID   string
	LienParente   string
	RespFinancier bool
	RespLegal     int
	Contact       bool
	Paiement      bool
}

// FinishOptions closes an import.
type FinishOptions struct {
	// Complet: the delivery is a full export (its absentees were given to
	// Delete), so AAF groups left without a member are removed.
	Complet bool
	// DryRun does everything a Finish does and counts it, then rolls back
	// instead of committing: the counts are exactly the real import's.
	DryRun bool
}

// BulkCounts is what Finish did, per AAF family.
type BulkCounts struct {
	Disabled map[string]int `json:"disabled"`
	Restored map[string]int `json:"restored"`
	Accounts int            `json:"accounts_created"`
	// DanglingRelations counts relations whose adult has no person.
	DanglingRelations int `json:"dangling_relations"`
}
