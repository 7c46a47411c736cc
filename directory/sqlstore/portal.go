package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/enthub/enthub/directory"
)

var _ directory.PortalStore = (*Store)(nil)

const newsCols = `id, structure_id, profile, title, body, start_at, end_at, created_by, created_at`

// PutNews inserts or replaces a message; an empty ID gets a new one.
func (s *Store) PutNews(ctx context.Context, n *directory.News) error {
	if n.ID == "" {
		n.ID = s.opts.NewID()
	}
	_, err := s.exec(ctx, `INSERT INTO portal_news (`+newsCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (id) DO UPDATE SET structure_id = excluded.structure_id, profile = excluded.profile,
		title = excluded.title, body = excluded.body, start_at = excluded.start_at, end_at = excluded.end_at`,
		n.ID, n.StructureID, string(n.Profile), n.Title, n.Body, micros(n.Start), micros(n.End), n.CreatedBy, micros(n.CreatedAt))
	if err != nil {
		return fmt.Errorf("put news %s: %w", n.ID, err)
	}
	return nil
}

// DeleteNews removes a message.
func (s *Store) DeleteNews(ctx context.Context, id string) error {
	res, err := s.exec(ctx, `DELETE FROM portal_news WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete news %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete news %s: %w", id, directory.ErrNotFound)
	}
	return nil
}

// NewsList lists the messages ending after since, of a structure and of
// all schools ("" lists every structure's).
func (s *Store) NewsList(ctx context.Context, structureID string, since time.Time) ([]directory.News, error) {
	rows, err := s.query(ctx, `SELECT `+newsCols+` FROM portal_news WHERE end_at > $1
		AND ($2 = '' OR structure_id = '' OR structure_id = $2) ORDER BY start_at, id`, micros(since), structureID)
	if err != nil {
		return nil, fmt.Errorf("news of structure %q: %w", structureID, err)
	}
	out, err := collect(rows, scanNews)
	if err != nil {
		return nil, fmt.Errorf("news of structure %q: %w", structureID, err)
	}
	return out, nil
}

func scanNews(r interface{ Scan(...any) error }) (directory.News, error) {
	var n directory.News
	var start, end, created int64
	var profile string
	err := r.Scan(&n.ID, &n.StructureID, &profile, &n.Title, &n.Body, &start, &end, &n.CreatedBy, &created)
	n.Profile, n.Start, n.End, n.CreatedAt = directory.Profile(profile), fromMicros(start), fromMicros(end), fromMicros(created)
	return n, err
}

const brandingCols = `uai, logo_url, banner_url, banner, primary_color, accent_color, ink_color, updated_by, updated_at`

func scanBranding(r interface{ Scan(...any) error }) (directory.Branding, error) {
	var b directory.Branding
	var updated int64
	err := r.Scan(&b.UAI, &b.LogoURL, &b.BannerURL, &b.Banner, &b.Primary, &b.Accent, &b.Ink, &b.UpdatedBy, &updated)
	b.UpdatedAt = fromMicros(updated)
	return b, err
}

// Branding returns a UAI's branding.
func (s *Store) Branding(ctx context.Context, uai string) (directory.Branding, error) {
	var b directory.Branding
	err := s.row(ctx, false, `SELECT `+brandingCols+` FROM portal_branding WHERE uai = $1`, []any{uai}, func(r scanner) error {
		var err error
		b, err = scanBranding(r)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return b, fmt.Errorf("branding of %q: %w", uai, directory.ErrNotFound)
	}
	if err != nil {
		return b, fmt.Errorf("branding of %q: %w", uai, err)
	}
	return b, nil
}

// PutBranding inserts or replaces a UAI's branding.
func (s *Store) PutBranding(ctx context.Context, b directory.Branding) error {
	_, err := s.exec(ctx, `INSERT INTO portal_branding (uai, logo_url, banner_url, banner, primary_color, accent_color, ink_color, updated_by, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (uai) DO UPDATE SET logo_url = excluded.logo_url,
		banner_url = excluded.banner_url, banner = excluded.banner, primary_color = excluded.primary_color,
		accent_color = excluded.accent_color, ink_color = excluded.ink_color, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
		b.UAI, b.LogoURL, b.BannerURL, b.Banner, b.Primary, b.Accent, b.Ink, b.UpdatedBy, micros(b.UpdatedAt))
	if err != nil {
		return fmt.Errorf("put branding of %q: %w", b.UAI, err)
	}
	return nil
}
