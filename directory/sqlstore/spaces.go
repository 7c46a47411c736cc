package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/enthub/enthub/directory"
)

var _ directory.SpaceStore = (*Store)(nil)

// spaceTx is a directory transaction that also reaches the space tables.
type spaceTx struct{ *tx }

// UpdateSpaces runs fn in one transaction, as Update does; a space write
// marks the transaction dirty, so the generation moves and the LDAP front
// rebuilds.
func (s *Store) UpdateSpaces(ctx context.Context, fn func(directory.SpaceTx) error) error {
	return s.Update(ctx, func(t directory.Tx) error {
		return fn(spaceTx{t.(*tx)})
	})
}

const spaceCols = `id, name, description, created_at, updated_at`

func scanSpace(row interface{ Scan(...any) error }) (directory.Space, error) {
	var s directory.Space
	var created, updated int64
	err := row.Scan(&s.ID, &s.Name, &s.Description, &created, &updated)
	s.CreatedAt, s.UpdatedAt = fromMicros(created), fromMicros(updated)
	return s, err
}

// spaceMemberSelect joins the account, for its person and login.
const spaceMemberSelect = `SELECT m.space_id, m.account_id, m.added_by, m.added_at, a.person_id, a.login
	FROM space_members m JOIN accounts a ON a.id = m.account_id`

func scanSpaceMember(row interface{ Scan(...any) error }) (directory.SpaceMember, error) {
	var m directory.SpaceMember
	var added int64
	err := row.Scan(&m.SpaceID, &m.AccountID, &m.AddedBy, &added, &m.PersonID, &m.Login)
	m.AddedAt = fromMicros(added)
	return m, err
}

func (r reader) Spaces(ctx context.Context) ([]directory.Space, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT `+spaceCols+` FROM spaces ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("spaces: %w", err)
	}
	out, err := collect(rows, scanSpace)
	if err != nil {
		return nil, fmt.Errorf("spaces: %w", err)
	}
	return out, nil
}

func (r reader) Space(ctx context.Context, id string) (directory.Space, error) {
	s, err := scanSpace(r.db.QueryRowContext(ctx, `SELECT `+spaceCols+` FROM spaces WHERE id = $1`, id))
	return s, notFound(err, "space "+id)
}

func (r reader) SpaceMembers(ctx context.Context, spaceID string) ([]directory.SpaceMember, error) {
	rows, err := r.db.QueryContext(ctx, spaceMemberSelect+` WHERE m.space_id = $1 ORDER BY a.login, m.account_id`, spaceID)
	if err != nil {
		return nil, fmt.Errorf("members of space %s: %w", spaceID, err)
	}
	out, err := collect(rows, scanSpaceMember)
	if err != nil {
		return nil, fmt.Errorf("members of space %s: %w", spaceID, err)
	}
	return out, nil
}

func (r reader) AccountSpaces(ctx context.Context, accountID string) ([]directory.Space, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT s.id, s.name, s.description, s.created_at, s.updated_at
		FROM spaces s JOIN space_members m ON m.space_id = s.id WHERE m.account_id = $1 ORDER BY s.id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("spaces of account %s: %w", accountID, err)
	}
	out, err := collect(rows, scanSpace)
	if err != nil {
		return nil, fmt.Errorf("spaces of account %s: %w", accountID, err)
	}
	return out, nil
}

func (r reader) EachSpaceMember(ctx context.Context, fn func(directory.SpaceMember) error) error {
	return eachRow(ctx, r.db, spaceMemberSelect+` ORDER BY m.space_id, m.account_id`, scanSpaceMember, fn)
}

// likeEscaper makes a typed search match literally (a "_" in a login is
// not a wildcard).
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// SearchAccounts matches the folded query (directory.FoldName: no case,
// no accents) against persons.search_name, folded the same way when the
// person was written (see searchMigrations), and against the login's
// start; logins are lower-case ASCII (directory.LoginBase), which LOWER()
// folds alike on both stores.
func (s *Store) SearchAccounts(ctx context.Context, q string, limit int) ([]directory.AccountHit, error) {
	q = directory.FoldName(strings.TrimSpace(q))
	if q == "" || limit <= 0 {
		return nil, nil
	}
	e := likeEscaper.Replace(q)
	rows, err := s.db.QueryContext(ctx, `SELECT a.id, a.person_id, a.login, p.first_name, p.last_name, a.status
		FROM accounts a JOIN persons p ON p.id = a.person_id
		WHERE LOWER(a.login) LIKE $1 ESCAPE '\' OR p.search_name LIKE $2 ESCAPE '\'
		ORDER BY a.login LIMIT $3`, e+"%", "%"+e+"%", limit)
	if err != nil {
		return nil, fmt.Errorf("search accounts %q: %w", q, err)
	}
	out, err := collect(rows, func(row interface{ Scan(...any) error }) (directory.AccountHit, error) {
		var h directory.AccountHit
		err := row.Scan(&h.AccountID, &h.PersonID, &h.Login, &h.FirstName, &h.LastName, &h.Status)
		return h, err
	})
	if err != nil {
		return nil, fmt.Errorf("search accounts %q: %w", q, err)
	}
	return out, nil
}

func (t spaceTx) PutSpace(ctx context.Context, s directory.Space) error {
	t.dirty = true
	_, err := t.tx.tx.ExecContext(ctx, `INSERT INTO spaces (`+spaceCols+`) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = excluded.description,
		created_at = excluded.created_at, updated_at = excluded.updated_at`,
		s.ID, s.Name, s.Description, micros(s.CreatedAt), micros(s.UpdatedAt))
	return conflict(err, "space "+s.ID)
}

func (t spaceTx) DeleteSpace(ctx context.Context, id string) error {
	t.dirty = true
	// The members go by the foreign key's cascade; deleted explicitly as
	// well, so the step does not depend on a connection's pragma.
	if _, err := t.tx.tx.ExecContext(ctx, `DELETE FROM space_members WHERE space_id = $1`, id); err != nil {
		return fmt.Errorf("delete members of space %s: %w", id, err)
	}
	res, err := t.tx.tx.ExecContext(ctx, `DELETE FROM spaces WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete space %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete space %s: %w", id, directory.ErrNotFound)
	}
	return nil
}

func (t spaceTx) AddSpaceMember(ctx context.Context, m directory.SpaceMember) error {
	if _, err := t.Space(ctx, m.SpaceID); err != nil {
		return err
	}
	if _, err := t.Account(ctx, m.AccountID); err != nil {
		return err
	}
	t.dirty = true
	_, err := t.tx.tx.ExecContext(ctx, `INSERT INTO space_members (space_id, account_id, added_by, added_at) VALUES ($1, $2, $3, $4)`,
		m.SpaceID, m.AccountID, m.AddedBy, micros(m.AddedAt))
	return conflict(err, "member "+m.AccountID+" of space "+m.SpaceID)
}

func (t spaceTx) RemoveSpaceMember(ctx context.Context, spaceID, accountID string) error {
	t.dirty = true
	res, err := t.tx.tx.ExecContext(ctx, `DELETE FROM space_members WHERE space_id = $1 AND account_id = $2`, spaceID, accountID)
	if err != nil {
		return fmt.Errorf("remove %s from space %s: %w", accountID, spaceID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("remove %s from space %s: %w", accountID, spaceID, directory.ErrNotFound)
	}
	return nil
}
