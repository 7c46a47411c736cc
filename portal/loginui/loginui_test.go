package loginui

import (
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
