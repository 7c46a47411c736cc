// Package spaces runs the operations on profile spaces across schools
// (directory.Space: "Espace ATI", "Espace Cuisine"): create, rename,
// delete, add and remove members. The département's console and `enthub
// space` share it, so both validate alike and every change is audited in
// the transaction that makes it.
//
// Who may call it is the caller's to check (the console lets the
// collectivité's administrators in, the command line is the operator's):
// the service checks the input, not the actor.
package spaces

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/enthub/enthub/directory"
)

// Store is what the service needs of the directory.
type Store interface {
	directory.Store
	directory.SpaceStore
}

// Audit event types, one per operation.
const (
	EventCreate       = "space.create"
	EventUpdate       = "space.update"
	EventDelete       = "space.delete"
	EventMemberAdd    = "space.member.add"
	EventMemberRemove = "space.member.remove"
)

// Refusals besides refused input, which is a directory.FieldErrors
// (errors.As) with the codes required, too_long and code.
var (
	// ErrNotFound: no such space, or the account is not a member.
	ErrNotFound = errors.New("no such space")
	// ErrExists: a space with this code exists already.
	ErrExists = errors.New("a space with this code exists already")
	// ErrNoAccount: the account to add does not exist.
	ErrNoAccount = errors.New("no such account")
	// ErrMember: the account is a member already.
	ErrMember = errors.New("already a member of the space")
)

