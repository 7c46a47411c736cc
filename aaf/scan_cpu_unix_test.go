//go:build unix

package aaf

import (
	"syscall"
	"time"
)

// processCPU is the user+system time of the test process so far. The
// benchmarks report throughput per CPU-second next to wall-clock figures,
// because the machine they run on is shared and wall time swings with the
// neighbours' load.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
