package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/enthub/enthub/directory"
)

var _ directory.GuestStore = (*Store)(nil)

// guestTx is a directory transaction that also reaches the guest tables.
type guestTx struct{ *tx }

// UpdateGuests runs fn in one transaction, as Update does.
func (s *Store) UpdateGuests(ctx context.Context, fn func(directory.GuestTx) error) error {
	return s.Update(ctx, func(t directory.Tx) error {
		return fn(guestTx{t.(*tx)})
	})
}

const guestCols = `account_id, structure_id, role, created_by, created_at, revoked_at, revoked_by`

func scanGuest(row interface{ Scan(...any) error }) (directory.GuestRecord, error) {
	var g directory.GuestRecord
	var created int64
	err := row.Scan(&g.AccountID, &g.StructureID, &g.Role, &g.CreatedBy, &created, nullMicros{&g.RevokedAt}, &g.RevokedBy)
	g.CreatedAt = fromMicros(created)
	return g, err
}

// Guests lists the guest records of a structure, or all of them.
func (s *Store) Guests(ctx context.Context, structureID string) ([]directory.GuestRecord, error) {
	var rows *sql.Rows
	var err error
	if structureID == "" {
		rows, err = s.query(ctx, `SELECT `+guestCols+` FROM guests ORDER BY created_at, account_id`)
	} else {
		rows, err = s.query(ctx, `SELECT `+guestCols+` FROM guests WHERE structure_id = $1 ORDER BY created_at, account_id`, structureID)
	}
	if err != nil {
		return nil, fmt.Errorf("guests of structure %q: %w", structureID, err)
	}
	gs, err := collect(rows, scanGuest)
	if err != nil {
		return nil, fmt.Errorf("guests of structure %q: %w", structureID, err)
	}
	return gs, nil
}

func (t guestTx) PutGuest(ctx context.Context, g directory.GuestRecord) error {
	t.dirty = true
	_, err := t.tx.tx.ExecContext(ctx, `INSERT INTO guests (`+guestCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (account_id) DO UPDATE SET structure_id = excluded.structure_id, role = excluded.role,
		created_by = excluded.created_by, created_at = excluded.created_at, revoked_at = excluded.revoked_at,
		revoked_by = excluded.revoked_by`,
		g.AccountID, g.StructureID, g.Role, g.CreatedBy, micros(g.CreatedAt), microsArg(g.RevokedAt), g.RevokedBy)
	return conflict(err, "guest "+g.AccountID)
}

func (t guestTx) Guest(ctx context.Context, accountID string) (directory.GuestRecord, error) {
	g, err := scanGuest(t.tx.tx.QueryRowContext(ctx, `SELECT `+guestCols+` FROM guests WHERE account_id = $1`, accountID))
	if err != nil {
		return g, notFound(err, "guest "+accountID)
	}
	return g, nil
}

func (t guestTx) GuestsDue(ctx context.Context, now time.Time) ([]directory.GuestRecord, error) {
	rows, err := t.tx.tx.QueryContext(ctx, `SELECT g.account_id, g.structure_id, g.role, g.created_by, g.created_at, g.revoked_at, g.revoked_by
		FROM guests g JOIN accounts a ON a.id = g.account_id
		WHERE a.status = 'active' AND a.valid_until IS NOT NULL AND a.valid_until <= $1
		ORDER BY g.account_id`, now.UTC())
	if err != nil {
		return nil, fmt.Errorf("guests due at %s: %w", now.Format(time.RFC3339), err)
	}
	return collect(rows, scanGuest)
}

func (t guestTx) PutActivation(ctx context.Context, a directory.Activation) error {
	if err := t.DeleteActivations(ctx, a.AccountID); err != nil {
		return err
	}
	_, err := t.tx.tx.ExecContext(ctx, `INSERT INTO guest_activations (hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		a.Hash, a.AccountID, micros(a.CreatedAt), micros(a.ExpiresAt))
	return conflict(err, "activation code of account "+a.AccountID)
}

func (t guestTx) TakeActivation(ctx context.Context, hash string) (directory.Activation, error) {
	var a directory.Activation
	var created, expires int64
	err := t.tx.tx.QueryRowContext(ctx, `DELETE FROM guest_activations WHERE hash = $1
		RETURNING hash, account_id, created_at, expires_at`, hash).Scan(&a.Hash, &a.AccountID, &created, &expires)
	if err != nil {
		return a, notFound(err, "activation code")
	}
	a.CreatedAt, a.ExpiresAt = fromMicros(created), fromMicros(expires)
	return a, nil
}

func (t guestTx) DeleteActivations(ctx context.Context, accountID string) error {
	if _, err := t.tx.tx.ExecContext(ctx, `DELETE FROM guest_activations WHERE account_id = $1`, accountID); err != nil {
		return fmt.Errorf("activation codes of account %s: %w", accountID, err)
	}
	return nil
}

func (t guestTx) EndSessions(ctx context.Context, accountID string) (int, error) {
	for _, q := range []string{
		`DELETE FROM sso_session_services WHERE session_id IN (SELECT id FROM sso_sessions WHERE account_id = $1)`,
		`DELETE FROM sso_codes WHERE session_id IN (SELECT id FROM sso_sessions WHERE account_id = $1)`,
		`DELETE FROM sso_tickets WHERE account_id = $1`,
		`DELETE FROM sso_tokens WHERE account_id = $1`,
	} {
		if _, err := t.tx.tx.ExecContext(ctx, q, accountID); err != nil {
			return 0, fmt.Errorf("end sessions of account %s: %w", accountID, err)
		}
	}
	res, err := t.tx.tx.ExecContext(ctx, `DELETE FROM sso_sessions WHERE account_id = $1`, accountID)
	if err != nil {
		return 0, fmt.Errorf("end sessions of account %s: %w", accountID, err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
