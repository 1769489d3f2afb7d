package ratelimit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct{ ns atomic.Int64 }

var epoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func (c *fakeClock) Now() time.Time          { return epoch.Add(time.Duration(c.ns.Load())) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

type step struct {
	advance   time.Duration
	n         int
	allowed   bool
	remaining int
	retry     time.Duration
	reset     time.Duration
}

func TestGCRASequence(t *testing.T) {
	for _, tc := range []struct {
		spec  string
		steps []step
	}{
		{"5/minute", []step{
			{0, 1, true, 4, 0, 12 * time.Second},
			{0, 1, true, 3, 0, 24 * time.Second},
			{0, 1, true, 2, 0, 36 * time.Second},
			{0, 1, true, 1, 0, 48 * time.Second},
			{0, 1, true, 0, 0, 60 * time.Second},
			{0, 1, false, 0, 12 * time.Second, 60 * time.Second},
			{0, 0, false, 0, 12 * time.Second, 60 * time.Second}, // peek
			{11 * time.Second, 1, false, 0, time.Second, 49 * time.Second},
			{time.Second, 0, true, 1, 0, 48 * time.Second}, // peek takes nothing
			{0, 1, true, 0, 0, 60 * time.Second},
			{0, 1, false, 0, 12 * time.Second, 60 * time.Second},
			{10 * time.Minute, 1, true, 4, 0, 12 * time.Second}, // long idle: full burst again
		}},
		{"100/minute burst 20", []step{
			{0, 1, true, 19, 0, 600 * time.Millisecond},
			{0, 19, true, 0, 0, 12 * time.Second},
			{0, 1, false, 0, 600 * time.Millisecond, 12 * time.Second},
			{600 * time.Millisecond, 1, true, 0, 0, 12 * time.Second},
			{1200 * time.Millisecond, 2, true, 0, 0, 12 * time.Second},
			{0, 2, false, 0, 1200 * time.Millisecond, 12 * time.Second},
		}},
		{"1/second burst 3", []step{
			{0, 0, true, 3, 0, 0}, // peek on an absent key
			{0, 3, true, 0, 0, 3 * time.Second},
			{1500 * time.Millisecond, 1, true, 0, 0, 2500 * time.Millisecond},
			{0, 2, false, 0, 1500 * time.Millisecond, 2500 * time.Millisecond},
		}},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			clk := &fakeClock{}
			s := NewMemoryStore(MemoryOptions{Now: clk.Now})
			spec := MustParseSpec(tc.spec)
			for i, st := range tc.steps {
				clk.Advance(st.advance)
				res, err := s.Allow(context.Background(), "k", spec, st.n)
				if err != nil {
					t.Fatal(err)
				}
				want := Result{Allowed: st.allowed, Limit: spec.Count, Window: spec.Period, Burst: spec.MaxBurst(),
					Remaining: st.remaining, RetryAfter: st.retry, ResetAfter: st.reset}
				if res != want {
					t.Fatalf("step %d: got %+v\nwant %+v", i, res, want)
				}
			}
		})
	}
}

