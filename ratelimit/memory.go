package ratelimit

import (
	"context"
	"hash/maphash"
	"math/bits"
	"sync"
	"time"
)

// Memory store defaults.
const (
	DefaultMaxKeys = 1 << 18 // 262,144 keys: at most 32 MiB (see MemoryOptions)
	DefaultShards  = 64
)

// MemoryOptions configure a MemoryStore. The zero value is ready to use.
type MemoryOptions struct {
	// MaxKeys caps the keys held at once (default DefaultMaxKeys). Each
	// shard holds at most MaxKeys/Shards; when a shard is full, the key
	// whose state expires first is dropped to make room (an expired key,
	// if there is one). Memory is at most 128 bytes per key held (about
	// 106 measured when full), whatever the length of the keys: the
	// default cap bounds a store to 32 MiB.
	MaxKeys int
	// Shards is the number of independently locked parts (default
	// DefaultShards; rounded up to a power of two, at most MaxKeys). The
	// cap is enforced per shard, so the effective cap (MaxKeys method) is
	// MaxKeys rounded down to a multiple of the shard count.
	Shards int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// MemoryStore is a Store in this process's memory: sharded, bounded, exact.
type MemoryStore struct {
	now    func() time.Time
	base   time.Time
	seeds  [2]maphash.Seed
	mask   uint64
	shards []memShard
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore(opts MemoryOptions) *MemoryStore {
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = DefaultMaxKeys
	}
	if opts.Shards <= 0 {
		opts.Shards = DefaultShards
	}
	opts.Shards = min(opts.Shards, opts.MaxKeys, 1<<16)
	shards := 1 << bits.Len(uint(opts.Shards-1)) // next power of two
	if shards > opts.MaxKeys {
		shards >>= 1
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &MemoryStore{
		now:    opts.Now,
		base:   opts.Now(),
		seeds:  [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		mask:   uint64(shards - 1),
		shards: make([]memShard, shards),
	}
	for i := range s.shards {
		s.shards[i].max = opts.MaxKeys / shards
		s.shards[i].index = make(map[hkey]int32)
	}
	return s
}

// hkey is a key's 128-bit seeded hash: fixed-size entries whatever the
// key's length. Two keys collide with probability about n²/2^129 (n keys
// held); a collision would make two keys share one state, which is
// stricter for both, never looser.
type hkey struct{ a, b uint64 }

// memShard holds its keys' TATs in a min-heap (earliest expiry on top) and
// an index from key to heap position. Nothing in it holds a pointer, so the
// garbage collector does not scan it.
type memShard struct {
	mu    sync.Mutex
	max   int
	index map[hkey]int32 // key -> slot
	slots []memSlot      // slot -> key and heap position
	free  []int32        // unused slots
	heap  []heapItem
	_     [64]byte // keep shards' locks on separate cache lines
}

type memSlot struct {
	key hkey
	pos int32
}

type heapItem struct {
	tat  int64
	slot int32
}

// expireBatch bounds the expired keys one insertion drops, so no call pays
// for a long idle period at once.
const expireBatch = 8

// Allow implements Store.
func (s *MemoryStore) Allow(_ context.Context, key string, spec Spec, n int) (Result, error) {
	return s.allow(hkey{maphash.String(s.seeds[0], key), maphash.String(s.seeds[1], key)}, spec, n)
}

// allowBytes is Allow for the key spelled by key: the same state as Allow
// of string(key) (maphash hashes a byte sequence alike whatever holds
// it), without making the key a string. The Limiter uses it for keys it
// builds in a buffer of its own (Set.mem).
func (s *MemoryStore) allowBytes(key []byte, spec Spec, n int) (Result, error) {
	return s.allow(hkey{maphash.Bytes(s.seeds[0], key), maphash.Bytes(s.seeds[1], key)}, spec, n)
}

func (s *MemoryStore) allow(k hkey, spec Spec, n int) (Result, error) {
	g, err := newGCRA(spec, n)
	if err != nil {
		return Result{}, err
	}
	sh := &s.shards[k.a&s.mask]
	now := int64(s.now().Sub(s.base))

	sh.mu.Lock()
	slot, found := sh.index[k]
	tat, pos := now, int32(0)
	if found {
		pos = sh.slots[slot].pos
		tat = sh.heap[pos].tat
	}
	res, next, store := g.decide(now, tat, n)
	if store {
		if found {
			sh.heap[pos].tat = next // only ever increases: sift down
			sh.down(pos)
		} else {
			sh.insert(k, next, now)
		}
	}
	sh.mu.Unlock()
	return res, nil
}

// Len returns the number of keys held.
func (s *MemoryStore) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.index)
		sh.mu.Unlock()
	}
	return n
}

// MaxKeys returns the cap on Len.
func (s *MemoryStore) MaxKeys() int {
	return len(s.shards) * s.shards[0].max
}

func (sh *memShard) insert(k hkey, tat, now int64) {
	for i := 0; i < expireBatch && len(sh.heap) > 0 && sh.heap[0].tat <= now; i++ {
		sh.removeTop()
	}
	if len(sh.heap) >= sh.max {
		sh.removeTop() // the earliest to expire
	}
	var slot int32
	if n := len(sh.free); n > 0 {
		slot = sh.free[n-1]
		sh.free = sh.free[:n-1]
	} else {
		slot = int32(len(sh.slots))
		sh.slots = append(sh.slots, memSlot{})
	}
	pos := int32(len(sh.heap))
	sh.slots[slot] = memSlot{key: k, pos: pos}
	sh.heap = append(sh.heap, heapItem{tat: tat, slot: slot})
	sh.index[k] = slot
	sh.up(pos)
}

func (sh *memShard) removeTop() {
	top := sh.heap[0]
	last := int32(len(sh.heap) - 1)
	sh.swap(0, last)
	sh.heap = sh.heap[:last]
	if last > 0 {
		sh.down(0)
	}
	delete(sh.index, sh.slots[top.slot].key)
	sh.free = append(sh.free, top.slot)
}

func (sh *memShard) swap(i, j int32) {
	h := sh.heap
	h[i], h[j] = h[j], h[i]
	sh.slots[h[i].slot].pos = i
	sh.slots[h[j].slot].pos = j
}

func (sh *memShard) up(i int32) {
	for i > 0 {
		p := (i - 1) / 2
		if sh.heap[p].tat <= sh.heap[i].tat {
			return
		}
		sh.swap(i, p)
		i = p
	}
}

func (sh *memShard) down(i int32) {
	n := int32(len(sh.heap))
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && sh.heap[r].tat < sh.heap[l].tat {
			m = r
		}
		if sh.heap[i].tat <= sh.heap[m].tat {
			return
		}
		sh.swap(i, m)
		i = m
	}
}
