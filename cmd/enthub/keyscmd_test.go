package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/directory/sqlstore"
)

// Base64 of 32 bytes, as ENTHUB_SSO_KEY_SECRET wants; the second is
// another site's.
const (
	testKeySecret  = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	otherKeySecret = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="
)

type listedKey struct {
	ID, Algorithm, State string
	Sealed               bool
	RetireAt             *time.Time `json:"retire_at"`
}

func listKeys(t *testing.T, db string) []listedKey {
	t.Helper()
	code, out, errs := enthub(t, nil, "keys", "list", "--json", "--db", db)
	var keys []listedKey
	if code != 0 || json.Unmarshal([]byte(out), &keys) != nil {
		t.Fatalf("keys list = %d %q %q", code, out, errs)
	}
	return keys
}

// storedPrivate reads the private key column as stored, the way someone
// with a copy of the database would.
func storedPrivate(t *testing.T, db string) map[string]string {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), db, sqlstore.Options{Existing: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	keys, err := s.Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range keys {
		out[k.ID] = string(k.Private)
	}
	return out
}

// Keys made before ENTHUB_SSO_KEY_SECRET was set are sealed when serve
// starts with it, said in the log, and still sign; a wrong secret stops
// serve with a reason and seals nothing.
func TestServeSealsKeysMadeWithoutSecret(t *testing.T) {
	db := migratedDB(t)
	if code, _, errs := enthub(t, nil, "keys", "rotate", "--db", db); code != 0 {
		t.Fatalf("keys rotate = %d %s", code, errs)
	}
	before := storedPrivate(t, db)
	if len(before) != 3 {
		t.Fatalf("after a rotation the store holds %d keys, want 3 (first, shared secret, next)", len(before))
	}
	for id, k := range before {
		if strings.HasPrefix(k, "enc:") {
			t.Fatalf("key %s stored as %.30q before any secret", id, k)
		}
	}

	s := startServe(t, serveEnv(db, "ENTHUB_SSO_KEY_SECRET="+testKeySecret), 30*time.Second)
	if !strings.Contains(s.stderr.String(), `msg="sealed 3 keys"`) {
		t.Errorf("serve's log does not say it sealed 3 keys:\n%s", s.stderr.String())
	}
	resp, err := http.Get(s.base + "/saml/idp/metadata")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("metadata with sealed keys: %v %v", resp, err)
	}
	resp.Body.Close()
	if code := s.stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	for id, k := range storedPrivate(t, db) {
		if !strings.HasPrefix(k, "enc:v1:") || strings.Contains(k, "PRIVATE KEY") {
			t.Errorf("key %s stored as %.30q after serve with a secret", id, k)
		}
	}
	for _, k := range listKeys(t, db) {
		if !k.Sealed {
			t.Errorf("keys list: %s not sealed", k.ID)
		}
	}

	// The same secret again: nothing more to seal, and a rotation opens them.
	s = startServe(t, serveEnv(db, "ENTHUB_SSO_KEY_SECRET="+testKeySecret), 30*time.Second)
	if strings.Contains(s.stderr.String(), "sealed") {
		t.Errorf("second start sealed again:\n%s", s.stderr.String())
	}
	s.stop()
	env := []string{"ENTHUB_SSO_KEY_SECRET=" + testKeySecret}
	if code, _, errs := enthub(t, env, "keys", "rotate", "--db", db); code != 0 {
		t.Errorf("keys rotate with the secret after sealing = %d %s", code, errs)
	}

	// A wrong secret: serve refuses to start, naming the problem.
	sealed := storedPrivate(t, db)
	if s, code, log := tryServe(t, serveEnv(db, "ENTHUB_SSO_KEY_SECRET="+otherKeySecret), 30*time.Second); s != nil || code != 1 ||
		!strings.Contains(log, "wrong key secret") {
		t.Errorf("serve with a wrong secret = %v, %d:\n%s", s != nil, code, log)
	}
	if code, _, errs := enthub(t, []string{"ENTHUB_SSO_KEY_SECRET=" + otherKeySecret}, "keys", "seal", "--db", db); code != 1 ||
		!strings.Contains(errs, "wrong key secret") || !strings.Contains(errs, "must be the one that sealed") {
		t.Errorf("keys seal with a wrong secret = %d %q", code, errs)
	}
	after := storedPrivate(t, db)
	for id, k := range sealed {
		if after[id] != k {
			t.Errorf("a wrong secret changed key %s", id)
		}
	}
}

// `enthub keys seal` does what serve does at start, and `keys list`
// shows the states and never private material.
func TestKeysSealAndList(t *testing.T) {
	db := migratedDB(t)
	if code, _, errs := enthub(t, nil, "keys", "rotate", "--db", db); code != 0 {
		t.Fatalf("keys rotate = %d %s", code, errs)
	}
	keys := listKeys(t, db)
	states := map[string]string{}
	for _, k := range keys {
		states[k.ID] = k.Algorithm + " " + k.State
		if k.Sealed {
			t.Errorf("key %s sealed before any secret", k.ID)
		}
	}
	if states["rsa-initial"] != "RS256 active" || states["secret-1"] != "HMAC-SHA256 active" || len(keys) != 3 {
		t.Errorf("keys list = %+v", keys)
	}
	for _, k := range keys {
		if strings.HasPrefix(k.ID, "rsa-2") && (k.State != "next" || k.RetireAt != nil) {
			t.Errorf("rotated key %+v, want next", k)
		}
	}
	if code, _, errs := enthub(t, nil, "keys", "seal", "--db", db); code != 1 || !strings.Contains(errs, "ENTHUB_SSO_KEY_SECRET") {
		t.Errorf("keys seal without a secret = %d %q", code, errs)
	}
	env := []string{"ENTHUB_SSO_KEY_SECRET=" + testKeySecret}
	if code, out, errs := enthub(t, env, "keys", "seal", "--db", db); code != 0 || !strings.HasPrefix(out, "sealed 3 keys: ") {
		t.Errorf("keys seal = %d %q %q", code, out, errs)
	}
	if code, out, _ := enthub(t, env, "keys", "seal", "--db", db); code != 0 || !strings.Contains(out, "already sealed") {
		t.Errorf("keys seal again = %d %q", code, out)
	}
	code, out, _ := enthub(t, nil, "keys", "list", "--db", db)
	if code != 0 || !strings.Contains(out, "rsa-initial") || strings.Count(out, " yes\n") != 3 || strings.Contains(out, "PRIVATE") {
		t.Errorf("keys list (text) = %d\n%s", code, out)
	}
}
