package ldap

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/enthub/enthub/directory"
	"golang.org/x/crypto/argon2"
)

// Auditor receives the security events of the LDAP front: failed binds
// (Type "bind.failed", Outcome "refused", Reason saying why: bad password,
// unknown DN, throttled, disabled account…) and successful binds of persons
// (Type "login", Service "ldap"). The lead wires it to the store's audit
// log; Event must not block for long (it runs on the connection's
// goroutine).
type Auditor interface {
	Event(ctx context.Context, e directory.Event)
}

type nopAuditor struct{}

func (nopAuditor) Event(context.Context, directory.Event) {}

// Password hashes accepted for service accounts and persons' local
// passwords: argon2id in the PHC string format
// ($argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>, raw standard base64, also
// with OpenLDAP's {ARGON2} prefix) and the salted SHA family {SSHA},
// {SSHA256}, {SSHA512} (base64 of digest‖salt). Plain text is refused.

var errHashFormat = errors.New("unsupported password hash")

// argon2 parameters are bounded so that a hash written by mistake (or by
// an attacker with store access) cannot make every bind allocate
// gigabytes.
const (
	maxArgonMemoryKiB = 1 << 20 // 1 GiB
	maxArgonTime      = 16
	maxArgonThreads   = 64
)

type argonParams struct {
	m       uint32
	t       uint32
	p       uint8
	salt    []byte
	hash    []byte
	version int
}

func parseArgon2id(h string) (argonParams, error) {
	h = strings.TrimPrefix(h, "{ARGON2}")
	parts := strings.Split(h, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return argonParams{}, fmt.Errorf("%w: want $argon2id$v=19$m=…,t=…,p=…$salt$hash", errHashFormat)
	}
	var a argonParams
	if !strings.HasPrefix(parts[2], "v=") {
		return a, fmt.Errorf("%w: argon2id version field %q", errHashFormat, parts[2])
	}
	v, err := strconv.Atoi(parts[2][2:])
	if err != nil || v != argon2.Version {
		return a, fmt.Errorf("%w: argon2id version %q (want %d)", errHashFormat, parts[2], argon2.Version)
	}
	a.version = v
	for _, kv := range strings.Split(parts[3], ",") {
		k, val, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(val, 10, 32)
		if !ok || err != nil {
			return a, fmt.Errorf("%w: argon2id parameter %q", errHashFormat, kv)
		}
		switch k {
		case "m":
			a.m = uint32(n)
		case "t":
			a.t = uint32(n)
		case "p":
			if n > 255 {
				return a, fmt.Errorf("%w: argon2id parallelism %d", errHashFormat, n)
			}
			a.p = uint8(n)
		default:
			return a, fmt.Errorf("%w: argon2id parameter %q", errHashFormat, kv)
		}
	}
	if a.m == 0 || a.t == 0 || a.p == 0 || a.m > maxArgonMemoryKiB || a.t > maxArgonTime || a.p > maxArgonThreads {
		return a, fmt.Errorf("%w: argon2id parameters m=%d t=%d p=%d out of bounds (m≤%d KiB, t≤%d, p≤%d)",
			errHashFormat, a.m, a.t, a.p, maxArgonMemoryKiB, maxArgonTime, maxArgonThreads)
	}
	if a.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(a.salt) < 8 {
		return a, fmt.Errorf("%w: argon2id salt", errHashFormat)
	}
	if a.hash, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(a.hash) < 16 {
		return a, fmt.Errorf("%w: argon2id hash", errHashFormat)
	}
	return a, nil
}

