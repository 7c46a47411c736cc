// Package guests is the life of a guest account — an intern's tutor, a
// speaker, a visiting teacher — created by a school's principal (or by an
// operator on the command line for a school): creation with a one-time
// activation code, list, extension, revocation, activation by the guest,
// and the automatic disabling of guests whose end date has passed.
//
// Every operation acts for one school (Actor.StructureID) and touches only
// that school's guests: the check is made here, inside the transaction
// that writes, so that neither the console nor the command line can forget
// it. A guest of another school is reported as ErrNotFound, exactly as an
// unknown one, so a forged form learns nothing. Every operation, and every
// refusal, writes an audit event; the events of an operation are committed
// with it.
package guests

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/password"
)

// Store is what the service needs of the directory.
type Store interface {
	directory.Store
	directory.GuestStore
}

// The audit event types this package writes.
const (
	EventCreate   = "guest.create"
	EventExtend   = "guest.extend"
	EventRevoke   = "guest.revoke"
	EventReissue  = "guest.code"
	EventActivate = "guest.activate"
	EventExpire   = "guest.expire"
	EventList     = "guest.list"
)

// Errors callers tell apart (wrapped; test with errors.Is). Refused input
// is a directory.FieldErrors instead (errors.As), its codes: required,
// too_long, email, date_order, until_past, too_long_period, password_short,
// password_mismatch.
var (
	// ErrNotFound: no guest with this id in the actor's school.
	ErrNotFound = directory.ErrNotFound
	// ErrRevoked: the guest was revoked; a revocation is final.
	ErrRevoked = errors.New("guest revoked")
	// ErrCodeInvalid: the activation code is unknown or was already used.
	ErrCodeInvalid = errors.New("activation code unknown or already used")
	// ErrCodeExpired: the activation code is past its end.
	ErrCodeExpired = errors.New("activation code expired")
	// ErrGuestExpired: the guest's end date has passed.
	ErrGuestExpired = errors.New("guest account expired")
)

// Service runs the guest operations.
type Service struct {
	Store Store
	// Now is the clock (default time.Now); Rand the randomness of codes and
	// password salts (default crypto/rand).
	Now  func() time.Time
	Rand io.Reader
	// CodeTTL is how long an activation code works (default 7 days).
	CodeTTL time.Duration
	// MaxPeriod is the longest a guest may stay, from now (default 366 days).
	MaxPeriod time.Duration
	// LoginPattern builds logins ({prenom}.{nom} by default).
	LoginPattern string
	// Argon2 are the password hash costs (default password.Default).
	Argon2 *password.Params
	// MinPassword is the shortest password a guest may choose (default 10).
	MinPassword int
}

// Actor is who acts and for which school.
type Actor struct {
	// ID names the actor in the audit log: a principal's account id, or
	// "cli:<user>" for an operator.
	ID string
	// StructureID is the school acted for; only its guests are reachable.
	StructureID string
	// Remote is the client address, when there is one.
	Remote string
}

// Guest is a guest account as the console and the command line show it.
type Guest struct {
	AccountID   string
	PersonID    string
	StructureID string
	Login       string
	FirstName   string
	LastName    string
	Email       string
	Role        string
	ValidFrom   time.Time
	ValidUntil  time.Time
	Status      directory.AccountStatus
	Activated   bool // a password was set
	CreatedBy   string
	CreatedAt   time.Time
	RevokedAt   *time.Time
}

// State is what a guest is at a time: revoked, expired, upcoming (before
// its start date), pending (no password yet) or active.
func (g Guest) State(now time.Time) string {
	switch {
	case g.RevokedAt != nil:
		return "revoked"
	case !now.Before(g.ValidUntil):
		return "expired"
	case g.Status != directory.StatusActive:
		return "disabled"
	case now.Before(g.ValidFrom):
		return "upcoming"
	case !g.Activated:
		return "pending"
	}
	return "active"
}

