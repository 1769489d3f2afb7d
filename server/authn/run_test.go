package authn_test

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"testing"
	"time"

	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/password"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/authn"
	"github.com/fortapi/fortapi/server/sqlite"
	"github.com/fortapi/fortapi/token"
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
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "run.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	ring, err := jwtkey.Open(ctx, jwtkey.Options{MasterKey: master, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	revs := token.NewRevocations(token.RevocationsOptions{})
	tokens, err := token.New(token.Options{Issuer: "i", Audience: "a", Keys: ring, Revocations: revs})
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := password.NewHasher(password.HasherOptions{QueueTimeout: time.Minute, InsecureTestParams: true}) // a loaded test machine must not make it busy; what these tests check does not depend on the hash cost
	if err != nil {
		t.Fatal(err)
	}
	svc, err := authn.New(authn.Options{Store: store, Hasher: hasher, Tokens: tokens, Revocations: revs, Keys: ring,
		PruneEvery: 10 * time.Millisecond, AuditRetention: auditRetention, RefreshKey: []byte("authn test refresh successor key, 32+ bytes")})
	if err != nil {
		t.Fatal(err)
	}
	return store, svc
}
