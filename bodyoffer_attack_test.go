package fortapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/danielgtaylor/huma/v2"
)

// Requests to operations that leave their offer untaken (validation
// skipped), that take it, and that do not sanitize at all run at once on
// recycled body buffers, with bodies equal across requests and not: every
// handler gets exactly its own body, sanitized where its operation
// sanitizes, and no offer is left behind (run with -race).
func TestBodyOffersAcrossConcurrentRequests(t *testing.T) {
	api := New(Options{Logger: slog.New(slog.DiscardHandler)})
	type sanIn struct {
		Body struct {
			Title string  `json:"title" sanitize:"rich"`
			Count float64 `json:"count"`
		}
	}
	type plainIn struct {
		Body struct {
			Title string  `json:"title"`
			Count float64 `json:"count"`
		}
	}
	type seen struct {
		title string
		count float64
	}
	var mu sync.Mutex
	got := map[string]seen{} // by X-Req
	record := func(ctx context.Context, title string, count float64) {
		id := ctx.Value(reqIDKey{}).(string)
		mu.Lock()
		got[id] = seen{title, count}
		mu.Unlock()
	}
	huma.Register(api, huma.Operation{OperationID: "skip", Method: http.MethodPost, Path: "/skip", Security: Public(), SkipValidateBody: true},
		func(ctx context.Context, in *sanIn) (*struct{}, error) {
			record(ctx, in.Body.Title, in.Body.Count)
			return nil, nil
		})
	huma.Register(api, huma.Operation{OperationID: "san", Method: http.MethodPost, Path: "/san", Security: Public()},
		func(ctx context.Context, in *sanIn) (*struct{}, error) {
			record(ctx, in.Body.Title, in.Body.Count)
			return nil, nil
		})
	huma.Register(api, huma.Operation{OperationID: "plain", Method: http.MethodPost, Path: "/plain", Security: Public()},
		func(ctx context.Context, in *plainIn) (*struct{}, error) {
			record(ctx, in.Body.Title, in.Body.Count)
			return nil, nil
		})
	inner, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), reqIDKey{}, r.Header.Get("X-Req"))))
	})
	titles := []string{"<b>kept</b>", "<script>alert(1)</script>gone", "plain", strings.Repeat("long ", 200)}
	sanitized := map[string]string{"<script>alert(1)</script>gone": "gone"}
	paths := []string{"/skip", "/san", "/plain"}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				title, path, count := titles[(g+i)%len(titles)], paths[(g*7+i)%len(paths)], float64(i%3)
				id := fmt.Sprintf("%d-%d", g, i)
				body := fmt.Sprintf(`{"title":%q,"count":%v}`, title, count)
				req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Req", id)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusNoContent {
					t.Errorf("%s %s: %d %s", path, body, rec.Code, rec.Body)
					return
				}
				want := seen{title, count}
				if s, ok := sanitized[title]; ok && path != "/plain" {
					want.title = s
				}
				mu.Lock()
				g := got[id]
				mu.Unlock()
				if g != want {
					t.Errorf("%s %s: handler got %+v, want %+v", path, body, g, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	n := api.offers.count()
	if n != 0 {
		t.Errorf("%d offers left", n)
	}
}

type reqIDKey struct{}

// On an operation that sanitizes, the strict checks still refuse what
// they refused before decodeAny took the common case: a repeated member
// (the mass-assignment trick of sending "role" twice), also nested, and
// invalid UTF-8, with or without bytes that send the body down the exact
// path, on a body struct filled from the sanitizer's decoding
// (structfill.go: /flat) and on one huma decodes itself (/nested); the
// handler never runs. A clean body still passes.
func TestSanitizedBodyStrictChecks(t *testing.T) {
	api := New(Options{Logger: slog.New(slog.DiscardHandler)})
	type flat struct {
		Body struct {
			Title string `json:"title" sanitize:"rich"`
			Role  string `json:"role,omitempty"`
		}
	}
	type nested struct {
		Body struct {
			Title string         `json:"title" sanitize:"rich"`
			Meta  map[string]any `json:"meta,omitempty"`
		}
	}
	var mu sync.Mutex
	var ran []string
	run := func(s string) {
		mu.Lock()
		ran = append(ran, s)
		mu.Unlock()
	}
	huma.Register(api, huma.Operation{OperationID: "flat", Method: http.MethodPost, Path: "/flat", Security: Public()},
		func(ctx context.Context, in *flat) (*struct{}, error) {
			run(in.Body.Title + "/" + in.Body.Role)
			return nil, nil
		})
	huma.Register(api, huma.Operation{OperationID: "nested", Method: http.MethodPost, Path: "/nested", Security: Public()},
		func(ctx context.Context, in *nested) (*struct{}, error) {
			run(in.Body.Title)
			return nil, nil
		})
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, body string
		ok               bool
	}{
		{"clean", "/flat", `{"title":"t","role":"user"}`, true},
		{"clean nested", "/nested", `{"title":"t","meta":{"a":1}}`, true},
		{"repeated member", "/flat", `{"title":"t","role":"user","role":"admin"}`, false},
		{"repeated member, exact path", "/flat", `{"title":"<b>t</b>","role":"user","role":"admin"}`, false},
		{"repeated title", "/flat", `{"title":"t","title":"u"}`, false},
		{"repeated member nested", "/nested", `{"title":"t","meta":{"a":1,"a":2}}`, false},
		{"invalid UTF-8", "/flat", "{\"title\":\"t\xff\"}", false},
		{"invalid UTF-8, exact path", "/flat", "{\"title\":\"<i>t\xc3\"}", false},
		{"surrogate in UTF-8", "/flat", "{\"title\":\"\xed\xa0\x80\"}", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			ran = nil
			mu.Unlock()
			req := httptest.NewRequest(http.MethodPost, tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			mu.Lock()
			defer mu.Unlock()
			if tc.ok {
				if rec.Code >= 300 || len(ran) != 1 {
					t.Fatalf("status %d, handler ran %q: %s", rec.Code, ran, rec.Body)
				}
				return
			}
			if rec.Code != http.StatusBadRequest && rec.Code != http.StatusUnprocessableEntity || len(ran) != 0 {
				t.Fatalf("status %d, handler ran %q, want a 400 or 422 and no run: %s", rec.Code, ran, rec.Body)
			}
		})
	}
}
