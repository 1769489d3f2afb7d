package main

import (
	"context"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// fortapi serve's garbage-collection target. Its live heap is a few
// megabytes at rest, so with Go's default GOGC=100 it collects every few
// megabytes of requests: about 14 % of the instructions of a GET
// /protected (docs/benchmarks.md). Unless the environment sets GOGC, the
// server gives the heap room to grow by at least gcMinHeadroom between
// collections, up to GOGC=gcMaxPercent, and never less than Go's
// default: a small heap collects less often, a large one (thousands of
// WebSocket connections) is collected exactly as Go would.
const (
	gcMinHeadroom = 64 << 20 // bytes of growth allowed between collections
	gcMaxPercent  = 1600
	gcTuneEvery   = time.Second
)

// tuneGC reports whether the server sets its own target: false when GOGC
// is set in the environment (the runtime has applied it). It logs the
// choice either way.
func tuneGC(getenv func(string) string, log *slog.Logger) bool {
	if v := getenv("GOGC"); v != "" {
		log.Info("garbage collector target from GOGC", "gogc", v)
		return false
	}
	log.Info("garbage collector target: GOGC between 100 and 1600, so that the heap may grow by 64 MiB between collections while the live heap is small; set GOGC to choose it yourself",
		"min_headroom_mib", gcMinHeadroom>>20, "max_gogc", gcMaxPercent)
	return true
}

// gcPercentFor is the GOGC that lets a heap of live bytes grow by
// gcMinHeadroom, between 100 and gcMaxPercent, in steps of 25 (so that
// small changes of the live heap do not reset the target).
func gcPercentFor(live uint64) int {
	if live == 0 {
		return gcMaxPercent
	}
	p := min(gcMinHeadroom*100/live, gcMaxPercent)
	return max(int(p)/25*25, 100)
}

// gcTuner follows the live heap and sets the target it calls for.
type gcTuner struct {
	live func() uint64   // the live heap after the last collection
	set  func(p int) int // debug.SetGCPercent
	cur  int             // the target set last; 0 before the first
}

func newGCTuner() *gcTuner {
	return &gcTuner{live: liveHeap, set: debug.SetGCPercent}
}

// adjust sets the target for the live heap now, if it changed.
func (g *gcTuner) adjust() {
	if p := gcPercentFor(g.live()); p != g.cur {
		g.set(p)
		g.cur = p
	}
}

// run adjusts at once and on every tick until ctx ends.
func (g *gcTuner) run(ctx context.Context, tick <-chan time.Time) {
	g.adjust()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			g.adjust()
		}
	}
}

// liveHeap reads the runtime's live heap (bytes marked live by the last
// collection); 0 before the first collection.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
