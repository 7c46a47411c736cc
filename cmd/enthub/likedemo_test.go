package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enthub/enthub/config"
)

// `aaf generate --like-demo` writes deliveries that the demo's directory
// takes: its Delta, then a later Complet, both applied with changes.
func TestGenerateLikeDemoFitsTheDemoDirectory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DB = "sqlite:" + filepath.Join(dir, "enthub.db")
	a := &app{stdout: io.Discard, stderr: io.Discard, command: "enthub demo"}
	store, err := a.openStore(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	err = a.seedDemo(ctx, store, dir, cfg) // the demo's own first start
	store.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		flags []string
		kind  string
	}{
		{[]string{"--delta"}, "Delta 2024-09-17"},
		{nil, "Complet 2024-09-18"},
	} {
		out := filepath.Join(dir, strings.Fields(tc.kind)[0])
		code, stdout, errs := enthub(t, nil, append([]string{"aaf", "generate", "--like-demo", "--out", out}, tc.flags...)...)
		if code != 0 || !strings.HasPrefix(stdout, tc.kind+" in ") || !strings.Contains(stdout, ": 4 structures, ") {
			t.Fatalf("generate --like-demo %v = %d %q %q", tc.flags, code, stdout, errs)
		}
		code, stdout, errs = enthub(t, nil, "aaf", "import", out, "--json", "--db", cfg.DB)
		var rep struct {
			Outcome string `json:"outcome"`
			Reason  string `json:"reason"`
			Apply   struct {
				Families map[string]struct {
					Added, Updated, Disabled, Restored int
				} `json:"families"`
			} `json:"apply"`
		}
		if err := json.Unmarshal([]byte(stdout), &rep); code != 0 || err != nil || rep.Outcome != "applied" {
			t.Fatalf("import of the %s = %d %v %q %q", tc.kind, code, err, stdout, errs)
		}
		changed := 0
		for _, c := range rep.Apply.Families {
			changed += c.Added + c.Updated + c.Disabled + c.Restored
		}
		if changed == 0 {
			t.Errorf("the %s changed nothing in the demo's directory: %s", tc.kind, stdout)
		}
	}
	code, _, errs := enthub(t, nil, "aaf", "generate", "--like-demo", "--students", "10", "--out", filepath.Join(dir, "x"))
	if code != 2 || !strings.Contains(errs, "--like-demo sets --students itself") {
		t.Errorf("--like-demo with --students = %d %q, want a usage error", code, errs)
	}
}
