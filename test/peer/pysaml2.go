package peer

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// PySAML2 is pysaml2's identity provider (Debian python3-pysaml2, signing and encrypting with
// xmlsec1) run by test/peer/pysaml2idp/idp.py: a SAML upstream that shares no code with enthub.
// It requires signed AuthnRequests (Redirect), signs the assertion with RSA-SHA256, encrypts it to
// the SP's encryption certificate (RSA-OAEP, AES) and posts it to the ACS; its login page is a
// form that picks one of Users.
type PySAML2 struct {
	// URL is the IdP's base URL; its metadata is at URL + "/metadata", its entityID URL + "/idp".
	URL      string
	EntityID string
}

// PySAML2Options configures the IdP.
type PySAML2Options struct {
	// SPMetadata is the service provider's metadata (its signing and encryption certificates).
	SPMetadata []byte
	// Cipher encrypts assertions: "aes256-cbc" (default), "aes128-gcm" or "aes256-gcm".
	Cipher string
	// Users are the accounts of the login form: login -> attribute name -> values. Names are
	// released as given (EduConnect's OIDs) with the URI name format.
	Users map[string]map[string][]string
}

// PySAML2IdP starts the IdP for the test, or stops the test through Need when python3-pysaml2 or
// xmlsec1 is missing.
func PySAML2IdP(t testing.TB, o PySAML2Options) *PySAML2 {
	t.Helper()
	NeedPySAML2(t)
	python := "/usr/bin/python3"
	dir := t.TempDir()
	keyFile, certFile := filepath.Join(dir, "idp.key"), filepath.Join(dir, "idp.crt")
	if err := writeKeyPair(keyFile, certFile, "pysaml2 test IdP"); err != nil {
		t.Fatal(err)
	}
	spMD := filepath.Join(dir, "sp.xml")
	if err := os.WriteFile(spMD, o.SPMetadata, 0o600); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(RepoRoot(t), "test", "peer", "pysaml2idp", "idp.py")
	addr := StartOnFreePort(t, "pysaml2-idp", func(port int) *exec.Cmd {
		conf, _ := json.Marshal(map[string]any{"port": port, "key_file": keyFile, "cert_file": certFile,
			"sp_metadata_file": spMD, "cipher": o.Cipher, "users": o.Users})
		cmd := exec.Command(python, script)
		cmd.Stdin = bytes.NewReader(conf)
		return cmd
	})
	base := "http://" + addr
	return &PySAML2{URL: base, EntityID: base + "/idp"}
}

// NeedPySAML2 stops the test through Need when PySAML2IdP could not start
// (python3-pysaml2 or xmlsec1 missing): what a test calls first when it
// starts the IdP where it may not stop (another goroutine).
func NeedPySAML2(t testing.TB) {
	t.Helper()
	RequireBinary(t, "xmlsec1")
	err := exec.Command("/usr/bin/python3", "-c", "import saml2").Run()
	Need(t, "pysaml2", err == nil, "/usr/bin/python3 cannot import saml2 (apt-get install python3-pysaml2)")
}

// writeKeyPair writes an RSA-2048 key and a self-signed certificate as PEM files.
func writeKeyPair(keyFile, certFile, name string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
}
