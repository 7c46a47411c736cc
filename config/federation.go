package config

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"time"
)

// Federation lists the upstream logins: EduConnect, the academic agents
// portal (SAML or OIDC), the département's Entra ID, the local password of
// guests. Several connectors of one type coexist (two académies' portals, a
// pre-production EduConnect). No connector: the password form alone.
type Federation struct {
	Connectors []Connector `yaml:"connectors"`
}

// Connector is one upstream login. Its endpoints follow from its id:
// /login/{id} starts a login, /federation/{id}/saml/acs,
// /federation/{id}/saml/metadata (our SP metadata), /federation/{id}/slo,
// /federation/{id}/oidc/callback.
type Connector struct {
	ID string `yaml:"id"`
	// Type is saml, oidc or local (the password form of guests).
	Type string `yaml:"type"`
	// Preset gives the defaults of a known upstream: educonnect and
	// agents-saml (type saml), agents-oidc and entra (type oidc).
	Preset string `yaml:"preset"`
	// Label is the method's name on the login chooser.
	Label string `yaml:"label"`
	// Profiles are the chooser's profiles the connector serves: eleve,
	// parent, personnel, collectivite, invite.
	Profiles []string      `yaml:"profiles"`
	SAML     SAMLConnector `yaml:"saml"`
	OIDC     OIDCConnector `yaml:"oidc"`
	// Link, when it has rules, replaces the preset's linking rules.
	Link Link `yaml:"link"`
}

// SAMLConnector is a SAML upstream (see federation/saml.Config: the keys
// are the same).
type SAMLConnector struct {
	// EntityID is ours towards the IdP (default: the URL of our metadata).
	EntityID                string            `yaml:"entity_id"`
	IdPMetadataFile         string            `yaml:"idp_metadata_file"`
	IdPMetadataURL          string            `yaml:"idp_metadata_url"`
	IdPEntityID             string            `yaml:"idp_entity_id"`
	MetadataSigningCertFile string            `yaml:"metadata_signing_cert_file"`
	MetadataRefresh         time.Duration     `yaml:"metadata_refresh"`
	SigningKeys             []KeyPair         `yaml:"signing_keys"`
	EncryptionKeys          []KeyPair         `yaml:"encryption_keys"`
	Binding                 string            `yaml:"binding"`
	SignatureAlgorithm      string            `yaml:"signature_algorithm"`
	AllowSHA1               bool              `yaml:"allow_sha1"`
	AllowRSA15              bool              `yaml:"allow_rsa1_5"`
	RequireEncryption       bool              `yaml:"require_encryption"`
	RequireSignedAssertion  bool              `yaml:"require_signed_assertion"`
	ClockSkew               time.Duration     `yaml:"clock_skew"`
	MaxAge                  time.Duration     `yaml:"max_age"`
	AllowIdPInitiated       bool              `yaml:"allow_idp_initiated"`
	SubjectAttribute        string            `yaml:"subject_attribute"`
	Attributes              map[string]string `yaml:"attributes"`
	NameIDFormat            string            `yaml:"name_id_format"`
	AuthnContextClassRef    string            `yaml:"authn_context_class_ref"`
	RequireBrowserBinding   bool              `yaml:"require_browser_binding"`
}

// KeyPair is a private key and its certificate, PEM files.
type KeyPair struct {
	KeyFile  string `yaml:"key_file"`
	CertFile string `yaml:"cert_file"`
}

// OIDCConnector is an OpenID Connect upstream (see federation/oidc.Config).
type OIDCConnector struct {
	Issuer   string `yaml:"issuer"`
	ClientID string `yaml:"client_id"`
	// ClientSecret, or ClientSecretFile holding it (keep secrets out of
	// the file under version control).
	ClientSecret     string            `yaml:"client_secret"`
	ClientSecretFile string            `yaml:"client_secret_file"`
	Scopes           []string          `yaml:"scopes"`
	Algorithms       []string          `yaml:"algorithms"`
	SubjectClaim     string            `yaml:"subject_claim"`
	TenantID         string            `yaml:"tenant_id"`
	Userinfo         bool              `yaml:"userinfo"`
	ClockSkew        time.Duration     `yaml:"clock_skew"`
	AuthParams       map[string]string `yaml:"auth_params"`
	// AAFIDClaim (preset entra) names the claim carrying the AAF id of a
	// student logging in on a school Windows device (e.g. employeeId).
	AAFIDClaim string `yaml:"aaf_id_claim"`
}

// Link is a connector's linking configuration (see federation/link).
type Link struct {
	Rules        []LinkRule        `yaml:"rules"`
	UAIAttribute string            `yaml:"uai_attribute"`
	Academies    map[string]string `yaml:"academies"`
}

// LinkRule is one linking rule, tried in order; the first that finds an
// account decides.
type LinkRule struct {
	Name         string   `yaml:"name"`
	Kind         string   `yaml:"kind"` // stored_link, aaf_vector, jointure, ine_uai, email
	Attributes   []string `yaml:"attributes"`
	Keys         []string `yaml:"keys"`
	Families     []string `yaml:"families"`
	UAIAttribute string   `yaml:"uai_attribute"`
}

// ChooserProfiles are the profiles a connector may serve, in the
// chooser's order.
var ChooserProfiles = []string{"eleve", "parent", "personnel", "collectivite", "invite"}

