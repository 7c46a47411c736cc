package sqlstore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/enthub/enthub/directory"
)

// TestTxWritesPreparedOnceCommitted: a login's link write (and the
// generation bump) run plain the first time, are prepared once that
// transaction has ended, and from then on run through the cache inside
// transactions, with the same effect.
func TestTxWritesPreparedOnceCommitted(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "s.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var accountID string
	err = s.Update(ctx, func(dt directory.Tx) error {
		p := directory.Person{AAFID: "1", Source: directory.SourceAAF, LastName: "Martin"}
		if err := dt.PutPerson(ctx, &p); err != nil {
			return err
		}
		a := directory.Account{PersonID: p.ID, Login: "lea", Status: directory.StatusActive, Source: directory.SourceAAF}
		if err := dt.PutAccount(ctx, &a); err != nil {
			return err
		}
		accountID = a.ID
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cached := func() int {
		s.sso.mu.RLock()
		defer s.sso.mu.RUnlock()
		return len(s.sso.stmts)
	}
	var counts []int
	for _, subject := range []string{"s1", "s2", "s3"} {
		var plain int
		err := s.Update(ctx, func(dt directory.Tx) error {
			err := dt.PutExternalLink(ctx, directory.ExternalLink{Issuer: "idp", Subject: subject, AccountID: accountID})
			plain = len(dt.(*tx).unprepared)
			return err
		})
		if err != nil {
			t.Fatalf("link %s: %v", subject, err)
		}
		counts = append(counts, plain, cached())
	}
	// The generation bump was cached by the first Update (the person); the
	// link write runs plain once, then from the cache.
	if counts[0] != 1 || counts[2] != 0 || counts[4] != 0 || counts[3] != counts[1] || counts[5] != counts[1] {
		t.Errorf("(plain queries, cached statements) per write = %v, want (1, n) then (0, n)", counts)
	}
	for _, subject := range []string{"s1", "s2", "s3"} {
		if l, err := s.ExternalLink(ctx, "idp", subject); err != nil || l.AccountID != accountID {
			t.Errorf("link %s read back = %+v, %v", subject, l, err)
		}
	}
}
