package stats

import (
	"net/http"
	"strings"
)

// texts is the catalogue of the statistics pages, French first.
var texts = map[string]map[string]string{
	"fr": {
		"skip":             "Aller au contenu",
		"title":            "Statistiques d'utilisation",
		"intro":            "Connexions à l'ENT et accès aux services, d'après le journal d'audit.",
		"filter":           "Filtrer",
		"from":             "Du",
		"to":               "Au",
		"date.hint":        "Format : AAAA-MM-JJ",
		"school":           "Établissement",
		"school.all":       "Tous les établissements",
		"apply":            "Afficher",
		"error.title":      "Le filtre n'a pas pu être appliqué",
		"error.from":       "Date de début invalide : saisissez une date au format AAAA-MM-JJ.",
		"error.to":         "Date de fin invalide : saisissez une date au format AAAA-MM-JJ, postérieure à la date de début.",
		"error.range":      "La période ne peut pas dépasser 3 ans.",
		"error.school":     "Établissement inconnu.",
		"summary":          "Synthèse",
		"logins":           "Connexions",
		"users":            "Utilisateurs distincts",
		"failed":           "Connexions refusées",
		"visits":           "Accès aux services",
		"key":              "Clé",
		"label":            "Libellé",
		"by.day":           "Connexions par jour",
		"by.hour":          "Connexions par heure de la journée",
		"by.profile":       "Connexions par profil",
		"by.school":        "Connexions par établissement",
		"by.upstream":      "Connexions par fournisseur d'identité",
		"by.service":       "Accès par service",
		"col.day":          "Jour",
		"col.hour":         "Heure",
		"col.profile":      "Profil",
		"col.school":       "Établissement",
		"col.upstream":     "Fournisseur d'identité",
		"col.service":      "Service",
		"col.visits":       "Accès",
		"availability":     "Disponibilité",
		"avail.none":       "Aucun relevé de santé sur la période.",
		"avail.percent":    "Disponibilité (%)",
		"avail.ready":      "Minutes disponibles",
		"avail.minutes":    "Minutes relevées",
		"chart.desc":       "Diagramme en barres : %s, du %s au %s. Les mêmes chiffres figurent dans le tableau qui suit.",
		"chart.axis.count": "Nombre",
		"export":           "Exporter",
		"export.csv":       "CSV",
		"export.xlsx":      "Classeur Excel (XLSX)",
		"empty":            "Aucune donnée sur la période.",
		"none":             "(non précisé)",
		"forbidden":        "Accès réservé aux administrateurs de la collectivité.",
		"lang.other":       "English",
		"summary.sheet":    "Synthèse",
		"period":           "Période",
		"profile.eleve":    "Élève", "profile.parent": "Parent", "profile.enseignant": "Enseignant",
		"profile.documentaliste": "Professeur documentaliste", "profile.direction": "Direction",
		"profile.vie_scolaire": "Vie scolaire", "profile.personnel": "Personnel",
		"profile.collectivite": "Personnel de la collectivité", "profile.invite": "Invité",
	},
	"en": {
		"skip":             "Skip to content",
		"title":            "Usage statistics",
		"intro":            "Logins to the ENT and service accesses, from the audit trail.",
		"filter":           "Filter",
		"from":             "From",
		"to":               "To",
		"date.hint":        "Format: YYYY-MM-DD",
		"school":           "School",
		"school.all":       "All schools",
		"apply":            "Show",
		"error.title":      "The filter could not be applied",
		"error.from":       "Invalid start date: enter a date as YYYY-MM-DD.",
		"error.to":         "Invalid end date: enter a date as YYYY-MM-DD, after the start date.",
		"error.range":      "The period cannot exceed 3 years.",
		"error.school":     "Unknown school.",
		"summary":          "Summary",
		"logins":           "Logins",
		"users":            "Distinct users",
		"failed":           "Refused logins",
		"visits":           "Service accesses",
		"key":              "Key",
		"label":            "Label",
		"by.day":           "Logins per day",
		"by.hour":          "Logins per hour of the day",
		"by.profile":       "Logins per profile",
		"by.school":        "Logins per school",
		"by.upstream":      "Logins per identity provider",
		"by.service":       "Accesses per service",
		"col.day":          "Day",
		"col.hour":         "Hour",
		"col.profile":      "Profile",
		"col.school":       "School",
		"col.upstream":     "Identity provider",
		"col.service":      "Service",
		"col.visits":       "Accesses",
		"availability":     "Availability",
		"avail.none":       "No health record over the period.",
		"avail.percent":    "Availability (%)",
		"avail.ready":      "Minutes available",
		"avail.minutes":    "Minutes recorded",
		"chart.desc":       "Bar chart: %s, from %s to %s. The same figures are in the table that follows.",
		"chart.axis.count": "Count",
		"export":           "Export",
		"export.csv":       "CSV",
		"export.xlsx":      "Excel workbook (XLSX)",
		"empty":            "No data over the period.",
		"none":             "(not given)",
		"forbidden":        "Reserved to the local authority's administrators.",
		"lang.other":       "Français",
		"summary.sheet":    "Summary",
		"period":           "Period",
		"profile.eleve":    "Student", "profile.parent": "Parent", "profile.enseignant": "Teacher",
		"profile.documentaliste": "Teacher librarian", "profile.direction": "Management",
		"profile.vie_scolaire": "Pupil supervision", "profile.personnel": "Staff",
		"profile.collectivite": "Local authority staff", "profile.invite": "Guest",
	},
}

// lang picks French unless the request asks for English (?lang=en, or
// a browser preferring English over French).
func lang(r *http.Request) string {
	switch r.URL.Query().Get("lang") {
	case "en":
		return "en"
	case "fr":
		return "fr"
	}
	al := strings.ToLower(r.Header.Get("Accept-Language"))
	if strings.HasPrefix(al, "en") {
		return "en"
	}
	return "fr"
}

// catalogue is one language's texts; a missing key shows as itself, so
// that a gap is visible rather than blank.
type catalogue map[string]string

func (c catalogue) t(key string) string { return c.Tr(key) }

// Tr is t for the templates.
func (c catalogue) Tr(key string) string {
	if v, ok := c[key]; ok {
		return v
	}
	return key
}