// NewGuest is a creation request. Until is the first instant the guest
// is no longer valid (the day after the last day, at midnight).
type NewGuest struct {
	FirstName, LastName, Email, Role string
	From, Until                      time.Time
}

// Issued is a guest with a fresh activation code, to print or send: the
// code is shown once and only its hash is kept.
type Issued struct {
	Guest     Guest
	Code      string
	ExpiresAt time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) rand() io.Reader {
	if s.Rand != nil {
		return s.Rand
	}
	return rand.Reader
}

func (s *Service) codeTTL() time.Duration {
	if s.CodeTTL > 0 {
		return s.CodeTTL
	}
	return 7 * 24 * time.Hour
}

func (s *Service) maxPeriod() time.Duration {
	if s.MaxPeriod > 0 {
		return s.MaxPeriod
	}
	return 366 * 24 * time.Hour
}

const maxField = 128

func checkText(errs directory.FieldErrors, field, v string, required bool) directory.FieldErrors {
	switch {
	case required && strings.TrimSpace(v) == "":
		return append(errs, directory.FieldError{Field: field, Code: "required"})
	case utf8.RuneCountInString(v) > maxField:
		return append(errs, directory.FieldError{Field: field, Code: "too_long"})
	}
	return errs
}

// checkPeriod checks an end date (and a start date when from is not zero).
func (s *Service) checkPeriod(errs directory.FieldErrors, from, until time.Time) directory.FieldErrors {
	now := s.now()
	switch {
	case until.IsZero():
		errs = append(errs, directory.FieldError{Field: "until", Code: "required"})
	case !until.After(now):
		errs = append(errs, directory.FieldError{Field: "until", Code: "until_past"})
	case !from.IsZero() && !until.After(from):
		errs = append(errs, directory.FieldError{Field: "until", Code: "date_order"})
	case until.Sub(now) > s.maxPeriod():
		errs = append(errs, directory.FieldError{Field: "until", Code: "too_long_period"})
	}
	return errs
}

