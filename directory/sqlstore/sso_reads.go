package sqlstore

import (
	"context"
	"fmt"

	"github.com/enthub/enthub/directory"
)

// The directory reads every single sign-on request makes (the login's
// account, and the subject a release policy draws from), prepared like
// the SSO statements (see ssoState): unprepared, modernc's SQLite parses
// each again, which cost as much as running them. They shadow the
// reader's methods of the same names on the Store only; transactions keep
// the reader's. Same queries, same scans.

// Account reads an account.
func (s *Store) Account(ctx context.Context, id string) (directory.Account, error) {
	return s.oneAccount(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = $1`, id, "account "+id)
}

// AccountByLogin reads the account with this login.
func (s *Store) AccountByLogin(ctx context.Context, login string) (directory.Account, error) {
	return s.oneAccount(ctx, `SELECT `+accountCols+` FROM accounts WHERE login = $1`, login, "account with login "+login)
}

func (s *Store) oneAccount(ctx context.Context, q, arg, what string) (directory.Account, error) {
	var a directory.Account
	err := s.row(ctx, false, q, []any{arg}, func(row scanner) (err error) {
		a, err = scanAccount(row)
		return err
	})
	return a, notFound(err, what)
}

// Person reads a person.
func (s *Store) Person(ctx context.Context, id string) (directory.Person, error) {
	var p directory.Person
	err := s.row(ctx, false, `SELECT `+personCols+` FROM persons WHERE id = $1`, []any{id}, func(row scanner) (err error) {
		p, err = scanPerson(row)
		return err
	})
	return p, notFound(err, "person "+id)
}

// Personas lists a person's personas.
func (s *Store) Personas(ctx context.Context, personID string) ([]directory.Persona, error) {
	rows, err := s.query(ctx, `SELECT id, person_id, structure_id, profile, functions, source
		FROM personas WHERE person_id = $1 ORDER BY structure_id, profile`, personID)
	if err != nil {
		return nil, fmt.Errorf("personas of %s: %w", personID, err)
	}
	return collect(rows, scanPersona)
}

// Structure reads a structure.
func (s *Store) Structure(ctx context.Context, id string) (directory.Structure, error) {
	var st directory.Structure
	err := s.row(ctx, false, `SELECT `+structureCols+` FROM structures WHERE id = $1`, []any{id}, func(row scanner) (err error) {
		st, err = scanStructure(row)
		return err
	})
	return st, notFound(err, "structure "+id)
}
