package idp

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/enthub/enthub/idp/sso"
)

// KeyOptions tune key generation and rotation.
type KeyOptions struct {
	// Secret is Config.KeySecret: base64 of 32 bytes that encrypts private
	// keys at rest; empty stores them in clear.
	Secret string
	// Overlap is how long a new key is published before it signs, and
	// the old one kept after (default 24 h).
	Overlap time.Duration
	// Rand is the randomness (default crypto/rand).
	Rand io.Reader
}

// KeyInfo describes a signing key, for `enthub keys rotate` to print.
type KeyInfo struct {
	ID         string
	ActiveFrom time.Time
	RetireAt   *time.Time
}

// signingKey is a decoded RSA key with its self-signed certificate.
type signingKey struct {
	ID         string
	Private    *rsa.PrivateKey
	Cert       *x509.Certificate
	ActiveFrom time.Time
	RetireAt   *time.Time
}

// ecKey is a decoded ECDSA P-256 key: it signs the ID tokens of the
// OIDC clients that registered ES256 (far cheaper than RSA). It has no
// certificate: SAML never uses it.
type ecKey struct {
	ID         string
	Private    *ecdsa.PrivateKey
	ActiveFrom time.Time
	RetireAt   *time.Time
}

// keyManager keeps the signing keys and the shared secret, shared by all
// instances through the store; it rereads the store every minute so a
// rotation made by `enthub keys rotate` reaches every instance.
type keyManager struct {
	store  sso.KeyStore
	now    func() time.Time
	opts   KeyOptions
	aead   cipher.AEAD
	logger *slog.Logger

	mu       sync.RWMutex
	loadedAt time.Time
	keys     []signingKey // RSA
	ec       []ecKey      // none until a client registers ES256
	shared   []byte
}

const keyReload = time.Minute

func newKeyManager(store sso.KeyStore, now func() time.Time, opts KeyOptions, logger *slog.Logger) (*keyManager, error) {
	if opts.Overlap == 0 {
		opts.Overlap = 24 * time.Hour
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	km := &keyManager{store: store, now: now, opts: opts, logger: logger}
	if opts.Secret != "" {
		k, err := decodeKeySecret(opts.Secret)
		if err != nil {
			return nil, fmt.Errorf("key secret: %w", err)
		}
		block, _ := aes.NewCipher(k)
		km.aead, _ = cipher.NewGCM(block)
	}
	return km, nil
}

func decodeKeySecret(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not base64: %w", err)
	}
	if len(k) != 32 {
		return nil, fmt.Errorf("want 32 bytes, got %d", len(k))
	}
	return k, nil
}

// ensure creates the first signing key and the shared secret if the store
// has none, and the first EC key when withEC (a client registered ES256)
// and there is none, then loads. Two instances starting together both
// try; the fixed ids make one win and both load the winner.
func (km *keyManager) ensure(ctx context.Context, withEC bool) error {
	keys, err := km.store.Keys(ctx)
	if err != nil {
		return err
	}
	var haveRSA, haveEC, haveSecret bool
	for _, k := range keys {
		haveRSA = haveRSA || k.Kind == "rsa"
		haveEC = haveEC || k.Kind == "ec"
		haveSecret = haveSecret || k.Kind == "secret"
	}
	now := km.now().UTC()
	if !haveSecret {
		b := make([]byte, 32)
		if _, err := io.ReadFull(km.opts.Rand, b); err != nil {
			return fmt.Errorf("shared secret: %w", err)
		}
		k := sso.Key{ID: "secret-1", Kind: "secret", CreatedAt: now, ActiveFrom: now}
		if k.Private, err = km.seal([]byte(base64.StdEncoding.EncodeToString(b))); err != nil {
			return err
		}
		if err := km.store.PutKey(ctx, k); err != nil && !errors.Is(err, sso.ErrReused) {
			return fmt.Errorf("store shared secret: %w", err)
		}
	}
	// first makes and stores a kind's first key; another instance starting
	// at the same moment may store its own first (ErrReused), which is fine.
	first := func(what, id string, generate func(string, time.Time, time.Time) (sso.Key, error)) error {
		k, err := generate(id, now, now)
		if err != nil {
			return err
		}
		if err := km.store.PutKey(ctx, k); err != nil && !errors.Is(err, sso.ErrReused) {
			return fmt.Errorf("store first %s: %w", what, err)
		}
		km.logger.Info("generated the first "+what, "key", k.ID)
		return nil
	}
	if !haveRSA {
		if err := first("signing key", "rsa-initial", km.generate); err != nil {
			return err
		}
	}
	if withEC && !haveEC {
		if err := first("EC signing key", "ec-initial", km.generateEC); err != nil {
			return err
		}
	}
	if km.aead == nil {
		km.logger.Warn("private keys are stored in clear in the database: set the key secret to encrypt them")
	} else if _, err := km.sealClear(ctx); err != nil {
		return err
	}
	return km.load(ctx)
}

