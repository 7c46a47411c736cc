// Package sso holds the records the single sign-on keeps between requests —
// SSO sessions, parked protocol requests, CAS tickets, OIDC codes and
// tokens, SAML message ids, signing keys, login throttles — and the Store
// interface that persists them. It is a leaf package: the identity provider
// (package idp) uses the Store, the SQL store (directory/sqlstore)
// implements it, so that every enthub instance shares one state.
//
// Conventions every implementation follows (ssotest checks them):
//   - lookups that find nothing return an error wrapping directory.ErrNotFound;
//   - expired records are never returned, even before PurgeExpired runs;
//   - single-use records (tickets, codes, refresh tokens, message ids) are
//     consumed atomically: of two concurrent consumers, exactly one wins and
//     the other gets ErrReused (or ErrNotFound for deleted records).
package sso

import (
	"context"
	"errors"
	"time"

	"github.com/enthub/enthub/directory"
)

// ErrNotFound is directory.ErrNotFound: lookups that find nothing (or only
// an expired record) wrap it.
var ErrNotFound = directory.ErrNotFound

// ErrReused is returned (wrapped) when a single-use record is presented a
// second time: a refresh token already rotated, an authorization code
// already exchanged, a SAML request id already seen.
var ErrReused = errors.New("already used")

// Session is an SSO session. ID is the SHA-256 (hex) of the cookie value,
// so that reading the database gives no usable cookie.
type Session struct {
	ID          string
	AccountID   string
	PersonID    string
	PersonaID   string // the chosen persona; empty until chosen
	StructureID string
	Profile     string
	Upstream    string // the id of the connector the user logged in with ("local": password)
	// Accounts are the candidate accounts of an upstream login that linked
	// to several (a parent known in two académies, a principal who is also
	// a parent), AccountID among them; empty when there is only AccountID.
	// The persona page offers the personas of all of them, so the person
	// switches without logging in again.
	Accounts []string
	// UpstreamRef names the upstream's session ("<connector>|<session
	// index or subject>"), so that the upstream's own logout request finds
	// the sessions to end; UpstreamLogout is what logging out at the
	// upstream takes (the connector's federation.Logout, JSON, opaque
	// here).
	UpstreamRef    string
	UpstreamLogout []byte
	AuthTime       time.Time
	CreatedAt      time.Time
	LastSeen       time.Time
	ExpiresAt      time.Time // absolute end
}

// SessionService records that a session reached a service, for single
// logout: Ref is the CAS service ticket, the OIDC sid or the SAML
// NameID|SessionIndex; URL is where the back-channel logout goes.
type SessionService struct {
	SessionID string
	ServiceID string
	Protocol  string
	Ref       string
	URL       string
	At        time.Time
}

