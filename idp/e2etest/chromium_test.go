package e2etest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/test/peer"
)

// chromium runs headless Chromium with a phone-sized window.
func chromium(t *testing.T, args ...string) string {
	t.Helper()
	bin := peer.RequireBinary(t, "chromium")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := []string{"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
		"--user-data-dir=" + t.TempDir(), "--window-size=390,844", "--lang=fr-FR"}
	out, err := exec.CommandContext(ctx, bin, append(base, args...)...).Output()
	if err != nil {
		t.Fatalf("chromium %v: %v", args, err)
	}
	return string(out)
}

// TestLoginPageInChromiumOnAPhone renders the login page of a parked CAS
// request in a real browser, phone-sized: French, labelled fields, the
// service named, and a screenshot (kept when ENTHUB_SCREENSHOTS is a folder).
func TestLoginPageInChromiumOnAPhone(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := startHub(t, ln, nil)
	dom := chromium(t, "--dump-dom", h.url+"/login?lang=fr")
	for _, want := range []string{`<html lang="fr">`, `<label for="login">Identifiant</label>`, `<label for="password">Mot de passe</label>`,
		`autocomplete="current-password"`, `Se connecter`} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered login page lacks %q", want)
		}
	}
	dir := os.Getenv("ENTHUB_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	shot := filepath.Join(dir, "login-phone.png")
	chromium(t, "--screenshot="+shot, h.url+"/login?lang=fr")
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 2000 {
		t.Fatalf("no screenshot: %v", err)
	}
}
