package peer

import (
	"fmt"
	"io"
	"testing"
)

// recorder is a testing.TB that records how Need stopped the test instead of stopping it.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }
func (r *recorder) Skipf(format string, args ...any)  { r.skip = fmt.Sprintf(format, args...) }

func TestNeedSkipsLocallyAndFailsUnderCI(t *testing.T) {
	defer func(w io.Writer) { noticeOut = w }(noticeOut)
	noticeOut = io.Discard
	for _, c := range []struct {
		ci, peers string
		wantFatal bool
	}{
		{"", "", false},
		{"false", "", false},
		{"0", "0", false},
		{"true", "", true},
		{"1", "", true},
		{"", "1", true},
	} {
		t.Setenv("CI", c.ci)
		t.Setenv("ENTHUB_TEST_PEERS", c.peers)
		r := &recorder{TB: t}
		Need(r, "frobnicator", false, "apt-get install frobnicator")
		if c.wantFatal && (r.fatal == "" || r.skip != "") || !c.wantFatal && (r.skip == "" || r.fatal != "") {
			t.Errorf("CI=%q ENTHUB_TEST_PEERS=%q: fatal %q, skip %q; want fatal=%v", c.ci, c.peers, r.fatal, r.skip, c.wantFatal)
		}
		r = &recorder{TB: t}
		Need(r, "frobnicator", true, "")
		if r.fatal != "" || r.skip != "" {
			t.Errorf("Need with ok=true stopped the test: %q %q", r.fatal, r.skip)
		}
	}
}
