// Package password holds the password hashes of enthub: the argon2id PHC
// strings stored for guests and service accounts, and the salted SHA family
// OpenLDAP administrators already have ({SSHA}…). One implementation serves
// the login page, the LDAP binds and the command line. Servers check
// through a [Checker], which bounds the checks running at once and reuses
// their argon2id memory; [Verify] and [Hash] allocate it per call.
package password

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"

	"github.com/enthub/enthub/directory/password/internal/argon2"
)

// Params are the argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
	KeyLen  uint32
	SaltLen int
}

// Default follows the OWASP minimum (19 MiB, 2 passes, 1 lane): a guest
// login costs ~20 ms on one core, so the morning peak stays within two.
var Default = Params{Memory: 19 * 1024, Time: 2, Threads: 1, KeyLen: 32, SaltLen: 16}

// Hash returns the argon2id PHC string of pw
// ($argon2id$v=19$m=…,t=…,p=…$salt$hash) with a salt read from rnd.
func Hash(pw string, rnd io.Reader, p Params) (string, error) {
	salt := make([]byte, p.SaltLen)
	if _, err := io.ReadFull(rnd, salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	key := argon2.IDKeyBlocks(nil, []byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return formatArgon2id(argonParams{m: p.Memory, t: p.Time, p: p.Threads, salt: salt, hash: key}), nil
}

// formatArgon2id writes a as a PHC string, as parseArgon2id reads it.
func formatArgon2id(a argonParams) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, a.m, a.t, a.p,
		base64.RawStdEncoding.EncodeToString(a.salt), base64.RawStdEncoding.EncodeToString(a.hash))
}

// Hashes accepted for service accounts and persons' local
// passwords: argon2id in the PHC string format
// ($argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>, raw standard base64, also
// with OpenLDAP's {ARGON2} prefix) and the salted SHA family {SSHA},
// {SSHA256}, {SSHA512} (base64 of digest‖salt). Plain text is refused.

// ErrFormat is returned (wrapped) for a hash this package cannot check.
var ErrFormat = errors.New("unsupported password hash")

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
		return argonParams{}, fmt.Errorf("%w: want $argon2id$v=19$m=…,t=…,p=…$salt$hash", ErrFormat)
	}
	var a argonParams
	if !strings.HasPrefix(parts[2], "v=") {
		return a, fmt.Errorf("%w: argon2id version field %q", ErrFormat, parts[2])
	}
	v, err := strconv.Atoi(parts[2][2:])
	if err != nil || v != argon2.Version {
		return a, fmt.Errorf("%w: argon2id version %q (want %d)", ErrFormat, parts[2], argon2.Version)
	}
	a.version = v
	for _, kv := range strings.Split(parts[3], ",") {
		k, val, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(val, 10, 32)
		if !ok || err != nil {
			return a, fmt.Errorf("%w: argon2id parameter %q", ErrFormat, kv)
		}
		switch k {
		case "m":
			a.m = uint32(n)
		case "t":
			a.t = uint32(n)
		case "p":
			if n > 255 {
				return a, fmt.Errorf("%w: argon2id parallelism %d", ErrFormat, n)
			}
			a.p = uint8(n)
		default:
			return a, fmt.Errorf("%w: argon2id parameter %q", ErrFormat, kv)
		}
	}
	if a.m == 0 || a.t == 0 || a.p == 0 || a.m > maxArgonMemoryKiB || a.t > maxArgonTime || a.p > maxArgonThreads {
		return a, fmt.Errorf("%w: argon2id parameters m=%d t=%d p=%d out of bounds (m≤%d KiB, t≤%d, p≤%d)",
			ErrFormat, a.m, a.t, a.p, maxArgonMemoryKiB, maxArgonTime, maxArgonThreads)
	}
	if a.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(a.salt) < 8 {
		return a, fmt.Errorf("%w: argon2id salt", ErrFormat)
	}
	if a.hash, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(a.hash) < 16 {
		return a, fmt.Errorf("%w: argon2id hash", ErrFormat)
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
		return nil, nil, nil, ErrFormat
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(raw) <= size {
		return nil, nil, nil, fmt.Errorf("%w: salted SHA value is not base64 of digest and salt", ErrFormat)
	}
	return newHash, raw[:size], raw[size:], nil
}

// Check validates the format of a password hash (configuration).
func Check(h string) error {
	switch {
	case strings.HasPrefix(h, "$argon2id$"), strings.HasPrefix(h, "{ARGON2}"):
		_, err := parseArgon2id(h)
		return err
	case strings.HasPrefix(h, "{SSHA"):
		_, _, _, err := parseSSHA(h)
		return err
	}
	return fmt.Errorf("%w: want an argon2id PHC string ($argon2id$…) or {SSHA}/{SSHA256}/{SSHA512}", ErrFormat)
}

// Verify checks pw against h, argon2id or salted SHA, in constant time,
// allocating the argon2id memory (19 MiB by default): for the command
// line and tests; servers use a Checker.
func Verify(h, pw string) (bool, error) {
	return verify(h, pw, func(a argonParams) (bool, error) { return a.matches(argon2.IDKeyBlocks, nil, pw), nil })
}

// VerifyArgon2id is Verify restricted to argon2id: local passwords set
// through enthub are never salted SHA.
func VerifyArgon2id(h, pw string) (bool, error) {
	if err := isArgon2id(h); err != nil {
		return false, err
	}
	return Verify(h, pw)
}

func isArgon2id(h string) error {
	if !strings.HasPrefix(h, "$argon2id$") {
		return fmt.Errorf("%w: not an argon2id PHC string", ErrFormat)
	}
	return nil
}

// matches derives the key of pw with a's parameters in B (see
// argon2.IDKeyBlocks) and compares it with a's in constant time.
func (a argonParams) matches(idKey func(argon2.Blocks, []byte, []byte, uint32, uint32, uint8, uint32) []byte, B argon2.Blocks, pw string) bool {
	got := idKey(B, []byte(pw), a.salt, a.t, a.m, a.p, uint32(len(a.hash)))
	return subtle.ConstantTimeCompare(got, a.hash) == 1
}

// verify checks pw against h; argon checks the argon2id hashes.
func verify(h, pw string, argon func(argonParams) (bool, error)) (bool, error) {
	switch {
	case strings.HasPrefix(h, "$argon2id$"), strings.HasPrefix(h, "{ARGON2}"):
		a, err := parseArgon2id(h)
		if err != nil {
			return false, err
		}
		return argon(a)
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
	return false, ErrFormat
}
