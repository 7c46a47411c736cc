package directory

import (
	"context"
	"errors"
	"time"
)

// Dumper reads the whole directory for the reversibility exports (package
// directory/dirdump): every row of every table that is the directory's,
// including those the Reader has no walk for (persons without an account,
// nomenclatures, upstream links, relying-party registrations).
type Dumper interface {
	// Dump runs fn on a read-only view of the directory. On PostgreSQL it
	// is one snapshot (REPEATABLE READ), so an export taken while an import
	// runs is still coherent; on SQLite it reads committed data walk by
	// walk, as a transaction there would take the write lock.
	Dump(ctx context.Context, fn func(DumpReader) error) error
}

// DumpReader walks every table in a stable order (by primary key), one
// row at a time, so an export's memory does not grow with the directory.
type DumpReader interface {
	Reader
	PortalDumpReader
	DumpStructures(ctx context.Context, fn func(Structure) error) error
	// DumpPersons walks every person, with or without an account.
	DumpPersons(ctx context.Context, fn func(Person) error) error
	DumpAccounts(ctx context.Context, fn func(Account) error) error
	DumpSubjects(ctx context.Context, fn func(Subject) error) error
	DumpMEFs(ctx context.Context, fn func(MEF) error) error
	DumpExternalLinks(ctx context.Context, fn func(ExternalLink) error) error
	DumpServices(ctx context.Context, fn func(ServiceRecord) error) error
	// DumpGuests walks the guest records (GuestStore) by account id: who
	// created a guest, for which school and role, and its revocation.
	DumpGuests(ctx context.Context, fn func(GuestRecord) error) error
	// DumpSpaces and DumpSpaceMembers walk the profile spaces by id and
	// their members by space then account id.
	DumpSpaces(ctx context.Context, fn func(Space) error) error
	DumpSpaceMembers(ctx context.Context, fn func(SpaceMember) error) error
}

// ServiceRecord is a relying-party registration as the store keeps it: its
// definition is the identity provider's JSON, opaque to the directory,
// which only carries it so that a restored store serves the same services.
type ServiceRecord struct {
	ID         string
	Definition []byte
	UpdatedAt  time.Time
}

// Restorer writes an exported directory back, verbatim: ids, dates and
// every column as they were, which the Tx methods cannot do (they stamp
// updated_at and assign ids).
type Restorer interface {
	// Restore runs fn in one transaction into an empty store and commits
	// only if fn and the final reference check succeed: a restore that
	// fails leaves the store exactly as it was. A store holding any
	// directory row is refused with ErrNotEmpty before fn runs.
	Restore(ctx context.Context, fn func(RestoreTx) error) error
}

// RestoreTx receives the rows of a restore, in any order: references
// (an account's person, a membership's group…) are checked once, when fn
// returns, and a dangling one fails the restore naming the record.
type RestoreTx interface {
	PortalRestoreTx
	RestoreStructure(ctx context.Context, s Structure) error
	RestorePerson(ctx context.Context, p Person) error
	RestoreAccount(ctx context.Context, a Account) error
	RestorePersona(ctx context.Context, p Persona) error
	RestoreGroup(ctx context.Context, g Group) error
	RestoreMembership(ctx context.Context, m Membership) error
	RestoreRelation(ctx context.Context, r Relation) error
	RestoreSubject(ctx context.Context, s Subject) error
	RestoreMEF(ctx context.Context, m MEF) error
	RestoreExternalLink(ctx context.Context, l ExternalLink) error
	RestoreService(ctx context.Context, s ServiceRecord) error
	// RestoreGuest writes a guest record; its account must come first
	// (the guest table has a foreign key to accounts).
	RestoreGuest(ctx context.Context, g GuestRecord) error
	// RestoreSpace writes a profile space; RestoreSpaceMember a
	// membership, after its space and its account (foreign keys).
	RestoreSpace(ctx context.Context, s Space) error
	RestoreSpaceMember(ctx context.Context, m SpaceMember) error
}

// ErrBatch is wrapped by a RestoreTx error about rows written earlier and
// checked together (PostgreSQL checks the rows of a COPY when it ends), not
// about the row just given: the error names the row from the database's
// report instead.
var ErrBatch = errors.New("found when checking the rows written before")

// ErrNotEmpty is returned (wrapped, naming a table that holds rows) by
// Restore on a store that is not empty.
var ErrNotEmpty = errors.New("the store is not empty")
