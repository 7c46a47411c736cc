package sqlstore

// federationMigrations holds the tables of upstream logins (package
// federation), versions 200–219. Times are BIGINT Unix microseconds, as in
// the SSO tables, for the same reason: they are compared on every login.
var federationMigrations = []migration{
	{200, "federation", `
CREATE TABLE fed_login_states (
	id         TEXT PRIMARY KEY,
	connector  TEXT NOT NULL,
	data       TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX fed_login_states_expires ON fed_login_states (expires_at);

CREATE TABLE fed_assertion_ids (
	issuer     TEXT NOT NULL,
	id         TEXT NOT NULL,
	expires_at BIGINT NOT NULL,
	PRIMARY KEY (issuer, id)
);
CREATE INDEX fed_assertion_ids_expires ON fed_assertion_ids (expires_at);
`},
	// Linking looks students up by INE and agents by academic e-mail. The
	// indexes are partial so that the many persons without either (parents
	// mostly) cost the AAF import nothing.
	{201, "federation person lookups", `
CREATE INDEX persons_ine ON persons (ine) WHERE ine <> '';
CREATE INDEX persons_email_lower ON persons (lower(email)) WHERE email <> '';
`},
}
