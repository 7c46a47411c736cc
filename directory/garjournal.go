package directory

import (
	"context"
	"time"
)

// GARDelivery is one entry of the GAR export journal: an export, packed,
// and its delivery to the GAR by SFTP, or why it did not happen.
type GARDelivery struct {
	ID         string
	StartedAt  time.Time
	FinishedAt time.Time
	// Archive is the .tar.gz file name; MD5 its checksum (hex).
	Archive  string
	MD5      string
	Files    int
	Elements int
	// Target is user@host:port/dir, "" when the export was only packed.
	Target   string
	Attempts int
	// Outcome is delivered, packed (no SFTP configured), refused (the
	// server's host key is not the pinned one, or it refused the key) or
	// failed.
	Outcome string
	Reason  string
	// Counts is the export's counts as JSON.
	Counts []byte
}

// GARJournal keeps the GAR export journal, beside the directory so that
// every instance and `enthub gar journal` read the same one.
type GARJournal interface {
	PutGARDelivery(ctx context.Context, d *GARDelivery) error
	// GARDeliveries lists the journal, newest first, at most limit entries.
	GARDeliveries(ctx context.Context, limit int) ([]GARDelivery, error)
}
