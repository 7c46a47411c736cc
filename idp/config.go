package idp

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/idp/sso"
)

// Protocol names how a relying party talks to enthub.
type Protocol string

// The protocols the hub speaks to relying parties.
const (
	ProtocolCAS  Protocol = "cas"
	ProtocolOIDC Protocol = "oidc"
	ProtocolSAML Protocol = "saml"
)

// Config is the identity provider's configuration: plain data, filled by
// the config package or by the demo, checked by Validate.
type Config struct {
	// PublicURL is the base URL users and relying parties reach enthub at,
	// without a trailing slash; it is the OIDC issuer, and the session
	// cookie is Secure whenever it is https.
	PublicURL string
	// SessionIdle and SessionMax end an SSO session after that much
	// inactivity, or that long after login (defaults 2 h and 10 h).
	SessionIdle time.Duration
	SessionMax  time.Duration
	// CookieName names the SSO session cookie (default "enthub_sso").
	CookieName string
	// PortalURL is where a login with no pending request lands (default
	// PublicURL + "/").
	PortalURL string
	// PendingTTL bounds how long a parked request waits for the login
	// (default 30 min).
	PendingTTL time.Duration
	// TicketTTL bounds CAS service and proxy tickets (default 1 min).
	TicketTTL time.Duration
	// CodeTTL, AccessTokenTTL and RefreshTokenTTL bound OIDC codes and
	// tokens (defaults 1 min, 10 min, 10 h).
	CodeTTL         time.Duration
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	// AssertionTTL bounds SAML assertions (default 5 min).
	AssertionTTL time.Duration
	// Throttle tunes the rate limit on local passwords.
	Throttle ThrottleConfig
	// KeySecret, base64 of 32 bytes, encrypts private keys at rest in the
	// store; empty stores them in clear (the demo), with a warning.
	KeySecret string
	// KeyOverlap is how long a new key is published before it signs, and
	// an old one kept after (default 24 h).
	KeyOverlap time.Duration
	// Services is the registry of relying parties from the configuration
	// (sso.services_file, the demo's). Those registered in the store
	// (enthub services import) are added to them; a store service with
	// the ID of one of these is skipped, with a warning.
	Services []Service
	// ServicesReload is how often each instance checks whether the store's
	// registrations changed (one single-row read; default 15 s).
	ServicesReload time.Duration
	// LocalUpstream is the id of the password login in sessions, audit
	// events and metrics (default "local").
	LocalUpstream string
	// LoginMethods are the ways to log in the chooser offers (the
	// configured connectors, the password form among them). Empty: /login
	// is the password form alone, as before federation.
	LoginMethods []LoginMethod
	// UpstreamLogout, when set, is called at logout for a session that
	// came from an upstream (Session.Upstream is not LocalUpstream): it
	// sends the browser to log out there too, to come back to next, and
	// reports whether it did (false: the upstream takes no part in single
	// logout). cmd wires it to the federation broker.
	UpstreamLogout func(w http.ResponseWriter, r *http.Request, upstream string, logout []byte, next string) bool
	// GAR is the GAR profile (gar.go); zero: no GAR.
	GAR GARConfig
}

// LoginMethod is one way to log in offered by the login chooser.
type LoginMethod struct {
	ID    string // connector id
	Label string // shown on the button ("EduConnect", "Portail agents")
	// Profiles are the chooser's profiles the method serves (eleve,
	// parent, personnel, collectivite, invite).
	Profiles []string
	// Local: the password form of this provider, rather than an upstream
	// reached at /login/{ID}.
	Local bool
}

// ChooserProfiles are the chooser's first step, in order.
var ChooserProfiles = []string{"eleve", "parent", "personnel", "collectivite", "invite"}

// ThrottleConfig is the rate limit on local password logins. Per login:
// FreeAttempts failures pass, each further one doubles a wait that starts
// at Backoff (capped at MaxBackoff); at LockoutAfter failures the login is
// locked for Lockout. Per IP, the same rules with the counts multiplied by
// IPFactor. Counts restart after Window without failure.
type ThrottleConfig struct {
	FreeAttempts int
	Backoff      time.Duration
	MaxBackoff   time.Duration
	LockoutAfter int
	Lockout      time.Duration
	IPFactor     int
	Window       time.Duration
}

