package aaf

import (
	"context"
	"fmt"
	"sort"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/internal/idmap"
)

// Baseline is the directory as the last applied import left it, seen only
// through what the volumetry guard needs. The store implements it; tests use
// a fake. It lives here, not in directory/, so aaf depends on no store.
type Baseline interface {
	// ActiveAAFAccounts calls fn once per (active AAF account, structure) pair:
	// aafID is the account's jointure id (ENTPersonJointure), structureAAFID
	// the ENTStructureJointure of a structure it belongs to, "" if none. An
	// account in two schools is reported twice. An error from fn stops the walk
	// and is returned.
	ActiveAAFAccounts(ctx context.Context, fn func(aafID, structureAAFID string) error) error
}

// structureLister is a Baseline that can also name its structures (the
// store can): a refusal then names each school by UAI and name, which is
// what an operator looks up, rather than by its AAF id.
type structureLister interface {
	ListStructures(ctx context.Context) ([]directory.Structure, error)
}

// VolumetryOptions sets the guard against a truncated Complet export.
type VolumetryOptions struct {
	// MaxDisabledPercent is the share of accounts a Complet may disable, over the
	// whole perimeter and per structure (default 10). Exceeding it refuses.
	MaxDisabledPercent float64 `json:"max_disabled_percent"`
	// MinStructureAccounts: structures with fewer active accounts are not
	// checked one by one (default 50): a small school losing 3 of 20 is normal.
	MinStructureAccounts int `json:"min_structure_accounts"`
	// Force turns a refusal into a warning (`enthub aaf import --force`).
	Force bool `json:"force"`
}

func (o VolumetryOptions) withDefaults() VolumetryOptions {
	if o.MaxDisabledPercent <= 0 {
		o.MaxDisabledPercent = 10
	}
	if o.MinStructureAccounts <= 0 {
		o.MinStructureAccounts = 50
	}
	return o
}

// StructureVolumetry is one structure's loss.
type StructureVolumetry struct {
	// Structure is the AAF id (ENTStructureJointure); UAI and Name are ""
	// when the baseline cannot name it.
	Structure    string  `json:"structure"`
	UAI          string  `json:"uai,omitempty"`
	Name         string  `json:"name,omitempty"`
	Active       int     `json:"active"`
	Disappearing int     `json:"disappearing"`
	Percent      float64 `json:"percent"`
}

// VolumetryReport says how many accounts a Complet would disable, and why it
// is refused when it is.
type VolumetryReport struct {
	Options      VolumetryOptions `json:"options"`
	Active       int              `json:"active"`
	Disappearing int              `json:"disappearing"`
	Percent      float64          `json:"percent"`
	// StructuresChecked counts structures with at least MinStructureAccounts accounts.
	StructuresChecked int `json:"structures_checked"`
	// OverLimit lists the checked structures above the limit, by UAI.
	OverLimit []StructureVolumetry `json:"over_limit,omitempty"`
	// Refused is true when over the limit and not forced; Forced when over the limit and forced.
	Refused bool     `json:"refused"`
	Forced  bool     `json:"forced"`
	Reasons []string `json:"reasons,omitempty"`
}

// CheckVolumetry compares the active AAF accounts of base with the person
// ids of a Complet delivery (present) and refuses when more than
// MaxDisabledPercent of the perimeter, or of any structure with at least
// MinStructureAccounts accounts, would be disabled. Memory: one entry per
// baseline account and per structure.
func CheckVolumetry(ctx context.Context, base Baseline, present func(aafID string) bool, opts VolumetryOptions) (*VolumetryReport, error) {
	b, err := readBaseline(ctx, base)
	if err != nil {
		return nil, err
	}
	return b.evaluate(present, opts), nil
}

// baselineSet is a baseline as read, before the delivery is known: Check
// reads it while the delivery is parsed, on another connection.
type baselineSet struct {
	accounts idmap.Map[int32] // AAF id → account number
	n        int32
	pairs    []uint64 // account number << 32 | structure number, one per row
	structs  []string
	structNo map[string]uint32
	names    map[string]directory.Structure // by AAF id, when the baseline names them
}

