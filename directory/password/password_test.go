package password

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"testing"
)

func TestHashesVerify(t *testing.T) {
	argon, err := Hash("s3cret", rand.Reader, Params{Memory: 1024, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum([]byte("s3cret" + "salt"))
	ssha := "{SSHA}" + base64.StdEncoding.EncodeToString(append(sum[:], "salt"...))
	for _, h := range []string{argon, ssha} {
		if ok, err := Verify(h, "s3cret"); !ok || err != nil {
			t.Errorf("Verify(%.20s…, right) = %v, %v", h, ok, err)
		}
		if ok, _ := Verify(h, "wrong"); ok {
			t.Errorf("Verify(%.20s…, wrong) accepted", h)
		}
		if err := Check(h); err != nil {
			t.Errorf("Check(%.20s…) = %v", h, err)
		}
	}
	if _, err := VerifyArgon2id(ssha, "s3cret"); !errors.Is(err, ErrFormat) {
		t.Errorf("a salted SHA passed VerifyArgon2id: %v", err)
	}
	for _, bad := range []string{"", "plain", "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"} {
		if err := Check(bad); !errors.Is(err, ErrFormat) {
			t.Errorf("Check(%q) = %v, want ErrFormat", bad, err)
		}
	}
}
