package aaf

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// smallDelivery generates a valid Complet of 120 students in 2 schools with
// 60 records per file, so every person family has several chunks.
func smallDelivery(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "delivery")
	if _, err := Generate(context.Background(), GenerateOptions{Out: dir, Students: 120, Schools: 2, Seed: 7, ChunkSize: 60}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func fileOf(t *testing.T, dir string, fam Family, chunk int) string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(dir, fmt.Sprintf("*_%s_%04d.xml", fam, chunk)))
	if len(matches) != 1 {
		t.Fatalf("no single %s chunk %d in %s: %v", fam, chunk, dir, matches)
	}
	return matches[0]
}

func edit(t *testing.T, path string, fn func(string) string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := fn(string(b))
	if out == string(b) {
		t.Fatalf("edit of %s changed nothing", path)
	}
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
}

func checkDir(t *testing.T, opts CheckOptions, paths ...string) (*Report, error) {
	t.Helper()
	d, err := Open(context.Background(), paths...)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	return Check(context.Background(), d, opts)
}

func TestCheckAcceptsGeneratedDelivery(t *testing.T) {
	dir := smallDelivery(t)
	rep, err := checkDir(t, CheckOptions{}, dir)
	if err != nil {
		t.Fatalf("a generated delivery must pass: %v", err)
	}
	if !rep.OK || rep.WarningCount != 0 || rep.Kind != Complet || rep.Date != "2024-09-16" || rep.ContentHash == "" {
		t.Fatalf("report = ok %v warnings %d %+v kind %s date %s hash %q", rep.OK, rep.WarningCount, rep.Warnings, rep.Kind, rep.Date, rep.ContentHash)
	}
	if rep.Families[Eleve].Records != 120 || rep.Families[Eleve].Files != 2 {
		t.Errorf("Eleve counts = %+v", rep.Families[Eleve])
	}
	for _, f := range rep.Files {
		if !f.Complete || len(f.SHA256) != 64 || f.Header.VersionAF != "AAF-VE2407" {
			t.Errorf("file report %+v", f)
		}
	}
	// The report marshals for `enthub aaf check --json`.
	b, err := json.Marshal(rep)
	if err != nil || !strings.Contains(string(b), `"families":{"Eleve":{"files":2,"records":120`) {
		t.Errorf("json = %.300s… err %v", b, err)
	}
}

