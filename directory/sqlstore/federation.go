package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/enthub/enthub/directory"
)

// The state of upstream logins (package federation) lives beside the
// directory so that every instance behind the load balancer sees the same
// logins in progress and the same assertion ids.
var _ directory.FederationStore = (*Store)(nil)

// PutLoginState records a login in progress.
func (s *Store) PutLoginState(ctx context.Context, v directory.LoginState) error {
	_, err := s.exec(ctx, `INSERT INTO fed_login_states (id, connector, data, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5)`, v.ID, v.Connector, string(v.Data), micros(v.CreatedAt), micros(v.ExpiresAt))
	return conflict(err, "login state "+v.ID)
}

// TakeLoginState deletes the state and returns it, so that two callbacks
// carrying the same state (a replay, a double submit) see it once.
func (s *Store) TakeLoginState(ctx context.Context, id string, now time.Time) (directory.LoginState, error) {
	var v directory.LoginState
	var data string
	var created, expires int64
	err := s.row(ctx, true, `DELETE FROM fed_login_states WHERE id = $1
		RETURNING id, connector, data, created_at, expires_at`, []any{id}, func(r scanner) error {
		return r.Scan(&v.ID, &v.Connector, &data, &created, &expires)
	})
	if err != nil {
		return directory.LoginState{}, notFound(err, "login state "+id)
	}
	v.Data, v.CreatedAt, v.ExpiresAt = []byte(data), fromMicros(created), fromMicros(expires)
	if !now.Before(v.ExpiresAt) {
		return directory.LoginState{}, fmt.Errorf("login state %s expired at %s: %w", id, v.ExpiresAt.Format(time.RFC3339), directory.ErrNotFound)
	}
	return v, nil
}

// RememberAssertion records an assertion id; a live duplicate is
// ErrReplayed. An expired entry is taken over, so the table only needs the
// purge for its size, never for correctness.
func (s *Store) RememberAssertion(ctx context.Context, issuer, id string, expires, now time.Time) error {
	return s.rememberOnce(ctx, "fed_assertion_ids", "assertion", issuer, id, expires, now, directory.ErrReplayed)
}

// rememberOnce inserts (issuer, id) into table, a one-time-use cache of
// message ids shared by every instance: a live duplicate is an error
// wrapping used; an expired one is taken over. table is one of our own
// table names, never input.
func (s *Store) rememberOnce(ctx context.Context, table, what, issuer, id string, expires, now time.Time, used error) error {
	res, err := s.exec(ctx, `INSERT INTO `+table+` (issuer, id, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (issuer, id) DO UPDATE SET expires_at = excluded.expires_at WHERE `+table+`.expires_at <= $4`,
		issuer, id, micros(expires), micros(now))
	if err != nil {
		return fmt.Errorf("%s %q from %s: %w", what, id, issuer, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s %q from %s: %w", what, id, issuer, used)
	}
	return nil
}

// CreateLinkedAccount creates a person, its account, personas and link in
// one transaction. The link is inserted first, never replaced: of two
// instances creating the same upstream person at once, one wins, and the
// other's transaction is undone.
func (s *Store) CreateLinkedAccount(ctx context.Context, p *directory.Person, a *directory.Account, ps []directory.Persona, link directory.ExternalLink, events ...directory.Event) error {
	what := fmt.Sprintf("link %s|%s", link.Issuer, link.Subject)
	release := s.writing()
	defer release()
	return s.Update(ctx, func(dt directory.Tx) error {
		t := dt.(*tx)
		if err := t.PutPerson(ctx, p); err != nil {
			return err
		}
		a.PersonID = p.ID
		if err := t.PutAccount(ctx, a); err != nil {
			return err
		}
		if err := t.SetPersonas(ctx, p.ID, p.Source, ps); err != nil {
			return err
		}
		if link.CreatedAt.IsZero() {
			link.CreatedAt = s.opts.Now()
		}
		res, err := t.tx.ExecContext(ctx, `INSERT INTO external_links (issuer, subject, account_id, created_at, last_used_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (issuer, subject) DO NOTHING`,
			link.Issuer, link.Subject, a.ID, link.CreatedAt.UTC(), timeArg(link.LastUsedAt))
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%s exists: %w", what, directory.ErrConflict)
		}
		for i := range events {
			events[i].AccountID = a.ID
		}
		return t.AppendEvents(ctx, events...)
	})
}

// PurgeFederation deletes expired login states and assertion ids.
func (s *Store) PurgeFederation(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for _, q := range []string{
		`DELETE FROM fed_login_states WHERE expires_at <= $1`,
		`DELETE FROM fed_assertion_ids WHERE expires_at <= $1`,
	} {
		release := s.writing()
		res, err := s.db.ExecContext(ctx, q, micros(now))
		release()
		if err != nil {
			return total, fmt.Errorf("purge expired federation records: %w", err)
		}
		n, _ := res.RowsAffected()
		total += int(n)
	}
	return total, nil
}

// PersonsByINE lists the persons with this INE.
func (s *Store) PersonsByINE(ctx context.Context, ine string) ([]directory.Person, error) {
	if ine == "" {
		return nil, nil
	}
	return s.personsWhere(ctx, "INE "+ine, `ine = $1 AND ine <> ''`, ine)
}

// PersonsByEmail lists the persons whose AAF e-mail is email, without case.
func (s *Store) PersonsByEmail(ctx context.Context, email string) ([]directory.Person, error) {
	if email == "" {
		return nil, nil
	}
	// The predicate repeats the partial index's condition so that both
	// planners use it.
	return s.personsWhere(ctx, "e-mail "+email, `lower(email) = $1 AND email <> ''`, strings.ToLower(email))
}

func (s *Store) personsWhere(ctx context.Context, what, where string, arg any) ([]directory.Person, error) {
	rows, err := s.query(ctx, `SELECT `+personCols+` FROM persons WHERE `+where+` ORDER BY id`, arg)
	if err != nil {
		return nil, fmt.Errorf("persons with %s: %w", what, err)
	}
	ps, err := collect(rows, scanPerson)
	if err != nil {
		return nil, fmt.Errorf("persons with %s: %w", what, err)
	}
	return ps, nil
}

// TouchExternalLink sets the link's last use.
func (s *Store) TouchExternalLink(ctx context.Context, issuer, subject string, at time.Time) error {
	res, err := s.exec(ctx, `UPDATE external_links SET last_used_at = $1 WHERE issuer = $2 AND subject = $3`,
		timeArg(&at), issuer, subject)
	if err != nil {
		return fmt.Errorf("external link %s %s: %w", issuer, subject, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("external link %s %s: %w", issuer, subject, directory.ErrNotFound)
	}
	return nil
}
