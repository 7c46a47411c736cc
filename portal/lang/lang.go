// Package lang is the language of the pages a person sees: French unless
// they ask for English. Every page (login, console, launcher, statistics,
// "my data") picks it here, so a choice made on one holds on the others.
package lang

import (
	"net/http"
	"strings"
)

// Cookie keeps the language chosen with ?lang=.
const Cookie = "enthub_lang"

// Of picks the request's language, "fr" or "en": ?lang= first (the
// language link), then the cookie of an earlier choice, then a browser
// preferring English.
func Of(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l == "en" || l == "fr" {
		return l
	}
	if c, err := r.Cookie(Cookie); err == nil && (c.Value == "en" || c.Value == "fr") {
		return c.Value
	}
	if strings.HasPrefix(strings.ToLower(r.Header.Get("Accept-Language")), "en") {
		return "en"
	}
	return "fr"
}

// Remember keeps a language chosen with ?lang= in the cookie: the
// language link carries the parameter on one address only, so without it
// the next page, and the answer to a form posted from this one, would be
// in French again. Call it before writing the page.
func Remember(w http.ResponseWriter, r *http.Request) {
	l := r.URL.Query().Get("lang")
	if l != "en" && l != "fr" {
		return
	}
	if c, err := r.Cookie(Cookie); err == nil && c.Value == l {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: Cookie, Value: l, Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
}