// Service is one relying party. Everything a partner receives is said
// here, as data.
type Service struct {
	ID       string   `yaml:"id"`       // stable short id: "pronote", "gar", "chamilo"
	Name     string   `yaml:"name"`     // shown to users
	Protocol Protocol `yaml:"protocol"` // cas, oidc or saml
	// Profiles and Structures (UAIs) restrict who may use the service;
	// empty means everyone.
	Profiles   []directory.Profile `yaml:"profiles"`
	Structures []string            `yaml:"structures"`
	Release    ReleasePolicy       `yaml:"release"`
	Tile       Tile                `yaml:"tile"`

	CAS  CASService  `yaml:"cas"`
	OIDC OIDCService `yaml:"oidc"`
	SAML SAMLService `yaml:"saml"`
}

// Tile is how the portal's launcher shows a service. A service without
// a URL has no tile (it is reached from its own pages only).
type Tile struct {
	Label       string `yaml:"label"` // default: the service's name
	Description string `yaml:"description"`
	// Icon is one of TileIcons, or a path under the site ("/static/x.svg"):
	// the launcher's pages allow images from the site only.
	Icon string `yaml:"icon"`
	URL  string `yaml:"url"` // where the launcher sends the user
	// Category groups tiles on the launcher ("Vie scolaire"); tiles
	// without one go last, under "Autres services".
	Category string `yaml:"category"`
}

// TileIcons are the icons the launcher embeds, by name.
var TileIcons = []string{"app", "book", "calendar", "chat", "folder", "library", "mail", "school", "test"}

// check validates the tile's keys.
func (t Tile) check() error {
	if t.Icon != "" && !slices.Contains(TileIcons, t.Icon) && !sitePath(t.Icon) {
		return keyErr("tile.icon", "%q: want one of %s, or a path under the site starting with /", t.Icon, strings.Join(TileIcons, ", "))
	}
	if t.URL != "" && !sitePath(t.URL) {
		if u, err := url.Parse(t.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return keyErr("tile.url", "%q: want an absolute http(s) URL or a path under the site starting with /", t.URL)
		}
	}
	for _, f := range []struct {
		key, v string
		max    int
	}{{"tile.label", t.Label, 60}, {"tile.description", t.Description, 200}, {"tile.category", t.Category, 40}} {
		if n := len([]rune(f.v)); n > f.max {
			return keyErr(f.key, "%d characters: %d at most", n, f.max)
		}
	}
	return nil
}

// sitePath reports whether v is a path on this site: "/x", not "//host".
func sitePath(v string) bool {
	if !strings.HasPrefix(v, "/") || strings.HasPrefix(v, "//") || strings.ContainsAny(v, "\\ \t\n") {
		return false
	}
	u, err := url.Parse(v)
	return err == nil && u.Host == "" && u.Scheme == ""
}

// Allows reports whether a persona — its profile, its school's UAI — may
// use the service (Profiles and Structures; empty means everyone).
func (s *Service) Allows(profile, uai string) bool {
	return s.allowed(&sso.Session{Profile: profile}, uai)
}

// CASService holds the CAS settings of a service.
type CASService struct {
	// ServicePatterns are anchored regular expressions (^…$) the service
	// URL must match, e.g. `^https://[0-9]{7}[A-Z]\.index-education\.net/pronote/.*$`.
	ServicePatterns []string `yaml:"service_patterns"`
	// ProxyCallbackPatterns allow pgtUrl callbacks (https only); empty:
	// the service gets no proxy-granting ticket.
	ProxyCallbackPatterns []string `yaml:"proxy_callback_patterns"`
	// NoAttributesOnV2 keeps attributes off /serviceValidate (CAS 2.0);
	// by default they ride there too, as entcore does, for Pronote.
	NoAttributesOnV2 bool `yaml:"no_attributes_on_v2"`
	// SingleLogout posts a logoutRequest to the service URL at logout.
	SingleLogout bool `yaml:"single_logout"`

	patterns      []*regexp.Regexp
	proxyPatterns []*regexp.Regexp
}

