package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/enthub/enthub/idp/sso"
)

// --- service registrations ----------------------------------------------------------

// PutServices upserts the definitions and bumps the generation, in one
// transaction: an import is stored whole or not at all.
func (s *Store) PutServices(ctx context.Context, defs ...sso.ServiceDef) error {
	if len(defs) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, d := range defs {
			if _, err := s.txExec(ctx, tx, `INSERT INTO sso_services (id, definition, updated_at) VALUES ($1, $2, $3)
				ON CONFLICT (id) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at`,
				d.ID, string(d.Definition), micros(d.UpdatedAt)); err != nil {
				return fmt.Errorf("service %s: %w", d.ID, err)
			}
		}
		return s.bumpServices(ctx, tx)
	})
}

// ServiceDefs lists every stored definition, by ID.
func (s *Store) ServiceDefs(ctx context.Context) ([]sso.ServiceDef, error) {
	rows, err := s.query(ctx, `SELECT id, definition, updated_at FROM sso_services ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	return collect(rows, func(row interface{ Scan(...any) error }) (sso.ServiceDef, error) {
		var d sso.ServiceDef
		var def string
		var at int64
		err := row.Scan(&d.ID, &def, &at)
		d.Definition, d.UpdatedAt = []byte(def), fromMicros(at)
		return d, err
	})
}

// DeleteService removes a definition and bumps the generation.
func (s *Store) DeleteService(ctx context.Context, id string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := s.txExec(ctx, tx, `DELETE FROM sso_services WHERE id = $1`, id)
		if err != nil {
			return fmt.Errorf("service %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("service %s: %w", id, sso.ErrNotFound)
		}
		return s.bumpServices(ctx, tx)
	})
}

// ServicesGeneration reads the counter every instance polls.
func (s *Store) ServicesGeneration(ctx context.Context) (int64, error) {
	var g int64
	err := s.row(ctx, false, `SELECT generation FROM sso_services_generation WHERE id = 1`, nil,
		func(row scanner) error { return row.Scan(&g) })
	if err != nil {
		return 0, fmt.Errorf("services generation: %w", err)
	}
	return g, nil
}

func (s *Store) bumpServices(ctx context.Context, tx *sql.Tx) error {
	if _, err := s.txExec(ctx, tx, `UPDATE sso_services_generation SET generation = generation + 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("bump services generation: %w", err)
	}
	return nil
}
