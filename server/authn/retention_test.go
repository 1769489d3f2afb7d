package authn_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/fortapi/fortapi/server"
)

// Run deletes the security events older than AuditRetention, in batches
// (more than one batch's worth here), and keeps the newer ones.
func TestRunPrunesOldAuditEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, svc := runService(t, 24*time.Hour)
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
