//go:build unix

package webhook

import (
	"syscall"
	"testing"
	"time"
)

// reportCPU adds the process's CPU time per operation (user + system, GC
// included) to a benchmark's output: on a machine shared with other work
// wall time per op mostly measures the neighbours.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