// Pending is a protocol request parked while the user logs in: a front
// stores it, the login page completes it with the session, the front
// resumes it.
type Pending struct {
	ID        string
	Kind      string // cas, oidc, saml, portal, logout
	ServiceID string
	Payload   []byte
	SessionID string // set by Complete
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Ticket is a CAS ticket: service ticket (ST), proxy ticket (PT) or
// proxy-granting ticket (PGT).
type Ticket struct {
	ID        string
	Kind      string // ST, PT, PGT
	ServiceID string
	Service   string // the exact service URL the ticket was issued for
	SessionID string
	AccountID string
	PersonaID string
	Renewed   bool // issued right after primary credentials were presented
	PGTURL    string
	Proxies   []string
	// Released is what validating the ticket answers, worked out by the
	// identity provider when it issued the ticket (opaque to the store);
	// empty for proxy-granting tickets.
	Released  []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Code is an OIDC authorization code; ID is its hash. Family groups the
// tokens issued from it, so that a replayed code revokes them.
type Code struct {
	ID        string
	Family    string
	ClientID  string
	SessionID string
	Data      []byte // the authorization request, JSON
	UsedAt    *time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Token is an OIDC access or refresh token; refresh tokens are stored under
// their hash and are single-use (rotation).
type Token struct {
	ID        string
	Kind      string // access, refresh
	Family    string
	ClientID  string
	AccountID string
	SessionID string
	Data      []byte
	UsedAt    *time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Key is a signing key (or, Kind "secret", the instance-shared secret).
// Private holds the PEM, possibly encrypted by the caller.
type Key struct {
	ID          string
	Kind        string // rsa, ec (P-256, for ES256 clients), secret
	Private     []byte
	Certificate []byte // PEM, rsa keys only
	CreatedAt   time.Time
	ActiveFrom  time.Time  // used for signing from then on
	RetireAt    *time.Time // no longer published after
}

// Throttle counts failed logins for one key ("login:x", "ip:y").
type Throttle struct {
	Key         string
	Failures    int
	LastFailure time.Time
}

// ServiceDef is a relying-party registration kept in the store, beside
// those of sso.services_file: Definition is an idp.Service in YAML (the
// services file's format), opaque here so that this package stays a leaf.
type ServiceDef struct {
	ID         string
	Definition []byte
	UpdatedAt  time.Time
}

// Store persists the SSO state. Small interfaces compose it, so a front
// can say which part it needs.
type Store interface {
	SessionStore
	PendingStore
	TicketStore
	TokenStore
	MessageIDStore
	KeyStore
	ThrottleStore
	ServiceStore
	// PurgeExpired deletes every record expired before now and reports
	// how many went.
	PurgeExpired(ctx context.Context, now time.Time) (int, error)
}

// SessionStore keeps SSO sessions and the services each reached.
type SessionStore interface {
	CreateSession(ctx context.Context, s Session) error
	// Session returns the session if it has not expired at now.
	Session(ctx context.Context, id string, now time.Time) (Session, error)
	TouchSession(ctx context.Context, id string, lastSeen time.Time) error
	SetSessionPersona(ctx context.Context, id, personaID, structureID, profile string) error
	// SwitchSessionAccount moves the session to another of its candidate
	// accounts and clears the persona.
	SwitchSessionAccount(ctx context.Context, id, accountID, personID string) error
	// DetachSessionServices forgets the services the session reached and
	// its tickets, and returns the services (a persona switch logs them
	// out while the session goes on).
	DetachSessionServices(ctx context.Context, id string) ([]SessionService, error)
	// SessionsByUpstream lists the live sessions whose UpstreamRef is ref.
	SessionsByUpstream(ctx context.Context, ref string, now time.Time) ([]Session, error)
	// DeleteSession removes the session and returns it with the services
	// it reached (for single logout).
	DeleteSession(ctx context.Context, id string) (Session, []SessionService, error)
	AddSessionService(ctx context.Context, s SessionService) error
	SessionServices(ctx context.Context, sessionID string) ([]SessionService, error)
	// CountSessions counts live sessions.
	CountSessions(ctx context.Context, now time.Time) (int, error)
}

// PendingStore keeps parked protocol requests.
type PendingStore interface {
	PutPending(ctx context.Context, p Pending) error
	Pending(ctx context.Context, id string, now time.Time) (Pending, error)
	CompletePending(ctx context.Context, id, sessionID string) error
	// DeletePending takes the parked request out, which is what answers
	// it: of callers racing for the same request exactly one gets nil,
	// the others (and any later caller) ErrNotFound, so that a request is
	// answered once however many logins complete it at the same time.
	DeletePending(ctx context.Context, id string) error
}

// TicketStore keeps CAS tickets.
type TicketStore interface {
	PutTicket(ctx context.Context, t Ticket) error
	// ConsumeTicket deletes the ticket and returns it; expired or unknown
	// tickets are ErrNotFound.
	ConsumeTicket(ctx context.Context, id string, now time.Time) (Ticket, error)
	// Ticket reads a ticket without consuming it (proxy-granting tickets).
	Ticket(ctx context.Context, id string, now time.Time) (Ticket, error)
	DeleteSessionTickets(ctx context.Context, sessionID string) error
}

// TokenStore keeps OIDC codes and tokens.
type TokenStore interface {
	PutCode(ctx context.Context, c Code) error
	// ConsumeCode marks the code used and returns it. A code already used
	// returns the code and ErrReused, so the caller can revoke its family.
	ConsumeCode(ctx context.Context, id string, now time.Time) (Code, error)
	PutToken(ctx context.Context, t Token) error
	// Token returns a live token (expired, revoked: ErrNotFound). A refresh
	// token already rotated is returned with its UsedAt set.
	Token(ctx context.Context, id string, now time.Time) (Token, error)
	// RotateRefresh marks the refresh token used and stores next in the
	// same transaction. If it was already used it returns ErrReused and
	// stores nothing.
	RotateRefresh(ctx context.Context, id string, now time.Time, next ...Token) error
	// RevokeFamily deletes every token of a family.
	RevokeFamily(ctx context.Context, family string) (int, error)
	// RevokeToken deletes one token.
	RevokeToken(ctx context.Context, id string) error
	// RevokeSessionTokens deletes every token issued under a session.
	RevokeSessionTokens(ctx context.Context, sessionID string) (int, error)
}

// MessageIDStore remembers protocol message ids to refuse replays.
type MessageIDStore interface {
	// RememberMessageID returns ErrReused if (issuer, id) was seen and has
	// not expired.
	RememberMessageID(ctx context.Context, issuer, id string, expires, now time.Time) error
}

// KeyStore keeps signing keys and the shared secret.
type KeyStore interface {
	// PutKey inserts a key; an existing id is left as it is and reported
	// as ErrReused (two instances generating the first key at once).
	PutKey(ctx context.Context, k Key) error
	Keys(ctx context.Context) ([]Key, error)
	RetireKey(ctx context.Context, id string, at time.Time) error
	// SealKey replaces a key's private material by its sealed form if it
	// still holds clear, and reports ErrNotFound otherwise (another
	// instance sealed it first).
	SealKey(ctx context.Context, id string, clear, sealed []byte) error
}

// ThrottleStore counts failed logins.
type ThrottleStore interface {
	// AddLoginFailure records a failure at now and returns the count; a
	// count whose last failure is before resetBefore starts again at 1.
	AddLoginFailure(ctx context.Context, key string, now, resetBefore time.Time) (Throttle, error)
	LoginThrottle(ctx context.Context, key string) (Throttle, error)
	ClearLoginFailures(ctx context.Context, key string) error
}

// ServiceStore keeps relying-party registrations. Every change bumps a
// generation counter, so that each instance notices it with one cheap
// read and reloads the registrations only then.
type ServiceStore interface {
	// PutServices inserts or replaces the definitions, all in one
	// transaction: all of them are stored or none.
	PutServices(ctx context.Context, defs ...ServiceDef) error
	// ServiceDefs lists every definition, by ID.
	ServiceDefs(ctx context.Context) ([]ServiceDef, error)
	// DeleteService removes one definition (ErrNotFound when absent).
	DeleteService(ctx context.Context, id string) error
	// ServicesGeneration changes whenever a definition is put or deleted.
	ServicesGeneration(ctx context.Context) (int64, error)
}
