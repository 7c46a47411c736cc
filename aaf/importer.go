package aaf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/enthub/enthub/directory"
)

// Store is what an import needs of the directory: the bulk path, the
// volumetry baseline and the journal.
type Store interface {
	directory.Bulk
	ImportByHash(ctx context.Context, hash string) (directory.ImportRecord, error)
	LastApplied(ctx context.Context, scope string) (directory.ImportRecord, error)
	Update(ctx context.Context, fn func(directory.Tx) error) error
}

// ImportOptions configures Import.
type ImportOptions struct {
	Check CheckOptions
	Apply ApplyOptions
	// Order is the guard against a delivery older than the last one applied.
	Order OrderOptions
	// Force applies a delivery the volumetry guard or the date order
	// refuses, and re-applies one already applied; the journal says what
	// was overridden.
	Force bool
	// DryRun does everything an import does, refusals and the merge
	// included, and reports it, but writes nothing, not even the journal.
	DryRun bool
	Now    func() time.Time
}

// Outcomes of an import, as journalled.
const (
	OutcomeApplied = "applied"
	OutcomeRefused = "refused"
	OutcomeFailed  = "failed"
	OutcomeNoop    = "noop"
)

// ImportReport is what `enthub aaf import` prints (--json for machines).
type ImportReport struct {
	// Outcome is what the import did, or with DryRun what it would do.
	Outcome string `json:"outcome"`
	DryRun  bool   `json:"dry_run,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// Forced lists the refusals --force overrode.
	Forced      []string     `json:"forced,omitempty"`
	Kind        Kind         `json:"kind"`
	Origin      *Origin      `json:"origin,omitempty"`
	ContentHash string       `json:"content_hash"`
	Check       *Report      `json:"check"`
	Apply       *ApplyResult `json:"apply,omitempty"`
	DurationMS  int64        `json:"duration_ms"`
	// PhasesMS splits the duration: hash (raw bytes), parse (check and
	// staging, one pass), merge (set-based merge and commit).
	PhasesMS         map[string]int64 `json:"phases_ms,omitempty"`
	RecordsPerSecond float64          `json:"records_per_second,omitempty"`
}

// forceHint ends the reason of a refusal --force overrides.
const forceHint = " (enthub aaf import --force applies it anyway)"

// Import checks a delivery and, when it passes, applies it in one
// transaction, then journals the outcome. A refused delivery changes
// nothing but the journal. Before any parse it skips a delivery already
// applied and refuses one older than the last applied of its scope.
func Import(ctx context.Context, store Store, paths []string, opts ImportOptions) (*ImportReport, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	start := opts.Now()
	rep := &ImportReport{DryRun: opts.DryRun}
	scopeBy, err := opts.Order.scopeBy()
	if err != nil {
		return rep, err
	}
	d, err := Open(ctx, paths...)
	if err != nil {
		rep.Outcome, rep.Reason = OutcomeRefused, err.Error()
		journal(ctx, store, rep, nil, start, opts)
		return rep, fmt.Errorf("%w: %v", ErrRefused, err)
	}
	defer d.Close()
	// The hash is known before any parse (it hashes the raw bytes), so an
	// already-applied delivery costs no parse at all.
	rep.Kind = d.Kind
	rep.PhasesMS = map[string]int64{}
	phase := start
	lap := func(name string) {
		t := opts.Now()
		rep.PhasesMS[name] = t.Sub(phase).Milliseconds()
		phase = t
	}
	if rep.ContentHash, err = d.ContentHash(ctx); err != nil {
		return rep, err
	}
	lap("hash")
	prev, err := store.ImportByHash(ctx, rep.ContentHash)
	switch {
	case err == nil:
		already := fmt.Sprintf("already applied on %s", prev.StartedAt.UTC().Format(time.RFC3339))
		if !opts.Force {
			rep.Outcome, rep.Reason = OutcomeNoop, already
			rep.DurationMS = opts.Now().Sub(start).Milliseconds()
			return rep, nil
		}
		rep.Forced = append(rep.Forced, already)
	case !errors.Is(err, directory.ErrNotFound):
		return rep, fmt.Errorf("aaf: journal: %w", err)
	}
	origin := d.origin(ctx, opts.Check.Parse, scopeBy)
	rep.Origin = &origin
	if !opts.Order.Off {
		older, err := checkOrder(ctx, store, d.Kind, origin)
		if err != nil {
			return rep, err
		}
		if older != "" && !opts.Force {
			rep.Outcome, rep.Reason = OutcomeRefused, older+forceHint
			rep.DurationMS = opts.Now().Sub(start).Milliseconds()
			journal(ctx, store, rep, d, start, opts)
			return rep, fmt.Errorf("%w: %s", ErrRefused, rep.Reason)
		}
		if older != "" {
			rep.Forced = append(rep.Forced, older)
		}
	}
	aopts := opts.Apply
	aopts.DryRun = opts.DryRun
	if aopts.Now == nil {
		aopts.Now = opts.Now
	}
	aopts.Parse = opts.Check.Parse
	// One parse does both: the check, and the apply into a transaction that
	// nothing sees before Finish and that is rolled back if the check refuses.
	a, err := beginApply(ctx, store, d.Kind, aopts)
	if err != nil {
		return rep, err
	}
	defer func() { a.drain(); a.itx.Rollback() }()
	copts := opts.Check
	copts.Parse.prepare = prepareSum
	copts.Baseline = store
	if a.itx.Fresh() {
		// Nothing to lose, and the store may hold the tables the baseline
		// reads locked until Finish.
		copts.Baseline = noBaseline{}
	}
	copts.Volumetry.Force = copts.Volumetry.Force || opts.Force
	copts.OnRecord = a.record
	check, err := Check(ctx, d, copts)
	if werr := a.drain(); err == nil && werr != nil {
		err = werr
	}
	lap("parse")
	if err != nil && (check == nil || !errors.Is(err, ErrRefused)) {
		rep.Outcome, rep.Reason = OutcomeFailed, err.Error()
		journal(ctx, store, rep, d, start, opts)
		return rep, err
	}
	rep.Check = check
	if !check.OK {
		rep.Outcome = OutcomeRefused
		rep.Reason = refusalReason(check)
		a.itx.Rollback()
		journal(ctx, store, rep, d, start, opts)
		return rep, fmt.Errorf("%w: %s", ErrRefused, rep.Reason)
	}
	if v := check.Volumetry; v != nil && v.Forced {
		rep.Forced = append(rep.Forced, v.Reasons...)
	}
	res, err := a.finish(ctx, d.Kind)
	lap("merge")
	rep.DurationMS = opts.Now().Sub(start).Milliseconds()
	if err != nil {
		rep.Outcome, rep.Reason = OutcomeFailed, err.Error()
		journal(ctx, store, rep, d, start, opts)
		return rep, err
	}
	rep.Apply = res
	if rep.DurationMS > 0 {
		rep.RecordsPerSecond = float64(res.Records) / (float64(rep.DurationMS) / 1000)
	}
	rep.Outcome = OutcomeApplied
	if len(rep.Forced) > 0 {
		rep.Reason = "forced: " + strings.Join(rep.Forced, "; ")
	}
	journal(ctx, store, rep, d, start, opts)
	return rep, nil
}

// noBaseline is the volumetry baseline of an empty directory.
type noBaseline struct{}

func (noBaseline) ActiveAAFAccounts(context.Context, func(string, string) error) error { return nil }

// refusalReason summarises why Check refused, naming the first problem.
func refusalReason(r *Report) string {
	if r.Volumetry != nil && r.Volumetry.Refused && len(r.Volumetry.Reasons) > 0 {
		return strings.Join(r.Volumetry.Reasons, "; ") + forceHint
	}
	if len(r.Errors) > 0 {
		p := r.Errors[0]
		msg := p.String()
		if r.ErrorCount > 1 {
			msg += fmt.Sprintf(" (and %d more)", r.ErrorCount-1)
		}
		return msg
	}
	return "refused by the checks"
}

// journal records the delivery's outcome; a journal failure is logged by
// the caller through the returned report, never hides the import's result.
func journal(ctx context.Context, store Store, rep *ImportReport, d *Delivery, start time.Time, opts ImportOptions) {
	if opts.DryRun {
		return
	}
	rec := &directory.ImportRecord{StartedAt: start, FinishedAt: opts.Now(), Kind: string(rep.Kind),
		ContentHash: rep.ContentHash, Outcome: rep.Outcome, Reason: rep.Reason}
	if rep.Origin != nil {
		rec.ExportDate, rec.Scope = rep.Origin.Date, rep.Origin.Scope
	}
	if d != nil {
		for _, f := range d.Files {
			rec.Files = append(rec.Files, f.Name)
		}
	}
	rec.Report, _ = json.Marshal(rep)
	_ = store.Update(context.WithoutCancel(ctx), func(tx directory.Tx) error { return tx.PutImport(ctx, rec) })
}