// sealClear seals, with the key secret, the keys stored in clear: those
// made before the secret was set. It first opens every key already sealed,
// so that a wrong secret is an error and changes nothing rather than
// leaving keys sealed under two secrets. It logs and returns the ids sealed.
func (km *keyManager) sealClear(ctx context.Context) ([]string, error) {
	keys, err := km.store.Keys(ctx)
	if err != nil {
		return nil, err
	}
	var clear []sso.Key
	for _, k := range keys {
		if !isSealed(k.Private) {
			clear = append(clear, k)
			continue
		}
		if _, err := km.open(k.ID, k.Private); err != nil {
			return nil, fmt.Errorf("seal keys: %w (the key secret must be the one that sealed the stored keys)", err)
		}
	}
	var ids []string
	for _, k := range clear {
		sealed, err := km.seal(k.Private)
		if err != nil {
			return ids, fmt.Errorf("seal key %s: %w", k.ID, err)
		}
		err = km.store.SealKey(ctx, k.ID, k.Private, sealed)
		if errors.Is(err, sso.ErrNotFound) { // another instance sealed it first
			continue
		}
		if err != nil {
			return ids, err
		}
		ids = append(ids, k.ID)
	}
	if len(ids) > 0 {
		km.logger.Info(fmt.Sprintf("sealed %d keys", len(ids)), "keys", strings.Join(ids, ","))
	}
	return ids, nil
}

func isSealed(private []byte) bool { return strings.HasPrefix(string(private), sealedPrefix) }

// SealKeys seals the private keys stored in clear with opts.Secret: what
// `enthub keys seal` runs after ENTHUB_SSO_KEY_SECRET is set on a site
// whose keys predate it (serve does the same at start). It returns the ids
// sealed; a secret that does not open the keys already sealed is an error
// and seals nothing.
func SealKeys(ctx context.Context, store sso.KeyStore, opts KeyOptions, logger *slog.Logger) ([]string, error) {
	if opts.Secret == "" {
		return nil, errors.New("seal keys: no key secret (set ENTHUB_SSO_KEY_SECRET or sso.key_secret)")
	}
	km, err := newKeyManager(store, time.Now, opts, logger)
	if err != nil {
		return nil, err
	}
	return km.sealClear(ctx)
}

// KeyStatus describes a stored key for `enthub keys list`: never its
// private material.
type KeyStatus struct {
	ID        string `json:"id"`
	Algorithm string `json:"algorithm"`
	// State is next (published, signs later), active (signs now),
	// published (signed before, still published), or retired.
	State      string     `json:"state"`
	CreatedAt  time.Time  `json:"created_at"`
	ActiveFrom time.Time  `json:"active_from"`
	RetireAt   *time.Time `json:"retire_at,omitempty"`
	// Sealed says the private key is encrypted with the key secret.
	Sealed bool `json:"sealed"`
}

