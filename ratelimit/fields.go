package ratelimit

import (
	"net/http"
	"net/netip"
	"strconv"
)

// Fields holds the rate-limit header fields of the limiters that admitted
// a request, for writing them into the response header at once (WriteTo)
// instead of each limiter writing its own in turn: the same fields, values
// and order, in five map assignments and two allocations whatever the
// number of limiters, where every limiter's own write looks up, appends
// and reassigns. A framework that passes a request through several limits
// (a global one, then an operation's) keeps one Fields per request and
// admits with AdmitIPTo, AdmitUserTo and AdmitKeyTo.
//
// The zero value is empty. A Fields is for one request at a time and is
// not safe for concurrent use.
type Fields struct {
	n    int
	e    [2]fieldEntry
	more []fieldEntry // entries beyond len(e)
}

// fieldEntry is what the fields say of one limiter's decision (small:
// it lives in per-request state).
type fieldEntry struct {
	l         *Limiter
	remaining int   // never negative
	resetSecs int64 // until reset, or until Retry-After on a denial
	local     bool  // the local fallback decided: its policy and limit
	limit     int   // the local fallback's limit
}

// HasFields reports whether h holds a RateLimit-Policy, RateLimit or
// RateLimit-Remaining field: whether Fields collected from now on would
// not be the first written (WriteTo writes them before those).
func HasFields(h http.Header) bool {
	return len(h[keyPolicy]) > 0 || len(h[keyRateLimit]) > 0 || len(h[keyRemaining]) > 0
}

// Len is the number of limiters whose fields f holds.
func (f *Fields) Len() int { return f.n }

// Reset empties f without writing anything.
func (f *Fields) Reset() {
	f.e = [2]fieldEntry{}
	f.more = nil
	f.n = 0
}

func (f *Fields) add(l *Limiter, res Result) {
	remaining, resetSecs := fieldNumbers(res)
	e := fieldEntry{l: l, remaining: remaining, resetSecs: resetSecs, local: res.Local, limit: res.Limit}
	if f.n < len(f.e) {
		f.e[f.n] = e
	} else {
		f.more = append(f.more, e)
	}
	f.n++
}

func (f *Fields) at(i int) *fieldEntry {
	if i < len(f.e) {
		return &f.e[i]
	}
	return &f.more[i-len(f.e)]
}

// AdmitIPTo is AdmitIP, except that the fields of an allowed request are
// added to f rather than written. A refused request's answer (429, or 503
// when the store fails under FailClosed) carries f's fields first, as
// when every limiter writes its own in turn.
func (l *Limiter) AdmitIPTo(w http.ResponseWriter, r *http.Request, a netip.Addr, f *Fields) bool {
	var buf keyBuf
	return l.admitStoredTo(w, r, l.ipKey(&buf, a), f)
}

// AdmitUserTo is AdmitUser, adding to f as AdmitIPTo does.
func (l *Limiter) AdmitUserTo(w http.ResponseWriter, r *http.Request, user string, f *Fields) bool {
	var buf keyBuf
	return l.admitStoredTo(w, r, l.keyOf(&buf, "user:", user), f)
}

// AdmitKeyTo is AdmitKey, adding to f as AdmitIPTo does.
func (l *Limiter) AdmitKeyTo(w http.ResponseWriter, r *http.Request, key string, f *Fields) bool {
	var buf keyBuf
	return l.admitStoredTo(w, r, l.keyOf(&buf, "", key), f)
}

func (l *Limiter) admitStoredTo(w http.ResponseWriter, r *http.Request, key []byte, f *Fields) bool {
	res, err := l.takeStored(r.Context(), key, 1)
	if err != nil {
		f.WriteTo(w.Header())
		WriteUnavailable(w, r, res)
		return false
	}
	f.add(l, res)
	if !res.Allowed {
		f.WriteTo(w.Header())
		WriteTooManyRequests(w, r, res)
		return false
	}
	return true
}

// WriteTo writes f's fields into h as if f's limiters had written theirs
// in turn before any rate-limit field h already holds (a limiter admitted
// later that wrote its own at once), and empties f:
//
//	RateLimit-Policy: each limiter's policy item, then those h held
//	RateLimit: each limiter's item, then those h held
//
// and RateLimit-Limit, -Remaining and -Reset of the most restrictive (the
// lowest remaining; the first of equals), unless h already held a
// RateLimit-Remaining strictly lower (or one that is not a number: someone
// set it deliberately).
func (f *Fields) WriteTo(h http.Header) {
	n := f.n
	if n == 0 {
		return
	}
	defer f.Reset()
	// The items (name;r=REMAINING;t=RESET) in one string, and the most
	// restrictive entry.
	var buf [192]byte
	b := buf[:0]
	var ends [8]int
	var endsMore []int
	best, bestRemaining := 0, 0
	var r0, r1, t0, t1 int // the best item's numbers in b
	for i := range n {
		e := f.at(i)
		remaining := e.remaining
		var rs, re, ts int
		b, rs, re, ts = appendItem(b, e.l.quoted, remaining, e.resetSecs)
		if i == 0 || remaining < bestRemaining {
			best, bestRemaining = i, remaining
			r0, r1, t0, t1 = rs, re, ts, len(b)
		}
		if i < len(ends) {
			ends[i] = len(b)
		} else {
			endsMore = append(endsMore, len(b))
		}
	}
	items := string(b)
	end := func(i int) int {
		if i < len(ends) {
			return ends[i]
		}
		return endsMore[i-len(ends)]
	}

	oldPolicy, oldItems, oldRemaining := h[keyPolicy], h[keyRateLimit], h[keyRemaining]
	// One backing array: the policies, the items, then the three
	// single-valued fields. Every slice is capped at its own length, so
	// that an append to one field's values copies rather than writing
	// into the next field's.
	vals := make([]string, 2*n+len(oldPolicy)+len(oldItems)+3)
	policies := vals[:n+len(oldPolicy)]
	rest := vals[len(policies):]
	itemVals := rest[:n+len(oldItems)]
	rest = rest[len(itemVals):]
	start := 0
	for i := range n {
		e := f.at(i)
		policies[i] = e.l.policy
		if e.local {
			policies[i] = e.l.localPolicy
		}
		itemVals[i] = items[start:end(i)]
		start = end(i)
	}
	copy(policies[n:], oldPolicy)
	copy(itemVals[n:], oldItems)
	h[keyPolicy] = policies[:len(policies):len(policies)]
	h[keyRateLimit] = itemVals[:len(itemVals):len(itemVals)]

	if len(oldRemaining) > 0 {
		if m, err := strconv.Atoi(oldRemaining[0]); err != nil || m < bestRemaining {
			return
		}
	}
	e := f.at(best)
	limit := e.l.limit
	if e.local {
		limit = strconv.Itoa(e.limit)
	}
	rest[0], rest[1], rest[2] = limit, items[r0:r1], items[t0:t1]
	h[keyLimit], h[keyRemaining], h[keyReset] = rest[0:1:1], rest[1:2:2], rest[2:3:3]
}

// fieldNumbers is what writeHeaders puts in a result's RateLimit item:
// the requests remaining (never negative) and the seconds until reset
// (until Retry-After on a denial).
func fieldNumbers(res Result) (remaining int, resetSecs int64) {
	reset := res.ResetAfter
	if !res.Allowed && res.RetryAfter > 0 {
		reset = res.RetryAfter
	}
	return max(0, res.Remaining), ceilSeconds(reset)
}
