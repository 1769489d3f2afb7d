package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fortapi/fortapi/server"
)

// TestCheckWritable: a store in its own schema takes writes; read-only
// sessions (default_transaction_read_only, as on a server switched to
// read-only) and a closed pool are reported with a public reason that
// names neither host nor user.
func TestCheckWritable(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	u := ts.newSchema(t)
	s := open(t, Options{URL: u})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.CheckWritable(ctx); err != nil {
		t.Fatalf("a writable store: %v", err)
	}
	// One connection, switched to read-only sessions after the migrations
	// (a read-only server refuses Open, which migrates).
	ro := open(t, Options{URL: u, MaxConns: 1})
	if _, err := ro.pool.Exec(ctx, "SET default_transaction_read_only = on"); err != nil {
		t.Fatal(err)
	}
	closed := open(t, Options{URL: u})
	closed.Close()
	for _, tt := range []struct {
		name   string
		store  *Store
		reason string
	}{
		{"read-only sessions", ro, "PostgreSQL transactions are read-only"},
		{"closed", closed, "PostgreSQL is not reachable"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.store.CheckWritable(ctx)
			var ue *server.UnwritableError
			if !errors.As(err, &ue) || !strings.HasPrefix(ue.Reason, tt.reason) {
				t.Fatalf("CheckWritable: %v, want %q", err, tt.reason)
			}
			if strings.Contains(ue.Error(), "127.0.0.1") || strings.Contains(ue.Error(), "postgres") && !strings.HasPrefix(ue.Error(), "PostgreSQL") {
				t.Errorf("the reason names the server: %q", ue.Error())
			}
		})
	}
}
