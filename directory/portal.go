package directory

import (
	"context"
	"time"
)

// The portal's own content: the news shown on the launcher and the login
// chooser, and each school's branding. They live beside the directory so
// that every instance behind the load balancer shows the same.

// News is a short message shown from Start until End (exclusive) to the
// personas it targets: StructureID "" means every school, Profile ""
// every profile.
type News struct {
	ID          string
	StructureID string
	Profile     Profile
	Title, Body string
	Start, End  time.Time
	CreatedBy   string // account id of the author
	CreatedAt   time.Time
}

// Current reports whether the message is shown at now.
func (n News) Current(now time.Time) bool { return !now.Before(n.Start) && now.Before(n.End) }

// For reports whether the message targets a persona of structureID with
// profile.
func (n News) For(structureID string, profile Profile) bool {
	return (n.StructureID == "" || n.StructureID == structureID) && (n.Profile == "" || n.Profile == profile)
}

// Branding is a school's look on the launcher, keyed by UAI ("" is the
// département's, for pages of no school). Colours are #rrggbb values; the
// portal checks them before storing.
type Branding struct {
	UAI       string
	LogoURL   string
	BannerURL string
	// Banner is a short text shown in the banner (the département's
	// message when UAI is "").
	Banner               string
	Primary, Accent, Ink string
	UpdatedBy            string
	UpdatedAt            time.Time
}

// PortalStore keeps the news and the brandings.
type PortalStore interface {
	// PutNews inserts or replaces n (an empty ID gets a new one, set in
	// n). DeleteNews removes one; ErrNotFound when there is none.
	PutNews(ctx context.Context, n *News) error
	DeleteNews(ctx context.Context, id string) error
	// NewsList lists the messages whose window ends after since, of the
	// structure ("" every one, including the all-schools messages), by
	// start then id.
	NewsList(ctx context.Context, structureID string, since time.Time) ([]News, error)
	// Branding returns the branding of a UAI; ErrNotFound when it has none.
	Branding(ctx context.Context, uai string) (Branding, error)
	PutBranding(ctx context.Context, b Branding) error
}

// PortalDumpReader walks the launcher's content for the reversibility
// export (part of DumpReader): every news item by id, every branding by
// UAI.
type PortalDumpReader interface {
	DumpNews(ctx context.Context, fn func(News) error) error
	DumpBrandings(ctx context.Context, fn func(Branding) error) error
}

// PortalRestoreTx writes the launcher's content back (part of RestoreTx),
// verbatim: ids, authors and dates as exported.
type PortalRestoreTx interface {
	RestoreNews(ctx context.Context, n News) error
	RestoreBranding(ctx context.Context, b Branding) error
}
