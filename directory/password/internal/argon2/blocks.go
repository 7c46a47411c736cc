// enthub: this file is enthub's addition to the fork of
// golang.org/x/crypto/argon2 (see the package comment); it has no upstream
// counterpart and is under the same BSD-style license (LICENSE).

package argon2

// Blocks is the working memory of one derivation: memory KiB rounded down
// to a multiple of 4·threads (at least 8·threads), 1 KiB a block. It
// holds no pointers, so the collector never scans it. One Blocks serves
// one derivation at a time.
type Blocks []block

// NewBlocks returns the memory a derivation with these parameters uses.
func NewBlocks(memory uint32, threads uint8) Blocks {
	if threads < 1 {
		panic("argon2: parallelism degree too low")
	}
	n := memory / (syncPoints * uint32(threads)) * (syncPoints * uint32(threads))
	if n < 2*syncPoints*uint32(threads) {
		n = 2 * syncPoints * uint32(threads)
	}
	return make(Blocks, n)
}

// IDKeyBlocks is IDKey computed in B, which it overwrites and leaves
// holding the last state (derived from the password: keep it private).
// The result is IDKey's whatever B held before; a B shorter than
// NewBlocks(memory, threads) is replaced by a fresh allocation.
func IDKeyBlocks(B Blocks, password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	return deriveKeyBlocks(B, argon2id, password, salt, nil, nil, time, memory, threads, keyLen)
}
