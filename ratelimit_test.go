package fortapi_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/redis/go-redis/v9"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/clientip"
	"github.com/fortapi/fortapi/internal/testutil"
	"github.com/fortapi/fortapi/ratelimit"
	"github.com/fortapi/fortapi/ratelimit/redisstore"
)

// newLimitedAPI registers operations with declared limits: a per-user
// limit shared by two writes, a per-IP limit on a public operation, a
// limit shared by every caller of one operation, and an unlimited read.
func newLimitedAPI(t testing.TB, opts fortapi.Options) (*fortapi.API, *testutil.Buffer) {
	t.Helper()
	logs := &testutil.Buffer{}
	opts.Authenticator = fortapi.AuthenticatorFunc(testAuth)
	opts.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	api := fortapi.New(opts)
	create := func(ctx context.Context, in *thingIn) (*thingOut, error) {
		p, _ := fortapi.PrincipalFrom(ctx)
		out := &thingOut{}
		out.Body.Name, out.Body.By = in.Body.Name, p.Subject
		return out, nil
	}
	ok := func(ctx context.Context, _ *struct{}) (*okOut, error) {
		out := &okOut{}
		out.Body.OK = true
		return out, nil
	}
	huma.Register(api, huma.Operation{
		OperationID: "create-thing", Method: http.MethodPost, Path: "/things",
		Security:   fortapi.Scopes("things:write"),
		Extensions: fortapi.RateLimits(fortapi.PerUser("writes", "3/minute")),
	}, create)
	op := huma.Operation{
		OperationID: "replace-thing", Method: http.MethodPut, Path: "/things",
		Security:   fortapi.Scopes("things:write"),
		Extensions: map[string]any{"x-other": true},
	}
	fortapi.RateLimit(&op, fortapi.PerUser("writes", "3/minute"))
	huma.Register(api, op, create)
	huma.Register(api, huma.Operation{
		OperationID: "login", Method: http.MethodPost, Path: "/login",
		Security:   fortapi.Public(),
		Extensions: fortapi.RateLimits(fortapi.PerIP("login", "2/minute")),
	}, ok)
	huma.Register(api, huma.Operation{
		OperationID: "export", Method: http.MethodGet, Path: "/export",
		Security:   fortapi.Scopes("things:read"),
		Extensions: fortapi.RateLimits(fortapi.PerOperation("export", "2/hour")),
	}, ok)
	huma.Register(api, huma.Operation{
		OperationID: "list-things", Method: http.MethodGet, Path: "/things",
		Security: fortapi.Scopes("things:read"),
	}, func(ctx context.Context, in *listIn) (*okOut, error) { return ok(ctx, nil) })
	return api, logs
}

func newLimitedServer(t *testing.T, opts fortapi.Options) (*httptest.Server, *fortapi.API, *testutil.Buffer) {
	t.Helper()
	api, logs := newLimitedAPI(t, opts)
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, api, logs
}

func bearer(user, scope string) map[string]string {
	return map[string]string{"Authorization": "Test " + user + " " + scope, "Content-Type": "application/json"}
}

// checkTooMany checks a 429: problem+json naming the request id,
// Retry-After of at least a second, and the draft-09 fields naming policy.
func checkTooMany(t *testing.T, resp *http.Response, b []byte, policy string) {
	t.Helper()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429: %s", resp.StatusCode, b)
	}
	decodeProblem(t, resp, b)
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("Retry-After %q, want whole seconds >= 1", resp.Header.Get("Retry-After"))
	}
	if !strings.Contains(strings.Join(resp.Header.Values("RateLimit-Policy"), ", "), `"`+policy+`";q=`) {
		t.Errorf("RateLimit-Policy %q does not name %q", resp.Header.Values("RateLimit-Policy"), policy)
	}
	if !strings.Contains(strings.Join(resp.Header.Values("RateLimit"), ", "), `"`+policy+`";r=0;t=`) {
		t.Errorf("RateLimit %q does not show %q exhausted", resp.Header.Values("RateLimit"), policy)
	}
	if resp.Header.Get("RateLimit-Remaining") != "0" || resp.Header.Get("RateLimit-Limit") == "" {
		t.Errorf("RateLimit-Limit %q, -Remaining %q", resp.Header.Get("RateLimit-Limit"), resp.Header.Get("RateLimit-Remaining"))
	}
}

