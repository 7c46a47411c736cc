package aaf

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/directory/storetest"
)

// Each broken delivery is refused with a reason naming what is wrong, and
// the directory stays exactly as the previous import left it.
func TestRefusedDeliveryLeavesDirectoryUnchanged(t *testing.T) {
	base := filepath.Join(t.TempDir(), "day1")
	if _, err := Generate(context.Background(), GenerateOptions{Out: base, Students: 300, Schools: 1, Seed: 3, ChunkSize: 100}); err != nil {
		t.Fatal(err)
	}
	day2 := func(t *testing.T) string {
		dir := filepath.Join(t.TempDir(), "day2")
		if _, err := Generate(context.Background(), GenerateOptions{Out: dir, Students: 300, Schools: 1, Seed: 3, ChunkSize: 100,
			Date: time.Date(2024, 9, 17, 0, 0, 0, 0, time.UTC)}); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	tests := []struct {
		name   string
		break_ func(t *testing.T, dir string) []string // returns the paths to import
		want   []string
	}{
		{"truncated file", func(t *testing.T, dir string) []string {
			edit(t, fileOf(t, dir, Eleve, 1), func(s string) string { return s[:len(s)*2/3] })
			return []string{dir}
		}, []string{"Eleve_0001.xml", "truncated"}},
		{"wrong category", func(t *testing.T, dir string) []string {
			edit(t, fileOf(t, dir, Eleve, 0), func(s string) string {
				return strings.Replace(s, `<value>Eleve</value></attr></operationalAttributes>`, `<value>PersEducNat</value></attr></operationalAttributes>`, 1)
			})
			return []string{dir}
		}, []string{"Eleve_0000.xml", "record 1", "does not match the file family Eleve"}},
		{"id/jointure mismatch", func(t *testing.T, dir string) []string {
			edit(t, fileOf(t, dir, PersEducNat, 0), func(s string) string {
				i := strings.Index(s, `<attr name="ENTPersonJointure"><value>`) + len(`<attr name="ENTPersonJointure"><value>`)
				return s[:i] + "9" + s[i:]
			})
			return []string{dir}
		}, []string{"PersEducNat_0000.xml", "ENTPersonJointure"}},
		{"Complet dropping 40% of a school", func(t *testing.T, dir string) []string {
			for _, f := range mustGlob(t, filepath.Join(dir, "*_Eleve_*.xml")) {
				edit(t, f, func(s string) string { return dropRecords(s, 0.4) })
			}
			return []string{dir}
		}, []string{"school 0130000A CLG JEAN MOULIN (AAF id 52000) would lose", "%", "--force"}},
		{"bad checksum", func(t *testing.T, dir string) []string {
			zip := filepath.Join(t.TempDir(), "ENT2D.20240917.Complet.zip")
			files := map[string]string{}
			for _, f := range mustGlob(t, filepath.Join(dir, "*.xml")) {
				b, _ := os.ReadFile(f)
				files[filepath.Base(f)] = string(b)
			}
			writeTestZip(t, zip, files)
			os.WriteFile(zip+".sha256", []byte(strings.Repeat("ab", 32)+"  "+filepath.Base(zip)+"\n"), 0o600)
			return []string{zip}
		}, []string{"checksum mismatch", ".sha256"}},
	}
	for name, s := range openStores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			if _, err := Import(ctx, s, []string{base}, ImportOptions{}); err != nil {
				t.Fatal(err)
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					before := storetest.Dump(t, s.DB())
					rep, err := Import(ctx, s, tt.break_(t, day2(t)), ImportOptions{})
					if !errors.Is(err, ErrRefused) && !errors.Is(err, ErrChecksumMismatch) {
						t.Fatalf("import = %v, want a refusal", err)
					}
					if rep.Outcome != OutcomeRefused {
						t.Errorf("outcome = %q, want refused", rep.Outcome)
					}
					for _, w := range tt.want {
						if !strings.Contains(rep.Reason, w) {
							t.Errorf("reason %q does not name %q", rep.Reason, w)
						}
					}
					if after := storetest.Dump(t, s.DB()); after != before {
						t.Errorf("a refused delivery changed the directory")
					}
					if recs, _ := s.Imports(ctx, 1); len(recs) != 1 || recs[0].Outcome != OutcomeRefused || recs[0].Reason != rep.Reason {
						t.Errorf("journal = %+v, want the refusal with its reason", recs)
					}
				})
			}
		})
	}
}

// dropRecords removes a share of the addRequests of a file, as a truncated
// export would.
func dropRecords(s string, share float64) string {
	parts := strings.Split(s, "<addRequest>")
	keep := []string{parts[0]}
	n := len(parts) - 1
	drop := int(float64(n) * share)
	for i, p := range parts[1:] {
		if i < drop {
			// keep the closing tags of the root if they are in this part
			if j := strings.Index(p, "</ficAlimMENESR>"); j >= 0 {
				keep[len(keep)-1] += p[j:]
			}
			continue
		}
		keep = append(keep, p)
	}
	return strings.Join(keep, "<addRequest>")
}
