package token

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fortapi/fortapi/jwtkey"
)

// cache holds verified tokens: only a token whose signature and claims
// verified is ever inserted, so attacker-chosen strings cannot fill it.
//
// It is split into shards, each a map from a seeded 64-bit hash of the
// token to its entry plus a fixed array of slots swept by a CLOCK hand. A
// shard never holds more than its capacity; the shards' capacities add up
// to at most the configured size. A lookup compares the full token string,
// so a hash collision is a miss, never a wrong hit.
//
// Eviction is CLOCK (second chance): a hit sets the entry's reference bit;
// the hand clears set bits and evicts the first entry whose bit is clear or
// whose token has expired. A new entry starts unreferenced, so a flood of
// tokens seen once evicts each other before it evicts tokens in use.
//
// Verify's strict base64url decoding gives every token one spelling, so a
// client holding one valid token cannot mint variants to fill the cache.
// ECDSA's malleable signature (s and n-s both verify) is closed too: ES256
// tokens are issued with a low s and a high s is refused.
type cache struct {
	seed   maphash.Seed
	mask   uint64
	shards []shard
}

type shard struct {
	mu    sync.RWMutex
	cap   int
	hand  int
	m     map[uint64]*entry
	slots []*entry
	_     [64]byte // keep shards' locks on separate cache lines
}

// entry is immutable once inserted, except ref.
type entry struct {
	key      string
	hash     uint64
	slot     int
	claims   *Claims
	alg      jwtkey.Alg
	vkey     any       // the verifying key the signature was checked with
	expLimit time.Time // refused from this instant on: exp + leeway
	nbfLimit time.Time // refused before this instant: nbf - leeway
	ref      atomic.Bool
}

// maxShards is the shard count for large caches; small ones use fewer so
// that every shard holds at least minPerShard entries.
const (
	maxShards   = 64
	minPerShard = 16
)

func newCache(size int) *cache {
	n := 1
	for n < maxShards && n*2*minPerShard <= size {
		n *= 2
	}
	c := &cache{seed: maphash.MakeSeed(), mask: uint64(n - 1), shards: make([]shard, n)}
	per := size / n
	for i := range c.shards {
		c.shards[i].cap = per
		c.shards[i].m = make(map[uint64]*entry, per)
		c.shards[i].slots = make([]*entry, 0, per)
	}
	return c
}

func (c *cache) hash(tok string) uint64 { return maphash.String(c.seed, tok) }

func (c *cache) shard(h uint64) *shard { return &c.shards[(h>>32^h)&c.mask] }

// get returns the entry for tok, or nil.
func (c *cache) get(h uint64, tok string) *entry {
	s := c.shard(h)
	s.mu.RLock()
	e := s.m[h]
	s.mu.RUnlock()
	if e == nil || e.key != tok {
		return nil
	}
	return e
}

// put inserts e (with e.hash set), evicting one entry when the shard is full.
func (c *cache) put(e *entry, now time.Time) {
	s := c.shard(e.hash)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cap == 0 {
		return
	}
	if old := s.m[e.hash]; old != nil {
		if old.key == e.key {
			return // verified concurrently by another request
		}
		// A 64-bit collision between two tokens: the newer one wins.
		e.slot = old.slot
		s.slots[e.slot] = e
		s.m[e.hash] = e
		return
	}
	if len(s.slots) < s.cap {
		e.slot = len(s.slots)
		s.slots = append(s.slots, e)
		s.m[e.hash] = e
		return
	}
	// The first sweep clears every set bit, so this ends within cap+1 steps.
	for {
		v := s.slots[s.hand]
		if v.ref.Load() && now.Before(v.expLimit) {
			v.ref.Store(false)
			s.hand = (s.hand + 1) % s.cap
			continue
		}
		delete(s.m, v.hash)
		e.slot = s.hand
		s.slots[s.hand] = e
		s.m[e.hash] = e
		s.hand = (s.hand + 1) % s.cap
		return
	}
}

// touch marks e as recently used. The load first keeps hot entries' cache
// lines shared between cores.
func (e *entry) touch() {
	if !e.ref.Load() {
		e.ref.Store(true)
	}
}

// len returns the number of cached tokens.
func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		if len(s.m) != len(s.slots) {
			n = -1 << 30 // corrupt: make tests fail loudly
		}
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// capacity returns the most tokens the cache can hold.
func (c *cache) capacity() int {
	n := 0
	for i := range c.shards {
		n += c.shards[i].cap
	}
	return n
}