func TestMemoryStoreRejectsBadCalls(t *testing.T) {
	s := NewMemoryStore(MemoryOptions{})
	for _, tc := range []struct {
		name string
		spec Spec
		n    int
	}{
		{"invalid spec", Spec{}, 1},
		{"negative cost", MustParseSpec("5/minute"), -1},
		{"cost above burst", MustParseSpec("5/minute"), 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.Allow(context.Background(), "k", tc.spec, tc.n); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// TestMemoryExactUnderConcurrency: with a frozen clock, N goroutines on
// one key admit exactly the burst; on several keys, exactly the burst each.
func TestMemoryExactUnderConcurrency(t *testing.T) {
	for _, tc := range []struct {
		spec       string
		goroutines int
		each       int
		keys       int
	}{
		{"100/minute", 64, 50, 1},
		{"1000/hour burst 300", 32, 40, 1},
		{"7/second", 16, 10, 1},
		{"50/minute", 32, 40, 8},
	} {
		t.Run(fmt.Sprintf("%s/%d-keys", tc.spec, tc.keys), func(t *testing.T) {
			clk := &fakeClock{}
			s := NewMemoryStore(MemoryOptions{Now: clk.Now, Shards: 4})
			spec := MustParseSpec(tc.spec)
			admitted := make([]atomic.Int64, tc.keys)
			var wg sync.WaitGroup
			for g := range tc.goroutines {
				wg.Go(func() {
					for i := range tc.each {
						k := (g + i) % tc.keys
						res, err := s.Allow(context.Background(), "key"+strconv.Itoa(k), spec, 1)
						if err != nil {
							t.Error(err)
							return
						}
						if res.Allowed {
							admitted[k].Add(1)
						}
					}
				})
			}
			wg.Wait()
			for k := range admitted {
				if got := admitted[k].Load(); got != int64(spec.MaxBurst()) {
					t.Errorf("key %d: admitted %d of %d attempts, want exactly %d", k, got, tc.goroutines*tc.each/tc.keys, spec.MaxBurst())
				}
			}
		})
	}
}

// model is the same GCRA without a cap: a map from key to TAT.
type model struct {
	tat map[string]int64
}

func (m *model) allow(now int64, key string, spec Spec, n int) Result {
	g, _ := newGCRA(spec, n)
	res, next, store := g.decide(now, m.tat[key], n)
	if store {
		m.tat[key] = next
	}
	return res
}

// TestMemoryMatchesModel runs random operations on a store whose cap is
// never reached and on the model, and checks the heap after each step.
func TestMemoryMatchesModel(t *testing.T) {
	clk := &fakeClock{}
	s := NewMemoryStore(MemoryOptions{Now: clk.Now, Shards: 4, MaxKeys: 1 << 12})
	m := &model{tat: map[string]int64{}}
	specs := []Spec{MustParseSpec("5/second"), MustParseSpec("10/minute burst 3"), MustParseSpec("1/hour burst 2")}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20_000 {
		clk.Advance(time.Duration(rng.IntN(400)) * time.Millisecond)
		key := "k" + strconv.Itoa(rng.IntN(200))
		spec := specs[len(key)%len(specs)]
		n := rng.IntN(spec.MaxBurst() + 1)
		got, err := s.Allow(context.Background(), key, spec, n)
		if err != nil {
			t.Fatal(err)
		}
		want := m.allow(clk.ns.Load(), key, spec, n)
		if got != want {
			t.Fatalf("op %d (%s n=%d): got %+v, want %+v", i, key, n, got, want)
		}
		if i%1000 == 0 {
			checkShards(t, s)
		}
	}
	checkShards(t, s)
}

func checkShards(t *testing.T, s *MemoryStore) {
	t.Helper()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		if len(sh.heap) != len(sh.index) || len(sh.heap) > sh.max {
			t.Fatalf("shard %d: heap %d, index %d, max %d", i, len(sh.heap), len(sh.index), sh.max)
		}
		for p, it := range sh.heap {
			if sh.slots[it.slot].pos != int32(p) {
				t.Fatalf("shard %d: slot %d says pos %d, is at %d", i, it.slot, sh.slots[it.slot].pos, p)
			}
			if sh.index[sh.slots[it.slot].key] != it.slot {
				t.Fatalf("shard %d: index disagrees for slot %d", i, it.slot)
			}
			if p > 0 && sh.heap[(p-1)/2].tat > it.tat {
				t.Fatalf("shard %d: heap order broken at %d", i, p)
			}
		}
		sh.mu.Unlock()
	}
}

// TestMemoryEvictsEarliestExpiry: a full shard drops the key whose state
// expires first (expired ones first of all), and keeps the others.
func TestMemoryEvictsEarliestExpiry(t *testing.T) {
	clk := &fakeClock{}
	s := NewMemoryStore(MemoryOptions{Now: clk.Now, Shards: 1, MaxKeys: 3})
	spec := MustParseSpec("10/minute") // 6 s per request, burst 10
	ctx := context.Background()
	take := func(key string, n int) {
		t.Helper()
		if res, err := s.Allow(ctx, key, spec, n); err != nil || !res.Allowed {
			t.Fatalf("%s: %+v %v", key, res, err)
		}
	}
	remaining := func(key string) int {
		t.Helper()
		res, err := s.Allow(ctx, key, spec, 0)
		if err != nil {
			t.Fatal(err)
		}
		return res.Remaining
	}
	take("a", 5) // TAT +30 s
	take("b", 2) // TAT +12 s: expires first
	take("c", 8) // TAT +48 s
	take("d", 1) // full: evicts b
	if s.Len() != 3 {
		t.Fatalf("Len = %d", s.Len())
	}
	for key, want := range map[string]int{"a": 5, "b": 10, "c": 2, "d": 9} {
		if got := remaining(key); got != want {
			t.Errorf("%s: remaining %d, want %d", key, got, want)
		}
	}
	clk.Advance(7 * time.Second) // d (6 s) has expired; a, c have not
	take("e", 1)                 // drops expired d
	for key, want := range map[string]int{"a": 6, "c": 3, "d": 10, "e": 9} {
		if got := remaining(key); got != want {
			t.Errorf("after expiry, %s: remaining %d, want %d", key, got, want)
		}
	}
	checkShards(t, s)
}

// memoryBoundPerKey is the documented worst case per key of a full
// MemoryStore (index map, slot, heap item, free list, growth slack).
const memoryBoundPerKey = 128

// TestMemoryBoundedUnderSpray sprays 10^6 distinct keys, none of which
// expires during the test, at a store with the default cap: the key count
// never exceeds the cap and the heap grows by less than the documented
// bound.
func TestMemoryBoundedUnderSpray(t *testing.T) {
	const keys = 1_000_000
	clk := &fakeClock{}
	s := NewMemoryStore(MemoryOptions{Now: clk.Now})
	spec := MustParseSpec("1/hour")
	ctx := context.Background()
	if got := s.MaxKeys(); got != DefaultMaxKeys {
		t.Fatalf("MaxKeys = %d", got)
	}

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	buf := make([]byte, 0, 32)
	for i := range keys {
		buf = strconv.AppendInt(append(buf[:0], "attacker-chosen-key-"...), int64(i), 10)
		if res, err := s.Allow(ctx, string(buf), spec, 1); err != nil || !res.Allowed {
			t.Fatalf("key %d: %+v %v", i, res, err)
		}
		clk.Advance(time.Microsecond)
		if i%100_000 == 0 {
			if n := s.Len(); n > DefaultMaxKeys {
				t.Fatalf("after %d keys: Len %d > cap %d", i+1, n, DefaultMaxKeys)
			}
		}
	}
	if n := s.Len(); n != DefaultMaxKeys {
		t.Fatalf("Len %d, want the cap %d", n, DefaultMaxKeys)
	}

	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapInuse) - int64(before.HeapInuse)
	bound := int64(memoryBoundPerKey * DefaultMaxKeys)
	t.Logf("10^6 keys sprayed: %d held, heap in use grew %.1f MB (%.0f bytes/key; bound %.1f MB)",
		s.Len(), float64(grew)/1e6, float64(grew)/float64(s.Len()), float64(bound)/1e6)
	if grew > bound {
		t.Fatalf("heap grew %d bytes, more than the documented %d", grew, bound)
	}
	runtime.KeepAlive(s)
	checkShards(t, s)
}

func BenchmarkMemoryOneKey(b *testing.B) {
	s := NewMemoryStore(MemoryOptions{})
	spec := MustParseSpec("1000000/second")
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Allow(ctx, "one-key", spec, 1); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkMemoryManyKeys(b *testing.B) {
	const n = 1_000_000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "ip:198.51." + strconv.Itoa(i)
	}
	s := NewMemoryStore(MemoryOptions{MaxKeys: 1 << 20})
	spec := MustParseSpec("100/hour") // every key stays held during the run
	ctx := context.Background()
	for _, k := range keys { // warm: every key held
		_, _ = s.Allow(ctx, k, spec, 1)
	}
	if s.Len() != n {
		b.Fatalf("%d keys held, want %d", s.Len(), n)
	}
	var seed atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(seed.Add(1), 7))
		for pb.Next() {
			if _, err := s.Allow(ctx, keys[rng.IntN(n)], spec, 1); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
