package aaf

import (
	"fmt"
	"strings"
)

// Severity says whether a problem refuses the delivery (error) or is only
// reported (warning).
type Severity string

// Severities.
const (
	SevError   Severity = "error"
	SevWarning Severity = "warning"
)

// Arity is the number of "$"-separated fields an attribute's values must
// have. Several counts may be allowed (ENTStructureNomCourant: 1 or 3), or a
// minimum (ENTStructureClasses: code$label[$MEF…]). Severity says what a
// wrong value costs: errors for link attributes, where a shifted field would
// silently link a person to the wrong structure, class or parent; warnings
// for descriptive attributes whose exact shape varies between AAF versions.
type Arity struct {
	Fields   []int    `json:"fields,omitempty"`
	AtLeast  int      `json:"at_least,omitempty"`
	Severity Severity `json:"severity"`
}

// Allows reports whether n fields are acceptable.
func (a Arity) Allows(n int) bool {
	if a.AtLeast > 0 && n >= a.AtLeast {
		return true
	}
	for _, f := range a.Fields {
		if f == n {
			return true
		}
	}
	return false
}

func (a Arity) String() string {
	var parts []string
	for _, f := range a.Fields {
		parts = append(parts, fmt.Sprint(f))
	}
	if a.AtLeast > 0 {
		parts = append(parts, fmt.Sprintf("%d or more", a.AtLeast))
	}
	return strings.Join(parts, " or ")
}

// DefaultComposites returns the arity table (a fresh map each call; callers
// may edit it and pass it in CheckOptions.Composites). Sources: aaf.md §3
// and counts over the 2013 export (every value there fits the table).
//
// Errors (links): ENTElevePersRelEleve 6, ENTPersonFonctions 5,
// ENTEleveClasses/ENTEleveGroupes 2, ENTAuxEnsClassesMatieres/
// ENTAuxEnsGroupesMatieres 3, ENTAuxEnsClassesPrincipal 2, 1D
// ENTPersonClasses/ENTPersonGroupes 5.
//
// Warnings (shape varies or descriptive): ENTStructureNomCourant 1 or 3
// (older files hold a free string), ENTPersonAdresse 1 or 4 (the 2013 set
// writes one line), ENTEleveAutoriteParentale 1 (2D bare id) or 2 (1D
// id$lien), ENTAuxEnsMEF 3, ENTAuxEnsClasses/ENTAuxEnsGroupes 2,
// ENTAuxEnsCategoDiscipline 2, ENTAuxEnsDisciplinesPoste 2,
// ENTAuxEnsMatiereEnseignEtab 2, ENTEtablissementBassin 2,
// ENTEleveDateEntreeClasses/ENTEleveDateSortieClasses 3,
// ENTStructureClasses ≥2, ENTStructureGroupes ≥2.
func DefaultComposites() map[string]Arity {
	e := func(n ...int) Arity { return Arity{Fields: n, Severity: SevError} }
	w := func(n ...int) Arity { return Arity{Fields: n, Severity: SevWarning} }
	return map[string]Arity{
		"ENTElevePersRelEleve":        e(6),
		"ENTPersonFonctions":          e(5),
		"ENTEleveClasses":             e(2),
		"ENTEleveGroupes":             e(2),
		"ENTAuxEnsClassesMatieres":    e(3),
		"ENTAuxEnsGroupesMatieres":    e(3),
		"ENTAuxEnsClassesPrincipal":   e(2),
		"ENTPersonClasses":            e(5),
		"ENTPersonGroupes":            e(5),
		"ENTStructureNomCourant":      w(1, 3),
		"ENTPersonAdresse":            w(1, 4),
		"ENTEleveAutoriteParentale":   w(1, 2),
		"ENTAuxEnsMEF":                w(3),
		"ENTAuxEnsClasses":            w(2),
		"ENTAuxEnsGroupes":            w(2),
		"ENTAuxEnsCategoDiscipline":   w(2),
		"ENTAuxEnsDisciplinesPoste":   w(2),
		"ENTAuxEnsMatiereEnseignEtab": w(2),
		"ENTEtablissementBassin":      w(2),
		"ENTEleveDateEntreeClasses":   w(3),
		"ENTEleveDateSortieClasses":   w(3),
		"ENTStructureClasses":         {AtLeast: 2, Severity: SevWarning},
		"ENTStructureGroupes":         {AtLeast: 2, Severity: SevWarning},
	}
}

// SplitComposite splits a "$"-composite value into its fields.
func SplitComposite(v string) []string { return strings.Split(v, "$") }

// compositeField is SplitComposite(v)[i] without building the slice: the
// check reads one field of most values it looks at. ok is false when v has
// no field i.
func compositeField(v string, i int) (field string, ok bool) {
	for ; i > 0; i-- {
		k := strings.IndexByte(v, '$')
		if k < 0 {
			return "", false
		}
		v = v[k+1:]
	}
	if k := strings.IndexByte(v, '$'); k >= 0 {
		v = v[:k]
	}
	return v, true
}

// SplitAttr splits value of attr checking it against table (nil = default
// table). Attributes absent from the table are returned as one field.
func SplitAttr(table map[string]Arity, attr, value string) ([]string, error) {
	if table == nil {
		table = DefaultComposites()
	}
	a, ok := table[attr]
	if !ok {
		return []string{value}, nil
	}
	f := SplitComposite(value)
	if !a.Allows(len(f)) {
		return f, fmt.Errorf("%s value %q has %d $-fields, expected %s", attr, clip(value), len(f), a)
	}
	return f, nil
}

