package sqlstore

// portalMigrations hold the portal's news and per-school branding
// (package portal/launcher), versions 340–359. Times are BIGINT Unix
// microseconds, as in the SSO tables.
var portalMigrations = []migration{
	{340, "portal news and branding", `
CREATE TABLE portal_news (
	id           TEXT PRIMARY KEY,
	structure_id TEXT NOT NULL DEFAULT '',
	profile      TEXT NOT NULL DEFAULT '',
	title        TEXT NOT NULL,
	body         TEXT NOT NULL DEFAULT '',
	start_at     BIGINT NOT NULL,
	end_at       BIGINT NOT NULL,
	created_by   TEXT NOT NULL DEFAULT '',
	created_at   BIGINT NOT NULL
);
CREATE INDEX portal_news_window ON portal_news (end_at, structure_id);

CREATE TABLE portal_branding (
	uai        TEXT PRIMARY KEY,
	logo_url   TEXT NOT NULL DEFAULT '',
	banner_url TEXT NOT NULL DEFAULT '',
	banner     TEXT NOT NULL DEFAULT '',
	primary_color TEXT NOT NULL DEFAULT '',
	accent_color  TEXT NOT NULL DEFAULT '',
	ink_color     TEXT NOT NULL DEFAULT '',
	updated_by TEXT NOT NULL DEFAULT '',
	updated_at BIGINT NOT NULL
);
`},
}