// Service runs the operations.
type Service struct {
	Store Store
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Actor is who acts: an administrator's account id, or "cli:<user>".
type Actor struct {
	ID     string
	Remote string
}

// codeRE is a space code: it is an LDAP cn and a released value, so it
// keeps to what every relying party compares safely. No "$" or "_", so it
// never collides with a school group's cn (UAI$code, UAI_profile).
var codeRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Limits of the fields, in characters.
const (
	maxCode = 64
	maxName = 128
	maxDesc = 512
)

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// check validates a space's fields; code is checked only when new.
func check(code, name, desc string, newCode bool) error {
	var fe directory.FieldErrors
	if newCode {
		switch {
		case code == "":
			fe = append(fe, directory.FieldError{Field: "code", Code: "required"})
		case len(code) > maxCode:
			fe = append(fe, directory.FieldError{Field: "code", Code: "too_long"})
		case !codeRE.MatchString(code):
			fe = append(fe, directory.FieldError{Field: "code", Code: "code"})
		}
	}
	switch {
	case strings.TrimSpace(name) == "":
		fe = append(fe, directory.FieldError{Field: "name", Code: "required"})
	case utf8.RuneCountInString(name) > maxName:
		fe = append(fe, directory.FieldError{Field: "name", Code: "too_long"})
	}
	if utf8.RuneCountInString(desc) > maxDesc {
		fe = append(fe, directory.FieldError{Field: "description", Code: "too_long"})
	}
	return fe.Err("space")
}

func (s *Service) event(a Actor, typ, space string, details map[string]string) directory.Event {
	d := map[string]string{"space": space}
	for k, v := range details {
		d[k] = v
	}
	return directory.Event{Time: s.now(), Type: typ, AccountID: a.ID, Outcome: "ok", Remote: a.Remote, Details: d}
}

// Create makes a new space.
func (s *Service) Create(ctx context.Context, a Actor, code, name, desc string) (directory.Space, error) {
	code, name, desc = strings.TrimSpace(code), strings.TrimSpace(name), strings.TrimSpace(desc)
	if err := check(code, name, desc, true); err != nil {
		return directory.Space{}, err
	}
	now := s.now()
	sp := directory.Space{ID: code, Name: name, Description: desc, CreatedAt: now, UpdatedAt: now}
	err := s.Store.UpdateSpaces(ctx, func(tx directory.SpaceTx) error {
		if _, err := tx.Space(ctx, code); err == nil {
			return fmt.Errorf("space %s: %w", code, ErrExists)
		} else if !errors.Is(err, directory.ErrNotFound) {
			return err
		}
		if err := tx.PutSpace(ctx, sp); err != nil {
			return err
		}
		return tx.AppendEvents(ctx, s.event(a, EventCreate, code, map[string]string{"name": name}))
	})
	return sp, err
}

// Update renames a space and replaces its description; the code stays.
func (s *Service) Update(ctx context.Context, a Actor, code, name, desc string) (directory.Space, error) {
	name, desc = strings.TrimSpace(name), strings.TrimSpace(desc)
	if err := check(code, name, desc, false); err != nil {
		return directory.Space{}, err
	}
	var sp directory.Space
	err := s.Store.UpdateSpaces(ctx, func(tx directory.SpaceTx) error {
		var err error
		if sp, err = s.space(ctx, tx, code); err != nil {
			return err
		}
		old := sp.Name
		sp.Name, sp.Description, sp.UpdatedAt = name, desc, s.now()
		if err := tx.PutSpace(ctx, sp); err != nil {
			return err
		}
		return tx.AppendEvents(ctx, s.event(a, EventUpdate, code, map[string]string{"name": name, "old_name": old}))
	})
	return sp, err
}

// Delete removes a space and its memberships.
func (s *Service) Delete(ctx context.Context, a Actor, code string) error {
	return s.Store.UpdateSpaces(ctx, func(tx directory.SpaceTx) error {
		sp, err := s.space(ctx, tx, code)
		if err != nil {
			return err
		}
		ms, err := tx.SpaceMembers(ctx, code)
		if err != nil {
			return err
		}
		if err := tx.DeleteSpace(ctx, code); err != nil {
			return err
		}
		return tx.AppendEvents(ctx, s.event(a, EventDelete, code, map[string]string{"name": sp.Name, "members": fmt.Sprint(len(ms))}))
	})
}

// AddMember puts an account in a space.
func (s *Service) AddMember(ctx context.Context, a Actor, code, accountID string) error {
	return s.Store.UpdateSpaces(ctx, func(tx directory.SpaceTx) error {
		if _, err := s.space(ctx, tx, code); err != nil {
			return err
		}
		acc, err := tx.Account(ctx, accountID)
		if errors.Is(err, directory.ErrNotFound) {
			return fmt.Errorf("account %s: %w", accountID, ErrNoAccount)
		}
		if err != nil {
			return err
		}
		err = tx.AddSpaceMember(ctx, directory.SpaceMember{SpaceID: code, AccountID: accountID, AddedBy: a.ID, AddedAt: s.now()})
		if errors.Is(err, directory.ErrConflict) {
			return fmt.Errorf("%s in space %s: %w", acc.Login, code, ErrMember)
		}
		if err != nil {
			return err
		}
		return tx.AppendEvents(ctx, s.event(a, EventMemberAdd, code, map[string]string{"member": accountID, "login": acc.Login}))
	})
}

// RemoveMember takes an account out of a space.
func (s *Service) RemoveMember(ctx context.Context, a Actor, code, accountID string) error {
	return s.Store.UpdateSpaces(ctx, func(tx directory.SpaceTx) error {
		if _, err := s.space(ctx, tx, code); err != nil {
			return err
		}
		err := tx.RemoveSpaceMember(ctx, code, accountID)
		if errors.Is(err, directory.ErrNotFound) {
			return fmt.Errorf("account %s in space %s: %w", accountID, code, ErrNotFound)
		}
		if err != nil {
			return err
		}
		d := map[string]string{"member": accountID}
		if acc, err := tx.Account(ctx, accountID); err == nil {
			d["login"] = acc.Login
		}
		return tx.AppendEvents(ctx, s.event(a, EventMemberRemove, code, d))
	})
}

func (s *Service) space(ctx context.Context, tx directory.SpaceTx, code string) (directory.Space, error) {
	sp, err := tx.Space(ctx, code)
	if errors.Is(err, directory.ErrNotFound) {
		return sp, fmt.Errorf("space %q: %w", code, ErrNotFound)
	}
	return sp, err
}
