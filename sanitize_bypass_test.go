package fortapi_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi"
)

// threadNode is a recursive body type: a comment and its replies.
type threadNode struct {
	Text    string       `json:"text" sanitize:"rich"`
	Replies []threadNode `json:"replies,omitempty"`
}

type threadIn struct{ Body threadNode }

// TestSanitizeDeepBodyFailsClosed: a body nested deeper than the
// sanitizer follows (sanitize.MaxDepth) must not reach the handler
// unsanitized. Before the fix, Decoded's ErrTooDeep made the body pass
// as sent, so the root's script came through a rich field.
func TestSanitizeDeepBodyFailsClosed(t *testing.T) {
	t.Parallel()
	api := fortapi.New(fortapi.Options{Logger: slog.New(slog.DiscardHandler)})
	var mu sync.Mutex
	var got *threadNode
	huma.Register(api, huma.Operation{OperationID: "thread", Method: http.MethodPost, Path: "/threads", Security: fortapi.Public()},
		func(ctx context.Context, in *threadIn) (*struct{}, error) {
			mu.Lock()
			b := in.Body
			got = &b
			mu.Unlock()
			return nil, nil
		})
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	for _, depth := range []int{10, 400, 600, 3000} {
		var b strings.Builder
		for range depth {
			b.WriteString(`{"text":"<script>alert(1)</script>x","replies":[`)
		}
		b.WriteString(`{"text":"<img src=x onerror=alert(1)>leaf"}`)
		for range depth {
			b.WriteString(`]}`)
		}
		req := httptest.NewRequest(http.MethodPost, "/threads", strings.NewReader(b.String()))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		mu.Lock()
		g := got
		got = nil
		mu.Unlock()
		switch {
		case rec.Code >= 500:
			t.Errorf("depth %d: status %d: %s", depth, rec.Code, rec.Body)
		case rec.Code >= 400:
			if g != nil {
				t.Errorf("depth %d: refused with %d but the handler ran", depth, rec.Code)
			}
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "nests deeper") {
				t.Errorf("depth %d: status %d, want 400 naming the nesting: %s", depth, rec.Code, rec.Body)
			}
			if depth <= 400 {
				t.Errorf("depth %d: refused with %d: %s", depth, rec.Code, rec.Body)
			}
		case g == nil:
			t.Errorf("depth %d: status %d without the handler", depth, rec.Code)
		default:
			for n, i := g, 0; n != nil; i++ {
				if strings.Contains(n.Text, "<script") || strings.Contains(n.Text, "onerror") {
					t.Fatalf("depth %d: node %d reached the handler unsanitized: %q", depth, i, n.Text)
				}
				if len(n.Replies) == 0 {
					break
				}
				n = &n.Replies[0]
			}
		}
	}
}

// TestSanitizeContentTypeVariants: every Content-Type under which the
// body reaches the handler is one under which it was sanitized. Before
// the fix a JSON type with a malformed parameter ("application/json;
// charset", `a="`, "json") skipped sanitizing, as if huma would refuse
// it, while huma decoded it: a rich field arrived with its onerror.
func TestSanitizeContentTypeVariants(t *testing.T) {
	t.Parallel()
	h, got := sanitizeAPI(t)
	for _, ct := range []string{
		"application/json", "application/json; charset=utf-8", "application/json;", "application/vnd.x+json",
		"application/json; charset", `application/json; a="`, "application/json;charset=utf-8;charset=utf-7",
		"application/x+json;;", "json", "+json", "Application/JSON", " application/json", "application/json\t",
		"application/json , text/plain", "text/html; +json", "text/plain", "application/json\x00",
		"text/plain+", ";x", "+", "x+;", // an empty format name is JSON to huma
	} {
		t.Run(ct, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/notes", strings.NewReader(`{"title":"<img src=x onerror=alert(1)>t"}`))
			req.Header.Set("Content-Type", ct)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			b, called := got()
			switch {
			case rec.Code >= 500:
				t.Errorf("status %d: %s", rec.Code, rec.Body)
			case called && b.Title != "t":
				t.Errorf("status %d: the handler got the title %q, unsanitized", rec.Code, b.Title)
			case !called && rec.Code < 400:
				t.Errorf("status %d without the handler", rec.Code)
			case !called && rec.Code != http.StatusUnsupportedMediaType:
				t.Errorf("refused with %d, want 415: %s", rec.Code, rec.Body)
			}
		})
	}
}
