package sqlstore_test

import (
	"path/filepath"
	"testing"

	"github.com/enthub/enthub/directory/storetest"
	"github.com/enthub/enthub/test/peer"
)

func TestGuestConformanceSQLite(t *testing.T) {
	storetest.RunGuests(t, func(t *testing.T) storetest.GuestStore {
		return openURL(t, "sqlite:"+filepath.Join(t.TempDir(), "enthub.db"))
	})
}

func TestGuestConformancePostgres(t *testing.T) {
	storetest.RunGuests(t, func(t *testing.T) storetest.GuestStore { return openURL(t, peer.Postgres(t)) })
}