// OIDCService holds the OIDC settings of a client.
type OIDCService struct {
	ClientID string `yaml:"client_id"`
	// ClientSecret is empty for a public client, which must use PKCE.
	ClientSecret string `yaml:"client_secret"`
	// ApplicationType is web (default: a server or a browser app, https
	// redirects; http only for a confidential client) or native (a desktop,
	// command-line or phone app, RFC 8252: public, PKCE required, redirects
	// to the loopback interface on any port — http://127.0.0.1/cb matches
	// http://127.0.0.1:53127/cb — or to a private-use scheme named after a
	// domain the app owns, fr.example.app:/cb).
	ApplicationType string `yaml:"application_type"`
	// RedirectURIs and PostLogoutRedirectURIs are compared exactly, but
	// for a native client's loopback ones, whose port is not compared.
	RedirectURIs           []string `yaml:"redirect_uris"`
	PostLogoutRedirectURIs []string `yaml:"post_logout_redirect_uris"`
	BackChannelLogoutURI   string   `yaml:"back_channel_logout_uri"`
	// Scopes the client may ask for besides openid (default: profile,
	// email, offline_access).
	Scopes []string `yaml:"scopes"`
	// IDTokenOnRefresh puts a new ID token in refresh_token grant
	// responses. Off by default: OIDC Core 12.2 lets a refresh response
	// go without one, and signing it is most of a refresh's cost; turn it
	// on for clients that want a fresh ID token each time.
	IDTokenOnRefresh bool `yaml:"id_token_on_refresh"`
	// IDTokenSignedResponseAlg signs the client's ID tokens (and logout
	// tokens): RS256 (default, what every client supports) or ES256
	// (ECDSA P-256, about thirty times cheaper to sign; its keys are made on
	// the first start that needs them, published in the JWKS and rotated
	// with the RSA ones).
	IDTokenSignedResponseAlg string `yaml:"id_token_signed_response_alg"`
}

// SAMLService holds the SAML settings of a service provider.
type SAMLService struct {
	EntityID string `yaml:"entity_id"`
	// Exactly one of MetadataXML, MetadataFile, MetadataURL.
	MetadataXML  string `yaml:"metadata_xml"`
	MetadataFile string `yaml:"metadata_file"`
	MetadataURL  string `yaml:"metadata_url"`
	// NameIDFormat: transient (default), persistent (pairwise, stable per
	// SP) or attribute (the release policy's principal).
	NameIDFormat string `yaml:"name_id_format"`
	// SignatureAlgorithm: rsa-sha256 (default) or rsa-sha1 (legacy SPs).
	SignatureAlgorithm string `yaml:"signature_algorithm"`
	// EncryptAssertions encrypts to the SP's key.
	EncryptAssertions bool `yaml:"encrypt_assertions"`
	// SignResponse signs the Response as well as the Assertion (which is
	// always signed); off by default: one RSA signature per login.
	SignResponse bool `yaml:"sign_response"`
	// RequireSignedRequests refuses unsigned AuthnRequests even when the
	// SP metadata does not announce AuthnRequestsSigned.
	RequireSignedRequests bool `yaml:"require_signed_requests"`
	// IdPInitiated allows unsolicited responses (the GAR); RelayStates
	// lists the anchored patterns an IdP-initiated RelayState must match,
	// DefaultRelayState is used when none is given.
	IdPInitiated      bool     `yaml:"idp_initiated"`
	RelayStates       []string `yaml:"relay_states"`
	DefaultRelayState string   `yaml:"default_relay_state"`

	relayPatterns []*regexp.Regexp
}

// ReleasePolicy says what a service receives: the principal (CAS user,
// OIDC sub, SAML NameID when its format is "attribute") and the
// attributes. Nothing else is ever released.
type ReleasePolicy struct {
	// Principal is an attribute source (see Sources); default
	// "account.login". OIDC also accepts "pairwise".
	Principal  string          `yaml:"principal"`
	Attributes []AttributeRule `yaml:"attributes"`
}

