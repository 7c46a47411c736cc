package dirdump_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/enthub/enthub/directory/dirdump"
)

// Files of the earlier format versions still import: version 1 (before
// guest records) and version 2 (before the launcher's news and brandings)
// are the golden export without the records of the later kinds, under
// their version's header. Re-exported, each is the same directory under
// the current header.
func TestImportReadsOlderVersions(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("testdata", "golden", "json", dirdump.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		version string
		without []string // the kinds that came later
	}{
		{"1", []string{"guest", "news", "branding"}},
		{"2", []string{"news", "branding"}},
	} {
		t.Run("version "+tc.version, func(t *testing.T) {
			var kept [][]byte // the golden file without the later kinds
			for _, l := range bytes.SplitAfter(golden, []byte("\n")) {
				later := false
				for _, k := range tc.without {
					later = later || bytes.HasPrefix(l, []byte(`{"`+k+`":`))
					l = regexp.MustCompile(`"`+k+`":\d+,?`).ReplaceAll(l, nil)
				}
				if !later {
					kept = append(kept, l)
				}
			}
			want := bytes.Join(kept, nil)
			old := bytes.Replace(want, []byte(`"version":3,`), []byte(`"version":`+tc.version+`,`), 1)
			if bytes.Equal(old, want) || bytes.Equal(want, golden) {
				t.Fatal("the golden file changed shape: no version or later record to rewrite")
			}
			st := backends(t)["sqlite"](t)
			counts, err := dirdump.ImportFrom(context.Background(), st, bytes.NewReader(old), "v"+tc.version+".jsonl")
			if err != nil {
				t.Fatalf("import of a version %s file: %v", tc.version, err)
			}
			if counts["person"] != 5 || counts["news"] != 0 {
				t.Errorf("counts %v, want 5 persons and no news", counts)
			}
			if got := exportJSON(t, st, true); !bytes.Equal(got, want) {
				t.Errorf("re-export of a version %s import:\n%s", tc.version, firstDiff(want, got))
			}
		})
	}
}