// Each case breaks a valid delivery one way and expects a refusal whose
// reason names the file, the record and the value.
func TestCheckRefusals(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(t *testing.T, dir string)
		code   string
		want   []string // substrings of the first problem with that code
	}{
		{"truncated file", func(t *testing.T, dir string) {
			edit(t, fileOf(t, dir, Eleve, 0), func(s string) string { return s[:len(s)/2] })
		}, CodeTruncated, []string{"Eleve_0000.xml", "truncated"}},
		{"truncated after a complete record", func(t *testing.T, dir string) {
			edit(t, fileOf(t, dir, PersRelEleve, 1), func(s string) string { return strings.TrimSuffix(s, "</ficAlimMENESR>\n") })
		}, CodeTruncated, []string{"PersRelEleve_0001.xml", "no closing </ficAlimMENESR>"}},
		{"wrong category", func(t *testing.T, dir string) {
			edit(t, fileOf(t, dir, Eleve, 0), func(s string) string {
				return strings.Replace(s, `<value>Eleve</value></attr></operationalAttributes>`, `<value>PersEducNat</value></attr></operationalAttributes>`, 1)
			})
		}, CodeCategory, []string{"Eleve_0000.xml", "record 1 ", `categoriePersonne="PersEducNat"`, "does not match the file family Eleve"}},
		{"id/jointure mismatch", func(t *testing.T, dir string) {
			edit(t, fileOf(t, dir, Eleve, 0), func(s string) string {
				return strings.Replace(s, `<attr name="ENTPersonJointure"><value>2000000</value>`, `<attr name="ENTPersonJointure"><value>2999999</value>`, 1)
			})
		}, CodeIDMismatch, []string{"Eleve_0000.xml", "(id 2000000)", `ENTPersonJointure="2999999"`}},
		{"missing chunk", func(t *testing.T, dir string) {
			if err := os.Remove(fileOf(t, dir, PersRelEleve, 1)); err != nil {
				t.Fatal(err)
			}
		}, CodeChunkMissing, []string{"PersRelEleve chunk(s) 0001 missing", "PersRelEleve_0002.xml"}},
		{"first chunk missing", func(t *testing.T, dir string) {
			if err := os.Remove(fileOf(t, dir, Eleve, 0)); err != nil {
				t.Fatal(err)
			}
		}, CodeChunkMissing, []string{"Eleve chunk(s) 0000 missing"}},
		{"mixed Complet and Delta", func(t *testing.T, dir string) {
			f := fileOf(t, dir, PersEducNat, 0)
			if err := os.Rename(f, filepath.Join(dir, strings.Replace(filepath.Base(f), "_Complet_", "_Delta_", 1))); err != nil {
				t.Fatal(err)
			}
		}, CodeMixedKind, []string{"mixes", "Complet file(s)", "1 Delta file(s)", "_Delta_20240916_PersEducNat_0000.xml"}},
		{"mixed dates", func(t *testing.T, dir string) {
			f := fileOf(t, dir, MefEducNat, 0)
			if err := os.Rename(f, filepath.Join(dir, strings.Replace(filepath.Base(f), "20240916", "20240915", 1))); err != nil {
				t.Fatal(err)
			}
		}, CodeMixedDate, []string{"20240915 (1 files", "20240916"}},
		{"invalid date in name", func(t *testing.T, dir string) {
			for _, f := range mustGlob(t, filepath.Join(dir, "*.xml")) {
				if err := os.Rename(f, filepath.Join(dir, strings.Replace(filepath.Base(f), "20240916", "20241341", 1))); err != nil {
					t.Fatal(err)
				}
			}
		}, CodeDate, []string{`"20241341"`, "not a valid YYYYMMDD"}},
		{"invalid header date", func(t *testing.T, dir string) {
			edit(t, fileOf(t, dir, EtabEducNat, 0), func(s string) string {
				return strings.Replace(s, `dateGenerationExport="16/09/2024"`, `dateGenerationExport="31/02/2024"`, 1)
			})
		}, CodeDate, []string{"EtabEducNat_0000.xml", `dateGenerationExport="31/02/2024"`}},
		{"duplicate id", func(t *testing.T, dir string) {
			edit(t, fileOf(t, dir, Eleve, 1), func(s string) string {
				return strings.Replace(s, `<id>2000060</id>`, `<id>2000000</id>`, 1)
			})
		}, CodeDuplicateID, []string{"Eleve_0001.xml", "record 1 ", `identifier="2000000"`, "twice"}},
		{"missing sn", func(t *testing.T, dir string) {
			edit(t, fileOf(t, dir, PersEducNat, 0), func(s string) string {
				i := strings.Index(s, `<attr name="sn"><value>`)
				j := strings.Index(s[i:], "</attr>") + i
				return s[:i] + `<attr name="sn"><value/></attr>` + s[j+len("</attr>"):]
			})
		}, CodeRequired, []string{"PersEducNat_0000.xml", "record 1 ", "sn|ENTPersonNom", "required"}},
		{"wrong arity in ENTElevePersRelEleve", func(t *testing.T, dir string) {
			edit(t, fileOf(t, dir, Eleve, 0), func(s string) string {
				i := strings.Index(s, `<attr name="ENTElevePersRelEleve"><value>`) + len(`<attr name="ENTElevePersRelEleve"><value>`)
				j := strings.Index(s[i:], "$") + i
				return s[:i] + s[j+1:] // drops the first field
			})
		}, CodeArity, []string{"Eleve_0000.xml", "ENTElevePersRelEleve=", "has 5 $-separated fields, expected 6"}},
		{"modifyRequest in a Complet", func(t *testing.T, dir string) {
			edit(t, fileOf(t, dir, MatiereEducNat, 0), func(s string) string {
				s = strings.Replace(s, "<addRequest>", "<modifyRequest>", 1)
				s = strings.Replace(s, "</addRequest>", "</modifyRequest>", 1)
				s = strings.Replace(s, "<attributes>", "<modifications>", 1)
				s = strings.Replace(s, "</attributes>", "</modifications>", 1)
				s = strings.Replace(s, `<attr name="ENTMatJointure"><value>020700</value></attr>`, `<modification name="ENTMatJointure" operation="replace"><value>020700</value></modification>`, 1)
				return strings.Replace(s, `<attr name="ENTLibelleMatiere"><value>FRANCAIS</value></attr>`, `<modification name="ENTLibelleMatiere" operation="replace"><value>FRANCAIS</value></modification>`, 1)
			})
		}, CodeOpNotAllowed, []string{"MatiereEducNat_0000.xml", "modifyRequest in a Complet"}},
		{"envelope violation", func(t *testing.T, dir string) {
			edit(t, fileOf(t, dir, EtabEducNat, 0), func(s string) string {
				return strings.Replace(s, `<identifier><id>52000</id></identifier>`, ``, 1)
			})
		}, CodeEnvelope, []string{"EtabEducNat_0000.xml", "where the DTD expects <identifier>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := smallDelivery(t)
			tt.mutate(t, dir)
			rep, err := checkDir(t, CheckOptions{}, dir)
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("err = %v, want ErrRefused", err)
			}
			if rep.OK {
				t.Fatal("report says OK")
			}
			var found *Problem
			for i := range rep.Errors {
				if rep.Errors[i].Code == tt.code {
					found = &rep.Errors[i]
					break
				}
			}
			if found == nil {
				t.Fatalf("no %s error in %+v", tt.code, rep.Errors)
			}
			for _, w := range tt.want {
				if !strings.Contains(found.String(), w) {
					t.Errorf("problem %q lacks %q", found.String(), w)
				}
			}
			if !strings.Contains(err.Error(), found.Message) && rep.ErrorCount <= 5 {
				t.Errorf("the error message does not carry the reason: %v", err)
			}
		})
	}
}

