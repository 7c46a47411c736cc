package console

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/enthub/enthub/directory"
)

// AdminRule says who is one of the collectivité's administrators: the
// people who read the département's statistics and edit every school's
// news and branding (portal.admins, portal.admin_groups). One rule serves
// every console, so that a person is an administrator everywhere or
// nowhere.
type AdminRule struct {
	// Logins are administrators' logins (compared without case).
	Logins []string
	// Groups are directory groups, by id or code, whose members are
	// administrators.
	Groups []string
}

// GroupReader is what the rule reads of the directory.
type GroupReader interface {
	Memberships(ctx context.Context, personID string) ([]directory.Membership, error)
	Group(ctx context.Context, id string) (directory.Group, error)
}

// Allows reports whether the account login of person personID is an
// administrator; an error is a directory failure, never a refusal.
func (ar AdminRule) Allows(ctx context.Context, dir GroupReader, login, personID string) (bool, error) {
	if login != "" && slices.ContainsFunc(ar.Logins, func(a string) bool { return strings.EqualFold(a, login) }) {
		return true, nil
	}
	if len(ar.Groups) == 0 || personID == "" {
		return false, nil
	}
	ms, err := dir.Memberships(ctx, personID)
	if err != nil {
		return false, fmt.Errorf("memberships of %s: %w", login, err)
	}
	for _, m := range ms {
		if slices.Contains(ar.Groups, m.GroupID) {
			return true, nil
		}
		g, err := dir.Group(ctx, m.GroupID)
		if errors.Is(err, directory.ErrNotFound) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("group %s of %s: %w", m.GroupID, login, err)
		}
		if g.Code != "" && slices.Contains(ar.Groups, g.Code) {
			return true, nil
		}
	}
	return false, nil
}
