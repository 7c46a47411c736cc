package simulate

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/enthub/enthub/config"
)

// The connector ids the simulated upstreams are configured under.
const (
	EduConnectID = "educonnect"
	AgentsSAMLID = "agents-saml"
	AgentsOIDCID = "agents-oidc"
	EntraID      = "eduprovence"
	LocalID      = "invites"
	// EntraTenant is the simulated tenant's id.
	EntraTenant = "5e1d0c4a-0000-4000-8000-0000000e0013"
)

// Upstreams are the four SIMULATED upstreams of the demo and the
// end-to-end tests — EduConnect (SAML, encrypted assertions), the agents
// portal over SAML and over OIDC, the département's Entra ID (OIDC) —
// served by Handler under Base (their own origin), with the enthub
// connectors that trust them.
type Upstreams struct {
	Base       string
	EduConnect *SAMLFace
	AgentsSAML *SAMLFace
	AgentsOIDC *OP
	Entra      *OP
	// Connectors configure enthub for them (key and metadata files under
	// the folder given to NewUpstreams), with the guests' password form.
	Connectors []config.Connector
}

// NewUpstreams builds the simulations at base for the enthub at public,
// with the cast's people; keys and metadata are written to (and, once
// there, read again from) dir.
func NewUpstreams(base, public, dir string, c Cast) (*Upstreams, error) {
	base, public = strings.TrimRight(base, "/"), strings.TrimRight(public, "/")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	key := func(name string) (*rsa.PrivateKey, *x509.Certificate, config.KeyPair, error) {
		kp := config.KeyPair{KeyFile: filepath.Join(dir, name+".key"), CertFile: filepath.Join(dir, name+".crt")}
		k, cert, err := loadPair(kp)
		if err == nil {
			return k, cert, kp, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, kp, err
		}
		if k, cert, err = KeyPair("enthub simulation " + name); err != nil {
			return nil, nil, kp, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, nil, kp, err
		}
		if err := os.WriteFile(kp.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, nil, kp, err
		}
		err = os.WriteFile(kp.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644)
		return k, cert, kp, err
	}
	_, spSignCert, spSign, err := key("sp-signing")
	if err != nil {
		return nil, err
	}
	_, encCert, spEnc, err := key("sp-encryption")
	if err != nil {
		return nil, err
	}
	u := &Upstreams{Base: base}
	samlIdP := func(id, name, path string, people []Person, encrypt bool) (*SAMLFace, config.Connector, error) {
		k, cert, _, err := key("idp-" + id)
		if err != nil {
			return nil, config.Connector{}, err
		}
		idp := &SAMLIdP{EntityID: base + path + "/metadata", SSOURL: base + path + "/sso", SLOURL: base + path + "/slo", Key: k, Cert: cert}
		md := filepath.Join(dir, "idp-"+id+"-metadata.xml")
		if err := os.WriteFile(md, idp.Metadata(), 0o644); err != nil {
			return nil, config.Connector{}, err
		}
		face := &SAMLFace{IdP: idp, Title: "Simulation — " + name, SPEntityID: public + "/federation/" + id + "/saml/metadata",
			ACS: public + "/federation/" + id + "/saml/acs", SPSLO: public + "/federation/" + id + "/slo", SPCert: spSignCert, People: people}
		cc := config.Connector{ID: id, Type: "saml", Label: name + " (simulation)", SAML: config.SAMLConnector{
			EntityID: face.SPEntityID, IdPMetadataFile: md, SigningKeys: []config.KeyPair{spSign}}}
		if encrypt {
			face.EncryptTo = encCert
			cc.SAML.EncryptionKeys = []config.KeyPair{spEnc}
		}
		return face, cc, nil
	}
	ect, ectC, err := samlIdP(EduConnectID, "EduConnect", "/educonnect", []Person{
		EduConnectPerson(c.Student, "Élève", "eleve", base+"/educonnect/slo"),
		EduConnectPerson(c.Parent, "Parent de deux enfants dans deux établissements", "responsable", base+"/educonnect/slo"),
		UnknownEduConnectPerson(firstUAI(c.Student)),
	}, true)
	if err != nil {
		return nil, err
	}
	ectC.Preset, ectC.Profiles = "educonnect", []string{"eleve", "parent"}
	ags, agsC, err := samlIdP(AgentsSAMLID, "portail agents (SAML)", "/agents-saml", []Person{
		AgentSAMLPerson(c.Teacher, "Enseignant dans deux établissements"),
		AgentSAMLPerson(c.Principal, principalRole(c)),
	}, false)
	if err != nil {
		return nil, err
	}
	agsC.Preset, agsC.Profiles = "agents-saml", []string{"personnel"}
	agsC.Link = agentLink("mail", "ctemail")
	u.EduConnect, u.AgentsSAML = ect, ags

	op := func(id, name, path, tenant string, users map[string]map[string]any, labels map[string]string) (*OP, config.Connector, error) {
		k, _, _, err := key("op-" + id)
		if err != nil {
			return nil, config.Connector{}, err
		}
		p := &OP{Issuer: base + path, Key: k, KeyID: id + "-1", ClientID: "enthub-" + id, ClientSecret: "simulation-" + id,
			TenantID: tenant, Users: users, Title: "Simulation — " + name, Labels: labels,
			PostLogoutRedirectURIs: []string{public + "/federation/" + id + "/slo"}}
		cc := config.Connector{ID: id, Type: "oidc", Label: name + " (simulation)", OIDC: config.OIDCConnector{
			Issuer: p.Issuer, ClientID: p.ClientID, ClientSecret: p.ClientSecret}}
		return p, cc, nil
	}
	agoUsers := map[string]map[string]any{"enseignant": AgentOIDCClaims(c.Teacher), "direction": AgentOIDCClaims(c.Principal)}
	agoLabels := map[string]string{"enseignant": c.Teacher.label("Enseignant dans deux établissements"), "direction": c.Principal.label(principalRole(c))}
	ago, agoC, err := op(AgentsOIDCID, "portail agents (OIDC)", "/agents-oidc", "", agoUsers, agoLabels)
	if err != nil {
		return nil, err
	}
	agoC.Preset, agoC.Profiles = "agents-oidc", []string{"personnel"}
	agoC.Link = agentLink("email")
	entUsers := map[string]map[string]any{"agent": EntraClaims(c.Agent, AgentEmail, ""), "eleve": EntraClaims(c.Student, "", "employeeId")}
	entLabels := map[string]string{"agent": c.Agent.label("Agent de la collectivité"), "eleve": c.Student.label("Élève sur un poste du collège")}
	ent, entC, err := op(EntraID, "EduProvence (Entra ID)", "/entra/"+EntraTenant+"/v2.0", EntraTenant, entUsers, entLabels)
	if err != nil {
		return nil, err
	}
	entC.Preset, entC.Profiles = "entra", []string{"collectivite", "eleve"}
	entC.OIDC.TenantID, entC.OIDC.AAFIDClaim = EntraTenant, "employeeId"
	u.AgentsOIDC, u.Entra = ago, ent
	u.Connectors = []config.Connector{ectC, agsC, agoC, entC,
		{ID: LocalID, Type: "local", Label: "Compte invité (identifiant et mot de passe)", Profiles: []string{"invite"}}}
	return u, nil
}

