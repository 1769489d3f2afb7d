package httpapi_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/ratelimit"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/httpapi"
	"github.com/fortapi/fortapi/server/sqlite"
)

// lostStore is a store whose item operations fail as a store that cannot
// be reached does (server.ErrUnavailable).
type lostStore struct {
	*sqlite.Store
}

func errLost() error {
	return fmt.Errorf("postgres: get item: %w: dial tcp 10.0.0.7:5432: connection refused", server.ErrUnavailable)
}

func (lostStore) CreateItem(context.Context, server.Item) error { return errLost() }
func (lostStore) GetItem(context.Context, server.Access, string) (server.Item, error) {
	return server.Item{}, errLost()
}

// TestStoreUnavailableIs503: an unreachable store gives 503 with
// Retry-After (a problem that names no host), never 500.
func TestStoreUnavailableIs503(t *testing.T) {
	t.Parallel()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "lost.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	set, err := ratelimit.NewSet(ratelimit.SetOptions{Scale: 1000})
	if err != nil {
		t.Fatal(err)
	}
	api := fortapi.New(fortapi.Options{Authenticator: fortapi.AuthenticatorFunc(auth), Logger: slog.New(slog.DiscardHandler), RateLimits: set})
	httpapi.Register(api, httpapi.Deps{Store: lostStore{store}})
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(validating(t, api, h))
	t.Cleanup(srv.Close)
	c := client{t: t, srv: srv, auth: "Test alice"}
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/items/", `{"name":"x","price":1}`},
		{"GET", "/items/01a2211e-0000-7000-8000-000000000000", ""},
	} {
		resp, b := c.do(tc.method, tc.path, tc.body)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" ||
			resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s: %d Retry-After %q %q: %s", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type"), b)
		}
		if strings.Contains(string(b), "10.0.0.7") || strings.Contains(string(b), "postgres") {
			t.Errorf("%s %s: the answer names the store: %s", tc.method, tc.path, b)
		}
	}
}
