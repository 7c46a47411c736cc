package saml

import (
	"context"
	"testing"
	"time"
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
