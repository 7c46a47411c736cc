package saml

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/enthub/enthub/federation"
)

// FuzzResponse feeds arbitrary bytes to the Response checks: no input may
// crash them, and none forged without the IdP's key may be accepted.
func FuzzResponse(f *testing.F) {
	h := newHarness(f, nil)
	o := h.valid("id-1")
	f.Add(h.build(o))
	o.EncryptTo = nil
	f.Add(h.build(o))
	f.Add([]byte(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>`))
	md := h.c.idp.Load()
	f.Fuzz(func(t *testing.T, raw []byte) {
		// Every seed's assertion id is taken by its first acceptance;
		// later runs of a valid seed end as replays, never as crashes.
		a, err := h.c.verify(context.Background(), md, raw, "id-1")
		if err == nil && a.Issuer.Value != md.entityID {
			t.Fatalf("accepted an assertion from %q", a.Issuer.Value)
		}
	})
}

// FuzzMetadata feeds arbitrary bytes to the IdP metadata parser.
func FuzzMetadata(f *testing.F) {
	h := newHarness(f, nil)
	f.Add(h.idp.Metadata())
	f.Add([]byte(`<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata"/>`))
	now := time.Now()
	f.Fuzz(func(t *testing.T, raw []byte) {
		md, err := parseMetadata(raw, "", nil, now, time.Hour)
		if err == nil && len(md.certs) == 0 {
			t.Fatal("metadata accepted without a signing certificate")
		}
	})
}

// FuzzLogoutMessage feeds arbitrary logout messages, signed by the IdP (so
// that they reach the parser) or not, to HandleLogout: no input may crash
// it, and an unsigned one never ends a session.
func FuzzLogoutMessage(f *testing.F) {
	h := newHarness(f, withSLO)
	doc := etree.NewDocument()
	doc.SetRoot(h.logoutRequest(nil))
	seed, _ := doc.WriteToBytes()
	f.Add(seed, true)
	f.Add(seed, false)
	f.Add([]byte(`<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" InResponseTo="x"/>`), true)
	f.Fuzz(func(t *testing.T, raw []byte, signed bool) {
		var r *http.Request
		if signed {
			d := etree.NewDocument()
			if d.ReadFromBytes(raw) != nil || d.Root() == nil {
				return
			}
			u, err := signedRedirect(sloURL, "SAMLRequest", d.Root(), "", h.k.idpKey, dsig.RSASHA256SignatureMethod)
			if err != nil {
				return
			}
			r = httptest.NewRequest("GET", u, nil)
		} else {
			r = httptest.NewRequest("POST", sloURL, strings.NewReader(url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(raw)}}.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		h.c.HandleLogout(context.Background(), httptest.NewRecorder(), r, func(context.Context, federation.Logout) error {
			if !signed {
				t.Fatal("an unsigned LogoutRequest ended a session")
			}
			return nil
		})
	})
}
