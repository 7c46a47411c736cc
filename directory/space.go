package directory

import (
	"context"
	"time"
)

// Space is a profile space across schools (the tender's "Espace ATI",
// "Espace Cuisine"): a named group of accounts — typically the
// collectivité's agents working in many collèges — that belongs to no
// school. The LDAP front serves it as a group entry and release policies
// give its code to relying parties (source account.spaces), so a service
// of the space can let its members in. Being in a space grants no right in
// enthub itself: the consoles' rules never read spaces.
//
// Members are listed explicitly by the collectivité's administrators, not
// derived from a rule: the collectivité's agents do not come from the AAF,
// and the function codes their upstream gives are not a shared
// nomenclature, so a rule would silently follow whatever an upstream
// renamed; an explicit, audited list says who is in and who put them there.
type Space struct {
	// ID is the space's code: lower-case letters, digits and hyphens
	// ("espace-ati"). It is the LDAP cn and the value released to services,
	// so it never changes; the name may.
	ID          string
	Name        string // display name, French ("Espace ATI")
	Description string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// SpaceMember places an account in a space.
type SpaceMember struct {
	SpaceID   string
	AccountID string
	AddedBy   string // account id of the administrator, or "cli:<operator>"
	AddedAt   time.Time
	// PersonID and Login are the account's, filled on reads (a join) so
	// that the LDAP front and the console need no query per member;
	// ignored on writes.
	PersonID string
	Login    string
}

// AccountHit is an account found by SearchAccounts.
type AccountHit struct {
	AccountID, PersonID, Login string
	FirstName, LastName        string
	Status                     AccountStatus
}

// SpaceReader reads the profile spaces.
type SpaceReader interface {
	// Spaces lists every space, by id.
	Spaces(ctx context.Context) ([]Space, error)
	// Space returns one space; ErrNotFound when there is none.
	Space(ctx context.Context, id string) (Space, error)
	// SpaceMembers lists the members of a space, by login.
	SpaceMembers(ctx context.Context, spaceID string) ([]SpaceMember, error)
	// AccountSpaces lists the spaces an account is a member of, by id.
	AccountSpaces(ctx context.Context, accountID string) ([]Space, error)
	// EachSpaceMember walks every membership of every space, by space
	// then account id, for read models (the LDAP front).
	EachSpaceMember(ctx context.Context, fn func(SpaceMember) error) error
}

// SpaceStore keeps the profile spaces. Like GuestStore it is apart from
// Store, whose behaviour it leaves untouched; the SQL store implements it.
type SpaceStore interface {
	SpaceReader
	// UpdateSpaces runs fn in one read-write transaction, as Store.Update
	// does: a change and its audit event are written together or not at
	// all. A committed change moves the directory's generation, so the
	// LDAP front serves it.
	UpdateSpaces(ctx context.Context, fn func(tx SpaceTx) error) error
	// SearchAccounts finds at most limit accounts whose login starts with
	// q, or whose first or last name contains it, by login: how an
	// administrator picks a member. Case and accents are ignored on both
	// sides ("theo" finds "Théo", "élodie" finds "ÉLODIE"), as
	// FoldName folds them.
	SearchAccounts(ctx context.Context, q string, limit int) ([]AccountHit, error)
}

// SpaceTx is a transaction of a SpaceStore.
type SpaceTx interface {
	Tx
	SpaceReader
	// PutSpace inserts or replaces a space, times as given.
	PutSpace(ctx context.Context, s Space) error
	// DeleteSpace removes a space and its memberships; ErrNotFound when
	// there is none.
	DeleteSpace(ctx context.Context, id string) error
	// AddSpaceMember adds an account to a space; ErrConflict when it is
	// already a member, ErrNotFound when the space or the account is
	// unknown.
	AddSpaceMember(ctx context.Context, m SpaceMember) error
	// RemoveSpaceMember removes an account from a space; ErrNotFound when
	// it was not a member.
	RemoveSpaceMember(ctx context.Context, spaceID, accountID string) error
}
