package sqlstore

// spaceMigrations holds the profile spaces across schools (package
// directory/spaces), versions 360–369. Times are BIGINT Unix microseconds,
// as in the SSO and guest tables. A membership goes with its space and
// with its account (ON DELETE CASCADE), so deleting either leaves no
// dangling member for the LDAP front or a release.
var spaceMigrations = []migration{
	{360, "spaces", `
CREATE TABLE spaces (
	id          TEXT PRIMARY KEY,
	name        TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	created_at  BIGINT NOT NULL,
	updated_at  BIGINT NOT NULL
);

CREATE TABLE space_members (
	space_id   TEXT NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
	account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	added_by   TEXT NOT NULL DEFAULT '',
	added_at   BIGINT NOT NULL,
	PRIMARY KEY (space_id, account_id)
);
CREATE INDEX space_members_account ON space_members (account_id);
`},
}
