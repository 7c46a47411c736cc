package lang

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestOf(t *testing.T) {
	for _, tc := range []struct {
		name, url, cookie, accept, want string
	}{
		{"default", "/", "", "", "fr"},
		{"browser", "/", "", "en-GB,en;q=0.9", "en"},
		{"cookie over browser", "/", "fr", "en-GB", "fr"},
		{"link over cookie", "/?lang=en", "fr", "", "en"},
		{"unknown value ignored", "/?lang=de", "en", "", "en"},
		{"bad cookie ignored", "/", "de", "", "fr"},
	} {
		r := httptest.NewRequest(http.MethodGet, tc.url, nil)
		if tc.cookie != "" {
			r.AddCookie(&http.Cookie{Name: Cookie, Value: tc.cookie})
		}
		if tc.accept != "" {
			r.Header.Set("Accept-Language", tc.accept)
		}
		if got := Of(r); got != tc.want {
			t.Errorf("%s: Of = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// A choice made with the link is kept for the next pages; a page without
// a choice, or with the one already kept, sets nothing.
func TestRemember(t *testing.T) {
	for _, tc := range []struct {
		name, url, cookie, want string
	}{
		{"chosen", "/console?lang=en", "", "en"},
		{"changed", "/console?lang=fr", "en", "fr"},
		{"already kept", "/console?lang=en", "en", ""},
		{"no choice", "/console", "", ""},
		{"unknown", "/console?lang=de", "", ""},
	} {
		r := httptest.NewRequest(http.MethodGet, tc.url, nil)
		if tc.cookie != "" {
			r.AddCookie(&http.Cookie{Name: Cookie, Value: tc.cookie})
		}
		w := httptest.NewRecorder()
		Remember(w, r)
		got := ""
		for _, c := range w.Result().Cookies() {
			if c.Name == Cookie {
				got = c.Value
				if c.Path != "/" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.MaxAge <= 0 {
					t.Errorf("%s: cookie %+v", tc.name, c)
				}
			}
		}
		if got != tc.want {
			t.Errorf("%s: cookie %q, want %q", tc.name, got, tc.want)
		}
	}
}
