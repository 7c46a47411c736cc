package config

import (
	"errors"
	"strings"
	"testing"
)

// Each mistake in a connector is reported with its line and key path, all
// at once, and a valid list of several connectors of one type loads.
func TestFederationConnectors(t *testing.T) {
	good := `federation:
  connectors:
    - {id: invites, type: local, label: Invité, profiles: [invite]}
    - id: educonnect
      type: saml
      preset: educonnect
      label: ÉduConnect
      profiles: [eleve, parent]
      saml: {idp_metadata_url: "https://idp.example/md", signing_keys: [{key_file: k, cert_file: c}]}
    - id: agents-aix
      type: oidc
      preset: agents-oidc
      label: Portail agents (Aix-Marseille)
      profiles: [personnel]
      oidc: {issuer: "https://agents.ac-aix-marseille.fr", client_id: ent}
    - id: agents-nice
      type: oidc
      preset: agents-oidc
      label: Portail agents (Nice)
      profiles: [personnel]
      oidc: {issuer: "https://agents.ac-nice.fr", client_id: ent}
`
	cfg, err := Load(write(t, good), nil)
	if err != nil {
		t.Fatalf("valid connectors refused: %v", err)
	}
	if len(cfg.Federation.Connectors) != 4 || cfg.Federation.Connectors[1].SAML.IdPMetadataURL != "https://idp.example/md" {
		t.Fatalf("connectors read as %+v", cfg.Federation.Connectors)
	}
	bad := `federation:
  connectors:
    - {id: Edu Connect, type: saml, label: x, profiles: [eleve], preset: educonnect}
    - {id: persona, type: local, label: x, profiles: [invite]}
    - {id: e, type: ldap, label: x, profiles: [eleve]}
    - {id: f, type: oidc, preset: educonnect, profiles: [eleves], oidc: {issuer: "nope", algorithms: [HS256]}}
    - {id: f, type: oidc, preset: entra, label: x, profiles: [collectivite], oidc: {issuer: "https://login.example/t/v2.0", client_id: c}}
    - {id: g, type: saml, label: x, profiles: [eleve], saml: {idp_metadata_file: m, signing_keys: [{key_file: k, cert_file: c}]}, link: {rules: [{kind: guess}]}}
`
	_, err = Load(write(t, bad), nil)
	var problems Problems
	if !errors.As(err, &problems) {
		t.Fatalf("Load = %v, want Problems", err)
	}
	want := []string{
		`enthub.yaml:3: federation.connectors[0].id: "Edu Connect": want lower-case letters`,
		`federation.connectors[0].saml.idp_metadata_file: exactly one of`,
		`federation.connectors[0].saml.signing_keys: at least one key pair`,
		`enthub.yaml:4: federation.connectors[1].id: "persona" is taken`,
		`enthub.yaml:5: federation.connectors[2].type: "ldap": want saml, oidc or local`,
		`enthub.yaml:6: federation.connectors[3].preset: educonnect is a saml preset, the connector is type oidc`,
		`federation.connectors[3].label: the name shown on the login chooser is required`,
		`federation.connectors[3].profiles[0]: "eleves": want one of`,
		`federation.connectors[3].oidc.issuer: "nope" is not an absolute`,
		`federation.connectors[3].oidc.client_id: required`,
		`federation.connectors[3].oidc.algorithms[0]: HS256 is not allowed`,
		`enthub.yaml:7: federation.connectors[4].id: "f" is used twice`,
		`federation.connectors[4].oidc.tenant_id: the entra preset pins the tenant`,
		`federation.connectors[5].link.rules[0].kind: "guess": want stored_link`,
	}
	text := err.Error()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("missing problem %q in:\n%s", w, text)
		}
	}
}

func TestShowMasksConnectorSecrets(t *testing.T) {
	c := Default()
	c.Federation.Connectors = []Connector{{ID: "entra", OIDC: OIDCConnector{ClientSecret: "s3cr3t"}}}
	if got := c.Masked().Federation.Connectors[0].OIDC.ClientSecret; got != masked {
		t.Fatalf("client secret shown as %q", got)
	}
	if c.Federation.Connectors[0].OIDC.ClientSecret != "s3cr3t" {
		t.Fatal("Masked changed the configuration it was given")
	}
}
