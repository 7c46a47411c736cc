package federation_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/federation"
)

type fake struct{ id string }

func (f fake) ID() string { return f.id }
func (fake) Start(context.Context, http.ResponseWriter, *http.Request, string) error {
	return nil
}
func (fake) Callback(context.Context, *http.Request) (federation.Identity, string, error) {
	return federation.Identity{}, "", nil
}

func TestRegistryRefusesDuplicateIDs(t *testing.T) {
	if _, err := federation.NewRegistry(fake{"educonnect"}, fake{"educonnect"}); err == nil || !strings.Contains(err.Error(), "educonnect") {
		t.Errorf("duplicate id = %v", err)
	}
	r, err := federation.NewRegistry(fake{"educonnect"}, fake{"educonnect-preprod"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Get("educonnect-preprod"); !ok || len(r.IDs()) != 2 {
		t.Errorf("registry = %v", r.IDs())
	}
}

func TestStateOfAnotherConnectorIsRefused(t *testing.T) {
	st, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "e.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := federation.States{Store: st, Now: time.Now, Rand: rand.Reader}
	id, err := s.Begin(context.Background(), "agents", map[string]string{"next": "/"})
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]string
	if err := s.Take(context.Background(), "educonnect", id, &v); federation.ReasonOf(err) != federation.ReasonState {
		t.Errorf("state of another connector = %v", err)
	}
}
