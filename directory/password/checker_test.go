package password

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/enthub/enthub/directory/password/internal/argon2"
	upstream "golang.org/x/crypto/argon2"
)

// A Checker accepts what Verify accepts: argon2id at the default cost
// (pooled memory), at other costs (memory of their own), with OpenLDAP's
// {ARGON2} prefix, and the salted SHA family; a wrong password after a
// right one in the same memory is still refused.
func TestCheckerVerifiesEveryFormat(t *testing.T) {
	c := NewChecker(2)
	ctx := context.Background()
	def := mustHash(t, "s3cret", Default)
	odd := mustHash(t, "s3cret", Params{Memory: 1001, Time: 3, Threads: 3, KeyLen: 20, SaltLen: 9})
	sum := sha256.Sum256([]byte("s3cret" + "salt"))
	ssha := "{SSHA256}" + base64.StdEncoding.EncodeToString(append(sum[:], "salt"...))
	for _, h := range []string{def, odd, "{ARGON2}" + def, ssha, def} {
		if ok, err := c.Verify(ctx, h, "s3cret"); !ok || err != nil {
			t.Errorf("Verify(%.30s…, right) = %v, %v", h, ok, err)
		}
		if ok, err := c.Verify(ctx, h, "wrong"); ok || err != nil {
			t.Errorf("Verify(%.30s…, wrong) = %v, %v", h, ok, err)
		}
	}
	if ok, err := c.VerifyArgon2id(ctx, def, "s3cret"); !ok || err != nil {
		t.Errorf("VerifyArgon2id(default cost) = %v, %v", ok, err)
	}
	if _, err := c.VerifyArgon2id(ctx, ssha, "s3cret"); !errors.Is(err, ErrFormat) {
		t.Errorf("a salted SHA passed VerifyArgon2id: %v", err)
	}
	if _, err := c.Verify(ctx, "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "x"); !errors.Is(err, ErrFormat) {
		t.Errorf("out-of-bounds hash: %v, want ErrFormat", err)
	}
	if n := len(c.buffers); n != 1 {
		t.Errorf("%d buffers pooled after checks one at a time, want 1", n)
	}
}

// Once its pool holds a buffer, a check at the default cost allocates
// kilobytes, not the 19 MiB of its memory: the garbage that made the
// collector run every second at the morning wave.
func TestCheckerReusesMemory(t *testing.T) {
	c := NewChecker(1)
	ctx := context.Background()
	h := mustHash(t, "s3cret", Default)
	if ok, err := c.Verify(ctx, h, "s3cret"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const checks = 3
	for range checks {
		if ok, err := c.Verify(ctx, h, "s3cret"); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / checks; per > 64<<10 {
		t.Errorf("a pooled check allocated %d bytes, want under 64 KiB", per)
	}
}

// A burst runs no more argon2id checks at once than the Checker allows,
// never pools more buffers than that, and every check still succeeds.
func TestCheckerBoundsConcurrentChecks(t *testing.T) {
	const limit, burst = 2, 12
	c := NewChecker(limit)
	var mu sync.Mutex
	inFlight, most := 0, 0
	c.idKey = func(B argon2.Blocks, pw, salt []byte, time_, memory uint32, threads uint8, keyLen uint32) []byte {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		time.Sleep(10 * time.Millisecond) // a check's duration, so that they overlap
		mu.Lock()
		inFlight--
		mu.Unlock()
		return argon2.IDKeyBlocks(B, pw, salt, time_, memory, threads, keyLen)
	}
	h := mustHash(t, "s3cret", Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16})
	c.memory, c.threads = 64, 1 // pool this cheap cost as if it were Default's
	var wg sync.WaitGroup
	failed := make(chan error, burst)
	for range burst {
		wg.Go(func() {
			if ok, err := c.Verify(context.Background(), h, "s3cret"); !ok || err != nil {
				failed <- errors.Join(errors.New("refused"), err)
			}
		})
	}
	wg.Wait()
	close(failed)
	for err := range failed {
		t.Error(err)
	}
	if most < 1 || most > limit {
		t.Errorf("%d checks ran at once, want between 1 and %d", most, limit)
	}
	if n := len(c.buffers); n < 1 || n > limit {
		t.Errorf("%d buffers pooled, want between 1 and %d", n, limit)
	}
}

// A request given up while it waits for a slot checks nothing.
func TestCheckerGivesUpWithTheContext(t *testing.T) {
	c := NewChecker(1)
	c.slots <- struct{}{} // the one slot is busy
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h := mustHash(t, "s3cret", Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16})
	if ok, err := c.Verify(ctx, h, "s3cret"); ok || !errors.Is(err, context.Canceled) {
		t.Fatalf("Verify with a cancelled context while busy = %v, %v; want context.Canceled", ok, err)
	}
	if NewChecker(0).Concurrency() != 1 {
		t.Error("NewChecker(0) must still allow one check")
	}
}

