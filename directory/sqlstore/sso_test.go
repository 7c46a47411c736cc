package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/idp/sso"
	"github.com/enthub/enthub/idp/sso/ssotest"
	"github.com/enthub/enthub/test/peer"
)

func fixedClock() time.Time { return ssotest.T0 }

func TestSSOStoreSQLite(t *testing.T) {
	ssotest.Run(t, func(t *testing.T) sso.Store {
		s, err := sqlstore.Open(context.Background(), "sqlite:"+t.TempDir()+"/db", sqlstore.Options{Now: fixedClock})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestSSOStorePostgres(t *testing.T) {
	ssotest.Run(t, func(t *testing.T) sso.Store {
		s, err := sqlstore.Open(context.Background(), peer.Postgres(t), sqlstore.Options{Now: fixedClock})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