// ListKeys describes the stored keys as of now, oldest first.
func ListKeys(ctx context.Context, store sso.KeyStore, now time.Time) ([]KeyStatus, error) {
	keys, err := store.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	times := func(k sso.Key) (time.Time, *time.Time) { return k.ActiveFrom, k.RetireAt }
	active := map[string]bool{}
	for _, kind := range []string{"rsa", "ec", "secret"} {
		var of []sso.Key
		for _, k := range keys {
			if k.Kind == kind {
				of = append(of, k)
			}
		}
		if len(of) > 0 {
			active[of[activeIndex(of, now, times)].ID] = true
		}
	}
	out := make([]KeyStatus, 0, len(keys))
	for _, k := range keys {
		st := KeyStatus{ID: k.ID, Algorithm: keyAlgorithm(k.Kind), CreatedAt: k.CreatedAt, ActiveFrom: k.ActiveFrom,
			RetireAt: k.RetireAt, Sealed: isSealed(k.Private)}
		switch {
		case k.RetireAt != nil && !k.RetireAt.After(now):
			st.State = "retired"
		case active[k.ID]:
			st.State = "active"
		case k.ActiveFrom.After(now):
			st.State = "next"
		default:
			st.State = "published"
		}
		out = append(out, st)
	}
	return out, nil
}

func keyAlgorithm(kind string) string {
	switch kind {
	case "rsa":
		return "RS256" // also SAML's rsa-sha256
	case "ec":
		return "ES256"
	case "secret":
		return "HMAC-SHA256" // the shared secret: CSRF tokens, pairwise subjects, handles
	}
	return kind
}

// generate makes an RSA-2048 key and a self-signed certificate valid ten
// years.
func (km *keyManager) generate(id string, now, activeFrom time.Time) (sso.Key, error) {
	priv, err := rsa.GenerateKey(km.opts.Rand, 2048)
	if err != nil {
		return sso.Key{}, fmt.Errorf("generate key %s: %w", id, err)
	}
	serial, err := rand.Int(km.opts.Rand, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return sso.Key{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "enthub identity provider " + id},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(km.opts.Rand, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return sso.Key{}, fmt.Errorf("certificate for key %s: %w", id, err)
	}
	privPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(priv)})
	sealed, err := km.seal(privPEM)
	if err != nil {
		return sso.Key{}, err
	}
	return sso.Key{ID: id, Kind: "rsa", Private: sealed,
		Certificate: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		CreatedAt:   now, ActiveFrom: activeFrom}, nil
}

// generateEC makes an ECDSA P-256 key (ES256).
func (km *keyManager) generateEC(id string, now, activeFrom time.Time) (sso.Key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), km.opts.Rand)
	if err != nil {
		return sso.Key{}, fmt.Errorf("generate key %s: %w", id, err)
	}
	der, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		return sso.Key{}, fmt.Errorf("encode key %s: %w", id, err)
	}
	sealed, err := km.seal(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	if err != nil {
		return sso.Key{}, err
	}
	return sso.Key{ID: id, Kind: "ec", Private: sealed, CreatedAt: now, ActiveFrom: activeFrom}, nil
}

const sealedPrefix = "enc:v1:"

func (km *keyManager) seal(plain []byte) ([]byte, error) {
	if km.aead == nil {
		return plain, nil
	}
	nonce := make([]byte, km.aead.NonceSize())
	if _, err := io.ReadFull(km.opts.Rand, nonce); err != nil {
		return nil, err
	}
	return []byte(sealedPrefix + base64.StdEncoding.EncodeToString(km.aead.Seal(nonce, nonce, plain, nil))), nil
}

