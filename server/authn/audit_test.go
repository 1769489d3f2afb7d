package authn_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fortapi/fortapi/internal/testutil"
	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/password"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/authn"
	"github.com/fortapi/fortapi/server/sqlite"
	"github.com/fortapi/fortapi/token"
)

// lockedBuffer is a log destination safe for the service's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// pruneCounter counts the PruneEvents batches the service runs.
type pruneCounter struct {
	server.AuthStore
	batches atomic.Int64
}

func (p *pruneCounter) PruneEvents(ctx context.Context, before time.Time, limit int) (int64, error) {
	p.batches.Add(1)
	return p.AuthStore.PruneEvents(ctx, before, limit)
}

// auditEnv is a service on its own SQLite store with a settable clock, a
// captured log and the audit retention given.
type auditEnv struct {
	store *sqlite.Store
	count *pruneCounter
	svc   *authn.Service
	clock *testutil.Clock
	log   *lockedBuffer
}

func newAuditEnv(t *testing.T, o authn.Options) *auditEnv {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "audit.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clock := testutil.NewClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	ring, err := jwtkey.Open(ctx, jwtkey.Options{MasterKey: master, Store: store, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	revs := token.NewRevocations(token.RevocationsOptions{Now: clock.Now})
	tokens, err := token.New(token.Options{Issuer: "i", Audience: "a", Keys: ring, Revocations: revs, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := password.NewHasher(password.HasherOptions{QueueTimeout: time.Minute, InsecureTestParams: true}) // what these tests check does not depend on the hash cost
	if err != nil {
		t.Fatal(err)
	}
	e := &auditEnv{store: store, count: &pruneCounter{AuthStore: store}, clock: clock, log: &lockedBuffer{}}
	o.Store, o.Hasher, o.Tokens, o.Revocations, o.Keys = e.count, hasher, tokens, revs, ring
	o.Now, o.RefreshKey = clock.Now, refreshKey
	o.Logger = slog.New(slog.NewJSONHandler(e.log, nil))
	if e.svc, err = authn.New(o); err != nil {
		t.Fatal(err)
	}
	return e
}

// addEvents writes n events at the times at(i).
func (e *auditEnv) addEvents(t *testing.T, n int, at func(i int) time.Time) {
	t.Helper()
	for i := range n {
		if err := e.store.AddEvent(context.Background(), server.Event{At: at(i), Type: server.EventLoginFailure}); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *auditEnv) eventCount(t *testing.T) int {
	t.Helper()
	evs, err := e.store.EventsInOrder(context.Background(), server.EventCursor{}, time.Time{}, server.MaxEventBatch)
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

// prunedCounts returns the "events" of every prune log line.
func (e *auditEnv) prunedCounts(t *testing.T) []int64 {
	t.Helper()
	var out []int64
	for line := range strings.SplitSeq(strings.TrimSpace(e.log.String()), "\n") {
		var rec struct {
			Msg    string `json:"msg"`
			Events int64  `json:"events"`
		}
		if line == "" || json.Unmarshal([]byte(line), &rec) != nil || rec.Msg != "pruned security events past the audit retention" {
			continue
		}
		out = append(out, rec.Events)
	}
	return out
}

// TestPruneAudit: events older than the retention go, in batches of
// AuditPruneBatch, oldest first; newer ones stay until the clock passes
// them; the count is logged.
func TestPruneAudit(t *testing.T) {
	t.Parallel()
	const retention = 30 * 24 * time.Hour
	e := newAuditEnv(t, authn.Options{AuditRetention: retention, AuditPruneBatch: 10, AuditPrunePause: time.Millisecond})
	now := e.clock.Now()
	e.addEvents(t, 25, func(i int) time.Time { return now.Add(-retention - time.Duration(i+1)*time.Minute) }) // old
	e.addEvents(t, 3, func(i int) time.Time { return now.Add(-retention + time.Duration(i+1)*time.Hour) })    // kept

	n, err := e.svc.PruneAudit(context.Background())
	if err != nil || n != 25 {
		t.Fatalf("PruneAudit = %d, %v; want 25", n, err)
	}
	if b := e.count.batches.Load(); b != 3 {
		t.Errorf("%d batches, want 3 (10, 10, 5)", b)
	}
	if c := e.eventCount(t); c != 3 {
		t.Errorf("%d events left, want the 3 newer than the retention", c)
	}
	if got := e.prunedCounts(t); len(got) != 1 || got[0] != 25 {
		t.Errorf("prune log counts %v, want [25]; log:\n%s", got, e.log.String())
	}

	// Nothing to do: no batch deletes anything, nothing is logged.
	if n, err := e.svc.PruneAudit(context.Background()); n != 0 || err != nil {
		t.Errorf("PruneAudit again = %d, %v", n, err)
	}
	if got := e.prunedCounts(t); len(got) != 1 {
		t.Errorf("a prune of nothing was logged: %v", got)
	}

	// Two hours later two of the three have passed the retention.
	e.clock.Advance(2*time.Hour + time.Minute)
	if n, err := e.svc.PruneAudit(context.Background()); n != 2 || err != nil {
		t.Errorf("PruneAudit after 2h = %d, %v; want 2", n, err)
	}
	if c := e.eventCount(t); c != 1 {
		t.Errorf("%d events left, want 1", c)
	}
}

// TestPruneAuditNegativeKeepsEverything: a negative AuditRetention
// (fortapi serve --audit-retention 0) never deletes; it is not replaced by
// the default (it was, on the first version: 90 days).
func TestPruneAuditNegativeKeepsEverything(t *testing.T) {
	t.Parallel()
	e := newAuditEnv(t, authn.Options{AuditRetention: -1})
	e.addEvents(t, 5, func(i int) time.Time { return time.Date(2000, 1, 1, 0, 0, i, 0, time.UTC) })
	if n, err := e.svc.PruneAudit(context.Background()); n != 0 || err != nil {
		t.Errorf("PruneAudit = %d, %v; want 0", n, err)
	}
	if b := e.count.batches.Load(); b != 0 {
		t.Errorf("%d prune batches with a negative retention", b)
	}
	if c := e.eventCount(t); c != 5 {
		t.Errorf("%d events left, want 5", c)
	}
}

// TestRunPrunesAuditAtStart: Run prunes the audit log when it starts, not
// only after the first PruneEvery.
func TestRunPrunesAuditAtStart(t *testing.T) {
	t.Parallel()
	e := newAuditEnv(t, authn.Options{AuditRetention: time.Hour, AuditPruneBatch: 4, AuditPrunePause: time.Millisecond})
	now := e.clock.Now()
	e.addEvents(t, 9, func(i int) time.Time { return now.Add(-2 * time.Hour) })
	e.addEvents(t, 1, func(int) time.Time { return now })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.svc.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(30 * time.Second); e.eventCount(t) != 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("Run did not prune at start: %d events left", e.eventCount(t))
		}
	}
	if b := e.count.batches.Load(); b != 3 {
		t.Errorf("%d batches, want 3 (4, 4, 1)", b)
	}
}

// TestKeyEventsNameTheUser: a key rotation or revocation by an
// administrator records the administrator's username beside the id; one
// from the CLI names the CLI as the actor.
func TestKeyEventsNameTheUser(t *testing.T) {
	t.Parallel()
	e := newAuditEnv(t, authn.Options{})
	ctx := context.Background()
	now := e.clock.Now()
	admin := server.User{ID: "admin-id", Username: "root", Role: server.RoleAdmin, PasswordHash: "$argon2id$x", CreatedAt: now}
	if err := e.store.CreateUser(ctx, admin, server.Event{}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RotateKeys(ctx, admin.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RotateKeys(ctx, ""); err != nil {
		t.Fatal(err)
	}
	evs, err := e.store.ListEvents(ctx, server.EventFilter{Type: server.EventKeyRotated, Limit: 10})
	if err != nil || len(evs) != 2 {
		t.Fatalf("ListEvents = %v, %v", evs, err)
	}
	if cli, byAdmin := evs[0], evs[1]; byAdmin.UserID != admin.ID || byAdmin.Username != "root" || byAdmin.Actor != "" ||
		cli.UserID != "" || cli.Username != "" || cli.Actor != "cli" {
		t.Errorf("key events %+v", evs)
	}
}
