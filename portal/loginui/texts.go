package loginui

import "fmt"

// texts holds every string of the pages, French first.
var texts = map[string]map[string]string{
	"fr": {
		"skip":                        "Aller au contenu",
		"login.title":                 "Connexion",
		"login.intro":                 "Connectez-vous avec l'identifiant et le mot de passe que votre établissement vous a remis.",
		"login.for":                   "Pour accéder à",
		"login.for.intro":             "connectez-vous avec l'identifiant et le mot de passe que votre établissement vous a remis.",
		"login.login":                 "Identifiant",
		"login.login.hint":            "Par exemple : prenom.nom",
		"login.password":              "Mot de passe",
		"login.submit":                "Se connecter",
		"login.help":                  "Mot de passe oublié ? Adressez-vous au secrétariat de votre établissement.",
		"err.title":                   "La connexion n'a pas abouti",
		"err.bad_credentials":         "Identifiant ou mot de passe incorrect.",
		"err.throttled":               "Trop de tentatives. Réessayez dans %s.",
		"err.locked":                  "Compte temporairement bloqué après trop de tentatives. Réessayez dans %s.",
		"err.csrf":                    "Le formulaire a expiré. Saisissez à nouveau vos informations.",
		"err.required":                "Saisissez votre identifiant et votre mot de passe.",
		"err.unknown_persona":         "Ce profil n'est pas le vôtre.",
		"persona.title":               "Choisissez votre profil",
		"persona.intro":               "Vous avez plusieurs profils. Avec lequel voulez-vous continuer ?",
		"persona.legend":              "Profil et établissement",
		"persona.submit":              "Continuer",
		"persona.current":             "(profil actuel)",
		"profile.eleve":               "Élève",
		"profile.parent":              "Parent",
		"profile.enseignant":          "Enseignant",
		"profile.documentaliste":      "Professeur documentaliste",
		"profile.direction":           "Direction",
		"profile.vie_scolaire":        "Vie scolaire",
		"profile.personnel":           "Personnel",
		"profile.collectivite":        "Personnel de la collectivité",
		"profile.invite":              "Invité",
		"msg.unknown_service.title":   "Application inconnue",
		"msg.unknown_service.text":    "Cette application n'est pas déclarée auprès de l'ENT : la connexion est refusée pour protéger vos données. Adresse demandée :",
		"msg.service_forbidden.title": "Accès non autorisé",
		"msg.service_forbidden.text":  "Votre profil ne donne pas accès à cette application. Si vous avez plusieurs profils, changez de profil. Application :",
		"msg.bad_request.title":       "Demande refusée",
		"msg.bad_request.text":        "La demande de connexion de l'application est invalide. Détail :",
		"msg.request_expired.title":   "Demande expirée",
		"msg.request_expired.text":    "Cette demande de connexion a expiré ou a déjà servi. Retournez dans l'application et recommencez.",
		"msg.logout_confirm.title":    "Déconnexion",
		"msg.logout_confirm.text":     "Vous allez être déconnecté de l'ENT et de toutes les applications ouvertes avec lui.",
		"msg.logout_confirm.button":   "Se déconnecter",
		"msg.logged_out.title":        "Vous êtes déconnecté",
		"msg.logged_out.text":         "Votre session est terminée. Pensez à fermer le navigateur sur un poste partagé.",
		"msg.account_disabled.title":  "Compte désactivé",
		"msg.account_disabled.text":   "Ce compte n'est plus actif. Adressez-vous à votre établissement.",
		"msg.server_error.title":      "Service momentanément indisponible",
		"msg.server_error.text":       "Une erreur est survenue. Réessayez dans quelques instants.",
		"msg.not_found.title":         "Page introuvable",
		"msg.not_found.text":          "Aucune page ne correspond à cette adresse. Vérifiez-la, ou revenez à l'application d'où vous veniez. Adresse demandée :",
		"msg.link":                    "Continuer",
		"footer":                      "Espace numérique de travail",

		// The GAR (idp.MsgGARNotSubscribed); Detail: the school and its UAI.
		"msg.gar_not_subscribed.title": "Ressources numériques non disponibles",
		"msg.gar_not_subscribed.text":  "Votre établissement n'est pas abonné au GAR (Gestionnaire d'accès aux ressources), ou votre profil n'y donne pas accès : les manuels et ressources numériques ne s'ouvrent pas depuis ce profil. Si vous avez plusieurs profils, changez de profil. Établissement :",
	},
	"en": {
		"skip":                        "Skip to content",
		"login.title":                 "Log in",
		"login.intro":                 "Log in with the username and password your school gave you.",
		"login.for":                   "To reach",
		"login.for.intro":             "log in with the username and password your school gave you.",
		"login.login":                 "Username",
		"login.login.hint":            "For example: firstname.lastname",
		"login.password":              "Password",
		"login.submit":                "Log in",
		"login.help":                  "Forgot your password? Ask your school's office.",
		"err.title":                   "Login failed",
		"err.bad_credentials":         "Wrong username or password.",
		"err.throttled":               "Too many attempts. Try again in %s.",
		"err.locked":                  "Account temporarily locked after too many attempts. Try again in %s.",
		"err.csrf":                    "The form expired. Please enter your details again.",
		"err.required":                "Enter your username and password.",
		"err.unknown_persona":         "This profile is not yours.",
		"persona.title":               "Choose your profile",
		"persona.intro":               "You have several profiles. Which one do you want to continue with?",
		"persona.legend":              "Profile and school",
		"persona.submit":              "Continue",
		"persona.current":             "(current profile)",
		"profile.eleve":               "Student",
		"profile.parent":              "Parent",
		"profile.enseignant":          "Teacher",
		"profile.documentaliste":      "Librarian",
		"profile.direction":           "Management",
		"profile.vie_scolaire":        "School life staff",
		"profile.personnel":           "Staff",
		"profile.collectivite":        "Local authority staff",
		"profile.invite":              "Guest",
		"msg.unknown_service.title":   "Unknown application",
		"msg.unknown_service.text":    "This application is not registered with the ENT: login is refused to protect your data. Requested address:",
		"msg.service_forbidden.title": "Access not allowed",
		"msg.service_forbidden.text":  "Your profile does not give access to this application. If you have several profiles, switch profile. Application:",
		"msg.bad_request.title":       "Request refused",
		"msg.bad_request.text":        "The application's login request is invalid. Detail:",
		"msg.request_expired.title":   "Request expired",
		"msg.request_expired.text":    "This login request expired or was already used. Go back to the application and start again.",
		"msg.logout_confirm.title":    "Log out",
		"msg.logout_confirm.text":     "You will be logged out of the ENT and every application opened with it.",
		"msg.logout_confirm.button":   "Log out",
		"msg.logged_out.title":        "You are logged out",
		"msg.logged_out.text":         "Your session has ended. Close the browser on a shared computer.",
		"msg.account_disabled.title":  "Account disabled",
		"msg.account_disabled.text":   "This account is no longer active. Ask your school.",
		"msg.server_error.title":      "Service temporarily unavailable",
		"msg.server_error.text":       "Something went wrong. Try again in a moment.",
		"msg.not_found.title":         "Page not found",
		"msg.not_found.text":          "No page has this address. Check it, or go back to the application you came from. Requested address:",
		"msg.link":                    "Continue",
		"footer":                      "Digital workspace",

		"msg.gar_not_subscribed.title": "Digital resources not available",
		"msg.gar_not_subscribed.text":  "Your school does not subscribe to the GAR (the national access manager for digital resources), or your profile gives no access to it: textbooks and digital resources do not open from this profile. If you have several profiles, switch profile. School:",
	},
}

// units are the words that follow a count, singular then plural. Every
// count shown to a person is written by count, never by hand.
var units = map[string]map[string][2]string{
	"fr": {
		"second": {"seconde", "secondes"},
		"minute": {"minute", "minutes"},
		"hour":   {"heure", "heures"},
	},
	"en": {
		"second": {"second", "seconds"},
		"minute": {"minute", "minutes"},
		"hour":   {"hour", "hours"},
	},
}

// count writes n followed by unit in the form n takes in lang: French
// keeps the singular for 0 and 1 ("0 seconde", "1 seconde", "2 secondes"),
// English for 1 only ("0 seconds", "1 second") — the CLDR plural rules of
// the two languages.
func count(lang string, n int, unit string) string {
	forms, ok := units[lang][unit]
	if !ok {
		forms = units["fr"][unit]
	}
	form := forms[1]
	if n == 1 || (lang == "fr" && n == 0) {
		form = forms[0]
	}
	return fmt.Sprintf("%d %s", n, form)
}
