package directory

import (
	"context"
	"time"
)

// GuestStore keeps what guest accounts (interns, speakers, tutors created
// by a principal) need beside the directory's person, account and persona:
// the school that owns the guest, the role label, who created and who
// revoked it, and the single-use activation codes. Like FederationStore it
// is apart from Store so that the directory's own behaviour is untouched;
// the SQL store implements both.
type GuestStore interface {
	// UpdateGuests runs fn in one read-write transaction, as Store.Update
	// does: a guest's person, account, persona, guest record, activation
	// code and audit event are written together or not at all.
	UpdateGuests(ctx context.Context, fn func(tx GuestTx) error) error
	// Guests lists the guest records of a structure ("" lists all), by
	// creation time then account id.
	Guests(ctx context.Context, structureID string) ([]GuestRecord, error)
}

// GuestTx is a transaction of a GuestStore.
type GuestTx interface {
	Tx
	// PutGuest inserts or replaces the guest record of g.AccountID.
	PutGuest(ctx context.Context, g GuestRecord) error
	// Guest returns the guest record of the account; ErrNotFound when the
	// account is not a guest.
	Guest(ctx context.Context, accountID string) (GuestRecord, error)
	// GuestsDue lists the guest records whose account is active and whose
	// end date is at or before now: the ones to disable.
	GuestsDue(ctx context.Context, now time.Time) ([]GuestRecord, error)
	// PutActivation records an activation code, replacing any earlier code
	// of the same account (a reprinted code voids the lost one).
	PutActivation(ctx context.Context, a Activation) error
	// TakeActivation returns and deletes the code with this hash in one
	// step, so that a code is used once even by two concurrent requests.
	// An absent code is ErrNotFound; expiry is the caller's to check.
	TakeActivation(ctx context.Context, hash string) (Activation, error)
	// DeleteActivations removes every code of the account (revocation).
	DeleteActivations(ctx context.Context, accountID string) error
	// EndSessions ends every SSO session of the account, with its CAS
	// tickets and OIDC codes and tokens, and reports how many sessions
	// went: a revoked guest already signed in is out at once, not at the
	// end of an idle timeout.
	EndSessions(ctx context.Context, accountID string) (int, error)
}

// GuestRecord is the guest-specific part of a guest account.
type GuestRecord struct {
	AccountID   string
	StructureID string // the school that owns the guest; only its principals see it
	Role        string // "responsable de stage", "intervenant"…
	CreatedBy   string // account id of the principal, or "cli:<operator>"
	CreatedAt   time.Time
	RevokedAt   *time.Time
	RevokedBy   string
}

// Activation is a one-time code that lets a guest set their password. Only
// the SHA-256 of the code is kept, so reading the database gives no usable
// code.
type Activation struct {
	Hash      string // hex SHA-256 of the code
	AccountID string
	CreatedAt time.Time
	ExpiresAt time.Time
}
