package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
)

// The console's forms carry a CSRF token. A signed-in page's token is an
// HMAC keyed by the SSO session's id — the hash of the session cookie,
// known only to the server — so it needs no secret of its own, holds on
// every instance and dies with the session. A page without a session (the
// guest's activation) uses a double-submit cookie instead: a random
// cookie, and in the form an HMAC keyed by it.

// anonCSRFCookie is the activation page's CSRF cookie.
const anonCSRFCookie = "enthub_console_csrf"

func mac(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// SessionCSRF returns the CSRF token of a signed-in page's forms.
func SessionCSRF(sessionID string) string { return mac(sessionID, "enthub-console-csrf") }

// CheckSessionCSRF reports whether the posted form's csrf field is the
// session's token.
func CheckSessionCSRF(r *http.Request, sessionID string) bool {
	return sessionID != "" && same(r.PostFormValue("csrf"), SessionCSRF(sessionID))
}

func same(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// anonCSRF returns the token of a page without a session, setting the
// cookie when the browser has none.
func anonCSRF(w http.ResponseWriter, r *http.Request, secure bool) string {
	if c, err := r.Cookie(anonCSRFCookie); err == nil && len(c.Value) >= 32 && len(c.Value) <= 64 {
		return mac(c.Value, "enthub-anon-csrf")
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: anonCSRFCookie, Value: v, Path: "/", HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
	return mac(v, "enthub-anon-csrf")
}

func checkAnonCSRF(r *http.Request) bool {
	c, err := r.Cookie(anonCSRFCookie)
	if err != nil || len(c.Value) < 32 {
		return false
	}
	return same(r.PostFormValue("csrf"), mac(c.Value, "enthub-anon-csrf"))
}
