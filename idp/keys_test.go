package idp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func (f *fixture) jwksKIDs() []string {
	f.t.Helper()
	_, b := f.get(http.DefaultClient, f.base+"/oidc/keys")
	var ks jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(b), &ks); err != nil {
		f.t.Fatal(err)
	}
	var ids []string
	for _, k := range ks.Keys {
		ids = append(ids, k.KeyID)
	}
	return ids
}

func (f *fixture) idTokenKID() string {
	f.t.Helper()
	tr := f.exchange(f.authorize(f.browser(), chamiloAuth()).Query().Get("code"))
	jws, err := jose.ParseSignedCompact(tr.IDToken, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		f.t.Fatalf("ID token: %v (%+v)", err, tr)
	}
	f.verifyIDToken(tr.IDToken)
	return jws.Signatures[0].Header.KeyID
}

func TestKeysGeneratedAtFirstStartSharedByInstances(t *testing.T) {
	f := newFixture(t)
	second, err := New(context.Background(), Config{PublicURL: f.base, Services: testServices()},
		Deps{Directory: f.store, SSO: f.store, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := f.p.keys.active().ID, second.keys.active().ID; a != b || a != "rsa-initial" {
		t.Fatalf("instances sign with %s and %s", a, b)
	}
	if string(f.p.keys.secret()) != string(second.keys.secret()) || len(f.p.keys.secret()) != 32 {
		t.Fatal("instances do not share the secret")
	}
	keys, _ := f.store.Keys(context.Background())
	if len(keys) != 2 {
		t.Fatalf("%d keys stored, want one signing key and one secret", len(keys))
	}
}

func TestKeyRotationPublishesNewKeyBeforeSigningAndKeepsOld(t *testing.T) {
	f := newFixture(t)
	if kid := f.idTokenKID(); kid != "rsa-initial" {
		t.Fatalf("signing with %s", kid)
	}
	info, err := RotateKeys(context.Background(), f.store, f.clock.Now, KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2 * time.Minute) // instances reread keys every minute
	if ids := f.jwksKIDs(); len(ids) != 2 {
		t.Fatalf("after rotation the JWKS publishes %v, want old and new", ids)
	}
	_, md := f.get(http.DefaultClient, f.base+"/saml/idp/metadata")
	certs := map[string]bool{}
	for _, m := range regexp.MustCompile(`>(MII[^<]+)<`).FindAllStringSubmatch(md, -1) {
		certs[m[1]] = true
	}
	if len(certs) != 2 {
		t.Fatalf("SAML metadata publishes %d distinct certificates, want old and new", len(certs))
	}
	if kid := f.idTokenKID(); kid != "rsa-initial" {
		t.Fatalf("the new key signs before its overlap: %s", kid)
	}
	f.clock.Advance(24 * time.Hour)
	if kid := f.idTokenKID(); kid != info.ID {
		t.Fatalf("after the overlap the new key %s must sign, got %s", info.ID, kid)
	}
	if ids := f.jwksKIDs(); len(ids) != 2 {
		t.Fatalf("the old key must stay published one more overlap: %v", ids)
	}
	f.clock.Advance(24 * time.Hour)
	if ids := f.jwksKIDs(); len(ids) != 1 || ids[0] != info.ID {
		t.Fatalf("after two overlaps only the new key is published: %v", ids)
	}
}

func TestKeysEncryptedAtRestWithKeySecret(t *testing.T) {
	secret := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	f := newFixture(t, func(c *Config) { c.KeySecret = secret })
	keys, _ := f.store.Keys(context.Background())
	for _, k := range keys {
		if !strings.HasPrefix(string(k.Private), sealedPrefix) || strings.Contains(string(k.Private), "PRIVATE KEY") {
			t.Fatalf("key %s stored in clear", k.ID)
		}
	}
	wrong := base64.StdEncoding.EncodeToString([]byte("fedcba9876543210fedcba9876543210"))
	if _, err := New(context.Background(), Config{PublicURL: f.base, KeySecret: wrong}, Deps{Directory: f.store, SSO: f.store, Now: f.clock.Now}); err == nil ||
		!strings.Contains(err.Error(), "wrong key secret") {
		t.Fatalf("wrong key secret: %v", err)
	}
	if _, err := RotateKeys(context.Background(), f.store, f.clock.Now, KeyOptions{Secret: secret}); err != nil {
		t.Fatal(err)
	}
}
