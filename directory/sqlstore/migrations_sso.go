package sqlstore

// ssoMigrations holds the tables of the single sign-on half of enthub
// (sessions, tickets, codes, tokens, keys), versions 100 and up.
var ssoMigrations = []migration{}
