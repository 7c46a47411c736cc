package aaf

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

func testDate() time.Time { return time.Date(2024, 9, 16, 0, 0, 0, 0, time.UTC) }

// treeDigest maps each file of dir to its SHA-256.
func treeDigest(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		s := sha256.Sum256(b)
		out[e.Name()] = hex.EncodeToString(s[:])
	}
	return out
}

func TestGenerateDeterministic(t *testing.T) {
	ctx := context.Background()
	run := func(seed int64, delta bool) (map[string]string, *GenerateSummary) {
		root := t.TempDir()
		sum, err := Generate(ctx, GenerateOptions{Out: filepath.Join(root, "out"), Students: 3000, Seed: seed, Delta: delta, ZipPath: filepath.Join(root, "d.zip")})
		if err != nil {
			t.Fatal(err)
		}
		dg := treeDigest(t, filepath.Join(root, "out"))
		dg["zip"] = sum.ZipSHA256
		return dg, sum
	}
	for _, delta := range []bool{false, true} {
		a, sa := run(42, delta)
		b, _ := run(42, delta)
		c, _ := run(43, delta)
		if len(a) != len(b) {
			t.Fatalf("delta=%v: file sets differ", delta)
		}
		for name, h := range a {
			if b[name] != h {
				t.Errorf("delta=%v: %s differs between two runs with the same seed", delta, name)
			}
		}
		same := 0
		for name, h := range a {
			if c[name] == h {
				same++
			}
		}
		if same == len(a) {
			t.Errorf("delta=%v: another seed produced the same delivery", delta)
		}
		if !delta && (sa.Ops[OpAdd] != sa.Records[Eleve]+sa.Records[PersRelEleve]+sa.Records[PersEducNat]+sa.Records[EtabEducNat]+sa.Records[MatiereEducNat]+sa.Records[MefEducNat]) {
			t.Errorf("ops %v vs records %v", sa.Ops, sa.Records)
		}
	}
}

// The generated world has the proportions the issue asks for.
func TestGenerateRealistic(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "out")
	sum, err := Generate(ctx, GenerateOptions{Out: dir, Students: 5000, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	ratio := float64(sum.Relatives) / float64(sum.Students)
	if ratio < 1.45 || ratio > 1.75 {
		t.Errorf("related adults per student = %.2f, want ~1.6", ratio)
	}
	if r := float64(sum.Students) / float64(sum.Staff); r < 8 || r > 10 {
		t.Errorf("students per staff = %.1f, want ~9", r)
	}
	if sum.ParentsInTwoSchools == 0 || sum.StaffInTwoSchools == 0 || sum.Structures < 5 {
		t.Errorf("summary %+v", sum)
	}
	if sum.Records[Eleve] != 5000 || len(sum.Files) < 8 {
		t.Errorf("records %v files %d", sum.Records, len(sum.Files))
	}
	d, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// Walk the records and verify the links the apply step relies on.
	var (
		links, oldCodes, newCodes, siblings, heads, multiStaff int
		funcs                                                  = map[string]bool{}
		parentChildren                                         = map[string]int{}
		parentSchools                                          = map[string]map[string]bool{}
	)
	for r, err := range d.Records(ctx, ParseOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		switch r.Family {
		case Eleve:
			for _, l := range r.Attrs["ENTElevePersRelEleve"] {
				f := SplitComposite(l)
				links++
				switch f[1] {
				case "1", "2", "3", "4":
					oldCodes++
				case "10", "20", "39", "50":
					newCodes++
				}
				parentChildren[f[0]]++
				if parentSchools[f[0]] == nil {
					parentSchools[f[0]] = map[string]bool{}
				}
				parentSchools[f[0]][r.First("ENTPersonStructRattach")] = true
			}
		case PersEducNat:
			structs := map[string]bool{}
			for _, fn := range r.Attrs["ENTPersonFonctions"] {
				f := SplitComposite(fn)
				funcs[f[1]] = true
				structs[f[0]] = true
			}
			if len(structs) > 1 {
				multiStaff++
			}
			heads += len(r.Attrs["ENTAuxEnsClassesPrincipal"])
		}
	}
	twoSchools := 0
	for id, n := range parentChildren {
		if n > 1 {
			siblings++
		}
		if len(parentSchools[id]) > 1 {
			twoSchools++
		}
	}
	if oldCodes == 0 || newCodes == 0 {
		t.Errorf("lienParente nomenclatures: old %d new %d", oldCodes, newCodes)
	}
	if siblings == 0 || twoSchools == 0 || multiStaff == 0 {
		t.Errorf("siblings %d parents in two schools %d staff in two schools %d", siblings, twoSchools, multiStaff)
	}
	for _, f := range []string{"ENS", "DOC", "DIR", "EDU", "ADF", "AED"} {
		if !funcs[f] {
			t.Errorf("no %s function generated", f)
		}
	}
	if heads == 0 {
		t.Error("no head teacher")
	}
	if lps := float64(links) / 5000; lps < 1.5 || lps > 2.1 {
		t.Errorf("links per student %.2f", lps)
	}
}

func TestGeneratedDeliveriesPassCheck(t *testing.T) {
	ctx := context.Background()
	for _, delta := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "out")
		sum, err := Generate(ctx, GenerateOptions{Out: dir, Students: 4000, Seed: 9, Delta: delta})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := checkDir(t, CheckOptions{}, dir)
		if err != nil {
			t.Fatalf("delta=%v: %v", delta, err)
		}
		if rep.WarningCount != 0 {
			t.Errorf("delta=%v: warnings %+v", delta, rep.Warnings)
		}
		if rep.Records != sum.Ops[OpAdd]+sum.Ops[OpModify]+sum.Ops[OpDelete] {
			t.Errorf("delta=%v: check read %d records, generator wrote %v", delta, rep.Records, sum.Ops)
		}
		if delta {
			if rep.Kind != Delta || rep.Date != "2024-09-17" || sum.Ops[OpModify] == 0 || sum.Ops[OpDelete] == 0 || sum.Ops[OpAdd] == 0 {
				t.Errorf("delta report kind %s date %s ops %v", rep.Kind, rep.Date, sum.Ops)
			}
			if rep.Families[Eleve].Modify == 0 || rep.Families[Eleve].Delete == 0 || rep.Families[PersRelEleve].Add == 0 {
				t.Errorf("delta families %+v %+v", rep.Families[Eleve], rep.Families[PersRelEleve])
			}
		}
	}
}

