package saml

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"hash"
	"testing"

	"github.com/beevik/etree"

	"github.com/enthub/enthub/federation"
	"github.com/enthub/enthub/federation/simulate"
)

// encryptXMLEnc11 replaces the Response's assertion by an
// EncryptedAssertion the way xmlsec1 and Shibboleth write one (EncryptedKey
// inside KeyInfo), with block cipher alg and key transport transport.
func encryptXMLEnc11(t *testing.T, to *x509.Certificate, alg, transport string) func(*etree.Element) {
	return func(resp *etree.Element) {
		var a *etree.Element
		for _, c := range resp.ChildElements() {
			if c.Tag == "Assertion" {
				a = c
			}
		}
		doc := etree.NewDocument()
		doc.SetRoot(a.Copy())
		plain, _ := doc.WriteToBytes()
		size := blockKeySize[alg].size
		key := make([]byte, size)
		rand.Read(key)
		block, _ := aes.NewCipher(key)
		var ct []byte
		if blockKeySize[alg].gcm {
			aead, _ := cipher.NewGCM(block)
			nonce := make([]byte, aead.NonceSize())
			rand.Read(nonce)
			ct = aead.Seal(nonce, nonce, plain, nil)
		} else {
			pad := aes.BlockSize - len(plain)%aes.BlockSize
			for i := 0; i < pad; i++ {
				plain = append(plain, byte(pad))
			}
			ct = make([]byte, aes.BlockSize+len(plain))
			rand.Read(ct[:aes.BlockSize])
			cipher.NewCBCEncrypter(block, ct[:aes.BlockSize]).CryptBlocks(ct[aes.BlockSize:], plain)
		}
		pub := to.PublicKey.(*rsa.PublicKey)
		var ek []byte
		var err error
		ekm := etree.NewElement("xenc:EncryptionMethod")
		ekm.CreateAttr("Algorithm", transport)
		switch transport {
		case algRSA15:
			//lint:ignore SA1019 the test plays an IdP that still uses RSA 1.5.
			ek, err = rsa.EncryptPKCS1v15(rand.Reader, pub, key)
		case algOAEPMGF1P:
			ek, err = rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, key, nil)
			dm := ekm.CreateElement("ds:DigestMethod")
			dm.CreateAttr("xmlns:ds", nsDSig)
			dm.CreateAttr("Algorithm", "http://www.w3.org/2000/09/xmldsig#sha1")
		case algOAEP11:
			var h hash.Hash = sha256.New()
			ek, err = rsa.EncryptOAEP(h, rand.Reader, pub, key, nil)
			dm := ekm.CreateElement("ds:DigestMethod")
			dm.CreateAttr("xmlns:ds", nsDSig)
			dm.CreateAttr("Algorithm", "http://www.w3.org/2001/04/xmlenc#sha256")
			mgf := ekm.CreateElement("xenc11:MGF")
			mgf.CreateAttr("xmlns:xenc11", "http://www.w3.org/2009/xmlenc11#")
			mgf.CreateAttr("Algorithm", "http://www.w3.org/2009/xmlenc11#mgf1sha256")
		}
		if err != nil {
			t.Fatal(err)
		}
		ea := etree.NewElement("saml:EncryptedAssertion")
		ea.CreateAttr("xmlns:saml", nsAssertion)
		ed := ea.CreateElement("xenc:EncryptedData")
		ed.CreateAttr("xmlns:xenc", nsXMLEnc)
		ed.CreateAttr("Type", "http://www.w3.org/2001/04/xmlenc#Element")
		ed.CreateElement("xenc:EncryptionMethod").CreateAttr("Algorithm", alg)
		ki := ed.CreateElement("ds:KeyInfo")
		ki.CreateAttr("xmlns:ds", nsDSig)
		ekEl := ki.CreateElement("xenc:EncryptedKey")
		ekEl.AddChild(ekm)
		ekEl.CreateElement("xenc:CipherData").CreateElement("xenc:CipherValue").SetText(base64.StdEncoding.EncodeToString(ek))
		ed.CreateElement("xenc:CipherData").CreateElement("xenc:CipherValue").SetText(base64.StdEncoding.EncodeToString(ct))
		resp.RemoveChild(a)
		resp.AddChild(ea)
	}
}

func TestDecryptsXMLEnc11(t *testing.T) {
	for name, tc := range map[string]struct{ alg, transport string }{
		"AES-128-GCM, RSA-OAEP-MGF1P":          {"http://www.w3.org/2009/xmlenc11#aes128-gcm", algOAEPMGF1P},
		"AES-256-GCM, RSA-OAEP-MGF1P":          {"http://www.w3.org/2009/xmlenc11#aes256-gcm", algOAEPMGF1P},
		"AES-256-GCM, RSA-OAEP (SHA-256 MGF1)": {"http://www.w3.org/2009/xmlenc11#aes256-gcm", algOAEP11},
		"AES-256-CBC, RSA-OAEP-MGF1P":          {"http://www.w3.org/2001/04/xmlenc#aes256-cbc", algOAEPMGF1P},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.RequireEncryption = true })
			reqID, relay, _ := h.start()
			o := h.valid(reqID)
			o.EncryptTo = nil
			o.EditResponse = encryptXMLEnc11(t, h.k.encCert, tc.alg, tc.transport)
			id, _, err := h.post(h.build(o), relay)
			if err != nil {
				t.Fatal(err)
			}
			if id.Subject != "e6759833fe1875" {
				t.Errorf("subject = %q", id.Subject)
			}
		})
	}
}

func TestRefusesTamperedGCMCiphertext(t *testing.T) {
	refusal(t, federation.ReasonDecrypt, nil, func(h *harness, o *simulate.Response) {
		o.EncryptTo = nil
		enc := encryptXMLEnc11(t, h.k.encCert, "http://www.w3.org/2009/xmlenc11#aes256-gcm", algOAEPMGF1P)
		o.EditResponse = func(r *etree.Element) {
			enc(r)
			cv := r.FindElement("./EncryptedAssertion/EncryptedData/CipherData/CipherValue")
			b, _ := base64.StdEncoding.DecodeString(cv.Text())
			b[len(b)/2] ^= 1
			cv.SetText(base64.StdEncoding.EncodeToString(b))
		}
	})
}

func TestRefusesRSA15KeyTransportUnlessAllowed(t *testing.T) {
	gcm := "http://www.w3.org/2009/xmlenc11#aes128-gcm"
	refusal(t, federation.ReasonAlgorithm, nil, func(h *harness, o *simulate.Response) {
		o.EncryptTo, o.EditResponse = nil, encryptXMLEnc11(t, h.k.encCert, gcm, algRSA15)
	})
	h := newHarness(t, func(c *Config) { c.AllowRSA15 = true })
	reqID, relay, _ := h.start()
	o := h.valid(reqID)
	o.EncryptTo, o.EditResponse = nil, encryptXMLEnc11(t, h.k.encCert, gcm, algRSA15)
	if _, _, err := h.post(h.build(o), relay); err != nil {
		t.Fatalf("RSA 1.5 where allowed: %v", err)
	}
}
