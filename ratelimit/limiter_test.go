package ratelimit

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fortapi/fortapi/internal/problem"
	"github.com/fortapi/fortapi/internal/testutil"
)

// flakyStore fails while fail is set, and counts calls.
type flakyStore struct {
	inner Store
	fail  atomic.Bool
	calls atomic.Int64
}

func (f *flakyStore) Allow(ctx context.Context, key string, spec Spec, n int) (Result, error) {
	f.calls.Add(1)
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if f.fail.Load() {
		return Result{}, errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")
	}
	return f.inner.Allow(ctx, key, spec, n)
}

func mustLimiter(t testing.TB, opts Options) *Limiter {
	t.Helper()
	l, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func mustSet(t testing.TB, opts SetOptions) *Set {
	t.Helper()
	s, err := NewSet(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"message":"hello"}`)
})

func serve(h http.Handler, method, remote string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "/protected", nil)
	r.RemoteAddr = remote
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func wantHeaders(t *testing.T, w *httptest.ResponseRecorder, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := strings.Join(w.Header().Values(k), ", "); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
}

func TestMiddleware(t *testing.T) {
	clk := &fakeClock{}
	set := mustSet(t, SetOptions{Now: clk.Now})
	l := mustLimiter(t, Options{Spec: MustParseSpec("5/minute"), Set: set})
	h := l.Middleware(okHandler)

	for i := range 5 {
		w := serve(h, "GET", "192.0.2.1:1234")
		if w.Code != 200 {
			t.Fatalf("request %d: %d", i+1, w.Code)
		}
		if i == 0 {
			wantHeaders(t, w, map[string]string{
				"RateLimit-Policy":    `"default";q=5;w=60`,
				"RateLimit":           `"default";r=4;t=12`,
				"RateLimit-Limit":     "5",
				"RateLimit-Remaining": "4",
				"RateLimit-Reset":     "12",
				"Retry-After":         "",
			})
		}
	}
	w := serve(h, "GET", "192.0.2.1:9999") // same host, other port
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("6th request: %d", w.Code)
	}
	wantHeaders(t, w, map[string]string{
		"Content-Type":           "application/problem+json",
		"Retry-After":            "12",
		"RateLimit-Policy":       `"default";q=5;w=60`,
		"RateLimit":              `"default";r=0;t=12`,
		"RateLimit-Limit":        "5",
		"RateLimit-Remaining":    "0",
		"RateLimit-Reset":        "12",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
	})
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if _, ok := body["type"]; ok || body["title"] != "Too Many Requests" || body["status"] != 429.0 ||
		!strings.Contains(body["detail"].(string), "12 second") {
		t.Fatalf("body %v", body)
	}
	if strings.Contains(w.Body.String(), "hello") {
		t.Fatal("next handler ran")
	}

	if w := serve(h, "GET", "192.0.2.2:1"); w.Code != 200 {
		t.Fatalf("another client: %d", w.Code)
	}
	clk.Advance(12 * time.Second)
	if w := serve(h, "GET", "192.0.2.1:1"); w.Code != 200 {
		t.Fatalf("after 12 s: %d", w.Code)
	}
	if w := serve(h, "HEAD", "192.0.2.1:1"); w.Code != 429 || w.Body.Len() != 0 {
		t.Fatalf("HEAD: %d, %d bytes", w.Code, w.Body.Len())
	}
	st := l.Stats()
	if st.Allowed != 7 || st.Denied != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestMiddlewareKeys(t *testing.T) {
	clk := &fakeClock{}
	set := mustSet(t, SetOptions{Now: clk.Now})
	spec := MustParseSpec("1/minute")
	user := func(r *http.Request) (string, bool) {
		u := r.Header.Get("X-Test-User")
		return u, u != ""
	}
	for _, tc := range []struct {
		name    string
		key     KeyFunc
		remotes []string // first allowed, second denied (same key)
		other   string   // a different key: allowed
	}{
		{"default key is the peer, IPv6 by /64", nil, []string{"[2001:db8:1:2::1]:1", "[2001:db8:1:2::ffff]:2"}, "[2001:db8:1:3::1]:1"},
		{"mapped IPv4 peer is IPv4", nil, []string{"[::ffff:192.0.2.9]:1", "192.0.2.9:2"}, "192.0.2.10:1"},
		{"forwarding headers ignored by default", nil, []string{"192.0.2.20:1", "192.0.2.20:1|203.0.113.1"}, "192.0.2.21:1"},
		{"by client IP", ByClientIP(func(r *http.Request) netip.Addr { return netip.MustParseAddr(r.Header.Get("X-Test-IP")) }),
			[]string{"|198.51.100.1", "|198.51.100.1"}, "|198.51.100.2"},
		{"by operation shared", ByOperation("createItem", nil), []string{"192.0.2.30:1", "192.0.2.31:1"}, ""},
		{"by operation per IP", ByOperation("createItem", ByClientIP(func(r *http.Request) netip.Addr {
			return netip.MustParseAddr(r.Header.Get("X-Test-IP"))
		})), []string{"|198.51.100.1", "|198.51.100.1"}, "|198.51.100.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := mustLimiter(t, Options{Name: strings.NewReplacer(" ", "-", ",", "", "/", "").Replace(tc.name), Spec: spec, Key: tc.key, Set: set})
			h := l.Middleware(okHandler)
			do := func(remote string) int {
				peer, ip, _ := strings.Cut(remote, "|")
				if peer == "" {
					peer = "10.9.9.9:1"
				}
				r := httptest.NewRequest("GET", "/", nil)
				r.RemoteAddr = peer
				r.Header.Set("X-Forwarded-For", ip)
				r.Header.Set("X-Test-IP", ip)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				return w.Code
			}
			if c := do(tc.remotes[0]); c != 200 {
				t.Fatalf("first: %d", c)
			}
			if c := do(tc.remotes[1]); c != 429 {
				t.Fatalf("second, same key: %d", c)
			}
			if tc.other != "" {
				if c := do(tc.other); c != 200 {
					t.Fatalf("other key: %d", c)
				}
			}
		})
	}

	t.Run("by user, anonymous not limited", func(t *testing.T) {
		l := mustLimiter(t, Options{Name: "user", Spec: spec, Key: ByUser(user), Set: set})
		h := l.Middleware(okHandler)
		for i := range 3 {
			w := serve(h, "GET", "192.0.2.1:1")
			if w.Code != 200 || w.Header().Get("RateLimit") != "" {
				t.Fatalf("anonymous %d: %d %v", i, w.Code, w.Header())
			}
		}
		for i, want := range []int{200, 429} {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("X-Test-User", "alice")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != want {
				t.Fatalf("alice %d: %d", i, w.Code)
			}
		}
	})
}

func TestTwoLimitersOnOneResponse(t *testing.T) {
	clk := &fakeClock{}
	set := mustSet(t, SetOptions{Now: clk.Now})
	global := mustLimiter(t, Options{Name: "global", Spec: MustParseSpec("10/minute"), Set: set})
	writes := mustLimiter(t, Options{Name: "writes", Spec: MustParseSpec("100/minute burst 3"), Set: set})
	h := global.Middleware(writes.Middleware(okHandler))
	w := serve(h, "POST", "192.0.2.1:1")
	wantHeaders(t, w, map[string]string{
		"RateLimit-Policy":    `"global";q=10;w=60, "writes";q=100;w=60;fortapi-burst=3`,
		"RateLimit":           `"global";r=9;t=6, "writes";r=2;t=1`,
		"RateLimit-Limit":     "100", // the most restrictive: fewest remaining
		"RateLimit-Remaining": "2",
		"RateLimit-Reset":     "1",
	})
	serve(h, "POST", "192.0.2.1:1")
	serve(h, "POST", "192.0.2.1:1")
	w = serve(h, "POST", "192.0.2.1:1")
	if w.Code != 429 {
		t.Fatalf("4th write: %d", w.Code)
	}
	wantHeaders(t, w, map[string]string{
		"RateLimit":           `"global";r=6;t=24, "writes";r=0;t=1`,
		"RateLimit-Remaining": "0",
		"Retry-After":         "1",
	})
	if got := set.Stats(); got.Allowed != 7 || got.Denied != 1 {
		t.Fatalf("set stats %+v", got)
	}
	if ls := set.Limiters(); len(ls) != 2 || ls[0].Name() != "global" || ls[1].Spec().String() != "100/minute burst 3" ||
		ls[1].Policy() != `"writes";q=100;w=60;fortapi-burst=3` {
		t.Fatalf("Limiters() = %v", ls)
	}
}

func TestWriteTooManyRequests(t *testing.T) {
	for _, tc := range []struct {
		retry time.Duration
		want  string
	}{
		{0, "1"},
		{time.Nanosecond, "1"},
		{300 * time.Millisecond, "1"},
		{time.Second, "1"},
		{1200 * time.Millisecond, "2"},
		{12 * time.Second, "12"},
		{time.Hour + time.Nanosecond, "3601"},
	} {
		t.Run(tc.retry.String(), func(t *testing.T) {
			w := httptest.NewRecorder()
			r := httptest.NewRequest("GET", "/", nil)
			r = r.WithContext(problem.WithRequestID(r.Context(), "req-1"))
			WriteTooManyRequests(w, r, Result{RetryAfter: tc.retry, Policy: "p"})
			if got := w.Header().Get("Retry-After"); got != tc.want {
				t.Fatalf("Retry-After %q, want %q", got, tc.want)
			}
			var body struct{ Type, Title, Detail, Instance string }
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Instance != "urn:fortapi:request:req-1" || !strings.Contains(body.Detail, `"p"`) {
				t.Fatalf("body %s, %v", w.Body, err)
			}
		})
	}
}

func TestHeaderKeysAreCanonical(t *testing.T) {
	for name, key := range map[string]string{HeaderPolicy: keyPolicy, HeaderRateLimit: keyRateLimit,
		HeaderLimit: keyLimit, HeaderRemaining: keyRemaining, HeaderReset: keyReset} {
		if got := textproto.CanonicalMIMEHeaderKey(name); got != key {
			t.Errorf("%s: canonical %q, key %q", name, got, key)
		}
	}
}

func TestSFString(t *testing.T) {
	for in, want := range map[string]string{
		"":            `"default"`,
		"global":      `"global"`,
		`a"b\c`:       `"a\"b\\c"`,
		"tab\there\n": `"tabhere"`,
		"é":           `""`,
	} {
		if got := sfString(in); got != want {
			t.Errorf("sfString(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestNewErrors(t *testing.T) {
	set := mustSet(t, SetOptions{})
	mustLimiter(t, Options{Name: "taken", Spec: MustParseSpec("1/second"), Set: set})
	big := mustSet(t, SetOptions{Scale: 1000})
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"zero spec", Options{}, "invalid spec"},
		{"bad name", Options{Name: "has space", Spec: MustParseSpec("1/second")}, `bad limiter name "has space"`},
		{"long name", Options{Name: strings.Repeat("a", 65), Spec: MustParseSpec("1/second")}, "bad limiter name"},
		{"duplicate", Options{Name: "taken", Spec: MustParseSpec("1/second"), Set: set}, `"taken" used twice`},
		{"scale overflow", Options{Spec: MustParseSpec("10000/second"), Set: big}, "exceeds 1000000 per second"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
	for _, o := range []SetOptions{{InstanceCount: -1}, {RetryInterval: -1}, {Scale: -1}, {OnError: 7}} {
		if _, err := NewSet(o); err == nil {
			t.Errorf("NewSet(%+v): no error", o)
		}
	}
}

func TestScaleAndInstances(t *testing.T) {
	set := mustSet(t, SetOptions{Scale: 10, InstanceCount: 3})
	l := mustLimiter(t, Options{Name: "x", Spec: MustParseSpec("5/minute burst 2"), Set: set})
	if got := l.Spec().String(); got != "50/minute burst 20" {
		t.Fatalf("scaled spec %s", got)
	}
	if got := l.local.String(); got != "16/minute burst 6" {
		t.Fatalf("local spec %s", got)
	}
	one := mustLimiter(t, Options{Name: "y", Spec: MustParseSpec("1/minute"), Set: mustSet(t, SetOptions{InstanceCount: 5})})
	if got := one.local.String(); got != "1/minute" {
		t.Fatalf("local spec %s", got)
	}
}

func TestParseErrorPolicy(t *testing.T) {
	for in, want := range map[string]ErrorPolicy{"fail-open": FailOpen, "Open": FailOpen, "fail-closed": FailClosed, " closed ": FailClosed} {
		if got, err := ParseErrorPolicy(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	if _, err := ParseErrorPolicy("maybe"); err == nil || !strings.Contains(err.Error(), `"maybe"`) {
		t.Errorf("err %v", err)
	}
	if FailOpen.String() != "fail-open" || FailClosed.String() != "fail-closed" {
		t.Error("String")
	}
}

func TestFailOpen(t *testing.T) {
	clk := &fakeClock{}
	logs := &testutil.LogCapture{}
	store := &flakyStore{inner: NewMemoryStore(MemoryOptions{Now: clk.Now})}
	set := mustSet(t, SetOptions{Store: store, InstanceCount: 2, Logger: slog.New(logs), Now: clk.Now})
	l := mustLimiter(t, Options{Name: "api", Spec: MustParseSpec("10/minute"), Set: set})
	ctx := context.Background()

	check := func(key string) Result {
		t.Helper()
		res, err := l.Check(ctx, key)
		if err != nil {
			t.Fatalf("FailOpen Check returned %v", err)
		}
		return res
	}
	if res := check("a"); !res.Allowed || res.Local || res.Remaining != 9 {
		t.Fatalf("store up: %+v", res)
	}

	store.fail.Store(true)
	allowed := 0
	for range 8 {
		res := check("b")
		if !res.Local || res.Limit != 5 {
			t.Fatalf("during outage: %+v", res)
		}
		if res.Allowed {
			allowed++
		}
	}
	if allowed != 5 {
		t.Fatalf("local limiter admitted %d, want 5 (10/minute over 2 instances)", allowed)
	}
	if c := store.calls.Load(); c != 2 {
		t.Fatalf("store called %d times; during an outage only one call per RetryInterval", c)
	}
	if n := logs.Count(slog.LevelError, "unavailable"); n != 1 {
		t.Fatalf("%d outage records", n)
	}
	st := set.Stats()
	if st.StoreErrors != 1 || st.Fallbacks != 8 || st.Outages != 1 || st.Allowed != 6 || st.Denied != 3 {
		t.Fatalf("stats %+v", st)
	}

	clk.Advance(time.Second) // a probe, still failing
	check("b")
	if c := store.calls.Load(); c != 3 || logs.Count(slog.LevelError, "unavailable") != 1 {
		t.Fatalf("probe: %d calls, %d records", c, logs.Count(slog.LevelError, "unavailable"))
	}

	store.fail.Store(false)
	check("b") // within RetryInterval: still local
	clk.Advance(time.Second)
	if res := check("c"); res.Local || !res.Allowed {
		t.Fatalf("after recovery: %+v", res)
	}
	if res := check("c"); res.Local {
		t.Fatalf("after recovery: %+v", res)
	}
	if logs.Count(slog.LevelInfo, "recovered") != 1 || logs.Count(slog.LevelError, "unavailable") != 1 {
		t.Fatalf("records %+v", logs.Records())
	}

	store.fail.Store(true) // a second outage is logged again
	check("d")
	if logs.Count(slog.LevelError, "unavailable") != 2 || set.Stats().Outages != 2 {
		t.Fatal("second outage not logged")
	}
}

func TestFailClosed(t *testing.T) {
	clk := &fakeClock{}
	logs := &testutil.LogCapture{}
	store := &flakyStore{inner: NewMemoryStore(MemoryOptions{Now: clk.Now})}
	set := mustSet(t, SetOptions{Store: store, OnError: FailClosed, RetryInterval: 2500 * time.Millisecond, Logger: slog.New(logs), Now: clk.Now})
	l := mustLimiter(t, Options{Name: "api", Spec: MustParseSpec("10/minute"), Set: set})
	h := l.Middleware(okHandler)

	if w := serve(h, "GET", "192.0.2.1:1"); w.Code != 200 {
		t.Fatal(w.Code)
	}
	store.fail.Store(true)
	for range 3 {
		w := serve(h, "GET", "192.0.2.1:1")
		if w.Code != 503 {
			t.Fatalf("outage: %d", w.Code)
		}
		wantHeaders(t, w, map[string]string{"Retry-After": "3", "Content-Type": "application/problem+json", "RateLimit": ""})
		var body struct {
			Type   *string
			Status int
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Status != 503 || body.Type != nil {
			t.Fatalf("body %s", w.Body)
		}
	}
	_, err := l.Check(context.Background(), "k")
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Check: %v", err)
	}
	if st := set.Stats(); st.Unavailable != 4 || st.StoreErrors != 1 || st.Outages != 1 {
		t.Fatalf("stats %+v", st)
	}
	if logs.Count(slog.LevelError, "503") != 1 {
		t.Fatalf("records %+v", logs.Records())
	}
	store.fail.Store(false)
	clk.Advance(2500 * time.Millisecond)
	if w := serve(h, "GET", "192.0.2.1:1"); w.Code != 200 {
		t.Fatalf("after recovery: %d", w.Code)
	}
	if logs.Count(slog.LevelInfo, "recovered") != 1 {
		t.Fatal("recovery not logged")
	}
}

// TestCanceledContextIsNotAnOutage: a caller that goes away makes the
// store call fail, but the store is fine.
func TestCanceledContextIsNotAnOutage(t *testing.T) {
	logs := &testutil.LogCapture{}
	store := &flakyStore{inner: NewMemoryStore(MemoryOptions{})}
	set := mustSet(t, SetOptions{Store: store, OnError: FailClosed, Logger: slog.New(logs)})
	l := mustLimiter(t, Options{Spec: MustParseSpec("10/minute"), Set: set})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Check(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if st := set.Stats(); st.StoreErrors != 0 || st.Outages != 0 || len(logs.Records()) != 0 {
		t.Fatalf("stats %+v, records %d", st, len(logs.Records()))
	}
}

// TestOutageLoggedOnceUnderConcurrency: many goroutines failing at once
// log one outage, and recovering at once log one recovery.
func TestOutageLoggedOnceUnderConcurrency(t *testing.T) {
	logs := &testutil.LogCapture{}
	store := &flakyStore{inner: NewMemoryStore(MemoryOptions{})}
	set := mustSet(t, SetOptions{Store: store, RetryInterval: time.Nanosecond, Logger: slog.New(logs)})
	l := mustLimiter(t, Options{Spec: MustParseSpec("1000/second"), Set: set})
	hammer := func() {
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				for range 50 {
					if _, err := l.Check(context.Background(), "k"); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
	}
	store.fail.Store(true)
	hammer()
	store.fail.Store(false)
	hammer()
	if e, i := logs.Count(slog.LevelError, "unavailable"), logs.Count(slog.LevelInfo, "recovered"); e != 1 || i != 1 {
		t.Fatalf("%d outage and %d recovery records, want 1 and 1", e, i)
	}
	if st := set.Stats(); st.Outages != 1 || st.StoreErrors == 0 || st.Fallbacks == 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestPeekCountsFailuresOnly shows the failed-login pattern: Peek before
// trying, Check after a failure.
func TestPeekCountsFailuresOnly(t *testing.T) {
	clk := &fakeClock{}
	l := mustLimiter(t, Options{Name: "login-failures", Spec: MustParseSpec("3/minute"), Set: mustSet(t, SetOptions{Now: clk.Now})})
	ctx := context.Background()
	attempt := func(ok bool) bool {
		res, err := l.Peek(ctx, "user:alice")
		if err != nil {
			t.Fatal(err)
		}
		if !res.Allowed {
			return false
		}
		if !ok {
			if _, err := l.Check(ctx, "user:alice"); err != nil {
				t.Fatal(err)
			}
		}
		return true
	}
	for range 10 { // successes cost nothing
		if !attempt(true) {
			t.Fatal("success refused")
		}
	}
	for i := range 3 {
		if !attempt(false) {
			t.Fatalf("failure %d refused", i+1)
		}
	}
	if attempt(true) {
		t.Fatal("4th attempt after 3 failures allowed")
	}
	clk.Advance(20 * time.Second)
	if !attempt(true) {
		t.Fatal("not allowed after 20 s")
	}
	if st := l.Stats(); st.Allowed != 3 || st.Denied != 0 {
		t.Fatalf("peeks counted: %+v", st)
	}
}

// discardWriter is a ResponseWriter that forgets everything, for
// benchmarks.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkMiddleware compares GET /protected through the limiter (memory
// store, keyed by client IP, always allowed) with the bare handler.
func BenchmarkMiddleware(b *testing.B) {
	l := mustLimiter(b, Options{Name: "global", Spec: MustParseSpec("1000000/second")})
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", okHandler},
		{"limited", l.Middleware(okHandler)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var n atomic.Uint32
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := n.Add(1)
				r := httptest.NewRequest("GET", "/protected", nil)
				r.RemoteAddr = netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), 1234).String()
				w := &discardWriter{h: http.Header{}}
				for pb.Next() {
					clear(w.h)
					bc.h.ServeHTTP(w, r)
				}
			})
		})
	}
}
