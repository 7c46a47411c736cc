// Command brokered measures complete brokered logins over HTTP against a
// running `enthub demo`: each login is a headless browser
// (simulate.BrokeredLogin) going from the demo CAS service to enthub's
// chooser, to the simulated EduConnect (signed, encrypted assertion), back
// to enthub's ACS (verify, decrypt, link, session) and to the CAS service,
// which validates its ticket. It prints logins/s, latency percentiles and
// errors; it asserts nothing (test/bench/brokered.sh runs it).
//
//	go run ./test/bench/brokered -url http://127.0.0.1:8080 -c 8 -duration 20s
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/enthub/enthub/federation/simulate"
)

func main() {
	base := flag.String("url", "http://127.0.0.1:8080", "enthub demo's public URL")
	service := flag.String("service", "", "CAS service (default URL/demo/cas/)")
	connector := flag.String("connector", simulate.EduConnectID, "upstream connector id")
	person := flag.String("person", "Élève —", "text of the simulated person's button")
	expect := flag.String("expect", "cas:user", "text the service page shows after a login")
	conc := flag.Int("c", 8, "concurrent browsers")
	dur := flag.Duration("duration", 20*time.Second, "measured duration")
	warm := flag.Duration("warmup", 2*time.Second, "unmeasured warm-up")
	flag.Parse()
	if *service == "" {
		*service = *base + "/demo/cas/"
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 4 * *conc
	l := simulate.BrokeredLogin{Enthub: *base, Service: *service, Expect: *expect, Connector: *connector, Person: *person,
		Client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
	if err := l.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "brokered: first login failed:", err)
		os.Exit(1)
	}
	run(l, *conc, *warm) // warm-up: connections, caches, the JIT of nothing
	lat, errs, elapsed := run(l, *conc, *dur)
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	fmt.Printf("brokered logins (%s, %d browsers, %s): %d ok, %d errors, %.1f logins/s\n",
		*connector, *conc, elapsed.Round(time.Millisecond), len(lat), len(errs), float64(len(lat))/elapsed.Seconds())
	fmt.Printf("latency p50 %s  p95 %s  p99 %s  max %s\n", pct(.50).Round(time.Microsecond*100), pct(.95).Round(time.Microsecond*100),
		pct(.99).Round(time.Microsecond*100), pct(1).Round(time.Microsecond*100))
	for i, e := range errs {
		if i == 5 {
			fmt.Printf("… and %d more errors\n", len(errs)-5)
			break
		}
		fmt.Println("error:", e)
	}
	if len(errs) > 0 {
		os.Exit(1)
	}
}

// run repeats logins on conc browsers for d; it returns the latencies of
// the logins that succeeded and the errors.
func run(l simulate.BrokeredLogin, conc int, d time.Duration) ([]time.Duration, []error, time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var mu sync.Mutex
	var lat []time.Duration
	var errs []error
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				t0 := time.Now()
				// A login cut by the end of the run is not counted.
				err := l.Run(context.WithoutCancel(ctx))
				el := time.Since(t0)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					lat = append(lat, el)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return lat, errs, time.Since(start)
}
