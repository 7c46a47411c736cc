package load

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/federation/simulate"
)

// EduConnect is the bench's simulated EduConnect: the demo's simulation
// (federation/simulate, signed and encrypted assertions as the real one
// sends) answering for any student of the generated directory, who is
// named on its page by their AAF jointure (BrokeredJourney types it), so
// that every brokered login is a distinct identity linked by enthub.
type EduConnect struct {
	// URL is its base, on its own origin as the real one is.
	URL string
	// Federation is the federation part of an enthub.yaml trusting it,
	// plus the password form (profiles eleve and invite) the password
	// journeys use.
	Federation string
	srv        *http.Server
}

// LocalMethod is the id of the password form's connector in
// EduConnect.Federation.
const LocalMethod = "invites"

// StartEduConnect serves the simulation on a free port of 127.0.0.1 for
// the enthub at public; its keys and metadata are written to dir.
func StartEduConnect(public, dir string) (*EduConnect, error) {
	public = strings.TrimRight(public, "/")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	base := "http://" + l.Addr().String()
	idpKey, idpCert, err := simulate.KeyPair("enthub bench EduConnect")
	if err != nil {
		l.Close()
		return nil, err
	}
	sign, _, err := writePair(dir, "sp-signing")
	if err != nil {
		l.Close()
		return nil, err
	}
	enc, encCert, err := writePair(dir, "sp-encryption")
	if err != nil {
		l.Close()
		return nil, err
	}
	const id = simulate.EduConnectID
	sim := &simulate.SAMLIdP{EntityID: base + "/educonnect/metadata", SSOURL: base + "/educonnect/sso", Key: idpKey, Cert: idpCert}
	md := filepath.Join(dir, "idp-metadata.xml")
	if err := os.WriteFile(md, sim.Metadata(), 0o644); err != nil {
		l.Close()
		return nil, err
	}
	face := &simulate.SAMLFace{IdP: sim, Title: "Simulation — EduConnect (banc d'essai)",
		SPEntityID: public + "/federation/" + id + "/saml/metadata", ACS: public + "/federation/" + id + "/saml/acs",
		EncryptTo: encCert, ByID: student}
	e := &EduConnect{URL: base, srv: &http.Server{Handler: face.Handler(), ReadHeaderTimeout: 10 * time.Second}}
	e.Federation = fmt.Sprintf(`federation:
  connectors:
    - id: %s
      type: saml
      preset: educonnect
      label: EduConnect (simulation)
      profiles: [eleve, parent]
      saml:
        entity_id: %s
        idp_metadata_file: %s
        signing_keys: [{key_file: %s, cert_file: %s}]
        encryption_keys: [{key_file: %s, cert_file: %s}]
    - id: %s
      type: local
      label: Identifiant et mot de passe
      profiles: [eleve, invite]
`, id, face.SPEntityID, md, sign.key, sign.cert, enc.key, enc.cert, LocalMethod)
	go func() {
		if err := e.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "bench EduConnect:", err)
		}
	}()
	return e, nil
}

// Close stops the simulation.
func (e *EduConnect) Close() error { return e.srv.Close() }

// student is how EduConnect describes the student whose AAF jointure is
// aafID: what enthub's educonnect preset links by (FrEduCtRefId).
func student(aafID string) (simulate.Person, bool) {
	if aafID == "" {
		return simulate.Person{}, false
	}
	m := simulate.Member{Person: directory.Person{ID: aafID, AAFID: aafID}}
	return simulate.EduConnectPerson(m, "Élève", "eleve", ""), true
}

type pemPair struct{ key, cert string }

func writePair(dir, name string) (pemPair, *x509.Certificate, error) {
	p := pemPair{key: filepath.Join(dir, name+".key"), cert: filepath.Join(dir, name+".crt")}
	k, cert, err := simulate.KeyPair("enthub bench " + name)
	if err != nil {
		return p, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey((*rsa.PrivateKey)(k))
	if err != nil {
		return p, nil, err
	}
	if err := os.WriteFile(p.key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return p, nil, err
	}
	return p, cert, os.WriteFile(p.cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644)
}
