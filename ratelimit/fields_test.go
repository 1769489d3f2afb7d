package ratelimit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeNow is what admitStored writes for l's result res.
func writeNow(h http.Header, l *Limiter, res Result) {
	policy, limit := l.policy, l.limit
	if res.Local {
		policy, limit = l.localPolicy, ""
	}
	writeHeaders(h, res, l.quoted, policy, limit)
}

// TestFieldsWriteToEqualsWritingInTurn: Fields.WriteTo writes what the
// limiters writing their fields in turn write, on 20,000 random sequences
// of decisions (allowed, denied, local fallback, negative remaining, ties)
// of one to five limiters (past the inline entries), with zero to two
// limiters admitted later writing theirs at once before WriteTo (their
// fields go after), and leaves f empty.
func TestFieldsWriteToEqualsWritingInTurn(t *testing.T) {
	set := mustSet(t, SetOptions{InstanceCount: 3})
	var ls []*Limiter
	for i, spec := range []string{"10/minute", "100/minute burst 3", "5/second", "1000/hour", "7/minute", "60/minute burst 120", "2/second"} {
		ls = append(ls, mustLimiter(t, Options{Name: fmt.Sprintf("l%d", i), Spec: MustParseSpec(spec), Set: set}))
	}
	rng := rand.New(rand.NewPCG(5, 6))
	decision := func() (*Limiter, Result) {
		l := ls[rng.IntN(len(ls))]
		res := Result{Allowed: rng.IntN(4) != 0, Limit: l.spec.Count, Window: l.spec.Period, Burst: l.spec.MaxBurst(),
			Remaining: rng.IntN(8) - 2, ResetAfter: time.Duration(rng.Int64N(int64(90 * time.Second))), Policy: l.name}
		if !res.Allowed && rng.IntN(3) != 0 {
			res.RetryAfter = time.Duration(rng.Int64N(int64(30 * time.Second)))
		}
		if rng.IntN(4) == 0 {
			res.Local, res.Limit = true, l.local.Count
		}
		return l, res
	}
	for i := range 20000 {
		type dec struct {
			l   *Limiter
			res Result
		}
		var pending, later []dec
		for range 1 + rng.IntN(5) {
			l, res := decision()
			pending = append(pending, dec{l, res})
		}
		for range rng.IntN(3) {
			l, res := decision()
			later = append(later, dec{l, res})
		}
		want := http.Header{"X-Other": {"x"}}
		for _, d := range append(slices.Clone(pending), later...) {
			writeNow(want, d.l, d.res)
		}
		got := http.Header{"X-Other": {"x"}}
		var f Fields
		for _, d := range pending {
			f.add(d.l, d.res)
		}
		for _, d := range later {
			writeNow(got, d.l, d.res)
		}
		f.WriteTo(got)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("sequence %d: pending %+v, later %+v:\nWriteTo   %v\nin turn   %v", i, pending, later, got, want)
		}
		if f.Len() != 0 || f.more != nil || f.e != [2]fieldEntry{} {
			t.Fatalf("sequence %d: WriteTo left %+v", i, f)
		}
	}
}

// TestFieldsWriteToOwnSlices: every field WriteTo sets has its own value
// slice, capped at its length: appending to one field's values or
// changing them leaves every other field as it was.
func TestFieldsWriteToOwnSlices(t *testing.T) {
	set := mustSet(t, SetOptions{})
	a := mustLimiter(t, Options{Name: "a", Spec: MustParseSpec("10/minute"), Set: set})
	b := mustLimiter(t, Options{Name: "b", Spec: MustParseSpec("5/minute"), Set: set})
	for _, later := range []bool{false, true} {
		t.Run(fmt.Sprintf("later limiter %v", later), func(t *testing.T) {
			keys := []string{keyPolicy, keyRateLimit, keyLimit, keyRemaining, keyReset}
			for _, k := range keys {
				h := http.Header{}
				if later {
					writeNow(h, b, Result{Allowed: true, Limit: 5, Window: time.Minute, Burst: 5, Remaining: 9})
				}
				var f Fields
				f.add(a, Result{Allowed: true, Limit: 10, Window: time.Minute, Burst: 10, Remaining: 3, ResetAfter: time.Second})
				f.add(b, Result{Allowed: true, Limit: 5, Window: time.Minute, Burst: 5, Remaining: 4, ResetAfter: time.Second})
				f.WriteTo(h)
				before := h.Clone()
				h[k] = append(h[k], "appended")
				h[k][0] = "changed"
				for _, o := range keys {
					if o != k && !reflect.DeepEqual(h[o], before[o]) {
						t.Errorf("changing %s's values changed %s: %q, was %q", k, o, h[o], before[o])
					}
				}
			}
		})
	}
}

