package sqlstore

// statsMigrations holds the usage rollups and the health history
// (package directory/usage, stats.go), versions 320–339.
//
// The user sets are BYTEA: PostgreSQL's binary type, and a type name that
// SQLite accepts and stores a blob under as is. Health times are BIGINT
// Unix microseconds, as in the SSO tables.
var statsMigrations = []migration{
	{320, "usage rollups and health history", `
CREATE TABLE stats_counts (
	structure_id TEXT NOT NULL,
	dim          TEXT NOT NULL,
	day          TEXT NOT NULL,
	item         TEXT NOT NULL,
	n            BIGINT NOT NULL,
	PRIMARY KEY (structure_id, dim, day, item)
);

CREATE TABLE stats_users (
	structure_id TEXT NOT NULL,
	profile      TEXT NOT NULL,
	day          TEXT NOT NULL,
	n            BIGINT NOT NULL,
	members      BYTEA NOT NULL,
	PRIMARY KEY (structure_id, profile, day)
);
CREATE INDEX stats_users_day ON stats_users (profile, day);

CREATE TABLE stats_accounts (
	ord        {SERIAL},
	account_id TEXT NOT NULL UNIQUE
);

CREATE TABLE stats_state (
	name  TEXT PRIMARY KEY,
	value BIGINT NOT NULL
);

CREATE TABLE health_checks (
	instance TEXT NOT NULL,
	at       BIGINT NOT NULL,
	up       {BOOL} NOT NULL,
	ready    {BOOL} NOT NULL,
	detail   TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (instance, at)
);
CREATE INDEX health_checks_at ON health_checks (at);

CREATE TABLE health_minutes (
	minute BIGINT PRIMARY KEY
);
`},
}
