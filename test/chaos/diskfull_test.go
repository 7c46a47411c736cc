package chaos

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/enthub/enthub/test/peer"
)

// smallDisk mounts a tmpfs of size bytes on dir (root only), unmounted when
// the test ends. It returns false when mounting is not permitted.
func smallDisk(t testing.TB, dir string, size string) bool {
	t.Helper()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0755"); err != nil {
		t.Logf("cannot mount a tmpfs on %s (%v)", dir, err)
		return false
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	return true
}

// copyUntilFull copies the files of src into dst, smallest first, until the
// disk is full: the last one is left truncated, as an upload cut by ENOSPC.
// It returns the name of the truncated file.
func copyUntilFull(t testing.TB, src, dst string) string {
	t.Helper()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	size := func(e os.DirEntry) int64 { fi, _ := e.Info(); return fi.Size() }
	sort.Slice(entries, func(i, j int) bool { return size(entries[i]) < size(entries[j]) })
	for _, e := range entries {
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, e.Name()))
		if err != nil {
			in.Close()
			t.Fatal(err)
		}
		_, err = io.Copy(out, in)
		in.Close()
		out.Close()
		if errors.Is(err, syscall.ENOSPC) {
			return e.Name()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Fatalf("the delivery fitted on the small disk")
	return ""
}

// The inbox's disk fills up during an upload: the truncated delivery is
// refused and changes nothing, the refusal is logged even though its report
// cannot be written, enthub keeps serving logins, and once space is freed
// the next delivery is imported.
func TestInboxDiskFull(t *testing.T) {
	db := peer.Postgres(t)
	migrate(t, db)
	users := seedGuests(t, db, 2)
	work := t.TempDir()
	day1, day2, day3 := filepath.Join(work, "day1"), filepath.Join(work, "day2"), filepath.Join(work, "day3")
	generate(t, day1, 40, 1)
	generate(t, day2, 300, 2) // about 1.5 MB
	generate(t, day3, 40, 3)
	importCLI(t, db, day1)
	before := dump(t, db)

	inbox := filepath.Join(work, "inbox")
	if err := os.MkdirAll(inbox, 0o755); err != nil {
		t.Fatal(err)
	}
	peer.Need(t, "a tmpfs mount for the inbox", smallDisk(t, inbox, "1m"), "mount(2) refused (not root, or no CAP_SYS_ADMIN)")
	if err := os.Mkdir(filepath.Join(inbox, "day2"), 0o755); err != nil {
		t.Fatal(err)
	}
	truncated := copyUntilFull(t, day2, filepath.Join(inbox, "day2"))
	// The uploader's marker, written although the upload failed.
	if err := os.WriteFile(filepath.Join(inbox, "day2.done"), nil, 0o644); err != nil {
		t.Fatal(err)
	}

	app := newCASApp(t)
	e := startEnthub(t, "enthub", append(inboxEnv(db, inbox), "ENTHUB_SSO_SERVICES_FILE="+servicesFile(t, app))...)
	handled := waitFor(30*time.Second, func() bool {
		l := e.log()
		return strings.Contains(l, "delivery refused") || strings.Contains(l, "aaf inbox: done")
	})
	if handled < 0 {
		t.Fatalf("the truncated delivery was neither refused nor imported\n%s", e.proc.Tail(30))
	}
	log := e.log()
	if !strings.Contains(log, "delivery refused") {
		t.Fatalf("a delivery truncated by a full disk was not refused\n%s", e.proc.Tail(30))
	}
	if after := dump(t, db); after != before {
		t.Fatal("the truncated delivery changed the directory")
	}
	reportLost := strings.Contains(log, "no space left on device")
	if _, err := casLogin(browser(10*time.Second), one(e.base), localPassword, app.URL, users[0], guestPassword); err != nil {
		t.Fatalf("login with the inbox's disk full: %v", err)
	}

	// Space freed: the next delivery goes in.
	for _, d := range []string{"day2", "refused", "processed"} {
		_ = os.RemoveAll(filepath.Join(inbox, d))
	}
	if err := os.CopyFS(filepath.Join(inbox, "day3"), os.DirFS(day3)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(inbox, "day3.done"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if waitFor(30*time.Second, func() bool { return strings.Join(reports(t, inbox, "processed"), ",") == "applied" }) < 0 {
		t.Fatalf("the delivery after the space was freed was not applied\n%s", e.proc.Tail(30))
	}
	figure(t, "inbox on a full 1 MB tmpfs: delivery cut in %s refused within %v, directory unchanged, logins served; report written: %v; next delivery applied after space was freed",
		truncated, handled.Round(time.Millisecond), !reportLost)
}