// TestAdmitTo: AdmitIPTo, AdmitUserTo and AdmitKeyTo take from the same
// allowances as AdmitIP, AdmitUser and AdmitKey; an allowed request's
// fields wait in f, and a refused request's answer (429, or 503 when the
// store fails under FailClosed) carries the fields of the limiters before
// it, then its own, as when each writes in turn.
func TestAdmitTo(t *testing.T) {
	clk := &fakeClock{}
	store := &flakyStore{inner: NewMemoryStore(MemoryOptions{Now: clk.Now})}
	set := mustSet(t, SetOptions{Store: store, OnError: FailClosed, Now: clk.Now})
	global := mustLimiter(t, Options{Name: "global", Spec: MustParseSpec("10/minute"), Set: set})
	user := mustLimiter(t, Options{Name: "user", Spec: MustParseSpec("2/minute"), Set: set})
	op := mustLimiter(t, Options{Name: "op", Spec: MustParseSpec("100/minute"), Set: set})
	ip := netip.MustParseAddr("192.0.2.1")
	r := httptest.NewRequest("GET", "/", nil)

	var f Fields
	w := httptest.NewRecorder()
	if !global.AdmitIPTo(w, r, ip, &f) || !user.AdmitUserTo(w, r, "alice", &f) || !op.AdmitKeyTo(w, r, "op:x", &f) {
		t.Fatal("refused")
	}
	if len(w.Header()) != 0 || f.Len() != 3 {
		t.Fatalf("fields written before WriteTo: %v (f holds %d)", w.Header(), f.Len())
	}
	f.WriteTo(w.Header())
	wantHeaders(t, w, map[string]string{
		"RateLimit-Policy": `"global";q=10;w=60, "user";q=2;w=60, "op";q=100;w=60`,
		"RateLimit":        `"global";r=9;t=6, "user";r=1;t=30, "op";r=99;t=1`,
		"RateLimit-Limit":  "2", "RateLimit-Remaining": "1", "RateLimit-Reset": "30",
	})
	// The same allowances as the writing forms.
	if !global.AdmitIP(httptest.NewRecorder(), r, ip) || !user.AdmitUser(httptest.NewRecorder(), r, "alice") {
		t.Fatal("refused")
	}
	w = httptest.NewRecorder()
	if global.AdmitIPTo(w, r, ip, &f) == false || user.AdmitUserTo(w, r, "alice", &f) {
		t.Fatalf("the user's third request in a minute was not refused: %d", w.Code)
	}
	if w.Code != http.StatusTooManyRequests || f.Len() != 0 {
		t.Fatalf("status %d, f holds %d", w.Code, f.Len())
	}
	wantHeaders(t, w, map[string]string{
		"RateLimit-Policy":    `"global";q=10;w=60, "user";q=2;w=60`,
		"RateLimit":           `"global";r=7;t=18, "user";r=0;t=30`,
		"RateLimit-Remaining": "0", "Retry-After": "30",
	})
	store.fail.Store(true)
	w = httptest.NewRecorder()
	f.add(global, Result{Allowed: true, Limit: 10, Window: time.Minute, Burst: 10, Remaining: 5, ResetAfter: time.Second})
	if op.AdmitKeyTo(w, r, "op:x", &f) || w.Code != http.StatusServiceUnavailable || f.Len() != 0 {
		t.Fatalf("store outage: status %d, f holds %d", w.Code, f.Len())
	}
	wantHeaders(t, w, map[string]string{"RateLimit": `"global";r=5;t=1`, "RateLimit-Policy": `"global";q=10;w=60`})
	if _, err := op.Check(context.Background(), "k"); err == nil {
		t.Fatal("the store is failing")
	}
}

// recordingStore is a Store (not a MemoryStore) that records the keys it
// is asked for.
type recordingStore struct {
	inner *MemoryStore
	keys  []string
}

func (s *recordingStore) Allow(ctx context.Context, key string, spec Spec, n int) (Result, error) {
	s.keys = append(s.keys, key)
	return s.inner.Allow(ctx, key, spec, n)
}

