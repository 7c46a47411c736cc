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
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
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
	cpuProfile := flag.String("cpuprofile", "", "write this client's CPU profile of the measured logins to this file")
	pid := flag.Int("pid", 0, "process id of enthub demo: print its CPU time per login (0 = not)")
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
	// CPU time, unlike the rate, hardly depends on what else the machine
	// runs: it is read around the measured logins only (not the warm-up),
	// for the server and for this client, which shares its cores.
	server0, err := procCPU(*pid)
	if err != nil {
		fmt.Fprintln(os.Stderr, "brokered:", err)
		os.Exit(1)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "brokered: -cpuprofile:", err)
			os.Exit(2)
		}
		defer f.Close()
	}
	self0 := selfCPU()
	lat, errs, elapsed := run(l, *conc, *dur)
	self1 := selfCPU()
	pprof.StopCPUProfile()
	server1, err := procCPU(*pid)
	if err != nil {
		fmt.Fprintln(os.Stderr, "brokered:", err)
		os.Exit(1)
	}
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
	if n := time.Duration(len(lat) + len(errs)); n > 0 {
		if *pid != 0 {
			fmt.Printf("CPU per login: server (pid %d) %.2f ms", *pid, ms((server1-server0)/n))
		} else {
			fmt.Print("CPU per login:")
		}
		fmt.Printf(" client %.2f ms\n", ms((self1-self0)/n))
	}
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

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// selfCPU is the CPU time (user and system) this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is the CPU time (utime + stime, fields 14 and 15 of
// /proc/PID/stat) process pid has used; 0 for pid 0.
func procCPU(pid int) (time.Duration, error) {
	if pid == 0 {
		return 0, nil
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from its ")".
	i := bytes.LastIndexByte(raw, ')')
	f := strings.Fields(string(raw[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected %q", pid, raw)
	}
	var ticks int64
	for _, s := range f[11:13] { // utime, stime: fields 14 and 15
		t, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += t
	}
	// USER_HZ is 100 on every Linux the kernel ABI promises (sysconf
	// _SC_CLK_TCK); Go has no portable call for it.
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}
