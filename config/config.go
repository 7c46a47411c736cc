// Package config is enthub's configuration: one typed struct loaded from a
// YAML file, every key overridable by an ENTHUB_… environment variable,
// defaults that run the demo with no file at all, and validation at start
// that names the key and the problem. It imports no other enthub package;
// cmd/enthub maps it onto each package's own options.
package config

import (
	"time"
)

// Location is the site's time zone (TimeZone), UTC when it cannot be
// loaded; Validate refuses such a zone, so that happens only to a
// configuration that was never validated.
func (c Config) Location() *time.Location {
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil || c.TimeZone == "" {
		return time.UTC
	}
	return loc
}

// Config is the whole configuration. The yaml tag of each field is its key;
// the environment variable is ENTHUB_ followed by the key path in upper case
// with dots as underscores (http.listen → ENTHUB_HTTP_LISTEN).
type Config struct {
	// PublicURL is the address users and relying parties reach enthub at;
	// it is the OIDC issuer and the base of SAML and CAS endpoints.
	PublicURL string `yaml:"public_url"`
	// DB is the store: sqlite:PATH or postgres://…
	DB string `yaml:"db"`
	// TimeZone is the site's zone (IANA name): the dates people type and
	// read — guests' first and last days, news windows — and the days and
	// hours of the statistics. One zone for all, so a guest who ends "on
	// the 30th" and a day of statistics end at the same midnight. An
	// overseas département sets its own (America/Cayenne, Indian/Reunion).
	TimeZone string `yaml:"time_zone"`
	Log      Log    `yaml:"log"`
	HTTP     HTTP   `yaml:"http"`
	LDAP     LDAP   `yaml:"ldap"`
	AAF      AAF    `yaml:"aaf"`
	SSO      SSO    `yaml:"sso"`
	// Federation lists the upstream logins (connectors).
	Federation Federation `yaml:"federation"`
	GAR        GAR        `yaml:"gar"`
	// Guests configures the guest accounts principals create.
	Guests Guests `yaml:"guests"`
	// Stats is the département console's statistics.
	Stats Stats `yaml:"stats"`
	// Portal configures the launcher: its administrators and the
	// département's banner.
	Portal Portal `yaml:"portal"`

	// DBConnectTimeout is how long serve waits for a database that refuses
	// connections at start (PostgreSQL booting after enthub), retrying
	// with backoff; 0 fails at once.
	DBConnectTimeout time.Duration `yaml:"db_connect_timeout"`

	// MemoryLimitMiB is serve's soft memory limit (Go's GOMEMLIMIT, which
	// wins when set): past it the collector runs more often and gives
	// freed memory back to the system, so the resident size follows the
	// live heap instead of the high-water mark of the password hashes
	// (each argon2id check allocates its memory cost anew). 0: no limit.
	// Soft: the process never fails an allocation because of it.
	MemoryLimitMiB int `yaml:"memory_limit_mib"`
}

