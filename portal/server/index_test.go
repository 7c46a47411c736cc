package server

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/enthub/enthub/test/peer"
)

// The index must read on a 360 px phone without scrolling sideways, long
// URLs and commands included: Chromium lays it out and a script measures it.
func TestIndexFitsAPhone(t *testing.T) {
	long := "http://127.0.0.1:8080/.well-known/openid-configuration/" + strings.Repeat("x", 60)
	index := Index("enthub — démonstration", "Ce qui tourne :", []Entry{
		{Name: "Découverte OIDC", URL: long},
		{Name: "Annuaire (base de données)", URL: "sqlite:/var/lib/enthub-demo/a-rather-long-folder-name/enthub.db"},
		{Name: "Annuaire LDAP", URL: "ldap://127.0.0.1:3389/dc=enthub", Description: "Compte de lecture : cn=reader,dc=enthub / demo.",
			Command: "ldapsearch -o ldif-wrap=no -x -H ldap://127.0.0.1:3389 -D cn=reader,dc=enthub -w demo -b ou=people,dc=enthub '(ENTPersonProfils=National_ENS)' cn"},
	})
	// Headless Chromium keeps its window at least 500 px wide: the page is
	// laid out in a 360 px frame instead, measured once it has loaded.
	frame := `<!DOCTYPE html><html><body style="margin:0"><iframe id="f" src="/index" style="width:360px;height:800px;border:0"
onload="var d=this.contentDocument.documentElement;document.getElementById('m').textContent='scroll '+d.scrollWidth+' of '+d.clientWidth"></iframe>
<p id="m"></p></body></html>`
	mux := http.NewServeMux()
	mux.Handle("/index", index)
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(frame))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	b := peer.Chromium(t)
	dom := b.DumpDOM(srv.URL + "/")
	m := regexp.MustCompile(`scroll (\d+) of (\d+)`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("no measure in the page:\n%s", dom)
	}
	if m[1] != m[2] || m[2] == "0" {
		t.Errorf("at 360 px the index is %s px wide for a %s px viewport: it scrolls sideways", m[1], m[2])
	}
	rec := httptest.NewRecorder()
	index.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	for _, want := range []string{`name="viewport"`, "<pre><code>ldapsearch -o ldif-wrap=no"} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("index lacks %q", want)
		}
	}
}
