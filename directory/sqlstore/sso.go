package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/enthub/enthub/idp/sso"
)

// The single sign-on state (package idp/sso) lives in the same database as
// the directory, so every enthub instance behind the load balancer sees the
// same sessions, tickets and keys.
var _ sso.Store = (*Store)(nil)

// ssoState is what the SSO methods keep beside the pool. They run a few
// statements on every login, validation and refresh, so:
//   - statements are prepared once per connection: modernc's SQLite parses
//     an unprepared statement again on every call (a quarter of the CPU of
//     a CAS validation went there), and lib/pq spends a round trip on it;
//   - on SQLite, this process's SSO writes queue on a Go mutex: SQLite has
//     one writer at a time, and a second connection that finds the lock
//     taken sleeps in the busy handler (1 ms, then longer) while the CPU
//     idles. Other processes and the directory's own writes still meet the
//     busy timeout, as before.
type ssoState struct {
	mu    sync.RWMutex
	stmts map[string]*sql.Stmt
	write sync.Mutex
}

// stmt returns q prepared on the pool (database/sql prepares it again on
// each connection that runs it, once).
func (s *Store) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	s.sso.mu.RLock()
	st := s.sso.stmts[q]
	s.sso.mu.RUnlock()
	if st != nil {
		return st, nil
	}
	s.sso.mu.Lock()
	defer s.sso.mu.Unlock()
	if st = s.sso.stmts[q]; st != nil {
		return st, nil
	}
	st, err := s.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	if s.sso.stmts == nil {
		s.sso.stmts = map[string]*sql.Stmt{}
	}
	s.sso.stmts[q] = st
	return st, nil
}

// cachedStmt is q from the statement cache, nil if it was never prepared.
func (s *Store) cachedStmt(q string) *sql.Stmt {
	s.sso.mu.RLock()
	defer s.sso.mu.RUnlock()
	return s.sso.stmts[q]
}

// prepared is the pool as the Store's reader sees it: every query through
// the statement cache (stmt). Unprepared, modernc's SQLite parses a query
// again on each call, which cost as much as running the single-row reads
// every sign-on request makes (its account, the subject a release policy
// draws from). The reader's queries are a fixed set of texts (the events
// filter makes at most a few dozen shapes), so the cache stays small.
// Transactions keep their plain *sql.Tx.
type prepared struct{ s *Store }

func (p prepared) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return p.s.exec(ctx, q, args...)
}

func (p prepared) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return p.s.query(ctx, q, args...)
}

