//go:build unix

package fortapi

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// cpuTime is the process's user+system CPU time: on a machine shared
// with other work it measures our cost where wall time measures the load.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRequestMetrics is what Options.Metrics adds to one request:
// the in-flight gauge, the pattern lookup, the cached observer and one
// histogram observation. Reported as wall ns/op and CPU ns/op.
func BenchmarkRequestMetrics(b *testing.B) {
	api := New(Options{Metrics: prometheus.NewRegistry(), Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	huma.Register(api, huma.Operation{OperationID: "list", Method: "GET", Path: "/things", Security: Public()},
		func(ctx context.Context, _ *struct{}) (*struct{}, error) { return nil, nil })
	if _, err := api.Handler(); err != nil {
		b.Fatal(err)
	}
	m := api.metrics
	for _, tt := range []struct {
		name, pattern string
		status        int
	}{
		{"routed 200", "GET /things", 200},
		{"unmatched 404", "", 404},
	} {
		b.Run(tt.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/things", nil)
			r.Pattern = tt.pattern
			rec := &recorder{status: tt.status}
			start := time.Now()
			b.ReportAllocs()
			cpu := cpuTime(b)
			for b.Loop() {
				m.begin()
				m.done(r, rec, start)
			}
			b.ReportMetric(float64(cpuTime(b)-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
