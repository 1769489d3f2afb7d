package authn_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
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

// The login service end to end on a real SQLite store: refresh-token theft
// is always detected, and a password change ends every session made with
// the old password, including those of logins racing it.

const (
	oldPass = "correct horse battery staple"
	newPass = "a different long passphrase"
)

// env is one service on its own store, with a settable clock. Tests share
// one env across subtests where they can: opening it and hashing are what
// these tests spend their time on.
type env struct {
	store   *sqlite.Store
	svc     *authn.Service
	clock   *testutil.Clock
	oldHash string // oldPass, hashed once
}

// refreshKey is the tests' authn.Options.RefreshKey.
var refreshKey = []byte("authn test refresh successor key, 32+ bytes")

// newEnv opens a store and builds the service on it; gate, when set, wraps
// the store the service uses (the test's own calls use the real store).
func newEnv(t testing.TB, gate func(server.AuthStore) server.AuthStore) *env {
	t.Helper()
	return newEnvCost(t, gate, false)
}

// newEnvCost is newEnv; realCost gives the service a Hasher with the
// default parameters (35 ms a hash) instead of InsecureTestParams, for a
// test whose interleavings depend on how long a login hashes.
func newEnvCost(t testing.TB, gate func(server.AuthStore) server.AuthStore, realCost bool) *env {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "authn.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clock := testutil.NewClock(time.Now().UTC().Truncate(time.Second))
	master := make([]byte, 32)
	if _, err := rand.Read(master); err != nil {
		t.Fatal(err)
	}
	ring, err := jwtkey.Open(ctx, jwtkey.Options{MasterKey: master, Store: store, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	revs := token.NewRevocations(token.RevocationsOptions{Now: clock.Now})
	tokens, err := token.New(token.Options{Issuer: "i", Audience: "a", Keys: ring, Revocations: revs, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	// A generous queue: the races below put every login in it at once on
	// a shared machine.
	// Cheap hashes unless realCost: what the other tests check does not
	// depend on the hash cost.
	hasher, err := password.NewHasher(password.HasherOptions{QueueTimeout: time.Minute, InsecureTestParams: !realCost})
	if err != nil {
		t.Fatal(err)
	}
	var as server.AuthStore = store
	if gate != nil {
		as = gate(store)
	}
	svc, err := authn.New(authn.Options{Store: as, Hasher: hasher, Tokens: tokens, Revocations: revs, Keys: ring,
		Now: clock.Now, RefreshKey: refreshKey, APIKeyHashKey: refreshKey})
	if err != nil {
		t.Fatal(err)
	}
	oldHash, err := hasher.Hash(ctx, oldPass)
	if err != nil {
		t.Fatal(err)
	}
	return &env{store: store, svc: svc, clock: clock, oldHash: oldHash}
}

// user stores a user with the password oldPass.
func (e *env) user(t testing.TB, name string) server.User {
	t.Helper()
	now := e.clock.Now().UTC()
	id, err := server.NewID(now, nil)
	if err != nil {
		t.Fatal(err)
	}
	u := server.User{ID: id, Username: name, Role: server.RoleUser, PasswordHash: e.oldHash, CreatedAt: now}
	if err := e.store.CreateUser(context.Background(), u, server.Event{}); err != nil {
		t.Fatal(err)
	}
	return u
}

func (e *env) login(t *testing.T, name string) authn.Tokens {
	t.Helper()
	tr, err := e.svc.Login(context.Background(), authn.Login{Username: name, Password: oldPass})
	if err != nil {
		t.Fatalf("login %q: %v", name, err)
	}
	return tr
}

// refresh refreshes rt; the caller checks the error.
func (e *env) refresh(rt string) (authn.Tokens, error) {
	return e.svc.Refresh(context.Background(), rt, nil, "192.0.2.7")
}

func (e *env) mustRefresh(t *testing.T, who, rt string) authn.Tokens {
	t.Helper()
	tr, err := e.refresh(rt)
	if err != nil {
		t.Fatalf("%s's refresh: %v", who, err)
	}
	return tr
}

func (e *env) refused(t *testing.T, who, rt string) {
	t.Helper()
	if _, err := e.refresh(rt); !errors.Is(err, authn.ErrInvalidGrant) {
		t.Errorf("%s's refresh = %v, want ErrInvalidGrant", who, err)
	}
}

// bearerWorks reports whether the access token authenticates a request.
func (e *env) bearerWorks(at string) bool {
	r := httptest.NewRequest("GET", "/protected", nil)
	r.Header.Set("Authorization", "Bearer "+at)
	p, err := e.svc.Authenticate(r)
	return err == nil && p != nil
}

func TestNewRequiresARefreshKey(t *testing.T) {
	for _, key := range [][]byte{nil, {}, make([]byte, authn.MinRefreshKeyBytes-1)} {
		_, err := authn.New(authn.Options{Store: &sqlite.Store{}, Hasher: &password.Hasher{}, Tokens: &token.Service{},
			Revocations: &token.Revocations{}, Keys: &jwtkey.Ring{}, RefreshKey: key})
		if err == nil || !strings.Contains(err.Error(), "RefreshKey") {
			t.Errorf("New with a %d-byte RefreshKey = %v, want an error naming RefreshKey", len(key), err)
		}
	}
}

// TestRefreshChain: refresh-token rotation keeps one chain per session, so
// that theft is always detected. The subtests share one service and user;
// each logs in afresh.
func TestRefreshChain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.user(t, "alice")

	t.Run("a replay within the grace gets the same successor", func(t *testing.T) {
		tr := e.login(t, "alice")
		first := e.mustRefresh(t, "client", tr.RefreshToken)
		e.clock.Advance(authn.DefaultRefreshGrace - time.Second)
		again := e.mustRefresh(t, "replay within the grace", tr.RefreshToken)
		if again.RefreshToken != first.RefreshToken {
			t.Fatal("a replay within the grace got a refresh token of its own: a second chain")
		}
		if again.AccessToken == first.AccessToken || !e.bearerWorks(again.AccessToken) || !e.bearerWorks(first.AccessToken) {
			t.Error("the replay's access token is not a fresh, working one")
		}
		// The one successor rotates on; the login token is now two steps
		// behind: presented again, even within its grace, it revokes.
		next := e.mustRefresh(t, "client", first.RefreshToken)
		e.refused(t, "a replay after the successor was used", tr.RefreshToken)
		e.refused(t, "the newest token of the revoked family", next.RefreshToken)
		if e.bearerWorks(next.AccessToken) {
			t.Error("an access token of the revoked family still works")
		}
	})
	t.Run("a replay after the grace revokes", func(t *testing.T) {
		tr := e.login(t, "alice")
		first := e.mustRefresh(t, "client", tr.RefreshToken)
		e.clock.Advance(authn.DefaultRefreshGrace)
		e.refused(t, "a replay after the grace", tr.RefreshToken)
		e.refused(t, "the client's successor", first.RefreshToken)
		if e.bearerWorks(first.AccessToken) {
			t.Error("the client's access token survived the reuse")
		}
	})
	// Several tabs refresh with one token at once. Every one succeeds with
	// the same refresh token, and the chain carries on from it.
	t.Run("concurrent refreshes of one client", func(t *testing.T) {
		const n = 8
		tr := e.login(t, "alice")
		results := make([]authn.Tokens, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				results[i], errs[i] = e.refresh(tr.RefreshToken)
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("refresh %d: %v", i, err)
			}
			if results[i].RefreshToken != results[0].RefreshToken {
				t.Fatalf("refresh %d got another refresh token: more than one chain", i)
			}
		}
		e.clock.Advance(time.Minute)
		next := e.mustRefresh(t, "client", results[0].RefreshToken)
		e.mustRefresh(t, "client", next.RefreshToken)
	})
	// A thief holds a copy of the client's refresh token and races the
	// client with it. Within the grace both get the same successor;
	// whichever uses it second is detected, and the whole family, the
	// other's newer tokens included, is revoked.
	for _, order := range [][2]string{{"client", "thief"}, {"thief", "client"}} {
		t.Run("theft race, "+order[0]+" first", func(t *testing.T) {
			stolen := e.login(t, "alice").RefreshToken
			a := e.mustRefresh(t, order[0], stolen)
			e.clock.Advance(time.Second)
			b := e.mustRefresh(t, order[1], stolen)
			if a.RefreshToken != b.RefreshToken {
				t.Fatalf("%s and %s hold two independent chains", order[0], order[1])
			}
			e.clock.Advance(time.Second)
			ahead := e.mustRefresh(t, order[0], a.RefreshToken)
			e.clock.Advance(authn.DefaultRefreshGrace)
			e.refused(t, order[1]+" (second to use the successor)", b.RefreshToken)
			e.refused(t, order[0]+" (revoked with the family)", ahead.RefreshToken)
			if e.bearerWorks(ahead.AccessToken) {
				t.Errorf("%s's access token survived the detection", order[0])
			}
		})
	}
	t.Run("theft race, the thief keeps refreshing: the client's next turn revokes", func(t *testing.T) {
		stolen := e.login(t, "alice").RefreshToken
		client := e.mustRefresh(t, "client", stolen)
		thief := e.mustRefresh(t, "thief", stolen)
		for range 3 {
			thief = e.mustRefresh(t, "thief", thief.RefreshToken)
		}
		// The client's next refresh, at once: its token's successor has
		// been used, so this is reuse even inside the grace.
		e.refused(t, "client", client.RefreshToken)
		e.refused(t, "thief", thief.RefreshToken)
		if e.bearerWorks(thief.AccessToken) {
			t.Error("the thief's access token survived the detection")
		}
	})
}

// sessionGate holds every session insert of the service until released:
// it puts a password change exactly between a login's password check and
// its session insert, the window a real race hits by chance.
type sessionGate struct {
	server.AuthStore
	reached chan struct{}
	release chan struct{}
}

func (g *sessionGate) CreateSession(ctx context.Context, s server.Session, rt server.RefreshToken, ev server.Event) error {
	g.reached <- struct{}{}
	<-g.release
	return g.AuthStore.CreateSession(ctx, s, rt, ev)
}

func (g *sessionGate) CreateWebSession(ctx context.Context, s server.Session, ws server.WebSession, ev server.Event) error {
	g.reached <- struct{}{}
	<-g.release
	return g.AuthStore.CreateWebSession(ctx, s, ws, ev)
}

// TestLoginRacingAChangeGetsNoSession: logins with the old password have
// read the user and checked the password when the change commits; each of
// them is refused, on /token and on the HTML form alike.
func TestLoginRacingAChangeGetsNoSession(t *testing.T) {
	t.Parallel()
	const n = 2
	changes := []struct {
		name   string
		change func(e *env, u server.User) error
	}{
		{"password change", func(e *env, u server.User) error {
			return e.svc.ChangePassword(context.Background(), u.ID, oldPass, newPass)
		}},
		{"role change", func(e *env, u server.User) error {
			_, err := e.svc.SetRole(context.Background(), u.ID, server.RoleAdmin, "test")
			return err
		}},
		// Enabled again before the logins insert: only the version
		// refuses them.
		{"disable and enable again", func(e *env, u server.User) error {
			if _, err := e.svc.SetDisabled(context.Background(), u.ID, true, "test"); err != nil {
				return err
			}
			_, err := e.svc.SetDisabled(context.Background(), u.ID, false, "test")
			return err
		}},
	}
	gate := &sessionGate{}
	e := newEnv(t, func(s server.AuthStore) server.AuthStore { gate.AuthStore = s; return gate })
	type result struct {
		tokens authn.Tokens
		web    authn.WebSession
		err    error
	}
	for i, tc := range changes {
		for _, web := range []bool{false, true} {
			if web && i > 0 {
				continue // the HTML login shares the store's check; once is enough
			}
			name := tc.name + ", token login"
			if web {
				name = tc.name + ", web login"
			}
			t.Run(name, func(t *testing.T) {
				username := fmt.Sprintf("raced%d-%v", i, web)
				u := e.user(t, username)
				gate.reached, gate.release = make(chan struct{}), make(chan struct{})
				results := make(chan result, n)
				for range n {
					go func() {
						in := authn.Login{Username: username, Password: oldPass}
						var r result
						if web {
							r.web, r.err = e.svc.WebLogin(context.Background(), in)
						} else {
							r.tokens, r.err = e.svc.Login(context.Background(), in)
						}
						results <- r
					}()
				}
				for range n {
					<-gate.reached // every login has checked the old password
				}
				changeErr := tc.change(e, u)
				close(gate.release)
				if changeErr != nil {
					t.Fatal(changeErr)
				}
				for range n {
					r := <-results
					if !errors.Is(r.err, authn.ErrInvalidGrant) {
						t.Errorf("a login that read the user before the %s = %v, want ErrInvalidGrant", tc.name, r.err)
					}
					if r.tokens.RefreshToken != "" {
						e.refused(t, "a raced login", r.tokens.RefreshToken)
					}
					if r.tokens.AccessToken != "" && e.bearerWorks(r.tokens.AccessToken) {
						t.Error("a raced login's access token works")
					}
					if r.web.Cookie != "" {
						req := httptest.NewRequest("GET", "/", nil)
						req.Header.Set("Cookie", e.svc.CookieName()+"="+r.web.Cookie)
						if _, err := e.svc.Authenticate(req); err == nil {
							t.Error("a raced web login's cookie works")
						}
					}
				}
			})
		}
	}
}

// TestParallelLoginsDuringPasswordChange lets the race run free: logins
// with the old password in parallel with the change. Whatever the order,
// afterwards no session made with the old password works: every refresh
// token and access token those logins got is refused. With real hash
// costs: with cheap ones the change wins every race, and the logins after
// it, all failures, throttle the account.
func TestParallelLoginsDuringPasswordChange(t *testing.T) {
	t.Parallel()
	const n = 8
	e := newEnvCost(t, nil, true)
	u := e.user(t, "racer")
	results := make([]authn.Tokens, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			results[i], errs[i] = e.svc.Login(context.Background(), authn.Login{Username: "racer", Password: oldPass})
		})
	}
	var changeErr error
	wg.Go(func() {
		<-start
		changeErr = e.svc.ChangePassword(context.Background(), u.ID, oldPass, newPass)
	})
	close(start)
	wg.Wait()
	if changeErr != nil {
		t.Fatal(changeErr)
	}
	for i, err := range errs {
		switch {
		case errors.Is(err, authn.ErrInvalidGrant):
		case err != nil:
			t.Errorf("login %d: %v", i, err)
		default:
			e.refused(t, "a login with the old password", results[i].RefreshToken)
			if e.bearerWorks(results[i].AccessToken) {
				t.Errorf("login %d: the access token of a session made with the old password works", i)
			}
		}
	}
	// The new password works.
	if _, err := e.svc.Login(context.Background(), authn.Login{Username: "racer", Password: newPass}); err != nil {
		t.Errorf("login with the new password: %v", err)
	}
}