// AttributeRule releases one attribute.
type AttributeRule struct {
	Source string `yaml:"source"` // see Sources: "person.last_name", "personas.profile", "const:…"
	Name   string `yaml:"name"`   // the released name: CAS element, OIDC claim, SAML Name
	// FriendlyName and NameFormat (uri, basic) are for SAML.
	FriendlyName string `yaml:"friendly_name"`
	NameFormat   string `yaml:"name_format"`
	// DateLayout reformats a YYYY-MM-DD value (Go layout, e.g. 02/01/2006).
	DateLayout string `yaml:"date_layout"`
	// Map translates values; a value without entry is dropped when
	// MapStrict, kept otherwise.
	Map       map[string]string `yaml:"map"`
	MapStrict bool              `yaml:"map_strict"`
	// Join joins several values into one with this separator.
	Join string `yaml:"join"`
	// Scope, for OIDC, releases the claim only when the scope was granted.
	Scope string `yaml:"scope"`
}

// withDefaults returns c with every zero duration and name set.
func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.SessionIdle, 2*time.Hour)
	def(&c.SessionMax, 10*time.Hour)
	def(&c.PendingTTL, 30*time.Minute)
	def(&c.TicketTTL, time.Minute)
	def(&c.CodeTTL, time.Minute)
	def(&c.AccessTokenTTL, 10*time.Minute)
	def(&c.RefreshTokenTTL, 10*time.Hour)
	def(&c.AssertionTTL, 5*time.Minute)
	def(&c.KeyOverlap, 24*time.Hour)
	def(&c.ServicesReload, 15*time.Second)
	if c.CookieName == "" {
		c.CookieName = "enthub_sso"
	}
	if c.LocalUpstream == "" {
		c.LocalUpstream = "local"
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.PortalURL == "" {
		c.PortalURL = c.PublicURL + "/"
	}
	t := &c.Throttle
	if t.FreeAttempts == 0 {
		t.FreeAttempts = 3
	}
	def(&t.Backoff, time.Second)
	def(&t.MaxBackoff, 5*time.Minute)
	if t.LockoutAfter == 0 {
		t.LockoutAfter = 10
	}
	def(&t.Lockout, 15*time.Minute)
	if t.IPFactor == 0 {
		t.IPFactor = 10
	}
	def(&t.Window, time.Hour)
	return c
}

// Validate checks the configuration and names the first bad field.
func (c Config) Validate() error {
	_, err := c.compile()
	return err
}

// compile validates and returns the configuration with defaults and
// compiled patterns.
func (c Config) compile() (Config, error) {
	c = c.withDefaults()
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return c, fmt.Errorf("idp config: PublicURL %q: want an absolute http(s) URL", c.PublicURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return c, fmt.Errorf("idp config: PublicURL %q: no query or fragment allowed", c.PublicURL)
	}
	if c.SessionIdle < 0 || c.SessionMax < 0 || c.SessionIdle > c.SessionMax {
		return c, fmt.Errorf("idp config: SessionIdle %s must be positive and at most SessionMax %s", c.SessionIdle, c.SessionMax)
	}
	if c.TicketTTL > 5*time.Minute {
		return c, fmt.Errorf("idp config: TicketTTL %s: CAS tickets must be short-lived (at most 5 min)", c.TicketTTL)
	}
	if c.CodeTTL > 10*time.Minute {
		return c, fmt.Errorf("idp config: CodeTTL %s: at most 10 min", c.CodeTTL)
	}
	if c.KeySecret != "" {
		if _, err := decodeKeySecret(c.KeySecret); err != nil {
			return c, fmt.Errorf("idp config: KeySecret: %w", err)
		}
	}
	if c.ServicesReload < time.Second {
		return c, fmt.Errorf("idp config: ServicesReload %s: at least 1s", c.ServicesReload)
	}
	services, err := compileServices("idp config", c.Services)
	if err != nil {
		return c, err
	}
	c.Services = services
	if err := c.GAR.validate(services); err != nil {
		return c, err
	}
	return c, nil
}

