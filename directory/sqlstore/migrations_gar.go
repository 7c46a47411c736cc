package sqlstore

// garMigrations holds the GAR export journal (package directory/gar),
// versions 400–419.
var garMigrations = []migration{
	{400, "gar deliveries", `
CREATE TABLE gar_deliveries (
	id          TEXT PRIMARY KEY,
	started_at  BIGINT NOT NULL,
	finished_at BIGINT NOT NULL,
	archive     TEXT NOT NULL DEFAULT '',
	md5         TEXT NOT NULL DEFAULT '',
	files       INTEGER NOT NULL DEFAULT 0,
	elements    INTEGER NOT NULL DEFAULT 0,
	target      TEXT NOT NULL DEFAULT '',
	attempts    INTEGER NOT NULL DEFAULT 0,
	outcome     TEXT NOT NULL,
	reason      TEXT NOT NULL DEFAULT '',
	counts      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX gar_deliveries_started ON gar_deliveries (started_at);
`},
}
