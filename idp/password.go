package idp

import (
	"io"

	"github.com/enthub/enthub/directory/password"
)

// Argon2Params are the argon2id cost parameters (see directory/password).
type Argon2Params = password.Params

// DefaultArgon2 is used by HashPassword: 19 MiB, 2 passes, 1 lane.
var DefaultArgon2 = password.Default

// HashPassword returns the argon2id PHC string of pw, as stored in
// directory.Account.PasswordHash.
func HashPassword(pw string, rnd io.Reader, p Argon2Params) (string, error) {
	return password.Hash(pw, rnd, p)
}

// ErrBadHash is returned for a stored hash that is not an argon2id PHC
// string this code can check.
var ErrBadHash = password.ErrFormat

// VerifyPassword reports whether pw matches the argon2id PHC string, in
// constant time.
func VerifyPassword(phc, pw string) (bool, error) {
	return password.VerifyArgon2id(phc, pw)
}
