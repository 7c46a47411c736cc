// Package load drives complete logins against a running enthub over real
// HTTP, as many browsers and relying parties at once would: each virtual
// user takes the next identity of a generated directory, logs in from a
// fresh cookie jar through a journey (today the local password login; the
// brokered login through a simulated upstream when enthub offers one), and
// the relying party validates what it got (CAS ticket, OIDC code and
// tokens, SAML response). It measures each journey and each HTTP step, and
// the CPU and resident memory of the enthub process read from /proc.
//
// test/bench/loadgen is its command line; test/bench/sso.sh runs the
// scenarios (the 8:00 wave, the soak, LDAP searches and an AAF import
// beside logins); the short version runs in ./test/run.sh as a Go test of
// this package.
package load

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// User is one identity of the generated directory.
type User struct {
	Login string // the enthub login (the local password journey types it)
	AAFID string // the AAF jointure (what an upstream such as EduConnect carries)
	// Password, when set, is this user's; else Target.Password.
	Password string
}

// Journey is one kind of complete login.
type Journey interface {
	// Name names the journey in reports ("password", "brokered").
	Name() string
	// Check says, before a run, whether the target offers this journey:
	// a *Unavailable error is the reason it does not (the run is then
	// skipped, not failed); any other error fails the run.
	Check(ctx context.Context, b *Browser) error
	// Run performs journey number i for user u with a fresh browser and
	// returns the name of its variant ("cas", "oidc", "saml") for the
	// report.
	Run(ctx context.Context, b *Browser, u User, i int) (string, error)
}

// Unavailable is the reason a journey cannot run against this target.
type Unavailable struct{ Reason string }

func (u *Unavailable) Error() string { return "not available: " + u.Reason }

// Options shape a run.
type Options struct {
	Scenario string
	// VUs is the number of virtual users running journeys at once.
	VUs int
	// Total journeys to run; 0 runs until Duration.
	Total int
	// Duration bounds the run; 0 runs until Total.
	Duration time.Duration
	// Rate, when positive, starts at most that many journeys per second
	// (an open arrival rate, as the 8:00 wave is); 0 runs as fast as the
	// VUs go.
	Rate float64
	// FirstUser is the index of the first identity used; journeys take
	// the following ones in turn, wrapping round.
	FirstUser int
	// PID of the enthub process to sample (0: none), every SampleEvery
	// (default 1 s).
	PID         int
	SampleEvery time.Duration
	// MetricsURL, when set (enthub's /metrics), is read before and after
	// the run for the Go heap in use: RSS alone does not tell a leak from
	// garbage the runtime has not returned to the system yet.
	MetricsURL string
	// KeepBrowser gives each virtual user one browser for all its
	// journeys (its SSO session lives on), instead of a fresh one each.
	KeepBrowser bool
	// Transport is the HTTP client's transport (default: one keep-alive
	// transport sized for VUs).
	Transport http.RoundTripper
}

