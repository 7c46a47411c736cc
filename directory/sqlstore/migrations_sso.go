package sqlstore

// ssoMigrations holds the tables of the single sign-on half of enthub
// (sessions, tickets, codes, tokens, keys), versions 100 and up.
//
// Times in these tables are BIGINT Unix microseconds: they are compared in
// WHERE clauses on every request, and integers compare the same way on
// SQLite and PostgreSQL.
var ssoMigrations = []migration{
	{100, "sso", `
CREATE TABLE sso_sessions (
	id           TEXT PRIMARY KEY,
	account_id   TEXT NOT NULL,
	person_id    TEXT NOT NULL DEFAULT '',
	persona_id   TEXT NOT NULL DEFAULT '',
	structure_id TEXT NOT NULL DEFAULT '',
	profile      TEXT NOT NULL DEFAULT '',
	upstream     TEXT NOT NULL DEFAULT '',
	auth_time    BIGINT NOT NULL,
	created_at   BIGINT NOT NULL,
	last_seen    BIGINT NOT NULL,
	expires_at   BIGINT NOT NULL
);
CREATE INDEX sso_sessions_account ON sso_sessions (account_id);
CREATE INDEX sso_sessions_expires ON sso_sessions (expires_at);

CREATE TABLE sso_session_services (
	session_id TEXT NOT NULL,
	service_id TEXT NOT NULL,
	protocol   TEXT NOT NULL,
	ref        TEXT NOT NULL DEFAULT '',
	url        TEXT NOT NULL DEFAULT '',
	at         BIGINT NOT NULL,
	PRIMARY KEY (session_id, service_id, ref)
);

CREATE TABLE sso_pending (
	id         TEXT PRIMARY KEY,
	kind       TEXT NOT NULL,
	service_id TEXT NOT NULL DEFAULT '',
	payload    TEXT NOT NULL DEFAULT '',
	session_id TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX sso_pending_expires ON sso_pending (expires_at);

CREATE TABLE sso_tickets (
	id         TEXT PRIMARY KEY,
	kind       TEXT NOT NULL,
	service_id TEXT NOT NULL,
	service    TEXT NOT NULL,
	session_id TEXT NOT NULL,
	account_id TEXT NOT NULL,
	persona_id TEXT NOT NULL DEFAULT '',
	renewed    {BOOL} NOT NULL DEFAULT {FALSE},
	pgt_url    TEXT NOT NULL DEFAULT '',
	proxies    TEXT NOT NULL DEFAULT '[]',
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX sso_tickets_session ON sso_tickets (session_id);
CREATE INDEX sso_tickets_expires ON sso_tickets (expires_at);

CREATE TABLE sso_codes (
	id         TEXT PRIMARY KEY,
	family     TEXT NOT NULL,
	client_id  TEXT NOT NULL,
	session_id TEXT NOT NULL DEFAULT '',
	data       TEXT NOT NULL DEFAULT '',
	used_at    BIGINT,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX sso_codes_expires ON sso_codes (expires_at);

CREATE TABLE sso_tokens (
	id         TEXT PRIMARY KEY,
	kind       TEXT NOT NULL,
	family     TEXT NOT NULL,
	client_id  TEXT NOT NULL,
	account_id TEXT NOT NULL,
	session_id TEXT NOT NULL DEFAULT '',
	data       TEXT NOT NULL DEFAULT '',
	used_at    BIGINT,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX sso_tokens_family ON sso_tokens (family);
CREATE INDEX sso_tokens_session ON sso_tokens (session_id);
CREATE INDEX sso_tokens_expires ON sso_tokens (expires_at);

CREATE TABLE sso_message_ids (
	issuer     TEXT NOT NULL,
	id         TEXT NOT NULL,
	expires_at BIGINT NOT NULL,
	PRIMARY KEY (issuer, id)
);

CREATE TABLE sso_keys (
	id          TEXT PRIMARY KEY,
	kind        TEXT NOT NULL,
	private_key TEXT NOT NULL,
	certificate TEXT NOT NULL DEFAULT '',
	created_at  BIGINT NOT NULL,
	active_from BIGINT NOT NULL,
	retire_at   BIGINT
);

CREATE TABLE sso_throttle (
	name         TEXT PRIMARY KEY,
	failures     INTEGER NOT NULL,
	last_failure BIGINT NOT NULL
);
`},
	// released holds what a CAS validation answers (principal and
	// attributes), worked out when the ticket is issued, so that a
	// validation is one DELETE … RETURNING. Tickets issued by an older
	// binary have it empty; validation then reads the directory as before.
	{101, "sso tickets carry their release", `
ALTER TABLE sso_tickets ADD COLUMN released TEXT NOT NULL DEFAULT '';
`},
	// Relying-party registrations managed by `enthub services`, beside
	// sso.services_file. The one-row generation counter is bumped by every
	// change in the same transaction, so each instance polls one row and
	// reloads the definitions only when it moved (a MAX(updated_at) would
	// miss deletions).
	{102, "sso service registrations", `
CREATE TABLE sso_services (
	id         TEXT PRIMARY KEY,
	definition TEXT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE TABLE sso_services_generation (
	id         INTEGER PRIMARY KEY,
	generation BIGINT NOT NULL
);
INSERT INTO sso_services_generation (id, generation) VALUES (1, 0);
`},
}