func TestDeclaredLimitsAreEnforcedExactly(t *testing.T) {
	for _, tt := range []struct {
		name   string
		calls  []call // cycled through; each takes from the same allowance
		allow  int
		policy string
	}{
		{"per user, shared by two operations", []call{
			{method: "POST", path: "/things", body: `{"name":"a","count":1}`, header: bearer("alice", "things:write")},
			{method: "PUT", path: "/things", body: `{"name":"b","count":1}`, header: bearer("alice", "things:write")},
		}, 3, "writes"},
		{"per IP on a public operation", []call{{method: "POST", path: "/login"}}, 2, "login"},
		{"per operation, shared by every caller", []call{
			{method: "GET", path: "/export", header: bearer("alice", "things:read")},
			{method: "GET", path: "/export", header: bearer("bob", "things:read")},
		}, 2, "export"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, _, logs := newLimitedServer(t, fortapi.Options{})
			for i := range tt.allow {
				resp, b := tt.calls[i%len(tt.calls)].do(t, srv)
				if resp.StatusCode != 200 {
					t.Fatalf("call %d: %d %s", i+1, resp.StatusCode, b)
				}
				want := `"` + tt.policy + `";r=` + strconv.Itoa(tt.allow-i-1) + ";t="
				if got := resp.Header.Get("RateLimit"); !strings.HasPrefix(got, want) {
					t.Errorf("call %d: RateLimit %q, want %s...", i+1, got, want)
				}
			}
			for _, c := range tt.calls {
				resp, b := c.do(t, srv)
				checkTooMany(t, resp, b, tt.policy)
			}
			if !strings.Contains(logs.String(), `"status":429`) {
				t.Error("the 429 is not in the access log")
			}
		})
	}
}

func TestLimitsRunAfterAuthorizationAndBeforeDecoding(t *testing.T) {
	srv, _, _ := newLimitedServer(t, fortapi.Options{})
	// Refused callers take nothing from anybody's allowance.
	for range 5 {
		if resp, _ := (call{method: "POST", path: "/things", body: `{"name":"x"}`}).do(t, srv); resp.StatusCode != 401 {
			t.Fatalf("anonymous: %d", resp.StatusCode)
		}
		if resp, _ := (call{method: "POST", path: "/things", body: `{"name":"x"}`, header: bearer("alice", "things:read")}).do(t, srv); resp.StatusCode != 403 {
			t.Fatalf("without scope: %d", resp.StatusCode)
		}
	}
	bad := call{method: "POST", path: "/things", body: `{"name":`, header: bearer("alice", "things:write")}
	for i := range 3 {
		if resp, b := bad.do(t, srv); resp.StatusCode != 400 {
			t.Fatalf("call %d: %d %s", i+1, resp.StatusCode, b)
		}
	}
	// Exhausted: refused before the body is even read.
	resp, b := bad.do(t, srv)
	checkTooMany(t, resp, b, "writes")
}

func TestPerUserLimitsDoNotLeakAcrossUsers(t *testing.T) {
	srv, _, _ := newLimitedServer(t, fortapi.Options{})
	alice := call{method: "POST", path: "/things", body: `{"name":"a","count":1}`, header: bearer("alice", "things:write")}
	for range 3 {
		alice.do(t, srv)
	}
	resp, b := alice.do(t, srv)
	checkTooMany(t, resp, b, "writes")
	for _, user := range []string{"bob", "carol"} {
		resp, b := call{method: "PUT", path: "/things", body: `{"name":"b","count":1}`, header: bearer(user, "things:write")}.do(t, srv)
		if resp.StatusCode != 200 || resp.Header.Get("RateLimit-Remaining") != "2" {
			t.Errorf("%s after alice ran out: %d remaining %q %s", user, resp.StatusCode, resp.Header.Get("RateLimit-Remaining"), b)
		}
	}
	// An unlimited operation carries no RateLimit fields (no global limit).
	resp, _ = call{method: "GET", path: "/things", header: bearer("alice", "things:read")}.do(t, srv)
	if resp.StatusCode != 200 || resp.Header.Get("RateLimit-Policy") != "" {
		t.Errorf("unlimited operation: %d, RateLimit-Policy %q", resp.StatusCode, resp.Header.Get("RateLimit-Policy"))
	}
}

