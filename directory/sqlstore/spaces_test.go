package sqlstore_test

import (
	"path/filepath"
	"testing"

	"github.com/enthub/enthub/directory/storetest"
	"github.com/enthub/enthub/test/peer"
)

func TestSpaceConformanceSQLite(t *testing.T) {
	storetest.RunSpaces(t, func(t *testing.T) storetest.SpaceStore {
		return openURL(t, "sqlite:"+filepath.Join(t.TempDir(), "enthub.db"))
	})
}

func TestSpaceConformancePostgres(t *testing.T) {
	storetest.RunSpaces(t, func(t *testing.T) storetest.SpaceStore { return openURL(t, peer.Postgres(t)) })
}
