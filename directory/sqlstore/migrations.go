package sqlstore

import (
	"slices"
	"strings"
)

// migration is one schema step. The SQL is written once for both dialects;
// the few type names that differ are placeholders (see dialect.types).
type migration struct {
	version int
	name    string
	sql     string
}

// migrations is append-only: a released step is never edited, a change is a
// new step. The highest version is what this binary expects; a database
// with a higher one was migrated by a newer binary and is refused.
//
// The link tables (accounts, personas, groups, memberships, relations) carry
// no foreign keys: an AAF import inserts a million link rows, and checking
// each against its parents one by one tripled the merge time on PostgreSQL.
// Integrity is kept by construction instead — the import resolves every
// reference by join, and the Delete* methods and the purge remove dependent
// rows explicitly (the conformance suite checks both).
var coreMigrations = []migration{
	{1, "directory", `
CREATE TABLE meta (
	name  TEXT PRIMARY KEY,
	value BIGINT NOT NULL
);
INSERT INTO meta (name, value) VALUES ('generation', 0);

CREATE TABLE structures (
	id            TEXT PRIMARY KEY,
	aaf_id        TEXT UNIQUE,
	uai           TEXT NOT NULL DEFAULT '',
	name          TEXT NOT NULL DEFAULT '',
	type          TEXT NOT NULL DEFAULT '',
	type_code     TEXT NOT NULL DEFAULT '',
	city          TEXT NOT NULL DEFAULT '',
	postal_code   TEXT NOT NULL DEFAULT '',
	contract      TEXT NOT NULL DEFAULT '',
	bassin        TEXT NOT NULL DEFAULT '',
	academie      TEXT NOT NULL DEFAULT '',
	academie_code TEXT NOT NULL DEFAULT '',
	attached      TEXT NOT NULL DEFAULT '[]',
	extra         TEXT NOT NULL DEFAULT '{}',
	source        TEXT NOT NULL,
	checksum      TEXT NOT NULL DEFAULT '',
	created_at    {TIME} NOT NULL,
	updated_at    {TIME} NOT NULL
);
CREATE INDEX structures_uai ON structures (uai);

CREATE TABLE persons (
	id             TEXT PRIMARY KEY,
	aaf_id         TEXT UNIQUE,
	aaf_family     TEXT NOT NULL DEFAULT '',
	source         TEXT NOT NULL,
	last_name      TEXT NOT NULL DEFAULT '',
	first_name     TEXT NOT NULL DEFAULT '',
	birth_name     TEXT NOT NULL DEFAULT '',
	other_names    TEXT NOT NULL DEFAULT '[]',
	title          TEXT NOT NULL DEFAULT '',
	birth_date     TEXT NOT NULL DEFAULT '',
	ine            TEXT NOT NULL DEFAULT '',
	email          TEXT NOT NULL DEFAULT '',
	personal_email TEXT NOT NULL DEFAULT '',
	phone          TEXT NOT NULL DEFAULT '',
	mobile         TEXT NOT NULL DEFAULT '',
	address        TEXT NOT NULL DEFAULT '',
	postal_code    TEXT NOT NULL DEFAULT '',
	city           TEXT NOT NULL DEFAULT '',
	country        TEXT NOT NULL DEFAULT '',
	mef            TEXT NOT NULL DEFAULT '',
	subjects       TEXT NOT NULL DEFAULT '[]',
	extra          TEXT NOT NULL DEFAULT '{}',
	checksum       TEXT NOT NULL DEFAULT '',
	created_at     {TIME} NOT NULL,
	updated_at     {TIME} NOT NULL
);

CREATE TABLE accounts (
	id             TEXT PRIMARY KEY,
	person_id      TEXT NOT NULL UNIQUE,
	login          TEXT NOT NULL UNIQUE,
	status         TEXT NOT NULL,
	source         TEXT NOT NULL,
	valid_from     {TIME},
	valid_until    {TIME},
	disappeared_at {TIME},
	password_hash  TEXT NOT NULL DEFAULT '',
	created_at     {TIME} NOT NULL,
	updated_at     {TIME} NOT NULL
);
CREATE INDEX accounts_status ON accounts (status);

CREATE TABLE personas (
	id           TEXT PRIMARY KEY,
	person_id    TEXT NOT NULL,
	structure_id TEXT NOT NULL,
	profile      TEXT NOT NULL,
	functions    TEXT NOT NULL DEFAULT '[]',
	source       TEXT NOT NULL,
	UNIQUE (person_id, structure_id, profile)
);
CREATE INDEX personas_structure ON personas (structure_id, profile);

CREATE TABLE groups (
	id           TEXT PRIMARY KEY,
	structure_id TEXT NOT NULL,
	kind         TEXT NOT NULL,
	code         TEXT NOT NULL,
	name         TEXT NOT NULL DEFAULT '',
	source       TEXT NOT NULL,
	UNIQUE (structure_id, kind, code)
);

CREATE TABLE memberships (
	group_id     TEXT NOT NULL,
	person_id    TEXT NOT NULL,
	role         TEXT NOT NULL,
	subjects     TEXT NOT NULL DEFAULT '[]',
	head_teacher {BOOL} NOT NULL DEFAULT {FALSE},
	PRIMARY KEY (group_id, person_id, role)
);
CREATE INDEX memberships_person ON memberships (person_id);

CREATE TABLE relations (
	parent_id      TEXT NOT NULL,
	child_id       TEXT NOT NULL,
	lien_parente   TEXT NOT NULL DEFAULT '',
	resp_financier {BOOL} NOT NULL DEFAULT {FALSE},
	resp_legal     INTEGER NOT NULL DEFAULT 0,
	contact        {BOOL} NOT NULL DEFAULT {FALSE},
	paiement       {BOOL} NOT NULL DEFAULT {FALSE},
	PRIMARY KEY (parent_id, child_id)
);
CREATE INDEX relations_child ON relations (child_id);

CREATE TABLE subjects (
	code  TEXT PRIMARY KEY,
	label TEXT NOT NULL DEFAULT ''
);

CREATE TABLE mefs (
	code    TEXT PRIMARY KEY,
	label   TEXT NOT NULL DEFAULT '',
	rattach TEXT NOT NULL DEFAULT '',
	stat11  TEXT NOT NULL DEFAULT ''
);

CREATE TABLE external_links (
	issuer       TEXT NOT NULL,
	subject      TEXT NOT NULL,
	account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	created_at   {TIME} NOT NULL,
	last_used_at {TIME},
	PRIMARY KEY (issuer, subject)
);
CREATE INDEX external_links_account ON external_links (account_id);

CREATE TABLE imports (
	id           TEXT PRIMARY KEY,
	started_at   {TIME} NOT NULL,
	finished_at  {TIME} NOT NULL,
	kind         TEXT NOT NULL DEFAULT '',
	files        TEXT NOT NULL DEFAULT '[]',
	content_hash TEXT NOT NULL DEFAULT '',
	export_date  TEXT NOT NULL DEFAULT '',
	outcome      TEXT NOT NULL,
	reason       TEXT NOT NULL DEFAULT '',
	report       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX imports_hash ON imports (content_hash);
CREATE INDEX imports_started ON imports (started_at);

CREATE TABLE events (
	id           {SERIAL},
	time         {TIME} NOT NULL,
	type         TEXT NOT NULL,
	account_id   TEXT NOT NULL DEFAULT '',
	structure_id TEXT NOT NULL DEFAULT '',
	profile      TEXT NOT NULL DEFAULT '',
	service      TEXT NOT NULL DEFAULT '',
	outcome      TEXT NOT NULL DEFAULT '',
	reason       TEXT NOT NULL DEFAULT '',
	remote       TEXT NOT NULL DEFAULT '',
	details      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_time ON events (time);
CREATE INDEX events_type_time ON events (type, time);
CREATE INDEX events_account ON events (account_id, time);
`},
	// The date-order guard compares a delivery with the last applied one of
	// its scope; journal entries written before it have none ('').
	{2, "imports scope", `
ALTER TABLE imports ADD COLUMN scope TEXT NOT NULL DEFAULT '';
CREATE INDEX imports_scope ON imports (scope, started_at);
`},
}

// allMigrations is every step of every part of the schema, in version
// order. The SSO and federation tables have their own lists
// (migrations_sso.go, migrations_federation.go) so the parts of the schema
// can evolve side by side; versions must not collide.
func allMigrations() []migration {
	all := slices.Concat(coreMigrations, ssoMigrations, federationMigrations, brokerMigrations, garMigrations, guestMigrations, statsMigrations, portalMigrations, spaceMigrations, searchMigrations)
	slices.SortFunc(all, func(a, b migration) int { return a.version - b.version })
	return all
}

// latestVersion is the schema version this binary expects.
func latestVersion() int {
	all := allMigrations()
	return all[len(all)-1].version
}

// render substitutes the dialect's type names into a migration.
func (m migration) render(d dialect) string {
	r := strings.NewReplacer(
		"{TIME}", d.timeType,
		"{BOOL}", d.boolType,
		"{FALSE}", d.falseLit,
		"{SERIAL}", d.serialPK,
	)
	return r.Replace(m.sql)
}
