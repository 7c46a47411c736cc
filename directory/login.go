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
	// Two plain replacements: a strings.Replacer would be built per call,
	// 300,000 times in a first import.
	base := strings.ReplaceAll(pattern, "{prenom}", slug(firstName))
	base = strings.ReplaceAll(base, "{nom}", slug(lastName))
	base = strings.Trim(base, ".-")
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
	for _, r := range FoldName(strings.TrimSpace(s)) {
		switch {
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

// FoldName is how names compare when a person searches for one: lower
// case, accents dropped, æ, œ and ß spelled out; everything else is kept.
// "Lætitia LEFÈVRE" gives "laetitia lefevre", so an administrator finds
// her typing "laetitia lefevre", "Lefèvre" or "LEFEVRE". It is computed
// here rather than by the database: SQLite lowers ASCII only and neither
// store drops accents, and one Go function folds alike on both.
func FoldName(s string) string {
	s = strings.ToLower(s)
	// Most names are plain ASCII; decomposing them would change nothing
	// and costs more than the rest (300,000 names in a first import).
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			// combining accent: dropped
		case r == 'æ':
			b.WriteString("ae")
		case r == 'œ':
			b.WriteString("oe")
		case r == 'ß':
			b.WriteString("ss")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// UniqueLogin returns base, or base followed by the smallest number ≥ 2 that
// taken does not hold. Logins are assigned once and never change, so the
// numbering only has to avoid what exists now.
func UniqueLogin(base string, taken func(string) bool) string {
	return NewLoginAllocator(taken).Next(base)
}

// LoginAllocator hands out unique logins for many new accounts at once. It
// remembers where each stem's numbering reached: French names collide a lot
// (hundreds of "marie.martin" in a département), and restarting the count
// from 2 for each would make a first import quadratic.
type LoginAllocator struct {
	taken func(string) bool
	next  map[string]int
}

// NewLoginAllocator allocates logins that taken does not hold.
func NewLoginAllocator(taken func(string) bool) *LoginAllocator {
	return &LoginAllocator{taken: taken, next: map[string]int{}}
}

// Next returns the first free login for base; the caller marks it taken.
func (a *LoginAllocator) Next(base string) string {
	i := a.next[base]
	if i == 0 {
		if !a.taken(base) {
			a.next[base] = 2
			return base
		}
		i = 2
	}
	for ; ; i++ {
		if l := base + strconv.Itoa(i); !a.taken(l) {
			a.next[base] = i + 1
			return l
		}
	}
}
