package fortapi_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/ratelimit"
)

// TestRateLimitFieldsOnEveryAnswer: the front door holds the global
// limit's fields and the guard writes them with the operation's limits,
// or the recorder writes them before the header goes out: every answer
// carries exactly the fields each limit writing its own in turn would
// write, whatever the handler does (writes nothing, flushes first, writes
// a body, panics), when authorization refuses, and after the fields of a
// limiter outside the API's handler, which stay first.
func TestRateLimitFieldsOnEveryAnswer(t *testing.T) {
	global := map[string][]string{
		"Ratelimit-Policy": {`"global";q=100;w=60`}, "Ratelimit": {`"global";r=99;t=1`},
		"Ratelimit-Limit": {"100"}, "Ratelimit-Remaining": {"99"}, "Ratelimit-Reset": {"1"},
	}
	withReads := map[string][]string{
		"Ratelimit-Policy": {`"global";q=100;w=60`, `"reads";q=10;w=60`}, "Ratelimit": {`"global";r=99;t=1`, `"reads";r=9;t=6`},
		"Ratelimit-Limit": {"10"}, "Ratelimit-Remaining": {"9"}, "Ratelimit-Reset": {"6"},
	}
	outerFirst := map[string][]string{
		"Ratelimit-Policy": {`"outer";q=5;w=60`, `"global";q=100;w=60`, `"reads";q=10;w=60`},
		"Ratelimit":        {`"outer";r=4;t=12`, `"global";r=99;t=1`, `"reads";r=9;t=6`},
		"Ratelimit-Limit":  {"5"}, "Ratelimit-Remaining": {"4"}, "Ratelimit-Reset": {"12"},
	}
	auth := map[string]string{"Authorization": "Test alice things:read"}
	for _, tc := range []struct {
		name, path string
		header     map[string]string
		outer      bool
		status     int
		want       map[string][]string
	}{
		{"operation", "/things", auth, false, 200, withReads},
		{"handler writes nothing", "/silent", auth, false, 200, withReads},
		{"public handler writes nothing", "/quiet", nil, false, 200, global},
		{"handler flushes first", "/flush", nil, false, 200, global},
		{"handler writes a body", "/public", nil, false, 200, global},
		{"handler panics", "/panic", nil, false, 500, global},
		{"no credentials", "/things", nil, false, 401, global},
		{"no route", "/nowhere", nil, false, 404, global},
		{"outer limiter", "/things", auth, true, 200, outerFirst},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := fortapi.New(fortapi.Options{GlobalLimit: "100/minute", Authenticator: fortapi.AuthenticatorFunc(testAuth), Logger: slog.New(slog.DiscardHandler)})
			reads := func() map[string]any { return fortapi.RateLimits(fortapi.PerUser("reads", "10/minute")) }
			huma.Register(api, huma.Operation{OperationID: "things", Method: "GET", Path: "/things",
				Security: fortapi.Scopes("things:read"), Extensions: reads()},
				func(context.Context, *struct{}) (*okOut, error) { return &okOut{}, nil })
			fortapi.RegisterHandler(api, huma.Operation{Method: "GET", Path: "/silent", Security: fortapi.Scopes("things:read"), Extensions: reads()},
				http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			fortapi.RegisterHandler(api, huma.Operation{Method: "GET", Path: "/quiet", Security: fortapi.Public()},
				http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			fortapi.RegisterHandler(api, huma.Operation{Method: "GET", Path: "/flush", Security: fortapi.Public()},
				http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					_ = http.NewResponseController(w).Flush()
					_, _ = io.WriteString(w, "streamed")
				}))
			fortapi.RegisterHandler(api, huma.Operation{Method: "GET", Path: "/public", Security: fortapi.Public()},
				http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "body") }))
			fortapi.RegisterHandler(api, huma.Operation{Method: "GET", Path: "/panic", Security: fortapi.Public()},
				http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
			h, err := api.Handler()
			if err != nil {
				t.Fatal(err)
			}
			if tc.outer {
				outer, err := ratelimit.New(ratelimit.Options{Name: "outer", Spec: ratelimit.MustParseSpec("5/minute")})
				if err != nil {
					t.Fatal(err)
				}
				h = outer.Middleware(h)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			resp, b := call{method: "GET", path: tc.path, header: tc.header}.do(t, srv)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			got := map[string][]string{}
			for k, v := range resp.Header {
				if _, ok := tc.want[k]; ok {
					got[k] = v
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("rate-limit fields\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}
