package authn_test

import (
	"context"
	"testing"
	"time"

	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/authn"
	"github.com/fortapi/fortapi/server/sqlite"
)

// TestRunPrunesExpiredRows: the background loop deletes revocation-log
// rows whose time has passed, so the table does not grow forever.
func TestRunPrunesExpiredRows(t *testing.T) {
	ctx := context.Background()
	store, svc := runService(t, 0)
	now := time.Now().UTC().Truncate(time.Microsecond)
	for _, until := range []time.Time{now.Add(-time.Hour), now.Add(time.Hour)} {
		if err := store.AddRevocation(ctx, server.Revocation{Kind: server.RevokeJTI, Value: "jti-" + until.String(), Until: until, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		rs, err := store.Revocations(ctx, 0, time.Time{}.Add(time.Nanosecond), 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(rs)
	}
	if n := count(); n != 2 {
		t.Fatalf("%d revocations before Run, want 2", n)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { svc.Run(rctx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for count() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d revocations 10s into Run, want 1 (the expired one pruned)", count())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runService is a Service on a fresh SQLite store whose Run loop prunes
// every 10ms, with auditRetention (0: the default).
func runService(t *testing.T, auditRetention time.Duration) (*sqlite.Store, *authn.Service) {
	t.Helper()
	e := newFeedEnv(t, authn.Options{PruneEvery: 10 * time.Millisecond, AuditRetention: auditRetention})
	return e.store, e.svc
}