// ValidateServices checks a list of services as Config.Validate does
// (each service, and IDs, OIDC client IDs and SAML entity IDs unique), so
// that `enthub services import` refuses what a start would.
func ValidateServices(services []Service) error {
	_, err := compileServices("", services)
	return err
}

func compileServices(what string, in []Service) ([]Service, error) {
	seen := newUniqueness()
	services := make([]Service, len(in))
	for i, s := range in {
		where := serviceLabel(i, s.ID)
		if what != "" {
			where = what + ": " + where
		}
		if err := s.compile(); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if err := seen.add(&s); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		services[i] = s
	}
	return services, nil
}

// uniqueness tracks the identifiers two services may not share.
type uniqueness struct{ ids, clients, entities map[string]bool }

func newUniqueness() uniqueness {
	return uniqueness{ids: map[string]bool{}, clients: map[string]bool{}, entities: map[string]bool{}}
}

// check reports the identifier s shares with a service already added.
func (u uniqueness) check(s *Service) error {
	if u.ids[s.ID] {
		return keyErr("id", "%q used twice", s.ID)
	}
	if s.Protocol == ProtocolOIDC && u.clients[s.OIDC.ClientID] {
		return keyErr("oidc.client_id", "%q used twice", s.OIDC.ClientID)
	}
	if s.Protocol == ProtocolSAML && u.entities[s.SAML.EntityID] {
		return keyErr("saml.entity_id", "%q used twice", s.SAML.EntityID)
	}
	return nil
}

func (u uniqueness) add(s *Service) error {
	if err := u.check(s); err != nil {
		return err
	}
	u.ids[s.ID] = true
	switch s.Protocol {
	case ProtocolOIDC:
		u.clients[s.OIDC.ClientID] = true
	case ProtocolSAML:
		u.entities[s.SAML.EntityID] = true
	}
	return nil
}

var xmlName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

var serviceIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

func (s *Service) compile() error {
	if !serviceIDPattern.MatchString(s.ID) {
		return keyErr("id", "%q: want lower-case letters, digits, '.', '_' or '-', 63 at most", s.ID)
	}
	for i, p := range s.Profiles {
		if !p.Valid() {
			return keyErr(fmt.Sprintf("profiles[%d]", i), "%q: unknown profile (want %s)", p, profileNames())
		}
	}
	if err := s.Release.validate(s.Protocol); err != nil {
		return err
	}
	if err := s.Tile.check(); err != nil {
		return err
	}
	switch s.Protocol {
	case ProtocolCAS:
		for i, a := range s.Release.Attributes {
			if !xmlName.MatchString(a.Name) {
				return keyErr(fmt.Sprintf("release.attributes[%d].name", i), "%q is not a valid CAS attribute (XML element) name", a.Name)
			}
		}
		if len(s.CAS.ServicePatterns) == 0 {
			return keyErr("cas.service_patterns", "at least one pattern is required")
		}
		var err error
		if s.CAS.patterns, err = compilePatterns("cas.service_patterns", s.CAS.ServicePatterns); err != nil {
			return err
		}
		if s.CAS.proxyPatterns, err = compilePatterns("cas.proxy_callback_patterns", s.CAS.ProxyCallbackPatterns); err != nil {
			return err
		}
	case ProtocolOIDC:
		o := s.OIDC
		if o.ClientID == "" {
			return keyErr("oidc.client_id", "is required")
		}
		if len(o.RedirectURIs) == 0 {
			return keyErr("oidc.redirect_uris", "at least one is required")
		}
		native := false
		switch o.ApplicationType {
		case "", "web":
		case "native":
			native = true
			if o.ClientSecret != "" {
				return keyErr("oidc.client_secret", "a native client (oidc.application_type: native) runs on the user's device and cannot keep a secret: leave it empty, PKCE is required instead (RFC 8252 §8.5)")
			}
		default:
			return keyErr("oidc.application_type", "%q: want web or native", o.ApplicationType)
		}
		for _, list := range []struct {
			key  string
			uris []string
		}{{"oidc.redirect_uris", o.RedirectURIs}, {"oidc.post_logout_redirect_uris", o.PostLogoutRedirectURIs}} {
			for i, r := range list.uris {
				if err := checkRedirectURI(r, native, o.ClientSecret == ""); err != nil {
					return keyErr(fmt.Sprintf("%s[%d]", list.key, i), "%q: %v", r, err)
				}
			}
		}
		switch o.IDTokenSignedResponseAlg {
		case "", "RS256", "ES256":
		default:
			return keyErr("oidc.id_token_signed_response_alg", "%q: want RS256 or ES256", o.IDTokenSignedResponseAlg)
		}
		if o.BackChannelLogoutURI != "" {
			if u, err := url.Parse(o.BackChannelLogoutURI); err != nil || u.Host == "" {
				return keyErr("oidc.back_channel_logout_uri", "%q: want an absolute URL", o.BackChannelLogoutURI)
			}
		}
	case ProtocolSAML:
		m := s.SAML
		if m.EntityID == "" {
			return keyErr("saml.entity_id", "is required")
		}
		n := 0
		for _, v := range []string{m.MetadataXML, m.MetadataFile, m.MetadataURL} {
			if v != "" {
				n++
			}
		}
		if n != 1 {
			return keyErr("saml", "exactly one of metadata_xml, metadata_file, metadata_url is required")
		}
		switch m.NameIDFormat {
		case "", "transient", "persistent", "attribute":
		default:
			return keyErr("saml.name_id_format", "%q: want transient, persistent or attribute", m.NameIDFormat)
		}
		switch m.SignatureAlgorithm {
		case "", "rsa-sha256", "rsa-sha1":
		default:
			return keyErr("saml.signature_algorithm", "%q: want rsa-sha256 or rsa-sha1", m.SignatureAlgorithm)
		}
		var err error
		if s.SAML.relayPatterns, err = compilePatterns("saml.relay_states", m.RelayStates); err != nil {
			return err
		}
		if m.DefaultRelayState != "" && !matchAny(s.SAML.relayPatterns, m.DefaultRelayState) {
			return keyErr("saml.default_relay_state", "%q matches none of saml.relay_states", m.DefaultRelayState)
		}
	default:
		return keyErr("protocol", "%q: want cas, oidc or saml", s.Protocol)
	}
	return nil
}

