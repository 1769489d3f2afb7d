package token

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestCacheBound: after 10x CacheSize distinct valid tokens the cache holds
// no more than CacheSize.
func TestCacheBound(t *testing.T) {
	for _, size := range []int{1, 7, 31, 64, 100, 1000} {
		t.Run(itoa(int64(size)), func(t *testing.T) {
			e := newEnv(t, func(o *Options) { o.CacheSize = size })
			if c := e.svc.cache.capacity(); c > size || c < size*3/4 {
				t.Fatalf("capacity %d for CacheSize %d", c, size)
			}
			for i := range 10 * size {
				tok, _ := e.issue(t, "hs1", "user"+itoa(int64(i)), "s1")
				if _, err := e.svc.Verify(context.Background(), tok); err != nil {
					t.Fatal(err)
				}
				if n := e.svc.cache.len(); n > size {
					t.Fatalf("cache holds %d tokens, CacheSize %d", n, size)
				}
			}
			if n := e.svc.cache.len(); n != e.svc.cache.capacity() {
				t.Errorf("cache holds %d tokens after the flood, capacity %d", n, e.svc.cache.capacity())
			}
		})
	}
}

// TestCacheRefusedTokensNotCached: only tokens whose signature verified
// enter the cache.
func TestCacheRefusedTokensNotCached(t *testing.T) {
	e := newEnv(t, nil)
	now := e.clock.Now()
	for _, tok := range []string{
		"a.b.c",
		signRaw(t, e.keys, "ed2", obj(header("EdDSA", "ed1")), obj(claimsAt(now))),
		signRaw(t, e.keys, "ed1", obj(header("EdDSA", "ed1")), obj(set(claimsAt(now), "iss", q("x")))),
		hmacRaw(t, []byte("guess"), obj(header("HS256", "hs1")), obj(claimsAt(now))),
	} {
		if _, err := e.svc.Verify(context.Background(), tok); err == nil {
			t.Fatal("accepted")
		}
	}
	if n := e.svc.cache.len(); n != 0 {
		t.Errorf("cache holds %d refused tokens", n)
	}
}

// TestCacheKeepsHotTokens: CLOCK gives a token in use a second chance, so
// a flood of tokens seen once does not evict it.
func TestCacheKeepsHotTokens(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.CacheSize = 16 })
	hot, _ := e.issue(t, "hs1", "alice", "s1")
	if _, err := e.svc.Verify(context.Background(), hot); err != nil {
		t.Fatal(err)
	}
	h := e.svc.cache.hash(hot)
	for i := range 200 {
		if _, err := e.svc.Verify(context.Background(), hot); err != nil {
			t.Fatal(err)
		}
		tok, _ := e.issue(t, "hs1", "flood"+itoa(int64(i)), "s1")
		if _, err := e.svc.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
		if e.svc.cache.get(h, hot) == nil {
			t.Fatalf("hot token evicted after %d other tokens", i+1)
		}
	}
}

// TestCacheEvictsExpiredFirst: an expired token gives way even if it was
// used.
func TestCacheEvictsExpiredFirst(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.CacheSize = 16 })
	old, _ := e.issue(t, "hs1", "old", "s1")
	for range 2 {
		if _, err := e.svc.Verify(context.Background(), old); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Advance(time.Minute)
	var fresh []string
	for i := range 15 {
		tok, _ := e.issue(t, "hs1", "u"+itoa(int64(i)), "s1")
		fresh = append(fresh, tok)
		for range 2 {
			if _, err := e.svc.Verify(context.Background(), tok); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.clock.Advance(15*time.Minute - time.Minute + 30*time.Second) // old expired, fresh not
	tok, _ := e.issue(t, "hs1", "new", "s1")
	if _, err := e.svc.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if e.svc.cache.get(e.svc.cache.hash(old), old) != nil {
		t.Error("expired token kept")
	}
	for _, f := range fresh {
		if e.svc.cache.get(e.svc.cache.hash(f), f) == nil {
			t.Error("a used, valid token was evicted instead of the expired one")
		}
	}
}

// TestCacheCollision: two tokens with one hash never answer for each other.
func TestCacheCollision(t *testing.T) {
	c := newCache(16)
	now := time.Now()
	a := &entry{key: "a", hash: 42, claims: &Claims{Subject: "a"}, expLimit: now.Add(time.Hour)}
	b := &entry{key: "b", hash: 42, claims: &Claims{Subject: "b"}, expLimit: now.Add(time.Hour)}
	c.put(a, now)
	if c.get(42, "b") != nil {
		t.Fatal("b found under a's hash")
	}
	c.put(b, now)
	if c.get(42, "a") != nil || c.get(42, "b") != b || c.len() != 1 {
		t.Fatal("collision not resolved by replacement")
	}
}

// TestConcurrentVerify runs under -race: many goroutines verify the same
// and different tokens through a small cache while revocations and keys
// change.
func TestConcurrentVerify(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.CacheSize = 32 })
	var toks []string
	for i := range 64 {
		kid := []string{"ed1", "es1", "hs1"}[i%3]
		tok, _ := e.issue(t, kid, "user"+itoa(int64(i)), "s"+itoa(int64(i)))
		toks = append(toks, tok)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				tok := toks[0] // the same token from everyone
				if g%2 == 1 {
					tok = toks[(g*31+i)%len(toks)]
				}
				c, err := e.svc.Verify(context.Background(), tok)
				if err == nil && !strings.HasPrefix(c.Subject, "user") {
					t.Error("bad claims")
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			e.rev.RevokeSession("s"+itoa(int64(i%64+1)), e.clock.Now().Add(time.Hour))
			e.rev.Prune()
			if i%10 == 0 {
				e.keys.remove("es1")
				e.keys.add(e.keys.signing("es1"), e.keys.verifying("es2"))
			}
		}
	}()
	time.Sleep(10 * time.Millisecond)
	close(stop)
	wg.Wait()
	if n := e.svc.cache.len(); n > 32 {
		t.Errorf("cache holds %d", n)
	}
	if _, err := e.svc.Verify(context.Background(), toks[0]); err != nil {
		t.Errorf("token 0: %v", err)
	}
}