// Reference is a link from an attribute (a field of it) to the jointure id
// of another family; Check collects both sides to warn about ids that do not
// resolve.
type Reference struct {
	Attr   string `json:"attr"`
	Field  int    `json:"field"` // index of the "$" field holding the id; 0 for plain values
	Target Family `json:"target"`
	// From restricts the reference to one family ("" = any).
	From Family `json:"from,omitempty"`
}

// DefaultReferences lists the links of aaf.md §3.6 (a fresh slice each call).
func DefaultReferences() []Reference {
	return []Reference{
		{Attr: "ENTElevePersRelEleve", Field: 0, Target: PersRelEleve},
		{Attr: "ENTEleveAdresseRel", Field: 0, Target: PersRelEleve},
		{Attr: "ENTEleveAutoriteParentale", Field: 0, Target: PersRelEleve},
		{Attr: "ENTPersonStructRattach", Field: 0, Target: EtabEducNat},
		{Attr: "ENTEleveClasses", Field: 0, Target: EtabEducNat},
		{Attr: "ENTEleveGroupes", Field: 0, Target: EtabEducNat},
		{Attr: "ENTPersonClasses", Field: 0, Target: EtabEducNat},
		{Attr: "ENTPersonGroupes", Field: 0, Target: EtabEducNat},
		{Attr: "ENTPersonFonctions", Field: 0, Target: EtabEducNat},
		{Attr: "ENTAuxEnsClassesMatieres", Field: 0, Target: EtabEducNat},
		{Attr: "ENTAuxEnsGroupesMatieres", Field: 0, Target: EtabEducNat},
		{Attr: "ENTAuxEnsClassesPrincipal", Field: 0, Target: EtabEducNat},
		{Attr: "ENTAuxEnsClasses", Field: 0, Target: EtabEducNat},
		{Attr: "ENTAuxEnsGroupes", Field: 0, Target: EtabEducNat},
		{Attr: "ENTEnsFonctionDir", Field: 0, Target: EtabEducNat},
		{Attr: "ENTEtablissementStructRattachFctl", Field: 0, Target: EtabEducNat},
		{Attr: "ENTEleveMEF", Field: 0, Target: MefEducNat},
		{Attr: "ENTAuxEnsMEF", Field: 1, Target: MefEducNat},
		{Attr: "ENTEleveCodeEnseignements", Field: 0, Target: MatiereEducNat},
		{Attr: "ENTAuxEnsClassesMatieres", Field: 2, Target: MatiereEducNat},
		{Attr: "ENTAuxEnsGroupesMatieres", Field: 2, Target: MatiereEducNat},
		{Attr: "ENTAuxPersRelEleveEleve", Field: 0, Target: Eleve},
		{Attr: "ENTPersRelEleveEleve", Field: 0, Target: Eleve},
	}
}

// Requirement says that one of AnyOf must carry a non-empty value in every
// addRequest of Family (and that a modifyRequest must not clear it).
type Requirement struct {
	Family   Family   `json:"family"`
	AnyOf    []string `json:"any_of"`
	Severity Severity `json:"severity"`
}

// DefaultRequirements derives the required attributes from aaf.md §4.3 (the
// Ruby importer's MissingDataError list) and §4.2 (Laclasse subject checks):
// persons need a name and first name (2D sn/givenName or 1D
// ENTPersonNom/ENTPersonPrenom); students need their attachment structure
// (error) and a birth date (warning: useful, not needed to link);
// structures need a UAI and a name; nomenclature entries need a label. The
// jointure attribute itself is checked as id/jointure (CodeIDMismatch).
func DefaultRequirements() []Requirement {
	var rs []Requirement
	for _, f := range []Family{Eleve, PersRelEleve, PersEducNat} {
		rs = append(rs,
			Requirement{Family: f, AnyOf: []string{"sn", "ENTPersonNom"}, Severity: SevError},
			Requirement{Family: f, AnyOf: []string{"givenName", "ENTPersonPrenom"}, Severity: SevError},
		)
	}
	return append(rs,
		Requirement{Family: Eleve, AnyOf: []string{"ENTPersonStructRattach"}, Severity: SevError},
		Requirement{Family: Eleve, AnyOf: []string{"ENTPersonDateNaissance"}, Severity: SevWarning},
		Requirement{Family: PersEducNat, AnyOf: []string{"ENTPersonStructRattach", "ENTPersonFonctions"}, Severity: SevWarning},
		Requirement{Family: EtabEducNat, AnyOf: []string{"ENTStructureUAI"}, Severity: SevError},
		Requirement{Family: EtabEducNat, AnyOf: []string{"ENTStructureNomCourant"}, Severity: SevError},
		Requirement{Family: MatiereEducNat, AnyOf: []string{"ENTLibelleMatiere"}, Severity: SevError},
		Requirement{Family: MefEducNat, AnyOf: []string{"ENTLibelleMef"}, Severity: SevError},
	)
}

// DateAttrs are the attributes holding a dd/mm/yyyy date, and the field of
// it for composites (ENTEleveDateEntreeClasses: struct$date$class).
func DateAttrs() map[string]int {
	return map[string]int{
		"ENTPersonDateNaissance":          0,
		"ENTEleveDateEntreeClasses":       1,
		"ENTEleveDateSortieClasses":       1,
		"ENTEleveDateEntreeStructRattach": 0,
		"ENTEleveDateSortieStructRattach": 0,
	}
}
