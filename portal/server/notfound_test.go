package server

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/enthub/enthub/portal/loginui"
)

// An address nothing serves gets the portal's page in the reader's
// language; a handler's own 404 and a wrong method keep their answers.
func TestUnknownAddressGetsThePortalNotFoundPage(t *testing.T) {
	pages, err := loginui.New(loginui.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{})
	s.NotFound = http.HandlerFunc(pages.NotFound)
	s.Mux.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such thing", http.StatusNotFound)
	})
	base, _, _ := start(t, s)

	for _, tt := range []struct{ acceptLanguage, want string }{
		{"", "Page introuvable"},
		{"fr-FR,fr;q=0.9", "Page introuvable"},
		{"en-US,en;q=0.8", "Page not found"},
	} {
		req, _ := http.NewRequest("GET", base+"/nulle/part", nil)
		req.Header.Set("Accept-Language", tt.acceptLanguage)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		_, _ = io.Copy(&b, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(b.String(), tt.want) ||
			strings.Contains(b.String(), "404 page not found") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("Accept-Language %q: %d %s\n%s", tt.acceptLanguage, resp.StatusCode, resp.Header.Get("Content-Type"), b.String())
		}
	}
	if code, body, _ := get(t, base+"/things/42"); code != http.StatusNotFound || body != "no such thing\n" {
		t.Errorf("a handler's own 404 = %d %q", code, body)
	}
	resp, err := http.Post(base+"/healthz", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz = %d, want 405", resp.StatusCode)
	}
}
