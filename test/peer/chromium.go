package peer

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Browser runs Debian's headless Chromium, one process per call, each with a new profile.
type Browser struct {
	Path    string        // the chromium binary ($ENTHUB_CHROMIUM, else chromium on PATH)
	Timeout time.Duration // per call; default 60 s
	// WindowSize is "W,H" for screenshots; default "1280,900". Use "390,844" for a phone.
	WindowSize string

	t testing.TB
}

// Chromium returns a headless Chromium, or stops the test through Need.
func Chromium(t testing.TB) *Browser {
	t.Helper()
	path := os.Getenv("ENTHUB_CHROMIUM")
	if path == "" {
		path = RequireBinary(t, "chromium")
	}
	return &Browser{Path: path, Timeout: 60 * time.Second, WindowSize: "1280,900", t: t}
}

// Args returns the flags every call uses: headless, no sandbox (we run as root), and no
// background networking (this machine's network is closed), with a fresh --user-data-dir.
func (b *Browser) Args(extra ...string) []string {
	b.t.Helper()
	return append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--lang=fr-FR",
		"--user-data-dir=" + b.t.TempDir(),
	}, extra...)
}

// Run runs Chromium with Args(extra...) and returns its stdout; a failure or time-out fails the
// test with Chromium's stderr.
func (b *Browser) Run(extra ...string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), b.Timeout)
	defer cancel()
	args := b.Args(extra...)
	cmd := exec.CommandContext(ctx, b.Path, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("timed out after %s", b.Timeout)
		}
		b.t.Fatalf("chromium %s: %v\n%s", strings.Join(extra, " "), err, lastLines(stderr.String(), 30))
	}
	return stdout.String()
}

// DumpDOM loads url and returns the serialised DOM after the load event (scripts have run).
func (b *Browser) DumpDOM(url string) string {
	b.t.Helper()
	return b.Run("--dump-dom", url)
}

// Screenshot loads url and writes a PNG of the window (WindowSize) to pngPath.
func (b *Browser) Screenshot(url, pngPath string) {
	b.t.Helper()
	b.Run("--screenshot="+pngPath, "--window-size="+b.WindowSize, url)
	if fi, err := os.Stat(pngPath); err != nil || fi.Size() == 0 {
		b.t.Fatalf("chromium screenshot of %s: no PNG at %s (%v)", url, pngPath, err)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
