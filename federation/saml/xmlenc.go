package saml

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1" // OAEP's default digest
	_ "crypto/sha256"
	_ "crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/beevik/etree"
)

// XML Encryption of assertions, done here rather than with crewjam's
// xmlenc: v0.5.1 registers AES-GCM for 128-bit keys only (an IdP choosing
// aes256-gcm, the first method our metadata offers, could not be read), its
// GCM encrypter seals zeros, and its registry is a package global. Go's
// crypto does the work; this file only reads the XML around it.

// Algorithm URIs (XML Encryption 1.0 and 1.1).
const (
	algOAEPMGF1P = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
	algOAEP11    = "http://www.w3.org/2009/xmlenc11#rsa-oaep"
	algRSA15     = "http://www.w3.org/2001/04/xmlenc#rsa-1_5"
)

// blockKeySize is the AES key length of each allowed block cipher, and
// whether it is GCM.
var blockKeySize = map[string]struct {
	size int
	gcm  bool
}{
	"http://www.w3.org/2001/04/xmlenc#aes128-cbc": {16, false}, "http://www.w3.org/2001/04/xmlenc#aes192-cbc": {24, false},
	"http://www.w3.org/2001/04/xmlenc#aes256-cbc": {32, false}, "http://www.w3.org/2009/xmlenc11#aes128-gcm": {16, true},
	"http://www.w3.org/2009/xmlenc11#aes192-gcm": {24, true}, "http://www.w3.org/2009/xmlenc11#aes256-gcm": {32, true},
}

// crewjamSHA256 is the digest URI crewjam/saml's xmlenc.OAEP() writes (not
// a registered URI); it means SHA-256 for both the OAEP digest and MGF1,
// as crewjam encrypts. Go SAML IdPs built on crewjam (and our simulated
// EduConnect) send it.
const crewjamSHA256 = "http://www.w3.org/2000/09/xmldsig#sha256"

var digestByURI = map[string]crypto.Hash{
	crewjamSHA256:                            crypto.SHA256,
	"":                                       crypto.SHA1,
	"http://www.w3.org/2000/09/xmldsig#sha1": crypto.SHA1,
	"http://www.w3.org/2001/04/xmlenc#sha256":       crypto.SHA256,
	"http://www.w3.org/2001/04/xmldsig-more#sha384": crypto.SHA384,
	"http://www.w3.org/2001/04/xmlenc#sha512":       crypto.SHA512,
}

var mgfByURI = map[string]crypto.Hash{
	"": crypto.SHA1,
	"http://www.w3.org/2009/xmlenc11#mgf1sha1":   crypto.SHA1,
	"http://www.w3.org/2009/xmlenc11#mgf1sha256": crypto.SHA256,
	"http://www.w3.org/2009/xmlenc11#mgf1sha384": crypto.SHA384,
	"http://www.w3.org/2009/xmlenc11#mgf1sha512": crypto.SHA512,
}

// decryptKey opens an EncryptedKey with our private key; size is the key
// length the block cipher needs. The caller has checked the key transport
// algorithm is allowed.
func decryptKey(priv *rsa.PrivateKey, keyEl *etree.Element, size int) ([]byte, error) {
	ct, err := cipherValue(keyEl)
	if err != nil {
		return nil, fmt.Errorf("EncryptedKey: %w", err)
	}
	method := keyEl.FindElement("./EncryptionMethod")
	switch alg := attr(method, "Algorithm"); alg {
	case algOAEPMGF1P, algOAEP11:
		h, ok := digestByURI[attr(method.FindElement("./DigestMethod"), "Algorithm")]
		if !ok {
			return nil, fmt.Errorf("EncryptedKey: OAEP digest %q not supported", attr(method.FindElement("./DigestMethod"), "Algorithm"))
		}
		mgf := crypto.SHA1 // rsa-oaep-mgf1p is MGF1 with SHA-1 by definition
		if attr(method.FindElement("./DigestMethod"), "Algorithm") == crewjamSHA256 {
			mgf = crypto.SHA256
		}
		if alg == algOAEP11 {
			if mgf, ok = mgfByURI[attr(method.FindElement("./MGF"), "Algorithm")]; !ok {
				return nil, fmt.Errorf("EncryptedKey: MGF %q not supported", attr(method.FindElement("./MGF"), "Algorithm"))
			}
		}
		var label []byte
		if p := method.FindElement("./OAEPparams"); p != nil {
			if label, err = base64.StdEncoding.DecodeString(strings.TrimSpace(p.Text())); err != nil {
				return nil, fmt.Errorf("EncryptedKey: OAEPparams: %w", err)
			}
		}
		key, err := priv.Decrypt(nil, ct, &rsa.OAEPOptions{Hash: h, MGFHash: mgf, Label: label})
		if err != nil {
			return nil, fmt.Errorf("EncryptedKey: %w", err)
		}
		if len(key) != size {
			return nil, fmt.Errorf("EncryptedKey: %d-byte key for a %d-byte cipher", len(key), size)
		}
		return key, nil
	case algRSA15:
		// A random key on bad padding, so that a failure shows only as an
		// undecryptable assertion (Bleichenbacher mitigation, RFC 3218).
		key := make([]byte, size)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		//lint:ignore SA1019 RSA 1.5 is read only where a connector sets allow_rsa1_5 (an IdP that offers nothing else).
		if err := rsa.DecryptPKCS1v15SessionKey(nil, priv, ct, key); err != nil {
			return nil, fmt.Errorf("EncryptedKey: %w", err)
		}
		return key, nil
	default:
		return nil, fmt.Errorf("EncryptedKey: key transport %q not supported", alg)
	}
}

// decryptData opens EncryptedData (AES-CBC or AES-GCM, the IV first) with
// key.
func decryptData(key []byte, data *etree.Element) ([]byte, error) {
	alg := attr(data.FindElement("./EncryptionMethod"), "Algorithm")
	bc, ok := blockKeySize[alg]
	if !ok {
		return nil, fmt.Errorf("EncryptedData: block cipher %q not supported", alg)
	}
	if len(key) != bc.size {
		return nil, fmt.Errorf("EncryptedData: %d-byte key for %s", len(key), alg)
	}
	ct, err := cipherValue(data)
	if err != nil {
		return nil, fmt.Errorf("EncryptedData: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	if bc.gcm {
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		if len(ct) < aead.NonceSize()+aead.Overhead() {
			return nil, errors.New("EncryptedData: GCM ciphertext too short")
		}
		plain, err := aead.Open(nil, ct[:aead.NonceSize()], ct[aead.NonceSize():], nil)
		if err != nil {
			return nil, fmt.Errorf("EncryptedData: %w", err)
		}
		return plain, nil
	}
	bs := block.BlockSize()
	if len(ct) < 2*bs || len(ct)%bs != 0 {
		return nil, errors.New("EncryptedData: CBC ciphertext is not a whole number of blocks after the IV")
	}
	plain := make([]byte, len(ct)-bs)
	cipher.NewCBCDecrypter(block, ct[:bs]).CryptBlocks(plain, ct[bs:])
	// XML Encryption padding: the last byte is the padding length, the
	// others are arbitrary (not PKCS#7).
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > bs {
		return nil, errors.New("EncryptedData: bad CBC padding")
	}
	return plain[:len(plain)-pad], nil
}

func cipherValue(el *etree.Element) ([]byte, error) {
	cv := el.FindElement("./CipherData/CipherValue")
	if cv == nil {
		return nil, errors.New("no CipherData/CipherValue")
	}
	return base64.StdEncoding.DecodeString(strings.Join(strings.Fields(cv.Text()), ""))
}