// Run runs journey j over users with opts and reports what it measured.
// A run is skipped (Report.Skipped set, no error) when j is unavailable.
func Run(ctx context.Context, t *Target, j Journey, users []User, opts Options) (*Report, error) {
	if len(users) == 0 {
		return nil, errors.New("no users")
	}
	if opts.VUs <= 0 {
		opts.VUs = 1
	}
	if opts.Total <= 0 && opts.Duration <= 0 {
		return nil, errors.New("neither a number of journeys nor a duration")
	}
	if opts.SampleEvery <= 0 {
		opts.SampleEvery = time.Second
	}
	if opts.Transport == nil {
		opts.Transport = NewTransport(opts.VUs)
	}
	rep := &Report{Scenario: opts.Scenario, Journey: j.Name(), VUs: opts.VUs, TargetRate: opts.Rate, Started: time.Now().UTC()}
	rec := newRecorder()
	if err := j.Check(ctx, t.browser(opts.Transport, rec)); err != nil {
		var u *Unavailable
		if errors.As(err, &u) {
			rep.Skipped = u.Reason
			return rep, nil
		}
		return nil, fmt.Errorf("%s journey: %w", j.Name(), err)
	}
	rec = newRecorder() // the check's requests are not part of the figures

	runCtx := ctx
	var cancel context.CancelFunc = func() {}
	if opts.Duration > 0 {
		runCtx, cancel = context.WithTimeout(ctx, opts.Duration)
	}
	defer cancel()
	var smp *sampler
	if opts.PID > 0 {
		smp = startSampler(ctx, opts.PID, opts.SampleEvery)
	}
	heap0 := goHeapMB(ctx, opts.MetricsURL)

	var next atomic.Int64
	take := func() (int, bool) {
		i := int(next.Add(1) - 1)
		return i, opts.Total <= 0 || i < opts.Total
	}
	var tokens <-chan time.Time
	if opts.Rate > 0 {
		tk := time.NewTicker(time.Duration(float64(time.Second) / opts.Rate))
		defer tk.Stop()
		tokens = tk.C
	}
	start := time.Now()
	var wg sync.WaitGroup
	for v := 0; v < opts.VUs; v++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var kept *Browser
			if opts.KeepBrowser {
				kept = t.browser(opts.Transport, rec)
			}
			for {
				if tokens != nil {
					select {
					case <-runCtx.Done():
						return
					case <-tokens:
					}
				}
				if runCtx.Err() != nil {
					return
				}
				i, ok := take()
				if !ok {
					return
				}
				u := users[(opts.FirstUser+i)%len(users)]
				b := kept
				if b == nil {
					b = t.browser(opts.Transport, rec)
				}
				t0 := time.Now()
				variant, err := j.Run(runCtx, b, u, i)
				if err != nil && runCtx.Err() != nil && opts.Duration > 0 {
					return // cut by the end of a timed run: not an error of the server
				}
				rec.journey(j.Name()+"/"+variant, time.Since(t0), err, u)
			}
		}()
	}
	wg.Wait()
	rep.Seconds = time.Since(start).Seconds()
	rec.fill(rep)
	if smp != nil {
		rep.Server = smp.finish(rep.Journeys)
		rep.Server.HeapStartMB, rep.Server.HeapEndMB = heap0, goHeapMB(ctx, opts.MetricsURL)
	}
	return rep, nil
}

// NewTransport is a keep-alive transport for n concurrent users on one
// host, as a reverse proxy in front of enthub would hold.
func NewTransport(n int) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 4 * n
	tr.MaxIdleConnsPerHost = 4 * n
	tr.Proxy = nil
	return tr
}

// recorder collects latencies and errors from every virtual user.
type recorder struct {
	mu       sync.Mutex
	steps    map[string]*series
	journeys map[string]*series
	errs     map[string]int
	samples  []string
}

type series struct {
	d    []time.Duration
	errs int
}

func newRecorder() *recorder {
	return &recorder{steps: map[string]*series{}, journeys: map[string]*series{}, errs: map[string]int{}}
}

func (r *recorder) step(name string, d time.Duration, failed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.steps[name]
	if s == nil {
		s = &series{}
		r.steps[name] = s
	}
	s.d = append(s.d, d)
	if failed {
		s.errs++
	}
}

func (r *recorder) journey(name string, d time.Duration, err error, u User) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.journeys[name]
	if s == nil {
		s = &series{}
		r.journeys[name] = s
	}
	if err != nil {
		s.errs++
		msg := err.Error()
		if r.errs[msg] == 0 && len(r.samples) < 10 {
			r.samples = append(r.samples, u.Login+": "+msg)
		}
		r.errs[msg]++
		return
	}
	s.d = append(s.d, d)
}

