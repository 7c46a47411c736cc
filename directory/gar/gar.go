// Package gar holds what enthub gives the GAR (Gestionnaire d'Accès aux
// Ressources, the national hub of digital school resources): the daily
// GAR-ENT export of the subscribing schools' directory — XML valid against
// the GAR's schemas, split in files of at most 10,000 elements, packed as a
// .tar.gz with its .md5 and delivered by SFTP, each delivery journalled — and
// the two things the SSO must release to the GAR identically to the export:
// the person identifier and the national profile.
//
// It knows the directory's model, nothing of HTTP sessions.
package gar

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/enthub/enthub/directory"
)

// Project is the ENT's GAR project: its id, the schools that subscribe and
// the secret the person identifiers are derived from. The SAML IdP and the
// export both read it, so that what the GAR receives at login is what it
// received in the night's export.
type Project struct {
	// IDEnt is the ENT's GAR project id (idEnt), given by the GAR; it starts
	// every export file name and is released as idEnt at login.
	IDEnt string
	// Schools are the UAIs of the subscribing schools.
	Schools []string
	// Secret keys the person identifiers (see PersonID); at least 32 bytes.
	Secret []byte
	// RespAffProfiles are the profiles whose holders are the schools'
	// "responsables d'affectation" (GARRespAff: who assigns resources in the
	// GAR's console); default direction.
	RespAffProfiles []directory.Profile
}

// Validate names the first field that makes the project unusable.
func (p Project) Validate() error {
	if p.IDEnt == "" {
		return errors.New("gar: id_ent is required (the ENT's GAR project id, given by the GAR)")
	}
	if strings.ContainsAny(p.IDEnt, "/\\ \t\n") {
		return fmt.Errorf("gar: id_ent %q: no slash or space (it starts every export file name)", p.IDEnt)
	}
	if len(p.Secret) < 32 {
		return fmt.Errorf("gar: id_secret: %d bytes, want at least 32 (base64 of 32 random bytes)", len(p.Secret))
	}
	for i, u := range p.Schools {
		if u == "" || len(u) > 45 {
			return fmt.Errorf("gar: schools[%d]: %q is not a UAI", i, u)
		}
	}
	for i, pr := range p.RespAffProfiles {
		if _, ok := NationalProfile(pr); !ok {
			return fmt.Errorf("gar: resp_aff_profiles[%d]: %q is not a profile the GAR receives", i, pr)
		}
	}
	return nil
}

// Subscribes reports whether the school with this UAI subscribes to the GAR.
func (p Project) Subscribes(uai string) bool {
	return uai != "" && slices.Contains(p.Schools, uai)
}

// PersonaSubscribes reports whether a persona — a profile in the school
// with this UAI — reaches the GAR: the school subscribes and the GAR knows
// the profile. The portal shows the médiacentre tile on it.
func (p Project) PersonaSubscribes(uai string, profile directory.Profile) bool {
	_, ok := NationalProfile(profile)
	return ok && p.Subscribes(uai)
}

// PersonID is the GARPersonIdentifiant of a directory person: the same in
// every export and at every login, opaque, and not reversible to the login,
// the AAF id or the internal id.
//
// It is an HMAC-SHA256, keyed with the project's secret, of the project id
// and the internal person id, hex-encoded and cut to 40 characters (160
// bits; the schema allows 64). A keyed hash rather than a random id stored
// per person: nothing to write at login or at export, nothing to keep in
// step between enthub instances, the export and the IdP compute the same
// value from the same two inputs, and whoever reads the GAR's files cannot
// go back to the person without the secret. The price is that the secret
// must never change, as the internal person id never does: a new secret
// makes every user a stranger to the GAR (their assigned resources and
// progress are lost). The project id is hashed in too, so that two ENT
// projects sharing a secret by mistake still give unrelated identifiers.
func (p Project) PersonID(personID string) string {
	m := hmac.New(sha256.New, p.Secret)
	m.Write([]byte("GARPersonIdentifiant\x00" + p.IDEnt + "\x00" + personID))
	return hex.EncodeToString(m.Sum(nil))[:40]
}

// NationalProfile maps a directory profile to the GAR's national profile
// code (GARPersonProfil). Parents, local-authority staff and guests have
// none: the GAR-ENT export has no file for them and the IdP refuses them.
func NationalProfile(p directory.Profile) (string, bool) {
	switch p {
	case directory.ProfileEleve:
		return "National_elv", true
	case directory.ProfileEnseignant:
		return "National_ens", true
	case directory.ProfileDocumentaliste:
		return "National_doc", true
	case directory.ProfileDirection:
		return "National_dir", true
	case directory.ProfileVieScolaire:
		return "National_evs", true
	case directory.ProfilePersonnel:
		return "National_eta", true
	}
	return "", false
}

// IdPInitiatedURL is the address that starts an IdP-initiated login to the
// GAR's service provider (entityID) on the enthub at publicURL: the
// médiacentre tile links to it.
func IdPInitiatedURL(publicURL, entityID string) string {
	return strings.TrimRight(publicURL, "/") + "/saml/idp/sso?providerId=" + url.QueryEscape(entityID)
}

// FirstDegree reports whether a structure is a first-degree school (école),
// whose export follows the first-degree schema (GAR-ENT-1D.xsd).
func FirstDegree(s directory.Structure) bool {
	return strings.HasPrefix(strings.ToUpper(strings.TrimSpace(s.Type)), "ECOLE") ||
		(s.TypeCode != "" && s.TypeCode[0] == '1')
}
