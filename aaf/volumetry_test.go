package aaf

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/enthub/enthub/directory"
)

// fakeBaseline is the directory after the last import: accounts per structure.
type fakeBaseline struct {
	pairs [][2]string // aafID, structure
	err   error
}

func (f *fakeBaseline) ActiveAAFAccounts(ctx context.Context, fn func(aafID, structureAAFID string) error) error {
	if f.err != nil {
		return f.err
	}
	for _, p := range f.pairs {
		if err := fn(p[0], p[1]); err != nil {
			return err
		}
	}
	return nil
}

// school adds n accounts ids prefix0…prefixN-1 in structure s.
func (f *fakeBaseline) school(s, prefix string, n int) *fakeBaseline {
	for i := 0; i < n; i++ {
		f.pairs = append(f.pairs, [2]string{fmt.Sprintf("%s%d", prefix, i), s})
	}
	return f
}

func presentExcept(missing map[string]bool) func(string) bool {
	return func(id string) bool { return !missing[id] }
}

func dropFirst(prefix string, n int) map[string]bool {
	m := map[string]bool{}
	for i := 0; i < n; i++ {
		m[fmt.Sprintf("%s%d", prefix, i)] = true
	}
	return m
}

func TestCheckVolumetry(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		base       *fakeBaseline
		missing    map[string]bool
		opts       VolumetryOptions
		refused    bool
		forced     bool
		wantReason []string
	}{
		{"nothing disappears", (&fakeBaseline{}).school("A", "a", 1000), nil, VolumetryOptions{}, false, false, nil},
		{"5 % of a school is normal turnover", (&fakeBaseline{}).school("A", "a", 1000), dropFirst("a", 50), VolumetryOptions{}, false, false, nil},
		{"a Complet dropping 40 % of one school", (&fakeBaseline{}).school("A", "a", 1000).school("B", "b", 1000).school("C", "c", 1000).school("D", "d", 1000).school("E", "e", 1000),
			dropFirst("b", 400), VolumetryOptions{}, true, false,
			[]string{"structure with AAF id B would lose 400 of 1000 active accounts (40.0 %), above the 10 % limit"}},
		{"small structures are not judged alone", (&fakeBaseline{}).school("A", "a", 1000).school("TINY", "t", 49), dropFirst("t", 30), VolumetryOptions{}, false, false, nil},
		{"exactly 50 accounts are judged", (&fakeBaseline{}).school("A", "a", 1000).school("S50", "s", 50), dropFirst("s", 30), VolumetryOptions{}, true, false,
			[]string{"structure with AAF id S50 would lose 30 of 50 active accounts (60.0 %)"}},
		{"whole perimeter over the limit", (&fakeBaseline{}).school("A", "a", 30).school("B", "b", 30).school("C", "c", 30), merge(dropFirst("a", 5), dropFirst("b", 5)), VolumetryOptions{}, true, false,
			[]string{"the whole perimeter would lose 10 of 90 active accounts (11.1 %)"}},
		{"forced", (&fakeBaseline{}).school("A", "a", 100), dropFirst("a", 60), VolumetryOptions{Force: true}, false, true, []string{"structure with AAF id A would lose 60 of 100"}},
		{"threshold configurable", (&fakeBaseline{}).school("A", "a", 100), dropFirst("a", 20), VolumetryOptions{MaxDisabledPercent: 25}, false, false, nil},
		{"account in two schools counted once in the perimeter", (&fakeBaseline{}).school("A", "x", 100).school("B", "x", 100), dropFirst("x", 20), VolumetryOptions{}, true, false,
			[]string{"whole perimeter would lose 20 of 100", "structure with AAF id A would lose 20 of 100", "structure with AAF id B would lose 20 of 100"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := CheckVolumetry(ctx, tt.base, presentExcept(tt.missing), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Refused != tt.refused || rep.Forced != tt.forced {
				t.Fatalf("refused=%v forced=%v, want %v %v; reasons %q", rep.Refused, rep.Forced, tt.refused, tt.forced, rep.Reasons)
			}
			all := strings.Join(rep.Reasons, "\n")
			for _, w := range tt.wantReason {
				if !strings.Contains(all, w) {
					t.Errorf("reasons %q lack %q", all, w)
				}
			}
		})
	}
	t.Run("baseline error is returned", func(t *testing.T) {
		_, err := CheckVolumetry(ctx, &fakeBaseline{err: errors.New("db down")}, presentExcept(nil), VolumetryOptions{})
		if err == nil || !strings.Contains(err.Error(), "db down") {
			t.Fatalf("err = %v", err)
		}
	})
}

