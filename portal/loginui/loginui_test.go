package loginui

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/idp"
)

func newPages(t *testing.T) *Pages {
	p, err := New(Options{SiteName: "ENT Loiret"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoginPageFrenchFirstAccessible(t *testing.T) {
	p := newPages(t)
	w := httptest.NewRecorder()
	p.Login(w, httptest.NewRequest("GET", "/login", nil), idp.LoginView{Status: 401, Action: "/login", CSRF: "tok", Request: "r1",
		Login: "emma.martin", Error: idp.LoginErrBadCredentials, Service: "Pronote"})
	b := w.Body.String()
	for _, want := range []string{`<html lang="fr">`, `name="viewport"`, `<label for="login">Identifiant</label>`, `<label for="password">Mot de passe</label>`,
		`autocomplete="username"`, `autocomplete="current-password"`, `role="alert"`, "Identifiant ou mot de passe incorrect.",
		`name="csrf" value="tok"`, `name="req" value="r1"`, `value="emma.martin"`, "Pronote", `aria-invalid="true"`, `hreflang="en"`} {
		if !strings.Contains(b, want) {
			t.Errorf("login page lacks %q", want)
		}
	}
	if w.Code != 401 || !strings.Contains(w.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("status %d, CSP %q", w.Code, w.Header().Get("Content-Security-Policy"))
	}
}

func TestLoginPageEnglishOnRequest(t *testing.T) {
	p := newPages(t)
	w := httptest.NewRecorder()
	p.Login(w, httptest.NewRequest("GET", "/login?lang=en", nil), idp.LoginView{Action: "/login", Error: idp.LoginErrLocked, RetryAfter: 15 * time.Minute})
	b := w.Body.String()
	if !strings.Contains(b, `<html lang="en">`) || !strings.Contains(b, "Try again in 15 minutes") {
		t.Fatalf("English page:\n%s", b)
	}
	r := httptest.NewRequest("GET", "/login", nil)
	r.Header.Set("Accept-Language", "en-GB,en;q=0.9")
	w = httptest.NewRecorder()
	p.Login(w, r, idp.LoginView{Action: "/login"})
	if !strings.Contains(w.Body.String(), "Username") {
		t.Fatal("Accept-Language en not honoured")
	}
}

// A parent's personas name the children of each school, and every persona
// its school's town, in French and English.
func TestPersonaLabels(t *testing.T) {
	p := newPages(t)
	v := idp.PersonaView{Action: "/login/persona", CSRF: "t", Choices: []idp.PersonaChoice{
		{ID: "a", Profile: "parent", StructureName: "Collège Jean Moulin", City: "Marseille", Children: []string{"Léa Martin"}},
		{ID: "b", Profile: "parent", StructureName: "École Jules Ferry", City: "Aubagne", Children: []string{"Hugo Martin", "Emma Martin", "Zoé Martin"}},
		{ID: "c", Profile: "parent", StructureName: "Lycée Thiers", City: "Marseille", Children: []string{"Emma Martin"}},
		{ID: "d", Profile: "enseignant", StructureName: "Lycée Thiers", City: "Marseille"},
	}}
	for _, tc := range []struct {
		lang string
		want []string
	}{
		{"fr", []string{"<strong>Parent de Léa Martin</strong> — Collège Jean Moulin, Marseille",
			"<strong>Parent de Hugo Martin, Emma Martin et Zoé Martin</strong> — École Jules Ferry, Aubagne",
			"<strong>Parent d&#39;Emma Martin</strong> — Lycée Thiers, Marseille", "<strong>Enseignant</strong> — Lycée Thiers, Marseille"}},
		{"en", []string{"<strong>Parent of Léa Martin</strong> — Collège Jean Moulin, Marseille",
			"<strong>Parent of Hugo Martin, Emma Martin and Zoé Martin</strong>", "<strong>Parent of Emma Martin</strong>"}},
	} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/login/persona", nil)
		r.Header.Set("Accept-Language", tc.lang)
		p.Personas(w, r, v)
		for _, want := range tc.want {
			if !strings.Contains(w.Body.String(), want) {
				t.Errorf("%s persona page lacks %q:\n%s", tc.lang, want, w.Body.String())
			}
		}
	}
}

func TestPersonaAndMessagePages(t *testing.T) {
	p := newPages(t)
	w := httptest.NewRecorder()
	p.Personas(w, httptest.NewRequest("GET", "/login/persona", nil), idp.PersonaView{Action: "/login/persona", CSRF: "t",
		Choices: []idp.PersonaChoice{{ID: "a", Profile: "enseignant", StructureName: "Lycée Jean Zay", UAI: "0451462V"},
			{ID: "b", Profile: "parent", StructureName: "Collège", Current: true}}})
	b := w.Body.String()
	if !strings.Contains(b, "<legend>Profil et établissement</legend>") || !strings.Contains(b, "Enseignant") ||
		!strings.Contains(b, `for="persona-0"`) || !strings.Contains(b, "(profil actuel)") {
		t.Fatalf("persona page:\n%s", b)
	}
	w = httptest.NewRecorder()
	p.Message(w, httptest.NewRequest("GET", "/cas/login", nil), idp.MessageView{Status: http.StatusBadRequest, Code: idp.MsgUnknownService, Detail: "https://evil/<x>"})
	b = w.Body.String()
	if w.Code != 400 || !strings.Contains(b, "Application inconnue") || !strings.Contains(b, "https://evil/&lt;x&gt;") {
		t.Fatalf("message page %d:\n%s", w.Code, b)
	}
}

// The login page's sentence reads as one sentence, with and without the
// application that asked, in both languages.
func TestLoginIntroIsOneSentence(t *testing.T) {
	p := newPages(t)
	tests := []struct {
		lang, service, want string
	}{
		{"fr", "Pronote", "<p>Pour accéder à <strong class=\"service\">Pronote</strong>, connectez-vous avec l&#39;identifiant et le mot de passe que votre établissement vous a remis.</p>"},
		{"fr", "", "<p>Connectez-vous avec l&#39;identifiant et le mot de passe que votre établissement vous a remis.</p>"},
		{"en", "Pronote", "<p>To reach <strong class=\"service\">Pronote</strong>, log in with the username and password your school gave you.</p>"},
		{"en", "", "<p>Log in with the username and password your school gave you.</p>"},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		p.Login(w, httptest.NewRequest("GET", "/login?lang="+tt.lang, nil), idp.LoginView{Action: "/login", Service: tt.service})
		if b := w.Body.String(); !strings.Contains(b, tt.want) {
			t.Errorf("%s login page for %q lacks\n%s\n%s", tt.lang, tt.service, tt.want, b)
		}
	}
}

func TestCountPlurals(t *testing.T) {
	tests := []struct {
		lang string
		n    int
		unit string
		want string
	}{
		{"fr", 0, "second", "0 seconde"},
		{"fr", 1, "second", "1 seconde"},
		{"fr", 2, "second", "2 secondes"},
		{"fr", 1, "minute", "1 minute"},
		{"fr", 2, "hour", "2 heures"},
		{"en", 0, "second", "0 seconds"},
		{"en", 1, "second", "1 second"},
		{"en", 2, "second", "2 seconds"},
		{"en", 1, "hour", "1 hour"},
	}
	for _, tt := range tests {
		if got := count(tt.lang, tt.n, tt.unit); got != tt.want {
			t.Errorf("count(%s, %d, %s) = %q, want %q", tt.lang, tt.n, tt.unit, got, tt.want)
		}
	}
}

// What a throttled or locked person reads: the count agrees with its word.
func TestRetryDelayReadsRight(t *testing.T) {
	p := newPages(t)
	tests := []struct {
		lang  string
		error string
		wait  time.Duration
		want  string
	}{
		{"fr", idp.LoginErrThrottled, 400 * time.Millisecond, "Réessayez dans 1 seconde."},
		{"fr", idp.LoginErrThrottled, time.Second, "Réessayez dans 1 seconde."},
		{"fr", idp.LoginErrThrottled, 2 * time.Second, "Réessayez dans 2 secondes."},
		{"fr", idp.LoginErrLocked, 119 * time.Second, "Réessayez dans 119 secondes."},
		{"fr", idp.LoginErrLocked, 15 * time.Minute, "Réessayez dans 15 minutes."},
		{"fr", idp.LoginErrLocked, 3 * time.Hour, "Réessayez dans 3 heures."},
		{"en", idp.LoginErrThrottled, time.Second, "Try again in 1 second."},
		{"en", idp.LoginErrThrottled, 2 * time.Second, "Try again in 2 seconds."},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		p.Login(w, httptest.NewRequest("POST", "/login?lang="+tt.lang, nil), idp.LoginView{Status: 429, Action: "/login", Error: tt.error, RetryAfter: tt.wait})
		if b := w.Body.String(); !strings.Contains(b, tt.want) {
			t.Errorf("%s %s after %v: page lacks %q", tt.lang, tt.error, tt.wait, tt.want)
		}
	}
}

func TestNotFoundPage(t *testing.T) {
	p := newPages(t)
	for _, tt := range []struct{ acceptLanguage, want, not string }{
		{"", "<h1>Page introuvable</h1>", "Page not found"},
		{"fr-FR,fr;q=0.9,en;q=0.5", "<h1>Page introuvable</h1>", "Page not found"},
		{"en-GB,en;q=0.9", "<h1>Page not found</h1>", "Page introuvable"},
	} {
		r := httptest.NewRequest("GET", "/nulle/part", nil)
		r.Header.Set("Accept-Language", tt.acceptLanguage)
		w := httptest.NewRecorder()
		p.NotFound(w, r)
		b := w.Body.String()
		if w.Code != http.StatusNotFound || !strings.Contains(b, tt.want) || strings.Contains(b, tt.not) ||
			!strings.Contains(b, "<code>/nulle/part</code>") || !strings.Contains(b, `name="viewport"`) {
			t.Errorf("Accept-Language %q: %d\n%s", tt.acceptLanguage, w.Code, b)
		}
	}
}

func TestChooserStepsFrenchFirstWithoutScript(t *testing.T) {
	p := newPages(t)
	w := httptest.NewRecorder()
	p.Chooser(w, httptest.NewRequest("GET", "/login", nil), idp.ChooserView{Status: 200, Profiles: []idp.ChooserLink{
		{Code: "eleve", URL: "/login?profile=eleve"}, {Code: "personnel", URL: "/login?profile=personnel"}}})
	b := w.Body.String()
	for _, want := range []string{`<html lang="fr">`, `<main id="main">`, `<nav aria-labelledby="profiles-title">`, "Je suis…",
		`<a class="button" href="/login?profile=eleve">un élève</a>`, "un enseignant ou un personnel de l&#39;établissement"} {
		if !strings.Contains(b, want) {
			t.Errorf("step 1 lacks %q:\n%s", want, b)
		}
	}
	if strings.Contains(b, "<script") {
		t.Error("the chooser runs a script")
	}
	w = httptest.NewRecorder()
	p.Chooser(w, httptest.NewRequest("GET", "/login?profile=eleve&lang=en", nil), idp.ChooserView{Status: 200, Profile: "eleve", Back: "/login",
		Methods: []idp.ChooserLink{{Code: "educonnect", Label: "EduConnect", URL: "/login/educonnect?req=r1"}, {Code: "eduprovence", Label: "EduProvence", URL: "/login/eduprovence"}}})
	b = w.Body.String()
	for _, want := range []string{`<html lang="en">`, "How do you log in?", "a student", `href="/login/educonnect?req=r1">EduConnect</a>`, "Change profile"} {
		if !strings.Contains(b, want) {
			t.Errorf("step 2 lacks %q:\n%s", want, b)
		}
	}
}

func TestNoAccountSaysWhomToContact(t *testing.T) {
	p := newPages(t)
	for uai, want := range map[string]string{"0130001B": "<code>0130001B</code>", "": "secrétariat de votre établissement"} {
		w := httptest.NewRecorder()
		p.Message(w, httptest.NewRequest("GET", "/federation/educonnect/saml/acs", nil), idp.MessageView{Status: 403, Code: idp.MsgNoAccount, Detail: uai, Link: "/login"})
		b := w.Body.String()
		if w.Code != 403 || !strings.Contains(b, "Aucun compte ENT ne correspond") || !strings.Contains(b, want) || !strings.Contains(b, "secrétariat") {
			t.Errorf("no-account page (UAI %q): %d\n%s", uai, w.Code, b)
		}
	}
}

// A persona refused the GAR reads why, in French first, with its school.
func TestGARNotSubscribedPage(t *testing.T) {
	p := newPages(t)
	for lang, want := range map[string][2]string{"": {"Ressources numériques non disponibles", "pas abonné au GAR"},
		"?lang=en": {"Digital resources not available", "does not subscribe to the GAR"}} {
		w := httptest.NewRecorder()
		p.Message(w, httptest.NewRequest("GET", "/saml/idp/sso"+lang, nil), idp.MessageView{Status: http.StatusForbidden,
			Code: idp.MsgGARNotSubscribed, Detail: "Collège Anatole France (0450001A)", Link: "/login/persona", LinkLabel: "persona"})
		b := w.Body.String()
		if w.Code != 403 || !strings.Contains(b, want[0]) || !strings.Contains(b, want[1]) || !strings.Contains(b, "Collège Anatole France (0450001A)") {
			t.Fatalf("%q: %d\n%s", lang, w.Code, b)
		}
	}
}

// The chooser shows the news for everyone at step 1 and marks the choice
// remembered on the device.
func TestChooserShowsNewsAndRememberedChoice(t *testing.T) {
	p, err := New(Options{News: func(context.Context) []News {
		return []News{{Title: "ENT fermé samedi", Body: "Maintenance de 8 h à 12 h."}}
	}})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	p.Chooser(w, httptest.NewRequest("GET", "/login", nil), idp.ChooserView{Status: 200, Profiles: []idp.ChooserLink{
		{Code: "eleve", URL: "/login?profile=eleve", Last: true}, {Code: "parent", URL: "/login?profile=parent"}}})
	b := w.Body.String()
	for _, want := range []string{`<h2 id="news-title">Actualités</h2>`, "<strong>ENT fermé samedi</strong> — Maintenance de 8 h à 12 h.",
		`un élève <span class="last">(dernier choix sur cet appareil)</span>`} {
		if !strings.Contains(b, want) {
			t.Errorf("chooser lacks %q:\n%s", want, b)
		}
	}
	w = httptest.NewRecorder()
	p.Chooser(w, httptest.NewRequest("GET", "/login?profile=eleve", nil), idp.ChooserView{Status: 200, Profile: "eleve",
		Methods: []idp.ChooserLink{{Code: "educonnect", Label: "EduConnect", URL: "/login/educonnect"}}})
	if strings.Contains(w.Body.String(), "ENT fermé samedi") {
		t.Error("news repeated at step 2")
	}
}