// Report is what a run measured; it is printed as a table and written as
// JSON (test/bench/out/<name>.json holds a list of them).
type Report struct {
	Scenario   string    `json:"scenario"`
	Journey    string    `json:"journey"`
	Skipped    string    `json:"skipped,omitempty"` // why the journey did not run
	VUs        int       `json:"vus"`
	TargetRate float64   `json:"target_rate,omitempty"`
	Started    time.Time `json:"started"`
	Seconds    float64   `json:"seconds"`
	Journeys   int       `json:"journeys"` // completed without error
	Errors     int       `json:"errors"`
	Rate       float64   `json:"rate"` // completed journeys per second
	// Latency is of whole journeys, every variant together.
	Latency  Percentiles   `json:"latency_ms"`
	Variants []StepStats   `json:"variants"`
	Steps    []StepStats   `json:"steps"`
	Server   *ProcStats    `json:"server,omitempty"`
	Samples  []string      `json:"error_samples,omitempty"`
	Extra    []ExtraFigure `json:"extra,omitempty"` // what ran beside (LDAP searches, an import)
	// BesideOutput is the end of what the command run beside printed.
	BesideOutput string `json:"beside_output,omitempty"`
}

// Percentiles are in milliseconds.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// StepStats are the figures of one HTTP step ("GET /cas/login") or one
// journey variant ("password/cas").
type StepStats struct {
	Name   string `json:"name"`
	Count  int    `json:"count"`
	Errors int    `json:"errors"`
	Percentiles
}

// ProcStats describe the enthub process over the run.
type ProcStats struct {
	PID             int     `json:"pid"`
	CPUSeconds      float64 `json:"cpu_seconds"`
	CPUPercent      float64 `json:"cpu_percent"` // 100 = one core busy
	CPUMsPerJourney float64 `json:"cpu_ms_per_journey"`
	RSSStartMB      float64 `json:"rss_start_mb"`
	// RSSFifthMB is the RSS after the first fifth of the run, where the
	// slope starts.
	RSSFifthMB float64 `json:"rss_fifth_mb"`
	RSSMaxMB   float64 `json:"rss_max_mb"`
	RSSEndMB   float64 `json:"rss_end_mb"`
	// RSSSlopeMBPerMin is the least-squares slope of RSS after the first
	// fifth of the run (SlopeSamples readings).
	RSSSlopeMBPerMin float64 `json:"rss_slope_mb_per_min"`
	SlopeSamples     int     `json:"slope_samples"`
	// HeapStartMB and HeapEndMB are the Go heap in use (go_memstats_heap_inuse_bytes)
	// before and after the run, when Options.MetricsURL was given.
	HeapStartMB float64 `json:"heap_start_mb,omitempty"`
	HeapEndMB   float64 `json:"heap_end_mb,omitempty"`
	Error       string  `json:"error,omitempty"` // the process vanished
}

// ExtraFigure is a figure of work run beside the logins.
type ExtraFigure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	slices.Sort(d)
	at := func(q float64) float64 {
		i := int(q*float64(len(d))+0.5) - 1
		return ms(d[min(max(i, 0), len(d)-1)])
	}
	return Percentiles{P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: ms(d[len(d)-1])}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (r *recorder) fill(rep *Report) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all []time.Duration
	for _, name := range sortedKeys(r.journeys) {
		s := r.journeys[name]
		all = append(all, s.d...)
		rep.Journeys += len(s.d)
		rep.Errors += s.errs
		rep.Variants = append(rep.Variants, StepStats{Name: name, Count: len(s.d), Errors: s.errs, Percentiles: percentiles(s.d)})
	}
	rep.Latency = percentiles(all)
	for _, name := range sortedKeys(r.steps) {
		s := r.steps[name]
		rep.Steps = append(rep.Steps, StepStats{Name: name, Count: len(s.d), Errors: s.errs, Percentiles: percentiles(s.d)})
	}
	if rep.Seconds > 0 {
		rep.Rate = float64(rep.Journeys) / rep.Seconds
	}
	rep.Samples = r.samples
}

func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for n := range m {
		k = append(k, n)
	}
	sort.Strings(k)
	return k
}