// checkRedirectURI refuses, at registration, a redirect URI that the
// authorization endpoint would refuse for this kind of client: a client
// registered with one fails on every login, and only its users notice.
func checkRedirectURI(raw string, native, public bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Fragment != "" {
		return errors.New("want an absolute URI without fragment")
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return errors.New("want an absolute URL with a host")
		}
	case "http":
		if u.Host == "" {
			return errors.New("want an absolute URL with a host")
		}
		if native {
			if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
				return errors.New("a native client's http redirect must go to the loopback interface, 127.0.0.1 or [::1] (RFC 8252 §7.3; not localhost, §8.3)")
			}
		} else if public {
			return errors.New("a public web client must use https; a desktop or command-line app redirecting to 127.0.0.1 registers OIDC.ApplicationType native (RFC 8252)")
		}
	default:
		if !native {
			return errors.New("a web client's redirect must be https (or http for a confidential client); private-use schemes are for OIDC.ApplicationType native")
		}
		// RFC 8252 §7.1: a reverse domain name the app owns, so that no
		// other app claims it (and never javascript:, data:, file:).
		if !strings.Contains(u.Scheme, ".") {
			return errors.New("a private-use scheme must be a reverse domain name the app owns, such as fr.example.app (RFC 8252 §7.1)")
		}
	}
	return nil
}

func compilePatterns(field string, ps []string) ([]*regexp.Regexp, error) {
	out := make([]*regexp.Regexp, 0, len(ps))
	for i, p := range ps {
		if !strings.HasPrefix(p, "^") || !strings.HasSuffix(p, "$") {
			return nil, keyErr(fmt.Sprintf("%s[%d]", field, i), "%q: patterns must be anchored with ^ and $", p)
		}
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, keyErr(fmt.Sprintf("%s[%d]", field, i), "%q is not a regular expression: %v", p, err)
		}
		out = append(out, re)
	}
	return out, nil
}

func matchAny(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}
