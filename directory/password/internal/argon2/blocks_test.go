// enthub: tests of enthub's addition to the fork (see the package
// comment); under the same BSD-style license (LICENSE).

package argon2

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"testing"

	upstream "golang.org/x/crypto/argon2"
)

// dirty fills B as a previous derivation, or worse, could have left it.
func dirty(B Blocks) {
	for i := range B {
		for j := range B[i] {
			B[i][j] = 0x9e3779b97f4a7c15 * uint64(i*blockLength+j+1)
		}
	}
}

// IDKeyBlocks gives x/crypto's IDKey, bit for bit, in fresh memory, in
// memory a derivation with other inputs left behind, and in memory filled
// with garbage: the first pass must overwrite, not XOR into, what B held.
func TestIDKeyBlocksIsUpstreamIDKey(t *testing.T) {
	cases := []struct {
		pw, salt     string
		time, memory uint32
		threads      uint8
		keyLen       uint32
	}{
		{"s3cret", "somesaltsomesalt", 2, 19 * 1024, 1, 32}, // enthub's default
		{"s3cret", "somesaltsomesalt", 1, 64, 1, 32},
		{"s3cret", "somesaltsomesalt", 3, 4 * 1024, 2, 32}, // ldap.HashPassword's t and p, less memory
		{"s3cret", "somesaltsomesalt", 1, 1023, 1, 16},     // not a multiple of 4·p: rounded down
		{"s3cret", "somesaltsomesalt", 2, 1001, 3, 64},     // idem with 3 lanes
		{"s3cret", "somesaltsomesalt", 1, 7, 2, 32},        // below 8·p: raised
		{"s3cret", "somesaltsomesalt", 4, 256, 4, 32},
		{"mot de passe é", "sel", 2, 512, 1, 100}, // key longer than one BLAKE2b output
		{"", "", 1, 32, 1, 32},                    // empty password and salt
		{"x", "somesaltsomesalt", 2, 128, 1, 4},
	}
	for _, generic := range []bool{false, true} {
		if generic {
			defer func(sse4 bool) { useSSE4 = sse4 }(useSSE4)
			useSSE4 = false
		}
		var reused Blocks // one memory for every case, as the pool does
		for i, c := range cases {
			t.Run(fmt.Sprintf("generic=%v/%d:t=%d,m=%d,p=%d,len=%d", generic, i, c.time, c.memory, c.threads, c.keyLen), func(t *testing.T) {
				pw, salt := []byte(c.pw), []byte(c.salt)
				want := upstream.IDKey(pw, salt, c.time, c.memory, c.threads, c.keyLen)
				if got := IDKeyBlocks(nil, pw, salt, c.time, c.memory, c.threads, c.keyLen); !bytes.Equal(got, want) {
					t.Fatalf("fresh memory: %x, want %x", got, want)
				}
				B := NewBlocks(c.memory, c.threads)
				if got := IDKeyBlocks(B, pw, salt, c.time, c.memory, c.threads, c.keyLen); !bytes.Equal(got, want) {
					t.Fatalf("NewBlocks: %x, want %x", got, want)
				}
				// B now holds this derivation's last state: a second
				// derivation with another password over it.
				other := upstream.IDKey([]byte("autre"), salt, c.time, c.memory, c.threads, c.keyLen)
				if got := IDKeyBlocks(B, []byte("autre"), salt, c.time, c.memory, c.threads, c.keyLen); !bytes.Equal(got, other) {
					t.Fatalf("reused memory: %x, want %x", got, other)
				}
				dirty(B)
				if got := IDKeyBlocks(B, pw, salt, c.time, c.memory, c.threads, c.keyLen); !bytes.Equal(got, want) {
					t.Fatalf("dirty memory: %x, want %x", got, want)
				}
				// Memory longer than needed, left by larger parameters.
				if len(reused) < len(B) {
					reused = make(Blocks, len(B)+5)
				}
				dirty(reused)
				if got := IDKeyBlocks(reused, pw, salt, c.time, c.memory, c.threads, c.keyLen); !bytes.Equal(got, want) {
					t.Fatalf("longer dirty memory: %x, want %x", got, want)
				}
			})
		}
	}
}

// RFC 9106 section 5.3, the Argon2id test vector (with secret and
// associated data, which IDKey does not take: deriveKeyBlocks does),
// computed in dirty memory.
func TestRFC9106Argon2idInDirtyMemory(t *testing.T) {
	pw := bytes.Repeat([]byte{0x01}, 32)
	salt := bytes.Repeat([]byte{0x02}, 16)
	secret := bytes.Repeat([]byte{0x03}, 8)
	ad := bytes.Repeat([]byte{0x04}, 12)
	want, _ := hex.DecodeString("0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659")
	B := NewBlocks(32, 4)
	if len(B) != 32 {
		t.Fatalf("NewBlocks(32, 4) has %d blocks, want 32", len(B))
	}
	for round := range 2 {
		dirty(B)
		if got := deriveKeyBlocks(B, argon2id, pw, salt, secret, ad, 3, 32, 4, 32); !bytes.Equal(got, want) {
			t.Fatalf("round %d: tag %x, want %x", round, got, want)
		}
	}
}

func TestNewBlocksSize(t *testing.T) {
	for _, c := range []struct {
		memory  uint32
		threads uint8
		want    int
	}{{19 * 1024, 1, 19 * 1024}, {1023, 1, 1020}, {1001, 3, 996}, {7, 2, 16}, {0, 1, 8}} {
		if got := len(NewBlocks(c.memory, c.threads)); got != c.want {
			t.Errorf("NewBlocks(%d, %d): %d blocks, want %d", c.memory, c.threads, got, c.want)
		}
	}
}

func BenchmarkIDKeyBlocks(b *testing.B) {
	pw, salt := []byte("password"), []byte("choosing random salts is hard")
	B := NewBlocks(19*1024, 1)
	b.ReportAllocs()
	for b.Loop() {
		IDKeyBlocks(B, pw, salt, 2, 19*1024, 1, 32)
	}
}
