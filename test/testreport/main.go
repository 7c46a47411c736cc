// Command testreport reads `go test -json` on stdin and prints what a plain `go test` prints
// (build errors, package lines, and the whole output of failing tests only; of a passing test,
// only the lines it logged with the figuresMark, such as the load test's measurements), then the skipped
// tests with their reasons, then one closing line: "tests: N passed, N failed, N skipped".
// test/run.sh pipes go test through it; the exit status of the run stays go test's own.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

func main() {
	if err := report(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(1)
	}
}

// event is one line of `go test -json` (cmd/test2json), including build events.
type event struct {
	Action     string
	Package    string
	ImportPath string // build-output, build-fail
	Test       string
	Output     string
}

// figuresMark marks the lines of a passing test's output that the report shows: figures a test
// measures and prints without asserting them (t.Logf("[figures] …")).
const figuresMark = "[figures] "

type testKey struct{ pkg, test string }

type reporter struct {
	out     *bufio.Writer
	buf     map[testKey][]string // output of tests still running
	open    map[string]map[string]bool
	skipped []string
	passed  int
	failed  int
	// packages that failed without a failing test (build error, panic, time-out)
	pkgFailedAlone int
	pkgTestFailed  map[string]bool
}

func report(in io.Reader, out io.Writer) error {
	r := &reporter{out: bufio.NewWriter(out), buf: map[testKey][]string{},
		open: map[string]map[string]bool{}, pkgTestFailed: map[string]bool{}}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			// not JSON: go's own errors (e.g. a bad pattern) pass through
			r.out.Write(line)
			r.out.WriteByte('\n')
			continue
		}
		r.handle(e)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(r.skipped) > 0 {
		sort.Strings(r.skipped)
		fmt.Fprintf(r.out, "\nskipped tests (%d):\n", len(r.skipped))
		for _, s := range r.skipped {
			fmt.Fprintf(r.out, "  %s\n", s)
		}
	}
	fmt.Fprintf(r.out, "tests: %d passed, %d failed, %d skipped\n", r.passed, r.failed+r.pkgFailedAlone, len(r.skipped))
	return r.out.Flush()
}

func (r *reporter) handle(e event) {
	switch e.Action {
	case "build-output":
		r.out.WriteString(e.Output)
	case "build-fail":
		// the package's own "fail" event follows and counts it
	case "run":
		if r.open[e.Package] == nil {
			r.open[e.Package] = map[string]bool{}
		}
		r.open[e.Package][e.Test] = true
	case "output":
		if e.Test != "" {
			k := testKey{e.Package, e.Test}
			r.buf[k] = append(r.buf[k], e.Output)
			return
		}
		// package-level lines: a plain go test prints "ok", "FAIL", "?" lines and panics, not "PASS"
		if t := strings.TrimSpace(e.Output); t == "PASS" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "testing: warning: no tests to run") {
			return
		}
		r.out.WriteString(e.Output)
	case "pass", "fail", "skip":
		if e.Test == "" {
			r.endPackage(e)
			return
		}
		k := testKey{e.Package, e.Test}
		lines := r.buf[k]
		delete(r.buf, k)
		delete(r.open[e.Package], e.Test)
		switch e.Action {
		case "pass":
			r.passed++
			for _, l := range lines {
				if strings.Contains(l, figuresMark) {
					r.out.WriteString(l)
				}
			}
		case "fail":
			r.failed++
			r.pkgTestFailed[e.Package] = true
			r.print(lines)
		case "skip":
			r.skipped = append(r.skipped, fmt.Sprintf("%s %s: %s", short(e.Package), e.Test, skipReason(lines)))
		}
	}
}

// endPackage prints the output of tests that never ended (a panic or a time-out kills the
// binary in the middle of one) and counts a package that failed with no failing test.
func (r *reporter) endPackage(e event) {
	if e.Action != "fail" {
		return
	}
	var names []string
	for name := range r.open[e.Package] {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		k := testKey{e.Package, name}
		r.print(r.buf[k])
		delete(r.buf, k)
	}
	delete(r.open, e.Package)
	if !r.pkgTestFailed[e.Package] {
		r.pkgFailedAlone++
	}
}

func (r *reporter) print(lines []string) {
	for _, l := range lines {
		if t := strings.TrimSpace(l); strings.HasPrefix(t, "=== RUN") || strings.HasPrefix(t, "=== PAUSE") ||
			strings.HasPrefix(t, "=== CONT") || strings.HasPrefix(t, "=== NAME") {
			continue
		}
		r.out.WriteString(l)
	}
}

// skipReason is the last line a skipped test printed before its "--- SKIP" line.
func skipReason(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		t := strings.TrimSpace(lines[i])
		if t == "" || strings.HasPrefix(t, "--- SKIP") || strings.HasPrefix(t, "=== ") {
			continue
		}
		return t
	}
	return "(no reason given)"
}

func short(pkg string) string { return strings.TrimPrefix(pkg, "github.com/enthub/enthub/") }
