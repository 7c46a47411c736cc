//go:build !unix

package aaf

import "time"

// processCPU is not measured here; the CPU-based metrics are then omitted.
func processCPU() time.Duration { return 0 }
