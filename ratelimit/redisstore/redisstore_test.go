package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fortapi/fortapi/internal/testutil"
	"github.com/fortapi/fortapi/ratelimit"
)

// redisOptions returns client options for the test Redis
// (testutil.RedisURL: FORTAPI_TEST_REDIS_URL, else the local default when
// it answers), or skips (fails under FORTAPI_TEST_STRICT=1).
func redisOptions(t testing.TB) *redis.Options {
	t.Helper()
	o, err := ClientOptions(testutil.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	o.MaxRetries = -1 // an outage shows at once
	o.DialTimeout = 500 * time.Millisecond
	return o
}

// newClient returns a client for the test Redis, reached at addr when addr
// is not empty (a proxy), closed at the end of the test.
func newClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	o := redisOptions(t)
	if addr != "" {
		o.Addr = addr
	}
	c := redis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// testPrefix returns a key prefix unique to this run and deletes its keys
// at the end of the test.
func testPrefix(t testing.TB) string {
	t.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	prefix := "fortapi-test:" + hex.EncodeToString(b) + ":"
	c := newClient(t, "")
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("the test Redis: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return prefix
}

func TestAllowSequence(t *testing.T) {
	prefix := testPrefix(t)
	c := newClient(t, "")
	s := New(c, Options{Prefix: prefix})
	ctx := context.Background()
	spec := ratelimit.MustParseSpec("5/hour") // 12 minutes per request
	const slack = 10 * time.Second            // test run time, at most

	for i := range 5 {
		res, err := s.Allow(ctx, "k", spec, 1)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Allowed || res.Remaining != 4-i || res.Limit != 5 || res.Window != time.Hour || res.Burst != 5 {
			t.Fatalf("request %d: %+v", i+1, res)
		}
		if want := time.Duration(i+1) * 12 * time.Minute; res.ResetAfter > want || res.ResetAfter < want-slack {
			t.Fatalf("request %d: ResetAfter %v, want about %v", i+1, res.ResetAfter, want)
		}
	}
	for _, n := range []int{1, 0} { // a denied check and a peek
		res, err := s.Allow(ctx, "k", spec, n)
		if err != nil {
			t.Fatal(err)
		}
		if res.Allowed || res.Remaining != 0 || res.RetryAfter > 12*time.Minute || res.RetryAfter < 12*time.Minute-slack {
			t.Fatalf("n=%d: %+v", n, res)
		}
	}
	pttl, err := c.PTTL(ctx, s.Key("k")).Result()
	if err != nil || pttl > time.Hour || pttl < time.Hour-slack {
		t.Fatalf("PTTL %v, %v: want about the TAT, 1h", pttl, err)
	}

	res, err := s.Allow(ctx, "fresh", spec, 0) // peek on an absent key
	if err != nil || !res.Allowed || res.Remaining != 5 {
		t.Fatalf("peek: %+v %v", res, err)
	}
	if n, _ := c.Exists(ctx, s.Key("fresh")).Result(); n != 0 {
		t.Fatal("peek wrote the key")
	}
	res, err = s.Allow(ctx, "burst", ratelimit.MustParseSpec("100/minute burst 20"), 20)
	if err != nil || !res.Allowed || res.Remaining != 0 || res.ResetAfter != 12*time.Second {
		t.Fatalf("burst: %+v %v", res, err) // a fresh key: exactly 20 × 600 ms
	}
	for _, bad := range []struct {
		spec ratelimit.Spec
		n    int
	}{{ratelimit.Spec{}, 1}, {spec, -1}, {spec, 6}} {
		if _, err := s.Allow(ctx, "k", bad.spec, bad.n); err == nil {
			t.Errorf("Allow(%+v, %d): no error", bad.spec, bad.n)
		}
	}
}

// TestMatchesMemoryStore runs one random sequence of costs on the Lua GCRA
// and on the memory store (frozen clock): with intervals of minutes, the
// milliseconds the test takes cannot change a decision, so both must agree.
func TestMatchesMemoryStore(t *testing.T) {
	prefix := testPrefix(t)
	s := New(newClient(t, ""), Options{Prefix: prefix})
	frozen := time.Now()
	mem := ratelimit.NewMemoryStore(ratelimit.MemoryOptions{Now: func() time.Time { return frozen }})
	ctx := context.Background()
	rng := mrand.New(mrand.NewPCG(3, 4))
	for _, text := range []string{"10/hour burst 7", "3/day", "60/hour burst 1"} {
		spec := ratelimit.MustParseSpec(text)
		for i := range 60 {
			n := rng.IntN(spec.MaxBurst() + 1)
			got, err := s.Allow(ctx, text, spec, n)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := mem.Allow(ctx, text, spec, n)
			if got.Allowed != want.Allowed || got.Remaining != want.Remaining || got.Limit != want.Limit || got.Burst != want.Burst {
				t.Fatalf("%s op %d (n=%d): redis %+v, memory %+v", text, i, n, got, want)
			}
			if d := want.ResetAfter - got.ResetAfter; d < 0 || d > 10*time.Second {
				t.Fatalf("%s op %d: ResetAfter redis %v, memory %v", text, i, got.ResetAfter, want.ResetAfter)
			}
		}
	}
}

func TestKeyExpiresWithTAT(t *testing.T) {
	prefix := testPrefix(t)
	c := newClient(t, "")
	s := New(c, Options{Prefix: prefix})
	ctx := context.Background()
	if _, err := s.Allow(ctx, "short", ratelimit.MustParseSpec("20/second"), 1); err != nil { // TAT now+50ms
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := c.Exists(ctx, s.Key("short")).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("key still present 5 s after its TAT")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLongKeysHashed(t *testing.T) {
	prefix := testPrefix(t)
	s := New(newClient(t, ""), Options{Prefix: prefix})
	long := strings.Repeat("x", 10_000)
	if k := s.Key(long); len(k) != len(prefix)+65 || !strings.HasPrefix(k, prefix+"#") {
		t.Fatalf("Key(long) = %q", k)
	}
	if k := s.Key("short"); k != prefix+"short" {
		t.Fatalf("Key(short) = %q", k)
	}
	spec := ratelimit.MustParseSpec("1/hour")
	ctx := context.Background()
	if res, err := s.Allow(ctx, long, spec, 1); err != nil || !res.Allowed {
		t.Fatalf("%+v %v", res, err)
	}
	if res, err := s.Allow(ctx, long, spec, 1); err != nil || res.Allowed {
		t.Fatalf("second: %+v %v", res, err)
	}
}

// TestExactAcrossProcesses: several limiters, each with its own client and
// Set (as separate server processes would have), hammer one key at once;
// together they admit exactly the allowance.
func TestExactAcrossProcesses(t *testing.T) {
	const (
		processes  = 4
		goroutines = 8
		each       = 25
	)
	prefix := testPrefix(t)
	spec := ratelimit.MustParseSpec("50/hour") // no refill during the test
	var admitted, denied atomic.Int64
	var limiters []*ratelimit.Limiter
	for range processes {
		set, err := ratelimit.NewSet(ratelimit.SetOptions{
			Store:   New(newClient(t, ""), Options{Prefix: prefix, Timeout: 5 * time.Second}),
			OnError: ratelimit.FailClosed,
		})
		if err != nil {
			t.Fatal(err)
		}
		l, err := ratelimit.New(ratelimit.Options{Name: "global", Spec: spec, Set: set})
		if err != nil {
			t.Fatal(err)
		}
		limiters = append(limiters, l)
	}
	var wg sync.WaitGroup
	for _, l := range limiters {
		for range goroutines {
			wg.Go(func() {
				for range each {
					res, err := l.Check(context.Background(), "ip:203.0.113.7")
					if err != nil {
						t.Error(err)
						return
					}
					if res.Allowed {
						admitted.Add(1)
					} else {
						denied.Add(1)
					}
				}
			})
		}
	}
	wg.Wait()
	if a, d := admitted.Load(), denied.Load(); a != 50 || a+d != processes*goroutines*each {
		t.Fatalf("admitted %d, denied %d: want exactly 50 of %d", a, d, processes*goroutines*each)
	}
	for i, l := range limiters {
		if st := l.Stats(); st.StoreErrors != 0 || st.Fallbacks != 0 {
			t.Errorf("limiter %d: %+v", i, st)
		}
	}
}

// commandLog records the commands a client sends.
type commandLog struct {
	mu    sync.Mutex
	names []string
}

func (l *commandLog) DialHook(next redis.DialHook) redis.DialHook { return next }
func (l *commandLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		l.mu.Lock()
		l.names = append(l.names, cmd.Name())
		l.mu.Unlock()
		return next(ctx, cmd)
	}
}
func (l *commandLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (l *commandLog) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := strings.Join(l.names, " ")
	l.names = nil
	return s
}

// TestEvalshaAndNoscriptRecovery: a check is one EVALSHA; after SCRIPT
// FLUSH the next check falls back to EVAL (which caches the script
// again), and the one after is EVALSHA again.
func TestEvalshaAndNoscriptRecovery(t *testing.T) {
	prefix := testPrefix(t)
	c := newClient(t, "")
	log := &commandLog{}
	c.AddHook(log)
	s := New(c, Options{Prefix: prefix})
	ctx := context.Background()
	spec := ratelimit.MustParseSpec("10/hour")
	check := func(wantRemaining int) {
		t.Helper()
		res, err := s.Allow(ctx, "k", spec, 1)
		if err != nil || !res.Allowed || res.Remaining != wantRemaining {
			t.Fatalf("%+v %v", res, err)
		}
	}
	check(9)
	log.take() // the first call may EVAL if the script was never loaded
	check(8)
	if got := log.take(); got != "evalsha" {
		t.Fatalf("steady state sent %q, want one evalsha", got)
	}
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	log.take()
	check(7)
	if got := log.take(); got != "evalsha eval" {
		t.Fatalf("after SCRIPT FLUSH sent %q, want evalsha then eval", got)
	}
	check(6)
	if got := log.take(); got != "evalsha" {
		t.Fatalf("after recovery sent %q", got)
	}
	if ok, err := s.script.Exists(ctx, c).Result(); err != nil || !ok[0] {
		t.Fatalf("script not cached again: %v %v", ok, err)
	}
}

// tcpProxy forwards loopback connections to Redis until cut.
type tcpProxy struct {
	t      testing.TB
	target string
	addr   string
	stall  bool // accept but never forward

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
}

func startProxy(t testing.TB, target string, stall bool) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{t: t, target: target, addr: ln.Addr().String(), stall: stall, conns: map[net.Conn]struct{}{}}
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.handle(c)
		}
	}()
}

