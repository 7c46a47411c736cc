package gar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/enthub/enthub/directory"
)

// The outcomes of a run, as journalled.
const (
	OutcomeDelivered = "delivered"
	OutcomePacked    = "packed"
	OutcomeRefused   = "refused"
	OutcomeFailed    = "failed"
)

// Deliverer sends the packed export; *SFTP is the one.
type Deliverer interface {
	Deliver(ctx context.Context, files []string) (attempts int, err error)
	Target() string
}

// RunOptions is a whole daily run: export, pack, deliver, journal.
type RunOptions struct {
	Export ExportOptions
	// Deliver sends the archive and its .md5; nil packs only.
	Deliver Deliverer
	Journal directory.GARJournal
	// Now is the clock of the journal (default time.Now).
	Now func() time.Time
}

// RunResult is what a run did.
type RunResult struct {
	Export   *Result               `json:"export,omitempty"`
	Archive  string                `json:"archive,omitempty"`
	MD5      string                `json:"md5,omitempty"`
	Delivery directory.GARDelivery `json:"-"`
}

// Run exports the subscribing schools into Export.Out/<base>/, packs the
// files as Export.Out/<base>.tar.gz with its .md5, delivers both when a
// Deliverer is set, and journals the outcome whatever it is: a refused
// host key, like any failure, leaves an entry saying why.
func Run(ctx context.Context, src Source, opts RunOptions) (*RunResult, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	d := directory.GARDelivery{StartedAt: now().UTC()}
	if opts.Deliver != nil {
		d.Target = opts.Deliver.Target()
	}
	res := &RunResult{}
	err := run(ctx, src, opts, res, &d)
	d.FinishedAt = now().UTC()
	switch {
	case err == nil && opts.Deliver != nil:
		d.Outcome = OutcomeDelivered
	case err == nil:
		d.Outcome = OutcomePacked
	case errors.Is(err, ErrHostKey) || isAuthError(err):
		d.Outcome, d.Reason = OutcomeRefused, err.Error()
	default:
		d.Outcome, d.Reason = OutcomeFailed, err.Error()
	}
	if opts.Journal != nil {
		// A cancelled run is journalled all the same.
		if jerr := opts.Journal.PutGARDelivery(context.WithoutCancel(ctx), &d); jerr != nil {
			err = errors.Join(err, jerr)
		}
	}
	res.Delivery = d
	return res, err
}

func run(ctx context.Context, src Source, opts RunOptions, res *RunResult, d *directory.GARDelivery) error {
	base := opts.Export.Project.IDEnt + "_GAR-ENT_Complet_" + opts.Export.Now.Format("20060102_150405")
	root := opts.Export.Out
	eo := opts.Export
	eo.Out = filepath.Join(root, base)
	exp, err := Export(ctx, src, eo)
	if err != nil {
		return err
	}
	res.Export = exp
	d.Files, d.Elements = len(exp.Files), exp.Counts.Elements
	d.Counts, _ = json.Marshal(exp.Counts)
	archive, sum, err := Pack(root, base, exp.Files)
	if err != nil {
		return err
	}
	res.Archive, res.MD5 = archive, sum
	d.Archive, d.MD5 = filepath.Base(archive), sum
	if opts.Deliver == nil {
		return nil
	}
	d.Attempts, err = opts.Deliver.Deliver(ctx, []string{archive, archive + ".md5"})
	if err != nil {
		return fmt.Errorf("%w (after %d attempt(s))", err, d.Attempts)
	}
	return nil
}