// TestAdmitToKeys: the keys AdmitIPTo, AdmitUserTo and AdmitKeyTo build in
// a buffer are the keys AdmitIP, AdmitUser and AdmitKey use (prefix, kind,
// then the address, user or key; a user name longer than the buffer
// included): a store other than MemoryStore is asked for exactly those
// strings, and with a MemoryStore, which takes them as bytes, both forms
// take from one allowance.
func TestAdmitToKeys(t *testing.T) {
	long := strings.Repeat("ü", 200) // 400 bytes: past keyBuf
	ip := netip.MustParseAddr("2001:db8::1")
	r := httptest.NewRequest("GET", "/", nil)
	admits := []struct {
		name    string
		to      func(l *Limiter, f *Fields) bool
		writing func(l *Limiter) bool
		key     string
	}{
		{"ip", func(l *Limiter, f *Fields) bool { return l.AdmitIPTo(httptest.NewRecorder(), r, ip, f) },
			func(l *Limiter) bool { return l.AdmitIP(httptest.NewRecorder(), r, ip) }, "lim:ip:2001:db8::/64"},
		{"user", func(l *Limiter, f *Fields) bool { return l.AdmitUserTo(httptest.NewRecorder(), r, "alice", f) },
			func(l *Limiter) bool { return l.AdmitUser(httptest.NewRecorder(), r, "alice") }, "lim:user:alice"},
		{"long user", func(l *Limiter, f *Fields) bool { return l.AdmitUserTo(httptest.NewRecorder(), r, long, f) },
			func(l *Limiter) bool { return l.AdmitUser(httptest.NewRecorder(), r, long) }, "lim:user:" + long},
		{"key", func(l *Limiter, f *Fields) bool { return l.AdmitKeyTo(httptest.NewRecorder(), r, "op:x", f) },
			func(l *Limiter) bool { return l.AdmitKey(httptest.NewRecorder(), r, "op:x") }, "lim:op:x"},
	}
	for _, tc := range admits {
		t.Run(tc.name+"/other store", func(t *testing.T) {
			store := &recordingStore{inner: NewMemoryStore(MemoryOptions{})}
			l := mustLimiter(t, Options{Name: "lim", Spec: MustParseSpec("3/minute"), Set: mustSet(t, SetOptions{Store: store})})
			var f Fields
			if !tc.to(l, &f) || !tc.writing(l) {
				t.Fatal("refused")
			}
			if want := []string{tc.key, tc.key}; !slices.Equal(store.keys, want) {
				t.Fatalf("store asked for %q, want %q", store.keys, want)
			}
		})
		t.Run(tc.name+"/memory store", func(t *testing.T) {
			store := NewMemoryStore(MemoryOptions{})
			l := mustLimiter(t, Options{Name: "lim", Spec: MustParseSpec("3/minute"), Set: mustSet(t, SetOptions{Store: store})})
			var f Fields
			if !tc.to(l, &f) || !tc.writing(l) || !tc.to(l, &f) {
				t.Fatal("refused within the allowance")
			}
			if tc.to(l, &f) || tc.writing(l) {
				t.Fatal("a fourth request in a minute was admitted: the two forms keep separate allowances")
			}
			if res, err := l.Check(context.Background(), strings.TrimPrefix(tc.key, "lim:")); err != nil || res.Allowed {
				t.Fatalf("Check of the same key: %+v, %v", res, err)
			}
			if store.Len() != 1 {
				t.Fatalf("%d keys stored, want 1", store.Len())
			}
		})
	}
}

// TestAdmitToAllocations: with the in-memory store, admitting by address,
// user or key, and checking a key, allocate nothing (the key stays in
// keyBuf).
func TestAdmitToAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	l := mustLimiter(t, Options{Name: "lim", Spec: MustParseSpec("1000000/second"), Set: mustSet(t, SetOptions{})})
	r := httptest.NewRequest("GET", "/", nil)
	w := httptest.NewRecorder()
	ip := netip.MustParseAddr("192.0.2.1")
	var f Fields
	got := testing.AllocsPerRun(100, func() {
		l.AdmitIPTo(w, r, ip, &f)
		l.AdmitUserTo(w, r, "alice", &f)
		f.Reset() // f holds two decisions inline; a third would be appended
		l.AdmitKeyTo(w, r, "op:x", &f)
		f.Reset()
		_, _ = l.Check(context.Background(), "user:bob")
	})
	if got != 0 {
		t.Fatalf("%.1f allocations per three admissions and a check, want 0", got)
	}
}