// Not one bit of a hash changed with the fork: hashes x/crypto made are
// accepted (pooled twice, so the second runs in reused memory, and
// unpooled), and Hash's keys are x/crypto's.
func TestHashesAreXCryptos(t *testing.T) {
	c := NewChecker(1)
	for _, p := range []Params{Default, {Memory: 1001, Time: 3, Threads: 3, KeyLen: 20, SaltLen: 9}} {
		salt := []byte("sel-de-mer-1234567")[:p.SaltLen]
		key := upstream.IDKey([]byte("s3cret é"), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
		h := formatArgon2id(argonParams{m: p.Memory, t: p.Time, p: p.Threads, salt: salt, hash: key})
		for range 2 {
			if ok, err := c.Verify(context.Background(), h, "s3cret é"); !ok || err != nil {
				t.Errorf("Checker.Verify(x/crypto's %s) = %v, %v", h, ok, err)
			}
		}
		if ok, err := Verify(h, "s3cret é"); !ok || err != nil {
			t.Errorf("Verify(x/crypto's %s) = %v, %v", h, ok, err)
		}
		mine, err := Hash("s3cret é", bytes.NewReader(salt), p)
		if err != nil || mine != h {
			t.Errorf("Hash with x/crypto's salt = %s, %v; want %s", mine, err, h)
		}
	}
}

func mustHash(t testing.TB, pw string, p Params) string {
	t.Helper()
	h, err := Hash(pw, rand.Reader, p)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// FuzzParseArgon2id: hashes come from imports and configuration. The
// parser never panics, and what it accepts is within the bounds that keep
// a check from allocating gigabytes, and reads back the same once written
// out again.
func FuzzParseArgon2id(f *testing.F) {
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0vM2zq5J3Tt3xUqhh6WY7lsbyY0dNJ1G1E3HvQ8d0qU")
	f.Add("{ARGON2}$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaA")
	f.Add("$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
	f.Add("$argon2id$v=16$m=1,t=1,p=1$$")
	f.Add("$argon2i$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA")
	f.Add("$argon2id$v=19$m=8,t=1,p=256,x=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseArgon2id(h)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("parseArgon2id(%q): %v does not wrap ErrFormat", h, err)
			}
			return
		}
		if a.m < 1 || a.m > maxArgonMemoryKiB || a.t < 1 || a.t > maxArgonTime || a.p < 1 || a.p > maxArgonThreads ||
			len(a.salt) < 8 || len(a.hash) < 16 || a.version != argon2.Version {
			t.Fatalf("parseArgon2id(%q) accepted %+v", h, a)
		}
		if err := Check(h); err != nil {
			t.Fatalf("Check(%q) = %v after parseArgon2id accepted it", h, err)
		}
		again, err := parseArgon2id(formatArgon2id(a))
		if err != nil || again.m != a.m || again.t != a.t || again.p != a.p ||
			string(again.salt) != string(a.salt) || string(again.hash) != string(a.hash) {
			t.Fatalf("%q reads back as %+v, %v; want %+v", formatArgon2id(a), again, err, a)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	h := mustHash(b, "s3cret", Default)
	b.Run("func", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if ok, err := Verify(h, "s3cret"); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("Checker", func(b *testing.B) {
		c := NewChecker(runtime.GOMAXPROCS(0))
		ctx := context.Background()
		if _, err := c.Verify(ctx, h, "s3cret"); err != nil { // the pool's one allocation
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if ok, err := c.Verify(ctx, h, "s3cret"); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
}
