package ratelimit

import (
	"context"
	"fmt"
	"time"
)

// Store keeps one GCRA state (the theoretical arrival time, TAT) per key.
// Its one operation is an atomic check-and-update; implementations must be
// safe for concurrent use and exact: concurrent calls on one key behave as
// if made one after the other.
type Store interface {
	// Allow asks for n cells (requests) of key under spec. n = 0 asks
	// whether one request would be allowed, without taking it (a peek).
	// spec is valid and 0 <= n <= spec.MaxBurst(); a store may return an
	// error otherwise. An error means the store could not decide.
	Allow(ctx context.Context, key string, spec Spec, n int) (Result, error)
}

// Result is the outcome of one check.
type Result struct {
	Allowed bool

	Limit  int           // the policy's quota: Spec.Count (RateLimit-Policy q)
	Window time.Duration // the policy's window: Spec.Period (RateLimit-Policy w)
	Burst  int           // Spec.MaxBurst(): the most Remaining can be

	// Remaining is how many more requests would be allowed right now.
	Remaining int
	// RetryAfter is, when denied, how long until the request would be
	// allowed; 0 when allowed.
	RetryAfter time.Duration
	// ResetAfter is how long until the key is back to a full burst.
	ResetAfter time.Duration

	// Policy is the name of the limiter that decided (set by Limiter).
	Policy string
	// Local is true when the local fallback limiter decided because the
	// store was unavailable (FailOpen).
	Local bool
}

// gcra holds a spec in the integer form the algorithm uses.
type gcra struct {
	interval int64 // emission interval T, ns (a whole number of µs)
	tol      int64 // burst tolerance: Burst × T, ns
	spec     Spec
}

func newGCRA(spec Spec, n int) (gcra, error) {
	if err := spec.check(); err != nil {
		return gcra{}, fmt.Errorf("ratelimit: invalid spec %s: %w", spec.debug(), err)
	}
	if n < 0 || n > spec.MaxBurst() {
		return gcra{}, fmt.Errorf("ratelimit: cost %d outside 0..%d (the burst of %s)", n, spec.MaxBurst(), spec)
	}
	iv := int64(spec.Interval())
	return gcra{interval: iv, tol: int64(spec.MaxBurst()) * iv, spec: spec}, nil
}

// decide is GCRA. now and tat are on one clock (ns); tat is the stored
// theoretical arrival time, or anything <= now for an absent key. Taking n
// cells moves the TAT to max(tat, now) + n×T; that is allowed when the new
// TAT is at most Burst×T ahead of now. It returns the TAT to store, or
// ok=false when nothing changes (denied, or a peek).
func (g gcra) decide(now, tat int64, n int) (res Result, newTAT int64, store bool) {
	if tat < now {
		tat = now
	}
	res = Result{Limit: g.spec.Count, Window: g.spec.Period, Burst: g.spec.MaxBurst()}
	cells := int64(max(n, 1))
	next := tat + cells*g.interval
	if next-now > g.tol {
		res.Remaining = int(max(0, g.tol-(tat-now)) / g.interval) // < 0 only if the clock went back
		res.RetryAfter = time.Duration(next - now - g.tol)
		res.ResetAfter = time.Duration(tat - now)
		return res, 0, false
	}
	res.Allowed = true
	if n == 0 { // peek: one more would be allowed; nothing is taken
		res.Remaining = int((g.tol - (tat - now)) / g.interval)
		res.ResetAfter = time.Duration(tat - now)
		return res, 0, false
	}
	res.Remaining = int((g.tol - (next - now)) / g.interval)
	res.ResetAfter = time.Duration(next - now)
	return res, next, true
}
