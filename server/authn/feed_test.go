package authn_test

import (
	"context"
	"crypto/rand"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/password"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/authn"
	"github.com/fortapi/fortapi/server/postgres"
	"github.com/fortapi/fortapi/server/sqlite"
	"github.com/fortapi/fortapi/token"
)

// The composition hands a *postgres.Listener to Options.Feed.
var _ authn.Feed = (*postgres.Listener)(nil)

// fakeFeed is an authn.Feed the test drives.
type fakeFeed struct {
	revs, keys chan struct{}
	mu         sync.Mutex
	err        error
}

func newFakeFeed() *fakeFeed {
	return &fakeFeed{revs: make(chan struct{}, 1), keys: make(chan struct{}, 1)}
}

func (f *fakeFeed) Revocations() <-chan struct{} { return f.revs }
func (f *fakeFeed) Keys() <-chan struct{}        { return f.keys }
func (f *fakeFeed) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}
func (f *fakeFeed) setErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

// settableClock is a clock the test moves.
type settableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *settableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}
func (c *settableClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// feedEnv is a Service on a SQLite store, with what the tests look at.
type feedEnv struct {
	store   *sqlite.Store
	master  []byte
	ring    *jwtkey.Ring
	revs    *token.Revocations
	svc     *authn.Service
	feed    *fakeFeed
	running func() // starts Run, stopped when the test ends
}

func newFeedEnv(t *testing.T, o authn.Options) *feedEnv {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "feed.db"), sqlite.Options{})
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
	o.Store, o.Hasher, o.Tokens, o.Revocations, o.Keys = store, hasher, tokens, revs, ring
	o.RefreshKey = []byte("authn test refresh successor key, 32+ bytes")
	svc, err := authn.New(o)
	if err != nil {
		t.Fatal(err)
	}
	e := &feedEnv{store: store, master: master, ring: ring, revs: revs, svc: svc}
	if f, ok := o.Feed.(*fakeFeed); ok {
		e.feed = f
	}
	e.running = func() {
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { svc.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	return e
}

// revoke appends a jti revocation to the store only: this process's
// memory learns of it by replaying the log.
func (e *feedEnv) revoke(t *testing.T, jti string) {
	t.Helper()
	now := time.Now()
	if err := e.store.AddRevocation(context.Background(), server.Revocation{Kind: server.RevokeJTI, Value: jti, Until: now.Add(time.Hour), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
}

func (e *feedEnv) revoked(jti string) bool {
	return e.revs.Revoked(&token.Claims{ID: jti, ExpiresAt: time.Now().Add(time.Minute)})
}

// eventually waits for cond, failing t after 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestFeedDrivesSync: with a Feed and polling intervals of an hour, a
// wake-up alone makes Run replay the log or reload the keys; while the
// feed is down, Run polls every SyncEvery without any wake-up.
func TestFeedDrivesSync(t *testing.T) {
	const hour = time.Hour
	tests := []struct {
		name string
		// feedDown makes the feed report an error; wake sends a wake-up
		// on the revocation channel after the revocation is stored.
		feedDown, wake bool
		syncEvery      time.Duration
	}{
		{"wake-up replays at once", false, true, hour},
		{"feed down: polls every SyncEvery", true, false, 5 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			feed := newFakeFeed()
			if tt.feedDown {
				feed.setErr(errors.New("connection lost"))
			}
			e := newFeedEnv(t, authn.Options{Feed: feed, SyncEvery: tt.syncEvery, FeedSyncEvery: hour, KeysEvery: hour})
			// The first replay, at Run's start, finds jti-0; after it,
			// with hour-long ticks, only a wake-up (or, the feed down,
			// the fast poll) can bring jti-1.
			e.revoke(t, "jti-0")
			e.running()
			eventually(t, "the first replay", func() bool { return e.revoked("jti-0") })
			e.revoke(t, "jti-1")
			if tt.wake {
				feed.revs <- struct{}{}
			}
			eventually(t, "the revocation replayed", func() bool { return e.revoked("jti-1") })
		})
	}

	t.Run("key wake-up reloads the ring", func(t *testing.T) {
		feed := newFakeFeed()
		e := newFeedEnv(t, authn.Options{Feed: feed, SyncEvery: hour, FeedSyncEvery: hour, KeysEvery: hour})
		e.running()
		// Another instance (here: the CLI's ring) rotates.
		other, err := jwtkey.Open(context.Background(), jwtkey.Options{MasterKey: e.master, Store: e.store})
		if err != nil {
			t.Fatal(err)
		}
		if err := other.Rotate(context.Background()); err != nil {
			t.Fatal(err)
		}
		want, _ := other.Signer()
		feed.keys <- struct{}{}
		eventually(t, "the ring reloaded", func() bool { sk, _ := e.ring.Signer(); return sk.ID == want.ID })
	})
}

// TestPropagationHealth: nil while the feed is up or down for less than
// the bound; an error naming the feed once it has been down longer; nil
// again when it is back. A Service without a Feed is healthy.
func TestPropagationHealth(t *testing.T) {
	clock := &settableClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	feed := newFakeFeed()
	e := newFeedEnv(t, authn.Options{Feed: feed, Now: clock.Now})
	steps := []struct {
		name    string
		err     error
		advance time.Duration
		want    bool // an error
	}{
		{"up", nil, 0, false},
		{"down, just noticed", errors.New("connection refused"), 0, false},
		{"down for the bound", errors.New("connection refused"), time.Second, false},
		{"down past the bound", errors.New("connection refused"), time.Millisecond, true},
		{"back up", nil, 0, false},
		{"down again: the bound counts afresh", errors.New("reset"), time.Second, false},
	}
	for _, st := range steps {
		feed.setErr(st.err)
		clock.Advance(st.advance)
		err := e.svc.PropagationHealth()
		if (err != nil) != st.want {
			t.Fatalf("%s: PropagationHealth = %v, want an error: %v", st.name, err, st.want)
		}
		if err != nil && !errors.Is(err, authn.ErrPropagationDegraded) {
			t.Fatalf("%s: %v does not match ErrPropagationDegraded", st.name, err)
		}
		if err != nil {
			t.Logf("%s: %v", st.name, err)
		}
	}

	noFeed := newFeedEnv(t, authn.Options{})
	if err := noFeed.svc.PropagationHealth(); err != nil {
		t.Fatalf("without a Feed: %v", err)
	}
}

// TestPropagationHealthStoreDown: a Service whose log replays fail (its
// store is closed) reports it once that has lasted past the bound.
func TestPropagationHealthStoreDown(t *testing.T) {
	e := newFeedEnv(t, authn.Options{SyncEvery: time.Millisecond, PropagationBound: time.Millisecond})
	e.store.Close()
	e.running()
	eventually(t, "PropagationHealth reports the failing replays", func() bool {
		return errors.Is(e.svc.PropagationHealth(), authn.ErrPropagationDegraded)
	})
}
