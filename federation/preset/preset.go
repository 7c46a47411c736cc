// Package preset gives the default configuration of the upstreams a French
// ENT meets (federation.md §1–3). A preset is only defaults: every field can
// be overridden in the connector's configuration, and nothing here is
// special-cased elsewhere.
package preset

import (
	"github.com/enthub/enthub/federation/link"
	"github.com/enthub/enthub/federation/oidc"
	"github.com/enthub/enthub/federation/saml"
)

// EduConnect attribute names (SAML Name = OID, federation.md §1.2).
const (
	oidBase = "urn:oid:1.3.6.1.4.1.20326.10.999.1."
)

// EduConnectAttributes maps EduConnect's OIDs to their friendly names.
// FrEduCtRefId is matched by Name or FriendlyName (its OID is not in the
// public sources; entcore matches either).
var EduConnectAttributes = map[string]string{
	oidBase + "57":     "FrEduCtId",
	oidBase + "7":      "FrEduCtPersonAffiliation",
	oidBase + "72":     "FrEduCtEleveUAI",
	oidBase + "64":     "FrEduCtEleveINEHash",
	oidBase + "73":     "FrEduCtEleveNiveau",
	oidBase + "67":     "FrEduCtDateNaissance",
	oidBase + "6":      "FrEduCtDateConnexion",
	oidBase + "5":      "FrEduUrlRetour",
	"urn:oid:2.5.4.4":  "sn",
	"urn:oid:2.5.4.42": "givenName",
	"FrEduCtRefId":     "FrEduCtRefId",
	"FrEduCtEleveINE":  "FrEduCtEleveINE",
	"FrEduCtOpaqueId":  "FrEduCtOpaqueId",
}

// EduConnect is the SAML preset for EduConnect (students and parents):
// transient NameID, so the subject is FrEduCtId; assertions encrypted to
// us; requests signed RSA-SHA256; the front-channel logout URL in
// FrEduUrlRetour. Linking: the {AAF} vectors of FrEduCtRefId to the
// ENTPersonJointure of Eleve and PersRelEleve (raw id first, then
// "<ACADEMIE>-<id>" as entcore stores it), then the stored link, then INE +
// UAI for students when the clear INE is released. The INE hash
// (FrEduCtEleveINEHash) is not matched: its algorithm is not public.
func EduConnect(c saml.Config) (saml.Config, link.Config) {
	if c.SubjectAttribute == "" {
		c.SubjectAttribute = "FrEduCtId"
	}
	if c.Attributes == nil {
		c.Attributes = EduConnectAttributes
	}
	if c.LogoutURLAttribute == "" {
		c.LogoutURLAttribute = "FrEduUrlRetour"
	}
	if c.AuthnContextClassRef == "" {
		c.AuthnContextClassRef = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
	}
	c.RequireEncryption = c.RequireEncryption || len(c.EncryptionKeys) > 0
	return c, link.Config{
		UAIAttribute: "FrEduCtEleveUAI",
		Rules: []link.Rule{
			{Name: "educonnect-vecteur-aaf", Kind: link.AAFVector, Attributes: []string{"FrEduCtRefId"}, Keys: []string{"{id}", "{academie}-{id}"}, Families: []string{"Eleve", "PersRelEleve"}},
			{Name: "lien-enregistre", Kind: link.StoredLink},
			{Name: "eleve-ine-uai", Kind: link.INEUAI, Attributes: []string{"FrEduCtEleveINE"}, UAIAttribute: "FrEduCtEleveUAI", Families: []string{"Eleve"}},
		},
	}
}

// agentRules link agents: the stored link first (e-mail addresses change),
// then the academic address, then ENTPersonJointure when released.
func agentRules(mail ...string) link.Config {
	return link.Config{
		UAIAttribute: "FrEduRne",
		Rules: []link.Rule{
			{Name: "lien-enregistre", Kind: link.StoredLink},
			{Name: "agent-mail-academique", Kind: link.Email, Attributes: mail, Families: []string{"PersEducNat"}},
			{Name: "agent-jointure", Kind: link.Jointure, Attributes: []string{"ENTPersonJointure"}, Families: []string{"PersEducNat"}},
		},
	}
}

// AgentsSAML is the academic agents portal over SAML (the "guichet"):
// ctemail / mail, FrEduRne, FrEduRneResp, FrEduFonctAdm.
func AgentsSAML(c saml.Config) (saml.Config, link.Config) {
	return c, agentRules("mail", "ctemail")
}

// AgentsOIDC is the agents portal over OIDC (FIM): email, rne,
// FrEduFonctAdm, from userinfo.
func AgentsOIDC(c oidc.Config) (oidc.Config, link.Config) {
	if len(c.Scopes) == 0 {
		c.Scopes = []string{"openid", "profile", "email", "stage"}
	}
	c.Userinfo = true
	return c, agentRules("email")
}

// EntraID is EduProvence (the département's Entra ID tenant): issuer and
// tenant pinned to the tenant GUID (never "common"), subject oid (sub is
// pairwise per application), links kept on (issuer, oid). The first login
// of a student on a school Windows device links through a claim carrying
// the AAF id (claim names the tenant's attribute, e.g. employeeId), then
// through upn / e-mail to the AAF address.
func EntraID(tenant, clientID, secret, redirect, aafIDClaim string) (oidc.Config, link.Config) {
	c := oidc.Config{
		Issuer: "https://login.microsoftonline.com/" + tenant + "/v2.0", TenantID: tenant,
		ClientID: clientID, ClientSecret: secret, RedirectURL: redirect,
		Scopes: []string{"openid", "profile", "email"}, SubjectClaim: "oid",
	}
	rules := []link.Rule{{Name: "lien-enregistre", Kind: link.StoredLink}}
	if aafIDClaim != "" {
		rules = append(rules, link.Rule{Name: "entra-id-aaf", Kind: link.Jointure, Attributes: []string{aafIDClaim}})
	}
	rules = append(rules, link.Rule{Name: "entra-upn-mail", Kind: link.Email, Attributes: []string{"upn", "email", "preferred_username"}})
	return c, link.Config{Rules: rules}
}

// EntraJIT is the rule that creates a collectivité account at the first
// login of a member of one of groups in tenant (federation.md §3: ATI, ATC,
// kitchen staff have no AAF record), attached to the school whose UAI the
// claim structureClaim carries (a directory extension attribute; "" for
// none) or else to the structure of UAI structure. Append it last to
// EntraID's rules: the known people are linked first.
func EntraJIT(tenant string, groups []string, structureClaim, structure string) link.Rule {
	return link.Rule{Name: "entra-collectivite-jit", Kind: link.JustInTime, JIT: &link.JIT{
		Tenants: []string{tenant}, Groups: groups, StructureAttribute: structureClaim, Structure: structure}}
}
