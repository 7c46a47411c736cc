package dirdump

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/enthub/enthub/directory"
)

// nopRestorer accepts every record, so the fuzzer exercises the parser
// alone.
type nopRestorer struct{ n int }

func (r *nopRestorer) Restore(ctx context.Context, fn func(directory.RestoreTx) error) error {
	return fn(nopTx{r})
}

type nopTx struct{ r *nopRestorer }

func (t nopTx) RestoreStructure(context.Context, directory.Structure) error { t.r.n++; return nil }
func (t nopTx) RestorePerson(context.Context, directory.Person) error       { t.r.n++; return nil }
func (t nopTx) RestoreAccount(context.Context, directory.Account) error     { t.r.n++; return nil }
func (t nopTx) RestorePersona(context.Context, directory.Persona) error     { t.r.n++; return nil }
func (t nopTx) RestoreGroup(context.Context, directory.Group) error         { t.r.n++; return nil }
func (t nopTx) RestoreMembership(context.Context, directory.Membership) error {
	t.r.n++
	return nil
}
func (t nopTx) RestoreRelation(context.Context, directory.Relation) error { t.r.n++; return nil }
func (t nopTx) RestoreSubject(context.Context, directory.Subject) error   { t.r.n++; return nil }
func (t nopTx) RestoreMEF(context.Context, directory.MEF) error           { t.r.n++; return nil }
func (t nopTx) RestoreExternalLink(context.Context, directory.ExternalLink) error {
	t.r.n++
	return nil
}
func (t nopTx) RestoreService(context.Context, directory.ServiceRecord) error   { t.r.n++; return nil }
func (t nopTx) RestoreGuest(context.Context, directory.GuestRecord) error       { t.r.n++; return nil }
func (t nopTx) RestoreSpace(context.Context, directory.Space) error             { t.r.n++; return nil }
func (t nopTx) RestoreSpaceMember(context.Context, directory.SpaceMember) error { t.r.n++; return nil }
func (t nopTx) RestoreNews(context.Context, directory.News) error               { t.r.n++; return nil }
func (t nopTx) RestoreBranding(context.Context, directory.Branding) error       { t.r.n++; return nil }

// FuzzImport feeds the JSON import arbitrary files: it never panics, a
// refused file is a RecordError naming the file and a line the file has,
// and an accepted one passed every record it counted to the store.
func FuzzImport(f *testing.F) {
	golden, err := os.ReadFile(filepath.Join("testdata", "golden", "json", JSONFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	lines := bytes.SplitAfter(golden, []byte("\n"))
	f.Add(bytes.Join(lines[:3], nil))
	f.Add(append(append([]byte{}, lines[0]...), lines[len(lines)-2]...))
	f.Add([]byte(`{"header":{"format":"enthub-directory","version":1,"exported_at":"2026-01-01T00:00:00Z","with_secrets":false}}` + "\n" +
		`{"end":{"counts":{}}}` + "\n"))
	f.Add([]byte(`{"header":{}}`))
	f.Add([]byte("\n\n{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &nopRestorer{}
		counts, err := ImportFrom(context.Background(), r, bytes.NewReader(data), "fuzz.jsonl")
		if err == nil {
			total := 0
			for _, n := range counts {
				total += n
			}
			if total != r.n {
				t.Fatalf("counted %d records, restored %d", total, r.n)
			}
			return
		}
		var re *RecordError
		if !errors.As(err, &re) {
			t.Fatalf("error %v is not a RecordError", err)
		}
		if re.File != "fuzz.jsonl" || re.Line < 1 || re.Line > bytes.Count(data, []byte("\n"))+1 {
			t.Fatalf("error %v names file %q line %d of a %d-line input", err, re.File, re.Line, bytes.Count(data, []byte("\n"))+1)
		}
	})
}
