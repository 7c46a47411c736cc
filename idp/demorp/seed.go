package demorp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/password"
)

// Guest login and password of the demo (printed at start, demo only).
const (
	GuestLogin    = "demo.invite"
	GuestPassword = "demo"
)

// SeedGuest creates (or refreshes) the demo guest account, valid one
// year, with an "invite" persona in a school; run only by `enthub demo`.
func SeedGuest(ctx context.Context, store directory.Store, now time.Time) error {
	hash, err := password.Hash(GuestPassword, rand.Reader, password.Default)
	if err != nil {
		return err
	}
	return store.Update(ctx, func(tx directory.Tx) error {
		// The guest belongs to the directory's first school when there is
		// one (the demo imports four), to a demo school otherwise.
		all, err := tx.ListStructures(ctx)
		if err != nil {
			return err
		}
		var st directory.Structure
		if len(all) > 0 {
			st = all[0]
		} else {
			err = directory.ErrNotFound
		}
		if errors.Is(err, directory.ErrNotFound) {
			st = directory.Structure{UAI: "0000000D", Name: "Collège de démonstration", Type: "COLLEGE", City: "Orléans",
				PostalCode: "45000", Source: directory.SourceManual}
			if err := tx.PutStructure(ctx, &st); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		until := now.AddDate(1, 0, 0)
		acc, err := tx.AccountByLogin(ctx, GuestLogin)
		if errors.Is(err, directory.ErrNotFound) {
			per := &directory.Person{LastName: "Invité", FirstName: "Démo", BirthDate: "1990-01-01", PostalCode: "45000",
				PersonalEmail: "demo.invite@example.org", Source: directory.SourceGuest}
			if err := tx.PutPerson(ctx, per); err != nil {
				return err
			}
			acc = directory.Account{PersonID: per.ID, Login: GuestLogin, Source: directory.SourceGuest}
		} else if err != nil {
			return err
		}
		acc.PasswordHash, acc.ValidUntil, acc.Status = hash, &until, directory.StatusActive
		if err := tx.PutAccount(ctx, &acc); err != nil {
			return fmt.Errorf("demo guest account: %w", err)
		}
		return tx.SetPersonas(ctx, acc.PersonID, directory.SourceGuest, []directory.Persona{{StructureID: st.ID, Profile: directory.ProfileInvite}})
	})
}