// agentLink is the agents presets' linking with the academic address also
// matched on parent (PersRelEleve) records, so that the principal who is
// also a parent (SeedPrincipalParent) gets both accounts from one login.
// It is the demo's choice, not the presets': a parent record's address is
// what the parent told the school, and a typo there would hand an agent
// another family's account.
func agentLink(mail ...string) config.Link {
	return config.Link{Rules: []config.LinkRule{
		{Name: "lien-enregistre", Kind: "stored_link"},
		{Name: "agent-mail-academique", Kind: "email", Attributes: mail, Families: []string{"PersEducNat", "PersRelEleve"}},
		{Name: "agent-jointure", Kind: "jointure", Attributes: []string{"ENTPersonJointure"}, Families: []string{"PersEducNat"}},
	}}
}

func principalRole(c Cast) string {
	if c.PrincipalAsParent.Person.ID != "" {
		return "Chef d'établissement, aussi parent d'élève"
	}
	return "Chef d'établissement"
}

func firstUAI(m Member) string {
	if len(m.UAIs) > 0 {
		return m.UAIs[0]
	}
	return ""
}

func loadPair(kp config.KeyPair) (*rsa.PrivateKey, *x509.Certificate, error) {
	kb, err := os.ReadFile(kp.KeyFile)
	if err != nil {
		return nil, nil, err
	}
	cb, err := os.ReadFile(kp.CertFile)
	if err != nil {
		return nil, nil, err
	}
	kblock, _ := pem.Decode(kb)
	cblock, _ := pem.Decode(cb)
	if kblock == nil || cblock == nil {
		return nil, nil, fmt.Errorf("%s or %s: not PEM", kp.KeyFile, kp.CertFile)
	}
	k, err := x509.ParsePKCS8PrivateKey(kblock.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", kp.KeyFile, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("%s: not RSA", kp.KeyFile)
	}
	cert, err := x509.ParseCertificate(cblock.Bytes)
	return rk, cert, err
}

// Handler serves the four simulations under their paths, and an index
// page listing them.
func (u *Upstreams) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/educonnect/", u.EduConnect.Handler())
	mux.Handle("/agents-saml/", u.AgentsSAML.Handler())
	mux.Handle("/agents-oidc/", u.AgentsOIDC.Handler())
	mux.Handle("/entra/", u.Entra.Handler())
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		page(w, http.StatusOK, "Simulations d'enthub", "Ces fournisseurs d'identité sont SIMULÉS pour la démonstration : "+
			"EduConnect, le portail agents (SAML et OIDC) et EduProvence (Entra ID). Commencez depuis la page de connexion de l'ENT.", nil)
	})
	return mux
}