// Log configures structured logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// HTTP configures the one HTTP server (portal, SAML, OIDC, CAS, health,
// metrics).
type HTTP struct {
	Listen          string        `yaml:"listen"`
	TLSCert         string        `yaml:"tls_cert"`
	TLSKey          string        `yaml:"tls_key"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	ReadTimeout     time.Duration `yaml:"read_timeout"`
	WriteTimeout    time.Duration `yaml:"write_timeout"`
	// TrustedProxies are the CIDRs whose X-Forwarded-For is believed (for
	// rate limits and audit); empty means the peer address is used.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// MetricsListen serves /metrics on its own address (kept off the
	// public listener); empty serves it on Listen.
	MetricsListen string `yaml:"metrics_listen"`
	// Pprof adds Go's profiles (/debug/pprof/: heap, goroutines, CPU) to
	// the metrics listener, for finding what holds memory or CPU in a
	// running server. They name code paths and can take seconds of CPU, so
	// never on the public listener: it needs MetricsListen.
	Pprof bool `yaml:"pprof"`
}

// LDAP configures the LDAPv3 front.
type LDAP struct {
	Enabled     bool   `yaml:"enabled"`
	Listen      string `yaml:"listen"`
	LDAPSListen string `yaml:"ldaps_listen"`
	TLSCert     string `yaml:"tls_cert"`
	TLSKey      string `yaml:"tls_key"`
	BaseDN      string `yaml:"base_dn"`
	// JointureSource prefixes ENTPersonJointure ("<source>$<AAF id>"), e.g.
	// the académie (AC-AIX-MARSEILLE).
	JointureSource string `yaml:"jointure_source"`
	// Anonymous allows anonymous searches beyond the rootDSE.
	Anonymous       bool             `yaml:"anonymous"`
	MaxConnections  int              `yaml:"max_connections"`
	IdleTimeout     time.Duration    `yaml:"idle_timeout"`
	SizeLimit       int              `yaml:"size_limit"`
	ServiceAccounts []ServiceAccount `yaml:"service_accounts"`
	Push            LDAPPush         `yaml:"push"`
}

// LDAPPush mirrors the directory into an external LDAP (OpenLDAP, 389-DS)
// for sites that already run one; empty URL disables it.
type LDAPPush struct {
	URL    string `yaml:"url"`
	BindDN string `yaml:"bind_dn"`
	// Password of BindDN; set it from the environment
	// (ENTHUB_LDAP_PUSH_PASSWORD) rather than in the file.
	Password    string   `yaml:"password"`
	StartTLS    bool     `yaml:"start_tls"`
	SeeDisabled bool     `yaml:"see_disabled"`
	Attributes  []string `yaml:"attributes"`
}

// ServiceAccount is an application allowed to bind and read the directory.
type ServiceAccount struct {
	DN string `yaml:"dn"`
	// PasswordHash is an argon2id PHC string or an {SSHA} hash, never a
	// clear password.
	PasswordHash string `yaml:"password_hash"`
	// Subtrees limits reads to these DNs and their subordinates; empty
	// means the whole tree.
	Subtrees []string `yaml:"subtrees"`
	// Structures limits reads to these UAIs; empty means all.
	Structures []string `yaml:"structures"`
	// Attributes limits the attributes returned; empty means all.
	Attributes  []string `yaml:"attributes"`
	SeeDisabled bool     `yaml:"see_disabled"`
}

// AAF configures the daily import of the rectorat's export.
type AAF struct {
	// Inbox is the folder the rectorat's deliveries are dropped in; empty
	// disables the watcher.
	Inbox string `yaml:"inbox"`
	// SettleTime is how long an archive must stop growing before it is taken.
	SettleTime time.Duration `yaml:"settle_time"`
	// PurgeSchedule is the cron expression of the purge of accounts disabled
	// for longer than GracePeriod.
	PurgeSchedule string        `yaml:"purge_schedule"`
	GracePeriod   time.Duration `yaml:"grace_period"`
	// VolumetryThreshold is the percentage of accounts a Complet may disable
	// (in the whole perimeter, or in a structure with at least
	// VolumetryMinAccounts accounts) before it is refused without --force.
	VolumetryThreshold   float64 `yaml:"volumetry_threshold"`
	VolumetryMinAccounts int     `yaml:"volumetry_min_accounts"`
	// ParentRespLegal lists the respLegal values of ENTElevePersRelEleve
	// that create a parent account (the AAF's meaning of 2 varies by version).
	ParentRespLegal []int `yaml:"parent_resp_legal"`
	// LoginPattern builds new logins: {prenom} and {nom}, lower-case ASCII.
	LoginPattern string `yaml:"login_pattern"`
	// OrderGuard refuses a delivery older than the last one applied of its
	// scope (aaf.OrderOptions); false turns the guard off.
	OrderGuard bool `yaml:"order_guard"`
	// OrderScope is what two deliveries must share to be ordered: any of
	// academie, degre, prefix. The specifications are not public: a
	// rectorat that renames its feed escapes the guard until "prefix" is
	// dropped from this list (see aaf.OrderOptions).
	OrderScope []string `yaml:"order_scope"`
}

// SSO configures sessions and the identity provider fronts.
type SSO struct {
	SessionIdle     time.Duration `yaml:"session_idle"`
	SessionAbsolute time.Duration `yaml:"session_absolute"`
	// KeySecret is base64 of 32 random bytes that encrypts the signing keys
	// in the store; set it from the environment (ENTHUB_SSO_KEY_SECRET),
	// never in a file under version control. Empty stores them in clear.
	KeySecret string `yaml:"key_secret"`
	// KeyOverlap is how long a new key is published before it signs, and
	// the old one kept after it stopped.
	KeyOverlap time.Duration `yaml:"key_overlap"`
	// SiteName is the ENT's name on the login pages.
	SiteName string `yaml:"site_name"`
	// ServicesFile is the YAML registry of relying parties (a list of
	// services; see the idp package's README for the fields).
	ServicesFile string `yaml:"services_file"`
	// ServicesReload is how often each instance checks the services
	// registered in the store (enthub services import) for changes.
	ServicesReload time.Duration `yaml:"services_reload"`
}

// GAR configures what enthub gives the GAR (the national hub of digital
// resources): its SAML profile and the daily GAR-ENT export. Empty id_ent
// disables both.
type GAR struct {
	// IDEnt is the ENT's GAR project id, given by the GAR.
	IDEnt string `yaml:"id_ent"`
	// Schools are the UAIs of the subscribing schools.
	Schools []string `yaml:"schools"`
	// IDSecret, base64 of 32 random bytes, keys GARPersonIdentifiant; set
	// it from the environment (ENTHUB_GAR_ID_SECRET). It must never change:
	// a new one makes every user a stranger to the GAR.
	IDSecret string `yaml:"id_secret"`
	// EntityID is the GAR's SAML service provider in the services registry
	// (sso.services_file): its logins carry the GAR profile.
	EntityID string `yaml:"entity_id"`
	// RespAffProfiles are the profiles exported as responsables
	// d'affectation (default direction).
	RespAffProfiles []string `yaml:"resp_aff_profiles"`
	// Schedule is the cron expression of the export and delivery in
	// serve; empty: no scheduled export.
	Schedule string `yaml:"schedule"`
	// WorkDir keeps the exports and their archives.
	WorkDir string  `yaml:"work_dir"`
	SFTP    GARSFTP `yaml:"sftp"`
}

// GARSFTP is where the export is delivered.
type GARSFTP struct {
	// Address is host:port of the GAR's SFTP server; empty: the export is
	// packed but not delivered.
	Address string `yaml:"address"`
	User    string `yaml:"user"`
	// KeyFile is the ENT's private key (OpenSSH or PEM, unencrypted).
	KeyFile string `yaml:"key_file"`
	// KnownHosts pins the server's host key (OpenSSH known_hosts format).
	KnownHosts string `yaml:"known_hosts"`
	// Dir is the folder on the server the files go to.
	Dir string `yaml:"dir"`
	// Attempts and Backoff: a failed delivery is tried again after
	// Backoff, doubled each time, Attempts times in all.
	Attempts int           `yaml:"attempts"`
	Backoff  time.Duration `yaml:"backoff"`
	Timeout  time.Duration `yaml:"timeout"`
}

// Guests configures the principal's console and the guest accounts.
type Guests struct {
	// PrincipalProfiles are the persona profiles that open the principal's
	// console for their school (the AAF's DIR family gives "direction").
	PrincipalProfiles []string `yaml:"principal_profiles"`
	// PrincipalFunctions are AAF function codes (DIR, DEC…) that open it too.
	PrincipalFunctions []string `yaml:"principal_functions"`
	// CodeTTL is how long an activation code works.
	CodeTTL time.Duration `yaml:"code_ttl"`
	// MaxPeriod is the longest a guest account may last.
	MaxPeriod time.Duration `yaml:"max_period"`
	// ExpireEvery is how often serve disables the guests past their end
	// date (the login refuses them from that date on anyway).
	ExpireEvery time.Duration `yaml:"expire_every"`
	SMTP        SMTP          `yaml:"smtp"`
}

// Portal configures the launcher.
type Portal struct {
	// Admins are the logins of the collectivité's administrators, who
	// read the statistics and edit every school's news and branding;
	// AdminGroups the directory groups (by id or code) whose members are
	// administrators too.
	Admins      []string `yaml:"admins"`
	AdminGroups []string `yaml:"admin_groups"`
	// Banner is the département's message shown on every launcher page.
	Banner string `yaml:"banner"`
}

// SMTP is the optional mail relay activation links are sent through;
// empty Addr prints them only.
type SMTP struct {
	Addr     string `yaml:"addr"` // host:port
	From     string `yaml:"from"`
	Username string `yaml:"username"`
	// Password: set it from the environment (ENTHUB_GUESTS_SMTP_PASSWORD).
	Password string `yaml:"password"`
}

// Stats configures the usage statistics (who reads them: Portal.Admins).
type Stats struct {
	// TimeZone is the deprecated alias of the top-level time_zone, read
	// when that one is not set; Read says so in its notes.
	TimeZone string `yaml:"time_zone"`
	// FoldEvery is how often an instance adds the new audit events to the
	// statistics; HealthEvery how often it records its health.
	FoldEvery   time.Duration `yaml:"fold_every"`
	HealthEvery time.Duration `yaml:"health_every"`
}

// Default returns the configuration used when no file is given: everything
// on loopback, embedded SQLite, safe timeouts.
func Default() Config {
	return Config{
		PublicURL: "http://127.0.0.1:8080",
		DB:        "sqlite:./enthub.db",
		Log:       Log{Level: "info", Format: "text"},
		HTTP: HTTP{
			Listen:          "127.0.0.1:8080",
			ShutdownTimeout: 10 * time.Second,
			ReadTimeout:     30 * time.Second,
			WriteTimeout:    60 * time.Second,
		},
		LDAP: LDAP{
			Enabled:        true,
			Listen:         "127.0.0.1:3389",
			BaseDN:         "dc=enthub",
			JointureSource: "AAF",
			MaxConnections: 4096,
			IdleTimeout:    5 * time.Minute,
			SizeLimit:      5000,
		},
		AAF: AAF{
			SettleTime:           30 * time.Second,
			PurgeSchedule:        "0 3 * * *",
			GracePeriod:          30 * 24 * time.Hour,
			OrderGuard:           true,
			OrderScope:           []string{"academie", "degre", "prefix"},
			VolumetryThreshold:   10,
			VolumetryMinAccounts: 50,
			ParentRespLegal:      []int{1, 2},
			LoginPattern:         "{prenom}.{nom}",
		},
		SSO: SSO{
			SessionIdle:     2 * time.Hour,
			SessionAbsolute: 10 * time.Hour,
			KeyOverlap:      24 * time.Hour,
			SiteName:        "ENT",
			ServicesReload:  15 * time.Second,
		},
		GAR: GAR{
			Schedule: "",
			WorkDir:  "./gar",
			SFTP:     GARSFTP{Attempts: 4, Backoff: 30 * time.Second, Timeout: 30 * time.Second},
		},
		Guests: Guests{
			PrincipalProfiles: []string{"direction"},
			CodeTTL:           7 * 24 * time.Hour,
			MaxPeriod:         366 * 24 * time.Hour,
			ExpireEvery:       10 * time.Minute,
		},
		TimeZone:         "Europe/Paris",
		Stats:            Stats{FoldEvery: time.Minute, HealthEvery: time.Minute},
		DBConnectTimeout: time.Minute,
	}
}
