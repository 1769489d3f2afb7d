package authn_test

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/password"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/authn"
	"github.com/fortapi/fortapi/server/sqlite"
	"github.com/fortapi/fortapi/token"
)

// Run deletes the security events older than AuditRetention, in batches
// (more than one batch's worth here), and keeps the newer ones.
func TestRunPrunesOldAuditEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "audit.db"), sqlite.Options{})
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
	hasher, err := password.NewHasher(password.HasherOptions{QueueTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := authn.New(authn.Options{Store: store, Hasher: hasher, Tokens: tokens, Revocations: revs, Keys: ring,
		PruneEvery: 10 * time.Millisecond, AuditRetention: 24 * time.Hour, RefreshKey: []byte("authn test refresh successor key, 32+ bytes")})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	const old = 2100 // three batches of 1000
	var wg sync.WaitGroup
	for i := range old + 2 {
		at := now.Add(-48 * time.Hour)
		if i >= old {
			at = now.Add(-time.Hour) // within the retention
		}
		wg.Go(func() {
			if err := store.AddEvent(ctx, server.Event{At: at, Type: server.EventLoginFailure, Username: "x"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	count := func() int {
		evs, err := store.ListEvents(ctx, server.EventFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		return len(evs)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { svc.Run(rctx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(30 * time.Second)
	for count() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d events 30s into Run, want the 2 within the retention", count())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
