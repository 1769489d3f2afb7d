package authn

import (
	"sync"
	"time"
)

// Throttle settings; see ThrottleOptions.
const (
	DefaultFreeFailures = 5
	DefaultFirstDelay   = time.Second
	DefaultMaxDelay     = time.Minute
	DefaultForgetAfter  = 15 * time.Minute
	DefaultMaxAccounts  = 100_000
)

// ThrottleOptions configure the per-account login throttle. After
// FreeFailures failed logins in a row for one username, each further attempt
// must wait a delay that doubles with every failure, from FirstDelay up to
// MaxDelay: an online guessing attack slows to one guess per MaxDelay, yet
// the owner is never locked out for longer than MaxDelay (an attacker cannot
// impose a permanent lockout). A success, or ForgetAfter without a failure,
// clears the count. Usernames are throttled whether or not they exist, so
// the throttle says nothing about which accounts exist.
type ThrottleOptions struct {
	FreeFailures int           // default 5
	FirstDelay   time.Duration // default 1s
	MaxDelay     time.Duration // default 1m
	ForgetAfter  time.Duration // default 15m
	// MaxAccounts bounds memory: the most usernames tracked at once
	// (default 100,000). When full, forgotten entries are dropped first,
	// then arbitrary ones.
	MaxAccounts int
}

func (o ThrottleOptions) withDefaults() ThrottleOptions {
	if o.FreeFailures <= 0 {
		o.FreeFailures = DefaultFreeFailures
	}
	if o.FirstDelay <= 0 {
		o.FirstDelay = DefaultFirstDelay
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = DefaultMaxDelay
	}
	if o.ForgetAfter <= 0 {
		o.ForgetAfter = DefaultForgetAfter
	}
	if o.MaxAccounts <= 0 {
		o.MaxAccounts = DefaultMaxAccounts
	}
	return o
}

type throttleEntry struct {
	failures int
	last     time.Time // last failure
	until    time.Time // no attempt before this
}

// throttle is the in-memory per-account login throttle. It is per process:
// with several instances each keeps its own (the per-username rate limit
// on Redis is the global bound).
type throttle struct {
	opts ThrottleOptions
	mu   sync.Mutex
	m    map[string]*throttleEntry
}

func newThrottle(o ThrottleOptions) *throttle {
	return &throttle{opts: o.withDefaults(), m: make(map[string]*throttleEntry)}
}

// wait returns how long the account must wait before its next attempt
// (0: go ahead).
func (t *throttle) wait(key string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[key]
	if !ok {
		return 0
	}
	if now.Sub(e.last) >= t.opts.ForgetAfter {
		delete(t.m, key)
		return 0
	}
	if d := e.until.Sub(now); d > 0 {
		return d
	}
	return 0
}

// fail records a failed attempt.
func (t *throttle) fail(key string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[key]
	if !ok || now.Sub(e.last) >= t.opts.ForgetAfter {
		if !ok && len(t.m) >= t.opts.MaxAccounts {
			t.evictLocked(now)
		}
		e = &throttleEntry{}
		t.m[key] = e
	}
	e.failures++
	e.last = now
	if over := e.failures - t.opts.FreeFailures; over > 0 {
		d := t.opts.FirstDelay
		for i := 1; i < over && d < t.opts.MaxDelay; i++ {
			d *= 2
		}
		e.until = now.Add(min(d, t.opts.MaxDelay))
	}
}

// succeed clears the account's failures.
func (t *throttle) succeed(key string) {
	t.mu.Lock()
	delete(t.m, key)
	t.mu.Unlock()
}

// evictLocked makes room: forgotten entries first, then, if none was
// forgotten, an arbitrary tenth of the map (Go's map order is randomized,
// so an attacker cannot choose which accounts are dropped).
func (t *throttle) evictLocked(now time.Time) {
	for k, e := range t.m {
		if now.Sub(e.last) >= t.opts.ForgetAfter {
			delete(t.m, k)
		}
	}
	if len(t.m) < t.opts.MaxAccounts {
		return
	}
	drop := max(1, len(t.m)/10)
	for k := range t.m {
		if drop == 0 {
			break
		}
		delete(t.m, k)
		drop--
	}
}

// len returns the number of tracked accounts (tests).
func (t *throttle) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}
