package dirdump_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/dirdump"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/directory/storetest"
)

// lineOf returns the 1-based number of the first line of b holding s.
func lineOf(t *testing.T, b []byte, s string) int {
	t.Helper()
	for i, l := range bytes.Split(b, []byte("\n")) {
		if bytes.Contains(l, []byte(s)) {
			return i + 1
		}
	}
	t.Fatalf("no line holds %q", s)
	return 0
}

// replaceLine replaces line n (1-based) of b.
func replaceLine(b []byte, n int, with string) []byte {
	lines := bytes.Split(b, []byte("\n"))
	lines[n-1] = []byte(with)
	return bytes.Join(lines, []byte("\n"))
}

// A refused file names the file, the line, the record kind and the field,
// and leaves the store exactly as it was: the records before the bad one
// were written in the same transaction, which rolls back.
func TestImportRefusesBadFiles(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			src := open(t)
			fill(t, src, 60)
			good := exportJSON(t, src, true)
			accountLine := lineOf(t, good, `{"account":`)
			membershipLine := lineOf(t, good, `{"membership":`)
			lastLink := lineOf(t, good, `{"external_link":`)
			guestLine := lineOf(t, good, `{"guest":`)
			schoolNews := lineOf(t, good, `"profile":"parent","title":`)
			memberLine := lineOf(t, good, `{"space_member":`)
			lines := bytes.Split(good, []byte("\n"))
			endLine := len(lines) - 1 // the file ends with a newline

			cases := []struct {
				name   string
				data   []byte
				want   []string // in the error text
				isForm bool     // wraps ErrFormat
			}{
				{"newer version", replaceLine(good, 1, `{"header":{"format":"enthub-directory","version":4,"exported_at":"2026-09-16T02:00:00Z","with_secrets":true}}`),
					[]string{dirdump.JSONFile + ":1: header: field version: format version 4 is not supported: this enthub reads versions 1 to 3"}, true},
				{"news ending before it starts", replaceLine(good, schoolNews, regexp.MustCompile(`"end":"[^"]*"`).ReplaceAllString(string(lines[schoolNews-1]), `"end":"2000-01-01T00:00:00Z"`)),
					[]string{":" + itoa(schoolNews) + ": news: field end: 2000-01-01T00:00:00Z is not after start"}, true},
				{"news of an unknown school", replaceLine(good, schoolNews, strings.Replace(string(lines[schoolNews-1]), `"structure_id":"`, `"structure_id":"ghost-`, 1)),
					[]string{"news ", "field structure_id", "ghost-", "is not in the export"}, false},
				{"version 0", replaceLine(good, 1, `{"header":{"format":"enthub-directory","version":0,"exported_at":"2026-09-16T02:00:00Z","with_secrets":true}}`),
					[]string{":1: header: field version: format version 0 is not supported"}, true},
				// Version 1 had no guest records: one there was not written
				// by enthub.
				{"guest in a version 1 file", replaceLine(good, 1, `{"header":{"format":"enthub-directory","version":1,"exported_at":"2026-09-16T02:00:00Z","with_secrets":true}}`),
					[]string{":" + itoa(guestLine) + `: guest: record kind "guest" appeared in format version 2, the header says version 1`}, true},
				{"guest without school", replaceLine(good, guestLine, regexp.MustCompile(`"structure_id":"[^"]*",`).ReplaceAllString(string(lines[guestLine-1]), "")),
					[]string{":" + itoa(guestLine) + ": guest: field structure_id: missing or empty"}, true},
				{"guest of an unknown school", replaceLine(good, guestLine, strings.Replace(string(lines[guestLine-1]), `"structure_id":"`, `"structure_id":"ghost-`, 1)),
					[]string{"guest ", "field structure_id", "ghost-", "is not in the export"}, false},
				{"guest of an unknown account", replaceLine(good, guestLine, strings.Replace(string(lines[guestLine-1]), `"account_id":"`, `"account_id":"ghost-`, 1)),
					[]string{"guest", "ghost-"}, false},
				// Version 2 had no spaces.
				{"space member in a version 2 file", replaceLine(good, 1, `{"header":{"format":"enthub-directory","version":2,"exported_at":"2026-09-16T02:00:00Z","with_secrets":true}}`),
					[]string{":" + itoa(lineOf(t, good, `{"space":`)) + `: space: record kind "space" appeared in format version 3, the header says version 2`}, true},
				{"space member without account", replaceLine(good, memberLine, regexp.MustCompile(`"account_id":"[^"]*",`).ReplaceAllString(string(lines[memberLine-1]), "")),
					[]string{":" + itoa(memberLine) + ": space_member: field account_id: missing or empty"}, true},
				{"member of an unknown space", replaceLine(good, memberLine, strings.Replace(string(lines[memberLine-1]), `"space_id":"`, `"space_id":"ghost-`, 1)),
					[]string{"space", "ghost-"}, false},
				{"member of an unknown account", replaceLine(good, memberLine, strings.Replace(string(lines[memberLine-1]), `"account_id":"`, `"account_id":"ghost-`, 1)),
					[]string{"space", "ghost-"}, false},
				{"not an export", []byte("dn: dc=enthub\n"), []string{":1: header"}, true},
				{"empty", nil, []string{":1: empty file"}, true},
				{"bad date", bytes.Replace(good, []byte(`"created_at":"`), []byte(`"created_at":"hier`), 1), /* first structure */
					[]string{":2: structure: field created_at"}, true},
				{"bad role", replaceLine(good, membershipLine, strings.Replace(string(lines[membershipLine-1]), `"role":"`, `"role":"x`, 1)),
					[]string{":" + itoa(membershipLine) + ": membership: field role: \"x"}, true},
				{"unknown field", replaceLine(good, accountLine, strings.Replace(string(lines[accountLine-1]), `"login":`, `"logon":`, 1)),
					[]string{":" + itoa(accountLine) + ": account: field logon: unknown field"}, true},
				{"empty login", replaceLine(good, accountLine, regexp.MustCompile(`"login":"[^"]*"`).ReplaceAllString(string(lines[accountLine-1]), `"login":""`)),
					[]string{":" + itoa(accountLine) + ": account: field login: missing or empty"}, true},
				{"wrong type", replaceLine(good, accountLine, strings.Replace(string(lines[accountLine-1]), `"login":"`, `"login":7,"x":"`, 1)),
					[]string{":" + itoa(accountLine) + ": account: field login"}, true},
				{"two kinds", replaceLine(good, accountLine, `{"subject":{"code":"1"},"mef":{"code":"2"}}`),
					[]string{":" + itoa(accountLine) + ": a record is an object with exactly one key"}, true},
				{"unknown kind", replaceLine(good, accountLine, `{"pupil":{"id":"1"}}`),
					[]string{":" + itoa(accountLine) + `: unknown record kind "pupil"`}, true},
				{"truncated", bytes.Join(lines[:endLine-1], []byte("\n")),
					[]string{"ends without its {\"end\":…} line"}, true},
				{"count mismatch", bytes.Join(append(append([][]byte{}, lines[:lastLink-1]...), lines[lastLink:]...), []byte("\n")),
					[]string{": end: field counts.external_link: says 1 records, the file has 0"}, true},
				{"duplicate id", replaceLine(good, accountLine+1, string(lines[accountLine-1])),
					// SQLite names the line; PostgreSQL checks a COPY as a
					// whole and names the row by its key.
					[]string{"account", "conflict", regexp.MustCompile(`"id":"([^"]+)"`).FindStringSubmatch(string(lines[accountLine-1]))[1]}, false},
				{"dangling reference", replaceLine(good, accountLine, strings.Replace(string(lines[accountLine-1]), `"person_id":"`, `"person_id":"ghost-`, 1)),
					[]string{"field person_id", "ghost-", "is not in the export"}, false},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					dst := open(t)
					before := storetest.Dump(t, dst.DB())
					path := filepath.Join(t.TempDir(), dirdump.JSONFile)
					if err := os.WriteFile(path, c.data, 0o600); err != nil {
						t.Fatal(err)
					}
					_, err := dirdump.Import(context.Background(), dst, path)
					if err == nil {
						t.Fatal("import succeeded")
					}
					t.Log(err)
					for _, w := range c.want {
						if !strings.Contains(err.Error(), w) {
							t.Errorf("error %q lacks %q", err, w)
						}
					}
					if c.isForm && !errors.Is(err, dirdump.ErrFormat) {
						t.Errorf("error %q does not wrap ErrFormat", err)
					}
					if after := storetest.Dump(t, dst.DB()); after != before {
						t.Errorf("a refused import changed the store:\n%s", firstDiff([]byte(before), []byte(after)))
					}
				})
			}

			// A store holding anything is refused before a record is read.
			t.Run("non-empty store", func(t *testing.T) {
				dst := open(t)
				if err := dst.Update(context.Background(), func(tx directory.Tx) error {
					return tx.PutStructure(context.Background(), &directory.Structure{UAI: "0000001A", Name: "Déjà là"})
				}); err != nil {
					t.Fatal(err)
				}
				before := storetest.Dump(t, dst.DB())
				_, err := dirdump.ImportFrom(context.Background(), dst, bytes.NewReader(good), "x.jsonl")
				if !errors.Is(err, directory.ErrNotEmpty) || !strings.Contains(err.Error(), "table structures") {
					t.Errorf("import into a non-empty store = %v, want ErrNotEmpty naming a table", err)
				}
				if after := storetest.Dump(t, dst.DB()); after != before {
					t.Error("the refused import changed the store")
				}
			})
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

var _ directory.Restorer = (*sqlstore.Store)(nil)
