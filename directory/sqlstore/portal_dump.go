package sqlstore

import (
	"context"

	"github.com/enthub/enthub/directory"
)

// The launcher's news and brandings in the reversibility export (package
// directory/dirdump), beside the directory's tables in dump.go.

func (r dumpReader) DumpNews(ctx context.Context, fn func(directory.News) error) error {
	return eachRow(ctx, r.db, `SELECT `+newsCols+` FROM portal_news ORDER BY id`, scanNews, fn)
}

func (r dumpReader) DumpBrandings(ctx context.Context, fn func(directory.Branding) error) error {
	return eachRow(ctx, r.db, `SELECT `+brandingCols+` FROM portal_branding ORDER BY uai`, scanBranding, fn)
}

// RestoreNews writes a message as exported; its school, when it has one,
// is checked with the other references when the restore ends.
func (t *restoreTx) RestoreNews(ctx context.Context, n directory.News) error {
	return t.row(ctx, "news "+n.ID, "portal_news",
		[]string{"id", "structure_id", "profile", "title", "body", "start_at", "end_at", "created_by", "created_at"},
		n.ID, n.StructureID, string(n.Profile), n.Title, n.Body, micros(n.Start), micros(n.End), n.CreatedBy, micros(n.CreatedAt))
}

// RestoreBranding writes a school's (or, UAI "", the département's)
// branding as exported.
func (t *restoreTx) RestoreBranding(ctx context.Context, b directory.Branding) error {
	return t.row(ctx, "branding "+b.UAI, "portal_branding",
		[]string{"uai", "logo_url", "banner_url", "banner", "primary_color", "accent_color", "ink_color", "updated_by", "updated_at"},
		b.UAI, b.LogoURL, b.BannerURL, b.Banner, b.Primary, b.Accent, b.Ink, b.UpdatedBy, micros(b.UpdatedAt))
}
