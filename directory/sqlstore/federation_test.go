package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/directory/storetest"
	"github.com/enthub/enthub/test/peer"
)

// runFederation runs the federation conformance suite on the database that
// url gives, opening a second handle on the same database where the suite
// plays a second instance.
func runFederation(t *testing.T, url func(t *testing.T) string) {
	urls := map[storetest.FederationStore]string{}
	storetest.RunFederation(t,
		func(t *testing.T) storetest.FederationStore {
			u := url(t)
			s := openURL(t, u)
			urls[s] = u
			return s
		},
		func(t *testing.T, s storetest.FederationStore) storetest.FederationStore { return openURL(t, urls[s]) })
}

func TestFederationConformanceSQLite(t *testing.T) {
	runFederation(t, func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "enthub.db") })
}

func TestFederationConformancePostgres(t *testing.T) {
	runFederation(t, func(t *testing.T) string { return peer.Postgres(t) })
}

func openURL(t *testing.T, url string) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), url, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
