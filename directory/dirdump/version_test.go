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

// A version 1 file (before guest records) still imports: it is the golden
// export without its guest line, under a version 1 header. Re-exported, it
// is the same directory under a version 2 header.
func TestImportReadsVersion1(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("testdata", "golden", "json", dirdump.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	var v2 [][]byte // the golden file without its guest records
	for _, l := range bytes.SplitAfter(golden, []byte("\n")) {
		if !bytes.HasPrefix(l, []byte(`{"guest":`)) {
			v2 = append(v2, regexp.MustCompile(`"guest":\d+,`).ReplaceAll(l, nil))
		}
	}
	want := bytes.Join(v2, nil)
	v1 := bytes.Replace(want, []byte(`"version":2,`), []byte(`"version":1,`), 1)
	if bytes.Equal(v1, want) || bytes.Equal(want, golden) {
		t.Fatal("the golden file changed shape: no version or guest line to rewrite")
	}

	st := backends(t)["sqlite"](t)
	counts, err := dirdump.ImportFrom(context.Background(), st, bytes.NewReader(v1), "v1.jsonl")
	if err != nil {
		t.Fatalf("import of a version 1 file: %v", err)
	}
	if counts["person"] != 5 || counts["guest"] != 0 {
		t.Errorf("counts %v, want 5 persons and no guest", counts)
	}
	if got := exportJSON(t, st, true); !bytes.Equal(got, want) {
		t.Errorf("re-export of a version 1 import:\n%s", firstDiff(want, got))
	}
}
