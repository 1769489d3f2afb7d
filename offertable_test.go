package fortapi

import (
	"sync"
	"testing"
	"unsafe"
)

// count is the number of offers held.
func (t *offerTable) count() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// TestOfferShardSize: a shard fills one 64-byte cache line exactly.
func TestOfferShardSize(t *testing.T) {
	if n := unsafe.Sizeof(offerShard{}); n != 64 {
		t.Fatalf("offerShard is %d bytes, want 64", n)
	}
}

// TestOfferTable: store, load, loadAndDelete and compareAndDelete keep
// each key's offer apart, under concurrent use by as many goroutines as
// requests (run with -race), and leave nothing behind.
func TestOfferTable(t *testing.T) {
	var tab offerTable
	bufs := make([][]byte, 256)
	bodies := make([]*sanitizingBody, len(bufs))
	for i := range bufs {
		bufs[i] = make([]byte, 16+i%7)
		bodies[i] = &sanitizingBody{}
	}
	key := func(i int) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(bufs[i])) }
	var wg sync.WaitGroup
	for i := range bufs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				tab.store(key(i), bodies[i])
				if b, ok := tab.load(key(i)); !ok || b != bodies[i] {
					t.Errorf("load %d: %p %v, want %p", i, b, ok, bodies[i])
					return
				}
				tab.compareAndDelete(key(i), &sanitizingBody{}) // another body's: kept
				if b, ok := tab.loadAndDelete(key(i)); !ok || b != bodies[i] {
					t.Errorf("loadAndDelete %d: %p %v, want %p", i, b, ok, bodies[i])
					return
				}
				if _, ok := tab.loadAndDelete(key(i)); ok {
					t.Errorf("loadAndDelete %d twice", i)
					return
				}
				tab.store(key(i), bodies[i])
				tab.compareAndDelete(key(i), bodies[i])
				if _, ok := tab.load(key(i)); ok {
					t.Errorf("compareAndDelete %d kept the offer", i)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := tab.count(); n != 0 {
		t.Fatalf("%d offers left", n)
	}
	// Keys spread over the shards (buffers allocated side by side).
	used := map[*offerShard]bool{}
	for i := range bufs {
		used[tab.shard(key(i))] = true
	}
	if len(used) < offerShards/2 {
		t.Errorf("%d buffers on %d of %d shards", len(bufs), len(used), offerShards)
	}
}
