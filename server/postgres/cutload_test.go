package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fortapi/fortapi/server"
)

// TestCutUnderLoad cuts the server, again and again, while reads,
// writes and transactions are in flight on every connection of the pool:
// whatever moment a statement is lost at (being sent, awaiting its
// answer, inside a transaction, acquiring a pooled connection that
// died while idle), the error matches server.ErrUnavailable.
func TestCutUnderLoad(t *testing.T) {
	t.Parallel()
	s, proxy, _ := cutStore(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	day := 24 * time.Hour
	user := server.User{ID: cutID(t), Username: "cutdave", Role: server.RoleAdmin, PasswordHash: cutPasswordHash, CreatedAt: now}
	if err := s.CreateUser(ctx, user, server.Event{}); err != nil {
		t.Fatal(err)
	}
	ops := []func() error{
		func() error { _, err := s.GetUserByName(ctx, user.Username); return err },
		func() error {
			sess := server.Session{ID: cutID(t), UserID: user.ID, Scopes: []string{server.ScopeItemsRead}, CreatedAt: now, ExpiresAt: now.Add(day)}
			return s.CreateSession(ctx, sess, server.RefreshToken{Hash: cutHash(t), CreatedAt: now, ExpiresAt: now.Add(day)},
				server.Event{Type: server.EventLoginSuccess})
		},
		func() error {
			return s.CreateItem(ctx, server.Item{ID: cutID(t), OwnerID: user.ID, Name: "x", Price: 1, CreatedAt: now, UpdatedAt: now})
		},
		func() error { _, err := s.ListItems(ctx, server.Access{UserID: user.ID}, "", 50); return err },
		func() error {
			return s.AddRevocation(ctx, server.Revocation{Kind: server.RevokeJTI, Value: cutID(t), Until: now.Add(day), CreatedAt: now})
		},
	}
	var (
		mu       sync.Mutex
		bad      = map[string]int{}
		failures int
	)
	const rounds = 8
	for round := range rounds {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 2 * DefaultMaxConns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					err := ops[(w+i)%len(ops)]()
					if err == nil {
						continue
					}
					mu.Lock()
					failures++
					if !errors.Is(err, server.ErrUnavailable) {
						bad[fmt.Sprintf("%T: %v", errors.Unwrap(err), err)]++
					}
					mu.Unlock()
				}
			}()
		}
		// Let the load run, cut at a moment that moves each round, let
		// the failures come, then restore.
		time.Sleep(time.Duration(20+round*7) * time.Millisecond)
		proxy.Cut()
		time.Sleep(50 * time.Millisecond)
		proxy.Restore()
		time.Sleep(30 * time.Millisecond)
		close(stop)
		wg.Wait()
	}
	if failures == 0 {
		t.Fatal("no call failed: the cuts never hit the load")
	}
	for e, n := range bad {
		t.Errorf("%d× not server.ErrUnavailable: %s", n, e)
	}
	t.Logf("%d failed calls, all server.ErrUnavailable", failures)
}
