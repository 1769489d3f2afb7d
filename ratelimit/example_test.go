package ratelimit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/fortapi/fortapi/ratelimit"
)

// A limiter with an injected clock: five logins a minute per key, then
// 429 with the time to wait, and one more allowed as time passes (GCRA:
// the allowance refills evenly, not all at once).
func ExampleLimiter_Check() {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	set, err := ratelimit.NewSet(ratelimit.SetOptions{Now: func() time.Time { return now }})
	if err != nil {
		panic(err)
	}
	logins, err := ratelimit.New(ratelimit.Options{Name: "login", Spec: ratelimit.MustParseSpec("5/minute"), Set: set})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for i := 1; i <= 6; i++ {
		res, _ := logins.Check(ctx, "user:alice")
		fmt.Println(i, res.Allowed, res.Remaining, res.RetryAfter)
	}
	now = now.Add(12 * time.Second) // one interval of 60s/5
	res, _ := logins.Check(ctx, "user:alice")
	fmt.Println("later", res.Allowed)
	res, _ = logins.Check(ctx, "user:bob") // every key has its own allowance
	fmt.Println("bob", res.Allowed)
	// Output:
	// 1 true 4 0s
	// 2 true 3 0s
	// 3 true 2 0s
	// 4 true 1 0s
	// 5 true 0 0s
	// 6 false 0 12s
	// later true
	// bob true
}

// As middleware, keyed by the TCP peer's address by default; answers carry
// the RateLimit headers and a refusal is a 429 problem with Retry-After.
func ExampleLimiter_Middleware() {
	frozen := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC) // a clock that does not move: no flaky output
	set, err := ratelimit.NewSet(ratelimit.SetOptions{Now: func() time.Time { return frozen }})
	if err != nil {
		panic(err)
	}
	l, err := ratelimit.New(ratelimit.Options{Name: "api", Spec: ratelimit.MustParseSpec("2/second"), Set: set})
	if err != nil {
		panic(err)
	}
	h := l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	for range 3 {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = "192.0.2.1:1234"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("Retry-After") != "")
	}
	// Output:
	// 200 text/plain; charset=utf-8 false
	// 200 text/plain; charset=utf-8 false
	// 429 application/problem+json true
}
