package demorp

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestClaimTextShowsDates(t *testing.T) {
	var claims map[string]any
	if err := func() error {
		d := json.NewDecoder(strings.NewReader(`{"iat":1790000000,"exp":1790003600,"auth_time":1789999990,"sub":"abc","n":12345678901,"aud":["enthub-demo"]}`))
		d.UseNumber()
		return d.Decode(&claims)
	}(); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"iat":       "21/09/2026 14:13:20 UTC (1790000000)",
		"exp":       "21/09/2026 15:13:20 UTC (1790003600)",
		"auth_time": "21/09/2026 14:13:10 UTC (1789999990)",
		"sub":       "abc",
		"n":         "12345678901",
		"aud":       "[enthub-demo]",
	} {
		if got := claimText(name, claims[name]); got != want {
			t.Errorf("claimText(%s) = %q, want %q", name, got, want)
		}
	}
}
