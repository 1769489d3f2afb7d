package fortapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/internal/testutil"
)

// The request path, in process (no network, no TLS): a bare net/http
// handler against the same operations through fortapi, with its JSON
// access log written to io.Discard.

func bareHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]bool{"ok": true})
	})
	mux.HandleFunc("POST /things", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var in struct {
			Name  string `json:"name"`
			Count int    `json:"count"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"name": in.Name, "by": "alice"})
	})
	return mux
}

func fortapiHandler(b *testing.B) http.Handler { return fortapiHandlerMetrics(b, nil) }

// fortapiHandlerMetrics is fortapiHandler with its request metrics
// registered with reg (none when nil).
func fortapiHandlerMetrics(b *testing.B, reg prometheus.Registerer) http.Handler {
	api := fortapi.New(fortapi.Options{
		Authenticator: fortapi.AuthenticatorFunc(testAuth),
		Logger:        slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Metrics:       reg,
	})
	huma.Register(api, huma.Operation{OperationID: "health", Method: "GET", Path: "/health", Security: fortapi.Public()},
		func(ctx context.Context, _ *struct{}) (*okOut, error) {
			out := &okOut{}
			out.Body.OK = true
			return out, nil
		})
	huma.Register(api, huma.Operation{OperationID: "list", Method: "GET", Path: "/things", Security: fortapi.Scopes("things:read")},
		func(ctx context.Context, _ *listIn) (*okOut, error) {
			out := &okOut{}
			out.Body.OK = true
			return out, nil
		})
	huma.Register(api, huma.Operation{OperationID: "create", Method: "POST", Path: "/things", Security: fortapi.Scopes("things:write")},
		func(ctx context.Context, in *thingIn) (*thingOut, error) {
			p, _ := fortapi.PrincipalFrom(ctx)
			out := &thingOut{}
			out.Body.Name, out.Body.By = in.Body.Name, p.Subject
			return out, nil
		})
	h, err := api.Handler()
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// benchServe serves method target (body, header) on every core. Each
// goroutine reuses one request and one response writer (its header map
// cleared between requests), so -benchmem counts the handler's own
// allocations, not the harness's; net/http's per-request allocations (the
// request, its header map, the response) are the same for both handlers
// in a real server.
func benchServe(b *testing.B, h http.Handler, method, target, body string, header map[string]string, want int) {
	b.ReportAllocs()
	defer testutil.ReportCPU(b)()
	b.RunParallel(func(pb *testing.PB) {
		rd := strings.NewReader(body)
		req := httptest.NewRequest(method, target, rd)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		var reqBody io.ReadCloser = http.NoBody // as net/http gives
		if body != "" {
			reqBody = io.NopCloser(rd)
		}
		w := &benchWriter{header: make(http.Header)}
		for pb.Next() {
			rd.Reset(body)
			req.Body = reqBody
			clear(w.header)
			w.status = 0
			h.ServeHTTP(w, req)
			if w.status != want {
				b.Fatalf("status %d, want %d", w.status, want)
			}
		}
	})
}

// benchWriter keeps the status and discards the body.
type benchWriter struct {
	header http.Header
	status int
}

func (w *benchWriter) Header() http.Header { return w.header }
func (w *benchWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *benchWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(p), nil
}

func BenchmarkRequestPath(b *testing.B) {
	bare, fort := bareHandler(), fortapiHandler(b)
	post := `{"name":"hammer","count":3}`
	b.Run("GET public/bare", func(b *testing.B) { benchServe(b, bare, "GET", "/health", "", nil, 200) })
	b.Run("GET public/fortapi", func(b *testing.B) { benchServe(b, fort, "GET", "/health", "", nil, 200) })
	b.Run("GET protected/fortapi", func(b *testing.B) {
		benchServe(b, fort, "GET", "/things", "", map[string]string{"Authorization": "Test alice things:read"}, 200)
	})
	b.Run("GET anonymous 401/fortapi", func(b *testing.B) { benchServe(b, fort, "GET", "/things", "", nil, 401) })
	b.Run("GET 404/fortapi", func(b *testing.B) { benchServe(b, fort, "GET", "/nowhere", "", nil, 404) })
	b.Run("POST validated/bare", func(b *testing.B) {
		benchServe(b, bare, "POST", "/things", post, map[string]string{"Authorization": "x", "Content-Type": "application/json"}, 200)
	})
	b.Run("POST validated/fortapi", func(b *testing.B) { benchServe(b, fort, "POST", "/things", post, writer, 200) })
	// The same with the request metrics (Options.Metrics): their cost.
	withMetrics := fortapiHandlerMetrics(b, prometheus.NewRegistry())
	b.Run("GET protected/fortapi+metrics", func(b *testing.B) {
		benchServe(b, withMetrics, "GET", "/things", "", map[string]string{"Authorization": "Test alice things:read"}, 200)
	})
	b.Run("GET 404/fortapi+metrics", func(b *testing.B) { benchServe(b, withMetrics, "GET", "/nowhere", "", nil, 404) })
	b.Run("POST validated/fortapi+metrics", func(b *testing.B) { benchServe(b, withMetrics, "POST", "/things", post, writer, 200) })
}