func (km *keyManager) open(id string, stored []byte) ([]byte, error) {
	s, ok := strings.CutPrefix(string(stored), sealedPrefix) // not sealed: made before the key secret was set
	if !ok {
		return stored, nil
	}
	if km.aead == nil {
		return nil, fmt.Errorf("key %s is encrypted and no key secret is configured", id)
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(raw) < km.aead.NonceSize() {
		return nil, fmt.Errorf("key %s: corrupt ciphertext", id)
	}
	plain, err := km.aead.Open(nil, raw[:km.aead.NonceSize()], raw[km.aead.NonceSize():], nil)
	if err != nil {
		return nil, fmt.Errorf("key %s: wrong key secret or tampered key: %w", id, err)
	}
	return plain, nil
}

func (km *keyManager) load(ctx context.Context) error {
	stored, err := km.store.Keys(ctx)
	if err != nil {
		return err
	}
	var keys []signingKey
	var ecs []ecKey
	var shared []byte
	for _, k := range stored {
		plain, err := km.open(k.ID, k.Private)
		if err != nil {
			return err
		}
		switch k.Kind {
		case "secret":
			if shared == nil {
				if shared, err = base64.StdEncoding.DecodeString(string(plain)); err != nil {
					return fmt.Errorf("shared secret %s: %w", k.ID, err)
				}
			}
		case "rsa":
			sk, err := decodeRSA(k, plain)
			if err != nil {
				return err
			}
			keys = append(keys, sk)
		case "ec":
			ek, err := decodeEC(k, plain)
			if err != nil {
				return err
			}
			ecs = append(ecs, ek)
		}
	}
	if len(keys) == 0 || shared == nil {
		return errors.New("keys: the store holds no signing key or no shared secret")
	}
	km.mu.Lock()
	km.keys, km.ec, km.shared, km.loadedAt = keys, ecs, shared, km.now()
	km.mu.Unlock()
	return nil
}

func decodeEC(k sso.Key, plain []byte) (ecKey, error) {
	b, _ := pem.Decode(plain)
	if b == nil {
		return ecKey{}, fmt.Errorf("key %s: no PEM block", k.ID)
	}
	priv, err := x509.ParseECPrivateKey(b.Bytes)
	if err != nil {
		return ecKey{}, fmt.Errorf("key %s: %w", k.ID, err)
	}
	if priv.Curve != elliptic.P256() {
		return ecKey{}, fmt.Errorf("key %s: curve %s, want P-256", k.ID, priv.Curve.Params().Name)
	}
	return ecKey{ID: k.ID, Private: priv, ActiveFrom: k.ActiveFrom, RetireAt: k.RetireAt}, nil
}

func decodeRSA(k sso.Key, plain []byte) (signingKey, error) {
	b, _ := pem.Decode(plain)
	if b == nil {
		return signingKey{}, fmt.Errorf("key %s: no PEM block", k.ID)
	}
	priv, err := x509.ParsePKCS1PrivateKey(b.Bytes)
	if err != nil {
		return signingKey{}, fmt.Errorf("key %s: %w", k.ID, err)
	}
	cb, _ := pem.Decode(k.Certificate)
	if cb == nil {
		return signingKey{}, fmt.Errorf("key %s: no certificate", k.ID)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return signingKey{}, fmt.Errorf("key %s: certificate: %w", k.ID, err)
	}
	return signingKey{ID: k.ID, Private: priv, Cert: cert, ActiveFrom: k.ActiveFrom, RetireAt: k.RetireAt}, nil
}

// refresh rereads the store once keyReload has passed; a failure keeps
// the keys already loaded.
func (km *keyManager) refresh() {
	km.mu.RLock()
	stale := km.now().Sub(km.loadedAt) > keyReload
	km.mu.RUnlock()
	if stale {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := km.load(ctx); err != nil {
			km.logger.Error("reload signing keys", "err", err)
			km.mu.Lock()
			km.loadedAt = km.now()
			km.mu.Unlock()
		}
	}
}

// active returns the RSA key that signs now.
func (km *keyManager) active() signingKey {
	km.refresh()
	km.mu.RLock()
	defer km.mu.RUnlock()
	i := activeIndex(km.keys, km.now(), rsaTimes)
	return km.keys[i]
}

// activeEC returns the EC key that signs now, false when there is none.
func (km *keyManager) activeEC() (ecKey, bool) {
	km.refresh()
	km.mu.RLock()
	defer km.mu.RUnlock()
	if len(km.ec) == 0 {
		return ecKey{}, false
	}
	i := activeIndex(km.ec, km.now(), ecTimes)
	return km.ec[i], true
}

// activeIndex picks the key that signs now: the newest already active
// and not retired (the last one when none is, so that signing goes on).
func activeIndex[K any](keys []K, now time.Time, times func(K) (time.Time, *time.Time)) int {
	best := -1
	var bestFrom time.Time
	for i, k := range keys {
		from, retire := times(k)
		if from.After(now) || (retire != nil && !retire.After(now)) {
			continue
		}
		if best < 0 || !from.Before(bestFrom) {
			best, bestFrom = i, from
		}
	}
	if best < 0 {
		return len(keys) - 1
	}
	return best
}

func rsaTimes(k signingKey) (time.Time, *time.Time) { return k.ActiveFrom, k.RetireAt }
func ecTimes(k ecKey) (time.Time, *time.Time)       { return k.ActiveFrom, k.RetireAt }

// published returns every RSA key relying parties should trust now: the
// active one, the next one, the previous ones not yet retired.
func (km *keyManager) published() []signingKey {
	km.refresh()
	km.mu.RLock()
	defer km.mu.RUnlock()
	return unretired(km.keys, km.now(), rsaTimes)
}

// publishedEC is published for the EC keys.
func (km *keyManager) publishedEC() []ecKey {
	km.refresh()
	km.mu.RLock()
	defer km.mu.RUnlock()
	return unretired(km.ec, km.now(), ecTimes)
}

// unretired is the keys whose retirement, if any, is still to come.
func unretired[K any](keys []K, now time.Time, times func(K) (time.Time, *time.Time)) []K {
	var out []K
	for _, k := range keys {
		if _, retire := times(k); retire == nil || retire.After(now) {
			out = append(out, k)
		}
	}
	return out
}

func (km *keyManager) secret() []byte {
	km.mu.RLock()
	defer km.mu.RUnlock()
	return km.shared
}

// RotateKeys adds a new signing key, published at once and signing after
// opts.Overlap, and schedules the retirement of the keys in use one
// overlap after that: relying parties that cache keys see the new one
// before it signs, and can still check what the old one signed. When the
// store holds EC keys (a client registered ES256), they rotate the same
// way, at the same time. It is what `enthub keys rotate` runs; every
// instance picks the change up within a minute. KeyInfo describes the new
// RSA key.
func RotateKeys(ctx context.Context, store sso.KeyStore, clock func() time.Time, opts KeyOptions) (KeyInfo, error) {
	km, err := newKeyManager(store, clock, opts, slog.New(slog.DiscardHandler))
	if err != nil {
		return KeyInfo{}, err
	}
	if err := km.ensure(ctx, false); err != nil {
		return KeyInfo{}, fmt.Errorf("rotate keys: %w", err)
	}
	now := clock().UTC()
	existing, err := store.Keys(ctx)
	if err != nil {
		return KeyInfo{}, fmt.Errorf("rotate keys: %w", err)
	}
	stamp := now.Format("20060102T150405.000000Z")
	k, err := km.generate("rsa-"+stamp, now, now.Add(km.opts.Overlap))
	if err != nil {
		return KeyInfo{}, fmt.Errorf("rotate keys: %w", err)
	}
	next := []sso.Key{k}
	for _, old := range existing {
		if old.Kind == "ec" {
			ek, err := km.generateEC("ec-"+stamp, now, now.Add(km.opts.Overlap))
			if err != nil {
				return KeyInfo{}, fmt.Errorf("rotate keys: %w", err)
			}
			next = append(next, ek)
			break
		}
	}
	for _, n := range next {
		if err := store.PutKey(ctx, n); err != nil {
			return KeyInfo{}, fmt.Errorf("rotate keys: %w", err)
		}
	}
	retire := now.Add(2 * km.opts.Overlap)
	for _, old := range existing {
		if (old.Kind != "rsa" && old.Kind != "ec") || (old.RetireAt != nil && !old.RetireAt.After(retire)) {
			continue
		}
		if err := store.RetireKey(ctx, old.ID, retire); err != nil {
			return KeyInfo{}, fmt.Errorf("rotate keys: retire %s: %w", old.ID, err)
		}
	}
	return KeyInfo{ID: k.ID, ActiveFrom: k.ActiveFrom}, nil
}
