package gar_test

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/gar"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/test/peer"
	"golang.org/x/crypto/ssh"
)

func md5File(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := md5.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}

func tarNames(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
}

// The export lands on a real OpenSSH server (internal-sftp, key
// authentication, host key pinned) with an .md5 that matches it.
func TestDeliverToOpenSSH(t *testing.T) {
	srv := peer.SSHD(t)
	s := openStore(t)
	importGenerated(t, s, 400, 2, 5)
	p := gar.Project{IDEnt: "ENT-TEST", Schools: uais(t, s), Secret: testSecret}
	ctx := context.Background()

	sftp, err := gar.NewSFTP(srv.Addr, srv.User, srv.ClientKeyFile, srv.KnownHostsFile, srv.Dir)
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	res, err := gar.Run(ctx, s, gar.RunOptions{Export: gar.ExportOptions{Project: p, Out: work, Now: exportTime},
		Deliver: sftp, Journal: s})
	if err != nil {
		t.Fatalf("delivery: %v\n%s", err, srv.Tail(30))
	}
	name := "ENT-TEST_GAR-ENT_Complet_20240917_030405.tar.gz"
	arrived := filepath.Join(srv.Dir, name)
	sumLine, err := os.ReadFile(arrived + ".md5")
	if err != nil {
		t.Fatalf("the .md5 did not arrive: %v", err)
	}
	if got := md5File(t, arrived); string(sumLine) != got+"  "+name+"\n" || got != res.MD5 {
		t.Fatalf("arrived archive MD5 %s; its .md5 says %q; packed %s", got, sumLine, res.MD5)
	}
	var want []string
	for _, f := range res.Export.Files {
		want = append(want, filepath.Base(f))
	}
	if got := tarNames(t, arrived); !slices.Equal(got, want) {
		t.Fatalf("archive holds %v, export wrote %v", got, want)
	}
	if left, _ := filepath.Glob(filepath.Join(srv.Dir, ".*.part")); len(left) != 0 {
		t.Fatalf("temporary files left on the server: %v", left)
	}
	j, err := s.GARDeliveries(ctx, 10)
	if err != nil || len(j) != 1 {
		t.Fatalf("journal %v, %v", j, err)
	}
	if d := j[0]; d.Outcome != gar.OutcomeDelivered || d.Archive != name || d.MD5 != res.MD5 || d.Attempts != 1 ||
		d.Target != srv.User+"@"+srv.Addr+":"+srv.Dir || d.Files != len(want) || d.Elements == 0 {
		t.Fatalf("journal entry %+v", d)
	}
}

// A server whose host key is not the pinned one gets nothing: the delivery
// stops at once (no retry), says why, and the journal keeps it.
func TestDeliverRefusesUnpinnedHostKey(t *testing.T) {
	srv := peer.SSHD(t)
	s := openStore(t)
	importGenerated(t, s, 100, 1, 5)
	p := gar.Project{IDEnt: "ENT-TEST", Schools: uais(t, s), Secret: testSecret}
	sftp, err := gar.NewSFTP(srv.Addr, srv.User, srv.ClientKeyFile, srv.WriteKnownHosts(t, peer.NewKey(t)), srv.Dir)
	if err != nil {
		t.Fatal(err)
	}
	sftp.Attempts = 3
	sftp.Sleep = func(context.Context, time.Duration) error { t.Error("a refused host key was retried"); return nil }
	_, err = gar.Run(context.Background(), s, gar.RunOptions{Export: gar.ExportOptions{Project: p, Out: t.TempDir(), Now: exportTime},
		Deliver: sftp, Journal: s})
	if !errors.Is(err, gar.ErrHostKey) || !strings.Contains(err.Error(), "known_hosts does not pin") ||
		!strings.Contains(err.Error(), "SHA256:") {
		t.Fatalf("err = %v", err)
	}
	if left, _ := os.ReadDir(srv.Dir); len(left) != 0 {
		t.Fatalf("files reached the server: %v", left)
	}
	j, _ := s.GARDeliveries(context.Background(), 10)
	if len(j) != 1 || j[0].Outcome != gar.OutcomeRefused || !strings.Contains(j[0].Reason, "does not pin") || j[0].Attempts != 1 {
		t.Fatalf("journal %+v", j)
	}
}

// An unreachable server is tried Attempts times, the wait doubling, then
// journalled as failed.
func TestDeliverRetriesWithBackoff(t *testing.T) {
	s := openStore(t)
	importGenerated(t, s, 50, 1, 5)
	p := gar.Project{IDEnt: "ENT-TEST", Schools: uais(t, s), Secret: testSecret}
	// A port nobody listens on.
	sftp := &gar.SFTP{Address: "127.0.0.1:" + strconv.Itoa(peer.FreePort(t)), User: "gar", Dir: "/in", Attempts: 3,
		Backoff: time.Second, HostKey: ssh.InsecureIgnoreHostKey()}
	var waits []time.Duration
	sftp.Sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	_, err := gar.Run(context.Background(), s, gar.RunOptions{Export: gar.ExportOptions{Project: p, Out: t.TempDir(), Now: exportTime},
		Deliver: sftp, Journal: s})
	if err == nil || !slices.Equal(waits, []time.Duration{time.Second, 2 * time.Second}) {
		t.Fatalf("err %v, waits %v", err, waits)
	}
	j, _ := s.GARDeliveries(context.Background(), 10)
	if len(j) != 1 || j[0].Outcome != gar.OutcomeFailed || j[0].Attempts != 3 || !strings.Contains(j[0].Reason, "after 3 attempt") {
		t.Fatalf("journal %+v", j)
	}
}

// The journal lives in PostgreSQL as in SQLite.
func TestJournalPostgres(t *testing.T) {
	s, err := sqlstore.Open(context.Background(), peer.Postgres(t), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	importGenerated(t, s, 50, 1, 5)
	p := gar.Project{IDEnt: "ENT-TEST", Schools: uais(t, s), Secret: testSecret}
	ctx := context.Background()
	for i := range 2 {
		now := exportTime.Add(time.Duration(i) * time.Hour)
		res, err := gar.Run(ctx, s, gar.RunOptions{Export: gar.ExportOptions{Project: p, Out: t.TempDir(), Now: now},
			Journal: s, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(res.Archive + ".md5"); err != nil {
			t.Fatal(err)
		}
	}
	j, err := s.GARDeliveries(ctx, 10)
	if err != nil || len(j) != 2 || j[0].Outcome != gar.OutcomePacked || !j[0].StartedAt.After(j[1].StartedAt) || j[0].Target != "" {
		t.Fatalf("journal %+v, %v", j, err)
	}
	var _ directory.GARJournal = s
}
