package scan

import (
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// noisy returns a seeded random delay: with probability p, a uniform
// sleep in [0, maxNoise). It is safe for concurrent use.
func noisy(seed uint64, p float64, maxNoise time.Duration) func() time.Duration {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	return func() time.Duration {
		mu.Lock()
		defer mu.Unlock()
		if rng.Float64() >= p {
			return 0
		}
		return time.Duration(rng.Int64N(int64(maxNoise)))
	}
}

// loadFactor returns a seeded random CPU slow-down in [1, 1+spread).
func loadFactor(seed uint64, spread float64) func() float64 {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, 0x10ad))
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		return 1 + spread*rng.Float64()
	}
}

// TestSQLiTimeUnderNoise attacks the time-based probe's decision with a
// loaded server: the search answers 40 % of its requests after a random
// sleep of up to 1.5 times the probe's delay (SleepSeconds 1, of
// testSecond each). A target without the
// flaw must not be reported (noise gives slow answers to payloads and
// fast ones to controls, but not twice the time for twice the amount);
// one with the flaw, as sleep() or as SQLite's heavy query whose cost
// also varies with the load (up to 1.5 times), must be.
func TestSQLiTimeUnderNoise(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("time-based scans under noise: several seconds")
	}
	const p, maxNoise = 0.4, testSecond * 3 / 2
	for _, tt := range []struct {
		name  string
		seed  uint64
		flaw  bool
		heavy int // rows per second of the simulated SQLite, 0: sleep()
	}{
		{name: "clean", seed: 1},
		{name: "clean", seed: 2},
		{name: "clean", seed: 3},
		{name: "clean", seed: 4},
		{name: "sleep", seed: 1, flaw: true},
		{name: "sleep", seed: 2, flaw: true},
		{name: "heavy", seed: 1, flaw: true, heavy: 200_000},
		{name: "heavy", seed: 2, flaw: true, heavy: 5_000},
	} {
		t.Run(tt.name+"/"+string(rune('0'+tt.seed)), func(t *testing.T) {
			t.Parallel()
			var tg *target
			if tt.flaw {
				tg = newTarget("SQLI-TIME")
			} else {
				tg = newTarget()
			}
			tg.noise = noisy(tt.seed, p, maxNoise)
			tg.heavyRate = tt.heavy
			tg.load = loadFactor(tt.seed, 0.5)
			start := time.Now()
			rep := scanTarget(t, tg, "SQLI-TIME")
			t.Logf("%d requests in %.1f s", rep.Requests, time.Since(start).Seconds())
			got := ids(rep)
			switch {
			case tt.flaw && !slices.Equal(got, []string{"SQLI-TIME"}):
				t.Errorf("found %v, want SQLI-TIME\n%s", got, dump(rep))
			case !tt.flaw && len(got) > 0:
				t.Errorf("false positive %v on a target without the flaw\n%s", got, dump(rep))
			}
			// bounded: a quiet clean target costs about 136 requests; the
			// confirmations (5 requests, at most 3 per parameter) and the
			// heavy query's resizes (at most 6) add a few
			if rep.Requests > 180 {
				t.Errorf("%d requests", rep.Requests)
			}
			for _, f := range rep.Findings {
				if f.ID == "SQLI-TIME" && (f.Operation != "GET /items" || f.Parameter != "query:q" || !strings.Contains(f.Evidence, "twice the amount")) {
					t.Errorf("finding %+v", f)
				}
			}
		})
	}
}
