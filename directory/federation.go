package directory

import (
	"context"
	"errors"
	"time"
)

// FederationStore is what upstream logins (package federation) keep in the
// shared database, so that a login started on one enthub instance can end on
// another and an assertion replayed against any instance is refused.
//
// It is a separate interface from Store so that the directory's own
// behaviour is untouched; the SQL store implements both.
type FederationStore interface {
	// PutLoginState records a login in progress (its state, SAML request
	// id, OIDC nonce and PKCE verifier). An existing id is ErrConflict.
	PutLoginState(ctx context.Context, s LoginState) error
	// TakeLoginState returns and deletes the state in one step: a state is
	// used once. An absent or expired state is ErrNotFound.
	TakeLoginState(ctx context.Context, id string, now time.Time) (LoginState, error)
	// RememberAssertion records the id of an assertion received from issuer
	// until expires; an id already recorded and not yet expired is
	// ErrReplayed, which is how a replayed assertion is refused on every
	// instance.
	RememberAssertion(ctx context.Context, issuer, id string, expires, now time.Time) error
	// PurgeFederation deletes expired login states and assertion ids.
	PurgeFederation(ctx context.Context, now time.Time) (int, error)

	// PersonsByINE lists the persons with this INE (ENTEleveINE), in id
	// order; the linking of a student falls back on it.
	PersonsByINE(ctx context.Context, ine string) ([]Person, error)
	// PersonsByEmail lists the persons whose AAF e-mail is email, compared
	// without case, in id order: agents are matched on their academic
	// address.
	PersonsByEmail(ctx context.Context, email string) ([]Person, error)
	// TouchExternalLink sets the link's last use; a missing link is
	// ErrNotFound.
	TouchExternalLink(ctx context.Context, issuer, subject string, at time.Time) error
	// CreateLinkedAccount creates, in one transaction, a person (its ID is
	// assigned), its account (ID assigned), its personas, the link
	// (link.Issuer, link.Subject) to the account, and the audit events:
	// the just-in-time account of an upstream login. When the link exists
	// already (another instance created it first) or the login is taken,
	// nothing is created and the error wraps ErrConflict.
	CreateLinkedAccount(ctx context.Context, p *Person, a *Account, ps []Persona, link ExternalLink, events ...Event) error
}

// LoginState is one upstream login in progress. Data is the connector's own
// (JSON), opaque to the store.
type LoginState struct {
	ID        string
	Connector string
	Data      []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// ErrReplayed is returned (wrapped) by RememberAssertion for an assertion id
// seen before.
var ErrReplayed = errors.New("already used")