func mustGlob(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil || len(m) == 0 {
		t.Fatalf("glob %s: %v %v", pattern, m, err)
	}
	return m
}

func TestCheckWarnings(t *testing.T) {
	t.Run("unresolved references are warnings", func(t *testing.T) {
		dir := smallDelivery(t)
		// Drop one adult from PersRelEleve and point a student at an unknown structure.
		edit(t, fileOf(t, dir, Eleve, 0), func(s string) string {
			return strings.Replace(s, `<attr name="ENTEleveClasses"><value>52000$`, `<attr name="ENTEleveClasses"><value>99999$`, 1)
		})
		rep, err := checkDir(t, CheckOptions{}, dir)
		if err != nil {
			t.Fatalf("unresolved references must not refuse: %v", err)
		}
		if rep.WarningCount != 1 || rep.Warnings[0].Code != CodeUnresolved || rep.Warnings[0].Value != "99999" ||
			rep.Warnings[0].Attr != "ENTEleveClasses" || !strings.Contains(rep.Warnings[0].File, "Eleve_0000.xml") {
			t.Fatalf("warnings = %+v", rep.Warnings)
		}
	})
	t.Run("an unresolved id is reported once, at its first reference, with the count", func(t *testing.T) {
		dir := smallDelivery(t)
		edit(t, fileOf(t, dir, Eleve, 0), func(s string) string {
			return strings.Replace(s, `<attr name="ENTEleveClasses"><value>52000$`, `<attr name="ENTEleveClasses"><value>99999$`, 2)
		})
		rep, err := checkDir(t, CheckOptions{}, dir)
		if err != nil || rep.WarningCount != 1 {
			t.Fatalf("err %v warnings %+v", err, rep.Warnings)
		}
		if w := rep.Warnings[0]; w.Value != "99999" || w.Record != 1 || !strings.Contains(w.Message, "(2 reference(s)") {
			t.Fatalf("warning = %+v", w)
		}
	})
	t.Run("2013 sample: missing Eleve_0000 refused, accepted as warning on request", func(t *testing.T) {
		dir := filepath.Join(samplesDir(t), "entcore-aaf-test-2013")
		rep, err := checkDir(t, CheckOptions{}, dir)
		if !errors.Is(err, ErrRefused) || rep.ErrorCount != 1 || rep.Errors[0].Code != CodeChunkMissing || !strings.Contains(rep.Errors[0].Message, "Eleve chunk(s) 0000") {
			t.Fatalf("err = %v; errors %+v", err, rep.Errors)
		}
		rep, err = checkDir(t, CheckOptions{AllowMissingChunks: true}, dir)
		if err != nil || !rep.OK {
			t.Fatalf("with AllowMissingChunks: %v", err)
		}
		if rep.Records != 14550 {
			t.Errorf("records = %d, want 14550", rep.Records)
		}
		// Structures referenced by staff functions but absent from this partial export.
		unresolved := 0
		for _, w := range rep.Warnings {
			if w.Code == CodeUnresolved {
				unresolved++
				if w.Attr == "ENTElevePersRelEleve" {
					t.Errorf("every parent of Eleve_0001 exists in PersRelEleve (aaf.md §3.2), got %v", w)
				}
			}
		}
		if unresolved == 0 {
			t.Error("expected unresolved structure references in the partial 2013 export")
		}
	})
	t.Run("invalid birth date is a warning by default, an error on request", func(t *testing.T) {
		dir := smallDelivery(t)
		edit(t, fileOf(t, dir, Eleve, 0), func(s string) string {
			i := strings.Index(s, `<attr name="ENTPersonDateNaissance"><value>`) + len(`<attr name="ENTPersonDateNaissance"><value>`)
			return s[:i] + "31/02/2013" + s[i+10:]
		})
		rep, err := checkDir(t, CheckOptions{}, dir)
		if err != nil || rep.WarningCount != 1 || rep.Warnings[0].Code != CodeDate || rep.Warnings[0].Value != "31/02/2013" {
			t.Fatalf("err %v warnings %+v", err, rep.Warnings)
		}
		if _, err := checkDir(t, CheckOptions{InvalidDateSeverity: SevError}, dir); !errors.Is(err, ErrRefused) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestKindFromArchiveName(t *testing.T) {
	dir := t.TempDir()
	// Bare file names inside a Laclasse-style archive name.
	zipPath := filepath.Join(dir, "ENT2D.20240917.Delta.zip")
	writeTestZip(t, zipPath, map[string]string{"Eleve_0000.xml": eleveHead + eleveAdd("1", "X") + "</ficAlimMENESR>"})
	d, err := Open(context.Background(), zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Kind != Delta || d.Date.Format("20060102") != "20240917" {
		t.Fatalf("kind %q date %v", d.Kind, d.Date)
	}
}

func writeTestZip(t *testing.T, path string, files map[string]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		w, _ := zw.Create(n)
		w.Write([]byte(files[n]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func writeTestTarGz(t *testing.T, path, srcDir string, extra map[string]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	entries, _ := os.ReadDir(srcDir)
	// Reverse order: canonical order must not depend on archive order.
	for i := len(entries) - 1; i >= 0; i-- {
		b, _ := os.ReadFile(filepath.Join(srcDir, entries[i].Name()))
		tw.WriteHeader(&tar.Header{Name: "export/" + entries[i].Name(), Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	for n, body := range extra {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	f.Close()
}

func TestArchivesAndContentHash(t *testing.T) {
	ctx := context.Background()
	dir := smallDelivery(t)
	out := t.TempDir()
	zipPath := filepath.Join(out, "ENT2D.20240916.Complet.zip")
	tgzPath := filepath.Join(out, "ENT2D.20240916.Complet.tar.gz")
	names := mustGlob(t, filepath.Join(dir, "*"))
	var rel []string
	for _, n := range names {
		rel = append(rel, filepath.Base(n))
	}
	if _, err := writeZip(zipPath, dir, rel, testDate()); err != nil {
		t.Fatal(err)
	}
	writeTestTarGz(t, tgzPath, dir, map[string]string{"../../evil_Complet_20240916_Eleve_0099.xml": "<x/>"})

	hashes := map[string]string{}
	for _, p := range []string{dir, zipPath, tgzPath} {
		d, err := Open(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		h, err := d.ContentHash(ctx)
		if err != nil {
			t.Fatal(err)
		}
		hashes[filepath.Ext(p)] = h
		if p == tgzPath {
			// The hostile entry is spooled under the temp folder, never at ../../.
			if _, err := os.Stat(filepath.Join(out, "..", "..", "evil_Complet_20240916_Eleve_0099.xml")); err == nil {
				t.Fatal("tar entry escaped the spool folder")
			}
			if len(d.tmpDirs) != 1 {
				t.Fatalf("tmpDirs = %v", d.tmpDirs)
			}
			spool := d.tmpDirs[0]
			d.Close()
			if _, err := os.Stat(spool); !os.IsNotExist(err) {
				t.Errorf("spool folder %s not removed on Close", spool)
			}
			continue
		}
		rep, err := Check(ctx, d, CheckOptions{})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if rep.ContentHash != h {
			t.Errorf("%s: Check hash %s != ContentHash %s", p, rep.ContentHash, h)
		}
		d.Close()
	}
	if hashes[""] != hashes[".zip"] {
		t.Errorf("folder and zip of the same files hash differently: %v", hashes)
	}
	// The tar.gz has one more (hostile) chunk, so its hash differs.
	if hashes[".gz"] == hashes[""] {
		t.Errorf("extra chunk did not change the hash")
	}
	// Changing one byte changes the hash.
	edit(t, fileOf(t, dir, MefEducNat, 0), func(s string) string { return strings.Replace(s, "6EME", "6EMF", 1) })
	d, _ := Open(ctx, dir)
	defer d.Close()
	if h, _ := d.ContentHash(ctx); h == hashes[""] {
		t.Error("content change not detected")
	}
}

func TestChecksumFiles(t *testing.T) {
	ctx := context.Background()
	dir := smallDelivery(t)
	out := t.TempDir()
	zipPath := filepath.Join(out, "export.zip")
	var rel []string
	for _, n := range mustGlob(t, filepath.Join(dir, "*.xml")) {
		rel = append(rel, filepath.Base(n))
	}
	digest, err := writeZip(zipPath, dir, rel, testDate())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(zipPath)
	md5sum := md5.Sum(raw)
	good := map[string]string{
		"export.zip.sha256": digest + "  export.zip\n",
		"export.zip.md5":    hex.EncodeToString(md5sum[:]) + "\n",
		"export.md5":        "MD5 (export.zip) = " + hex.EncodeToString(md5sum[:]) + "\n",
		"export.sha256":     "0000000000000000000000000000000000000000000000000000000000000000  other.zip\n" + digest + " *export.zip\n",
	}
	for name, body := range good {
		t.Run("good "+name, func(t *testing.T) {
			cleanChecksums(out)
			os.WriteFile(filepath.Join(out, name), []byte(body), 0o644)
			d, err := Open(ctx, zipPath)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if len(d.Checksums) != 1 || d.Checksums[0].ChecksumFile != filepath.Join(out, name) {
				t.Fatalf("checksums = %+v", d.Checksums)
			}
		})
	}
	bad := map[string]string{
		"export.zip.sha256": strings.Repeat("ab", 32) + "  export.zip\n",
		"export.md5":        strings.Repeat("0", 32),
	}
	for name, body := range bad {
		t.Run("bad "+name, func(t *testing.T) {
			cleanChecksums(out)
			os.WriteFile(filepath.Join(out, name), []byte(body), 0o644)
			_, err := Open(ctx, zipPath)
			if !errors.Is(err, ErrChecksumMismatch) || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "export.zip") {
				t.Fatalf("err = %v, want a checksum mismatch naming %s", err, name)
			}
		})
	}
	t.Run("malformed checksum file", func(t *testing.T) {
		cleanChecksums(out)
		os.WriteFile(filepath.Join(out, "export.zip.sha256"), []byte("not-a-digest\n"), 0o644)
		if _, err := Open(ctx, zipPath); err == nil || !strings.Contains(err.Error(), "not a sha256 digest") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("generator writes a verifiable .sha256", func(t *testing.T) {
		gz := filepath.Join(t.TempDir(), "ENT2D.20240916.Complet.zip")
		if _, err := Generate(ctx, GenerateOptions{Out: filepath.Join(t.TempDir(), "x"), Students: 20, Seed: 1, ZipPath: gz}); err != nil {
			t.Fatal(err)
		}
		d, err := Open(ctx, gz)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if len(d.Checksums) != 1 || d.Checksums[0].Algorithm != "sha256" {
			t.Fatalf("checksums = %+v", d.Checksums)
		}
	})
}

func cleanChecksums(dir string) {
	for _, s := range []string{"export.zip.sha256", "export.zip.md5", "export.md5", "export.sha256"} {
		os.Remove(filepath.Join(dir, s))
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, "README.txt"), []byte("x"), 0o644)
	if _, err := Open(ctx, empty); !errors.Is(err, ErrNoFiles) {
		t.Errorf("empty folder: %v", err)
	}
	if _, err := Open(ctx, filepath.Join(empty, "nope.zip")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing path: %v", err)
	}
	bad := filepath.Join(empty, "broken.zip")
	os.WriteFile(bad, []byte("PK not really"), 0o644)
	if _, err := Open(ctx, bad); err == nil || !strings.Contains(err.Error(), "broken.zip") {
		t.Errorf("broken zip: %v", err)
	}
}

// compositeField reads one field the way SplitComposite would.
func TestCompositeField(t *testing.T) {
	for _, v := range []string{"", "a", "$", "$$", "a$b", "a$b$", "$a$b", "4001020$2$1$1$1$1", " 800000 $6A$x", "é$ü"} {
		parts := SplitComposite(v)
		for i := 0; i <= len(parts)+1; i++ {
			got, ok := compositeField(v, i)
			if want, wantOK := "", i < len(parts); ok != wantOK || (ok && got != parts[i]) {
				if wantOK {
					want = parts[i]
				}
				t.Errorf("compositeField(%q, %d) = %q, %v; want %q, %v", v, i, got, ok, want, wantOK)
			}
		}
	}
}

// Check parses files ahead on other goroutines; its report must not depend
// on how many: same records, problems in the same order, same counts.
func TestCheckReportIndependentOfWorkers(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, filepath.Join(samplesDir(t), "entcore-aaf-test-2013"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var reports []string
	for _, workers := range []int{1, 2, 5} {
		rep, _ := Check(ctx, d, CheckOptions{Parse: ParseOptions{Workers: workers}, AllowMissingChunks: true})
		if rep == nil || rep.WarningCount == 0 || rep.Records == 0 {
			t.Fatalf("workers %d: report %+v, want the sample's records and warnings", workers, rep)
		}
		rep.DurationMS = 0
		b, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		reports = append(reports, string(b))
	}
	if reports[0] != reports[1] || reports[0] != reports[2] {
		t.Errorf("reports differ with the number of parse workers:\n1: %.400s\n2: %.400s\n5: %.400s", reports[0], reports[1], reports[2])
	}
}
