package dirdump_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/enthub/enthub/directory/dirdump"
)

// Files of the older versions still import: each is the golden export
// without the kinds added after it (version 2 added the guest records,
// version 3 the spaces, their members and the launcher's news and
// brandings), under its version's header. Re-exported, it is the same
// directory under the current header.
func TestImportReadsOlderVersions(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("testdata", "golden", "json", dirdump.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		version int
		newer   []string // kinds the version lacks
	}{
		{1, []string{"guest", "space", "space_member", "news", "branding"}},
		{2, []string{"space", "space_member", "news", "branding"}},
	} {
		t.Run(fmt.Sprint("version ", tc.version), func(t *testing.T) {
			var kept [][]byte // the golden file without the newer kinds
			for _, l := range bytes.SplitAfter(golden, []byte("\n")) {
				newer := false
				for _, k := range tc.newer {
					newer = newer || bytes.HasPrefix(l, []byte(`{"`+k+`":`))
					l = regexp.MustCompile(`"`+k+`":\d+,?`).ReplaceAll(l, nil)
				}
				if !newer {
					kept = append(kept, l)
				}
			}
			want := bytes.Join(kept, nil)
			old := bytes.Replace(want, []byte(fmt.Sprintf(`"version":%d,`, dirdump.FormatVersion)), []byte(fmt.Sprintf(`"version":%d,`, tc.version)), 1)
			if bytes.Equal(old, want) || bytes.Equal(want, golden) {
				t.Fatal("the golden file changed shape: no version or newer line to rewrite")
			}
			st := backends(t)["sqlite"](t)
			counts, err := dirdump.ImportFrom(context.Background(), st, bytes.NewReader(old), "old.jsonl")
			if err != nil {
				t.Fatalf("import of a version %d file: %v", tc.version, err)
			}
			if counts["person"] != 5 || counts["space"] != 0 || counts["news"] != 0 {
				t.Errorf("counts %v, want 5 persons, no space and no news", counts)
			}
			if got := exportJSON(t, st, true); !bytes.Equal(got, want) {
				t.Errorf("re-export of a version %d import:\n%s", tc.version, firstDiff(want, got))
			}
		})
	}
}