// Create makes a guest of the actor's school: person, account (without
// password), "invite" persona, guest record and activation code.
func (s *Service) Create(ctx context.Context, a Actor, n NewGuest) (Issued, error) {
	n.FirstName, n.LastName = strings.TrimSpace(n.FirstName), strings.TrimSpace(n.LastName)
	n.Email, n.Role = strings.TrimSpace(n.Email), strings.TrimSpace(n.Role)
	var errs directory.FieldErrors
	errs = checkText(errs, "first_name", n.FirstName, true)
	errs = checkText(errs, "last_name", n.LastName, true)
	errs = checkText(errs, "email", n.Email, false)
	if n.Email != "" && utf8.RuneCountInString(n.Email) <= maxField {
		if addr, err := mail.ParseAddress(n.Email); err != nil || addr.Address != n.Email {
			errs = append(errs, directory.FieldError{Field: "email", Code: "email"})
		}
	}
	errs = checkText(errs, "role", n.Role, true)
	if n.From.IsZero() {
		errs = append(errs, directory.FieldError{Field: "from", Code: "required"})
	}
	errs = s.checkPeriod(errs, n.From, n.Until)
	if err := errs.Err("guest"); err != nil {
		return Issued{}, err
	}
	if a.StructureID == "" {
		return Issued{}, errors.New("create guest: no school to create it in")
	}
	code, hash, err := s.newCode()
	if err != nil {
		return Issued{}, err
	}
	now := s.now().UTC()
	var out Issued
	err = s.Store.UpdateGuests(ctx, func(tx directory.GuestTx) error {
		if _, err := tx.Structure(ctx, a.StructureID); err != nil {
			return fmt.Errorf("create guest in structure %s: %w", a.StructureID, err)
		}
		per := &directory.Person{FirstName: n.FirstName, LastName: n.LastName, PersonalEmail: n.Email, Source: directory.SourceGuest}
		if err := tx.PutPerson(ctx, per); err != nil {
			return fmt.Errorf("create guest person: %w", err)
		}
		pattern := s.LoginPattern
		if pattern == "" {
			pattern = "{prenom}.{nom}"
		}
		var lookupErr error
		login := directory.UniqueLogin(directory.LoginBase(pattern, n.FirstName, n.LastName), func(l string) bool {
			_, err := tx.AccountByLogin(ctx, l)
			if err != nil && !errors.Is(err, directory.ErrNotFound) {
				lookupErr = err
			}
			return err == nil
		})
		if lookupErr != nil {
			return fmt.Errorf("choose guest login: %w", lookupErr)
		}
		from, until := n.From.UTC(), n.Until.UTC()
		acc := &directory.Account{PersonID: per.ID, Login: login, Status: directory.StatusActive, Source: directory.SourceGuest,
			ValidFrom: &from, ValidUntil: &until}
		if err := tx.PutAccount(ctx, acc); err != nil {
			return fmt.Errorf("create guest account %s: %w", login, err)
		}
		if err := tx.SetPersonas(ctx, per.ID, directory.SourceGuest, []directory.Persona{{
			StructureID: a.StructureID, Profile: directory.ProfileInvite, Source: directory.SourceGuest}}); err != nil {
			return fmt.Errorf("guest persona: %w", err)
		}
		rec := directory.GuestRecord{AccountID: acc.ID, StructureID: a.StructureID, Role: n.Role, CreatedBy: a.ID, CreatedAt: now}
		if err := tx.PutGuest(ctx, rec); err != nil {
			return err
		}
		act := directory.Activation{Hash: hash, AccountID: acc.ID, CreatedAt: now, ExpiresAt: now.Add(s.codeTTL())}
		if err := tx.PutActivation(ctx, act); err != nil {
			return err
		}
		out = Issued{Guest: assemble(rec, *acc, *per), Code: code, ExpiresAt: act.ExpiresAt}
		return tx.AppendEvents(ctx, s.event(a, EventCreate, out.Guest, "ok", "", map[string]string{
			"until": until.Format(time.RFC3339), "role": n.Role}))
	})
	return out, err
}

// assemble builds the view of a guest from its records.
func assemble(rec directory.GuestRecord, acc directory.Account, per directory.Person) Guest {
	g := Guest{AccountID: acc.ID, PersonID: per.ID, StructureID: rec.StructureID, Login: acc.Login,
		FirstName: per.FirstName, LastName: per.LastName, Email: per.PersonalEmail, Role: rec.Role,
		Status: acc.Status, Activated: acc.PasswordHash != "", CreatedBy: rec.CreatedBy, CreatedAt: rec.CreatedAt, RevokedAt: rec.RevokedAt}
	if acc.ValidFrom != nil {
		g.ValidFrom = *acc.ValidFrom
	}
	if acc.ValidUntil != nil {
		g.ValidUntil = *acc.ValidUntil
	}
	return g
}

func (s *Service) event(a Actor, typ string, g Guest, outcome, reason string, details map[string]string) directory.Event {
	d := map[string]string{"actor": a.ID, "login": g.Login}
	for k, v := range details {
		d[k] = v
	}
	return directory.Event{Time: s.now().UTC(), Type: typ, AccountID: g.AccountID, StructureID: g.StructureID,
		Profile: directory.ProfileInvite, Outcome: outcome, Reason: reason, Remote: a.Remote, Details: d}
}

// refused records a refusal in its own transaction: the operation's was
// rolled back, the trace of the attempt must stay.
func (s *Service) refused(ctx context.Context, a Actor, typ, accountID string, cause error) error {
	e := directory.Event{Time: s.now().UTC(), Type: typ, AccountID: accountID, StructureID: a.StructureID,
		Outcome: "refused", Reason: cause.Error(), Remote: a.Remote, Details: map[string]string{"actor": a.ID}}
	if err := s.Store.Update(ctx, func(tx directory.Tx) error { return tx.AppendEvents(ctx, e) }); err != nil {
		return errors.Join(cause, fmt.Errorf("audit refusal: %w", err))
	}
	return cause
}

