package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/internal/testutil"
	"github.com/fortapi/fortapi/server/httpapi"
	"github.com/fortapi/fortapi/server/sqlite"
)

// TestReadyzReportsRedis: an unreachable Redis is a warning while the
// limits fail open, and takes the instance out of service (503) when they
// fail closed.
func TestReadyzReportsRedis(t *testing.T) {
	t.Parallel()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ready.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	down := func(context.Context) error { return errors.New("dial tcp 127.0.0.1:6379: connection refused") }
	up := func(context.Context) error { return nil }
	tests := []struct {
		name     string
		ping     func(context.Context) error
		required bool
		status   int
		warning  bool
	}{
		{"no Redis configured", nil, false, 200, false},
		{"Redis answers", up, true, 200, false},
		{"Redis down, failing open", down, false, 200, true},
		{"Redis down, failing closed", down, true, 503, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := fortapi.New(fortapi.Options{Logger: slog.New(slog.DiscardHandler)})
			httpapi.Register(api, httpapi.Deps{Store: store, Redis: tt.ping, RedisRequired: tt.required})
			h, err := api.Handler()
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(validating(t, api, h))
			defer srv.Close()
			resp, err := srv.Client().Get(srv.URL + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, b)
			}
			if strings.Contains(string(b), "127.0.0.1") {
				t.Errorf("the public answer names the Redis address: %s", b)
			}
			var out struct{ Warnings []string }
			_ = json.Unmarshal(b, &out)
			if got := len(out.Warnings) > 0; got != tt.warning {
				t.Errorf("warnings %q, want some: %v", out.Warnings, tt.warning)
			}
		})
	}
}

// TestReadyzCertificate covers /readyz's answers to each certificate state.
func TestReadyzCertificate(t *testing.T) {
	t.Parallel()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ready.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	now := time.Now()
	for _, tt := range []struct {
		name     string
		expiry   func(context.Context) (time.Time, error)
		status   int
		contains []string
		lacks    []string
	}{
		{"no TLS", nil, 200, []string{`"status":"ready"`}, []string{"certificate_not_after", "warnings"}},
		{"valid", func(context.Context) (time.Time, error) { return now.Add(60 * 24 * time.Hour), nil }, 200, []string{`"certificate_not_after":"`}, []string{"warnings"}},
		{"expiring", func(context.Context) (time.Time, error) { return now.Add(13 * 24 * time.Hour), nil }, 200, []string{"expires within 14 days"}, nil},
		{"refused files", func(context.Context) (time.Time, error) {
			return now.Add(60 * 24 * time.Hour), errors.New("the certificate files on disk were refused")
		}, 200, []string{`"warnings":["the certificate files on disk were refused"]`}, nil},
		{"no ACME certificate yet", func(context.Context) (time.Time, error) { return time.Time{}, errors.New("ACME: no certificate yet") }, 200, []string{"no certificate yet"}, []string{"certificate_not_after"}},
		{"expired", func(context.Context) (time.Time, error) { return now.Add(-time.Minute), nil }, 503, []string{"the TLS certificate expired at"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			api := fortapi.New(fortapi.Options{Logger: slog.New(slog.DiscardHandler)})
			httpapi.Register(api, httpapi.Deps{Store: store, CertExpiry: tt.expiry})
			h, err := api.Handler()
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
			body := rec.Body.String()
			if rec.Code != tt.status {
				t.Errorf("%d %s, want %d", rec.Code, body, tt.status)
			}
			for _, w := range tt.contains {
				if !strings.Contains(body, w) {
					t.Errorf("%s lacks %s", body, w)
				}
			}
			for _, w := range tt.lacks {
				if strings.Contains(body, w) {
					t.Errorf("%s has %s", body, w)
				}
			}
		})
	}
}

// TestReadyzStoreCannotWrite: a store whose database file is read-only
// answers queries but takes no writes: /readyz answers 503 naming the
// reason, and no path.
func TestReadyzStoreCannotWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ro.db")
	store, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	store.Close()
	testutil.ReadOnlyFile(t, path)
	if store, err = sqlite.Open(ctx, path, sqlite.Options{}); err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	api := fortapi.New(fortapi.Options{Logger: slog.New(slog.DiscardHandler)})
	httpapi.Register(api, httpapi.Deps{Store: store})
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	body := rec.Body.String()
	if rec.Code != 503 || !strings.Contains(body, "the store cannot write: the database is read-only") {
		t.Errorf("%d %s, want 503 naming the read-only database", rec.Code, body)
	}
	if strings.Contains(body, filepath.Dir(path)) {
		t.Errorf("the public answer names the path: %s", body)
	}
}
