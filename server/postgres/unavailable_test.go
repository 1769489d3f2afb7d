package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fortapi/fortapi/internal/testutil"
	"github.com/fortapi/fortapi/server"
)

// TestUnavailableClassifies: what says "the server cannot serve now"
// matches server.ErrUnavailable; a failed statement and the caller's own
// cancellation do not.
func TestUnavailableClassifies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"connection lost", ctx, fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		// What pgconn answers when an earlier failure of the same
		// operation closed the connection (not safe to retry, no network
		// error in the chain): a transaction cut mid-way.
		{"connection closed by the driver", ctx, fmt.Errorf("receive: %w", pgconn.ErrConnClosed), true},
		{"admin shutdown", ctx, &pgconn.PgError{Code: "57P01"}, true},
		{"starting up", ctx, &pgconn.PgError{Code: "57P03"}, true},
		{"connection failure", ctx, &pgconn.PgError{Code: "08006"}, true},
		{"too many connections", ctx, &pgconn.PgError{Code: "53300"}, true},
		{"read-only (a standby)", ctx, &pgconn.PgError{Code: "25006"}, true},
		{"statement timeout", ctx, &pgconn.PgError{Code: "57014"}, true},
		{"syntax error", ctx, &pgconn.PgError{Code: "42601"}, false},
		{"unique violation", ctx, &pgconn.PgError{Code: "23505"}, false},
		{"the caller left", cancelled, fmt.Errorf("read: %w", io.ErrUnexpectedEOF), false},
		{"another error", ctx, errors.New("cannot scan"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := errors.Is(wrap(tc.ctx, "op", tc.err), server.ErrUnavailable); got != tc.want {
				t.Errorf("errors.Is(wrap(%v), server.ErrUnavailable) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// TestLostServerIsUnavailable takes the server away from a store (a proxy
// in between closes every connection and refuses new ones): reads and
// writes fail at once with server.ErrUnavailable, and work again by
// themselves when the server is back.
func TestLostServerIsUnavailable(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	u := ts.newSchema(t)
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testutil.NewTCPProxy(t, pu.Host)
	pu.Host = proxy.Addr()
	s := open(t, Options{URL: pu.String()})
	ctx := context.Background()
	acc := server.Access{UserID: "01a2211e-0000-7000-8000-000000000001"}
	missing := "01a2211e-0000-7000-8000-000000000002"
	if _, err := s.GetItem(ctx, acc, missing); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("GetItem before the cut: %v", err)
	}
	proxy.Cut()
	now := time.Now().UTC()
	calls := map[string]func() error{
		"GetItem": func() error { _, err := s.GetItem(ctx, acc, missing); return err },
		"CreateItem": func() error {
			return s.CreateItem(ctx, server.Item{ID: missing, OwnerID: acc.UserID, Name: "x", Price: 1, CreatedAt: now, UpdatedAt: now})
		},
		"ListUsers": func() error { _, err := s.ListUsers(ctx, "", 10); return err },
	}
	for name, call := range calls {
		start := time.Now()
		err := call()
		if !errors.Is(err, server.ErrUnavailable) {
			t.Errorf("%s with the server gone: %v, want server.ErrUnavailable", name, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s took %v to fail", name, d)
		}
	}
	proxy.Restore()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := s.GetItem(ctx, acc, missing)
		if errors.Is(err, server.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GetItem 5s after the server came back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
