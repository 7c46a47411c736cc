package idp

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"time"
)

// Device cookies keep a lockout from locking the rightful user out
// (OWASP, "Slow Down Online Guessing Attacks with Device Cookies"). The
// per-login lockout stops a guessing attack, but anyone who knows a login
// can keep it locked for good with one wrong password every lockout
// period. A browser that once logged in as a login carries a signed cookie
// saying so; its attempts for that login are counted under its own key,
// apart from everybody else's: the attacker's failures do not lock it, and
// a stolen cookie only gives the thief that one device's attempts.
const (
	deviceCookie = "enthub_device"
	// deviceLifetime is how long a browser stays known after its last
	// login.
	deviceLifetime = 180 * 24 * time.Hour
)

// deviceKey returns the throttle key of this browser for login when it
// carries a valid device cookie for it, "" otherwise.
func (p *Provider) deviceKey(r *http.Request, login string) string {
	c, err := r.Cookie(deviceCookie)
	if err != nil {
		return ""
	}
	who, nonce, mac, ok := splitDevice(c.Value)
	if !ok || !strings.EqualFold(who, login) {
		return ""
	}
	want := p.deviceMAC(strings.ToLower(who), nonce)
	if !hmac.Equal([]byte(mac), []byte(want)) {
		return ""
	}
	return "device:" + strings.ToLower(who) + ":" + nonce
}

// rememberDevice gives the browser a device cookie for login, keeping its
// nonce when it already had one for this login (so its failure count
// stays its own).
func (p *Provider) rememberDevice(w http.ResponseWriter, r *http.Request, login string) {
	login = strings.ToLower(login)
	nonce := ""
	if c, err := r.Cookie(deviceCookie); err == nil {
		if who, n, _, ok := splitDevice(c.Value); ok && who == login && p.deviceKey(r, login) != "" {
			nonce = n
		}
	}
	if nonce == "" {
		b := make([]byte, 16)
		if _, err := p.rand.Read(b); err != nil {
			p.log.Error("device cookie", "err", err)
			return
		}
		nonce = base64.RawURLEncoding.EncodeToString(b)
	}
	value := base64.RawURLEncoding.EncodeToString([]byte(login)) + "." + nonce + "." + p.deviceMAC(login, nonce)
	http.SetCookie(w, &http.Cookie{Name: deviceCookie, Value: value, Path: p.basePath + "/login", MaxAge: int(deviceLifetime.Seconds()),
		HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode})
}

func (p *Provider) deviceMAC(login, nonce string) string {
	m := hmac.New(sha256.New, p.keys.secret())
	m.Write([]byte("device\x00" + login + "\x00" + nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func splitDevice(v string) (login, nonce, mac string, ok bool) {
	parts := strings.Split(v, ".")
	if len(parts) != 3 || parts[1] == "" || parts[2] == "" {
		return "", "", "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || len(b) == 0 {
		return "", "", "", false
	}
	return string(b), parts[1], parts[2], true
}