func TestForwardedHeadersCountOnlyFromTrustedProxies(t *testing.T) {
	loopback := netip.MustParsePrefix("127.0.0.0/8")
	trusting, err := clientip.New(clientip.Options{TrustedProxies: []netip.Prefix{loopback}})
	if err != nil {
		t.Fatal(err)
	}
	// Sent in order to a 2/minute per-IP limit, from the loopback peer.
	spoofs := []map[string]string{
		{"X-Forwarded-For": "198.51.100.1"},
		{"X-Forwarded-For": "198.51.100.2"},
		{"X-Forwarded-For": "198.51.100.1, 198.51.100.3"},              // rightmost untrusted: .3
		{"X-Real-IP": "198.51.100.5", "Forwarded": "for=198.51.100.6"}, // not the configured header: the peer
		{"X-Forwarded-For": "2001:db8::1"},
		{"X-Forwarded-For": "[2001:db8::2]:4711"},  // the same /64
		{"X-Forwarded-For": "2001:db8::3"},         // the same /64, third time
		{"X-Forwarded-For": "::ffff:198.51.100.2"}, // IPv4-mapped: .2 again
		{"X-Forwarded-For": "198.51.100.2"},        // .2, third time
	}
	for _, tt := range []struct {
		name     string
		resolver *clientip.Resolver
		want     string // one status class per request: 2 allowed, 4 refused
	}{
		{"untrusted peer: one key whatever the headers", nil, "224444444"},
		{"trusted proxy: the forwarded client is the key", trusting, "222222424"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, _, _ := newLimitedServer(t, fortapi.Options{ClientIP: tt.resolver})
			var got strings.Builder
			for _, h := range spoofs {
				resp, _ := call{method: "POST", path: "/login", header: h}.do(t, srv)
				got.WriteString(strconv.Itoa(resp.StatusCode / 100))
			}
			if got.String() != tt.want {
				t.Errorf("status classes %s, want %s", got.String(), tt.want)
			}
		})
	}
}

func TestGlobalLimitCoversEverything(t *testing.T) {
	srv, _, logs := newLimitedServer(t, fortapi.Options{GlobalLimit: "5/minute"})
	for i, c := range []call{
		{method: "GET", path: "/nowhere"},
		{method: "GET", path: "/docs"},
		{method: "GET", path: "/openapi.json"},
		{method: "DELETE", path: "/things"}, // 405
		{method: "GET", path: "/things", header: bearer("alice", "things:read")},
	} {
		resp, b := c.do(t, srv)
		if resp.StatusCode == 429 {
			t.Fatalf("call %d (%s %s): 429 too early: %s", i+1, c.method, c.path, b)
		}
		if got, want := resp.Header.Get("RateLimit"), `"global";r=`+strconv.Itoa(4-i); !strings.HasPrefix(got, want) {
			t.Errorf("%s %s: RateLimit %q, want %s...", c.method, c.path, got, want)
		}
	}
	for _, path := range []string{"/nowhere", "/docs", "/openapi.json", "/things"} {
		t.Run(path, func(t *testing.T) {
			resp, b := call{method: "GET", path: path, header: bearer("alice", "things:read")}.do(t, srv)
			checkTooMany(t, resp, b, "global")
		})
	}
	if !strings.Contains(logs.String(), `"path":"/docs","status":429`) {
		t.Error("the global 429 on /docs is not in the access log")
	}
}

