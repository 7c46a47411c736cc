package ldap

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"slices"
	"sync"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/password"
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

// HashPassword makes an argon2id PHC string (m=64 MiB, t=3, p=2), for
// operators writing service accounts into the configuration and for tests.
func HashPassword(pw string) (string, error) {
	return password.Hash(pw, rand.Reader, password.Params{Memory: 64 * 1024, Time: 3, Threads: 2, KeyLen: 32, SaltLen: 16})
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
