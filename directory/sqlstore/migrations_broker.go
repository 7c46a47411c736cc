package sqlstore

// brokerMigrations hold what the federation broker adds to SSO sessions,
// versions 220–239: the candidate accounts an upstream login linked (so the
// person switches persona without logging in again), and what a later
// logout at the upstream needs (upstream_ref finds the sessions an
// upstream's LogoutRequest names; upstream_logout is the connector's
// federation.Logout, opaque here).
var brokerMigrations = []migration{
	{220, "broker sessions", `
ALTER TABLE sso_sessions ADD COLUMN accounts TEXT NOT NULL DEFAULT '';
ALTER TABLE sso_sessions ADD COLUMN upstream_ref TEXT NOT NULL DEFAULT '';
ALTER TABLE sso_sessions ADD COLUMN upstream_logout TEXT NOT NULL DEFAULT '';
CREATE INDEX sso_sessions_upstream_ref ON sso_sessions (upstream_ref) WHERE upstream_ref <> '';
`},
}
