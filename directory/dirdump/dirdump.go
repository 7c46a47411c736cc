// Package dirdump holds the reversibility exports of the whole directory —
// structures, persons, accounts, personas, groups and memberships,
// parent–child relations, nomenclatures, upstream identity links, guest
// records (who created a guest, for which school and role) and the
// relying-party registrations — in open, documented formats
// (docs/export.md), and the import of the JSON export back into an empty
// store:
//
//   - JSON Lines (directory.jsonl): one record a line, versioned by its
//     header line; the format that re-imports, byte for byte.
//   - CSV: one RFC 4180 file per kind of record, for spreadsheets and
//     other tools.
//   - LDIF: the SDET tree exactly as the LDAP front serves it (built by
//     package directory/ldap), which loads into OpenLDAP with the SDET
//     schema.
//
// JSON and CSV are streamed: each record is written as the store gives it,
// so memory stays flat whatever the directory's size.
package dirdump

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/ldap"
)

// The export formats.
const (
	FormatJSON = "json"
	FormatCSV  = "csv"
	FormatLDIF = "ldif"
)

// LDIFFile is the name of the LDIF export inside its folder.
const LDIFFile = "directory.ldif"

// ManifestFile describes a CSV export (format, version, date, counts).
const ManifestFile = "manifest.json"

// Options shapes an export.
type Options struct {
	// Now stamps the export (default time.Now); tests fix it, so that two
	// exports of one directory are equal byte for byte.
	Now func() time.Time
	// WithSecrets exports the accounts' password hashes (guests' local
	// passwords); without it they are left out.
	WithSecrets bool
	// LDAP shapes the LDIF tree (base DN, jointure source, legacy profile
	// codes): the LDAP front's own configuration, so the file is its tree.
	LDAP ldap.Config
}

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Result says what an export wrote.
type Result struct {
	Files  []string // paths, in writing order
	Counts Counts   // records per kind (LDIF: "entry")
}

// Export writes the directory in format into the folder dir (created if
// missing). Files appear under their final names only once complete: a
// failed export leaves no partial file behind.
func Export(ctx context.Context, d directory.Dumper, format, dir string, o Options) (Result, error) {
	o = o.withDefaults()
	if format != FormatJSON && format != FormatCSV && format != FormatLDIF {
		return Result{}, fmt.Errorf("format %q: want %s, %s or %s", format, FormatJSON, FormatCSV, FormatLDIF)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return Result{}, fmt.Errorf("export folder: %w", err)
	}
	out := &outDir{dir: dir}
	defer out.abort()
	var counts Counts
	err := d.Dump(ctx, func(r directory.DumpReader) error {
		var err error
		switch format {
		case FormatJSON:
			f, ferr := out.create(JSONFile)
			if ferr != nil {
				return ferr
			}
			counts, err = WriteJSON(ctx, r, f, o)
		case FormatCSV:
			if counts, err = writeCSV(ctx, r, out, o); err == nil {
				err = writeManifest(out, o, counts)
			}
		case FormatLDIF:
			f, ferr := out.create(LDIFFile)
			if ferr != nil {
				return ferr
			}
			var n int
			n, err = ldap.WriteLDIF(ctx, f, r, o.LDAP, o.Now())
			counts = Counts{"entry": n}
		}
		return err
	})
	if err != nil {
		return Result{}, fmt.Errorf("export %s: %w", format, err)
	}
	files, err := out.commit()
	return Result{Files: files, Counts: counts}, err
}

func writeManifest(out *outDir, o Options, counts Counts) error {
	f, err := out.create(ManifestFile)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Format      string    `json:"format"`
		Version     int       `json:"version"`
		ExportedAt  time.Time `json:"exported_at"`
		WithSecrets bool      `json:"with_secrets"`
		Counts      Counts    `json:"counts"`
	}{FormatName + "-csv", FormatVersion, o.Now().UTC(), o.WithSecrets, counts})
}

// outDir writes files under temporary names and renames them once all are
// complete.
type outDir struct {
	dir   string
	files []*os.File
	names []string
}

func (o *outDir) create(name string) (io.Writer, error) {
	f, err := os.CreateTemp(o.dir, "."+name+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	o.files, o.names = append(o.files, f), append(o.names, name)
	return f, nil
}

func (o *outDir) commit() ([]string, error) {
	var paths []string
	for i, f := range o.files {
		final := filepath.Join(o.dir, o.names[i])
		if err := errors.Join(f.Sync(), f.Close()); err != nil {
			return nil, fmt.Errorf("export %s: %w", final, err)
		}
		if err := os.Rename(f.Name(), final); err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		paths = append(paths, final)
	}
	o.files = nil
	return paths, nil
}

func (o *outDir) abort() {
	for _, f := range o.files {
		f.Close()
		os.Remove(f.Name())
	}
}

// Import reads the JSON export at path (the directory.jsonl file, or the
// folder holding it) into the empty store r, in one transaction: a refused
// file, record or store changes nothing. Errors name the file, the line,
// the record kind and the field (see RecordError).
func Import(ctx context.Context, r directory.Restorer, path string) (Counts, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, JSONFile)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	return ImportFrom(ctx, r, f, path)
}

// ImportFrom is Import from a reader; name is used in errors.
func ImportFrom(ctx context.Context, r directory.Restorer, in io.Reader, name string) (Counts, error) {
	dec := newDecoder(in, name)
	// The header first: a file of another format or version is refused
	// before the store is even looked at.
	if err := dec.readHeader(); err != nil {
		return nil, err
	}
	err := r.Restore(ctx, func(tx directory.RestoreTx) error {
		for {
			kind, rec, err := dec.next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := restore(ctx, tx, rec); err != nil {
				if errors.Is(err, directory.ErrBatch) { // not this line's fault
					return err
				}
				return &RecordError{File: name, Line: dec.line, Kind: kind, Err: err}
			}
		}
	})
	if err != nil {
		if errors.Is(err, directory.ErrNotEmpty) {
			return nil, fmt.Errorf("import %s: %w: import into a new database (--db)", name, err)
		}
		var re *RecordError
		if errors.As(err, &re) {
			return nil, fmt.Errorf("import: %w", err)
		}
		return nil, fmt.Errorf("import %s: %w", name, err)
	}
	return dec.counts, nil
}
