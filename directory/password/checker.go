package password

import (
	"context"
	"fmt"

	"github.com/enthub/enthub/directory/password/internal/argon2"
)

// Checker checks passwords for a server. At most Concurrency argon2id
// checks run at once (each holds a core for tens of milliseconds and
// 19 MiB: a burst of logins queues here instead of slowing every check
// down together and growing the heap), and each runs in block memory
// taken from a pool of at most Concurrency buffers instead of a fresh
// allocation: at the 8:00 wave that garbage (~440 MB/s at 23 logins/s)
// made the collector run every second over the whole heap. The pool is
// sized by the same number as the bound, so neither can outgrow the
// other; it keeps up to Concurrency × 19 MiB once a burst has filled it
// (the memory holds no pointers: the collector does not scan it).
//
// Only the memory of Default's cost is pooled: a hash with other
// parameters (imported, or a service account's) is checked in memory of
// its own, as Verify does. A Checker is safe for concurrent use; make one
// per server and share it.
type Checker struct {
	slots   chan struct{}
	buffers chan argon2.Blocks
	memory  uint32 // the pooled cost: Default's memory (KiB) and lanes
	threads uint8
	// idKey is argon2.IDKeyBlocks; tests count the checks in flight.
	idKey func(B argon2.Blocks, pw, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte
}

// NewChecker returns a Checker running at most concurrency argon2id checks
// at once (at least one).
func NewChecker(concurrency int) *Checker {
	concurrency = max(concurrency, 1)
	return &Checker{slots: make(chan struct{}, concurrency), buffers: make(chan argon2.Blocks, concurrency),
		memory: Default.Memory, threads: Default.Threads, idKey: argon2.IDKeyBlocks}
}

// Concurrency is the number of argon2id checks that may run at once.
func (c *Checker) Concurrency() int { return cap(c.slots) }

// Verify is the package's Verify, run when one of the Checker's slots is
// free; a context done while it waits checks nothing and returns its
// error.
func (c *Checker) Verify(ctx context.Context, h, pw string) (bool, error) {
	return verify(h, pw, func(a argonParams) (bool, error) { return c.argon(ctx, a, pw) })
}

// VerifyArgon2id is Verify restricted to argon2id: local passwords set
// through enthub are never salted SHA.
func (c *Checker) VerifyArgon2id(ctx context.Context, h, pw string) (bool, error) {
	if err := isArgon2id(h); err != nil {
		return false, err
	}
	return c.Verify(ctx, h, pw)
}

func (c *Checker) argon(ctx context.Context, a argonParams, pw string) (bool, error) {
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return false, fmt.Errorf("password check: %w", ctx.Err())
	}
	defer func() { <-c.slots }()
	if a.m != c.memory || a.p != c.threads {
		return a.matches(c.idKey, nil, pw), nil
	}
	var B argon2.Blocks
	select {
	case B = <-c.buffers:
	default: // every buffer made so far is in use: the pool grows by one
		B = argon2.NewBlocks(c.memory, c.threads)
	}
	ok := a.matches(c.idKey, B, pw)
	// Never blocks: a buffer is taken only while holding a slot, so there
	// are never more buffers than slots, the pool's capacity.
	c.buffers <- B
	return ok, nil
}
