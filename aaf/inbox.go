package aaf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/enthub/enthub/directory"
)

// Inbox watches the folder the rectorat drops deliveries in. A delivery (an
// archive, or a folder of XML files) is taken once it is complete: a
// checksum or marker file (.sha256, .md5, .done, .ok) sits beside it, or its
// size and modification time have not moved for Settle. It is imported, then
// moved to processed/ or refused/ with its JSON report beside it.
//
// Several instances may watch the same folder on shared storage: Lock, a
// store-level lock, lets one scan at a time, and the import's own lock lets
// one apply.
type Inbox struct {
	Dir     string
	Settle  time.Duration
	Poll    time.Duration
	Store   Store
	Options ImportOptions
	Logger  *slog.Logger
	Now     func() time.Time
	// OnResult is called after every import attempt (metrics, audit).
	OnResult func(path string, rep *ImportReport, err error)
	// Lock, when set, is taken around each scan; when another instance
	// holds it the scan is skipped. Without it, an instance whose check
	// overlapped another's import could read files moved away under it and
	// file a false refusal of a delivery that was applied.
	Lock func(ctx context.Context) (release func(), ok bool, err error)

	seen map[string]snapshot
}

type snapshot struct {
	size   int64
	mtime  time.Time
	stable time.Time // when this size/mtime was first observed
}

