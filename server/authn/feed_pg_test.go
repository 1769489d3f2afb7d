package authn_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/internal/pgtest"
	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/password"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/authn"
	"github.com/fortapi/fortapi/server/postgres"
	"github.com/fortapi/fortapi/token"
)

// instance is one server's authentication, wired as the composition
// does on PostgreSQL: its own store pool, a Listener as the Feed, Run.
type instance struct {
	store  *postgres.Store
	ring   *jwtkey.Ring
	tokens *token.Service
	svc    *authn.Service
}

func newInstance(t *testing.T, u string, master []byte, hasher *password.Hasher) *instance {
	t.Helper()
	ctx := context.Background()
	store, err := postgres.Open(ctx, postgres.Options{URL: u})
	if err != nil {
		t.Fatal(err)
	}
	feed, err := store.Listen(postgres.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ring, err := jwtkey.Open(ctx, jwtkey.Options{MasterKey: master, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	revs := token.NewRevocations(token.RevocationsOptions{})
	tokens, err := token.New(token.Options{Issuer: "i", Audience: "a", Keys: ring, Revocations: revs})
	if err != nil {
		t.Fatal(err)
	}
	// Polls an hour apart: only the push can make these tests pass.
	svc, err := authn.New(authn.Options{Store: store, Hasher: hasher, Tokens: tokens, Revocations: revs, Keys: ring,
		RefreshKey: []byte("authn test refresh successor key, 32+ bytes"),
		Feed:       feed, SyncEvery: time.Hour, FeedSyncEvery: time.Hour, KeysEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { svc.Run(rctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; feed.Close(); store.Close() }) // reverse order
	return &instance{store: store, ring: ring, tokens: tokens, svc: svc}
}

// TestInstancesActAsOne: two instances on one PostgreSQL schema, each
// polling only hourly. A logout on A is refused on B by push; a token A
// signs right after a rotation verifies on B at once, and B then loads
// A's new keys by push.
func TestInstancesActAsOne(t *testing.T) {
	u := pgtest.SchemaURL(t, "off")
	ctx := context.Background()
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	hasher, err := password.NewHasher(password.HasherOptions{QueueTimeout: time.Minute, InsecureTestParams: true}) // a loaded test machine must not make it busy; what these tests check does not depend on the hash cost
	if err != nil {
		t.Fatal(err)
	}
	a := newInstance(t, u, master, hasher)
	b := newInstance(t, u, master, hasher)
	if _, err := a.svc.CreateUser(ctx, "alice", "correct horse battery", server.RoleUser, "test"); err != nil {
		t.Fatal(err)
	}
	login := func() (string, *token.Claims) {
		t.Helper()
		tk, err := a.svc.Login(ctx, authn.Login{Username: "alice", Password: "correct horse battery"})
		if err != nil {
			t.Fatal(err)
		}
		c, err := b.tokens.Verify(ctx, tk.AccessToken)
		if err != nil {
			t.Fatalf("B refuses A's token: %v", err)
		}
		return tk.AccessToken, c
	}

	t.Run("logout on A is refused on B", func(t *testing.T) {
		at, c := login()
		start := time.Now()
		if err := a.svc.Logout(ctx, &fortapi.Principal{Subject: c.Subject, SessionID: c.SessionID}, ""); err != nil {
			t.Fatal(err)
		}
		eventually(t, "B refuses the logged-out token", func() bool {
			_, err := b.tokens.Verify(ctx, at)
			return err != nil
		})
		t.Logf("logout on A -> refused on B after %v", time.Since(start).Round(time.Microsecond))
	})

	t.Run("rotation on A: B verifies its new tokens and loads its keys by push", func(t *testing.T) {
		if err := a.svc.RotateKeys(ctx, "test"); err != nil {
			t.Fatal(err)
		}
		want, _ := a.ring.Signer()
		_, c := login() // verified on B inside
		if c.KeyID != want.ID {
			t.Fatalf("A signed with %s, want its new active key %s", c.KeyID, want.ID)
		}
		eventually(t, "B signs with A's new active key", func() bool { sk, _ := b.ring.Signer(); return sk.ID == want.ID })
	})

	if err := b.svc.PropagationHealth(); err != nil {
		t.Fatalf("PropagationHealth on B = %v", err)
	}
}
