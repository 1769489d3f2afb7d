package main

import (
	"bytes"
	"context"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestTuneGC(t *testing.T) {
	for _, tc := range []struct {
		name, env string
		want      bool
		log       string
	}{
		{"default", "", true, `"max_gogc":1600`},
		{"GOGC set", "50", false, `"gogc":"50"`}, // the runtime applied it; left alone
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			got := tuneGC(func(k string) string {
				if k == "GOGC" {
					return tc.env
				}
				return ""
			}, slog.New(slog.NewJSONHandler(&buf, nil)))
			if got != tc.want || !strings.Contains(buf.String(), tc.log) {
				t.Errorf("tuneGC = %v, log %q; want %v and %q", got, buf.String(), tc.want, tc.log)
			}
		})
	}
}

func TestGCPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{0, 1600},        // before the first collection
		{2 * mib, 1600},  // capped
		{4 * mib, 1600},  // exactly 64 MiB of room at 1600
		{5 * mib, 1275},  // a server at rest: 1280 → 1275
		{16 * mib, 400},  // exactly 64 MiB of room at 400
		{20 * mib, 300},  // 320 → 300: steps of 25
		{40 * mib, 150},  // 160 → 150
		{64 * mib, 100},  // Go's default from here on
		{300 * mib, 100}, // thousands of sockets: never below the default
		{1 << 40, 100},   // no overflow
	} {
		if got := gcPercentFor(tc.live); got != tc.want {
			t.Errorf("gcPercentFor(%d MiB) = %d, want %d", tc.live/mib, got, tc.want)
		}
	}
}

// The tuner sets a target at once, follows the live heap on each tick,
// does not set an unchanged target again, and stops with its context.
func TestGCTunerRun(t *testing.T) {
	const mib = 1 << 20
	lives := make(chan uint64, 1)
	sets := make(chan int, 1)
	g := &gcTuner{live: func() uint64 { return <-lives }, set: func(p int) int { sets <- p; return 0 }}
	ctx, cancel := context.WithCancel(context.Background())
	tick := make(chan time.Time)
	done := make(chan struct{})
	go func() { g.run(ctx, tick); close(done) }()

	lives <- 5 * mib
	if p := <-sets; p != 1275 {
		t.Fatalf("first target %d, want 1275", p)
	}
	tick <- time.Time{}
	lives <- 5*mib + 16<<10 // same target: not set again
	tick <- time.Time{}
	lives <- 40 * mib
	if p := <-sets; p != 150 {
		t.Fatalf("target after growth %d, want 150", p)
	}
	select {
	case p := <-sets:
		t.Fatalf("unexpected extra target %d", p)
	default:
	}
	cancel()
	<-done
}

func TestSampleHeap(t *testing.T) {
	prev := runtime.MemProfileRate
	defer func() { runtime.MemProfileRate = prev }()
	for _, tc := range []struct {
		pprof bool
		want  int
	}{{false, 0}, {true, defaultMemProfileRate}} {
		runtime.MemProfileRate = 0 // as main sets it
		sampleHeap(tc.pprof)
		if runtime.MemProfileRate != tc.want {
			t.Errorf("--admin-pprof=%v: MemProfileRate %d, want %d", tc.pprof, runtime.MemProfileRate, tc.want)
		}
	}
}

// liveHeap reads a metric this Go version has: after a collection it is
// the live heap, never 0 for a running program.
func TestLiveHeap(t *testing.T) {
	runtime.GC()
	if got := liveHeap(); got == 0 {
		t.Fatal("liveHeap() = 0 after a collection: the runtime metric is missing or renamed")
	}
}