func parseSSHA(h string) (func() hash.Hash, []byte, []byte, error) {
	var newHash func() hash.Hash
	var size int
	var rest string
	switch {
	case strings.HasPrefix(h, "{SSHA}"):
		newHash, size, rest = sha1.New, sha1.Size, h[len("{SSHA}"):]
	case strings.HasPrefix(h, "{SSHA256}"):
		newHash, size, rest = sha256.New, sha256.Size, h[len("{SSHA256}"):]
	case strings.HasPrefix(h, "{SSHA512}"):
		newHash, size, rest = sha512.New, sha512.Size, h[len("{SSHA512}"):]
	default:
		return nil, nil, nil, errHashFormat
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(raw) <= size {
		return nil, nil, nil, fmt.Errorf("%w: salted SHA value is not base64 of digest and salt", errHashFormat)
	}
	return newHash, raw[:size], raw[size:], nil
}

// checkHash validates the format of a password hash (configuration).
func checkHash(h string) error {
	switch {
	case strings.HasPrefix(h, "$argon2id$"), strings.HasPrefix(h, "{ARGON2}"):
		_, err := parseArgon2id(h)
		return err
	case strings.HasPrefix(h, "{SSHA"):
		_, _, _, err := parseSSHA(h)
		return err
	}
	return fmt.Errorf("%w: want an argon2id PHC string ($argon2id$…) or {SSHA}/{SSHA256}/{SSHA512}", errHashFormat)
}

// verifyPassword checks pw against hash in constant time.
func verifyPassword(h, pw string) (bool, error) {
	switch {
	case strings.HasPrefix(h, "$argon2id$"), strings.HasPrefix(h, "{ARGON2}"):
		a, err := parseArgon2id(h)
		if err != nil {
			return false, err
		}
		got := argon2.IDKey([]byte(pw), a.salt, a.t, a.m, a.p, uint32(len(a.hash)))
		return subtle.ConstantTimeCompare(got, a.hash) == 1, nil
	case strings.HasPrefix(h, "{SSHA"):
		newHash, digest, salt, err := parseSSHA(h)
		if err != nil {
			return false, err
		}
		x := newHash()
		x.Write([]byte(pw))
		x.Write(salt)
		return subtle.ConstantTimeCompare(x.Sum(nil), digest) == 1, nil
	}
	return false, errHashFormat
}

// HashPassword makes an argon2id PHC string (m=64 MiB, t=3, p=2), for
// operators writing service accounts into the configuration and for tests.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	const m, t, p = 64 * 1024, 3, 2
	h := argon2.IDKey([]byte(pw), salt, t, m, p, 32)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, m, t, p,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(h)), nil
}

// credCache remembers, per DN and hash, a keyed digest of the last
// password that verified, so that applications binding on every request
// (GRR, SPIP) do not pay argon2id each time. The key is random per process;
// a changed hash invalidates the entry.
type credCache struct {
	mu  sync.Mutex
	key []byte
	m   map[string][32]byte
	max int
}

func newCredCache(max int) *credCache {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return &credCache{key: k, m: map[string][32]byte{}, max: max}
}

func (c *credCache) digest(pw string) [32]byte {
	mac := hmac.New(sha256.New, c.key)
	mac.Write([]byte(pw))
	var out [32]byte
	copy(out[:], mac.Sum(nil))
	return out
}

func (c *credCache) ok(dn, h, pw string) bool {
	d := c.digest(pw)
	c.mu.Lock()
	defer c.mu.Unlock()
	got, ok := c.m[dn+"\x00"+h]
	return ok && subtle.ConstantTimeCompare(got[:], d[:]) == 1
}

func (c *credCache) put(dn, h, pw string) {
	d := c.digest(pw)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[dn+"\x00"+h] = d
}

// throttle rate-limits failed binds per key (source address, bind DN):
// after free failures, each further failure locks the key for an
// exponentially growing delay, capped; a success clears the key. The table
// is bounded: stale entries are swept, and when full the oldest half goes.
type throttle struct {
	mu    sync.Mutex
	now   func() time.Time
	base  time.Duration
	max   time.Duration
	keep  time.Duration
	limit int
	m     map[string]*failures
}

type failures struct {
	n     int
	until time.Time
	last  time.Time
}

func newThrottle(now func() time.Time, base, max time.Duration, limit int) *throttle {
	return &throttle{now: now, base: base, max: max, keep: 2*max + time.Minute, limit: limit, m: map[string]*failures{}}
}

// locked returns how long key stays locked (0: not locked).
func (t *throttle) locked(key string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.m[key]
	if !ok {
		return 0
	}
	if d := f.until.Sub(t.now()); d > 0 {
		return d
	}
	return 0
}

// fail records a failure; free is how many failures pass without a lock.
// It returns the lock now in force.
func (t *throttle) fail(key string, free int) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	f, ok := t.m[key]
	if ok && now.Sub(f.last) > t.keep {
		f.n = 0
	}
	if !ok {
		if len(t.m) >= t.limit {
			t.sweep(now)
		}
		f = &failures{}
		t.m[key] = f
	}
	f.n++
	f.last = now
	if f.n <= free {
		return 0
	}
	d := t.base
	for i := free + 1; i < f.n && d < t.max; i++ {
		d *= 2
	}
	if d > t.max {
		d = t.max
	}
	f.until = now.Add(d)
	return d
}

func (t *throttle) success(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, key)
}

func (t *throttle) sweep(now time.Time) {
	for k, f := range t.m {
		if now.Sub(f.last) > t.keep {
			delete(t.m, k)
		}
	}
	if len(t.m) < t.limit {
		return
	}
	// Still full (a flood from many sources): forget the older half.
	var cut time.Time
	times := make([]time.Time, 0, len(t.m))
	for _, f := range t.m {
		times = append(times, f.last)
	}
	sortTimes(times)
	cut = times[len(times)/2]
	for k, f := range t.m {
		if !f.last.After(cut) {
			delete(t.m, k)
		}
	}
}

func sortTimes(ts []time.Time) {
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
}