func readBaseline(ctx context.Context, base Baseline) (*baselineSet, error) {
	b := &baselineSet{structNo: map[string]uint32{}}
	err := base.ActiveAAFAccounts(ctx, func(id, structure string) error {
		i, seen := b.accounts.Get(id)
		if !seen {
			i = b.n
			b.n++
			b.accounts.Set(id, i)
		}
		if structure == "" {
			return nil
		}
		s, ok := b.structNo[structure]
		if !ok {
			s = uint32(len(b.structs))
			b.structNo[structure] = s
			b.structs = append(b.structs, structure)
		}
		b.pairs = append(b.pairs, uint64(i)<<32|uint64(s))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("aaf: volumetry baseline: %w", err)
	}
	if l, ok := base.(structureLister); ok {
		all, err := l.ListStructures(ctx)
		if err != nil {
			return nil, fmt.Errorf("aaf: volumetry baseline: %w", err)
		}
		b.names = make(map[string]directory.Structure, len(b.structs))
		for _, st := range all {
			if _, ok := b.structNo[st.AAFID]; ok {
				b.names[st.AAFID] = st
			}
		}
	}
	return b, nil
}

// evaluate is CheckVolumetry once the delivery's ids are known.
func (b *baselineSet) evaluate(present func(aafID string) bool, opts VolumetryOptions) *VolumetryReport {
	opts = opts.withDefaults()
	gone := make([]bool, b.n)
	b.accounts.Each(func(id string, i int32) { gone[i] = !present(id) })
	type counts struct{ active, gone int }
	perStruct := make([]counts, len(b.structs))
	for _, p := range b.pairs {
		c := &perStruct[uint32(p)]
		c.active++
		if gone[p>>32] {
			c.gone++
		}
	}
	rep := &VolumetryReport{Options: opts, Active: int(b.n)}
	for _, g := range gone {
		if g {
			rep.Disappearing++
		}
	}
	rep.Percent = percent(rep.Disappearing, rep.Active)
	over := false
	if rep.Percent > opts.MaxDisabledPercent {
		over = true
		rep.Reasons = append(rep.Reasons, fmt.Sprintf("the whole perimeter would lose %d of %d active accounts (%.1f %%), above the %.0f %% limit",
			rep.Disappearing, rep.Active, rep.Percent, opts.MaxDisabledPercent))
	}
	for i, c := range perStruct {
		s := b.structs[i]
		if c.active < opts.MinStructureAccounts {
			continue
		}
		rep.StructuresChecked++
		if p := percent(c.gone, c.active); p > opts.MaxDisabledPercent {
			st := b.names[s]
			rep.OverLimit = append(rep.OverLimit, StructureVolumetry{Structure: s, UAI: st.UAI, Name: st.Name,
				Active: c.active, Disappearing: c.gone, Percent: p})
		}
	}
	// By UAI, the order of the rectorat's lists; unnamed ones last.
	sort.Slice(rep.OverLimit, func(i, j int) bool {
		a, b := rep.OverLimit[i], rep.OverLimit[j]
		if (a.UAI == "") != (b.UAI == "") {
			return b.UAI == ""
		}
		if a.UAI != b.UAI {
			return a.UAI < b.UAI
		}
		return a.Structure < b.Structure
	})
	for _, s := range rep.OverLimit {
		over = true
		rep.Reasons = append(rep.Reasons, fmt.Sprintf("%s would lose %d of %d active accounts (%.1f %%), above the %.0f %% limit",
			s.label(), s.Disappearing, s.Active, s.Percent, opts.MaxDisabledPercent))
	}
	rep.Refused = over && !opts.Force
	rep.Forced = over && opts.Force
	return rep
}

// label names a school as an operator knows it: "school 0130001A CLG
// INTEGRATION (AAF id 52000)", or by its AAF id alone when unnamed.
func (s StructureVolumetry) label() string {
	switch {
	case s.UAI != "" && s.Name != "":
		return fmt.Sprintf("school %s %s (AAF id %s)", s.UAI, s.Name, s.Structure)
	case s.UAI != "":
		return fmt.Sprintf("school %s (AAF id %s)", s.UAI, s.Structure)
	}
	return "structure with AAF id " + s.Structure
}

func percent(part, whole int) float64 {
	if whole == 0 {
		return 0
	}
	return 100 * float64(part) / float64(whole)
}
