package gar_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/enthub/enthub/directory/gar"
	"github.com/enthub/enthub/directory/sqlstore"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/golden")

// A small export is byte for byte the one in testdata/golden (go test
// -run Golden -update rewrites it after a deliberate change): the order of
// elements, the names, the namespaces and every value are reviewed there.
func TestExportGolden(t *testing.T) {
	n := 0
	s, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "enthub.db"),
		sqlstore.Options{NewID: func() string { n++; return fmt.Sprintf("id-%06d", n) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	importGenerated(t, s, 12, 1, 42)
	p := gar.Project{IDEnt: "ENT-TEST", Schools: uais(t, s), Secret: testSecret}
	out := t.TempDir()
	res, err := gar.Export(context.Background(), s, gar.ExportOptions{Project: p, Out: out, Now: exportTime})
	if err != nil {
		t.Fatal(err)
	}
	validate(t, res.Files)
	golden := filepath.Join("testdata", "golden")
	if *update {
		os.RemoveAll(golden)
		if err := os.MkdirAll(golden, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range res.Files {
		got, _ := os.ReadFile(f)
		g := filepath.Join(golden, filepath.Base(f))
		if *update {
			if err := os.WriteFile(g, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(g)
		if err != nil {
			t.Fatalf("%v (go test -run Golden -update writes it)", err)
		}
		if string(got) != string(want) {
			t.Errorf("%s differs from %s (go test -run Golden -update after a deliberate change):\n%s", filepath.Base(f), g, got)
		}
	}
	if entries, _ := os.ReadDir(golden); len(entries) != len(res.Files) {
		t.Errorf("%d golden files, %d exported", len(entries), len(res.Files))
	}
}
