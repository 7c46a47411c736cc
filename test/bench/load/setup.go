package load

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strings"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/password"
	"github.com/enthub/enthub/directory/sqlstore"
)

// SetPasswords gives up to n active student accounts of the store at dbURL
// (an AAF import made them; AAF carries no passwords) the local password
// pw, through the store API, and returns them. Every account gets the same
// argon2id hash (one salt): hashing 100,000 passwords would take the bench
// an hour, and the server's cost per login — one argon2id verification
// with the hash's parameters — is the same. enthub itself has no way to
// set a local password on an AAF account (only guests have one), hence
// this bench-only path. The store must not be in use by another writer
// (SQLite).
//
// skip leaves out the first students (in the store's person order), so
// that two calls give two distinct sets of accounts.
func SetPasswords(ctx context.Context, dbURL string, skip, n int, pw string, params password.Params) ([]User, error) {
	store, err := sqlstore.Open(ctx, dbURL, sqlstore.Options{Existing: true})
	if err != nil {
		return nil, err
	}
	defer store.Close()
	hash, err := password.Hash(pw, rand.Reader, params)
	if err != nil {
		return nil, err
	}
	students := map[string]bool{}
	if err := store.EachPersona(ctx, func(p directory.Persona) error {
		if p.Profile == directory.ProfileEleve {
			students[p.PersonID] = true
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("%s: personas: %w", dbURL, err)
	}
	var accounts []directory.Account
	var users []User
	if err := store.EachPerson(ctx, func(p directory.Person, a directory.Account) error {
		if len(users) < n && students[p.ID] && a.ID != "" && a.Status == directory.StatusActive {
			if skip > 0 {
				skip--
				return nil
			}
			accounts = append(accounts, a)
			users = append(users, User{Login: a.Login, AAFID: p.AAFID})
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("%s: persons: %w", dbURL, err)
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("%s: no active student account (import an AAF delivery first)", dbURL)
	}
	// In batches: one transaction per few thousand accounts keeps SQLite's
	// write lock and PostgreSQL's transaction short.
	const batch = 5000
	for i := 0; i < len(accounts); i += batch {
		part := accounts[i:min(i+batch, len(accounts))]
		if err := store.Update(ctx, func(tx directory.Tx) error {
			for k := range part {
				a := part[k]
				a.PasswordHash = hash
				if err := tx.PutAccount(ctx, &a); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("%s: set passwords: %w", dbURL, err)
		}
	}
	return users, nil
}

// WriteUsers writes users one a line: login, a tab, the AAF jointure, and
// when the user has one, a tab and the password.
func WriteUsers(path string, users []User) error {
	var b strings.Builder
	for _, u := range users {
		b.WriteString(u.Login + "\t" + u.AAFID)
		if u.Password != "" {
			b.WriteString("\t" + u.Password)
		}
		b.WriteString("\n")
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// ReadUsers reads a file written by WriteUsers.
func ReadUsers(path string) ([]User, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var users []User
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		f := strings.Split(sc.Text(), "\t")
		if f[0] == "" {
			return nil, fmt.Errorf("%s:%d: empty login", path, line)
		}
		u := User{Login: f[0]}
		if len(f) > 1 {
			u.AAFID = f[1]
		}
		if len(f) > 2 {
			u.Password = f[2]
		}
		users = append(users, u)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("%s: no users", path)
	}
	return users, nil
}
