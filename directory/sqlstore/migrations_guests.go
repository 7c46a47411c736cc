package sqlstore

// guestMigrations holds the tables of guest accounts (package
// directory/guests), versions 300–319. Times are BIGINT Unix microseconds,
// as in the SSO tables. Both tables go with their account (ON DELETE
// CASCADE), so deleting a guest person leaves nothing behind.
var guestMigrations = []migration{
	{300, "guests", `
CREATE TABLE guests (
	account_id   TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
	structure_id TEXT NOT NULL,
	role         TEXT NOT NULL DEFAULT '',
	created_by   TEXT NOT NULL DEFAULT '',
	created_at   BIGINT NOT NULL,
	revoked_at   BIGINT,
	revoked_by   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX guests_structure ON guests (structure_id, created_at);

CREATE TABLE guest_activations (
	hash       TEXT PRIMARY KEY,
	account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX guest_activations_account ON guest_activations (account_id);
`},
}