func (p prepared) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := p.s.stmt(ctx, q)
	if err != nil {
		// A *sql.Row gets its error only from running a query: run it
		// unprepared, it fails the same way.
		return p.s.db.QueryRowContext(ctx, q, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// writing queues a write behind this process's other SSO writes on
// SQLite (see ssoState); the returned func ends it.
func (s *Store) writing() func() {
	if s.d.name != "sqlite" {
		return func() {}
	}
	s.sso.write.Lock()
	return s.sso.write.Unlock
}

// exec runs a prepared write.
func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := s.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	defer s.writing()()
	return st.ExecContext(ctx, args...)
}

type scanner interface{ Scan(...any) error }

// row runs a prepared statement returning one row and scans it; write
// says the statement changes data (UPDATE … RETURNING), so it queues.
func (s *Store) row(ctx context.Context, write bool, q string, args []any, scan func(scanner) error) error {
	st, err := s.stmt(ctx, q)
	if err != nil {
		return err
	}
	if write {
		defer s.writing()()
	}
	return scan(st.QueryRowContext(ctx, args...))
}

// query runs a prepared read returning rows.
func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := s.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// txStmt is q prepared, within tx.
func (s *Store) txStmt(ctx context.Context, tx *sql.Tx, q string) (*sql.Stmt, error) {
	st, err := s.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return tx.StmtContext(ctx, st), nil
}

func (s *Store) txExec(ctx context.Context, tx *sql.Tx, q string, args ...any) (sql.Result, error) {
	st, err := s.txStmt(ctx, tx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// micros stores times as Unix microseconds (see migrations_sso.go).
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// nullMicros scans a nullable microsecond column.
type nullMicros struct{ p **time.Time }

func (n nullMicros) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*n.p = nil
	case int64:
		t := fromMicros(v)
		*n.p = &t
	default:
		return fmt.Errorf("microsecond column holds %T", src)
	}
	return nil
}

func microsArg(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

// boolCol scans a boolean stored as BOOLEAN (PostgreSQL) or INTEGER (SQLite).
type boolCol bool

func (b *boolCol) Scan(src any) error {
	switch v := src.(type) {
	case bool:
		*b = boolCol(v)
	case int64:
		*b = v != 0
	default:
		return fmt.Errorf("boolean column holds %T", src)
	}
	return nil
}

// --- sessions -----------------------------------------------------------------

const ssoSessionCols = `id, account_id, person_id, persona_id, structure_id, profile, upstream, auth_time, created_at, last_seen, expires_at, accounts, upstream_ref, upstream_logout`

// CreateSession stores a new SSO session.
func (s *Store) CreateSession(ctx context.Context, v sso.Session) error {
	_, err := s.exec(ctx, `INSERT INTO sso_sessions (`+ssoSessionCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		v.ID, v.AccountID, v.PersonID, v.PersonaID, v.StructureID, v.Profile, v.Upstream,
		micros(v.AuthTime), micros(v.CreatedAt), micros(v.LastSeen), micros(v.ExpiresAt),
		strings.Join(v.Accounts, ","), v.UpstreamRef, string(v.UpstreamLogout))
	return conflict(err, "sso session for account "+v.AccountID)
}

func scanSession(row scanner) (sso.Session, error) {
	var v sso.Session
	var auth, created, seen, exp int64
	var accounts, logout string
	err := row.Scan(&v.ID, &v.AccountID, &v.PersonID, &v.PersonaID, &v.StructureID, &v.Profile, &v.Upstream,
		&auth, &created, &seen, &exp, &accounts, &v.UpstreamRef, &logout)
	if accounts != "" {
		v.Accounts = strings.Split(accounts, ",")
	}
	if logout != "" {
		v.UpstreamLogout = []byte(logout)
	}
	v.AuthTime, v.CreatedAt, v.LastSeen, v.ExpiresAt = fromMicros(auth), fromMicros(created), fromMicros(seen), fromMicros(exp)
	return v, err
}

// Session returns a live session.
func (s *Store) Session(ctx context.Context, id string, now time.Time) (sso.Session, error) {
	var v sso.Session
	err := s.row(ctx, false, `SELECT `+ssoSessionCols+` FROM sso_sessions WHERE id = $1 AND expires_at > $2`,
		[]any{id, micros(now)}, func(row scanner) (err error) {
			v, err = scanSession(row)
			return err
		})
	return v, notFound(err, "sso session")
}

// TouchSession records activity on a session.
func (s *Store) TouchSession(ctx context.Context, id string, lastSeen time.Time) error {
	return s.execOne(ctx, "sso session", `UPDATE sso_sessions SET last_seen = $2 WHERE id = $1`, id, micros(lastSeen))
}

// SetSessionPersona records the persona the user chose.
func (s *Store) SetSessionPersona(ctx context.Context, id, personaID, structureID, profile string) error {
	return s.execOne(ctx, "sso session", `UPDATE sso_sessions SET persona_id = $2, structure_id = $3, profile = $4 WHERE id = $1`,
		id, personaID, structureID, profile)
}

// SwitchSessionAccount moves the session to another of its candidate
// accounts; the persona is chosen again.
func (s *Store) SwitchSessionAccount(ctx context.Context, id, accountID, personID string) error {
	return s.execOne(ctx, "sso session", `UPDATE sso_sessions SET account_id = $2, person_id = $3, persona_id = '', structure_id = '', profile = '' WHERE id = $1`,
		id, accountID, personID)
}

// DetachSessionServices forgets the services the session reached and its
// tickets, and returns the services (to log them out: a persona switch).
func (s *Store) DetachSessionServices(ctx context.Context, id string) ([]sso.SessionService, error) {
	var services []sso.SessionService
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		st, err := s.txStmt(ctx, tx, `SELECT `+ssoServiceCols+` FROM sso_session_services WHERE session_id = $1 ORDER BY at, service_id`)
		if err != nil {
			return err
		}
		rows, err := st.QueryContext(ctx, id)
		if err != nil {
			return err
		}
		if services, err = collect(rows, scanSessionService); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM sso_session_services WHERE session_id = $1`,
			`DELETE FROM sso_tickets WHERE session_id = $1`,
		} {
			if _, err := s.txExec(ctx, tx, q, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("detach services of sso session: %w", err)
	}
	return services, nil
}

// SessionsByUpstream lists the live sessions of an upstream session.
func (s *Store) SessionsByUpstream(ctx context.Context, ref string, now time.Time) ([]sso.Session, error) {
	if ref == "" {
		return nil, nil
	}
	rows, err := s.query(ctx, `SELECT `+ssoSessionCols+` FROM sso_sessions WHERE upstream_ref = $1 AND expires_at > $2`, ref, micros(now))
	if err != nil {
		return nil, fmt.Errorf("sessions of upstream session: %w", err)
	}
	return collect(rows, func(row interface{ Scan(...any) error }) (sso.Session, error) { return scanSession(row) })
}

// DeleteSession removes a session, its services and tickets.
func (s *Store) DeleteSession(ctx context.Context, id string) (sso.Session, []sso.SessionService, error) {
	var v sso.Session
	var services []sso.SessionService
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		st, err := s.txStmt(ctx, tx, `SELECT `+ssoSessionCols+` FROM sso_sessions WHERE id = $1`)
		if err != nil {
			return err
		}
		if v, err = scanSession(st.QueryRowContext(ctx, id)); err != nil {
			return notFound(err, "sso session")
		}
		if st, err = s.txStmt(ctx, tx, `SELECT `+ssoServiceCols+` FROM sso_session_services WHERE session_id = $1 ORDER BY at, service_id`); err != nil {
			return err
		}
		rows, err := st.QueryContext(ctx, id)
		if err != nil {
			return err
		}
		if services, err = collect(rows, scanSessionService); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM sso_session_services WHERE session_id = $1`,
			`DELETE FROM sso_tickets WHERE session_id = $1`,
			`DELETE FROM sso_sessions WHERE id = $1`,
		} {
			if _, err := s.txExec(ctx, tx, q, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return v, nil, fmt.Errorf("delete sso session: %w", err)
	}
	return v, services, nil
}

const ssoServiceCols = `session_id, service_id, protocol, ref, url, at`

func scanSessionService(row interface{ Scan(...any) error }) (sso.SessionService, error) {
	var v sso.SessionService
	var at int64
	err := row.Scan(&v.SessionID, &v.ServiceID, &v.Protocol, &v.Ref, &v.URL, &at)
	v.At = fromMicros(at)
	return v, err
}

// AddSessionService records a service the session reached; the same
// (service, ref) twice keeps the latest time.
func (s *Store) AddSessionService(ctx context.Context, v sso.SessionService) error {
	_, err := s.exec(ctx, `INSERT INTO sso_session_services (`+ssoServiceCols+`)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (session_id, service_id, ref) DO UPDATE SET at = excluded.at, url = excluded.url`,
		v.SessionID, v.ServiceID, v.Protocol, v.Ref, v.URL, micros(v.At))
	if err != nil {
		return fmt.Errorf("record service %s reached: %w", v.ServiceID, err)
	}
	return nil
}

// SessionServices lists the services a session reached.
func (s *Store) SessionServices(ctx context.Context, sessionID string) ([]sso.SessionService, error) {
	rows, err := s.query(ctx, `SELECT `+ssoServiceCols+` FROM sso_session_services WHERE session_id = $1 ORDER BY at, service_id`, sessionID)
	if err != nil {
		return nil, fmt.Errorf("services of session: %w", err)
	}
	return collect(rows, scanSessionService)
}

// CountSessions counts live sessions.
func (s *Store) CountSessions(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := s.row(ctx, false, `SELECT count(*) FROM sso_sessions WHERE expires_at > $1`, []any{micros(now)},
		func(row scanner) error { return row.Scan(&n) })
	return n, err
}

// --- pending requests ---------------------------------------------------------

// PutPending parks a protocol request.
func (s *Store) PutPending(ctx context.Context, p sso.Pending) error {
	_, err := s.exec(ctx, `INSERT INTO sso_pending (id, kind, service_id, payload, session_id, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, p.ID, p.Kind, p.ServiceID, string(p.Payload), p.SessionID,
		micros(p.CreatedAt), micros(p.ExpiresAt))
	return conflict(err, "pending "+p.Kind+" request")
}

// Pending returns a parked request that has not expired.
func (s *Store) Pending(ctx context.Context, id string, now time.Time) (sso.Pending, error) {
	var p sso.Pending
	var payload string
	var created, exp int64
	err := s.row(ctx, false, `SELECT id, kind, service_id, payload, session_id, created_at, expires_at
		FROM sso_pending WHERE id = $1 AND expires_at > $2`, []any{id, micros(now)}, func(row scanner) error {
		return row.Scan(&p.ID, &p.Kind, &p.ServiceID, &payload, &p.SessionID, &created, &exp)
	})
	p.Payload, p.CreatedAt, p.ExpiresAt = []byte(payload), fromMicros(created), fromMicros(exp)
	return p, notFound(err, "pending request")
}

// CompletePending records the session that completed a parked request.
func (s *Store) CompletePending(ctx context.Context, id, sessionID string) error {
	return s.execOne(ctx, "pending request", `UPDATE sso_pending SET session_id = $2 WHERE id = $1`, id, sessionID)
}

// DeletePending takes a parked request out; sso.ErrNotFound when it was
// gone already (another request took it: the row count says who won).
func (s *Store) DeletePending(ctx context.Context, id string) error {
	return s.execOne(ctx, "pending request "+id, `DELETE FROM sso_pending WHERE id = $1`, id)
}

// --- CAS tickets --------------------------------------------------------------

const ssoTicketCols = `id, kind, service_id, service, session_id, account_id, persona_id, renewed, pgt_url, proxies, released, created_at, expires_at`

// PutTicket stores a CAS ticket.
func (s *Store) PutTicket(ctx context.Context, t sso.Ticket) error {
	_, err := s.exec(ctx, `INSERT INTO sso_tickets (`+ssoTicketCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		t.ID, t.Kind, t.ServiceID, t.Service, t.SessionID, t.AccountID, t.PersonaID, t.Renewed, t.PGTURL,
		marshalCol(nonNil(t.Proxies)), string(t.Released), micros(t.CreatedAt), micros(t.ExpiresAt))
	return conflict(err, "CAS ticket for "+t.ServiceID)
}

func scanTicket(row scanner) (sso.Ticket, error) {
	var t sso.Ticket
	var renewed boolCol
	var proxies, released string
	var created, exp int64
	err := row.Scan(&t.ID, &t.Kind, &t.ServiceID, &t.Service, &t.SessionID, &t.AccountID, &t.PersonaID, &renewed,
		&t.PGTURL, &proxies, &released, &created, &exp)
	if err != nil {
		return t, err
	}
	t.Renewed, t.CreatedAt, t.ExpiresAt = bool(renewed), fromMicros(created), fromMicros(exp)
	if released != "" {
		t.Released = []byte(released)
	}
	if proxies == "[]" { // what PutTicket stores for none: skip the JSON decoder
		return t, nil
	}
	return t, unmarshalCol("sso_tickets.proxies", proxies, &t.Proxies)
}

// ConsumeTicket deletes and returns a live ticket: the DELETE is the
// single-use guarantee, whichever of two validators runs it first wins.
// It is one statement, one round trip.
func (s *Store) ConsumeTicket(ctx context.Context, id string, now time.Time) (sso.Ticket, error) {
	var t sso.Ticket
	err := s.row(ctx, true, `DELETE FROM sso_tickets WHERE id = $1 RETURNING `+ssoTicketCols, []any{id},
		func(row scanner) (err error) {
			t, err = scanTicket(row)
			return err
		})
	if err != nil {
		return sso.Ticket{}, notFound(err, "CAS ticket")
	}
	if !t.ExpiresAt.After(now) {
		return sso.Ticket{}, fmt.Errorf("CAS ticket expired at %s: %w", t.ExpiresAt.Format(time.RFC3339), sso.ErrNotFound)
	}
	return t, nil
}

// Ticket reads a live ticket without consuming it.
func (s *Store) Ticket(ctx context.Context, id string, now time.Time) (sso.Ticket, error) {
	var t sso.Ticket
	err := s.row(ctx, false, `SELECT `+ssoTicketCols+` FROM sso_tickets WHERE id = $1 AND expires_at > $2`, []any{id, micros(now)},
		func(row scanner) (err error) {
			t, err = scanTicket(row)
			return err
		})
	return t, notFound(err, "CAS ticket")
}

// DeleteSessionTickets deletes every ticket of a session.
func (s *Store) DeleteSessionTickets(ctx context.Context, sessionID string) error {
	_, err := s.exec(ctx, `DELETE FROM sso_tickets WHERE session_id = $1`, sessionID)
	return err
}

// --- OIDC codes and tokens ----------------------------------------------------

// PutCode stores an authorization code.
func (s *Store) PutCode(ctx context.Context, c sso.Code) error {
	_, err := s.exec(ctx, `INSERT INTO sso_codes (id, family, client_id, session_id, data, used_at, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, c.ID, c.Family, c.ClientID, c.SessionID, string(c.Data),
		microsArg(c.UsedAt), micros(c.CreatedAt), micros(c.ExpiresAt))
	return conflict(err, "authorization code for "+c.ClientID)
}

const ssoCodeCols = `id, family, client_id, session_id, data, used_at, created_at, expires_at`

func scanCode(row scanner) (sso.Code, error) {
	var c sso.Code
	var data string
	var created, exp int64
	err := row.Scan(&c.ID, &c.Family, &c.ClientID, &c.SessionID, &data, nullMicros{&c.UsedAt}, &created, &exp)
	c.Data, c.CreatedAt, c.ExpiresAt = []byte(data), fromMicros(created), fromMicros(exp)
	return c, err
}

// ConsumeCode marks a code used; the conditional UPDATE makes it single-use.
func (s *Store) ConsumeCode(ctx context.Context, id string, now time.Time) (sso.Code, error) {
	var c sso.Code
	err := s.row(ctx, true, `UPDATE sso_codes SET used_at = $2
		WHERE id = $1 AND used_at IS NULL AND expires_at > $2 RETURNING `+ssoCodeCols, []any{id, micros(now)},
		func(row scanner) (err error) {
			c, err = scanCode(row)
			return err
		})
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("authorization code: %w", err)
	}
	err = s.row(ctx, false, `SELECT `+ssoCodeCols+` FROM sso_codes WHERE id = $1`, []any{id}, func(row scanner) (err error) {
		c, err = scanCode(row)
		return err
	})
	if err != nil {
		return c, notFound(err, "authorization code")
	}
	if c.UsedAt != nil {
		return c, fmt.Errorf("authorization code used at %s: %w", c.UsedAt.Format(time.RFC3339), sso.ErrReused)
	}
	return sso.Code{}, fmt.Errorf("authorization code expired at %s: %w", c.ExpiresAt.Format(time.RFC3339), sso.ErrNotFound)
}

const ssoTokenCols = `id, kind, family, client_id, account_id, session_id, data, used_at, created_at, expires_at`

const ssoTokenInsert = `INSERT INTO sso_tokens (` + ssoTokenCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`

func tokenArgs(t sso.Token) []any {
	return []any{t.ID, t.Kind, t.Family, t.ClientID, t.AccountID, t.SessionID, string(t.Data), microsArg(t.UsedAt),
		micros(t.CreatedAt), micros(t.ExpiresAt)}
}

// PutToken stores an access or refresh token.
func (s *Store) PutToken(ctx context.Context, t sso.Token) error {
	_, err := s.exec(ctx, ssoTokenInsert, tokenArgs(t)...)
	return conflict(err, t.Kind+" token for "+t.ClientID)
}

func scanToken(row scanner) (sso.Token, error) {
	var t sso.Token
	var data string
	var created, exp int64
	err := row.Scan(&t.ID, &t.Kind, &t.Family, &t.ClientID, &t.AccountID, &t.SessionID, &data,
		nullMicros{&t.UsedAt}, &created, &exp)
	t.Data, t.CreatedAt, t.ExpiresAt = []byte(data), fromMicros(created), fromMicros(exp)
	return t, err
}

// Token returns a live token.
func (s *Store) Token(ctx context.Context, id string, now time.Time) (sso.Token, error) {
	var t sso.Token
	err := s.row(ctx, false, `SELECT `+ssoTokenCols+` FROM sso_tokens WHERE id = $1 AND expires_at > $2`, []any{id, micros(now)},
		func(row scanner) (err error) {
			t, err = scanToken(row)
			return err
		})
	return t, notFound(err, "token")
}

// RotateRefresh marks a refresh token used and stores its successors in
// one transaction.
func (s *Store) RotateRefresh(ctx context.Context, id string, now time.Time, next ...sso.Token) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := s.txExec(ctx, tx, `UPDATE sso_tokens SET used_at = $2
			WHERE id = $1 AND kind = 'refresh' AND used_at IS NULL AND expires_at > $2`, id, micros(now))
		if err != nil {
			return fmt.Errorf("rotate refresh token: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var used sql.NullInt64
			st, err := s.txStmt(ctx, tx, `SELECT used_at FROM sso_tokens WHERE id = $1 AND kind = 'refresh'`)
			if err == nil {
				err = st.QueryRowContext(ctx, id).Scan(&used)
			}
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("refresh token: %w", sso.ErrNotFound)
			case err != nil:
				return fmt.Errorf("refresh token: %w", err)
			case used.Valid:
				return fmt.Errorf("refresh token rotated at %s: %w", fromMicros(used.Int64).Format(time.RFC3339), sso.ErrReused)
			default:
				return fmt.Errorf("refresh token expired: %w", sso.ErrNotFound)
			}
		}
		for _, t := range next {
			if _, err := s.txExec(ctx, tx, ssoTokenInsert, tokenArgs(t)...); err != nil {
				return conflict(err, t.Kind+" token for "+t.ClientID)
			}
		}
		return nil
	})
}

// RevokeFamily deletes every token of a family.
func (s *Store) RevokeFamily(ctx context.Context, family string) (int, error) {
	res, err := s.exec(ctx, `DELETE FROM sso_tokens WHERE family = $1`, family)
	if err != nil {
		return 0, fmt.Errorf("revoke token family: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// RevokeToken deletes one token.
func (s *Store) RevokeToken(ctx context.Context, id string) error {
	_, err := s.exec(ctx, `DELETE FROM sso_tokens WHERE id = $1`, id)
	return err
}

// RevokeSessionTokens deletes the tokens issued under a session.
func (s *Store) RevokeSessionTokens(ctx context.Context, sessionID string) (int, error) {
	res, err := s.exec(ctx, `DELETE FROM sso_tokens WHERE session_id = $1`, sessionID)
	if err != nil {
		return 0, fmt.Errorf("revoke session tokens: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// --- message ids --------------------------------------------------------------

// RememberMessageID records a message id; a live duplicate is ErrReused.
func (s *Store) RememberMessageID(ctx context.Context, issuer, id string, expires, now time.Time) error {
	return s.rememberOnce(ctx, "sso_message_ids", "message id", issuer, id, expires, now, sso.ErrReused)
}

// --- keys -----------------------------------------------------------------------

// PutKey inserts a key unless its id exists.
func (s *Store) PutKey(ctx context.Context, k sso.Key) error {
	res, err := s.exec(ctx, `INSERT INTO sso_keys (id, kind, private_key, certificate, created_at, active_from, retire_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`, k.ID, k.Kind, string(k.Private),
		string(k.Certificate), micros(k.CreatedAt), micros(k.ActiveFrom), microsArg(k.RetireAt))
	if err != nil {
		return fmt.Errorf("key %s: %w", k.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("key %s exists: %w", k.ID, sso.ErrReused)
	}
	return nil
}

// Keys lists every key, oldest first.
func (s *Store) Keys(ctx context.Context) ([]sso.Key, error) {
	rows, err := s.query(ctx, `SELECT id, kind, private_key, certificate, created_at, active_from, retire_at
		FROM sso_keys ORDER BY active_from, created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return collect(rows, func(row interface{ Scan(...any) error }) (sso.Key, error) {
		var k sso.Key
		var priv, cert string
		var created, active int64
		err := row.Scan(&k.ID, &k.Kind, &priv, &cert, &created, &active, nullMicros{&k.RetireAt})
		k.Private, k.Certificate, k.CreatedAt, k.ActiveFrom = []byte(priv), []byte(cert), fromMicros(created), fromMicros(active)
		return k, err
	})
}

// RetireKey sets when a key stops being published.
func (s *Store) RetireKey(ctx context.Context, id string, at time.Time) error {
	return s.execOne(ctx, "key "+id, `UPDATE sso_keys SET retire_at = $2 WHERE id = $1`, id, micros(at))
}

// SealKey swaps clear private material for its sealed form, only if the
// row still holds the clear one.
func (s *Store) SealKey(ctx context.Context, id string, clear, sealed []byte) error {
	return s.execOne(ctx, "seal key "+id, `UPDATE sso_keys SET private_key = $3 WHERE id = $1 AND private_key = $2`,
		id, string(clear), string(sealed))
}

// --- login throttling -----------------------------------------------------------

// AddLoginFailure counts one failed login.
func (s *Store) AddLoginFailure(ctx context.Context, key string, now, resetBefore time.Time) (sso.Throttle, error) {
	th := sso.Throttle{Key: key, LastFailure: now.UTC()}
	err := s.row(ctx, true, `INSERT INTO sso_throttle (name, failures, last_failure) VALUES ($1, 1, $2)
		ON CONFLICT (name) DO UPDATE SET
			failures = CASE WHEN sso_throttle.last_failure < $3 THEN 1 ELSE sso_throttle.failures + 1 END,
			last_failure = excluded.last_failure
		RETURNING failures`, []any{key, micros(now), micros(resetBefore)}, func(row scanner) error {
		return row.Scan(&th.Failures)
	})
	if err != nil {
		return th, fmt.Errorf("count failed login for %s: %w", key, err)
	}
	return th, nil
}

// LoginThrottle reads the failure count of a key (zero when none).
func (s *Store) LoginThrottle(ctx context.Context, key string) (sso.Throttle, error) {
	th := sso.Throttle{Key: key}
	var last int64
	err := s.row(ctx, false, `SELECT failures, last_failure FROM sso_throttle WHERE name = $1`, []any{key},
		func(row scanner) error { return row.Scan(&th.Failures, &last) })
	if errors.Is(err, sql.ErrNoRows) {
		return th, nil
	}
	if err != nil {
		return th, fmt.Errorf("failed logins of %s: %w", key, err)
	}
	th.LastFailure = fromMicros(last)
	return th, nil
}

// ClearLoginFailures forgets the failures of a key.
func (s *Store) ClearLoginFailures(ctx context.Context, key string) error {
	_, err := s.exec(ctx, `DELETE FROM sso_throttle WHERE name = $1`, key)
	return err
}

// --- housekeeping -----------------------------------------------------------------

// PurgeExpired deletes expired SSO records. Throttle entries go a day after
// their last failure; keys are never purged here (RotateKeys retires them).
func (s *Store) PurgeExpired(ctx context.Context, now time.Time) (int, error) {
	total := 0
	n := micros(now)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`DELETE FROM sso_session_services WHERE session_id IN (SELECT id FROM sso_sessions WHERE expires_at <= $1)`, []any{n}},
		{`DELETE FROM sso_sessions WHERE expires_at <= $1`, []any{n}},
		{`DELETE FROM sso_pending WHERE expires_at <= $1`, []any{n}},
		{`DELETE FROM sso_tickets WHERE expires_at <= $1`, []any{n}},
		{`DELETE FROM sso_codes WHERE expires_at <= $1`, []any{n}},
		{`DELETE FROM sso_tokens WHERE expires_at <= $1`, []any{n}},
		{`DELETE FROM sso_message_ids WHERE expires_at <= $1`, []any{n}},
		{`DELETE FROM sso_throttle WHERE last_failure <= $1`, []any{micros(now.Add(-24 * time.Hour))}},
	} {
		// Not prepared: it runs every few minutes, and each statement
		// takes the write queue on its own so that requests pass between.
		release := s.writing()
		res, err := s.db.ExecContext(ctx, q.sql, q.args...)
		release()
		if err != nil {
			return total, fmt.Errorf("purge expired SSO records: %w", err)
		}
		c, _ := res.RowsAffected()
		total += int(c)
	}
	return total, nil
}

// --- helpers ------------------------------------------------------------------------

func (s *Store) execOne(ctx context.Context, what, q string, args ...any) error {
	res, err := s.exec(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s: %w", what, sso.ErrNotFound)
	}
	return nil
}

// inTx runs fn in a transaction, queued behind this process's other SSO
// writes on SQLite (the transaction takes the write lock at BEGIN there:
// _txlock=immediate).
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	defer s.writing()()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
