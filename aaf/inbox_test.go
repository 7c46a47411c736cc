package aaf

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestInboxTakesCompleteDeliveriesAndFilesThem(t *testing.T) {
	s := openStores(t)["sqlite"]
	ctx := context.Background()
	inbox := t.TempDir()
	// A zip with its checksum: complete at once.
	good := filepath.Join(inbox, "ENT2D.20240916.Complet.zip")
	if _, err := Generate(ctx, GenerateOptions{Out: filepath.Join(t.TempDir(), "g"), Students: 100, Seed: 5, ZipPath: good}); err != nil {
		t.Fatal(err)
	}
	// A zip still being copied (no marker): must settle first.
	slow := filepath.Join(inbox, "ENT2D.20240917.Complet.zip")
	if _, err := Generate(ctx, GenerateOptions{Out: filepath.Join(t.TempDir(), "h"), Students: 100, Seed: 5, ZipPath: slow,
		Date: time.Date(2024, 9, 17, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	os.Remove(slow + ".sha256")
	// A zip whose checksum file disagrees: refused.
	bad := filepath.Join(inbox, "ENT2D.20240918.Complet.zip")
	b, _ := os.ReadFile(good)
	os.WriteFile(bad, b, 0o600)
	os.WriteFile(bad+".sha256", []byte(strings.Repeat("0", 64)+"  ENT2D.20240918.Complet.zip\n"), 0o600)

	now := time.Date(2024, 9, 18, 6, 0, 0, 0, time.UTC)
	var outcomes []string
	in := &Inbox{Dir: inbox, Settle: time.Minute, Store: s, Now: func() time.Time { return now },
		OnResult: func(p string, rep *ImportReport, err error) {
			outcomes = append(outcomes, filepath.Base(p)+"="+rep.Outcome)
		}}
	n, err := in.Scan(ctx)
	if err != nil || n != 2 {
		t.Fatalf("first scan took %d (%v), want the good and the bad zip, not the unsettled one", n, err)
	}
	if _, err := os.Stat(slow); err != nil {
		t.Errorf("unsettled delivery moved: %v", err)
	}
	processed, _ := filepath.Glob(filepath.Join(inbox, "processed", "*20240916*"))
	refused, _ := filepath.Glob(filepath.Join(inbox, "refused", "*20240918*"))
	if len(processed) != 3 || len(refused) != 3 { // archive, checksum, report
		t.Errorf("processed %v, refused %v; want each delivery with its checksum and report", processed, refused)
	}
	if rep, _ := os.ReadFile(filepath.Join(inbox, "refused", "20240918T060000Z_ENT2D.20240918.Complet.zip.report.json")); !strings.Contains(string(rep), "checksum mismatch") {
		t.Errorf("refusal report lacks the reason: %.200s", rep)
	}
	// Still within the settle time: not taken; after it: taken.
	now = now.Add(30 * time.Second)
	if n, _ := in.Scan(ctx); n != 0 {
		t.Errorf("taken before settling")
	}
	now = now.Add(time.Minute)
	if n, _ := in.Scan(ctx); n != 1 {
		t.Errorf("settled delivery not taken")
	}
	if len(outcomes) != 3 || outcomes[0] != "ENT2D.20240916.Complet.zip=applied" || outcomes[1] != "ENT2D.20240918.Complet.zip=refused" {
		t.Errorf("outcomes = %v", outcomes)
	}
}

// With another instance holding the inbox lock a scan touches nothing; once
// it is free the scan takes the delivery, holding the lock throughout.
func TestInboxScansOnlyUnderItsLock(t *testing.T) {
	s := openStores(t)["sqlite"]
	ctx := context.Background()
	inbox := t.TempDir()
	zip := filepath.Join(inbox, "ENT2D.20240916.Complet.zip")
	if _, err := Generate(ctx, GenerateOptions{Out: filepath.Join(t.TempDir(), "g"), Students: 20, Seed: 5, ZipPath: zip}); err != nil {
		t.Fatal(err)
	}
	held, taken, released := true, 0, 0
	var importedUnderLock bool
	in := &Inbox{Dir: inbox, Settle: time.Minute, Store: s,
		Lock: func(context.Context) (func(), bool, error) {
			if held {
				return nil, false, nil
			}
			taken++
			return func() { released++ }, true, nil
		},
		OnResult: func(string, *ImportReport, error) { importedUnderLock = taken == 1 && released == 0 }}
	if n, err := in.Scan(ctx); n != 0 || err != nil {
		t.Fatalf("scan with the lock held elsewhere took %d (%v)", n, err)
	}
	if _, err := os.Stat(zip); err != nil {
		t.Fatalf("the delivery was moved while another instance held the lock: %v", err)
	}
	held = false
	if n, err := in.Scan(ctx); n != 1 || err != nil {
		t.Fatalf("scan with the lock free took %d (%v)", n, err)
	}
	if !importedUnderLock || taken != 1 || released != 1 {
		t.Errorf("lock taken %d, released %d, import under it: %v", taken, released, importedUnderLock)
	}
}