func TestGlobalAndOperationLimitsTogether(t *testing.T) {
	srv, _, _ := newLimitedServer(t, fortapi.Options{GlobalLimit: "100/minute"})
	resp, _ := call{method: "POST", path: "/login"}.do(t, srv)
	pol := resp.Header.Values("RateLimit-Policy")
	if resp.StatusCode != 200 || len(pol) != 2 || !strings.HasPrefix(pol[0], `"global";q=100;w=60`) || !strings.HasPrefix(pol[1], `"login";q=2;w=60`) {
		t.Errorf("%d RateLimit-Policy %q", resp.StatusCode, pol)
	}
	// The single-valued fields describe the most restrictive limit.
	if resp.Header.Get("RateLimit-Limit") != "2" || resp.Header.Get("RateLimit-Remaining") != "1" {
		t.Errorf("RateLimit-Limit %q -Remaining %q", resp.Header.Get("RateLimit-Limit"), resp.Header.Get("RateLimit-Remaining"))
	}
}

func TestScaleMultipliesEveryLimit(t *testing.T) {
	set, err := ratelimit.NewSet(ratelimit.SetOptions{Scale: 3})
	if err != nil {
		t.Fatal(err)
	}
	srv, api, _ := newLimitedServer(t, fortapi.Options{RateLimits: set, GlobalLimit: "4/minute"})
	allowed := 0
	for range 8 {
		if resp, _ := (call{method: "POST", path: "/login"}).do(t, srv); resp.StatusCode == 200 {
			allowed++
		}
	}
	if allowed != 6 {
		t.Errorf("a 2/minute limit scaled by 3 allowed %d, want 6", allowed)
	}
	doc, _ := api.OpenAPIJSON()
	for _, want := range []string{`"limit":"6/minute"`, `"limit":"12/minute"`, `\"login\";q=6;w=60`} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("the document does not show the enforced %s", want)
		}
	}
}