func TestGenerateDeltaIsDerivedFromComplet(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	if _, err := Generate(ctx, GenerateOptions{Out: filepath.Join(root, "c"), Students: 2000, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(ctx, GenerateOptions{Out: filepath.Join(root, "d"), Students: 2000, Seed: 5, Delta: true}); err != nil {
		t.Fatal(err)
	}
	ids := map[Family]map[string]*Record{}
	dc, _ := Open(ctx, filepath.Join(root, "c"))
	defer dc.Close()
	for r, err := range dc.Records(ctx, ParseOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		if ids[r.Family] == nil {
			ids[r.Family] = map[string]*Record{}
		}
		ids[r.Family][r.ID] = r
	}
	dd, _ := Open(ctx, filepath.Join(root, "d"))
	defer dd.Close()
	moves := 0
	for r, err := range dd.Records(ctx, ParseOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		base, known := ids[r.Family][r.ID]
		switch r.Op {
		case OpModify, OpDelete:
			if !known {
				t.Errorf("%s %s %s targets an id the Complet lacks", r.Op, r.Family, r.ID)
			}
			if r.Family == Eleve && r.Op == OpModify {
				moves++
				if r.First("ENTEleveClasses") == base.First("ENTEleveClasses") {
					t.Errorf("student %s 'moved' to the same class", r.ID)
				}
				if strings.SplitN(r.First("ENTEleveClasses"), "$", 2)[0] != base.First("ENTPersonStructRattach") {
					t.Errorf("student %s moved to another school's class", r.ID)
				}
			}
		case OpAdd:
			if known {
				t.Errorf("arrival %s %s already in the Complet", r.Family, r.ID)
			}
		}
	}
	if moves == 0 {
		t.Error("no class move")
	}
}

func TestGenerateRefusesNonEmptyOut(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "out")
	if _, err := Generate(ctx, GenerateOptions{Out: dir, Students: 10, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(ctx, GenerateOptions{Out: dir, Students: 10, Seed: 1}); err == nil || !strings.Contains(err.Error(), "already holds AAF files") {
		t.Fatalf("err = %v", err)
	}
	if _, err := Generate(ctx, GenerateOptions{Out: dir, Students: 10, Seed: 1, Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(ctx, GenerateOptions{Out: dir, Students: 0}); err == nil {
		t.Fatal("0 students accepted")
	}
}

// TestGenerateGolden pins the exact bytes of a tiny delivery (Complet and
// its Delta). Run `go test ./aaf -run Golden -update` after an intended change.
func TestGenerateGolden(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	for _, delta := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "out")
		if _, err := Generate(ctx, GenerateOptions{Out: dir, Students: 8, Schools: 2, Seed: 2024, Delta: delta, ChunkSize: 6, DeltaRate: 0.3}); err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(dir)
		names := []string{}
		for _, e := range entries {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		for _, n := range names {
			b, _ := os.ReadFile(filepath.Join(dir, n))
			buf.WriteString("=== " + n + " ===\n")
			buf.Write(b)
		}
	}
	golden := filepath.Join("testdata", "generate-tiny.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		got, exp := buf.String(), string(want)
		i := 0
		for i < len(got) && i < len(exp) && got[i] == exp[i] {
			i++
		}
		t.Fatalf("generated bytes differ from %s at byte %d:\n got …%q\nwant …%q", golden, i, snippet(got, i), snippet(exp, i))
	}
}

func snippet(s string, i int) string {
	lo, hi := max(0, i-60), min(len(s), i+60)
	return s[lo:hi]
}

func TestGenerateCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Generate(ctx, GenerateOptions{Out: filepath.Join(t.TempDir(), "o"), Students: 5000, Seed: 1})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}