// load reads a guest of the actor's school inside tx; any other guest is
// ErrNotFound.
func load(ctx context.Context, tx directory.GuestTx, a Actor, accountID string) (directory.GuestRecord, directory.Account, directory.Person, error) {
	rec, acc, per, err := records(ctx, tx, accountID)
	if err == nil && (a.StructureID == "" || rec.StructureID != a.StructureID) {
		err = fmt.Errorf("guest %s is not a guest of structure %s: %w", accountID, a.StructureID, ErrNotFound)
	}
	return rec, acc, per, err
}

// records reads the guest record, account and person of a guest.
func records(ctx context.Context, tx directory.GuestTx, accountID string) (directory.GuestRecord, directory.Account, directory.Person, error) {
	var acc directory.Account
	var per directory.Person
	rec, err := tx.Guest(ctx, accountID)
	if err != nil {
		return rec, acc, per, fmt.Errorf("guest %s: %w", accountID, ErrNotFound)
	}
	if acc, err = tx.Account(ctx, accountID); err != nil {
		return rec, acc, per, fmt.Errorf("guest %s: %w", accountID, err)
	}
	if per, err = tx.Person(ctx, acc.PersonID); err != nil {
		return rec, acc, per, fmt.Errorf("guest %s: %w", accountID, err)
	}
	return rec, acc, per, nil
}

// List returns the guests of the actor's school, newest last.
func (s *Service) List(ctx context.Context, a Actor) ([]Guest, error) {
	if a.StructureID == "" {
		return nil, errors.New("list guests: no school")
	}
	recs, err := s.Store.Guests(ctx, a.StructureID)
	if err != nil {
		return nil, err
	}
	out := make([]Guest, 0, len(recs))
	for _, rec := range recs {
		acc, err := s.Store.Account(ctx, rec.AccountID)
		if err != nil {
			return nil, fmt.Errorf("guest %s: %w", rec.AccountID, err)
		}
		per, err := s.Store.Person(ctx, acc.PersonID)
		if err != nil {
			return nil, fmt.Errorf("guest %s: %w", rec.AccountID, err)
		}
		out = append(out, assemble(rec, acc, per))
	}
	return out, nil
}

// Extend moves the guest's end date; an expired (not revoked) guest is
// active again.
func (s *Service) Extend(ctx context.Context, a Actor, accountID string, until time.Time) (Guest, error) {
	var g Guest
	err := s.Store.UpdateGuests(ctx, func(tx directory.GuestTx) error {
		rec, acc, per, err := load(ctx, tx, a, accountID)
		if err != nil {
			return err
		}
		if rec.RevokedAt != nil {
			return fmt.Errorf("extend guest %s: %w", acc.Login, ErrRevoked)
		}
		var from time.Time
		if acc.ValidFrom != nil {
			from = *acc.ValidFrom
		}
		if err := s.checkPeriod(nil, from, until).Err("guest"); err != nil {
			return err
		}
		u := until.UTC()
		acc.ValidUntil, acc.Status = &u, directory.StatusActive
		if err := tx.PutAccount(ctx, &acc); err != nil {
			return err
		}
		g = assemble(rec, acc, per)
		return tx.AppendEvents(ctx, s.event(a, EventExtend, g, "ok", "", map[string]string{"until": u.Format(time.RFC3339)}))
	})
	if err != nil {
		var fe directory.FieldErrors
		if errors.As(err, &fe) {
			return g, err
		}
		return g, s.refused(ctx, a, EventExtend, accountID, err)
	}
	return g, nil
}