func (p *tcpProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil { // cut meanwhile
		for _, c := range cs {
			_ = c.Close()
		}
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *tcpProxy) handle(c net.Conn) {
	if p.stall {
		if p.track(c) {
			_, _ = io.Copy(io.Discard, c)
		}
		return
	}
	up, err := net.DialTimeout("tcp", p.target, time.Second)
	if err != nil {
		_ = c.Close()
		return
	}
	if !p.track(c, up) {
		return
	}
	go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
	_, _ = io.Copy(c, up)
	_ = c.Close()
}

// cut closes the listener and every connection: Redis is unreachable.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
}

// restore listens again on the same address.
func (p *tcpProxy) restore() {
	p.t.Helper()
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })

func get(h http.Handler, remote string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "/protected", nil)
	r.RemoteAddr = remote
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestOutage puts a proxy between the limiter and Redis, cuts it mid-run,
// and checks each policy, the single log record per outage and per
// recovery, the counters, and that recovery needs nothing but Redis back.
func TestOutage(t *testing.T) {
	for _, policy := range []ratelimit.ErrorPolicy{ratelimit.FailOpen, ratelimit.FailClosed} {
		t.Run(policy.String(), func(t *testing.T) {
			prefix := testPrefix(t)
			direct := newClient(t, "")
			proxy := startProxy(t, redisOptions(t).Addr, false)
			logs := &testutil.LogCapture{}
			store := New(newClient(t, proxy.addr), Options{Prefix: prefix, Timeout: 500 * time.Millisecond})
			set, err := ratelimit.NewSet(ratelimit.SetOptions{
				Store: store, OnError: policy, InstanceCount: 2,
				RetryInterval: 50 * time.Millisecond, Logger: slog.New(logs),
			})
			if err != nil {
				t.Fatal(err)
			}
			l, err := ratelimit.New(ratelimit.Options{Name: "api", Spec: ratelimit.MustParseSpec("10/hour"), Set: set})
			if err != nil {
				t.Fatal(err)
			}
			h := l.Middleware(okHandler)
			ctx := context.Background()

			// Up: decided in Redis.
			for i := range 3 {
				w := get(h, "192.0.2.1:1")
				if want := fmt.Sprintf(`"api";r=%d;t=`, 9-i); w.Code != 200 || !strings.HasPrefix(w.Header().Get("RateLimit"), want) {
					t.Fatalf("up, request %d: %d, RateLimit %q, want prefix %q", i+1, w.Code, w.Header().Get("RateLimit"), want)
				}
			}
			if n, err := direct.Exists(ctx, store.Key("api:ip:192.0.2.1")).Result(); err != nil || n != 1 {
				t.Fatalf("key not in Redis: %d %v", n, err)
			}

			proxy.cut()
			codes := map[int]int{}
			for range 12 {
				w := get(h, "192.0.2.2:1")
				codes[w.Code]++
				if p := w.Header().Get("RateLimit-Policy"); policy == ratelimit.FailOpen && p != `"api";q=5;w=3600` {
					t.Fatalf("fail-open during outage: RateLimit-Policy %q, want the local policy", p)
				}
				if w.Code == 503 && (w.Header().Get("Retry-After") != "1" || w.Header().Get("Content-Type") != "application/problem+json") {
					t.Fatalf("503 without Retry-After or problem: %v", w.Header())
				}
			}
			st := set.Stats()
			switch policy {
			case ratelimit.FailOpen:
				// The local limiter: 10/hour over 2 instances = 5.
				if codes[200] != 5 || codes[429] != 7 || st.Fallbacks != 12 {
					t.Fatalf("fail-open during outage: codes %v, stats %+v", codes, st)
				}
			case ratelimit.FailClosed:
				if codes[503] != 12 || st.Unavailable != 12 {
					t.Fatalf("fail-closed during outage: codes %v, stats %+v", codes, st)
				}
			}
			if st.StoreErrors < 1 || st.Outages != 1 {
				t.Fatalf("stats %+v", st)
			}
			if n := logs.Count(slog.LevelError, "unavailable"); n != 1 {
				t.Fatalf("%d outage records, want 1", n)
			}

			proxy.restore()
			deadline := time.Now().Add(10 * time.Second)
			for {
				res, err := l.Check(ctx, "ip:192.0.2.3")
				if err == nil && !res.Local {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no recovery within 10 s: %+v %v", res, err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if w := get(h, "192.0.2.4:1"); w.Code != 200 {
				t.Fatalf("after recovery: %d", w.Code)
			}
			if n, err := direct.Exists(ctx, store.Key("api:ip:192.0.2.4")).Result(); err != nil || n != 1 {
				t.Fatalf("after recovery the key is not in Redis: %d %v", n, err)
			}
			if e, i := logs.Count(slog.LevelError, "unavailable"), logs.Count(slog.LevelInfo, "recovered"); e != 1 || i != 1 {
				t.Fatalf("%d outage and %d recovery records, want 1 and 1", e, i)
			}
			if st := set.Stats(); st.Outages != 1 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// TestTimeout: a Redis that accepts but never answers costs a check no
// more than Options.Timeout (the client's own read timeout is a minute).
func TestTimeout(t *testing.T) {
	prefix := testPrefix(t)
	proxy := startProxy(t, redisOptions(t).Addr, true)
	o := redisOptions(t)
	o.Addr = proxy.addr
	o.ReadTimeout = time.Minute
	o.WriteTimeout = time.Minute
	c := redis.NewClient(o)
	defer c.Close()
	s := New(c, Options{Prefix: prefix, Timeout: 100 * time.Millisecond})
	done := make(chan error, 1)
	go func() {
		_, err := s.Allow(context.Background(), "k", ratelimit.MustParseSpec("1/second"), 1)
		done <- err
	}()
	select {
	case err := <-done:
		var ne net.Error
		if !errors.Is(err, context.DeadlineExceeded) && !(errors.As(err, &ne) && ne.Timeout()) {
			t.Fatalf("err %v, want a timeout", err)
		}
	case <-time.After(10 * time.Second): // a liveness bound, far above the 100 ms
		t.Fatal("the check did not return: Timeout does not bound it")
	}
}

func TestClientOptions(t *testing.T) {
	o, err := ClientOptions("redis://:secret@127.0.0.1:6380/3")
	if err != nil || !o.ContextTimeoutEnabled || o.Addr != "127.0.0.1:6380" || o.DB != 3 {
		t.Fatalf("%+v %v", o, err)
	}
	if _, err := ClientOptions("http://x"); err == nil {
		t.Fatal("no error for a non-Redis URL")
	}
}

// TestProblemOnDenial: the 429 from a Redis-backed limiter is the same
// problem document as from memory.
func TestProblemOnDenial(t *testing.T) {
	prefix := testPrefix(t)
	set, err := ratelimit.NewSet(ratelimit.SetOptions{Store: New(newClient(t, ""), Options{Prefix: prefix})})
	if err != nil {
		t.Fatal(err)
	}
	l, err := ratelimit.New(ratelimit.Options{Name: "token-ip", Spec: ratelimit.MustParseSpec("1/minute"), Set: set})
	if err != nil {
		t.Fatal(err)
	}
	h := l.Middleware(okHandler)
	get(h, "192.0.2.1:1")
	w := get(h, "192.0.2.1:1")
	var body struct {
		Type, Title string
		Status      int
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != 429 || body.Status != 429 || body.Type != "" || body.Title != "Too Many Requests" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if ra := w.Header().Get("Retry-After"); ra != "60" && ra != "59" {
		t.Fatalf("Retry-After %q", ra)
	}
	if got := w.Header().Get("RateLimit-Policy"); got != `"token-ip";q=1;w=60` {
		t.Fatalf("RateLimit-Policy %q", got)
	}
}

// BenchmarkRedisAllow measures checks through the store; compare with
// BenchmarkRawEvalsha, a trivial script on the same kind of connection.
func BenchmarkRedisAllow(b *testing.B) {
	prefix := testPrefix(b)
	spec := ratelimit.MustParseSpec("1000000/second")
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		o := redisOptions(b)
		o.PoolSize = 1
		c := redis.NewClient(o)
		defer c.Close()
		s := New(c, Options{Prefix: prefix})
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Allow(ctx, "bench", spec, 1); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
	})
	b.Run("parallel", func(b *testing.B) {
		s := New(newClient(b, ""), Options{Prefix: prefix})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Allow(ctx, "bench", spec, 1); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
	})
}

func BenchmarkRawEvalsha(b *testing.B) {
	ctx := context.Background()
	raw := redis.NewScript("return 1")
	b.Run("serial", func(b *testing.B) {
		o := redisOptions(b)
		o.PoolSize = 1
		c := redis.NewClient(o)
		defer c.Close()
		if err := raw.Load(ctx, c).Err(); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := raw.EvalSha(ctx, c, nil).Err(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
	})
	b.Run("parallel", func(b *testing.B) {
		c := newClient(b, "")
		if err := raw.Load(ctx, c).Err(); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := raw.EvalSha(ctx, c, nil).Err(); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
	})
}
