package testutil

import (
	"syscall"
	"testing"
	"time"
)

// ReportCPU starts counting the process's CPU time (user and system, every
// thread: the garbage collector's work included) and returns a function
// that reports it per operation as the benchmark metric "cpu-ns/op". Call
// it after the set-up (it resets the timer) and defer the result:
//
//	defer testutil.ReportCPU(b)()
//
// On a machine shared with other work, wall-clock ns/op grows with the
// load; CPU time per operation is what the benchmark itself spent, a
// steadier number to compare two handlers measured in the same run.
func ReportCPU(b *testing.B) func() {
	b.Helper()
	b.ResetTimer()
	start := cpuTime()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
