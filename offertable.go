package fortapi

import (
	"sync"
	"unsafe"
)

// offerTable holds the sanitizer's offers (bodyoffer.go) by the address of
// huma's body buffer: the four operations of sync.Map that the offers use,
// on a few mutex-guarded Go maps. An offer lives for one request, so the
// table sees one insertion and one deletion per sanitized request; a Go
// map reuses the slot a deletion frees, where sync.Map allocates a node
// for every insertion. A lock is held for one map operation. The zero
// value is ready to use.
type offerTable struct {
	shards [offerShards]offerShard
}

// offerShards spreads the offers of concurrent requests over this many
// locks (a power of two).
const offerShards = 16

type offerShard struct {
	mu sync.Mutex                         // 8 bytes
	m  map[unsafe.Pointer]*sanitizingBody // 8 bytes
	_  [64 - 16]byte                      // a shard per 64-byte cache line, so that neighbours' locks do not share one
}

// shard is the shard of key: the address's bits above the alignment of
// huma's buffers, mixed (Fibonacci hashing), so that buffers allocated
// side by side land on different locks.
func (t *offerTable) shard(key unsafe.Pointer) *offerShard {
	h := (uint64(uintptr(key)) >> 4) * 0x9e3779b97f4a7c15
	return &t.shards[h>>(64-4)]
}

// store makes b the offer at key, replacing any.
func (t *offerTable) store(key unsafe.Pointer, b *sanitizingBody) {
	s := t.shard(key)
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[unsafe.Pointer]*sanitizingBody)
	}
	s.m[key] = b
	s.mu.Unlock()
}

// load returns the offer at key.
func (t *offerTable) load(key unsafe.Pointer) (*sanitizingBody, bool) {
	s := t.shard(key)
	s.mu.Lock()
	b, ok := s.m[key]
	s.mu.Unlock()
	return b, ok
}

// loadAndDelete removes the offer at key and returns it.
func (t *offerTable) loadAndDelete(key unsafe.Pointer) (*sanitizingBody, bool) {
	s := t.shard(key)
	s.mu.Lock()
	b, ok := s.m[key]
	if ok {
		delete(s.m, key)
	}
	s.mu.Unlock()
	return b, ok
}

// compareAndDelete removes the offer at key if it is b.
func (t *offerTable) compareAndDelete(key unsafe.Pointer, b *sanitizingBody) {
	s := t.shard(key)
	s.mu.Lock()
	if s.m[key] == b {
		delete(s.m, key)
	}
	s.mu.Unlock()
}