// Revoke disables the guest for good and voids its activation code.
func (s *Service) Revoke(ctx context.Context, a Actor, accountID string) (Guest, error) {
	var g Guest
	err := s.Store.UpdateGuests(ctx, func(tx directory.GuestTx) error {
		rec, acc, per, err := load(ctx, tx, a, accountID)
		if err != nil {
			return err
		}
		if rec.RevokedAt != nil {
			return fmt.Errorf("revoke guest %s: %w", acc.Login, ErrRevoked)
		}
		now := s.now().UTC()
		rec.RevokedAt, rec.RevokedBy = &now, a.ID
		acc.Status = directory.StatusDisabled
		if err := tx.PutAccount(ctx, &acc); err != nil {
			return err
		}
		if err := tx.PutGuest(ctx, rec); err != nil {
			return err
		}
		if err := tx.DeleteActivations(ctx, acc.ID); err != nil {
			return err
		}
		ended, err := tx.EndSessions(ctx, acc.ID)
		if err != nil {
			return err
		}
		g = assemble(rec, acc, per)
		return tx.AppendEvents(ctx, s.event(a, EventRevoke, g, "ok", "", map[string]string{"sessions_ended": strconv.Itoa(ended)}))
	})
	if err != nil {
		return g, s.refused(ctx, a, EventRevoke, accountID, err)
	}
	return g, nil
}

// Reissue gives the guest a new activation code (the printed one was
// lost, or it expired); the earlier code stops working. The guest's
// password, if any, is kept until the new code is used.
func (s *Service) Reissue(ctx context.Context, a Actor, accountID string) (Issued, error) {
	code, hash, err := s.newCode()
	if err != nil {
		return Issued{}, err
	}
	var out Issued
	err = s.Store.UpdateGuests(ctx, func(tx directory.GuestTx) error {
		rec, acc, per, err := load(ctx, tx, a, accountID)
		if err != nil {
			return err
		}
		g := assemble(rec, acc, per)
		switch g.State(s.now()) {
		case "revoked":
			return fmt.Errorf("new code for guest %s: %w", acc.Login, ErrRevoked)
		case "expired":
			return fmt.Errorf("new code for guest %s: %w", acc.Login, ErrGuestExpired)
		}
		now := s.now().UTC()
		act := directory.Activation{Hash: hash, AccountID: acc.ID, CreatedAt: now, ExpiresAt: now.Add(s.codeTTL())}
		if err := tx.PutActivation(ctx, act); err != nil {
			return err
		}
		out = Issued{Guest: g, Code: code, ExpiresAt: act.ExpiresAt}
		return tx.AppendEvents(ctx, s.event(a, EventReissue, g, "ok", "", nil))
	})
	if err != nil {
		return out, s.refused(ctx, a, EventReissue, accountID, err)
	}
	return out, nil
}

