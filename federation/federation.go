// Package federation turns a login at an upstream identity provider
// (EduConnect, the academic agents portal, the département's Entra ID) into
// an upstream Identity, and, through package federation/link, into the
// directory account or accounts it belongs to.
//
// As in Dex's connector package, an upstream is a Connector: it starts a
// login (a redirect or an auto-submitted form towards the upstream, carrying
// a state) and turns the upstream's answer at the callback into an
// Identity. Connectors are configuration, never code per site: the SAML
// service provider (federation/saml) and the OIDC relying party
// (federation/oidc) are each configured as many times as there are
// upstreams, and federation/preset gives the known upstreams' defaults.
//
// What a login in progress needs to remember (the SAML request id, the OIDC
// nonce and PKCE verifier, where to go next) is kept in the shared store
// (directory.FederationStore), so that a login started on one instance can
// finish on another, and each state is used once.
//
// This package renders no page: refusals are typed errors (*Refusal) that
// the portal turns into a page and an audit event.
package federation

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Identity is what an upstream says about the person who logged in.
type Identity struct {
	// Connector is the id of the connector that received the login.
	Connector string
	// Issuer is the upstream's SAML entityID or OIDC issuer; with Subject it
	// is the stable key of the stored link to an account.
	Issuer string
	// Subject is the upstream's stable identifier of the person: the
	// configured attribute (EduConnect's FrEduCtId, Entra ID's oid) or the
	// NameID / sub.
	Subject string
	// Attributes are the upstream's attributes, keyed by the names the
	// connector's configuration maps them to (SAML: the FriendlyName, or
	// the Name when no mapping or FriendlyName is known; OIDC: the claim).
	Attributes map[string][]string
	// AuthTime is when the person authenticated upstream.
	AuthTime time.Time
	// Logout is what a later logout at the upstream needs.
	Logout Logout
}

// Get returns the first value of attribute name, "" if absent.
func (id Identity) Get(name string) string {
	if v := id.Attributes[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Logout is what logging out at the upstream takes.
type Logout struct {
	// SAML: the NameID as received and the session index, for a
	// LogoutRequest.
	NameID          string `json:"name_id,omitempty"`
	NameIDFormat    string `json:"name_id_format,omitempty"`
	NameQualifier   string `json:"name_qualifier,omitempty"`
	SPNameQualifier string `json:"sp_name_qualifier,omitempty"`
	SessionIndex    string `json:"session_index,omitempty"`
	// OIDC: the ID token, sent as id_token_hint to the end-session
	// endpoint.
	IDTokenHint string `json:"id_token_hint,omitempty"`
	// URL is a front-channel logout URL to send the browser to: the
	// upstream's end-session endpoint, or EduConnect's FrEduUrlRetour.
	URL string `json:"url,omitempty"`
}

// Connector is one configured upstream.
type Connector interface {
	// ID is the connector's configured id, unique in a Registry.
	ID() string
	// Start begins a login: it records the login's state and answers the
	// browser with a redirect or an auto-submitted form to the upstream.
	// next is where the broker continues once the login is done; it is
	// handed back by Callback unchanged (the caller validates it).
	Start(ctx context.Context, w http.ResponseWriter, r *http.Request, next string) error
	// Callback turns the upstream's answer into an identity and returns
	// the next given to Start. Any failure is a *Refusal: nobody is logged
	// in.
	Callback(ctx context.Context, r *http.Request) (Identity, string, error)
}

// Logouter is a connector that takes part in single logout with its
// upstream, both ways. The broker mounts HandleLogout at the connector's
// logout endpoint and calls StartLogout when a person whose session came
// from this upstream logs out of enthub.
type Logouter interface {
	// StartLogout sends the browser to the upstream to end its session
	// there (a SAML LogoutRequest, the OIDC end-session endpoint,
	// EduConnect's FrEduUrlRetour); the upstream sends it back to next.
	StartLogout(ctx context.Context, w http.ResponseWriter, r *http.Request, lo Logout, next string) error
	// HandleLogout answers what the upstream sends to the logout endpoint:
	// its LogoutRequest (the upstream logs the person out everywhere: end
	// is called with what identifies the session, and must end enthub's
	// sessions that match it before the response is written) or its
	// LogoutResponse to our StartLogout (end is not called; next is the
	// next given to StartLogout). The caller redirects to next when it is
	// not empty and nothing was written.
	HandleLogout(ctx context.Context, w http.ResponseWriter, r *http.Request, end func(ctx context.Context, lo Logout) error) (next string, err error)
}

// Reason says why a login was refused, for the audit log and the
// statistics; the portal chooses its page from it.
type Reason string

// The refusal reasons.
const (
	ReasonMalformed   Reason = "malformed"   // not a well-formed upstream message
	ReasonState       Reason = "state"       // unknown, expired, reused or tampered state / RelayState
	ReasonSignature   Reason = "signature"   // missing or invalid signature, or signed by an unknown key
	ReasonAlgorithm   Reason = "algorithm"   // a signature, digest or encryption algorithm not allowed
	ReasonDecrypt     Reason = "decrypt"     // an encrypted assertion we cannot decrypt
	ReasonIssuer      Reason = "issuer"      // not from the configured upstream
	ReasonAudience    Reason = "audience"    // not meant for us
	ReasonRecipient   Reason = "recipient"   // Destination / Recipient is not our callback
	ReasonRequest     Reason = "in_response" // answers another request than the one we sent
	ReasonUnsolicited Reason = "unsolicited" // IdP-initiated where not enabled
	ReasonExpired     Reason = "expired"     // outside its validity window
	ReasonReplayed    Reason = "replayed"    // an assertion id already used
	ReasonStatus      Reason = "status"      // the upstream answered with an error
	ReasonNonce       Reason = "nonce"       // OIDC nonce does not match
	ReasonTenant      Reason = "tenant"      // Entra ID tenant not the pinned one
	ReasonToken       Reason = "token"       // OIDC token exchange or validation failed
	ReasonSubject     Reason = "subject"     // no usable subject in the answer
	ReasonUnavailable Reason = "unavailable" // the upstream or its metadata cannot be reached
)

// Refusal is the error of a refused upstream login. Err says precisely what
// was wrong (for the log); Reason is the category.
type Refusal struct {
	Connector string
	Reason    Reason
	Err       error
}

func (e *Refusal) Error() string {
	return fmt.Sprintf("connector %s: login refused (%s): %v", e.Connector, e.Reason, e.Err)
}

func (e *Refusal) Unwrap() error { return e.Err }

// Refuse builds a *Refusal.
func Refuse(connector string, reason Reason, err error) error {
	return &Refusal{Connector: connector, Reason: reason, Err: err}
}

// Refusef builds a *Refusal with a formatted error.
func Refusef(connector string, reason Reason, format string, args ...any) error {
	return &Refusal{Connector: connector, Reason: reason, Err: fmt.Errorf(format, args...)}
}

// ReasonOf returns the reason of a refusal, "" when err is not one.
func ReasonOf(err error) Reason {
	var r *Refusal
	if errors.As(err, &r) {
		return r.Reason
	}
	return ""
}
