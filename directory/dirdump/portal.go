package dirdump

import (
	"context"
	"fmt"
	"time"

	"github.com/enthub/enthub/directory"
)

// The launcher's content (package portal/launcher) in the export: its
// news and the schools' brandings, since format version 3. A branding
// holds the addresses of its logo and banner image, not the images, so
// the export carries no binary data.

// newsRec is a launcher message: for every school ("" structure_id) or
// one, every profile ("" profile) or one, shown from start to end.
type newsRec struct {
	ID          string            `json:"id"`
	StructureID string            `json:"structure_id,omitempty"`
	Profile     directory.Profile `json:"profile,omitempty"`
	Title       string            `json:"title"`
	Body        string            `json:"body,omitempty"`
	Start       time.Time         `json:"start"`
	End         time.Time         `json:"end"`
	CreatedBy   string            `json:"created_by,omitempty"`
	CreatedAt   time.Time         `json:"created_at"`
}

// brandingRec is a school's look on the launcher, by UAI ("" is the
// département's).
type brandingRec struct {
	UAI       string    `json:"uai"`
	LogoURL   string    `json:"logo_url,omitempty"`
	BannerURL string    `json:"banner_url,omitempty"`
	Banner    string    `json:"banner,omitempty"`
	Primary   string    `json:"primary,omitempty"`
	Accent    string    `json:"accent,omitempty"`
	Ink       string    `json:"ink,omitempty"`
	UpdatedBy string    `json:"updated_by,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

func fromNews(n directory.News) newsRec {
	return newsRec{ID: n.ID, StructureID: n.StructureID, Profile: n.Profile, Title: n.Title, Body: n.Body, Start: utc(n.Start),
		End: utc(n.End), CreatedBy: n.CreatedBy, CreatedAt: utc(n.CreatedAt)}
}

func (r newsRec) domain() directory.News {
	return directory.News{ID: r.ID, StructureID: r.StructureID, Profile: r.Profile, Title: r.Title, Body: r.Body, Start: r.Start,
		End: r.End, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt}
}

func fromBranding(b directory.Branding) brandingRec {
	r := brandingRec(b)
	r.UpdatedAt = utc(b.UpdatedAt)
	return r
}

func (r brandingRec) domain() directory.Branding { return directory.Branding(r) }

// walkPortal emits the news, then the brandings, after the directory's
// records (a message points to its school).
func walkPortal(ctx context.Context, d directory.PortalDumpReader, emit func(kind string, rec any) error) error {
	if err := d.DumpNews(ctx, func(n directory.News) error { return emit("news", fromNews(n)) }); err != nil {
		return err
	}
	return d.DumpBrandings(ctx, func(b directory.Branding) error { return emit("branding", fromBranding(b)) })
}

// validatePortal checks a news or branding record, returning the faulty
// field.
func validatePortal(rec any) (string, error) {
	switch r := rec.(type) {
	case *newsRec:
		switch {
		case r.ID == "":
			return "id", errMissing
		case r.Title == "":
			return "title", errMissing
		case r.Start.IsZero():
			return "start", errMissing
		case r.End.IsZero():
			return "end", errMissing
		case !r.End.After(r.Start):
			return "end", fmt.Errorf("%s is not after start %s", r.End.Format(time.RFC3339), r.Start.Format(time.RFC3339))
		case r.CreatedAt.IsZero():
			return "created_at", errMissing
		case r.Profile != "" && !r.Profile.Valid():
			return "profile", fmt.Errorf("unknown profile %q", r.Profile)
		}
		return "", nil
	case *brandingRec:
		if r.UpdatedAt.IsZero() {
			return "updated_at", errMissing
		}
		return "", nil
	}
	return "", fmt.Errorf("record of type %T", rec)
}

// restorePortal hands a news or branding record to the store.
func restorePortal(ctx context.Context, tx directory.PortalRestoreTx, rec any) error {
	switch r := rec.(type) {
	case *newsRec:
		return tx.RestoreNews(ctx, r.domain())
	case *brandingRec:
		return tx.RestoreBranding(ctx, r.domain())
	}
	return fmt.Errorf("record of type %T", rec)
}