// namedBaseline is a fakeBaseline that names its structures, as the store does.
type namedBaseline struct {
	*fakeBaseline
	structs []directory.Structure
}

func (n namedBaseline) ListStructures(context.Context) ([]directory.Structure, error) {
	return n.structs, nil
}

// Refusals name each school over the limit once, by UAI and name, in UAI
// order whatever their losses; a school the store cannot name keeps its
// AAF id and comes last.
func TestVolumetryNamesSchoolsByUAI(t *testing.T) {
	base := namedBaseline{
		fakeBaseline: (&fakeBaseline{}).school("S1", "a", 100).school("S2", "b", 100).school("S3", "c", 100).school("S4", "d", 100).
			school("OK", "e", 2000),
		structs: []directory.Structure{
			{AAFID: "S1", UAI: "0130003C", Name: "CLG JEAN MOULIN"},
			{AAFID: "S2", UAI: "0130001A", Name: "LYC MISTRAL"},
			{AAFID: "S3", UAI: "0130002B", Name: "CLG ARAGO"},
			{AAFID: "OK", UAI: "0130009Z", Name: "LYC CALME"},
		},
	}
	missing := merge(dropFirst("a", 60), dropFirst("b", 20), dropFirst("c", 40), dropFirst("d", 30))
	rep, err := CheckVolumetry(context.Background(), base, presentExcept(missing), VolumetryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"school 0130001A LYC MISTRAL (AAF id S2) would lose 20 of 100 active accounts (20.0 %), above the 10 % limit",
		"school 0130002B CLG ARAGO (AAF id S3) would lose 40 of 100 active accounts (40.0 %), above the 10 % limit",
		"school 0130003C CLG JEAN MOULIN (AAF id S1) would lose 60 of 100 active accounts (60.0 %), above the 10 % limit",
		"structure with AAF id S4 would lose 30 of 100 active accounts (30.0 %), above the 10 % limit",
	}
	if !slices.Equal(rep.Reasons, want) {
		t.Errorf("reasons:\n%s\nwant:\n%s", strings.Join(rep.Reasons, "\n"), strings.Join(want, "\n"))
	}
	if o := rep.OverLimit; len(o) != 4 || o[0].UAI != "0130001A" || o[0].Name != "LYC MISTRAL" || o[3].UAI != "" {
		t.Errorf("over limit = %+v", o)
	}
}

func merge(ms ...map[string]bool) map[string]bool {
	out := map[string]bool{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// Through Check: the baseline knows students of a generated delivery plus a
// school the new Complet has lost 40 % of.
func TestCheckRefusesCompletDroppingFortyPercentOfASchool(t *testing.T) {
	ctx := context.Background()
	dir := smallDelivery(t)
	d, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	base := &fakeBaseline{}
	for r, err := range d.Records(ctx, ParseOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		if r.Family == Eleve {
			base.pairs = append(base.pairs, [2]string{r.ID, r.First("ENTPersonStructRattach")})
		}
	}
	// 40 former students of 52000 absent from the new export (100 in the school → 40 %).
	base.school("52000", "gone-", 40)
	rep, err := Check(ctx, d, CheckOptions{Baseline: base})
	if !errors.Is(err, ErrRefused) || !rep.HasError(CodeVolumetry) {
		t.Fatalf("err = %v errors %+v", err, rep.Errors)
	}
	if rep.Volumetry == nil || len(rep.Volumetry.OverLimit) != 1 || rep.Volumetry.OverLimit[0].Structure != "52000" {
		t.Fatalf("volumetry = %+v", rep.Volumetry)
	}
	var msg string
	for _, p := range rep.Errors {
		if p.Code == CodeVolumetry && strings.Contains(p.Message, "structure with AAF id 52000") {
			msg = p.Message
		}
	}
	active := rep.Volumetry.OverLimit[0].Active
	if want := fmt.Sprintf("structure with AAF id 52000 would lose 40 of %d active accounts (%.1f %%)", active, 4000/float64(active)); !strings.Contains(msg, want) {
		t.Errorf("message %q lacks %q", msg, want)
	}
	// --force: applied with a warning.
	rep, err = Check(ctx, d, CheckOptions{Baseline: base, Volumetry: VolumetryOptions{Force: true}})
	if err != nil || rep.WarningCount == 0 || rep.Warnings[0].Code != CodeVolumetry || !strings.Contains(rep.Warnings[0].Message, "(forced)") {
		t.Fatalf("forced: err %v warnings %+v", err, rep.Warnings)
	}
	_ = filepath.Join
}