// Activate sets the guest's password with a one-time code. The password
// is checked before the code is consumed, so a typo does not burn it.
func (s *Service) Activate(ctx context.Context, code, pw, confirm, remote string) (Guest, error) {
	var errs directory.FieldErrors
	minLen := s.MinPassword
	if minLen <= 0 {
		minLen = 10
	}
	if strings.TrimSpace(code) == "" {
		errs = append(errs, directory.FieldError{Field: "code", Code: "required"})
	}
	switch {
	case utf8.RuneCountInString(pw) < minLen:
		errs = append(errs, directory.FieldError{Field: "password", Code: "password_short"})
	case len(pw) > 1024:
		errs = append(errs, directory.FieldError{Field: "password", Code: "too_long"})
	case pw != confirm:
		errs = append(errs, directory.FieldError{Field: "confirm", Code: "password_mismatch"})
	}
	if err := errs.Err("guest"); err != nil {
		return Guest{}, err
	}
	params := password.Default
	if s.Argon2 != nil {
		params = *s.Argon2
	}
	hashed, err := password.Hash(pw, s.rand(), params)
	if err != nil {
		return Guest{}, fmt.Errorf("hash guest password: %w", err)
	}
	var g Guest
	err = s.Store.UpdateGuests(ctx, func(tx directory.GuestTx) error {
		act, err := tx.TakeActivation(ctx, hashCode(code))
		if err != nil {
			return ErrCodeInvalid
		}
		now := s.now()
		if !now.Before(act.ExpiresAt) {
			return ErrCodeExpired
		}
		rec, acc, per, err := records(ctx, tx, act.AccountID)
		if err != nil {
			return errors.Join(ErrCodeInvalid, err)
		}
		g = assemble(rec, acc, per)
		switch g.State(now) {
		case "revoked", "disabled":
			return ErrRevoked
		case "expired":
			return ErrGuestExpired
		}
		acc.PasswordHash = hashed
		if err := tx.PutAccount(ctx, &acc); err != nil {
			return err
		}
		g.Activated = true
		return tx.AppendEvents(ctx, s.event(Actor{ID: acc.ID, StructureID: rec.StructureID, Remote: remote}, EventActivate, g, "ok", "", nil))
	})
	if err != nil {
		e := directory.Event{Time: s.now().UTC(), Type: EventActivate, AccountID: g.AccountID, StructureID: g.StructureID,
			Outcome: "refused", Reason: err.Error(), Remote: remote}
		if aerr := s.Store.Update(ctx, func(tx directory.Tx) error { return tx.AppendEvents(ctx, e) }); aerr != nil {
			err = errors.Join(err, fmt.Errorf("audit refusal: %w", aerr))
		}
		return g, err
	}
	return g, nil
}

// ExpireDue disables every active guest whose end date has passed and
// reports how many. The login already refuses them from their end date
// on (it checks ValidUntil); this makes the directory, LDAP and the
// console say so too. serve runs it every few minutes.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	n := 0
	err := s.Store.UpdateGuests(ctx, func(tx directory.GuestTx) error {
		n = 0
		due, err := tx.GuestsDue(ctx, s.now())
		if err != nil {
			return err
		}
		for _, rec := range due {
			acc, err := tx.Account(ctx, rec.AccountID)
			if err != nil {
				return fmt.Errorf("guest %s: %w", rec.AccountID, err)
			}
			acc.Status = directory.StatusDisabled
			if err := tx.PutAccount(ctx, &acc); err != nil {
				return err
			}
			if err := tx.DeleteActivations(ctx, acc.ID); err != nil {
				return err
			}
			if _, err := tx.EndSessions(ctx, acc.ID); err != nil {
				return err
			}
			g := assemble(rec, acc, directory.Person{ID: acc.PersonID})
			if err := tx.AppendEvents(ctx, s.event(Actor{ID: "system", StructureID: rec.StructureID}, EventExpire, g, "ok", "end date reached", nil)); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// codeAlphabet leaves out the letters and digits read alike on paper
// (0/O, 1/I/L) and U; 16 symbols of 30 carry about 78 bits.
const codeAlphabet = "ABCDEFGHJKMNPQRSTVWXYZ23456789"

const codeLen = 16

// newCode returns a fresh code, grouped by four for reading aloud and
// typing, and its hash.
func (s *Service) newCode() (string, string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for n := 0; n < codeLen; {
		if _, err := io.ReadFull(s.rand(), buf); err != nil {
			return "", "", fmt.Errorf("activation code: %w", err)
		}
		if int(buf[0]) >= 256/len(codeAlphabet)*len(codeAlphabet) {
			continue // rejection sampling: every symbol equally likely
		}
		if n > 0 && n%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(codeAlphabet[int(buf[0])%len(codeAlphabet)])
		n++
	}
	code := b.String()
	return code, hashCode(code), nil
}

// NormalizeCode is a code as typed, upper-cased without spaces or hyphens.
func NormalizeCode(code string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '-' || r == ' ' || r == '\t':
			return -1
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		}
		return r
	}, code)
}

func hashCode(code string) string {
	h := sha256.Sum256([]byte("enthub-guest-activation\x00" + NormalizeCode(code)))
	return hex.EncodeToString(h[:])
}
