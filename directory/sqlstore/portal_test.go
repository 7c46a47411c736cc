package sqlstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/test/peer"
)

func TestPortalContentSQLite(t *testing.T) {
	testPortalContent(t, openURL(t, "sqlite:"+filepath.Join(t.TempDir(), "enthub.db")))
}

func TestPortalContentPostgres(t *testing.T) { testPortalContent(t, openURL(t, peer.Postgres(t))) }

func testPortalContent(t *testing.T, s directory.PortalStore) {
	ctx := context.Background()
	day := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	all := &directory.News{Title: "Rentrée", Start: day, End: day.AddDate(0, 0, 7), CreatedAt: day}
	mine := &directory.News{StructureID: "s1", Profile: directory.ProfileEleve, Title: "Sortie", Body: "Jeudi",
		Start: day.AddDate(0, 0, 1), End: day.AddDate(0, 0, 2), CreatedAt: day}
	other := &directory.News{StructureID: "s2", Title: "Autre", Start: day, End: day.AddDate(0, 0, 3), CreatedAt: day}
	for _, n := range []*directory.News{all, mine, other} {
		if err := s.PutNews(ctx, n); err != nil || n.ID == "" {
			t.Fatalf("put %s: %v (id %q)", n.Title, err, n.ID)
		}
	}
	got, err := s.NewsList(ctx, "s1", day)
	if err != nil || len(got) != 2 || got[0].ID != all.ID || got[1].ID != mine.ID {
		t.Fatalf("s1 news = %+v, %v", got, err)
	}
	if g := got[1]; g.Profile != directory.ProfileEleve || g.Body != "Jeudi" || !g.Start.Equal(mine.Start) || !g.End.Equal(mine.End) {
		t.Errorf("read back %+v", g)
	}
	if got, _ := s.NewsList(ctx, "", day.AddDate(0, 0, 2)); len(got) != 2 { // mine has ended
		t.Errorf("all news after day 2 = %+v", got)
	}
	mine.Title = "Sortie annulée"
	if err := s.PutNews(ctx, mine); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteNews(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteNews(ctx, other.ID); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if got, _ := s.NewsList(ctx, "", day); len(got) != 2 || got[1].Title != "Sortie annulée" {
		t.Errorf("after edit and delete: %+v", got)
	}

	if _, err := s.Branding(ctx, "0130001A"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("missing branding: %v", err)
	}
	b := directory.Branding{UAI: "0130001A", LogoURL: "/static/logo.svg", Banner: "Bienvenue", Primary: "#00466e", UpdatedAt: day}
	if err := s.PutBranding(ctx, b); err != nil {
		t.Fatal(err)
	}
	b.Accent = "#b4005a"
	if err := s.PutBranding(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Branding(ctx, "0130001A"); err != nil || got.Accent != "#b4005a" || got.LogoURL != b.LogoURL || !got.UpdatedAt.Equal(day) {
		t.Errorf("branding = %+v, %v", got, err)
	}
}
