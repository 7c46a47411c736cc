package oidc

import (
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/enthub/enthub/federation"
	"github.com/enthub/enthub/federation/simulate"
)

// rotate makes the provider publish only key (kid) at a new jwks_uri, named
// by its discovery document, the old jwks_uri answering 404: what a
// provider that rotated its keys and moved its key set looks like.
func (h *harness) rotate(key *rsa.PrivateKey, kid string) {
	h.wrap = func(w http.ResponseWriter, r *http.Request, op http.Handler) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration"):
			rec := httptest.NewRecorder()
			op.ServeHTTP(rec, r)
			var d map[string]any
			json.Unmarshal(rec.Body.Bytes(), &d)
			d["jwks_uri"] = h.op.Issuer + "/keys-2027"
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(d)
		case strings.HasSuffix(r.URL.Path, "/keys-2027"):
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"}}})
		case strings.HasSuffix(r.URL.Path, "/jwks"):
			http.NotFound(w, r)
		default:
			op.ServeHTTP(w, r)
		}
	}
}

func TestStaleDiscoveryDocument(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.DiscoveryRefresh = time.Hour })
	if _, _, err := h.login("agent.cantine", nil); err != nil {
		t.Fatal(err)
	}
	oldKey, oldKid := h.op.Key, h.op.KeyID
	newKey, _, err := simulate.KeyPair("op-2027")
	if err != nil {
		t.Fatal(err)
	}
	h.rotate(newKey, "k2")
	h.op.Key, h.op.KeyID = newKey, "k2"

	// Before the refresh is due, the connector still uses the discovery
	// document it read, whose jwks_uri is gone: the new key cannot be
	// fetched and the token is refused (nobody logged in on a guess).
	if _, _, err := h.login("agent.cantine", nil); federation.ReasonOf(err) != federation.ReasonSignature {
		t.Fatalf("before the refresh: %v, want a signature refusal", err)
	}
	// Once due, the discovery document is read again: the new key set is
	// used.
	h.later = 2 * time.Hour
	if _, _, err := h.login("agent.cantine", nil); err != nil {
		t.Fatalf("after the refresh: %v", err)
	}
	// A token signed with the retired key, no longer published, is refused.
	h.op.Key, h.op.KeyID = oldKey, oldKid
	if id, _, err := h.login("agent.cantine", nil); federation.ReasonOf(err) != federation.ReasonSignature {
		t.Fatalf("token signed by the retired key: %+v, %v, want a signature refusal", id, err)
	}
}

func TestRotatedKeyFetchedAtOnce(t *testing.T) {
	h := newHarness(t, nil)
	if _, _, err := h.login("agent.cantine", nil); err != nil {
		t.Fatal(err)
	}
	// Same jwks_uri, new key: fetched when a token names its kid, without
	// waiting for the refresh.
	newKey, _, err := simulate.KeyPair("op-2027")
	if err != nil {
		t.Fatal(err)
	}
	h.op.Key, h.op.KeyID = newKey, "k2"
	if _, _, err := h.login("agent.cantine", nil); err != nil {
		t.Fatalf("token signed by the new key: %v", err)
	}
}

func TestRetiredKeyRefusedAfterRefresh(t *testing.T) {
	h := newHarness(t, nil)
	if _, _, err := h.login("agent.cantine", nil); err != nil {
		t.Fatal(err)
	}
	oldKey := h.op.Key
	newKey, _, err := simulate.KeyPair("op-2027")
	if err != nil {
		t.Fatal(err)
	}
	// The provider stops publishing k1 (same jwks_uri): after the refresh
	// bound, the cached k1 is dropped and a token it signs is refused.
	h.wrap = func(w http.ResponseWriter, r *http.Request, op http.Handler) {
		if strings.HasSuffix(r.URL.Path, "/jwks") {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &newKey.PublicKey, KeyID: "k2", Algorithm: "RS256", Use: "sig"}}})
			return
		}
		op.ServeHTTP(w, r)
	}
	h.later = 2 * time.Hour
	h.op.Key = oldKey
	if _, _, err := h.login("agent.cantine", nil); federation.ReasonOf(err) != federation.ReasonSignature {
		t.Fatalf("token signed by a key no longer published: %v, want a signature refusal", err)
	}
}