// Run scans until ctx is cancelled.
func (in *Inbox) Run(ctx context.Context) error {
	if in.Poll <= 0 {
		in.Poll = 10 * time.Second
	}
	t := time.NewTicker(in.Poll)
	defer t.Stop()
	for {
		if _, err := in.Scan(ctx); err != nil && ctx.Err() == nil {
			in.log().Error("aaf inbox scan failed", "dir", in.Dir, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (in *Inbox) log() *slog.Logger {
	if in.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return in.Logger
}

func (in *Inbox) now() time.Time {
	if in.Now == nil {
		return time.Now()
	}
	return in.Now()
}

// markerSuffixes say a delivery is complete without waiting for it to settle.
var markerSuffixes = []string{".sha256", ".md5", ".done", ".ok"}

// Scan takes every complete delivery once, oldest name first, and returns
// how many it handled.
func (in *Inbox) Scan(ctx context.Context) (int, error) {
	if in.seen == nil {
		in.seen = map[string]snapshot{}
	}
	if in.Lock != nil {
		release, ok, err := in.Lock(ctx)
		if err != nil {
			return 0, fmt.Errorf("aaf inbox %s: %w", in.Dir, err)
		}
		if !ok {
			in.log().Debug("aaf inbox: another instance is scanning")
			return 0, nil
		}
		defer release()
	}
	entries, err := os.ReadDir(in.Dir)
	if err != nil {
		return 0, fmt.Errorf("aaf inbox %s: %w", in.Dir, err)
	}
	names := map[string]bool{}
	for _, e := range entries {
		names[e.Name()] = true
	}
	var ready []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || name == "processed" || name == "refused" || isMarker(name) ||
			strings.HasSuffix(name, ".part") || strings.HasSuffix(name, ".tmp") {
			continue
		}
		if !e.IsDir() && !isArchive(name) && !strings.HasSuffix(strings.ToLower(name), ".xml") {
			continue
		}
		path := filepath.Join(in.Dir, name)
		if hasMarker(names, name) || in.settled(path) {
			ready = append(ready, name)
		}
	}
	sort.Strings(ready)
	// Loose XML files dropped straight in the inbox form one delivery.
	var loose []string
	n := 0
	for _, name := range ready {
		if strings.HasSuffix(strings.ToLower(name), ".xml") {
			loose = append(loose, name)
			continue
		}
		if err := in.take(ctx, []string{name}); err != nil {
			return n, err
		}
		n++
	}
	if len(loose) > 0 {
		if err := in.take(ctx, loose); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// settled reports whether path's size and modification time have been
// still for Settle (folders: the sum over their files).
func (in *Inbox) settled(path string) bool {
	size, mtime, err := footprint(path)
	if err != nil {
		return false
	}
	now := in.now()
	prev, ok := in.seen[path]
	if !ok || prev.size != size || !prev.mtime.Equal(mtime) {
		in.seen[path] = snapshot{size: size, mtime: mtime, stable: now}
		return false
	}
	return now.Sub(prev.stable) >= in.Settle
}

func footprint(path string) (int64, time.Time, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, time.Time{}, err
	}
	if !fi.IsDir() {
		return fi.Size(), fi.ModTime(), nil
	}
	var size int64
	latest := fi.ModTime()
	err = filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		size += info.Size()
		if info.ModTime().After(latest) {
			latest = info.ModTime()
		}
		return nil
	})
	return size, latest, err
}

// take imports one delivery and files it with its report.
func (in *Inbox) take(ctx context.Context, names []string) error {
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = filepath.Join(in.Dir, n)
	}
	log := in.log().With("delivery", strings.Join(names, ","))
	log.Info("aaf inbox: importing")
	rep, err := Import(ctx, in.Store, paths, in.Options)
	if in.OnResult != nil {
		in.OnResult(paths[0], rep, err)
	}
	if errors.Is(err, directory.ErrImportRunning) {
		log.Info("aaf inbox: another instance is importing; will retry")
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	dest := "processed"
	switch {
	case errors.Is(err, ErrRefused) || errors.Is(err, ErrChecksumMismatch) || errors.Is(err, ErrNoFiles):
		dest = "refused"
		log.Error("aaf inbox: delivery refused", "reason", reasonOf(rep, err))
	case err != nil:
		// A failure that is not the delivery's fault (store down): leave it
		// in place to be retried at the next scan.
		log.Error("aaf inbox: import failed; will retry", "err", err)
		return nil
	default:
		log.Info("aaf inbox: done", "outcome", rep.Outcome)
	}
	stamp := in.now().UTC().Format("20060102T150405Z")
	target := filepath.Join(in.Dir, dest)
	if err := os.MkdirAll(target, 0o750); err != nil {
		return fmt.Errorf("aaf inbox: %w", err)
	}
	for _, n := range names {
		for _, src := range append([]string{n}, markersOf(n)...) {
			from := filepath.Join(in.Dir, src)
			if _, err := os.Stat(from); err != nil {
				continue
			}
			if err := os.Rename(from, filepath.Join(target, stamp+"_"+src)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("aaf inbox: file %s: %w", src, err)
			}
		}
		delete(in.seen, filepath.Join(in.Dir, n))
	}
	if rep != nil {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(filepath.Join(target, stamp+"_"+names[0]+".report.json"), b, 0o640); err != nil {
			return fmt.Errorf("aaf inbox: report: %w", err)
		}
	}
	return nil
}

func reasonOf(rep *ImportReport, err error) string {
	if rep != nil && rep.Reason != "" {
		return rep.Reason
	}
	return err.Error()
}

func isArchive(name string) bool {
	l := strings.ToLower(name)
	return strings.HasSuffix(l, ".zip") || strings.HasSuffix(l, ".tgz") || strings.HasSuffix(l, ".tar.gz")
}

func isMarker(name string) bool {
	for _, s := range markerSuffixes {
		if strings.HasSuffix(strings.ToLower(name), s) {
			return true
		}
	}
	return false
}

func hasMarker(names map[string]bool, name string) bool {
	for _, m := range markersOf(name) {
		if names[m] {
			return true
		}
	}
	return false
}

// markersOf lists the marker names a delivery may have: X.zip.sha256 and
// X.sha256 alike.
func markersOf(name string) []string {
	stem := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, ".zip"), ".tgz"), ".tar.gz")
	var out []string
	for _, s := range markerSuffixes {
		out = append(out, name+s)
		if stem != name {
			out = append(out, stem+s)
		}
	}
	return out
}