var connectorID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

var presetTypes = map[string]string{"educonnect": "saml", "agents-saml": "saml", "agents-oidc": "oidc", "entra": "oidc"}

// validateFederation checks the connectors; keys are named as written
// (federation.connectors[1].oidc.issuer).
func (c Config) validateFederation(add func(key, format string, args ...any)) {
	seen := map[string]bool{}
	locals := 0
	for i, fc := range c.Federation.Connectors {
		key := fmt.Sprintf("federation.connectors[%d]", i)
		switch {
		case !connectorID.MatchString(fc.ID):
			add(key+".id", "%q: want lower-case letters, digits and dashes (it appears in URLs)", fc.ID)
		case fc.ID == "persona":
			add(key+".id", "%q is taken by the persona page (/login/persona)", fc.ID)
		case seen[fc.ID]:
			add(key+".id", "%q is used twice", fc.ID)
		}
		seen[fc.ID] = true
		switch fc.Type {
		case "saml", "oidc":
		case "local":
			locals++
			if locals == 2 {
				add(key+".type", "only one local (password) connector")
			}
		default:
			add(key+".type", "%q: want saml, oidc or local", fc.Type)
		}
		if fc.Preset != "" {
			if t, ok := presetTypes[fc.Preset]; !ok {
				add(key+".preset", "%q: want educonnect, agents-saml, agents-oidc or entra", fc.Preset)
			} else if t != fc.Type {
				add(key+".preset", "%s is a %s preset, the connector is type %s", fc.Preset, t, fc.Type)
			}
		}
		if fc.Label == "" {
			add(key+".label", "the name shown on the login chooser is required")
		}
		if len(fc.Profiles) == 0 {
			add(key+".profiles", "at least one of %v", ChooserProfiles)
		}
		for j, p := range fc.Profiles {
			if !slices.Contains(ChooserProfiles, p) {
				add(fmt.Sprintf("%s.profiles[%d]", key, j), "%q: want one of %v", p, ChooserProfiles)
			}
		}
		switch fc.Type {
		case "saml":
			validateSAMLConnector(add, key+".saml", fc.SAML)
		case "oidc":
			validateOIDCConnector(add, key+".oidc", fc)
		}
		if (fc.Type == "saml" || fc.Type == "oidc") && fc.Preset == "" && len(fc.Link.Rules) == 0 {
			add(key+".link.rules", "a connector without preset needs its linking rules")
		}
		for j, r := range fc.Link.Rules {
			rk := fmt.Sprintf("%s.link.rules[%d]", key, j)
			switch r.Kind {
			case "stored_link":
			case "aaf_vector", "jointure", "email":
				if len(r.Attributes) == 0 {
					add(rk+".attributes", "needed for kind %s", r.Kind)
				}
			case "ine_uai":
				if len(r.Attributes) == 0 || r.UAIAttribute == "" {
					add(rk, "kind ine_uai needs attributes and uai_attribute")
				}
			default:
				add(rk+".kind", "%q: want stored_link, aaf_vector, jointure, ine_uai or email", r.Kind)
			}
		}
	}
}

func validateSAMLConnector(add func(key, format string, args ...any), key string, s SAMLConnector) {
	if (s.IdPMetadataFile == "") == (s.IdPMetadataURL == "") {
		add(key+".idp_metadata_file", "exactly one of idp_metadata_file and idp_metadata_url is needed")
	}
	if s.IdPMetadataURL != "" && !absoluteURL(s.IdPMetadataURL) {
		add(key+".idp_metadata_url", "%q is not an absolute http(s) URL", s.IdPMetadataURL)
	}
	if len(s.SigningKeys) == 0 {
		add(key+".signing_keys", "at least one key pair (requests are signed)")
	}
	for name, kps := range map[string][]KeyPair{"signing_keys": s.SigningKeys, "encryption_keys": s.EncryptionKeys} {
		for j, kp := range kps {
			if kp.KeyFile == "" || kp.CertFile == "" {
				add(fmt.Sprintf("%s.%s[%d]", key, name, j), "key_file and cert_file are both needed")
			}
		}
	}
	if s.Binding != "" && s.Binding != "redirect" && s.Binding != "post" {
		add(key+".binding", "%q: want redirect or post", s.Binding)
	}
}

func validateOIDCConnector(add func(key, format string, args ...any), key string, fc Connector) {
	o := fc.OIDC
	if !absoluteURL(o.Issuer) {
		add(key+".issuer", "%q is not an absolute http(s) URL", o.Issuer)
	}
	if o.ClientID == "" {
		add(key+".client_id", "required")
	}
	if o.ClientSecret != "" && o.ClientSecretFile != "" {
		add(key+".client_secret", "give client_secret or client_secret_file, not both")
	}
	if fc.Preset == "entra" && o.TenantID == "" {
		add(key+".tenant_id", "the entra preset pins the tenant: its GUID is required")
	}
	for j, a := range o.Algorithms {
		if a == "none" || (len(a) > 1 && a[:2] == "HS") {
			add(fmt.Sprintf("%s.algorithms[%d]", key, j), "%s is not allowed: ID tokens are signed with the provider's private key", a)
		}
	}
}

func absoluteURL(v string) bool {
	u, err := url.Parse(v)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
