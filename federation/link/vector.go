package link

import "strings"

// aafID is an AAF id with the académie code it came with, if any.
type aafID struct{ code, id string }

// parseVector reads an EduConnect FrEduCtRefId value "{AAF}<code>|<x>|<id>"
// (entcore SSOEduConnect): the other vectors (ECT…, ECT-ENT…) are not AAF
// ids and are skipped.
func parseVector(v string) (aafID, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(v), "{AAF}")
	if !ok {
		return aafID{}, false
	}
	parts := strings.Split(rest, "|")
	if len(parts) != 3 || strings.TrimSpace(parts[2]) == "" {
		return aafID{}, false
	}
	return aafID{code: strings.TrimSpace(parts[0]), id: strings.TrimSpace(parts[2])}, true
}

// expandKeys gives the ENTPersonJointure forms to try for a, in order.
func expandKeys(templates []string, a aafID, academies map[string]string) []string {
	if len(templates) == 0 {
		templates = []string{"{id}"}
	}
	var out []string
	for _, t := range templates {
		name := academies[a.code]
		if (strings.Contains(t, "{academie}") && name == "") || (strings.Contains(t, "{code}") && a.code == "") {
			continue
		}
		out = append(out, strings.NewReplacer("{id}", a.id, "{academie}", name, "{code}", a.code).Replace(t))
	}
	return out
}

func (c Config) academies() map[string]string {
	if c.Academies != nil {
		return c.Academies
	}
	return Academies
}

// Academies is the national table of académie codes to the names entcore
// prefixes AAF ids with (its "academy-prefix" table); 70 is the Normandie
// académie created in 2020 from Caen (05) and Rouen (21).
var Academies = map[string]string{
	"01": "PARIS", "02": "AIX-MARSEILLE", "03": "BESANCON", "04": "BORDEAUX", "05": "CAEN",
	"06": "CLERMONT-FERRAND", "07": "DIJON", "08": "GRENOBLE", "09": "LILLE", "10": "LYON",
	"11": "MONTPELLIER", "12": "NANCY-METZ", "13": "POITIERS", "14": "RENNES", "15": "STRASBOURG",
	"16": "TOULOUSE", "17": "NANTES", "18": "ORLEANS-TOURS", "19": "REIMS", "20": "AMIENS",
	"21": "ROUEN", "22": "LIMOGES", "23": "NICE", "24": "CRETEIL", "25": "VERSAILLES",
	"27": "CORSE", "28": "LA-REUNION", "31": "MARTINIQUE", "32": "GUADELOUPE", "33": "GUYANE",
	"43": "MAYOTTE", "70": "NORMANDIE",
}
