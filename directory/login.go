package directory

import (
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// LoginBase builds the login stem of a person from a pattern with
// {prenom} and {nom}: lower-case ASCII, accents dropped, spaces and
// apostrophes turned into hyphens, anything else removed. "Éloïse
// D'Aubigné-Müller" with "{prenom}.{nom}" gives "eloise.d-aubigne-muller".
func LoginBase(pattern, firstName, lastName string) string {
	r := strings.NewReplacer("{prenom}", slug(firstName), "{nom}", slug(lastName))
	base := strings.Trim(r.Replace(pattern), ".-")
	for strings.Contains(base, "..") {
		base = strings.ReplaceAll(base, "..", ".")
	}
	if base == "" {
		base = "utilisateur"
	}
	return base
}

// slug lower-cases, strips diacritics and keeps [a-z0-9-].
func slug(s string) string {
	var b strings.Builder
	lastHyphen := true
	for _, r := range norm.NFD.String(strings.ToLower(strings.TrimSpace(s))) {
		switch {
		case unicode.Is(unicode.Mn, r):
			// combining accent: dropped
		case r == 'æ':
			b.WriteString("ae")
			lastHyphen = false
		case r == 'œ':
			b.WriteString("oe")
			lastHyphen = false
		case r == 'ß':
			b.WriteString("ss")
			lastHyphen = false
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			lastHyphen = false
		case r == ' ' || r == '-' || r == '\'' || r == '’' || r == '_':
			if !lastHyphen {
				b.WriteByte('-')
				lastHyphen = true
			}
		}
	}
	return strings.TrimRight(b.String(), "-")
}

// UniqueLogin returns base, or base followed by the smallest number ≥ 2 that
// taken does not hold. Logins are assigned once and never change, so the
// numbering only has to avoid what exists now.
func UniqueLogin(base string, taken func(string) bool) string {
	if !taken(base) {
		return base
	}
	for i := 2; ; i++ {
		if l := base + strconv.Itoa(i); !taken(l) {
			return l
		}
	}
}
