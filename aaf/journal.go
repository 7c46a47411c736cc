package aaf

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/enthub/enthub/directory"
)

// JournalEntry is one delivery as `enthub aaf journal` shows it: what the
// journal row says, with the counts read back from the report it keeps.
type JournalEntry struct {
	ID          string    `json:"id"`
	StartedAt   time.Time `json:"started_at"`
	FinishedAt  time.Time `json:"finished_at"`
	Kind        string    `json:"kind"`
	ExportDate  string    `json:"export_date,omitempty"`
	Scope       string    `json:"scope,omitempty"`
	Outcome     string    `json:"outcome"`
	Reason      string    `json:"reason,omitempty"`
	Forced      []string  `json:"forced,omitempty"`
	ContentHash string    `json:"content_hash,omitempty"`
	Files       []string  `json:"files"`
	// Records, Totals (summed over the families), AccountsCreated and
	// Families are those of the apply: zero for a delivery not applied.
	Records         int                     `json:"records"`
	Totals          ApplyCounts             `json:"totals"`
	AccountsCreated int                     `json:"accounts_created"`
	Families        map[Family]*ApplyCounts `json:"families,omitempty"`
	// Errors and Warnings are the check's counts.
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
}

// Journaller is the store's read side of the journal.
type Journaller interface {
	Imports(ctx context.Context, limit int) ([]directory.ImportRecord, error)
}

// Journal lists the last limit deliveries, newest first.
func Journal(ctx context.Context, j Journaller, limit int) ([]JournalEntry, error) {
	recs, err := j.Imports(ctx, limit)
	if err != nil {
		return nil, fmt.Errorf("aaf: journal: %w", err)
	}
	out := make([]JournalEntry, 0, len(recs))
	for _, r := range recs {
		out = append(out, journalEntry(r))
	}
	return out, nil
}

// journalEntry reads a journal row. Its report is what this binary wrote
// (or an older one: a report that does not parse leaves the counts at zero
// rather than hiding the row).
func journalEntry(r directory.ImportRecord) JournalEntry {
	e := JournalEntry{ID: r.ID, StartedAt: r.StartedAt.UTC(), FinishedAt: r.FinishedAt.UTC(), Kind: r.Kind,
		ExportDate: r.ExportDate, Scope: r.Scope, Outcome: r.Outcome, Reason: r.Reason, ContentHash: r.ContentHash,
		Files: r.Files}
	if e.Files == nil {
		e.Files = []string{}
	}
	var rep ImportReport
	if len(r.Report) == 0 || json.Unmarshal(r.Report, &rep) != nil {
		return e
	}
	e.Forced = rep.Forced
	if rep.Check != nil {
		e.Errors, e.Warnings = rep.Check.ErrorCount, rep.Check.WarningCount
	}
	if a := rep.Apply; a != nil {
		e.Records, e.AccountsCreated, e.Families = a.Records, a.AccountsCreated, a.Families
		for _, c := range a.Families {
			e.Totals.Added += c.Added
			e.Totals.Updated += c.Updated
			e.Totals.Unchanged += c.Unchanged
			e.Totals.Disabled += c.Disabled
			e.Totals.Restored += c.Restored
			e.Totals.Deleted += c.Deleted
		}
	}
	return e
}
