package load

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat:
// 100 on every Linux architecture Go runs on (the kernel exports that value
// whatever its internal HZ).
const clockTicks = 100

// ProcSample is one reading of a process's counters.
type ProcSample struct {
	At    time.Duration // since the sampler started
	CPU   time.Duration // user+system time used so far
	RSSKB int64
}

// goHeapMB reads go_memstats_heap_inuse_bytes from a Prometheus text
// endpoint; 0 when there is none.
func goHeapMB(ctx context.Context, metricsURL string) float64 {
	return goMetricMB(ctx, metricsURL, "go_memstats_heap_inuse_bytes")
}

// goMetricMB reads the metric name (bytes, no labels) from a Prometheus
// text endpoint, in MB; 0 when there is none.
func goMetricMB(ctx context.Context, metricsURL, name string) float64 {
	if metricsURL == "" {
		return 0
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var v float64
	_ = getInto(ctx, http.DefaultClient, metricsURL, func(b []byte) error {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, name+" "); ok {
				v, _ = strconv.ParseFloat(strings.TrimSpace(rest), 64)
			}
		}
		return nil
	})
	return v / (1 << 20)
}

// readTree reads the CPU time and resident memory of pid and of every
// process below it: a FastCGI server (LemonLDAP::NG's) works in children of
// the process whose id it writes. RSS is summed, pages shared between
// parent and children counted in each.
func readTree(pid int) (time.Duration, int64, error) {
	cpu, rss, err := readProc(pid)
	if err != nil {
		return 0, 0, err
	}
	ents, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	for _, e := range ents {
		id, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, err := ppid(id); err == nil {
			parent[id] = pp
		}
	}
	below := func(id int) bool {
		for i := 0; i < 16 && id > 1; i++ {
			if id = parent[id]; id == pid {
				return true
			}
		}
		return false
	}
	for id := range parent {
		if id != pid && below(id) {
			if c, r, err := readProc(id); err == nil {
				cpu, rss = cpu+c, rss+r
			}
		}
	}
	return cpu, rss, nil
}

func ppid(pid int) (int, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(stat, ')')
	f := strings.Fields(string(stat[i+1:]))
	if i < 0 || len(f) < 2 {
		return 0, fmt.Errorf("/proc/%d/stat: unreadable", pid)
	}
	return strconv.Atoi(f[1])
}

// readProc reads the CPU time and resident memory of pid from /proc.
func readProc(pid int) (cpu time.Duration, rssKB int64, err error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// fields are counted from the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: no ')' in %q", pid, stat)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	// f[0] is field 3 (state): utime is field 14, stime 15.
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	cpu = time.Duration(ut+st) * time.Second / clockTicks
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			rssKB, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return cpu, rssKB, nil
}

// sampler reads a process's CPU and RSS at a fixed period until stopped.
type sampler struct {
	pid     int
	mu      sync.Mutex
	samples []ProcSample
	err     error
	stop    context.CancelFunc
	done    chan struct{}
}

func startSampler(ctx context.Context, pid int, every time.Duration) *sampler {
	s := &sampler{pid: pid, done: make(chan struct{})}
	ctx, s.stop = context.WithCancel(ctx)
	start := time.Now()
	take := func() bool {
		cpu, rss, err := readTree(pid)
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			// The process is gone (a crash under load): say so in the report.
			s.err = err
			return false
		}
		s.samples = append(s.samples, ProcSample{At: time.Since(start), CPU: cpu, RSSKB: rss})
		return true
	}
	take()
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				take()
				return
			case <-t.C:
				if !take() {
					return
				}
			}
		}
	}()
	return s
}

// finish stops the sampler and summarises what it saw.
func (s *sampler) finish(journeys int) *ProcStats {
	s.stop()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &ProcStats{PID: s.pid}
	if s.err != nil {
		st.Error = s.err.Error()
	}
	if len(s.samples) == 0 {
		return st
	}
	first, last := s.samples[0], s.samples[len(s.samples)-1]
	st.CPUSeconds = (last.CPU - first.CPU).Seconds()
	if secs := (last.At - first.At).Seconds(); secs > 0 {
		st.CPUPercent = 100 * st.CPUSeconds / secs
	}
	if journeys > 0 {
		st.CPUMsPerJourney = 1000 * st.CPUSeconds / float64(journeys)
	}
	st.RSSStartMB, st.RSSEndMB = mb(first.RSSKB), mb(last.RSSKB)
	st.RSSFifthMB = mb(s.samples[len(s.samples)/5].RSSKB)
	for _, x := range s.samples {
		st.RSSMaxMB = max(st.RSSMaxMB, mb(x.RSSKB))
	}
	st.RSSSlopeMBPerMin, st.SlopeSamples = rssSlope(s.samples)
	return st
}

func mb(kb int64) float64 { return float64(kb) / 1024 }

// rssSlope is the least-squares slope of RSS over time, in MB per minute,
// leaving out the first fifth of the run: the heap and the caches grow to
// their working size at the start, and "flat" is about what follows.
func rssSlope(samples []ProcSample) (float64, int) {
	if len(samples) < 5 {
		return 0, 0
	}
	s := samples[len(samples)/5:]
	var sx, sy, sxx, sxy float64
	for _, x := range s {
		t, y := x.At.Minutes(), mb(x.RSSKB)
		sx, sy, sxx, sxy = sx+t, sy+y, sxx+t*t, sxy+t*y
	}
	n := float64(len(s))
	d := n*sxx - sx*sx
	if d == 0 {
		return 0, len(s)
	}
	return (n*sxy - sx*sy) / d, len(s)
}
