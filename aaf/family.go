// Package aaf reads, checks and generates the AAF ("Annuaire Académique
// Fédérateur") directory exports the rectorat delivers every day.
//
// The read side is built for deliveries of hundreds of megabytes: files are
// found by name (Open), streamed token by token (ParseFile, Delivery.Walk,
// Delivery.Records) and checked before anything is written (Check). Nothing
// here writes to the directory store; the apply step consumes the records and
// the Report produced here.
//
// What is known about the format comes from public importers and fixtures, not
// from the Ministry specification (see ARCHITECTURE.md and
// shared/reference/aaf.md). Where those notes are unsure, behaviour is an
// option with a documented default.
package aaf

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Family is one AAF file family, named by its token in the file name
// (…_Eleve_0000.xml). Each family carries one record category and one
// jointure attribute, so most checks are keyed by it.
type Family string

// The six families of a rectorat delivery (aaf.md §1.1).
const (
	EtabEducNat    Family = "EtabEducNat"
	MatiereEducNat Family = "MatiereEducNat"
	MefEducNat     Family = "MefEducNat"
	Eleve          Family = "Eleve"
	PersRelEleve   Family = "PersRelEleve"
	PersEducNat    Family = "PersEducNat"
)

// Families returns the families in canonical order: structures, then the
// nomenclatures, then persons with related adults before students and staff
// last. Files are parsed, hashed and applied in this order so that a student's
// references to structures, MEF, subjects and parents point backwards.
func Families() []Family {
	return []Family{EtabEducNat, MatiereEducNat, MefEducNat, PersRelEleve, Eleve, PersEducNat}
}

// familyRank is the position of f in Families(); unknown families sort last.
func familyRank(f Family) int {
	for i, g := range Families() {
		if g == f {
			return i
		}
	}
	return len(Families())
}

// IsPerson reports whether records of f are persons that get accounts.
func (f Family) IsPerson() bool {
	return f == Eleve || f == PersRelEleve || f == PersEducNat
}

// JointureAttr is the attribute that must equal identifier/id (aaf.md §2.2).
func (f Family) JointureAttr() string {
	switch f {
	case EtabEducNat:
		return "ENTStructureJointure"
	case MatiereEducNat:
		return "ENTMatJointure"
	case MefEducNat:
		return "ENTMefJointure"
	default:
		return "ENTPersonJointure"
	}
}

// CategoryAttr is the name of the single operationalAttributes attr.
func (f Family) CategoryAttr() string {
	switch f {
	case EtabEducNat:
		return "categorieStructure"
	case MatiereEducNat:
		return "categorieMatiere"
	case MefEducNat:
		return "categorieMef"
	default:
		return "categoriePersonne"
	}
}

// CategoryValues lists the accepted values of the category attr. Real
// MatiereEducNat files say "MatEducNat" (2013 set); the family token is
// accepted too.
func (f Family) CategoryValues() []string {
	if f == MatiereEducNat {
		return []string{"MatEducNat", "MatiereEducNat"}
	}
	return []string{string(f)}
}

// Kind says whether a delivery is a full snapshot or an increment. It is read
// from file names only: no in-file flag exists (aaf.md §1.5).
type Kind string

// Delivery kinds.
const (
	KindUnknown Kind = ""
	Complet     Kind = "Complet"
	Delta       Kind = "Delta"
)

// FileName is what a file's name says about it.
type FileName struct {
	Base   string `json:"base"`
	Prefix string `json:"prefix"` // everything before _<Kind>_ (or before _<Family>_); chunks are numbered per prefix and family
	Family Family `json:"family"`
	Chunk  int    `json:"chunk"`
	// ChunkDigits is how the chunk was written ("0001" → 4), kept for messages.
	ChunkDigits int    `json:"-"`
	Kind        Kind   `json:"kind,omitempty"`
	DateText    string `json:"date_text,omitempty"` // YYYYMMDD as written, "" when absent
}

// familyRe selects files the way ENT NG and Laclasse do: by the family token
// followed by the chunk number. The token must start the name or follow "_",
// so "_Eleve_0001.xml" never matches "PersRelEleve_0001.xml" (aaf.md §1.2).
var familyRe = regexp.MustCompile(`(?i)(?:^|_)(EtabEducNat|MatiereEducNat|MefEducNat|Eleve|PersRelEleve|PersEducNat)_([0-9]{1,6})\.xml$`)

// kindRe finds _Complet_YYYYMMDD_ or _Delta_YYYYMMDD_ in the part before the family.
var kindRe = regexp.MustCompile(`(?i)(?:^|_)(Complet|Delta)_([0-9]{8})(?:_|$)`)

// archiveRe is the Laclasse archive-name convention ENT[12]D(VA)?.YYYYMMDD….
var archiveRe = regexp.MustCompile(`(?i)ENT[12]D(?:VA)?\.(20[0-9]{6})`)

// ParseFileName reads family, chunk, kind and date from a base name. ok is
// false when the name is not an AAF family file (a DTD, a README…).
func ParseFileName(base string) (FileName, bool) {
	m := familyRe.FindStringSubmatchIndex(base)
	if m == nil {
		return FileName{}, false
	}
	fam := canonicalFamily(base[m[2]:m[3]])
	chunkText := base[m[4]:m[5]]
	chunk, _ := strconv.Atoi(chunkText)
	head := base[:m[0]]
	fn := FileName{Base: base, Family: fam, Chunk: chunk, ChunkDigits: len(chunkText), Prefix: head}
	if km := kindRe.FindStringSubmatchIndex(head); km != nil {
		fn.Kind = canonicalKind(head[km[2]:km[3]])
		fn.DateText = head[km[4]:km[5]]
		fn.Prefix = head[:km[0]]
	}
	return fn, true
}

func canonicalFamily(s string) Family {
	for _, f := range Families() {
		if strings.EqualFold(s, string(f)) {
			return f
		}
	}
	return Family(s)
}

func canonicalKind(s string) Kind {
	if strings.EqualFold(s, "Delta") {
		return Delta
	}
	return Complet
}

// kindFromArchiveName applies Laclasse's rule to an archive name: "Delta"
// anywhere means Delta; "Complet" or an ENT2D.YYYYMMDD name means Complet.
func kindFromArchiveName(base string) (Kind, string) {
	date := ""
	if m := archiveRe.FindStringSubmatch(base); m != nil {
		date = m[1]
	}
	if m := kindRe.FindStringSubmatch(base); m != nil {
		return canonicalKind(m[1]), m[2]
	}
	switch {
	case strings.Contains(strings.ToLower(base), "delta"):
		return Delta, date
	case strings.Contains(strings.ToLower(base), "complet"), date != "":
		return Complet, date
	}
	return KindUnknown, date
}

// ParseAAFDate parses the dd/mm/yyyy dates used inside AAF values and header
// comments, rejecting impossible days (31/02/2013).
func ParseAAFDate(s string) (time.Time, error) {
	t, err := time.Parse("02/01/2006", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("date %q is not dd/mm/yyyy: %w", s, err)
	}
	return t, nil
}

// parseNameDate parses the YYYYMMDD date of a file name.
func parseNameDate(s string) (time.Time, error) {
	t, err := time.Parse("20060102", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("date %q is not YYYYMMDD: %w", s, err)
	}
	return t, nil
}