func TestRateLimitsAreDocumented(t *testing.T) {
	api, _ := newLimitedAPI(t, fortapi.Options{GlobalLimit: "1200/minute"})
	if _, err := api.Handler(); err != nil {
		t.Fatal(err)
	}
	b, err := api.OpenAPIJSON()
	if err != nil {
		t.Fatal(err)
	}
	type limit struct{ Name, Limit, Key, Policy string }
	type response struct {
		Content map[string]any `json:"content"`
		Headers map[string]any `json:"headers"`
	}
	var doc struct {
		Global []limit `json:"x-ratelimit"`
		Paths  map[string]map[string]struct {
			Limits    []limit             `json:"x-ratelimit"`
			Other     bool                `json:"x-other"`
			Responses map[string]response `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	global := limit{"global", "1200/minute", "ip", `"global";q=1200;w=60`}
	if len(doc.Global) != 1 || doc.Global[0] != global {
		t.Errorf("document x-ratelimit %+v", doc.Global)
	}
	for _, tt := range []struct {
		path, method string
		want         []limit
	}{
		{"/things", "post", []limit{global, {"writes", "3/minute", "user", `"writes";q=3;w=60`}}},
		{"/things", "put", []limit{global, {"writes", "3/minute", "user", `"writes";q=3;w=60`}}},
		{"/login", "post", []limit{global, {"login", "2/minute", "ip", `"login";q=2;w=60`}}},
		{"/export", "get", []limit{global, {"export", "2/hour", "operation", `"export";q=2;w=3600`}}},
		{"/things", "get", []limit{global}},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			op := doc.Paths[tt.path][tt.method]
			if len(op.Limits) != len(tt.want) {
				t.Fatalf("x-ratelimit %+v, want %+v", op.Limits, tt.want)
			}
			for i := range tt.want {
				if op.Limits[i] != tt.want[i] {
					t.Errorf("x-ratelimit[%d] = %+v, want %+v", i, op.Limits[i], tt.want[i])
				}
			}
			r429, ok := op.Responses["429"]
			if !ok || r429.Content["application/problem+json"] == nil {
				t.Fatalf("429 not documented as problem+json: %+v", op.Responses["429"])
			}
			for _, h := range []string{"Retry-After", "RateLimit-Policy", "RateLimit", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} {
				if r429.Headers[h] == nil {
					t.Errorf("429 does not document %s", h)
				}
			}
			if op.Responses["503"].Headers["Retry-After"] == nil {
				t.Error("503 (store down, fail closed) not documented with Retry-After")
			}
		})
	}
	if !doc.Paths["/things"]["put"].Other {
		t.Error("RateLimit dropped the operation's other extensions")
	}
}

func TestZeroOptionsDeclareNoLimits(t *testing.T) {
	api, _ := newTestAPI(t)
	if _, err := api.Handler(); err != nil {
		t.Fatal(err)
	}
	b, _ := api.OpenAPIJSON()
	if strings.Contains(string(b), "x-ratelimit") || strings.Contains(string(b), `"429"`) {
		t.Error("an API without limits documents some")
	}
}

func TestBadRateLimitDeclarationsRefuseToStart(t *testing.T) {
	ok := func(ctx context.Context, _ *struct{}) (*okOut, error) { return &okOut{}, nil }
	for _, tt := range []struct {
		name   string
		global string
		ops    []huma.Operation
		want   string
	}{
		{"bad spec", "", []huma.Operation{{Path: "/a", Security: fortapi.Public(),
			Extensions: fortapi.RateLimits(fortapi.PerIP("a", "5/fortnight"))}}, `"5/fortnight"`},
		{"zero per second", "", []huma.Operation{{Path: "/a", Security: fortapi.Public(),
			Extensions: fortapi.RateLimits(fortapi.PerIP("a", "0/second"))}}, `"0/second"`},
		{"absurd rate", "", []huma.Operation{{Path: "/a", Security: fortapi.Public(),
			Extensions: fortapi.RateLimits(fortapi.PerIP("a", "1000000000000/second"))}}, `"1000000000000/second"`},
		{"bad global", "12/fortnight", nil, `the global rate limit: ratelimit: bad spec "12/fortnight"`},
		{"per user on a public operation", "", []huma.Operation{{Path: "/a", Security: fortapi.Public(),
			Extensions: fortapi.RateLimits(fortapi.PerUser("a", "5/minute"))}}, "per-user rate limit"},
		{"unknown key", "", []huma.Operation{{Path: "/a", Security: fortapi.Public(),
			Extensions: fortapi.RateLimits(fortapi.Limit{Name: "a", Spec: "5/minute", Key: "cookie"})}}, `unknown key "cookie"`},
		{"bad name", "", []huma.Operation{{Path: "/a", Security: fortapi.Public(),
			Extensions: fortapi.RateLimits(fortapi.PerIP("a b", "5/minute"))}}, `bad limiter name "a b"`},
		{"reserved name", "", []huma.Operation{{Path: "/a", Security: fortapi.Public(),
			Extensions: fortapi.RateLimits(fortapi.PerIP("global", "5/minute"))}}, "reserved"},
		{"unreadable extension", "", []huma.Operation{{Path: "/a", Security: fortapi.Public(),
			Extensions: map[string]any{"x-ratelimit": "60/minute"}}}, "unreadable x-ratelimit"},
		{"one name, two specs", "", []huma.Operation{
			{Path: "/a", Security: fortapi.Scopes("s"), Extensions: fortapi.RateLimits(fortapi.PerUser("w", "60/minute"))},
			{Path: "/b", Security: fortapi.Scopes("s"), Extensions: fortapi.RateLimits(fortapi.PerUser("w", "61/minute"))},
		}, `declares rate limit "w" as 61/minute per user, but a (GET /a) declared it as 60/minute per user`},
		{"one name, two keys", "", []huma.Operation{
			{Path: "/a", Security: fortapi.Scopes("s"), Extensions: fortapi.RateLimits(fortapi.PerUser("w", "60/minute"))},
			{Path: "/b", Security: fortapi.Scopes("s"), Extensions: fortapi.RateLimits(fortapi.PerIP("w", "1/second"))},
		}, `declares rate limit "w" as 1/second per ip, but a (GET /a) declared it as 60/minute per user`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			api := fortapi.New(fortapi.Options{GlobalLimit: tt.global, Logger: slog.New(slog.DiscardHandler)})
			for _, op := range tt.ops {
				op.Method, op.OperationID = http.MethodGet, strings.TrimPrefix(op.Path, "/")
				huma.Register(api, op, ok)
			}
			_, err := api.Handler()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Handler() error %v, want one containing %s", err, tt.want)
			}
		})
	}
}

// TestOneGlobalLimitAcrossInstances runs two APIs, as two server
// instances would, each with its own Set on one shared Redis: together
// they admit exactly the global allowance.
func TestOneGlobalLimitAcrossInstances(t *testing.T) {
	o, err := redisstore.ClientOptions(testutil.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(o)
	t.Cleanup(func() { _ = client.Close() })
	if err := client.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("Redis at FORTAPI_TEST_REDIS_URL: %v", err)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	prefix := "fortapi-test:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
	})
	var servers []*httptest.Server
	for range 2 {
		set, err := ratelimit.NewSet(ratelimit.SetOptions{
			// A generous timeout: the race detector and parallel test
			// packages slow everything; a timeout would be an outage.
			Store:   redisstore.New(client, redisstore.Options{Prefix: prefix, Timeout: 10 * time.Second}),
			OnError: ratelimit.FailClosed, Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		srv, _, _ := newLimitedServer(t, fortapi.Options{RateLimits: set, GlobalLimit: "20/minute"})
		servers = append(servers, srv)
	}
	// 60 requests in parallel, spread over both instances and over 404s,
	// the document and an operation.
	paths := []string{"/nowhere", "/openapi.json", "/things"}
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			srv := servers[i%2]
			req, _ := http.NewRequest("GET", srv.URL+paths[i%len(paths)], nil)
			req.Header.Set("Authorization", "Test alice things:read")
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	passed := 60 - codes[http.StatusTooManyRequests]
	if passed != 20 || codes[http.StatusServiceUnavailable] != 0 {
		t.Errorf("two instances passed %d requests through one 20/minute global limit (statuses %v), want exactly 20", passed, codes)
	}
}

// BenchmarkRateLimitMiddleware measures what limiting costs an
// authenticated GET: without any limit, with a per-user limit on the
// operation, and with the global per-IP limit as well (all in memory;
// the limits are never reached).
func BenchmarkRateLimitMiddleware(b *testing.B) {
	const never = "1000000/second burst 1000000000"
	build := func(global string, limits ...fortapi.Limit) http.Handler {
		api := fortapi.New(fortapi.Options{
			Authenticator: fortapi.AuthenticatorFunc(testAuth),
			Logger:        slog.New(slog.NewJSONHandler(io.Discard, nil)),
			GlobalLimit:   global,
		})
		op := huma.Operation{OperationID: "list", Method: "GET", Path: "/protected", Security: fortapi.Scopes("things:read")}
		if len(limits) > 0 {
			fortapi.RateLimit(&op, limits...)
		}
		huma.Register(api, op, func(ctx context.Context, _ *listIn) (*okOut, error) {
			out := &okOut{}
			out.Body.OK = true
			return out, nil
		})
		h, err := api.Handler()
		if err != nil {
			b.Fatal(err)
		}
		return h
	}
	hdr := map[string]string{"Authorization": "Test alice things:read"}
	b.Run("GET /protected/no limit", func(b *testing.B) {
		benchServe(b, build(""), "GET", "/protected", "", hdr, 200)
	})
	b.Run("GET /protected/per-user limit", func(b *testing.B) {
		benchServe(b, build("", fortapi.PerUser("reads", never)), "GET", "/protected", "", hdr, 200)
	})
	b.Run("GET /protected/global and per-user limits", func(b *testing.B) {
		benchServe(b, build(never, fortapi.PerUser("reads", never)), "GET", "/protected", "", hdr, 200)
	})
}
